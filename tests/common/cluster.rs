//! A wasql cluster on 127.0.0.1 for a test: one `wasql scheduler` and two
//! `wasql executor`s, each a separate process of the binary under test,
//! sharing the test's sandbox (its HOME, config and modules); stopped when
//! dropped.

use std::fs;
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Sandbox;

/// A running cluster.
pub struct Cluster {
    /// `df://127.0.0.1:PORT`, for `--cluster`.
    pub url: String,
    processes: Vec<Child>,
}

/// A free port of 127.0.0.1 whose next port is free too (an executor
/// takes PORT and PORT+1).
fn free_ports() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < u16::MAX - 1 && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl Cluster {
    /// Starts a scheduler and two executors in `sandbox`; the executors
    /// read `executor_config` (TOML, may be empty) as their config. Returns
    /// once a query runs on it.
    pub fn start(sandbox: &Sandbox, executor_config: &str) -> Cluster {
        let config = sandbox.write("executor.toml", executor_config);
        let config = config.to_str().unwrap();
        let scheduler = format!("127.0.0.1:{}", free_ports());
        let mut processes = Vec::new();
        let mut spawn = |name: &str, args: &[&str]| {
            let log = fs::File::create(sandbox.path(&format!("{name}.log"))).unwrap();
            let child = sandbox
                .command(args)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start a cluster process");
            processes.push(child);
        };
        spawn("scheduler", &["scheduler", "--bind", &scheduler]);
        for name in ["executor1", "executor2"] {
            let bind = format!("127.0.0.1:{}", free_ports());
            let work_dir = sandbox.path(name);
            spawn(
                name,
                &[
                    "executor",
                    "--scheduler",
                    &scheduler,
                    "--bind",
                    &bind,
                    "--work-dir",
                    work_dir.to_str().unwrap(),
                    "--concurrent-tasks",
                    "2",
                    "--config",
                    config,
                ],
            );
        }
        let cluster = Cluster {
            url: format!("df://{scheduler}"),
            processes,
        };
        cluster.wait_until_ready(sandbox);
        cluster
    }

    fn wait_until_ready(&self, sandbox: &Sandbox) {
        let started = Instant::now();
        loop {
            let run = sandbox.run(&["--cluster", &self.url, "-q", "-c", "SELECT 1"]);
            if run.code == 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the cluster did not start: {run:#?}\nscheduler: {}\nexecutor1: {}",
                sandbox.read("scheduler.log"),
                sandbox.read("executor1.log"),
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Cluster {
    /// Runs wasql with `args` (quiet, CSV) embedded and on this cluster;
    /// both must succeed with the same output, which is returned.
    pub fn same_as_embedded(&self, sandbox: &Sandbox, args: &[&str]) -> String {
        let args = [&["-q", "--format", "csv"][..], args].concat();
        let embedded = sandbox.run(&args).success();
        let on_cluster = sandbox
            .run(&[&["--cluster", self.url.as_str()][..], &args[..]].concat())
            .success();
        assert_eq!(on_cluster.stdout, embedded.stdout, "{args:?}");
        embedded.stdout
    }

    /// Kills executor `n` (1 or 2) at once, as a crash would.
    pub fn kill_executor(&mut self, n: usize) {
        let process = &mut self.processes[n];
        process.kill().expect("kill the executor");
        process.wait().expect("reap the executor");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}
