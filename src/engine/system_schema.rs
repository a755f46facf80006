//! The `wasql` schema: wasql's own tables (the network audit `net_log`),
//! read-only to SQL, so that a script cannot replace, drop or rewrite what
//! audits it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};

use crate::net::{self, Net};

/// The schema's name.
pub const NAME: &str = "wasql";

/// The read-only `wasql` schema, holding a fixed list of tables.
#[derive(Debug)]
pub struct SystemSchema {
    tables: Vec<(&'static str, Arc<dyn TableProvider>)>,
}

impl SystemSchema {
    /// The schema of the session whose network is `net`.
    pub fn new(net: &Arc<Net>) -> SystemSchema {
        SystemSchema {
            // wasql's own tables, one line each.
            tables: vec![("net_log", net::net_log_table(net))],
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
