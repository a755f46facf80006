//! Files as tables: `SELECT ... FROM 'path-or-url'` with clear errors, and
//! the file extensions DataFusion does not know by itself (`.tsv`,
//! `.ndjson`, `.jsonl`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory, UrlTableFactory};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, DataFusionError, GetExt, Result};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::listing::{
    ListingTable, ListingTableConfig, ListingTableConfigExt, ListingTableUrl,
};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{CreateExternalTable, Expr, LogicalPlan, LogicalPlanBuilder};
use object_store::ObjectStoreExt;

use super::panics;

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

/// Characters that start a glob pattern.
const GLOB_CHARS: [char; 3] = ['*', '?', '['];

/// Parses a table location like DataFusion's `ListingTableUrl::parse`, but
/// also understands globs in URLs (`s3://bucket/logs/*.parquet`), which
/// DataFusion only expands in local paths.
pub fn parse_location(location: &str) -> Result<ListingTableUrl> {
    let Some(scheme_end) = location.find("://") else {
        return ListingTableUrl::parse(location);
    };
    let path_start = location[scheme_end + 3..]
        .find('/')
        .map_or(location.len(), |i| scheme_end + 3 + i);
    let Some(glob_start) = location[path_start..]
        .find(GLOB_CHARS)
        .map(|i| path_start + i)
    else {
        return ListingTableUrl::parse(location);
    };
    let split = location[..glob_start]
        .rfind('/')
        .map_or(glob_start, |i| i + 1);
    let (prefix, pattern) = location.split_at(split);
    let url = url::Url::parse(prefix)
        .map_err(|e| DataFusionError::Plan(format!("invalid location '{location}': {e}")))?;
    let pattern = glob::Pattern::new(pattern)
        .map_err(|e| DataFusionError::Plan(format!("invalid glob in '{location}': {e}")))?;
    ListingTableUrl::try_new(url, Some(pattern))
}

fn has_url_glob(location: &str) -> bool {
    location.contains("://") && location.contains(GLOB_CHARS)
}

/// Lets queries name files as tables, like DataFusion's
/// `DynamicListTableFactory`, with globs in URLs and with errors that say why
/// a path cannot be read instead of "table not found".
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

    fn state(&self) -> Option<SessionState> {
        let session = self.inner.session_store().get_session().upgrade()?;
        session
            .read()
            .as_any()
            .downcast_ref::<SessionState>()
            .cloned()
    }
}

/// True for table references that can only mean a file: they contain a path
/// separator, a URL scheme or a file extension.
fn looks_like_a_path(reference: &str) -> bool {
    reference.contains('/') || reference.contains('\\') || reference.contains('.')
}

#[async_trait]
impl UrlTableFactory for FileTableFactory {
    async fn try_new(&self, reference: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !looks_like_a_path(reference) {
            return self.inner.try_new(reference).await;
        }
        let Some(state) = self.state() else {
            return Ok(None);
        };
        let cannot_read =
            |reason: String| DataFusionError::Plan(format!("cannot read '{reference}': {reason}"));
        let url = parse_location(reference)?;
        let inferred = panics::catch(async {
            refuse_empty_parquet(&state, &url)
                .await
                .map_err(cannot_read)?;
            let config = ListingTableConfig::new(url.clone())
                .infer_options(&state)
                .await
                .map_err(|e| {
                    let message = e.strip_backtrace();
                    cannot_read(if message.contains("No files for table") {
                        "no such file, or no files match".to_string()
                    } else if let Some(ext) =
                        message.split("No file_format found with extension ").nth(1)
                    {
                        format!(
                            "unknown file type '.{}': name the format with CREATE EXTERNAL TABLE ... STORED AS",
                            ext.trim()
                        )
                    } else {
                        message
                    })
                })?;
            async {
                config
                    .infer_partitions_from_path(&state)
                    .await?
                    .infer_schema(&state)
                    .await
            }
            .await
            .map_err(|e| cannot_read(e.strip_backtrace()))
        })
        .await;
        let config =
            inferred.map_err(|message| panics::error(&[reference.to_string()], &message))??;
        Ok(Some(Arc::new(ListingTable::try_new(config)?)))
    }
}

