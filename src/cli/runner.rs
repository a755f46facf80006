//! Runs statements, meta-commands and scripts, and prints their results.
//! The shell, `-c`, `-f` and standard input all go through [`Runner`].

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use futures::StreamExt;
use tokio::runtime::Runtime;

use super::errors::{ErrorReport, describe};
use super::meta::{self, Meta};
use super::output::{self, Format};
use super::progress::Progress;
use super::split::{Item, split};
use crate::engine::Engine;
use crate::udf::WasmModule;

/// What the user chose about output.
#[derive(Debug, Clone)]
pub struct Settings {
    pub format: Format,
    /// Row limit for table output; `None` shows all rows.
    pub maxrows: Option<usize>,
    pub timing: bool,
    /// No row counts or timings.
    pub quiet: bool,
    /// Scripts go on after a failed statement.
    pub continue_on_error: bool,
}

/// Why a statement did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The statement failed; the report says why.
    Error(ErrorReport),
    /// The user pressed Ctrl-C.
    Cancelled,
    /// The reader of our output went away (e.g. `wasql ... | head`).
    OutputClosed,
}

impl From<ErrorReport> for Failure {
    fn from(report: ErrorReport) -> Self {
        Failure::Error(report)
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            Failure::OutputClosed
        } else {
            Failure::Error(ErrorReport::new(format!("cannot write output: {err}")))
        }
    }
}

/// Whether to keep going after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// Every statement succeeded (or the script said `\q`).
    Succeeded(Flow),
    /// At least one statement failed; the errors have been printed.
    Failed,
    /// Our output was closed; stop quietly.
    OutputClosed,
}

/// Where the statements of a script come from; decides how errors read.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file, `-c` or standard input: errors read `NAME:LINE: message`.
    Named(&'a str),
    /// Typed into the shell: errors read `Error: message`.
    Typed,
}

/// Where results go.
enum Destination {
    Stdout,
    File(BufWriter<File>),
}

/// The state of a wasql session as seen from the command line.
pub struct Runner {
    engine: Engine,
    runtime: Runtime,
    pub settings: Settings,
    destination: Destination,
    /// Interactive: Ctrl-C cancels the statement instead of ending wasql.
    interactive: bool,
}

/// Summary of a finished statement.
struct Done {
    /// Rows returned, or `None` for statements that return no columns.
    rows: Option<usize>,
    hidden: usize,
    elapsed: Duration,
}

impl Runner {
    /// A runner over `engine`, with `runtime` driving it.
    pub fn new(engine: Engine, runtime: Runtime, settings: Settings) -> Self {
        Runner {
            engine,
            runtime,
            settings,
            destination: Destination::Stdout,
            interactive: false,
        }
    }

    /// The engine statements run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs a future on the runner's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Marks the session interactive: Ctrl-C cancels the running statement.
    pub fn set_interactive(&mut self) {
        self.interactive = true;
    }

