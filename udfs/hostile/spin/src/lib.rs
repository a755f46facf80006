//! Hostile: `spin(BIGINT) -> BIGINT` never returns (the host's deadline must
//! stop it).

use std::hint::black_box;
use wasql_udf::udf;

/// Loops forever.
#[udf(volatility = "volatile")]
pub fn spin(x: i64) -> i64 {
    let mut i = x;
    loop {
        i = black_box(i.wrapping_add(1));
        if black_box(false) {
            return i;
        }
    }
}