/// Output names without the qualifiers of file tables: `avg(score)`, not
/// `avg(data/people.parquet.score)`. A name keeps its qualifier when
/// dropping it would make it equal to another column's.
pub fn short_file_headers(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut qualifiers = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let name = scan.table_name.to_string();
            if looks_like_a_path(&name) {
                qualifiers.push(format!("{name}."));
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if qualifiers.is_empty() {
        return Ok(plan);
    }
    let schema = Arc::clone(plan.schema());
    let short: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| {
            qualifiers
                .iter()
                .fold(field.name().clone(), |name, q| name.replace(q.as_str(), ""))
        })
        .collect();
    let renamed = |i: usize| short[i] != *schema.field(i).name();
    let clashes = (0..short.len())
        .filter(|&i| renamed(i))
        .any(|i| (0..short.len()).any(|j| j != i && short[j] == short[i]));
    if clashes || !(0..short.len()).any(renamed) {
        return Ok(plan);
    }
    let columns: Vec<Expr> = schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let column = Expr::Column(Column::from((qualifier, field)));
            if renamed(i) {
                column.alias(short[i].as_str())
            } else {
                column
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// Refuses a single empty `.parquet` file: DataFusion skips empty files, so
/// it would read as a table without rows, though it is no Parquet file.
async fn refuse_empty_parquet(
    state: &SessionState,
    url: &ListingTableUrl,
) -> std::result::Result<(), String> {
    let is_parquet = url
        .prefix()
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("parquet"));
    if !is_parquet || url.is_collection() || url.get_glob().is_some() {
        return Ok(());
    }
    let store = state
        .runtime_env()
        .object_store(url.object_store())
        .map_err(|e| e.strip_backtrace())?;
    match store.head(url.prefix()).await {
        Ok(meta) if meta.size == 0 => {
            Err("the file is empty, so it is not Parquet (Parquet files start with PAR1)".into())
        }
        _ => Ok(()),
    }
}

/// Wraps a `CREATE EXTERNAL TABLE` factory so that its locations may be URL
/// globs: the table is created on the directories, then narrowed to the
/// files the globs match.
#[derive(Debug)]
struct GlobLocations {
    inner: Arc<dyn TableProviderFactory>,
}

#[async_trait]
impl TableProviderFactory for GlobLocations {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        if !cmd.locations.iter().any(|l| has_url_glob(l)) {
            return self.inner.create(state, cmd).await;
        }
        let urls = cmd
            .locations
            .iter()
            .map(|l| parse_location(l))
            .collect::<Result<Vec<_>>>()?;
        let mut on_directories = cmd.clone();
        on_directories.locations = urls.iter().map(|u| u.as_str().to_string()).collect();
        let table = self.inner.create(state, &on_directories).await?;
        let Some(listing) = table.downcast_ref::<ListingTable>() else {
            return Ok(table);
        };
        let options = listing.options().clone();
        let config =
            ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options.clone());
        let config = if cmd.schema.fields().is_empty() {
            // Inferred: look only at the files the globs match.
            config.infer_schema(state).await?
        } else {
            // Declared: the columns as created, less the partition columns.
            let partitions: Vec<&String> = options
                .table_partition_cols
                .iter()
                .map(|(name, _)| name)
                .collect();
            let file_fields: Vec<_> = listing
                .schema()
                .fields()
                .iter()
                .filter(|f| !partitions.contains(&f.name()))
                .cloned()
                .collect();
            config.with_schema(Arc::new(Schema::new(file_fields)))
        };
        let table = ListingTable::try_new(config)?
            .with_cache(state.runtime_env().cache_manager.get_file_statistic_cache())
            .with_definition(cmd.definition.clone())
            .with_constraints(cmd.constraints.clone())
            .with_column_defaults(cmd.column_defaults.clone());
        Ok(Arc::new(table))
    }
}

/// Lets every `CREATE EXTERNAL TABLE` format take URL globs.
pub fn allow_url_globs(state: &mut SessionState) {
    for factory in state.table_factories_mut().values_mut() {
        *factory = Arc::new(GlobLocations {
            inner: Arc::clone(factory),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{looks_like_a_path, parse_location};

    #[test]
    fn url_globs_split_at_the_last_directory() {
        let url = parse_location("s3://bucket/logs/2024-*.csv").unwrap();
        assert_eq!(url.as_str(), "s3://bucket/logs/");
        assert!(url.contains(&"logs/2024-01.csv".into(), true));
        assert!(!url.contains(&"logs/2023-01.csv".into(), true));
        let plain = parse_location("s3://bucket/logs/").unwrap();
        assert_eq!(plain.as_str(), "s3://bucket/logs/");
    }

    #[test]
    fn paths_and_names() {
        assert!(looks_like_a_path("data.csv"));
        assert!(looks_like_a_path("dir/"));
        assert!(looks_like_a_path("s3://bucket/x"));
        assert!(!looks_like_a_path("orders"));
    }
}
