//! Limits that keep a statement from exhausting the process: expressions
//! nested deeper than planning can recurse (the stack would overflow and the
//! process abort), and settings that size allocations (one absurd batch size
//! asks for terabytes at the next scan, which aborts too).

use std::ops::{ControlFlow, RangeInclusive};

use datafusion::common::config::ConfigOptions;
use datafusion::common::{DataFusionError, Result};
use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Query, Visit, Visitor};

/// How deeply expressions and subqueries may nest, as in DuckDB.
pub const MAX_DEPTH: usize = 1000;

/// Refuses a statement whose expressions nest deeper than [`MAX_DEPTH`].
pub fn check_depth(statement: &Statement) -> Result<()> {
    let mut depth = Depth::default();
    let refused = match statement {
        Statement::Statement(statement) => statement.visit(&mut depth),
        Statement::Explain(explain) => return check_depth(&explain.statement),
        Statement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(query) => query.visit(&mut depth),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        Statement::CreateExternalTable(_) | Statement::Reset(_) => ControlFlow::Continue(()),
    };
    match refused {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(DataFusionError::Plan(format!(
            "expression too deep: more than {MAX_DEPTH} nested levels; \
             split it up (e.g. sum rows of a table instead of adding terms)"
        ))),
    }
}

/// Counts nesting while walking the statement and stops past the limit, so
/// the walk itself recurses at most [`MAX_DEPTH`] levels.
#[derive(Default)]
struct Depth {
    current: usize,
}

impl Depth {
    fn enter(&mut self) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_DEPTH {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.leave()
    }
}

/// Settings that size buffers, threads or stack use, and the values wasql
/// allows.
const SIZING_SETTINGS: [(&str, RangeInclusive<u64>); 10] = [
    ("datafusion.execution.batch_size", 1..=1 << 20),
    ("datafusion.execution.target_partitions", 1..=1024),
    ("datafusion.execution.planning_concurrency", 1..=1024),
    ("datafusion.execution.meta_fetch_concurrency", 1..=1024),
    (
        "datafusion.execution.minimum_parallel_output_files",
        1..=1024,
    ),
    (
        "datafusion.execution.max_buffered_batches_per_output_file",
        1..=1024,
    ),
    ("datafusion.execution.parquet.write_batch_size", 1..=1 << 20),
    (
        "datafusion.execution.parquet.maximum_parallel_row_group_writers",
        1..=1024,
    ),
    (
        "datafusion.execution.parquet.maximum_buffered_record_batches_per_stream",
        1..=1024,
    ),
    // Each level of parser recursion takes stack.
    (
        "datafusion.sql_parser.recursion_limit",
        1..=MAX_DEPTH as u64,
    ),
];

/// Refuses `value` for `key` if the setting sizes allocations and the value
/// is outside what wasql allows. Values that are no number are left to
/// DataFusion to refuse.
pub fn check_setting(key: &str, value: &str) -> Result<()> {
    let key = key.to_ascii_lowercase();
    let Some((name, range)) = SIZING_SETTINGS
        .iter()
        .find(|(name, _)| *name == key || name.strip_prefix("datafusion.") == Some(key.as_str()))
    else {
        return Ok(());
    };
    match value.trim().parse::<i128>() {
        Ok(n) if !(i128::from(*range.start())..=i128::from(*range.end())).contains(&n) => {
            Err(DataFusionError::Plan(format!(
                "{name} = {n} is out of range: use {} to {}",
                range.start(),
                range.end()
            )))
        }
        _ => Ok(()),
    }
}

/// Refuses options (from the environment or flags) outside the ranges of
/// [`check_setting`].
pub fn check_options(options: &ConfigOptions) -> Result<()> {
    options
        .entries()
        .iter()
        .filter_map(|entry| Some((&entry.key, entry.value.as_ref()?)))
        .try_for_each(|(key, value)| check_setting(key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_settings_are_bounded() {
        let err = check_setting("datafusion.execution.batch_size", "1099511627776").unwrap_err();
        assert!(
            err.to_string().contains(
                "datafusion.execution.batch_size = 1099511627776 is out of range: use 1 to 1048576"
            ),
            "{err}"
        );
        assert!(check_setting("execution.target_partitions", "0").is_err());
        assert!(check_setting("DATAFUSION.EXECUTION.BATCH_SIZE", "-1").is_err());
        assert!(check_setting("datafusion.execution.batch_size", "8192").is_ok());
        assert!(check_setting("datafusion.execution.batch_size", "lots").is_ok());
        assert!(check_setting("datafusion.sql_parser.dialect", "9999999999").is_ok());
        assert!(check_options(&ConfigOptions::default()).is_ok());
    }
}
