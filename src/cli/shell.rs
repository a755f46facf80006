//! The interactive shell: rustyline with multi-line statements, history in
//! the user's data directory, completion and highlighting.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::runner::{Flow, Runner, ScriptOutcome, Source};
use super::split::split;

const PROMPT: &str = "wasql> ";
const META_COMMANDS: [&str; 13] = [
    "\\?",
    "\\q",
    "\\d",
    "\\df",
    "\\i",
    "\\timing",
    "\\format",
    "\\maxrows",
    "\\o",
    "\\help",
    "\\set",
    "\\unset",
    "\\timeout",
];

/// Names the completer offers besides keywords; refreshed after each command.
#[derive(Default)]
struct Vocabulary {
    tables: Vec<String>,
    columns: Vec<String>,
    functions: Vec<String>,
}

struct ShellHelper {
    vocabulary: Arc<Mutex<Vocabulary>>,
    files: FilenameCompleter,
}

impl Helper for ShellHelper {}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Validator for ShellHelper {
    /// Input is complete when it is a meta-command or ends a statement.
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with('\\') || split(input).rest.is_none() {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        if before.matches('\'').count() % 2 == 1 {
            return self.files.complete(line, pos, ctx);
        }
        // The word starts after the last character that cannot be in one,
        // which may be several bytes long (`2×pr`).
        let start = before
            .char_indices()
            .rfind(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '\\' || c == '?'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let candidates = if word.starts_with('\\') {
            META_COMMANDS
                .iter()
                .filter(|m| m.starts_with(word))
                .map(|m| pair(m))
                .collect()
        } else {
            let vocabulary = self.vocabulary.lock().unwrap_or_else(|e| e.into_inner());
            let lower = word.to_lowercase();
            let upper_case = word.chars().all(|c| !c.is_lowercase());
            let keywords = ALL_KEYWORDS.iter().map(|k| {
                if upper_case {
                    k.to_string()
                } else {
                    k.to_lowercase()
                }
            });
            let mut names: Vec<String> = vocabulary
                .tables
                .iter()
                .chain(&vocabulary.columns)
                .chain(&vocabulary.functions)
                .cloned()
                .chain(keywords)
                .filter(|name| name.to_lowercase().starts_with(&lower))
                .collect();
            names.sort();
            names.dedup();
            names.iter().map(|n| pair(n)).collect()
        };
        Ok((start, candidates))
    }
}

fn pair(text: &str) -> Pair {
    Pair {
        display: text.to_string(),
        replacement: text.to_string(),
    }
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned(highlight_sql(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

const KEYWORD: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[33m";
const COMMENT: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// Colours keywords, strings, numbers and comments with ANSI escapes.
fn highlight_sql(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run_end = |from: usize, stop: &dyn Fn(char) -> bool| {
            (from..chars.len())
                .find(|&j| stop(chars[j]))
                .unwrap_or(chars.len())
        };
        let (end, color) = if c == '-' && chars.get(i + 1) == Some(&'-') {
            (run_end(i, &|ch| ch == '\n'), Some(COMMENT))
        } else if c == '\'' {
            (
                run_end(i + 1, &|ch| ch == '\'')
                    .saturating_add(1)
                    .min(chars.len()),
                Some(STRING),
            )
        } else if c.is_ascii_digit() {
            (
                run_end(i, &|ch| !(ch.is_ascii_digit() || ch == '.')),
                Some(NUMBER),
            )
        } else if c.is_alphabetic() || c == '_' {
            let end = run_end(i, &|ch| !(ch.is_alphanumeric() || ch == '_'));
            let word: String = chars[i..end].iter().collect::<String>().to_uppercase();
            let is_keyword = ALL_KEYWORDS.binary_search(&word.as_str()).is_ok();
            (end, is_keyword.then_some(KEYWORD))
        } else {
            (i + 1, None)
        };
        let text: String = chars[i..end].iter().collect();
        match color {
            Some(color) => {
                out.push_str(color);
                out.push_str(&text);
                out.push_str(RESET);
            }
            None => out.push_str(&text),
        }
        i = end;
    }
    out
}

/// The history file: `$XDG_DATA_HOME/wasql/history` (or the platform's
/// data directory).
fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("wasql");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// Refreshes the completion vocabulary from the session's catalog.
fn refresh_vocabulary(runner: &Runner, vocabulary: &Mutex<Vocabulary>) {
    let ctx = runner.engine().context();
    let mut fresh = Vocabulary::default();
    for catalog_name in ctx.catalog_names() {
        let Some(catalog) = ctx.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            for table in schema.table_names() {
                if let Ok(Some(provider)) = runner.block_on(schema.table(&table)) {
                    fresh
                        .columns
                        .extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                }
                fresh.tables.push(table);
            }
        }
    }
    let state = ctx.state();
    fresh
        .functions
        .extend(state.scalar_functions().keys().cloned());
    fresh
        .functions
        .extend(state.aggregate_functions().keys().cloned());
    fresh
        .functions
        .extend(state.window_functions().keys().cloned());
    *vocabulary.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
}

/// Runs the shell until `\q` or Ctrl-D.
pub fn run(mut runner: Runner) -> rustyline::Result<()> {
    runner.set_interactive();
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .history_ignore_space(true)
        .max_history_size(10_000)?
        .build();
    let vocabulary = Arc::new(Mutex::new(Vocabulary::default()));
    let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(ShellHelper {
        vocabulary: Arc::clone(&vocabulary),
        files: FilenameCompleter::new(),
    }));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    println!(
        "wasql {} — type \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION")
    );
    refresh_vocabulary(&runner, &vocabulary);
    loop {
        let input = match editor.readline(PROMPT) {
            Ok(input) => input,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        };
        if input.trim().is_empty() {
            continue;
        }
        editor.add_history_entry(input.as_str())?;
        if let Some(path) = &history
            && let Err(e) = editor.save_history(path)
        {
            eprintln!("warning: cannot save history to {}: {e}", path.display());
        }
        if run_input(&mut runner, &input) == Flow::Quit {
            break;
        }
        refresh_vocabulary(&runner, &vocabulary);
    }
    Ok(())
}

/// Runs what the user typed; errors are printed and the shell goes on.
fn run_input(runner: &mut Runner, input: &str) -> Flow {
    match runner.run_script(Source::Typed, input) {
        ScriptOutcome::Succeeded(flow) => flow,
        ScriptOutcome::Failed | ScriptOutcome::OutputClosed => Flow::Continue,
    }
}
