//! wasql's engine: a DataFusion session set up for wasql — object stores
//! created on first use, tables queried straight from paths and URLs,
//! all-or-nothing `COPY`, WebAssembly functions run sandboxed, and a
//! network hook with an audit trail. No command-line dependencies: the
//! `wasql` binary is a thin layer over [`Engine`].
//!
//! Data flows one way: [`Engine`] -> [`udf`] -> [`net`]; [`config`] is plain
//! data read by all, made into [`EngineSettings`] by [`settings`]; [`text`] makes text from guests and network callers
//! safe to print.

/// The DataFusion wasql is built on, for embedders to use the same version.
pub use datafusion;

pub mod config;
pub mod error;
pub mod net;
pub mod settings;
pub mod text;
pub mod udf;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;

pub mod apply;
mod aws_profile;
mod copy;
mod create_function;
mod files;
mod limits;
mod located_store;
mod panics;
mod params;
mod read_errors;
mod stores;
mod system_schema;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{DynamicFileCatalog, UrlTableFactory};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::TaskContext;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, Statement as PlanStatement};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, execute_stream};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::Value;
use futures::{StreamExt, TryStreamExt};

use crate::net::Net;
use crate::udf::{UdfRegistry, WasmFunction, WasmModule};
pub use copy::CopyStaging;
use create_function::WasmFunctions;
use datafusion::execution::context::RegisterFunction;
use datafusion::execution::registry::FunctionRegistry;
pub use files::{DeepGlob, without_format_aliases};
pub use panics::message as panic_message;
pub use params::{Params, check_name as check_param_name};
pub use settings::EngineSettings;
pub use stores::StoreRegistry;
use system_schema::SystemSchema;

/// wasql's physical planner (DataFusion's, with the WASM table-function
/// operator): what a cluster's scheduler plans jobs with.
pub fn query_planner() -> Arc<dyn QueryPlanner + Send + Sync> {
    Arc::new(apply::WasqlQueryPlanner)
}

/// Whether `plan` reads only the read-only `wasql` schema and
/// `information_schema`: introspection, which a cluster client answers
/// itself.
pub fn reads_only_system_tables(plan: &LogicalPlan) -> bool {
    let mut scans = 0;
    let mut local = true;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            scans += 1;
            local &= matches!(
                scan.table_name.schema(),
                Some(system_schema::NAME | "information_schema")
            );
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    local && scans > 0
}

/// A wasql session: the DataFusion context and its object stores.
pub struct Engine {
    ctx: SessionContext,
    stores: Arc<StoreRegistry>,
    udfs: Arc<UdfRegistry>,
    /// The WASM functions registered, by SQL name.
    functions: WasmFunctions,
    net: Arc<Net>,
    /// The read-only `wasql` schema.
    system_schema: Arc<SystemSchema>,
}

/// A planned statement, ready to run.
pub struct Query {
    plan: Arc<dyn ExecutionPlan>,
    task_ctx: Arc<TaskContext>,
    staging: Option<CopyStaging>,
}

impl Engine {
    /// Creates a session with the given settings.
    pub fn new(settings: &EngineSettings) -> Result<Engine> {
        let (engine, files) = Self::local(settings)?;
        files
            .inner()
            .session_store()
            .with_state(engine.ctx.state_weak_ref());
        Ok(engine)
    }

    /// Creates a session whose context `make_context` builds from the
    /// session's state, with every wasql set-up in it: how a cluster client
    /// (`SessionContext::remote_with_state`) turns the session into one that
    /// runs on a cluster. The SQL functions are registered again on the
    /// context it returns, which may have replaced them.
    pub async fn with_context(
        settings: &EngineSettings,
        make_context: impl AsyncFnOnce(SessionState) -> Result<SessionContext>,
    ) -> Result<Engine> {
        let (mut engine, files) = Self::local(settings)?;
        engine.ctx = make_context(engine.ctx.state()).await?;
        files
            .inner()
            .session_store()
            .with_state(engine.ctx.state_weak_ref());
        for function in net::http_functions(&engine.net) {
            engine.ctx.register_udf(function);
        }
        Ok(engine)
    }

