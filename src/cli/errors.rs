//! Turns engine errors into one clear line for people, with the position in
//! the statement when the parser or planner knows it, and shows that
//! position as a snippet of the line with a caret under it.

use datafusion::common::DataFusionError;
use unicode_width::UnicodeWidthChar;

use wasql_engine::error::{NetError, StoreError, UdfError, find};
use wasql_engine::text::escape_control;

/// An error as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// One line, no backtrace.
    pub message: String,
    /// Where in the statement the error points, if known.
    pub position: Option<Position>,
}

/// A place in a statement's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line and column (in characters).
    At { line: usize, column: usize },
    /// Just after the last character: the statement ended too early.
    End,
}

impl ErrorReport {
    /// A report with no position.
    pub fn new(message: impl Into<String>) -> Self {
        ErrorReport {
            message: message.into(),
            position: None,
        }
    }
}

/// The end of DataFusion's `Internal` errors, which asks for a bug report.
const BUG_REPORT: &str = ".\nThis issue was likely caused by a bug in DataFusion's code. \
     Please help us to resolve this by filing a bug report in our issue tracker: \
     https://github.com/apache/datafusion/issues";

/// Describes a DataFusion error in one line, keeping the position of a SQL
/// syntax error or of a planning error that carries one.
pub fn describe(err: &DataFusionError) -> ErrorReport {
    // wasql's own planning rules explain themselves; their names do not.
    if let DataFusionError::Context(rule, inner) = err
        && rule.starts_with("wasql_")
    {
        return describe(inner);
    }
    if let Some(message) = engine_error(err) {
        return ErrorReport::new(one_line(&message));
    }
    let root = err.find_root();
    if let DataFusionError::SQL(parser_error, _) = root {
        let text = parser_error.to_string();
        let text = text
            .strip_prefix("sql parser error: ")
            .or_else(|| text.strip_prefix("sql tokenizer error: "))
            .unwrap_or(&text);
        return syntax_error(text);
    }
    if let DataFusionError::ResourcesExhausted(detail) = root {
        let reason = detail.rsplit("Error: ").next().unwrap_or(detail);
        return ErrorReport::new(format!(
            "query ran out of memory: {} (raise --memory-limit or memory_limit in the config)",
            one_line(reason)
        ));
    }
    let text = err.strip_backtrace();
    let text = without_repeated_prefixes(&text);
    // DataFusion's generic categories say nothing the message does not.
    let text = ["Error during planning: ", "Execution error: "]
        .iter()
        .fold(text.as_str(), |t, prefix| {
            t.strip_prefix(prefix).unwrap_or(t)
        });
    let position = err
        .diagnostic()
        .and_then(|d| d.span)
        .filter(|span| span.start.line > 0)
        .map(|span| Position::At {
            line: span.start.line as usize,
            column: span.start.column as usize,
        });
    ErrorReport {
        message: one_line(&user_error(text)),
        position,
    }
}

/// The message of one of the engine's own errors, found by type however
/// DataFusion wrapped it: they say what went wrong and what to do already.
fn engine_error(err: &DataFusionError) -> Option<String> {
    find::<UdfError>(err)
        .map(ToString::to_string)
        .or_else(|| find::<NetError>(err).map(ToString::to_string))
        .or_else(|| find::<StoreError>(err).map(ToString::to_string))
}

/// Rewords DataFusion's `Internal` errors that user mistakes cause, and
/// drops the request for a bug report from the others.
fn user_error(text: &str) -> String {
    // A function called with arguments of the wrong types, such as
    // `sum(name)` over text: the candidates say what it takes.
    const NO_MATCH: &str = "No function matches the given name and argument types '";
    if let Some(at) = text.find(NO_MATCH) {
        let rest = &text[at + NO_MATCH.len()..];
        if let Some((call, rest)) = rest.split_once('\'') {
            let name = call.split('(').next().unwrap_or(call);
            let candidates: Vec<&str> = rest
                .split_once("Candidate functions:")
                .map(|(_, list)| list.lines().map(str::trim).filter(|l| !l.is_empty()))
                .into_iter()
                .flatten()
                .collect();
            let takes =
                if candidates.is_empty() || candidates.iter().any(|c| c.contains("UserDefined")) {
                    String::new()
                } else {
                    format!("; {name} takes {}", candidates.join(", "))
                };
            return format!(
                "no function {call}{takes}: cast the arguments, e.g. CAST(x AS DOUBLE) or CAST(x AS VARCHAR)"
            );
        }
    }
    let Some(at) = text.find(BUG_REPORT) else {
        return text.to_string();
    };
    let text = format!("{}{}", &text[..at], &text[at + BUG_REPORT.len()..]);
    match text.find("Internal error: ") {
        Some(at) => format!(
            "{}internal error in the query engine: {}",
            &text[..at],
            &text[at + "Internal error: ".len()..]
        ),
        None => text,
    }
}

