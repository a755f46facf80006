//! Files as tables: `SELECT ... FROM 'path-or-url'` with clear errors, and
//! the file extensions DataFusion does not know by itself (`.tsv`,
//! `.ndjson`, `.jsonl`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, UrlTableFactory};
use datafusion::common::{DataFusionError, GetExt, Result};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::listing::{ListingTableConfig, ListingTableConfigExt, ListingTableUrl};
use datafusion::execution::context::SessionState;

/// A file extension read with another format's reader and default options,
/// e.g. `.tsv` as CSV with a tab delimiter.
#[derive(Debug)]
pub struct FormatAlias {
    extension: &'static str,
    inner: Arc<dyn FileFormatFactory>,
    defaults: &'static [(&'static str, &'static str)],
}

/// The aliases wasql registers.
pub fn format_aliases() -> Vec<Arc<dyn FileFormatFactory>> {
    let json: Arc<dyn FileFormatFactory> = Arc::new(JsonFormatFactory::new());
    vec![
        Arc::new(FormatAlias {
            extension: "tsv",
            inner: Arc::new(CsvFormatFactory::new()),
            defaults: &[("format.delimiter", "\t")],
        }),
        Arc::new(FormatAlias {
            extension: "ndjson",
            inner: Arc::clone(&json),
            defaults: &[],
        }),
        Arc::new(FormatAlias {
            extension: "jsonl",
            inner: json,
            defaults: &[],
        }),
    ]
}

impl GetExt for FormatAlias {
    fn get_ext(&self) -> String {
        self.extension.to_string()
    }
}

impl FileFormatFactory for FormatAlias {
    fn create(
        &self,
        state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        let mut options: HashMap<String, String> = self
            .defaults
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        options.extend(format_options.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.inner.create(state, &options)
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        self.inner.default()
    }
}

/// DataFusion's file-as-table factory, except that a reference that is
/// clearly a path or URL and cannot be read is an error saying why, not
/// "table not found".
#[derive(Debug, Default)]
pub struct FileTableFactory {
    inner: DynamicListTableFactory,
}

impl FileTableFactory {
    /// The wrapped DataFusion factory, whose session store must be pointed at
    /// the session once it exists.
    pub fn inner(&self) -> &DynamicListTableFactory {
        &self.inner
    }
}

/// True for table references that can only mean a file: they contain a path
/// separator, a URL scheme or a file extension.
fn looks_like_a_path(reference: &str) -> bool {
    reference.contains('/') || reference.contains('\\') || reference.contains('.')
}

#[async_trait]
impl UrlTableFactory for FileTableFactory {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !looks_like_a_path(url) {
            return self.inner.try_new(url).await;
        }
        let found = self.inner.try_new(url).await.map_err(|e| {
            DataFusionError::Plan(format!("cannot read '{url}': {}", e.strip_backtrace()))
        })?;
        if found.is_some() {
            return Ok(found);
        }
        // Find out why the path could not be read.
        let table_url = ListingTableUrl::parse(url)?;
        let state = self
            .inner
            .session_store()
            .get_session()
            .upgrade()
            .and_then(|session| {
                session
                    .read()
                    .as_any()
                    .downcast_ref::<SessionState>()
                    .cloned()
            });
        let Some(state) = state else { return Ok(None) };
        let cause = match ListingTableConfig::new(table_url)
            .infer_options(&state)
            .await
        {
            Ok(_) => return Ok(None),
            Err(e) => e,
        };
        let message = cause.strip_backtrace();
        let reason = if message.contains("No files for table") {
            "no such file, or no files match".to_string()
        } else if let Some(ext) = message.split("No file_format found with extension ").nth(1) {
            format!(
                "unknown file type '.{}': name the format with CREATE EXTERNAL TABLE ... STORED AS",
                ext.trim()
            )
        } else {
            message
        };
        Err(DataFusionError::Plan(format!(
            "cannot read '{url}': {reason}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_a_path;

    #[test]
    fn paths_and_names() {
        assert!(looks_like_a_path("data.csv"));
        assert!(looks_like_a_path("dir/"));
        assert!(looks_like_a_path("s3://bucket/x"));
        assert!(!looks_like_a_path("orders"));
    }
}