    /// The session, running here, and its file-table factory (which must
    /// be pointed at the session's final state).
    fn local(settings: &EngineSettings) -> Result<(Engine, Arc<files::FileTableFactory>)> {
        let mut config = SessionConfig::from_env()?.with_information_schema(true);
        // Spans let planning errors (unknown columns...) say where they are.
        config.options_mut().sql_parser.collect_spans = true;
        if let Some(partitions) = settings.target_partitions {
            config = config.with_target_partitions(partitions);
        }
        limits::check_options(config.options())?;
        let stores = Arc::new(StoreRegistry::new(settings.profiles.clone()));
        let mut runtime = RuntimeEnvBuilder::new().with_object_store_registry(stores.clone());
        if let Some(limit) = settings.memory_limit {
            runtime = runtime.with_memory_limit(limit, 1.0);
        }
        let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            for alias in files::format_aliases() {
                state.register_file_format(alias, false)?;
            }
            files::allow_url_globs(&mut state);
        }
        let net = Arc::new(Net::new(&settings.net).map_err(DataFusionError::Configuration)?);
        for function in net::http_functions(&net) {
            ctx.register_udf(function);
        }
        let udfs = Arc::new(UdfRegistry::new(
            settings.udf_limits.clone(),
            Arc::clone(&net),
            Arc::clone(&ctx.runtime_env().memory_pool),
        ));
        let functions = WasmFunctions::default();
        let system_schema = Arc::new(SystemSchema::new(&net, &udfs, &functions));
        ctx.catalog("datafusion")
            .ok_or_else(|| DataFusionError::Internal("no default catalog".into()))?
            .register_schema(system_schema::NAME, Arc::clone(&system_schema) as _)?;
        let factory = create_function::WasmFunctionFactory {
            udfs: Arc::clone(&udfs),
            functions: functions.clone(),
        };
        let (ctx, files) = with_file_tables(ctx);
        let ctx = ctx.with_function_factory(Arc::new(factory));
        ctx.add_analyzer_rule(Arc::new(apply::LateralTableFunctions));
        ctx.register_relation_planner(Arc::new(apply::PartitionedTableFunctions {
            functions: functions.table_functions().clone(),
        }))?;
        let engine = Engine {
            ctx,
            stores,
            udfs,
            functions,
            net,
            system_schema,
        };
        Ok((engine, files))
    }

    /// The underlying DataFusion context.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers the functions of every WASM module in `dir`; returns how
    /// many. Nothing is registered if any module is refused.
    pub fn load_udf_dir(&self, dir: &Path) -> Result<usize> {
        self.load_udf_dir_until(dir, &AtomicBool::new(false))
    }

    /// [`Engine::load_udf_dir`], stopped (with nothing registered) when
    /// `cancel` is set before the last module is loaded.
    pub fn load_udf_dir_until(&self, dir: &Path, cancel: &AtomicBool) -> Result<usize> {
        let state = self.ctx.state();
        let taken = |name: &str| {
            state.scalar_functions().contains_key(name)
                || state.aggregate_functions().contains_key(name)
                || state.window_functions().contains_key(name)
                || state.table_functions().contains_key(name)
        };
        let functions = self.udfs.load_dir(dir, &taken, cancel)?;
        let count = functions.len();
        for function in functions {
            self.register(function)?;
        }
        Ok(count)
    }

    /// Registers one WASM function under its SQL name, replacing a function
    /// of that name and kind: the path `CREATE FUNCTION` takes too.
    pub fn register(&self, function: WasmFunction) -> Result<()> {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        match self.functions.register(function) {
            RegisterFunction::Scalar(udf) => {
                state.register_udf(udf)?;
            }
            RegisterFunction::Aggregate(udaf) => {
                state.register_udaf(udaf)?;
            }
            RegisterFunction::Table(name, function) => state.register_udtf(&name, function),
            _ => {
                return Err(DataFusionError::Internal(
                    "a WASM function is a scalar, aggregate or table function".into(),
                ));
            }
        }
        Ok(())
    }

    /// The network policy and audit trail.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The WASM modules of the session, and those shipped to it.
    pub fn udf_registry(&self) -> &Arc<UdfRegistry> {
        &self.udfs
    }

    /// The WASM modules loaded so far.
    pub fn udf_modules(&self) -> Vec<Arc<WasmModule>> {
        self.udfs.modules()
    }

    /// Parses and plans one SQL statement. DDL takes effect here; queries run
    /// when [`Query::execute`] is called. A panic inside DataFusion becomes
    /// an error.
    pub async fn prepare(&self, sql: &str) -> Result<Query> {
        self.prepare_with_params(sql, &Params::new()).await
    }

    /// Like [`Engine::prepare`], with values for the statement's `$name`
    /// parameters (bound as literals, see [`params`]) and `${name}` in paths.
    pub async fn prepare_with_params(&self, sql: &str, params: &Params) -> Result<Query> {
        panics::catch(self.plan(sql, params))
            .await
            .unwrap_or_else(|message| Err(panics::error(&[], &message)))
    }

    async fn plan(&self, sql: &str, params: &Params) -> Result<Query> {
        self.net.begin_query();
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let mut statement = state.sql_to_statement(sql, &dialect)?;
        if let Err(e) = limits::check_depth(&statement) {
            // Dropping the statement would recurse as deeply as it nests,
            // which is what the limit is there to prevent.
            std::mem::forget(statement);
            return Err(e);
        }
        params::substitute_paths(&mut statement, params)?;
        self.configure_stores(&mut statement)?;
        let plan = state.statement_to_plan(statement).await?;
        let mut plan = params::bind(plan, params)?;
        if let LogicalPlan::Statement(PlanStatement::SetVariable(set)) = &plan {
            limits::check_setting(&set.variable, &set.value)?;
        }
        self.system_schema.refuse_changes(&plan, &state)?;
        plan = files::short_file_headers(plan)?;
        let mut staging = None;
        if let LogicalPlan::Copy(copy) = &plan {
            let (stage, staged_url) = CopyStaging::new(&self.ctx, &copy.output_url).await?;
            staging = Some(stage);
            plan = LogicalPlan::Copy(CopyTo::new(
                Arc::clone(&copy.input),
                staged_url,
                copy.partition_by.clone(),
                Arc::clone(&copy.file_type),
                copy.options.clone(),
            ));
        }
        let (plan, task_ctx) = match plan {
            // Queries, COPY, EXPLAIN and DML plan on the state cloned above:
            // DataFusion's own path would clone the whole session twice more,
            // a third of what a tiny statement costs.
            plan @ (LogicalPlan::Ddl(_) | LogicalPlan::Statement(_)) => {
                let frame = self.run_ddl(plan).await?;
                (frame.create_physical_plan().await?, frame.task_ctx())
            }
            plan => (
                state.create_physical_plan(&plan).await?,
                TaskContext::from(&state),
            ),
        };
        Ok(Query {
            plan,
            task_ctx: Arc::new(task_ctx),
            staging,
        })
    }

    /// Runs a DDL or other statement plan (DataFusion's part of it takes
    /// effect here); a failure to create a table names the table and files.
    async fn run_ddl(&self, plan: LogicalPlan) -> Result<DataFrame> {
        let creating = match &plan {
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) => Some(format!(
                "cannot create table {} from '{}'",
                create.name,
                create.locations.join("', '")
            )),
            _ => None,
        };
        match (
            panics::catch(self.ctx.execute_logical_plan(plan)).await,
            creating,
        ) {
            (Ok(Ok(frame)), _) => Ok(frame),
            (Ok(Err(e)), None) => Err(e),
            (Ok(Err(e)), Some(context)) => Err(DataFusionError::Plan(format!(
                "{context}: {}",
                e.strip_backtrace()
            ))),
            (Err(message), None) => Err(panics::error(&[], &message)),
            (Err(message), Some(context)) => Err(DataFusionError::Plan(format!(
                "{context}: {}",
                panics::reader_failed(&message)
            ))),
        }
    }

    /// Takes the object-store options (`aws.*`, `gcp.*`, `azure.*`, `http.*`,
    /// `profile`) out of a `CREATE EXTERNAL TABLE` or `COPY` statement and
    /// sets up the stores of its locations with them.
    fn configure_stores(&self, statement: &mut Statement) -> Result<()> {
        let (locations, options) = match statement {
            Statement::CreateExternalTable(create) => {
                (create.locations.clone(), &mut create.options)
            }
            Statement::CopyTo(copy) => (vec![copy.target.clone()], &mut copy.options),
            _ => return Ok(()),
        };
        let (store_options, format_options): (Vec<_>, Vec<_>) = std::mem::take(options)
            .into_iter()
            .partition(|(key, _)| stores::is_store_option(key));
        *options = format_options;
        if store_options.is_empty() {
            return Ok(());
        }
        let store_options: Vec<(String, String)> = store_options
            .into_iter()
            .map(|(key, value)| (key, option_value(&value)))
            .collect();
        for location in locations {
            let url = ListingTableUrl::parse(&location)?;
            self.stores
                .configure(url.object_store().as_ref(), &store_options)?;
        }
        Ok(())
    }
}

