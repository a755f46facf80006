//! Empty relations that survive the trip to the scheduler.
//!
//! DataFusion's protobuf writes an empty relation (what `WHERE false` or a
//! join `ON false` plans to) without its columns, so the scheduler cannot
//! resolve the columns of the plan above it. Before a plan is sent, each
//! empty relation with columns becomes a scan of an empty in-memory table
//! (which travels with its schema), its columns renamed back to the
//! relation's.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::MemTable;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{EmptyRelation, Expr, LogicalPlan, LogicalPlanBuilder};

/// `plan` with its empty relations that have columns as empty tables.
pub fn portable(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut tables = 0;
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::EmptyRelation(EmptyRelation {
            produce_one_row: false,
            schema,
        }) if !schema.fields().is_empty() => {
            let name = format!("wasql_empty_{tables}");
            tables += 1;
            // Positional names: the relation's may repeat (`a.x`, `b.x`).
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, field)| field.as_ref().clone().with_name(format!("c{i}")))
                .collect();
            let fields = Arc::new(Schema::new(fields));
            let table = MemTable::try_new(Arc::clone(&fields), vec![vec![]])?;
            let renames: Vec<Expr> = schema
                .iter()
                .enumerate()
                .map(|(i, (qualifier, field))| {
                    let column =
                        Column::new(Some(TableReference::bare(name.as_str())), format!("c{i}"));
                    Expr::Column(column).alias_qualified(qualifier.cloned(), field.name())
                })
                .collect();
            let plan = LogicalPlanBuilder::scan(&name, provider_as_source(Arc::new(table)), None)?
                .project(renames)?
                .build()?;
            Ok(Transformed::yes(plan))
        }
        node => Ok(Transformed::no(node)),
    })
    .map(|transformed| transformed.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn an_empty_relation_becomes_an_empty_table_with_its_columns() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t AS SELECT 1.0 AS v, 2 AS w")
            .await
            .unwrap();
        let plan = ctx
            .sql("SELECT t.v, u.v FROM t JOIN t AS u ON false")
            .await
            .unwrap()
            .into_optimized_plan()
            .unwrap();
        let before = plan.schema().clone();
        let after = portable(plan).unwrap();
        assert_eq!(after.schema().columns(), before.columns());
        assert_eq!(after.schema().as_arrow(), before.as_arrow());
        let mut empties = 0;
        after
            .apply(|node| {
                empties += matches!(node, LogicalPlan::EmptyRelation(_)) as usize;
                Ok(TreeNodeRecursion::Continue)
            })
            .unwrap();
        assert_eq!(empties, 0, "{after}");
        let rows = ctx
            .execute_logical_plan(after)
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(rows.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    }
}