/// Splits ` at Line: L, Column: C` off a parser message; `found: EOF`
/// means the statement ended too early.
fn syntax_error(text: &str) -> ErrorReport {
    if let Some(at) = text.rfind(" at Line: ")
        && let Some((line, column)) = text[at + " at Line: ".len()..].split_once(", Column: ")
        && let (Ok(line), Ok(column)) =
            (line.trim().parse::<usize>(), column.trim().parse::<usize>())
    {
        return ErrorReport {
            message: format!("syntax error: {}", one_line(&text[..at])),
            position: Some(Position::At { line, column }),
        };
    }
    if let Some(expected) = text.strip_suffix(", found: EOF") {
        return ErrorReport {
            message: format!("syntax error at end of input: {}", one_line(expected)),
            position: Some(Position::End),
        };
    }
    ErrorReport::new(format!("syntax error: {}", one_line(text)))
}

/// The 1-based line and column of `position` in `text`; `End` is just after
/// the last character.
pub fn locate(text: &str, position: Position) -> (usize, usize) {
    match position {
        Position::At { line, column } => (line, column),
        Position::End => {
            let text = text.trim_end();
            let line = text.split('\n').count();
            let last = text.rsplit('\n').next().unwrap_or("");
            (line, last.chars().count() + 1)
        }
    }
}

