//! Panics inside DataFusion, arrow or a file reader become errors. A corrupt
//! file can make a reader panic (e.g. on an integer overflow); that must fail
//! the statement, not end wasql.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use datafusion::common::DataFusionError;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::{FutureExt, StreamExt};

/// Runs `future`; a panic inside it becomes `Err` with the panic's message.
pub async fn catch<F: Future>(future: F) -> Result<F::Output, String> {
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(|payload| message(payload.as_ref()))
}

/// The message a panic was raised with.
pub fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// The error for a panic with `message` while reading `files` (which may be
/// unknown: empty).
pub fn error(files: &[String], message: &str) -> DataFusionError {
    DataFusionError::Execution(match files {
        [] => format!(
            "the query engine failed, probably on malformed input (internal panic: {message})"
        ),
        [file] => format!("cannot read '{file}': {}", reader_failed(message)),
        [first, rest @ ..] => format!(
            "cannot read '{first}' or one of {} other files: {}",
            rest.len(),
            reader_failed(message)
        ),
    })
}

/// Says that a file reader panicked with `message`.
pub fn reader_failed(message: &str) -> String {
    format!("the reader failed on malformed input (internal panic: {message})")
}

/// `stream`, with a panic while polling it turned into an error naming the
/// files `plan` scans; the stream ends after it.
pub fn catch_stream(
    stream: SendableRecordBatchStream,
    plan: &Arc<dyn ExecutionPlan>,
) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let plan = Arc::clone(plan);
    let rows = AssertUnwindSafe(stream).catch_unwind().map(move |item| {
        item.unwrap_or_else(|payload| Err(error(&scanned_files(&plan), &message(payload.as_ref()))))
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, rows))
}

/// The files `plan` reads.
fn scanned_files(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    super::read_errors::file_scans(plan)
        .iter()
        .flat_map(|scan| scan.file_groups.iter().flat_map(|group| group.files()))
        .map(|file| file.object_meta.location.to_string())
        .collect()
}
