//! A failed job's error as the client shows it: the cause a task met, in
//! the words the embedded engine would use.
//!
//! A task's error reaches the client only as text: Ballista writes it with
//! `{:?}` inside its own account (`Job J failed: Job failed due to stage 1
//! failed: Task failed due to runtime execution error:
//! DataFusionError(Shared(External(...)))`). wasql's errors print their
//! message as their `Debug` form (`wasql_engine::error`), so the cause is
//! what is left once the wrappers are peeled off; DataFusion's own
//! messages come back from their quoted form.

use datafusion::arrow::error::ArrowError;
use datafusion::common::DataFusionError;

/// What precedes a task's error in Ballista's account of a failed job.
const TASK_FAILED: &str = "Task failed due to runtime execution error: ";

/// `error` as the cause a task met, if it is a failed job's account and
/// the cause can be read from it; else `error` itself.
pub fn cause(error: DataFusionError) -> DataFusionError {
    let text = error.to_string();
    text.split_once(TASK_FAILED)
        .and_then(|(_, account)| read(account))
        .unwrap_or(error)
}

/// The error whose `Debug` form is `text`: a quoted message read back; a
/// boxed error's (`External(...)`: wasql's errors print their message as
/// their `Debug` form); an Arrow error made again. `None` for anything
/// else.
fn read(text: &str) -> Option<DataFusionError> {
    let mut text = text.trim();
    let mut last = "";
    while let Some((name, inner)) = wrapped(text) {
        last = name;
        text = inner.trim();
    }
    if text.starts_with('"') {
        return unquote(text).map(DataFusionError::Execution);
    }
    match last {
        "External" if !text.is_empty() => Some(DataFusionError::Execution(text.to_string())),
        "ArrowError" => arrow_error(text).map(|e| DataFusionError::ArrowError(Box::new(e), None)),
        _ => None,
    }
}

/// The Arrow error whose `Debug` form is `text` (`DivideByZero`,
/// `ComputeError("...")`, maybe followed by DataFusion's `, None`).
fn arrow_error(text: &str) -> Option<ArrowError> {
    let text = text.strip_suffix(", None").unwrap_or(text);
    let Some((variant, message)) = wrapped(text) else {
        return match text {
            "DivideByZero" => Some(ArrowError::DivideByZero),
            "DictionaryKeyOverflowError" => Some(ArrowError::DictionaryKeyOverflowError),
            "RunEndIndexOverflowError" => Some(ArrowError::RunEndIndexOverflowError),
            _ => None,
        };
    };
    let message = unquote(message)?;
    Some(match variant {
        "NotYetImplemented" => ArrowError::NotYetImplemented(message),
        "CastError" => ArrowError::CastError(message),
        "MemoryError" => ArrowError::MemoryError(message),
        "ParseError" => ArrowError::ParseError(message),
        "SchemaError" => ArrowError::SchemaError(message),
        "ComputeError" => ArrowError::ComputeError(message),
        "ArithmeticOverflow" => ArrowError::ArithmeticOverflow(message),
        "CsvError" => ArrowError::CsvError(message),
        "JsonError" => ArrowError::JsonError(message),
        "IpcError" => ArrowError::IpcError(message),
        "InvalidArgumentError" => ArrowError::InvalidArgumentError(message),
        "ParquetError" => ArrowError::ParquetError(message),
        "CDataInterface" => ArrowError::CDataInterface(message),
        _ => return None,
    })
}

/// `Name` and what `Name(...)` holds, if `text` is that.
fn wrapped(text: &str) -> Option<(&str, &str)> {
    let (name, rest) = text.split_once('(')?;
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let inner = rest.strip_suffix(')')?;
    is_name.then_some((name, inner))
}

/// The string whose `Debug` form is `text`, if `text` is exactly one.
fn unquote(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return chars.as_str().is_empty().then_some(out),
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                'u' => {
                    let rest = chars.as_str().strip_prefix('{')?;
                    let (hex, after) = rest.split_once('}')?;
                    chars = after.chars();
                    char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                }
                other => other,
            }),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_failed(debug: &str) -> DataFusionError {
        DataFusionError::Execution(format!(
            "Job 038J44ZD2R000 failed: Job failed due to stage 1 failed: {TASK_FAILED}{debug}"
        ))
    }

    #[test]
    fn a_wasql_error_is_its_message_without_the_wrappers() {
        let error = job_failed(
            "DataFusionError(Shared(External(DataFusionError(External(function boom \
             (module h/boom.wasm): trapped: wasm `unreachable` instruction executed)))))",
        );
        assert_eq!(
            cause(error).to_string(),
            "Execution error: function boom (module h/boom.wasm): trapped: wasm \
             `unreachable` instruction executed"
        );
    }

    #[test]
    fn a_datafusion_message_comes_back_from_its_quoted_form() {
        let message = "Divide by zero \"x\"\n\tat row 3 → ∞";
        let error = job_failed(&format!(
            "DataFusionError(Shared({:?}))",
            DataFusionError::Execution(message.into())
        ));
        assert_eq!(
            cause(error).to_string(),
            format!("Execution error: {message}")
        );
    }

    #[test]
    fn an_arrow_error_reads_as_it_does_embedded() {
        let embedded = [
            ArrowError::DivideByZero,
            ArrowError::ComputeError("Overflow \"happened\"".into()),
        ];
        for error in embedded {
            let expected = DataFusionError::ArrowError(Box::new(error), None);
            for debug in [
                format!("DataFusionError(Shared(External({expected:?})))"),
                format!("DataFusionError(Shared({expected:?}))"),
            ] {
                assert_eq!(
                    cause(job_failed(&debug)).to_string(),
                    expected.to_string(),
                    "{debug}"
                );
            }
        }
    }

    #[test]
    fn what_cannot_be_read_is_left_as_it_was() {
        for debug in [
            "",
            "Context(\"x\", External(y))",
            "\"unterminated",
            "DataFusionError(ArrowError(Overflow, None))",
            "DataFusionError(Shared(Plan(42)))",
        ] {
            let error = job_failed(debug);
            let text = error.to_string();
            assert_eq!(cause(error).to_string(), text, "{debug:?}");
        }
        let other = DataFusionError::Plan("no such table".into());
        assert_eq!(
            cause(other).to_string(),
            "Error during planning: no such table"
        );
    }
}
