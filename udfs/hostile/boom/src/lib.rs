//! Hostile: `boom(BIGINT) -> BIGINT` panics ("boom at row N", N the first
//! row of the batch with a non-null argument): a trap, with the message on
//! stderr.

use wasql_udf::{ArrayData, ArrayView, DataType, udf};

/// Panics.
#[udf(batch, args = ["int64"], returns = "int64", volatility = "volatile")]
pub fn boom(args: &[ArrayView], nrows: usize) -> ArrayData {
    let x = &args[0];
    for row in 0..nrows {
        if x.is_valid(if x.len() == 1 { 0 } else { row }) {
            panic!("boom at row {row}");
        }
    }
    ArrayData::new_null(DataType::Int64, nrows)
}
