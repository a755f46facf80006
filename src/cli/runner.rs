//! Runs statements, meta-commands and scripts, and prints their results.
//! The shell, `-c`, `-f` and standard input all go through [`Runner`].

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::error::DataFusionError;
use futures::{StreamExt, TryStreamExt};
use tokio::runtime::Runtime;

use super::errors::{ErrorReport, Position, describe, locate, snippet};
use super::limits::{self, Expired, Limit, RunLimit};
use super::meta::{self, Meta};
use super::output::{self, Format, Screen};
use super::progress::Progress;
use super::split::{Item, split};
use wasql_engine::text::escape_control_lines;
use wasql_engine::{Engine, Params, check_param_name};

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
    /// How long one statement may run.
    pub timeout: Option<Limit>,
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
    /// The run's time (`--max-run-time`) is up; the message says so. The
    /// run stops, even with `--continue-on-error`.
    RunOver(String),
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

impl Destination {
    /// Runs `write` on this destination, and flushes it.
    fn write<T>(&mut self, write: impl FnOnce(&mut dyn Write) -> io::Result<T>) -> io::Result<T> {
        let mut stdout;
        let out: &mut dyn Write = match self {
            Destination::Stdout => {
                stdout = io::stdout().lock();
                &mut stdout
            }
            Destination::File(file) => file,
        };
        let result = write(out)?;
        out.flush()?;
        Ok(result)
    }
}

/// The state of a wasql session as seen from the command line.
pub struct Runner {
    engine: Engine,
    runtime: Runtime,
    pub settings: Settings,
    destination: Destination,
    /// Interactive: Ctrl-C cancels the statement instead of ending wasql.
    interactive: bool,
    /// Values for `$name` in SQL (`--param`, `\set`).
    params: Params,
    /// The limit on the whole run (`--max-run-time`), once started.
    run_limit: Option<RunLimit>,
}

/// Summary of a finished statement.
struct Done {
    /// Rows returned, or `None` for statements that return no columns.
    rows: Option<usize>,
    hidden: usize,
    elapsed: Duration,
}

impl Runner {
    /// A runner over `engine`, with `runtime` driving it and `params` for
    /// the statements' `$name` parameters.
    pub fn new(engine: Engine, runtime: Runtime, settings: Settings, params: Params) -> Self {
        Runner {
            engine,
            runtime,
            settings,
            destination: Destination::Stdout,
            interactive: false,
            params,
            run_limit: None,
        }
    }

    /// Limits the time of everything run from now on, until
    /// [`Runner::end_run_limit`].
    pub fn start_run_limit(&mut self, limit: Limit) {
        self.run_limit = Some(RunLimit::start(limit));
    }

    /// Lifts the run's limit (the shell has none).
    pub fn end_run_limit(&mut self) {
        self.run_limit = None;
    }

