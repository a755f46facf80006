//! The `wasql` command line: arguments, config, the shell, scripts and output.

mod args;
mod errors;
mod limits;
mod meta;
mod output;
mod progress;
mod roles;
mod runner;
mod shell;
pub mod split;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use args::{Args, Input};
use limits::Limit;
use output::Format;
use runner::{Flow, Runner, ScriptOutcome, Settings, Source};

use wasql_engine::config::{ByteSize, Config, Count};
use wasql_engine::{Engine, EngineSettings, Params};

/// Exit status when a statement failed.
const EXIT_FAILED: u8 = 1;
/// Exit status on bad usage: arguments, config, unreadable scripts.
const EXIT_USAGE: u8 = 2;

/// Default row limit for table output on a terminal.
const TERMINAL_MAXROWS: usize = 40;

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("wasql: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Stack of the threads that parse, plan and run statements: planning
/// recurses at least once per level of an expression, and every expression
/// within the depth limit must plan. Untouched stack costs no memory.
const STACK_BYTES: usize = 1 << 30;

/// Runs wasql with the process arguments, on a thread with a large stack.
/// A panic that nothing turned into an error ends wasql with one line, not
/// a backtrace.
pub fn main() -> ExitCode {
    // Panics are caught where statements run and reported as errors there.
    std::panic::set_hook(Box::new(|_| {}));
    let main = std::thread::Builder::new()
        .name("wasql".into())
        .stack_size(STACK_BYTES)
        .spawn(run);
    match main.map(|thread| thread.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(payload)) => {
            eprintln!(
                "wasql: internal error: {}",
                wasql_engine::panic_message(payload.as_ref())
            );
            ExitCode::from(EXIT_FAILED)
        }
        Err(e) => {
            eprintln!("wasql: cannot start: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn run() -> ExitCode {
    let (args, inputs) = Args::parse_with_inputs();

    let config = match (&args.config, Config::default_path()) {
        (Some(path), _) => match Config::load(path) {
            Ok(config) => config,
            Err(e) => return usage_error(e),
        },
        (None, Some(path)) if path.exists() => match Config::load(&path) {
            Ok(config) => config,
            Err(e) => return usage_error(e),
        },
        _ => Config::default(),
    };
    let format = match (args.format, &config.format) {
        (Some(format), _) => format,
        (None, Some(name)) => match Format::parse(name) {
            Ok(format) => format,
            Err(e) => return usage_error(format!("config: {e}")),
        },
        (None, None) => Format::Table,
    };
    // The config's values are checked by the engine; flags override them.
    let mut engine_settings = match EngineSettings::from_config(&config) {
        Ok(settings) => settings,
        Err(e) => return usage_error(e),
    };
    if let Some(size) = &args.memory_limit {
        match ByteSize::from(size.as_str()).positive("--memory-limit") {
            Ok(bytes) => engine_settings.memory_limit = Some(bytes),
            Err(e) => return usage_error(e),
        }
    }
    if let Some(partitions) = args.target_partitions {
        match Count::from(partitions).positive("--target-partitions") {
            Ok(partitions) => engine_settings.target_partitions = Some(partitions),
            Err(e) => return usage_error(e),
        }
    }
    // Scripts that cannot run are bad usage: nothing runs.
    for input in &inputs {
        if let Input::File(path) = input {
            if let Err(e) = std::fs::metadata(path) {
                return usage_error(format!("cannot read script {}: {e}", path.display()));
            }
            if let Err(e) = runner::read_script(path) {
                return usage_error(format!("{}: {e}", path.display()));
            }
        }
    }
    let timeout = match args.timeout {
        Some(seconds) => Limit::new(seconds, "--timeout").map(Some),
        None => config
            .statement_timeout()
            .map_err(|e| e.to_string())
            .map(|timeout| {
                timeout.map(|duration| Limit {
                    duration,
                    origin: "timeout in the config",
                })
            }),
    };
    let timeout = match timeout {
        Ok(timeout) => timeout,
        Err(e) => return usage_error(e),
    };
    let max_run_time = match args.max_run_time.map(|s| Limit::new(s, "--max-run-time")) {
        Some(Err(e)) => return usage_error(e),
        Some(Ok(limit)) => Some(limit),
        None => None,
    };
    let init = match init_file(&args) {
        Ok(init) => init,
        Err(e) => return usage_error(e),
    };

    let output_is_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let maxrows = args
        .maxrows
        .or(config.maxrows)
        .or(output_is_terminal.then_some(TERMINAL_MAXROWS))
        .filter(|&n| n > 0);
    let settings = Settings {
        format,
        maxrows,
        timing: config.timing.unwrap_or(true),
        quiet: args.quiet,
        continue_on_error: args.continue_on_error,
        timeout,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("wasql: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    if let Some(role) = &args.role {
        return roles::run(role, &engine_settings, &runtime);
    }
    let cluster = args.cluster.as_ref().or(config.cluster.as_ref());
    let engine = match runtime.block_on(async {
        match cluster {
            Some(url) => wasql_cluster::client::connect(url, &engine_settings).await,
            None => Engine::new(&engine_settings),
        }
    }) {
        Ok(engine) => engine,
        Err(e) => return usage_error(errors::describe(&e).message),
    };
    for dir in config.udf_dirs.iter().chain(&args.udf_dirs) {
        if let Err(e) = engine.load_udf_dir(dir) {
            return usage_error(errors::describe(&e).message);
        }
    }
    let params: Params = args.params.iter().cloned().collect();
    let mut runner = Runner::new(engine, runtime, settings, params);
    if let Some(path) = &args.output
        && let Err(e) = runner.set_output(Some(&path.to_string_lossy()))
    {
        return usage_error(e);
    }

    let shell = args.interactive || (inputs.is_empty() && std::io::stdin().is_terminal());
    if let Some(limit) = max_run_time {
        runner.start_run_limit(limit);
    }
    if let Some(path) = &init {
        match runner.run_file(path) {
            ScriptOutcome::Succeeded(Flow::Continue) => {}
            ScriptOutcome::Succeeded(Flow::Quit) | ScriptOutcome::OutputClosed => {
                return ExitCode::SUCCESS;
            }
            // The errors are printed with FILE:LINE; the shell goes on.
            ScriptOutcome::Failed if shell && inputs.is_empty() => {}
            ScriptOutcome::Failed => return ExitCode::from(EXIT_FAILED),
        }
    }
    let outcome = if !inputs.is_empty() {
        run_inputs(&mut runner, &inputs)
    } else if shell {
        ScriptOutcome::Succeeded(Flow::Continue)
    } else {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("wasql: cannot read standard input: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
        runner.run_script(Source::Named("<stdin>"), &text)
    };
    // With --interactive the shell follows the scripts, even failed ones
    // (their errors are printed), unless a script said \q.
    if !shell
        || matches!(
            outcome,
            ScriptOutcome::Succeeded(Flow::Quit) | ScriptOutcome::OutputClosed
        )
    {
        return exit_code(outcome);
    }
    runner.end_run_limit();
    match shell::run(runner) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasql: terminal error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The init script to run first: `--init FILE`, else the default one if it
/// exists; none with `--no-init`. A named file that cannot be read is an
/// error.
fn init_file(args: &Args) -> Result<Option<PathBuf>, String> {
    if args.no_init {
        return Ok(None);
    }
    match &args.init {
        Some(path) => match std::fs::metadata(path) {
            Ok(_) => Ok(Some(path.clone())),
            Err(e) => Err(format!("cannot read init file {}: {e}", path.display())),
        },
        None => Ok(Config::default_init_path().filter(|path| path.exists())),
    }
}

/// Runs `-c` and `-f` inputs in order; failed if any failed.
fn run_inputs(runner: &mut Runner, inputs: &[Input]) -> ScriptOutcome {
    let mut failed = false;
    let mut commands = 0;
    for input in inputs {
        let outcome = match input {
            Input::Command(sql) => {
                commands += 1;
                runner.run_script(Source::Named(&format!("<command {commands}>")), sql)
            }
            Input::File(path) => runner.run_file(path),
        };
        match outcome {
            ScriptOutcome::Succeeded(Flow::Continue) => {}
            ScriptOutcome::Succeeded(Flow::Quit) | ScriptOutcome::OutputClosed if failed => {
                return ScriptOutcome::Failed;
            }
            ScriptOutcome::Succeeded(Flow::Quit) | ScriptOutcome::OutputClosed => return outcome,
            ScriptOutcome::Failed => {
                failed = true;
                if !runner.settings.continue_on_error || runner.run_is_over() {
                    break;
                }
            }
        }
    }
    if failed {
        ScriptOutcome::Failed
    } else {
        ScriptOutcome::Succeeded(Flow::Continue)
    }
}

fn exit_code(outcome: ScriptOutcome) -> ExitCode {
    match outcome {
        ScriptOutcome::Failed => ExitCode::from(EXIT_FAILED),
        ScriptOutcome::Succeeded(_) | ScriptOutcome::OutputClosed => ExitCode::SUCCESS,
    }
}
