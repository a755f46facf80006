//! Table names that survive the trip to the scheduler.
//!
//! A plan names a column's table as text, and the scheduler parses that
//! text as SQL: a file table such as `'cities.csv'` comes back as the
//! table `csv` of the schema `cities`, and the plan no longer resolves.
//! Before a plan is sent, every table whose name would not come back the
//! same is renamed, with the references to it; the names of the result's
//! columns stay as they were.

use std::collections::HashMap;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, TableReference};
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, TableScan, TableScanBuilder,
};

/// Whether `name` reads back as itself from its text, as the scheduler
/// reads it.
fn round_trips(name: &TableReference) -> bool {
    TableReference::parse_str_normalized(&name.to_string(), true) == *name
}

/// `plan` with every table whose name does not [round-trip](round_trips)
/// renamed `wasql_table_N`; the result's columns keep their names.
pub fn portable(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut renamed: HashMap<TableReference, TableReference> = HashMap::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && !round_trips(&scan.table_name)
            && !renamed.contains_key(&scan.table_name)
        {
            let portable = TableReference::bare(format!("wasql_table_{}", renamed.len()));
            renamed.insert(scan.table_name.clone(), portable);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if renamed.is_empty() {
        return Ok(plan);
    }
    let original = plan.schema().clone();
    let plan = plan
        .transform_up_with_subqueries(|node| {
            let node = node
                .map_expressions(|expr| rename_columns(expr, &renamed))?
                .data;
            match node {
                LogicalPlan::TableScan(scan) if renamed.contains_key(&scan.table_name) => {
                    let TableScan {
                        table_name,
                        source,
                        projection,
                        filters,
                        fetch,
                        statistics_requests,
                        ..
                    } = scan;
                    TableScanBuilder::new(renamed[&table_name].clone(), source)
                        .with_projection(projection)
                        .with_filters(filters)
                        .with_fetch(fetch)
                        .with_statistics_requests(statistics_requests)
                        .build()
                        .map(|scan| Transformed::yes(LogicalPlan::TableScan(scan)))
                }
                node => node.recompute_schema().map(Transformed::yes),
            }
        })?
        .data;
    let same_names = plan
        .schema()
        .fields()
        .iter()
        .zip(original.fields())
        .all(|(now, before)| now.name() == before.name());
    if same_names
        || !matches!(
            plan,
            LogicalPlan::Projection(_)
                | LogicalPlan::Sort(_)
                | LogicalPlan::Limit(_)
                | LogicalPlan::Aggregate(_)
                | LogicalPlan::Filter(_)
                | LogicalPlan::Join(_)
                | LogicalPlan::Union(_)
                | LogicalPlan::Distinct(_)
                | LogicalPlan::Window(_)
                | LogicalPlan::SubqueryAlias(_)
                | LogicalPlan::TableScan(_)
        )
    {
        return Ok(plan);
    }
    // The result's columns by their first names.
    let renames: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .zip(original.fields())
        .map(|(column, field)| Expr::Column(column).alias(field.name()))
        .collect();
    LogicalPlanBuilder::from(plan).project(renames)?.build()
}

/// `expr` with its columns of renamed tables renamed; so are the columns
/// and aliases named after expressions over them (`sum(cities.csv.population)` is
/// `sum(wasql_table_0.population)` once the aggregate below is renamed).
fn rename_columns(
    expr: Expr,
    renamed: &HashMap<TableReference, TableReference>,
) -> Result<Transformed<Expr>> {
    expr.transform(|expr| match &expr {
        Expr::Column(Column {
            relation: Some(relation),
            name,
            ..
        }) if renamed.contains_key(relation) => Ok(Transformed::yes(Expr::Column(Column::new(
            Some(renamed[relation].clone()),
            name.clone(),
        )))),
        Expr::Column(Column {
            relation: None,
            name,
            ..
        }) => Ok(match renamed_text(name, renamed) {
            Some(name) => Transformed::yes(Expr::Column(Column::new_unqualified(name))),
            None => Transformed::no(expr),
        }),
        Expr::Alias(alias) => Ok(match renamed_text(&alias.name, renamed) {
            Some(name) => Transformed::yes(Expr::Alias(Alias {
                name,
                ..alias.clone()
            })),
            None => Transformed::no(expr),
        }),
        _ => Ok(Transformed::no(expr)),
    })
}

/// `name` (of a column or alias named after an expression) with the
/// renamed tables' names in it replaced, if any are.
fn renamed_text(name: &str, renamed: &HashMap<TableReference, TableReference>) -> Option<String> {
    let new_name = renamed.iter().fold(name.to_string(), |name, (from, to)| {
        name.replace(&format!("{from}."), &format!("{to}."))
    });
    (new_name != name).then_some(new_name)
}

#[cfg(test)]
mod tests {
    use datafusion_proto::bytes::{
        logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    };
    use std::sync::Arc;

    use datafusion::catalog::MemTable;
    use wasql_engine::{Engine, EngineSettings};

    use super::*;
    use crate::codec::LogicalCodec;

    /// An engine with the example cities as the table `"cities.csv"`: the
    /// name a query over `'cities.csv'` in the working directory gives it.
    async fn engine() -> Engine {
        let engine = Engine::new(&EngineSettings::default()).unwrap();
        let location = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/data/cities.csv");
        let query = engine
            .prepare(&format!("SELECT * FROM '{location}'"))
            .await
            .unwrap();
        let schema = query.schema();
        let rows = query.collect().await.unwrap();
        let table = MemTable::try_new(schema, vec![rows]).unwrap();
        engine
            .context()
            .register_table(TableReference::bare("cities.csv"), Arc::new(table))
            .unwrap();
        engine
    }

    /// `sql` planned and optimized.
    async fn plan(engine: &Engine, sql: &str) -> LogicalPlan {
        let sql = sql.replace("CITIES", "\"cities.csv\"");
        let state = engine.context().state();
        let plan = state.create_logical_plan(&sql).await.expect("planned");
        state.optimize(&plan).expect("optimized")
    }

    /// `plan` sent through the plan format, read back in `engine` and
    /// planned physically there, as a scheduler does; the plan read back.
    async fn at_the_scheduler(engine: &Engine, plan: &LogicalPlan) -> Result<LogicalPlan> {
        let codec = LogicalCodec::sender();
        let bytes = logical_plan_to_bytes_with_extension_codec(plan, &codec)?;
        let back = logical_plan_from_bytes_with_extension_codec(
            &bytes,
            &engine.context().task_ctx(),
            &codec,
        )?;
        engine.context().state().create_physical_plan(&back).await?;
        Ok(back)
    }

    #[tokio::test]
    async fn file_tables_survive_the_trip_and_keep_the_result_names() {
        let engine = engine().await;
        let names = |p: &LogicalPlan| -> Vec<String> {
            p.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        };
        // With aliases (the join), the name does not reach the scheduler.
        for (sql, breaks) in [
            (
                "SELECT country, sum(population) FROM CITIES GROUP BY country ORDER BY country",
                true,
            ),
            (
                "SELECT name, rank() OVER (PARTITION BY country ORDER BY population) FROM CITIES",
                true,
            ),
            (
                "SELECT a.name, b.name FROM CITIES a JOIN CITIES b ON a.country = b.country",
                false,
            ),
        ] {
            let plan = plan(&engine, sql).await;
            assert_eq!(
                at_the_scheduler(&engine, &plan).await.is_err(),
                breaks,
                "{sql}: without renaming"
            );
            let portable = portable(plan.clone()).expect("renamed");
            assert_eq!(names(&portable), names(&plan), "{sql}");
            let back = at_the_scheduler(&engine, &portable)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert_eq!(names(&back), names(&plan), "{sql}");
        }
    }

    #[tokio::test]
    async fn names_that_round_trip_are_left_alone() {
        let engine = Engine::new(&EngineSettings::default()).unwrap();
        let plan = plan(&engine, "SELECT 1 AS one").await;
        assert_eq!(portable(plan.clone()).unwrap(), plan);
    }
}