    /// Sends results to `path` (created or truncated), or back to stdout.
    pub fn set_output(&mut self, path: Option<&str>) -> Result<(), String> {
        self.flush_output()
            .map_err(|e| format!("cannot write output: {e}"))?;
        self.destination = match path {
            None => Destination::Stdout,
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| format!("cannot open output file '{path}': {e}"))?;
                Destination::File(BufWriter::new(file))
            }
        };
        Ok(())
    }

    fn flush_output(&mut self) -> io::Result<()> {
        match &mut self.destination {
            Destination::Stdout => io::stdout().flush(),
            Destination::File(file) => file.flush(),
        }
    }

    /// True when results go to a terminal.
    fn output_is_terminal(&self) -> bool {
        matches!(self.destination, Destination::Stdout) && io::stdout().is_terminal()
    }

    /// Runs one SQL statement and prints its result.
    pub fn run_sql(&mut self, sql: &str) -> Result<(), Failure> {
        let settings = self.settings.clone();
        let progress_enabled = io::stderr().is_terminal();
        let output_is_terminal = self.output_is_terminal();
        let interactive = self.interactive;
        let Runner {
            engine,
            runtime,
            destination,
            ..
        } = self;
        let mut stdout;
        let out: &mut dyn Write = match destination {
            Destination::Stdout => {
                stdout = io::stdout().lock();
                &mut stdout
            }
            Destination::File(file) => file,
        };
        let work = execute(
            engine,
            sql,
            &settings,
            out,
            progress_enabled,
            output_is_terminal,
        );
        let done = runtime.block_on(async {
            if interactive {
                tokio::select! {
                    result = work => result,
                    _ = tokio::signal::ctrl_c() => Err(Failure::Cancelled),
                }
            } else {
                work.await
            }
        });
        out.flush()?;
        let done = done?;
        if !settings.quiet {
            self.print_summary(&done)?;
        }
        Ok(())
    }

    fn print_summary(&mut self, done: &Done) -> io::Result<()> {
        let mut line = match done.rows {
            None => "OK".to_string(),
            Some(rows) => {
                let noun = if rows == 1 { "row" } else { "rows" };
                if done.hidden > 0 {
                    format!(
                        "{rows} {noun} ({} shown, \\maxrows or --maxrows to see more)",
                        rows - done.hidden
                    )
                } else {
                    format!("{rows} {noun}")
                }
            }
        };
        if self.settings.timing {
            line.push_str(&format!(" in {:.3} s", done.elapsed.as_secs_f64()));
        }
        line.push('.');
        if self.settings.format.is_for_people() {
            match &mut self.destination {
                Destination::Stdout => writeln!(io::stdout(), "{line}"),
                Destination::File(file) => writeln!(file, "{line}"),
            }
        } else {
            writeln!(io::stderr(), "{line}")
        }
    }

    /// Carries out a meta-command.
    pub fn run_meta(&mut self, line: &str) -> Result<Flow, Failure> {
        let command = meta::parse(line).map_err(ErrorReport::new)?;
        match command {
            Meta::Help => println!("{}", meta::help()),
            Meta::Quit => return Ok(Flow::Quit),
            Meta::ListTables(pattern) => {
                let filter = pattern
                    .map(|p| format!(" AND table_name LIKE '{}'", meta::like_pattern(&p)))
                    .unwrap_or_default();
                self.run_sql(&format!(
                    "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                     FROM information_schema.tables \
                     WHERE table_schema NOT IN ('information_schema', 'wasql'){filter} \
                     ORDER BY schema, name"
                ))?
            }
            Meta::Describe(name) => self.run_sql(&format!("DESCRIBE {name}"))?,
            Meta::ListFunctions(pattern) => {
                let filter = pattern
                    .map(|p| format!("WHERE name LIKE '{}'", meta::like_pattern(&p)))
                    .unwrap_or_default();
                // information_schema has no descriptions of table functions:
                // add the WASM ones'.
                let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
                let described: Vec<String> = self
                    .engine
                    .table_function_descriptions()
                    .iter()
                    .map(|(name, description)| {
                        format!(
                            " WHEN routine_name = {} AND function_type = 'TABLE' THEN {}",
                            quote(name),
                            quote(description)
                        )
                    })
                    .collect();
                let description = if described.is_empty() {
                    "description".to_string()
                } else {
                    format!("CASE{} ELSE description END", described.concat())
                };
                self.run_sql(&format!(
                    "SELECT DISTINCT name, kind, description FROM (\
                     SELECT routine_name AS name, function_type AS kind, {description} AS description \
                     FROM information_schema.routines) {filter} ORDER BY name, kind"
                ))?
            }
            Meta::Include(file) => {
                return match self.run_file(Path::new(&file)) {
                    ScriptOutcome::Succeeded(flow) => Ok(flow),
                    ScriptOutcome::OutputClosed => Err(Failure::OutputClosed),
                    // The script has printed its errors with their file and line.
                    ScriptOutcome::Failed => Err(Failure::Error(ErrorReport::new(format!(
                        "script '{file}' failed"
                    )))),
                };
            }
            Meta::Timing(on) => {
                self.settings.timing = on.unwrap_or(!self.settings.timing);
                let state = if self.settings.timing { "on" } else { "off" };
                self.note(&format!("Timing is {state}."));
            }
            Meta::Format(format) => {
                if let Some(format) = format {
                    self.settings.format = format;
                }
                self.note(&format!(
                    "Output format is {}.",
                    self.settings.format.name()
                ));
            }
            Meta::Expanded(on) => {
                let on = on.unwrap_or(self.settings.format != Format::Vertical);
                self.settings.format = if on { Format::Vertical } else { Format::Table };
                let state = if on { "on" } else { "off" };
                self.note(&format!("Expanded display is {state}."));
            }
            Meta::MaxRows(limit) => {
                if let Some(n) = limit {
                    self.settings.maxrows = Some(n).filter(|&n| n > 0);
                }
                match self.settings.maxrows {
                    Some(n) => self.note(&format!("Rows shown: {n} (table output).")),
                    None => self.note("Rows shown: all."),
                }
            }
            Meta::Output(path) => self.set_output(path.as_deref()).map_err(ErrorReport::new)?,
            Meta::UdfLoad(dir) => {
                // Ctrl-C sets the flag; the load stops at its next check.
                let cancel = Arc::new(AtomicBool::new(false));
                let watcher = self.interactive.then(|| {
                    let cancel = Arc::clone(&cancel);
                    self.runtime.spawn(async move {
                        if tokio::signal::ctrl_c().await.is_ok() {
                            cancel.store(true, Ordering::Relaxed);
                        }
                    })
                });
                let loaded = self.engine.load_udf_dir_until(Path::new(&dir), &cancel);
                if let Some(watcher) = watcher {
                    watcher.abort();
                }
                let count = match loaded {
                    Err(_) if cancel.load(Ordering::Relaxed) => return Err(Failure::Cancelled),
                    loaded => loaded.map_err(|e| describe(&e))?,
                };
                let noun = if count == 1 { "function" } else { "functions" };
                self.note(&format!("Loaded {count} {noun} from {dir}."));
            }
            Meta::UdfList => self.print_batch(udf_list(&self.engine.udf_modules()))?,
            Meta::Net => {
                let policy = self.engine.net().policy();
                let limits = &policy.limits;
                println!(
                    "Network limits: timeout {:.1} s, responses up to {} bytes, {} requests per query, \
                     {} at once, {} retries, cache across queries {:.0} s",
                    limits.timeout.as_secs_f64(),
                    limits.max_response_bytes,
                    limits.max_requests_per_query,
                    limits.max_concurrent,
                    limits.retries,
                    limits.cache_ttl.as_secs_f64()
                );
                let secrets: Vec<&str> = policy.secret_names().collect();
                if !secrets.is_empty() {
                    println!("Secrets (names only): {}", secrets.join(", "));
                }
                if policy.rules.is_empty() {
                    println!("No [[net.allow]] rules: network access is off.");
                }
                self.print_batch(net_rules(policy))?;
                let requested = net_requests(&self.engine.udf_modules());
                if requested.num_rows() > 0 {
                    self.print_batch(requested)?;
                }
            }
            Meta::UdfLog(name) => {
                for module in self.engine.udf_modules() {
                    let stem = module
                        .path
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy();
                    let matches = name
                        .as_deref()
                        .is_none_or(|n| stem == n || module.functions.iter().any(|f| f.name == n));
                    if matches {
                        println!(
                            "-- {} stdout:\n{}",
                            module.path.display(),
                            module.output.stdout.text()
                        );
                        println!(
                            "-- {} stderr:\n{}",
                            module.path.display(),
                            module.output.stderr.text()
                        );
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Prints rows made by wasql itself (not by a query) in the current format.
    fn print_batch(&mut self, batch: RecordBatch) -> Result<(), Failure> {
        let started = Instant::now();
        let mut printer =
            output::printer(self.settings.format, batch.schema(), self.settings.maxrows);
        let hidden = {
            let mut stdout;
            let out: &mut dyn Write = match &mut self.destination {
                Destination::Stdout => {
                    stdout = io::stdout().lock();
                    &mut stdout
                }
                Destination::File(file) => file,
            };
            printer.batch(out, &batch)?;
            let hidden = printer.finish(out)?;
            out.flush()?;
            hidden
        };
        if !self.settings.quiet {
            self.print_summary(&Done {
                rows: Some(batch.num_rows()),
                hidden,
                elapsed: started.elapsed(),
            })?;
        }
        Ok(())
    }

    /// Tells the user about a changed setting, unless asked to be quiet.
    fn note(&self, message: &str) {
        if !self.settings.quiet {
            eprintln!("{message}");
        }
    }

    /// Runs a script file; errors are printed as `FILE:LINE: message`.
    pub fn run_file(&mut self, path: &Path) -> ScriptOutcome {
        match std::fs::read_to_string(path) {
            Ok(text) => self.run_script(Source::Named(&path.display().to_string()), &text),
            Err(e) => {
                eprintln!("{}: cannot read script: {e}", path.display());
                ScriptOutcome::Failed
            }
        }
    }

    /// Runs every statement and meta-command in `text`, stopping at the first
    /// failure unless `continue_on_error` is set for a named script.
    pub fn run_script(&mut self, source: Source, text: &str) -> ScriptOutcome {
        let split = split(text);
        let trailing = split.rest.map(|(text, line)| Item::Sql { text, line });
        let mut failed = false;
        for item in split.items.into_iter().chain(trailing) {
            let result = match &item {
                Item::Sql { text, .. } => self.run_sql(text).map(|()| Flow::Continue),
                Item::Meta { text, .. } => self.run_meta(text),
            };
            match result {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => return ScriptOutcome::Succeeded(Flow::Quit),
                Err(Failure::OutputClosed) => return ScriptOutcome::OutputClosed,
                Err(Failure::Cancelled) => {
                    match source {
                        Source::Named(name) => eprintln!("{name}:{}: cancelled", item.line()),
                        Source::Typed if matches!(item, Item::Meta { .. }) => {
                            eprintln!("Cancelled.")
                        }
                        Source::Typed => eprintln!("Query cancelled."),
                    }
                    return ScriptOutcome::Failed;
                }
                Err(Failure::Error(report)) => {
                    failed = true;
                    match source {
                        Source::Named(name) => {
                            let line = item.line() + report.line.map_or(0, |l| l - 1);
                            eprintln!("{name}:{line}: {}", report.message);
                            if !self.settings.continue_on_error {
                                return ScriptOutcome::Failed;
                            }
                        }
                        Source::Typed => {
                            eprintln!("Error: {}", report.message);
                            return ScriptOutcome::Failed;
                        }
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
}

/// One row per function of the loaded WASM modules.
fn udf_list(modules: &[Arc<WasmModule>]) -> RecordBatch {
    let rows: Vec<(&WasmModule, &crate::udf::FunctionSpec)> = modules
        .iter()
        .flat_map(|m| m.functions.iter().map(move |f| (m.as_ref(), f)))
        .collect();
    let column = |value: &dyn Fn(&WasmModule, &crate::udf::FunctionSpec) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(m, f)| value(m, f)),
        ))
    };
    RecordBatch::try_from_iter([
        ("function", column(&|_, f| f.name.clone())),
        ("kind", column(&|_, f| f.kind.label().to_string())),
        ("signature", column(&|_, f| f.signature())),
        ("module", column(&|m, _| m.path.display().to_string())),
        ("sha256", column(&|m, _| m.sha256[..16].to_string())),
        ("capabilities", column(&|_, f| f.capabilities.join(", "))),
    ])
    .expect("columns of equal length")
}

/// The network rules, one row each.
fn net_rules(policy: &crate::net::Policy) -> RecordBatch {
    let rows: Vec<(String, [String; 4])> = policy
        .rules
        .iter()
        .map(|r| (r.name.clone(), r.summary()))
        .collect();
    let column = |i: Option<usize>| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(
            |(name, s)| match i {
                None => name.clone(),
                Some(i) => s[i].clone(),
            },
        )))
    };
    RecordBatch::try_from_iter([
        ("rule", column(None)),
        ("methods", column(Some(0))),
        ("for", column(Some(1))),
        ("addresses", column(Some(2))),
        ("injects", column(Some(3))),
    ])
    .expect("columns of equal length")
}

/// The hosts loaded modules ask for (`net:HOST` capabilities): requests
/// only; the rules decide.
fn net_requests(modules: &[Arc<WasmModule>]) -> RecordBatch {
    let rows: Vec<(String, String, String)> = modules
        .iter()
        .flat_map(|m| {
            m.functions.iter().flat_map(move |f| {
                f.capabilities
                    .iter()
                    .filter_map(|c| c.strip_prefix("net:"))
                    .map(move |host| (m.name(), f.name.clone(), host.to_string()))
            })
        })
        .collect();
    let column = |pick: fn(&(String, String, String)) -> &String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(pick)))
    };
    RecordBatch::try_from_iter([
        ("module", column(|r| &r.0)),
        ("function", column(|r| &r.1)),
        ("requests host", column(|r| &r.2)),
    ])
    .expect("columns of equal length")
}