/// Line `line` of `text` under a `LINE | ` gutter, with a caret under
/// column `column` on the next line. Invisible characters (BOM, zero-width
/// spaces, control bytes) are shown escaped, as `\u{200b}`; tabs are kept so
/// that the caret lines up.
pub fn snippet(text: &str, line: usize, column: usize) -> Option<String> {
    let source = text.split('\n').nth(line.checked_sub(1)?)?;
    let source = source.strip_suffix('\r').unwrap_or(source);
    let mut shown = String::new();
    let mut pad = String::new();
    for (i, c) in source.chars().enumerate() {
        let piece = match c {
            '\t' => "\t".to_string(),
            c if is_invisible(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        };
        if i + 1 < column {
            match c {
                '\t' => pad.push('\t'),
                c if is_invisible(c) => pad.push_str(&" ".repeat(piece.len())),
                c => pad.push_str(&" ".repeat(c.width().unwrap_or(0))),
            }
        }
        shown.push_str(&piece);
    }
    let past_end = column.saturating_sub(source.chars().count() + 1);
    pad.push_str(&" ".repeat(past_end));
    let gutter = line.to_string();
    let blank = " ".repeat(gutter.len());
    Some(format!("  {gutter} | {shown}\n  {blank} | {pad}^"))
}

/// Characters a terminal shows as nothing (or garbage).
fn is_invisible(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{ad}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Drops a part of the message that repeats right after itself, as in
/// `Parquet error: Parquet error: Corrupt footer`.
fn without_repeated_prefixes(text: &str) -> String {
    let mut parts: Vec<&str> = text.split(": ").collect();
    parts.dedup();
    parts.join(": ")
}

/// Collapses a multi-line message into one line, with any control
/// characters left escaped: guest and network text arrives escaped
/// already, but an error may also quote data (a CSV cell, a file name).
fn one_line(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    escape_control(&collapsed).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::parser::ParserError;

    fn parser_error(text: &str) -> DataFusionError {
        DataFusionError::SQL(Box::new(ParserError::ParserError(text.into())), None)
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let report = describe(&parser_error(
            "Expected: an expression, found: FROM at Line: 2, Column: 8",
        ));
        assert_eq!(report.position, Some(Position::At { line: 2, column: 8 }));
        assert_eq!(
            report.message,
            "syntax error: Expected: an expression, found: FROM"
        );
    }

    #[test]
    fn early_end_is_at_end_of_input() {
        let report = describe(&parser_error("Expected: an expression, found: EOF"));
        assert_eq!(report.position, Some(Position::End));
        assert_eq!(
            report.message,
            "syntax error at end of input: Expected: an expression"
        );
        assert_eq!(locate("SELECT 1 +\n  2 *  \n", Position::End), (2, 6));
    }

    #[test]
    fn snippet_puts_the_caret_under_the_column() {
        assert_eq!(
            snippet("SELECT 1;\nSELECT * FRM t", 2, 10).unwrap(),
            "  2 | SELECT * FRM t\n    |          ^"
        );
        assert_eq!(
            snippet("SELECT", 1, 7).unwrap(),
            "  1 | SELECT\n    |       ^"
        );
        assert_eq!(snippet("x", 3, 1), None);
    }

    #[test]
    fn snippet_escapes_invisible_characters() {
        assert_eq!(
            snippet("SELECT\u{200b} 1", 1, 7).unwrap(),
            "  1 | SELECT\\u{200b} 1\n    |       ^"
        );
        assert_eq!(
            snippet("SELECT \u{1}x", 1, 9).unwrap(),
            "  1 | SELECT \\u{1}x\n    |             ^"
        );
        assert_eq!(
            snippet("\tSELECT 名 x", 1, 11).unwrap(),
            "  1 | \tSELECT 名 x\n    | \t          ^"
        );
    }

    #[test]
    fn signature_mismatches_are_user_errors() {
        let text = "Internal error: Function 'sum' failed to match any signature, errors: \
             Error during planning: Function 'sum' requires Decimal.\nThis issue was likely \
             caused by a bug in DataFusion's code. Please help us to resolve this by filing a \
             bug report in our issue tracker: https://github.com/apache/datafusion/issues. \
             No function matches the given name and argument types 'sum(Utf8)'. You might \
             need to add explicit type casts.\n\tCandidate functions:\n\tsum(Decimal)\n\tsum(Int64)";
        let message = user_error(text);
        assert_eq!(
            message,
            "no function sum(Utf8); sum takes sum(Decimal), sum(Int64): cast the arguments, \
             e.g. CAST(x AS DOUBLE) or CAST(x AS VARCHAR)"
        );
    }

    #[test]
    fn other_internal_errors_drop_the_bug_report() {
        let err = DataFusionError::Internal("no partition 3".into());
        let report = describe(&err);
        assert_eq!(
            report.message,
            "internal error in the query engine: no partition 3"
        );
    }

    #[test]
    fn repeated_categories_are_dropped() {
        assert_eq!(
            without_repeated_prefixes(
                "cannot read 'x': Parquet error: Parquet error: Corrupt footer"
            ),
            "cannot read 'x': Parquet error: Corrupt footer"
        );
    }

    #[test]
    fn control_characters_in_errors_are_escaped() {
        let err = DataFusionError::Execution(
            "Cannot cast string '\u{1b}[2J\u{7}' to Int64\n\u{9b}".into(),
        );
        assert_eq!(
            describe(&err).message,
            "Cannot cast string '\\x1b[2J\\x07' to Int64 \\u{9b}"
        );
    }

    #[test]
    fn engine_errors_are_shown_by_type_without_wrappers() {
        use wasql_engine::error::{CallError, StoreFailure};
        let udf: DataFusionError = UdfError::Call {
            function: "spin".into(),
            module: "spin.wasm".into(),
            error: Box::new(CallError::Timeout(std::time::Duration::from_secs(2))),
            stderr: String::new(),
        }
        .into();
        let wrapped = DataFusionError::Context("ProjectionExec".into(), Box::new(udf));
        assert_eq!(
            describe(&wrapped).message,
            "function spin (module spin.wasm): timed out after 2.0 s (the per-call deadline; \
             [udf] timeout_seconds)"
        );
        let store: DataFusionError = StoreError {
            location: "s3://b/k".into(),
            failure: StoreFailure::NotRegistered,
        }
        .into();
        assert_eq!(
            describe(&store).message,
            "no object store registered for 's3://b/k'"
        );
    }

    #[test]
    fn other_errors_are_one_line() {
        let err = DataFusionError::Plan("table 't' not found\n  hint".into());
        let report = describe(&err);
        assert_eq!(report.position, None);
        assert!(!report.message.contains('\n'));
        assert!(
            report.message.contains("table 't' not found hint"),
            "{}",
            report.message
        );
    }
}