    /// True once the run's limit has passed: no more statements run.
    pub fn run_is_over(&self) -> bool {
        self.run_limit.is_some_and(|run| run.is_over())
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

    /// What table output has to fit: files get no limit.
    fn screen(&self) -> Screen {
        match self.destination {
            Destination::Stdout => Screen::detect(self.output_is_terminal()),
            Destination::File(_) => Screen::default(),
        }
    }

    /// Runs one SQL statement and prints its result.
    pub fn run_sql(&mut self, sql: &str) -> Result<(), Failure> {
        let settings = self.settings.clone();
        let progress_enabled = io::stderr().is_terminal();
        let screen = self.screen();
        let interactive = self.interactive;
        let run_limit = self.run_limit;
        let Runner {
            engine,
            runtime,
            destination,
            params,
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
            params,
            &settings,
            out,
            progress_enabled,
            screen,
        );
        let limited = async {
            match limits::within(settings.timeout, run_limit, work).await {
                Ok(result) => result,
                Err(Expired::Statement(message)) => Err(Failure::Error(ErrorReport::new(message))),
                Err(Expired::Run(message)) => Err(Failure::RunOver(message)),
            }
        };
        let done = runtime.block_on(async {
            if interactive {
                tokio::select! {
                    result = limited => result,
                    _ = tokio::signal::ctrl_c() => Err(Failure::Cancelled),
                }
            } else {
                limited.await
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
            self.destination.write(|out| writeln!(out, "{line}"))
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
                self.run_sql(&meta::list_functions(pattern.as_deref()))?
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
            Meta::Set(None) => self.print_batch(params_list(&self.params))?,
            Meta::Set(Some((name, value))) => {
                check_param_name(&name).map_err(ErrorReport::new)?;
                self.params.insert(name, value);
            }
            Meta::Unset(name) => {
                if self.params.remove(&name).is_none() {
                    return Err(ErrorReport::new(format!(
                        "\\unset: no parameter '{name}' is set (\\set lists them)"
                    ))
                    .into());
                }
            }
            Meta::Timeout(setting) => {
                if let Some(seconds) = setting {
                    self.settings.timeout = seconds
                        .map(|s| Limit::new(s, "\\timeout"))
                        .transpose()
                        .map_err(ErrorReport::new)?;
                }
                match self.settings.timeout {
                    Some(limit) => self.note(&format!(
                        "Statements time out after {} ({}).",
                        limit.seconds(),
                        limit.origin
                    )),
                    None => self.note("Statements have no time limit."),
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
            Meta::UdfList => {
                let functions = self.query_batch(meta::UDF_LIST)?;
                self.print_batch(functions)?
            }
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
                let rules = self.query_batch(meta::NET_RULES)?;
                self.print_batch(rules)?;
                let requested = self.query_batch(meta::NET_REQUESTS)?;
                if requested.num_rows() > 0 {
                    self.print_batch(requested)?;
                }
            }
            Meta::UdfLog(name) => {
                let mut log = String::new();
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
                        let streams = [
                            ("stdout", &module.output.stdout),
                            ("stderr", &module.output.stderr),
                        ];
                        for (stream, captured) in streams {
                            // What a guest wrote is shown line by line, its
                            // other control characters escaped.
                            log.push_str(&format!(
                                "-- {} {stream}:\n{}\n",
                                module.path.display(),
                                escape_control_lines(&captured.text())
                            ));
                        }
                    }
                }
                self.destination
                    .write(|out| out.write_all(log.as_bytes()))?;
            }
        }
        Ok(Flow::Continue)
    }

    /// The rows of one of wasql's own queries (over the `wasql` schema), to
    /// print with [`Runner::print_batch`].
    fn query_batch(&self, sql: &str) -> Result<RecordBatch, Failure> {
        let report = |e: DataFusionError| Failure::Error(describe(&e));
        self.runtime.block_on(async {
            let query = self.engine.prepare(sql).await.map_err(report)?;
            let schema = query.schema();
            let batches: Vec<RecordBatch> = query
                .execute()
                .map_err(report)?
                .try_collect()
                .await
                .map_err(report)?;
            concat_batches(&schema, &batches).map_err(|e| report(e.into()))
        })
    }

    /// Prints rows wasql made for a meta-command, in the current format.
    fn print_batch(&mut self, batch: RecordBatch) -> Result<(), Failure> {
        let started = Instant::now();
        let screen = self.screen();
        let mut printer = output::printer(
            self.settings.format,
            batch.schema(),
            self.settings.maxrows,
            screen,
        );
        let hidden = self.destination.write(|out| {
            printer.batch(out, &batch)?;
            printer.finish(out)
        })?;
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
        match read_script(path) {
            Ok(text) => self.run_script(Source::Named(&path.display().to_string()), &text),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                ScriptOutcome::Failed
            }
        }
    }

    /// Runs every statement and meta-command in `text`, stopping at the first
    /// failure unless `continue_on_error` is set for a named script.
    pub fn run_script(&mut self, source: Source, text: &str) -> ScriptOutcome {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let split = split(text);
        let mut failed = false;
        for item in split.items.into_iter().chain(split.rest) {
            let result = match &item {
                Item::Sql { text, .. } => self.run_sql(text).map(|()| Flow::Continue),
                Item::Meta { text, .. } => self.run_meta(text),
            };
            match result {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => return ScriptOutcome::Succeeded(Flow::Quit),
                Err(Failure::OutputClosed) => return ScriptOutcome::OutputClosed,
                Err(Failure::RunOver(message)) => {
                    match source {
                        Source::Named(name) => eprintln!("{name}:{}: {message}", item.line()),
                        Source::Typed => eprintln!("Error: {message}"),
                    }
                    return ScriptOutcome::Failed;
                }
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
                    let (line, column) = script_position(&item, report.position);
                    let snippet = column.and_then(|column| snippet(text, line, column));
                    match (source, column) {
                        (Source::Named(name), Some(column)) => {
                            eprintln!("{name}:{line}:{column}: {}", report.message)
                        }
                        (Source::Named(name), None) => {
                            eprintln!("{name}:{line}: {}", report.message)
                        }
                        (Source::Typed, _) => eprintln!("Error: {}", report.message),
                    }
                    if let Some(snippet) = snippet {
                        eprintln!("{snippet}");
                    }
                    if matches!(source, Source::Typed) || !self.settings.continue_on_error {
                        return ScriptOutcome::Failed;
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

/// The parameters set, one row each, by name.
fn params_list(params: &Params) -> RecordBatch {
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(params.keys()));
    let values: ArrayRef = Arc::new(StringArray::from_iter_values(params.values()));
    RecordBatch::try_from_iter([("parameter", names), ("value", values)])
        .expect("columns of equal length")
}

/// The line and column of a script an error in `item` points at: its
/// position in the statement moved to where the statement starts, or just
/// the statement's first line when the error has no position.
fn script_position(item: &Item, position: Option<Position>) -> (usize, Option<usize>) {
    match (item, position) {
        (Item::Sql { text, line, column }, Some(position)) => {
            let (inner_line, inner_column) = locate(text, position);
            let first_line_offset = if inner_line == 1 { column - 1 } else { 0 };
            (
                line + inner_line - 1,
                Some(first_line_offset + inner_column),
            )
        }
        _ => (item.line(), None),
    }
}

/// Reads a script: UTF-8 text, without a leading byte-order mark.
pub fn read_script(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read script: {e}"))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        }),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..valid]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Err(format!(
                "line {line} is not UTF-8 text: save the script as UTF-8"
            ))
        }
    }
}

/// Plans and runs `sql`, streaming its rows to `out`, which fits `screen`
/// (and is a terminal when `screen.terminal`).
async fn execute(
    engine: &Engine,
    sql: &str,
    params: &Params,
    settings: &Settings,
    out: &mut dyn Write,
    progress_enabled: bool,
    screen: Screen,
) -> Result<Done, Failure> {
    let started = Instant::now();
    let report = |e: datafusion::error::DataFusionError| Failure::Error(describe(&e));
    let query = engine
        .prepare_with_params(sql, params)
        .await
        .map_err(report)?;
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
    let mut printer = output::printer(settings.format, schema, settings.maxrows, screen);
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(report)?;
        if batch.num_rows() == 0 {
            continue;
        }
        if screen.terminal {
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
