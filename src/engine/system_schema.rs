//! The `wasql` schema: wasql's own tables, read-only to SQL, so that a
//! script cannot replace, drop or rewrite what audits it:
//!
//! - `functions`: the WASM functions SQL knows (name, kind, signature,
//!   module, path, sha256, description, capabilities);
//! - `modules`: the WASM modules loaded (name, path, sha256, size,
//!   functions, memory_bytes, call_timeout_seconds);
//! - `net_rules`: the network policy's allow rules, secrets by name only;
//! - `net_log`: the network audit trail.
//!
//! Each is read as it is when a query scans it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, ListBuilder, RecordBatch, StringArray, StringBuilder, UInt16Array,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;

use crate::create_function::WasmFunctions;
use crate::net::{Audit, Net, Policy};
use crate::udf::{UdfRegistry, WasmModule};

/// The schema's name.
pub const NAME: &str = "wasql";

/// The read-only `wasql` schema, holding a fixed list of tables.
#[derive(Debug)]
pub struct SystemSchema {
    tables: Vec<(&'static str, Arc<dyn TableProvider>)>,
}

impl SystemSchema {
    /// The schema of the session whose network is `net`, modules `udfs`
    /// and WASM functions `functions`.
    pub fn new(net: &Arc<Net>, udfs: &Arc<UdfRegistry>, functions: &WasmFunctions) -> SystemSchema {
        let (net, net_log, udfs, functions) = (
            Arc::clone(net),
            Arc::clone(net),
            Arc::clone(udfs),
            functions.clone(),
        );
        SystemSchema {
            // wasql's own tables, one line each.
            tables: vec![
                (
                    "functions",
                    SystemTable::provider(functions_schema(), move |session| {
                        functions_batch(&functions, session)
                    }),
                ),
                (
                    "modules",
                    SystemTable::provider(modules_schema(), move |_| modules_batch(&udfs)),
                ),
                (
                    "net_log",
                    SystemTable::provider(Audit::schema(), move |_| net_log.audit().to_batch()),
                ),
                (
                    "net_rules",
                    SystemTable::provider(net_rules_schema(), move |_| {
                        net_rules_batch(net.policy())
                    }),
                ),
            ],
        }
    }

    /// The error of any attempt to change the schema.
    fn read_only(&self) -> DataFusionError {
        let names: Vec<&str> = self.tables.iter().map(|(name, _)| *name).collect();
        DataFusionError::Plan(format!(
            "the {NAME} schema is read-only: it holds wasql's own tables ({})",
            names.join(", ")
        ))
    }

    /// Refuses a statement that would create, drop or change a table of a
    /// schema named `wasql` (in any catalog), or create or drop such a
    /// schema; `state` resolves unqualified names.
    pub fn refuse_changes(&self, plan: &LogicalPlan, state: &SessionState) -> Result<()> {
        let in_schema = |table: &TableReference| {
            table
                .schema()
                .unwrap_or(&state.config_options().catalog.default_schema)
                == NAME
        };
        let refused = match plan {
            LogicalPlan::Dml(dml) => in_schema(&dml.table_name),
            LogicalPlan::Ddl(ddl) => match ddl {
                DdlStatement::CreateExternalTable(create) => in_schema(&create.name),
                DdlStatement::CreateMemoryTable(create) => in_schema(&create.name),
                DdlStatement::CreateView(create) => in_schema(&create.name),
                DdlStatement::CreateIndex(create) => in_schema(&create.table),
                DdlStatement::DropTable(drop) => in_schema(&drop.name),
                DdlStatement::DropView(drop) => in_schema(&drop.name),
                DdlStatement::CreateCatalogSchema(create) => {
                    create.schema_name.rsplit('.').next() == Some(NAME)
                }
                DdlStatement::DropCatalogSchema(drop) => drop.name.schema_name() == NAME,
                DdlStatement::CreateCatalog(_)
                | DdlStatement::CreateFunction(_)
                | DdlStatement::DropFunction(_) => false,
            },
            _ => false,
        };
        if refused {
            Err(self.read_only())
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables
            .iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .tables
            .iter()
            .find(|(table, _)| *table == name)
            .map(|(_, provider)| Arc::clone(provider)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.iter().any(|(table, _)| *table == name)
    }

    fn register_table(
        &self,
        _name: String,
        _table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(self.read_only())
    }

    fn deregister_table(&self, _name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(self.read_only())
    }
}

/// One of the schema's tables: its columns, and how to make its rows when a
/// query scans it.
struct SystemTable {
    schema: SchemaRef,
    rows: Box<Rows>,
}

/// Makes a system table's rows for the session that scans it.
type Rows = dyn Fn(&dyn Session) -> Result<RecordBatch> + Send + Sync;

impl SystemTable {
    /// The table provider for `schema`, its rows made by `rows`.
    fn provider(
        schema: SchemaRef,
        rows: impl Fn(&dyn Session) -> Result<RecordBatch> + Send + Sync + 'static,
    ) -> Arc<dyn TableProvider> {
        Arc::new(SystemTable {
            schema,
            rows: Box::new(rows),
        })
    }
}

impl fmt::Debug for SystemTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemTable")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TableProvider for SystemTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = (self.rows)(state)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema(),
            projection.cloned(),
        )?)
    }
}

