//! Hostile: `deep(BIGINT) -> BIGINT` recurses without bound (a stack
//! overflow trap).

use std::hint::black_box;
use wasql_udf::udf;

/// Not a tail call, with a frame the optimiser cannot drop.
#[inline(never)]
fn down(n: i64) -> i64 {
    let frame = black_box([n; 16]);
    if black_box(n) == i64::MIN {
        return 0;
    }
    down(black_box(frame[0].wrapping_add(1))).wrapping_add(black_box(frame[15]))
}

/// Recurses forever.
#[udf(volatility = "volatile")]
pub fn deep(x: i64) -> i64 {
    down(x.max(0))
}
