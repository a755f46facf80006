//! WASM calls out of shuffle keys.
//!
//! Ballista writes the expressions that split data between executors (a
//! window's `PARTITION BY` and `ORDER BY`, a sort's keys) with DataFusion's
//! default codec, which carries a function by its name alone: an executor
//! cannot find a WASM function that way. So before a plan is sent, a WASM
//! call in such a key is computed into a column below the window or sort,
//! which then splits by that column; the result's columns stay as they
//! were.

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use wasql_engine::udf::WasmScalarUdf;

/// `plan` with every window and sort key that calls a WASM function
/// computed into a column first.
pub fn without_wasm_keys(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut next = 0;
    plan.transform_up_with_subqueries(|node| match &node {
        LogicalPlan::Window(window) if window.window_expr.iter().any(has_wasm_key) => {
            let input = window.input.as_ref().clone();
            let mut keys = Vec::new();
            let window_expr = window
                .window_expr
                .iter()
                .map(|expr| lift_window_keys(expr, &mut keys, &mut next))
                .collect::<Result<Vec<_>>>()?;
            let outputs = output_columns(&node);
            let lifted = LogicalPlanBuilder::from(with_keys(input, keys)?)
                .window(window_expr)?
                .project(outputs)?
                .build()?;
            Ok(Transformed::yes(lifted))
        }
        LogicalPlan::Sort(sort) if sort.expr.iter().any(|s| calls_wasm(&s.expr)) => {
            let mut keys = Vec::new();
            let order: Vec<SortExpr> = sort
                .expr
                .iter()
                .map(|s| lift_sort_key(s, &mut keys, &mut next))
                .collect();
            let outputs = output_columns(&node);
            let lifted = LogicalPlanBuilder::from(with_keys(sort.input.as_ref().clone(), keys)?)
                .sort_with_limit(order, sort.fetch)?
                .project(outputs)?
                .build()?;
            Ok(Transformed::yes(lifted))
        }
        _ => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}

/// Whether `expr` calls a WASM scalar function anywhere.
fn calls_wasm(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(e, Expr::ScalarFunction(call)
            if call.func.inner().downcast_ref::<WasmScalarUdf>().is_some()))
    })
    .unwrap_or(false)
}

/// The window function inside `expr` (which may be aliased).
fn window_params(expr: &Expr) -> Option<&WindowFunctionParams> {
    match expr {
        Expr::WindowFunction(function) => Some(&function.params),
        Expr::Alias(alias) => window_params(&alias.expr),
        _ => None,
    }
}

fn has_wasm_key(expr: &Expr) -> bool {
    window_params(expr).is_some_and(|params| {
        params.partition_by.iter().any(calls_wasm)
            || params.order_by.iter().any(|s| calls_wasm(&s.expr))
    })
}

/// `key` as a column: itself when it calls no WASM function, else a new
/// column added to `keys`.
fn lift(key: &Expr, keys: &mut Vec<Expr>, next: &mut usize) -> Expr {
    if !calls_wasm(key) {
        return key.clone();
    }
    let name = format!("__wasql_key_{next}");
    *next += 1;
    keys.push(key.clone().alias(&name));
    Expr::Column(Column::new_unqualified(name))
}

fn lift_sort_key(sort: &SortExpr, keys: &mut Vec<Expr>, next: &mut usize) -> SortExpr {
    SortExpr {
        expr: lift(&sort.expr, keys, next),
        ..sort.clone()
    }
}

/// The window expression `expr` over lifted keys, under its first name.
fn lift_window_keys(expr: &Expr, keys: &mut Vec<Expr>, next: &mut usize) -> Result<Expr> {
    let name = expr.schema_name().to_string();
    let lifted = expr.clone().transform_down(|e| match e {
        Expr::WindowFunction(function) => {
            let WindowFunction { fun, params } = *function;
            let params = WindowFunctionParams {
                partition_by: params
                    .partition_by
                    .iter()
                    .map(|key| lift(key, keys, next))
                    .collect(),
                order_by: params
                    .order_by
                    .iter()
                    .map(|key| lift_sort_key(key, keys, next))
                    .collect(),
                ..params
            };
            Ok(Transformed::new(
                Expr::WindowFunction(Box::new(WindowFunction { fun, params })),
                true,
                TreeNodeRecursion::Jump,
            ))
        }
        other => Ok(Transformed::no(other)),
    })?;
    Ok(match lifted.data {
        Expr::Alias(alias) => Expr::Alias(alias),
        unaliased => unaliased.alias(name),
    })
}

/// `input` with the `keys` columns added after its own.
fn with_keys(input: LogicalPlan, keys: Vec<Expr>) -> Result<LogicalPlan> {
    let columns = output_columns(&input);
    LogicalPlanBuilder::from(input)
        .project(columns.into_iter().chain(keys))?
        .build()
}

/// `plan`'s output columns, as expressions.
fn output_columns(plan: &LogicalPlan) -> Vec<Expr> {
    plan.schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect()
}
