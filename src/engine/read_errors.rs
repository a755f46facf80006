//! Errors while reading files name the file. DataFusion's readers report
//! what was wrong (`Error while parsing value 'x' ... at line 3001`) but not
//! in which file; when a statement reads several files, each is read again
//! on its own until one fails the same way.

use std::sync::Arc;

use datafusion::arrow::error::ArrowError;
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::StreamExt;

use super::panics;

/// Files read again, at most, to find the one that fails.
const MAX_PROBED_FILES: usize = 256;

/// `stream`, with an error reading a file of `plan` turned into one that
/// names the file.
pub fn name_the_file(
    stream: SendableRecordBatchStream,
    plan: &Arc<dyn ExecutionPlan>,
    task_ctx: &Arc<TaskContext>,
) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let plan = Arc::clone(plan);
    let task_ctx = Arc::clone(task_ctx);
    let rows = stream.then(move |item| {
        let plan = Arc::clone(&plan);
        let task_ctx = Arc::clone(&task_ctx);
        async move {
            match item {
                Err(e) if is_read_error(&e) => Err(match failed_file(&plan, &task_ctx).await {
                    Some(file) => DataFusionError::Execution(format!(
                        "cannot read '{file}': {}",
                        e.strip_backtrace()
                    )),
                    None => e,
                }),
                other => other,
            }
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, rows))
}

/// True for the errors of file readers: malformed CSV, JSON or Parquet,
/// and I/O. Errors that already name a file are left alone.
fn is_read_error(err: &DataFusionError) -> bool {
    if err.strip_backtrace().contains("cannot read '") {
        return false;
    }
    match err.find_root() {
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            ArrowError::CsvError(_) | ArrowError::JsonError(_) | ArrowError::IoError(..) => true,
            // The CSV reader's; compute kernels raise parse errors too.
            ArrowError::ParseError(message) => message.starts_with("Error while parsing value"),
            _ => false,
        },
        DataFusionError::ParquetError(_)
        | DataFusionError::ObjectStore(_)
        | DataFusionError::IoError(_) => true,
        _ => false,
    }
}

/// The file `plan` fails to read: its only file, or the first that fails
/// when read alone.
async fn failed_file(plan: &Arc<dyn ExecutionPlan>, task_ctx: &Arc<TaskContext>) -> Option<String> {
    let scans = file_scans(plan);
    let files: Vec<(&FileScanConfig, &PartitionedFile)> = scans
        .iter()
        .flat_map(|scan| {
            scan.file_groups
                .iter()
                .flat_map(|g| g.files())
                .map(move |f| (scan, f))
        })
        .collect();
    if let [(scan, file)] = files.as_slice() {
        return Some(display_path(scan, file));
    }
    if files.len() > MAX_PROBED_FILES {
        return None;
    }
    for (scan, file) in files {
        if read_fails(scan, file, task_ctx).await {
            return Some(display_path(scan, file));
        }
    }
    None
}

/// How the user names `file`: a local path (relative to the working
/// directory when under it) or a URL.
fn display_path(scan: &FileScanConfig, file: &PartitionedFile) -> String {
    let location = &file.object_meta.location;
    let store = scan.object_store_url.as_str();
    if !store.starts_with("file://") {
        return format!("{}/{location}", store.trim_end_matches('/'));
    }
    let path = std::path::PathBuf::from(format!("/{location}"));
    std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok().map(|p| p.to_path_buf()))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// True if reading `file` alone, as `scan` reads its files, fails.
async fn read_fails(
    scan: &FileScanConfig,
    file: &PartitionedFile,
    task_ctx: &Arc<TaskContext>,
) -> bool {
    let config = FileScanConfigBuilder::from(scan.clone())
        .with_file_groups(vec![FileGroup::new(vec![file.clone()])])
        .build();
    let scan = DataSourceExec::from_data_source(config);
    let read = async {
        let mut stream = scan.execute(0, Arc::clone(task_ctx))?;
        while let Some(batch) = stream.next().await {
            batch?;
        }
        Ok::<_, DataFusionError>(())
    };
    !matches!(panics::catch(read).await, Ok(Ok(())))
}

/// The file scans of `plan`.
pub fn file_scans(plan: &Arc<dyn ExecutionPlan>) -> Vec<FileScanConfig> {
    let mut scans = Vec::new();
    let _ = plan.apply(|node| {
        if let Some(source) = node.downcast_ref::<DataSourceExec>()
            && let Some(scan) = source.data_source().downcast_ref::<FileScanConfig>()
        {
            scans.push(scan.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    scans
}
