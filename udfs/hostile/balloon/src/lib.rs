//! Hostile: functions that take memory. `balloon(BIGINT) -> BIGINT`
//! allocates without end (the host's memory cap must stop it);
//! `grow_probe(pages)` grows linear memory and returns what `memory.grow`
//! answered (-1 when refused: the guest goes on); `hold(mib)` keeps `mib`
//! MiB in use for a third of a second (concurrent calls overlap).

use std::hint::black_box;
use std::time::{Duration, Instant};
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

/// Grows linear memory by `pages` 64 KiB pages: the previous size in pages,
/// or -1 if the host refused.
#[udf(volatility = "volatile")]
pub fn grow_probe(pages: i64) -> i64 {
    let answer = core::arch::wasm32::memory_grow(0, pages as usize);
    if answer == usize::MAX {
        -1
    } else {
        answer as i64
    }
}

/// Touches `mib` MiB, keeps it for 300 ms, returns `mib`.
#[udf(volatility = "volatile")]
pub fn hold(mib: i64) -> i64 {
    let block = vec![1u8; (mib as usize) << 20];
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        black_box(&block);
    }
    mib
}