/// A nullable text column.
fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// A text column of `rows` rows, `value(i)` in row `i`.
fn text_column(rows: usize, value: &dyn Fn(usize) -> Option<String>) -> ArrayRef {
    Arc::new(StringArray::from_iter((0..rows).map(value)))
}

/// A list-of-text column.
fn list(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        false,
    )
}

/// A list-of-text column's values, one list per row.
fn texts<'a>(rows: impl Iterator<Item = &'a [String]>) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for value in row {
            builder.values().append_value(value);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn functions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("name"),
        text("kind"),
        text("signature"),
        text("module"),
        text("path"),
        text("sha256"),
        text("description"),
        list("capabilities"),
    ]))
}

/// `wasql.functions`: one row per WASM function the session has.
fn functions_batch(functions: &WasmFunctions, session: &dyn Session) -> Result<RecordBatch> {
    let listed = functions.listed(session);
    let column = |value: &dyn Fn(usize) -> Option<String>| text_column(listed.len(), value);
    Ok(RecordBatch::try_new(
        functions_schema(),
        vec![
            column(&|i| Some(listed[i].1.name.clone())),
            column(&|i| Some(listed[i].1.kind.label().to_string())),
            column(&|i| Some(listed[i].1.signature())),
            column(&|i| Some(listed[i].0.name())),
            column(&|i| Some(listed[i].0.path.display().to_string())),
            column(&|i| Some(listed[i].0.sha256.clone())),
            column(&|i| listed[i].1.doc.clone()),
            texts(listed.iter().map(|(_, spec)| spec.capabilities.as_slice())),
        ],
    )?)
}

fn modules_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("name"),
        text("path"),
        text("sha256"),
        Field::new("size", DataType::UInt64, false),
        Field::new("functions", DataType::UInt64, false),
        Field::new("memory_bytes", DataType::UInt64, false),
        Field::new("call_timeout_seconds", DataType::Float64, false),
    ]))
}

/// `wasql.modules`: one row per module loaded, in load order.
fn modules_batch(udfs: &UdfRegistry) -> Result<RecordBatch> {
    let modules = udfs.modules();
    let text = |value: &dyn Fn(&WasmModule) -> String| {
        text_column(modules.len(), &|i| Some(value(&modules[i])))
    };
    let count = |value: &dyn Fn(&WasmModule) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(
            modules.iter().map(|m| value(m)),
        ))
    };
    Ok(RecordBatch::try_new(
        modules_schema(),
        vec![
            text(&|m| m.name()),
            text(&|m| m.path.display().to_string()),
            text(&|m| m.sha256.clone()),
            count(&|m| m.size),
            count(&|m| m.functions.len() as u64),
            count(&|m| m.limits.memory_bytes as u64),
            Arc::new(Float64Array::from_iter_values(
                modules.iter().map(|m| m.limits.call_timeout.as_secs_f64()),
            )),
        ],
    )?)
}

fn net_rules_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("rule"),
        text("scheme"),
        text("host"),
        Field::new("port", DataType::UInt16, false),
        text("path"),
        list("methods"),
        list("modules"),
        list("functions"),
        list("addresses"),
        text("secret"),
        text("secret_header"),
    ]))
}

/// `wasql.net_rules`: one row per `[[net.allow]]` rule, in order. A secret
/// shows by name and header, never by value.
fn net_rules_batch(policy: &Policy) -> Result<RecordBatch> {
    let rules = &policy.rules;
    let column = |value: &dyn Fn(usize) -> Option<String>| text_column(rules.len(), value);
    let addresses: Vec<Vec<String>> = rules.iter().map(|r| r.addresses()).collect();
    Ok(RecordBatch::try_new(
        net_rules_schema(),
        vec![
            column(&|i| Some(rules[i].name.clone())),
            column(&|i| Some(rules[i].scheme().to_string())),
            column(&|i| Some(rules[i].host())),
            Arc::new(UInt16Array::from_iter_values(
                rules.iter().map(|r| r.port()),
            )),
            column(&|i| Some(rules[i].path().to_string())),
            texts(rules.iter().map(|r| r.methods())),
            texts(rules.iter().map(|r| r.modules())),
            texts(rules.iter().map(|r| r.functions())),
            texts(addresses.iter().map(Vec::as_slice)),
            column(&|i| rules[i].injection.as_ref().map(|j| j.secret.clone())),
            column(&|i| rules[i].injection.as_ref().map(|j| j.header.clone())),
        ],
    )?)
}
