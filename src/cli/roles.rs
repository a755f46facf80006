//! `wasql scheduler` and `wasql executor`: the cluster roles of the binary.

use std::path::PathBuf;
use std::process::ExitCode;

use wasql_cluster::executor::ExecutorOptions;
use wasql_cluster::scheduler::SchedulerOptions;
use wasql_engine::EngineSettings;

use super::args::Role;
use super::errors;

/// Runs `role` until it stops; its errors are one line on stderr.
pub fn run(role: &Role, settings: &EngineSettings, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let outcome = match role {
        Role::Scheduler { bind, depot } => {
            eprintln!("wasql scheduler listening on {bind}");
            let options = SchedulerOptions {
                bind: *bind,
                depot: depot.unwrap_or_else(|| std::net::SocketAddr::new(bind.ip(), 0)),
            };
            runtime.block_on(wasql_cluster::scheduler::run(&options, settings))
        }
        Role::Executor {
            scheduler,
            bind,
            work_dir,
            concurrent_tasks,
        } => {
            let options = match executor_options(scheduler, bind, work_dir, *concurrent_tasks) {
                Ok(options) => options,
                Err(e) => return super::usage_error(e),
            };
            eprintln!(
                "wasql executor on {bind} serving the scheduler at {scheduler} (work directory {})",
                options.work_dir.display()
            );
            runtime.block_on(wasql_cluster::executor::run(&options, settings))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasql: {}", errors::describe(&e).message);
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}

fn executor_options(
    scheduler: &str,
    bind: &str,
    work_dir: &Option<PathBuf>,
    concurrent_tasks: Option<usize>,
) -> Result<ExecutorOptions, String> {
    let scheduler = host_port(scheduler, "--scheduler")?;
    let (bind_host, port) = host_port(bind, "--bind")?;
    let concurrent_tasks = match concurrent_tasks {
        Some(0) => return Err("--concurrent-tasks must be at least 1, not 0".into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let work_dir = work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("wasql-executor-{bind_host}-{port}")));
    Ok(ExecutorOptions {
        scheduler,
        bind_host,
        port,
        work_dir,
        concurrent_tasks,
    })
}

/// `HOST:PORT` split, for the option `flag`.
fn host_port(text: &str, flag: &str) -> Result<(String, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{flag} takes HOST:PORT, not '{text}'"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p > 0 && p < u16::MAX)
        .ok_or_else(|| format!("{flag}: '{port}' is not a port (1-65534)"))?;
    if host.is_empty() {
        return Err(format!("{flag} takes HOST:PORT, not '{text}'"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_are_checked() {
        assert_eq!(
            host_port("127.0.0.1:50050", "--scheduler"),
            Ok(("127.0.0.1".to_string(), 50050))
        );
        assert!(
            host_port("localhost", "--bind")
                .unwrap_err()
                .contains("HOST:PORT")
        );
        assert!(host_port(":1", "--bind").is_err());
        assert!(
            host_port("h:0", "--bind")
                .unwrap_err()
                .contains("not a port")
        );
        // The task port is the next one: the last port cannot be given.
        assert!(host_port("h:65535", "--bind").is_err());
    }
}
