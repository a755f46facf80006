//! Files as tables: `SELECT ... FROM 'path-or-url'` with clear errors, and
//! the file extensions DataFusion does not know by itself (`.tsv`,
//! `.ndjson`, `.jsonl`).
//!
//! DataFusion guesses a directory's file type from the first file it lists
//! and silently skips the rest, and matches globs against one directory
//! level only; here a directory must hold one readable type, and a glob
//! whose pattern spans directories (`**/*.csv`, `*/part*.csv`) is matched
//! against the whole path below its fixed prefix.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider, TableProviderFactory, UrlTableFactory};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, DataFusionError, GetExt, Result};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::file_format::{DefaultFileType, FileFormatFactory};
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{
    CreateExternalTable, Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown,
    TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
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

/// `plan`, a `COPY` to an alias (`.ndjson`, `.tsv`), as a `COPY` to the
/// alias's format with the alias's defaults among its options (the
/// statement's own options win): what a plan can carry to another process,
/// whose codecs know DataFusion's formats only. Other plans are unchanged.
pub fn without_format_aliases(plan: LogicalPlan) -> LogicalPlan {
    let LogicalPlan::Copy(copy) = plan else {
        return plan;
    };
    let alias = copy
        .file_type
        .as_any()
        .downcast_ref::<DefaultFileType>()
        .and_then(|file_type| file_type.as_format_factory().downcast_ref::<FormatAlias>());
    let Some(alias) = alias else {
        return LogicalPlan::Copy(copy);
    };
    let mut options: HashMap<String, String> = alias
        .defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    options.extend(copy.options.clone());
    LogicalPlan::Copy(CopyTo::new(
        Arc::clone(&copy.input),
        copy.output_url.clone(),
        copy.partition_by.clone(),
        Arc::new(DefaultFileType::new(Arc::clone(&alias.inner))),
        options,
    ))
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

/// True when a location's glob spans directories (`data/**/*.csv`,
/// `data/*/part*.csv`): DataFusion then has to look below the first level.
fn has_deep_glob(location: &str) -> bool {
    location
        .find(GLOB_CHARS)
        .is_some_and(|start| location[start..].contains('/'))
}

/// `state` with subdirectories listed, for deep globs.
fn descending(state: &dyn Session) -> Option<SessionState> {
    let mut state = state.as_any().downcast_ref::<SessionState>()?.clone();
    state
        .config_mut()
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = false;
    Some(state)
}

/// A table over a deep glob: scans list subdirectories too (DataFusion's
/// `listing_table_ignore_subdirectory`, for this table only).
#[derive(Debug)]
pub struct DeepGlob {
    inner: Arc<dyn TableProvider>,
}

impl DeepGlob {
    /// `inner` (a listing table over a deep glob), its scans descending.
    pub fn new(inner: Arc<dyn TableProvider>) -> DeepGlob {
        DeepGlob { inner }
    }

    /// The table whose scans descend.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }
}

#[async_trait]
impl TableProvider for DeepGlob {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match descending(state) {
            Some(deep) => self.inner.scan(&deep, projection, filters, limit).await,
            None => self.inner.scan(state, projection, filters, limit).await,
        }
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }
}

/// Wraps `table` so that its scans descend, if `locations` have deep globs.
fn descend_if_deep(
    table: Arc<dyn TableProvider>,
    locations: &[impl AsRef<str>],
) -> Arc<dyn TableProvider> {
    if locations.iter().any(|l| has_deep_glob(l.as_ref())) {
        Arc::new(DeepGlob { inner: table })
    } else {
        table
    }
}

/// Why a path cannot be read as a table before anything is listed: standard
/// input and other non-files read as empty.
fn refuse_special_file(reference: &str) -> Option<String> {
    const HINT: &str = "save the data to a file and query that";
    if reference == "-" {
        return Some(format!(
            "reading standard input as a table is not supported: {HINT}"
        ));
    }
    if !looks_like_a_path(reference) || reference.contains("://") || reference.contains(GLOB_CHARS)
    {
        return None;
    }
    let kind = std::fs::metadata(reference).ok()?.file_type();
    (!kind.is_file() && !kind.is_dir())
        .then(|| format!("not a regular file (standard input, a pipe or a device): {HINT}"))
}

/// The name of a listed file: its last path segment.
fn file_name(location: &object_store::path::Path) -> &str {
    let path = location.as_ref();
    path.rsplit('/').next().unwrap_or(path)
}

/// How to read the files at `url`: the format of their extension. The files
/// must share one readable type; files of types wasql cannot read (a
/// `README.md`, `_SUCCESS`) are left out, like DataFusion does.
async fn listing_options(
    state: &SessionState,
    reference: &str,
    url: &ListingTableUrl,
) -> Result<ListingOptions, String> {
    let store = state
        .runtime_env()
        .object_store(url)
        .map_err(|e| e.strip_backtrace())?;
    let files: Vec<_> = url
        .list_all_files(state, store.as_ref(), "")
        .await
        .map_err(|e| e.strip_backtrace())?
        .try_collect()
        .await
        .map_err(|e| e.strip_backtrace())?;
    if files.is_empty() {
        return Err("no such file, or no files match".to_string());
    }
    // Readable types by extension (with compression), and the rest.
    let mut readable: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let mut unknown = Vec::new();
    for file in &files {
        let name = file_name(&file.location);
        if name.split_once('.').is_none_or(|(stem, _)| stem.is_empty()) {
            unknown.push(Cow::Borrowed("no extension"));
            continue;
        }
        let (format, compression) =
            ListingTableConfig::infer_file_extension_and_compression_type(name)
                .map_err(|e| e.strip_backtrace())?;
        if state.get_file_format_factory(&format).is_some() {
            let extension = match &compression {
                Some(compression) => format!("{format}.{compression}"),
                None => format.clone(),
            };
            readable.insert(extension, (format, compression));
        } else {
            unknown.push(Cow::Owned(format!("'.{format}'")));
        }
    }
    let stored_as = "name the format with CREATE EXTERNAL TABLE ... STORED AS";
    let mut types = readable.into_iter();
    let (extension, (format, compression)) = match (types.next(), types.next()) {
        (Some(only), None) => only,
        (Some((first, _)), Some((second, _))) => {
            let mut found = vec![first, second];
            found.extend(types.map(|(extension, _)| extension));
            return Err(format!(
                "it holds files of several types (.{}): pick one with a glob such as '{}/*.{}'",
                found.join(", ."),
                reference.trim_end_matches('/'),
                found[0]
            ));
        }
        (None, _) => {
            return Err(match unknown[0].as_ref() {
                "no extension" => {
                    format!("the file name has no extension to tell its type: {stored_as}")
                }
                other => format!("unknown file type {other}: {stored_as}"),
            });
        }
    };
    let mut format_options = HashMap::new();
    if let Some(compression) = &compression {
        format_options.insert("format.compression".to_string(), compression.clone());
    }
    let file_format = state
        .get_file_format_factory(&format)
        .ok_or_else(|| format!("unknown file type '.{format}': {stored_as}"))?
        .create(state, &format_options)
        .map_err(|e| e.strip_backtrace())?;
    Ok(ListingOptions::new(file_format).with_file_extension(extension))
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
        let cannot_read =
            |reason: String| DataFusionError::Plan(format!("cannot read '{reference}': {reason}"));
        if let Some(reason) = refuse_special_file(reference) {
            return Err(cannot_read(reason));
        }
        if !looks_like_a_path(reference) {
            return self.inner.try_new(reference).await;
        }
        let Some(mut state) = self.state() else {
            return Ok(None);
        };
        if has_deep_glob(reference) {
            state = descending(&state).unwrap_or(state);
        }
        let url = parse_location(reference)?;
        // A location no store can serve: the store's own error, which names
        // the location and says what to do.
        state.runtime_env().object_store(&url)?;
        let inferred = panics::catch(async {
            refuse_empty_parquet(&state, &url)
                .await
                .map_err(cannot_read)?;
            let options = listing_options(&state, reference, &url)
                .await
                .map_err(cannot_read)?;
            async {
                ListingTableConfig::new(url.clone())
                    .with_listing_options(options)
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
        let table = Arc::new(ListingTable::try_new(config)?);
        Ok(Some(descend_if_deep(table, &[reference])))
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
        let deep = cmd
            .locations
            .iter()
            .any(|l| has_deep_glob(l))
            .then(|| descending(state))
            .flatten();
        let state: &dyn Session = match &deep {
            Some(deep) => deep,
            None => state,
        };
        if !cmd.locations.iter().any(|l| has_url_glob(l)) {
            let table = self.inner.create(state, cmd).await?;
            return Ok(descend_if_deep(table, &cmd.locations));
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
        Ok(descend_if_deep(Arc::new(table), &cmd.locations))
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
    use super::{has_deep_glob, looks_like_a_path, parse_location};

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

    #[test]
    fn deep_globs_span_directories() {
        assert!(has_deep_glob("data/**/*.csv"));
        assert!(has_deep_glob("data/*/part*.csv"));
        assert!(!has_deep_glob("data/*.csv"));
        assert!(!has_deep_glob("data/"));
    }
}