/// Lets queries name files and URLs as tables (`FROM 'data/*.parquet'`),
/// like DataFusion's `enable_url_table` but with wasql's clearer errors; and
/// plans WASM table functions applied to rows.
fn with_file_tables(ctx: SessionContext) -> (SessionContext, Arc<files::FileTableFactory>) {
    let factory = Arc::new(files::FileTableFactory::default());
    let catalogs = Arc::new(DynamicFileCatalog::new(
        Arc::clone(ctx.state().catalog_list()),
        Arc::clone(&factory) as Arc<dyn UrlTableFactory>,
    ));
    let ctx: SessionContext = ctx
        .into_state_builder()
        .with_catalog_list(catalogs)
        .with_query_planner(Arc::new(apply::WasqlQueryPlanner))
        .build()
        .into();
    (ctx, factory)
}

fn option_value(value: &Value) -> String {
    match value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Query {
    /// The schema of the rows the statement returns.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    /// The physical plan, e.g. to read progress metrics while it runs.
    pub fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.plan
    }

    /// Runs the statement to the end and returns all its rows.
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        self.execute()?.try_collect().await
    }

    /// Starts the statement and returns its rows as a stream.
    /// A panic while the rows are produced becomes an error naming the files
    /// the statement reads.
    pub fn execute(self) -> Result<SendableRecordBatchStream> {
        let plan = Arc::clone(&self.plan);
        let task_ctx = Arc::clone(&self.task_ctx);
        let stream = std::panic::catch_unwind(AssertUnwindSafe(|| execute_stream(plan, task_ctx)))
            .unwrap_or_else(|payload| {
                Err(panics::error(&[], &panics::message(payload.as_ref())))
            })?;
        let stream = panics::catch_stream(stream, &self.plan);
        let stream = read_errors::name_the_file(stream, &self.plan, &self.task_ctx);
        let Some(staging) = self.staging else {
            return Ok(stream);
        };
        // COPY returns one row (the count) at the very end: collect it, and
        // move the staged files into place before handing it out.
        let schema = stream.schema();
        let finished = async move {
            let batches: Vec<RecordBatch> = match stream.try_collect().await {
                Ok(batches) => batches,
                Err(e) => {
                    staging.discard().await;
                    return Err(e);
                }
            };
            staging.commit().await?;
            Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
        };
        let rows = futures::stream::once(finished).try_flatten().boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}
