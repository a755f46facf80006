//! The `wasql` command line: arguments, config, the shell, scripts and output.

mod args;
mod errors;
mod meta;
mod output;
mod progress;
mod runner;
mod shell;
pub mod split;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::Duration;

use args::{Args, Input};
use output::Format;
use runner::{Runner, ScriptOutcome, Settings, Source};

use crate::config::{Config, UdfConfig, parse_byte_size};
use crate::engine::{Engine, EngineSettings};
use crate::udf;

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
                crate::engine::panic_message(payload.as_ref())
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
    let memory_limit = match args.memory_limit.as_ref().or(config.memory_limit.as_ref()) {
        Some(size) => match parse_byte_size(size) {
            Ok(bytes) => Some(bytes),
            Err(e) => return usage_error(format!("memory limit: {e}")),
        },
        None => None,
    };
    let target_partitions = args.target_partitions.or(config.target_partitions);
    if target_partitions == Some(0) {
        return usage_error("target partitions must be at least 1");
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
    };
    let udf_limits = match udf_limit_policy(&config.udf) {
        Ok(policy) => policy,
        Err(e) => return usage_error(format!("config: {e}")),
    };
    let engine_settings = EngineSettings {
        memory_limit,
        target_partitions,
        profiles: config.profiles,
        udf_limits,
        net: config.net,
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
    let engine = match runtime.block_on(async { Engine::new(&engine_settings) }) {
        Ok(engine) => engine,
        Err(e) => return usage_error(errors::describe(&e).message),
    };
    for dir in config.udf_dirs.iter().chain(&args.udf_dirs) {
        if let Err(e) = engine.load_udf_dir(dir) {
            return usage_error(errors::describe(&e).message);
        }
    }
    let mut runner = Runner::new(engine, runtime, settings);
    if let Some(path) = &args.output
        && let Err(e) = runner.set_output(Some(&path.to_string_lossy()))
    {
        return usage_error(e);
    }

    if !inputs.is_empty() {
        return run_inputs(&mut runner, &inputs);
    }
    if std::io::stdin().is_terminal() {
        return match shell::run(runner) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wasql: terminal error: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        };
    }
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("wasql: cannot read standard input: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    exit_code(runner.run_script(Source::Named("<stdin>"), &text))
}

/// The `[udf]` limits, with `[udf.modules.NAME]` overrides.
fn udf_limit_policy(config: &UdfConfig) -> Result<udf::LimitPolicy, String> {
    /// `limits` with the keys `config` sets, read as `table` says.
    fn apply(
        mut limits: udf::Limits,
        config: &UdfConfig,
        table: &str,
    ) -> Result<udf::Limits, String> {
        let count = |value: Option<usize>, key: &str, into: &mut usize| match value {
            Some(0) => Err(format!("{table} {key} must be at least 1, not 0")),
            Some(n) => {
                *into = n;
                Ok(())
            }
            None => Ok(()),
        };
        if let Some(size) = &config.memory_limit {
            limits.memory_bytes =
                parse_byte_size(size).map_err(|e| format!("{table} memory_limit: {e}"))?;
        }
        if let Some(size) = &config.max_state_size {
            limits.state_bytes =
                parse_byte_size(size).map_err(|e| format!("{table} max_state_size: {e}"))?;
        }
        if let Some(seconds) = config.timeout_seconds {
            limits.call_timeout = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| {
                    format!("{table} timeout_seconds must be positive, not {seconds}")
                })?;
        }
        count(
            config.max_table_elements,
            "max_table_elements",
            &mut limits.table_elements,
        )?;
        count(config.max_tables, "max_tables", &mut limits.tables)?;
        count(config.max_memories, "max_memories", &mut limits.memories)?;
        Ok(limits)
    }
    let default = apply(udf::Limits::default(), config, "[udf]")?;
    let modules = config
        .modules
        .iter()
        .map(|(name, module)| {
            let table = format!("[udf.modules.{name}]");
            if !module.modules.is_empty() {
                return Err(format!("{table} cannot have modules of its own"));
            }
            Ok((name.clone(), apply(default, module, &table)?))
        })
        .collect::<Result<_, String>>()?;
    Ok(udf::LimitPolicy { default, modules })
}

/// Runs `-c` and `-f` inputs in order.
fn run_inputs(runner: &mut Runner, inputs: &[Input]) -> ExitCode {
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
            ScriptOutcome::Succeeded(runner::Flow::Continue) => {}
            ScriptOutcome::Succeeded(runner::Flow::Quit) | ScriptOutcome::OutputClosed => break,
            ScriptOutcome::Failed => {
                failed = true;
                if !runner.settings.continue_on_error {
                    break;
                }
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn exit_code(outcome: ScriptOutcome) -> ExitCode {
    match outcome {
        ScriptOutcome::Failed => ExitCode::from(EXIT_FAILED),
        ScriptOutcome::Succeeded(_) | ScriptOutcome::OutputClosed => ExitCode::SUCCESS,
    }
}
