//! Turns engine errors into one clear line for people.

use datafusion::common::DataFusionError;

use crate::text::escape_control;

/// An error as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// One line, no backtrace.
    pub message: String,
    /// The 1-based line inside the statement the error points at, if known.
    pub line: Option<usize>,
}

impl ErrorReport {
    /// A report with no position.
    pub fn new(message: impl Into<String>) -> Self {
        ErrorReport {
            message: message.into(),
            line: None,
        }
    }
}

/// Describes a DataFusion error in one line, keeping the position of a SQL
/// syntax error.
pub fn describe(err: &DataFusionError) -> ErrorReport {
    // wasql's own planning rules explain themselves; their names do not.
    if let DataFusionError::Context(rule, inner) = err
        && rule.starts_with("wasql_")
    {
        return describe(inner);
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
    ErrorReport::new(one_line(text))
}

/// Splits ` at Line: L, Column: C` off a parser message.
fn syntax_error(text: &str) -> ErrorReport {
    if let Some(at) = text.rfind(" at Line: ")
        && let Some((line, column)) = text[at + " at Line: ".len()..].split_once(", Column: ")
        && let (Ok(line), Ok(column)) =
            (line.trim().parse::<usize>(), column.trim().parse::<usize>())
    {
        return ErrorReport {
            message: format!(
                "syntax error at line {line}, column {column}: {}",
                one_line(&text[..at])
            ),
            line: Some(line),
        };
    }
    ErrorReport::new(format!("syntax error: {}", one_line(text)))
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

    #[test]
    fn syntax_errors_keep_their_position() {
        let err = DataFusionError::SQL(
            Box::new(ParserError::ParserError(
                "Expected: an expression, found: FROM at Line: 2, Column: 8".into(),
            )),
            None,
        );
        let report = describe(&err);
        assert_eq!(report.line, Some(2));
        assert_eq!(
            report.message,
            "syntax error at line 2, column 8: Expected: an expression, found: FROM"
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
    fn other_errors_are_one_line() {
        let err = DataFusionError::Plan("table 't' not found\n  hint".into());
        let report = describe(&err);
        assert_eq!(report.line, None);
        assert!(!report.message.contains('\n'));
        assert!(
            report.message.contains("table 't' not found hint"),
            "{}",
            report.message
        );
    }
}