/// Plans and runs `sql`, streaming its rows to `out`.
async fn execute(
    engine: &Engine,
    sql: &str,
    settings: &Settings,
    out: &mut dyn Write,
    progress_enabled: bool,
    output_is_terminal: bool,
) -> Result<Done, Failure> {
    let started = Instant::now();
    let report = |e: datafusion::error::DataFusionError| Failure::Error(describe(&e));
    let query = engine.prepare(sql).await.map_err(report)?;
    let schema = query.schema();
    let progress = Progress::start(query.plan().clone(), progress_enabled);
    let mut stream = query.execute().map_err(report)?;
    if schema.fields().is_empty() {
        while let Some(batch) = stream.next().await {
            batch.map_err(report)?;
        }
        return Ok(Done {
            rows: None,
            hidden: 0,
            elapsed: started.elapsed(),
        });
    }
    let mut printer = output::printer(settings.format, schema, settings.maxrows);
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(report)?;
        if batch.num_rows() == 0 {
            continue;
        }
        if output_is_terminal {
            progress.stop();
        }
        rows += batch.num_rows();
        printer.batch(out, &batch)?;
        out.flush()?;
    }
    progress.stop();
    let hidden = printer.finish(out)?;
    Ok(Done {
        rows: Some(rows),
        hidden,
        elapsed: started.elapsed(),
    })
}
