//! The interactive shell: rustyline with multi-line statements (each line
//! after the first under a `...>` prompt), history in the user's data
//! directory, completion of names, `\` commands and paths, and highlighting.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::meta;
use super::runner::{Flow, Runner, ScriptOutcome, Source};
use super::split::split;

const PROMPT: &str = "wasql> ";
/// The prompt of the lines that continue a statement, aligned under [`PROMPT`].
const CONTINUATION_PROMPT: &str = "   ...> ";

/// Names the completer offers besides keywords; refreshed after each command.
#[derive(Default)]
struct Vocabulary {
    tables: Vec<String>,
    columns: Vec<String>,
    functions: Vec<String>,
}

struct ShellHelper {
    vocabulary: Arc<Mutex<Vocabulary>>,
}

impl Helper for ShellHelper {}

impl Hinter for ShellHelper {
    type Hint = String;
}

/// Every line is accepted as typed: the shell asks for more lines itself,
/// under the continuation prompt.
impl Validator for ShellHelper {}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        if let Some(start) = meta::path_argument_start(before) {
            return Ok(complete_path(before, start));
        }
        let command = before.trim_start();
        if command.starts_with('\\') && !command.contains(char::is_whitespace) {
            let candidates = meta::command_names()
                .filter(|name| name.starts_with(command))
                .map(|name| pair(&name))
                .collect();
            return Ok((before.len() - command.len(), candidates));
        }
        if let Some(quote) = before.rfind('\'')
            && before.matches('\'').count() % 2 == 1
        {
            return Ok(complete_path(before, quote));
        }
        // The word starts after the last character that cannot be in one,
        // which may be several bytes long (`2×pr`).
        let start = before
            .char_indices()
            .rfind(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
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
        Ok((start, names.iter().map(|n| pair(n)).collect()))
    }
}

/// Completes the path that starts at byte `start` of `before` (the text
/// before the cursor), possibly at an opening quote. A file gets the
/// closing quote, a directory a `/` (and the quote stays open); an unquoted
/// name with a space or quote in it gets quoted.
fn complete_path(before: &str, start: usize) -> (usize, Vec<Pair>) {
    let typed = &before[start..];
    let (quote, partial) = match typed.chars().next() {
        Some(q @ ('\'' | '"')) => (Some(q), &typed[1..]),
        _ => (None, typed),
    };
    if quote.is_none() && partial.contains(char::is_whitespace) {
        return (start, Vec::new());
    }
    let (dir, name) = partial
        .rfind('/')
        .map_or(("", partial), |i| partial.split_at(i + 1));
    let Ok(entries) = std::fs::read_dir(if dir.is_empty() {
        Path::new(".")
    } else {
        Path::new(dir)
    }) else {
        return (start, Vec::new());
    };
    let mut candidates: Vec<Pair> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let file_name = entry.file_name().into_string().ok()?;
            if !file_name.starts_with(name)
                || (file_name.starts_with('.') && !name.starts_with('.'))
            {
                return None;
            }
            let is_dir = entry.path().is_dir();
            let needs_quote = quote.is_none()
                && file_name.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"');
            let quote = quote.or(needs_quote.then_some('\''));
            let end = match (is_dir, quote) {
                (true, _) => "/".to_string(),
                (false, Some(q)) => q.to_string(),
                (false, None) => String::new(),
            };
            let opening = quote.map(String::from).unwrap_or_default();
            Some(Pair {
                display: format!("{file_name}{}", if is_dir { "/" } else { "" }),
                replacement: format!("{opening}{dir}{file_name}{end}"),
            })
        })
        .collect();
    candidates.sort_by(|a, b| a.display.cmp(&b.display));
    (start, candidates)
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
    // The lines of the statement typed so far.
    let mut input = String::new();
    loop {
        let prompt = if input.is_empty() {
            PROMPT
        } else {
            CONTINUATION_PROMPT
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            // Ctrl-C drops the unfinished statement too.
            Err(ReadlineError::Interrupted) => {
                input.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        };
        if input.is_empty() && line.trim().is_empty() {
            continue;
        }
        if !input.is_empty() {
            input.push('\n');
        }
        input.push_str(&line);
        if !is_complete(&input) {
            continue;
        }
        let statement = std::mem::take(&mut input);
        editor.add_history_entry(statement.as_str())?;
        if let Some(path) = &history
            && let Err(e) = editor.save_history(path)
        {
            eprintln!("warning: cannot save history to {}: {e}", path.display());
        }
        if run_input(&mut runner, &statement) == Flow::Quit {
            break;
        }
        refresh_vocabulary(&runner, &vocabulary);
    }
    Ok(())
}

/// Input is complete when it is a meta-command or ends its last statement.
fn is_complete(input: &str) -> bool {
    input.trim_start().starts_with('\\') || split(input).rest.is_none()
}

/// Runs what the user typed; errors are printed and the shell goes on.
fn run_input(runner: &mut Runner, input: &str) -> Flow {
    match runner.run_script(Source::Typed, input) {
        ScriptOutcome::Succeeded(flow) => flow,
        ScriptOutcome::Failed | ScriptOutcome::OutputClosed => Flow::Continue,
    }
}

#[cfg(test)]
mod tests {
    use super::complete_path;

    #[test]
    fn paths_complete_with_quotes_and_slashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("my file.sql"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let base = format!("{}/", dir.path().display());
        let replacements = |line: &str| -> Vec<String> {
            let (start, found) = complete_path(line, 3);
            assert_eq!(start, 3);
            found.into_iter().map(|p| p.replacement).collect()
        };
        // Inside quotes a file is closed, a directory stays open.
        assert_eq!(
            replacements(&format!("\\i '{base}my")),
            [format!("'{base}my file.sql'")]
        );
        assert_eq!(
            replacements(&format!("\\i \"{base}s")),
            [format!("\"{base}sub/")]
        );
        // Unquoted, a name with a space gets quoted.
        assert_eq!(
            replacements(&format!("\\i {base}m")),
            [format!("'{base}my file.sql'")]
        );
        assert!(replacements(&format!("\\i {base}nothing")).is_empty());
        assert!(replacements("\\i /no/such/dir/x").is_empty());
    }
}
