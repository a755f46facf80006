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
