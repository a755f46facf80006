//! Hostile: `balloon(BIGINT) -> BIGINT` allocates without end (the host's
//! memory cap must stop it).

use std::hint::black_box;
use wasql_udf::udf;

/// Allocates and touches 1 MiB after 1 MiB, forever.
#[udf(volatility = "volatile")]
pub fn balloon(x: i64) -> i64 {
    let hoard: &mut Vec<Vec<u8>> = Vec::leak(vec![Vec::new()]).first_mut().expect("one");
    loop {
        hoard.push(vec![x as u8 | 1; 1 << 20]);
        black_box(&hoard);
        if black_box(false) {
            return x;
        }
    }
}
