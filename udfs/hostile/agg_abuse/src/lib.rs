//! Hostile aggregates (udfs/ABI.md §8), one `float64 -> float64` function
//! each, all volatile:
//!
//! * `hostile_agg_spin`: `E_update` loops forever (the deadline must stop it).
//! * `hostile_agg_balloon`: `E_update` keeps 1 MiB more per row, never freed
//!   (the memory cap must stop it).
//! * `hostile_agg_panic`: `E_finish` panics (a trap).
//! * `hostile_agg_big_state`: every state is 2 MiB (over the default 1 MiB
//!   `max_state_size`); `E_merge` accepts such states.
//! * `bad_agg_state_offsets`: hand-written exports whose `E_state` returns a
//!   binary array with offsets past its 4-byte data buffer (the last is
//!   0x7FFFFFF0, past the end of memory). The others do nothing: `E_update`
//!   and `E_merge` succeed, `E_finish` returns NULLs.

use std::hint::black_box;

use wasql_udf::ffi::{ArrowArray, export_array, guest_ptr};
use wasql_udf::{Aggregate, ArrayData, Buffer, DataType, udf};

/// Rows seen (never, as it turns out).
#[derive(Default)]
pub struct Spin(u64);

/// Loops forever in update.
#[udf(name = "hostile_agg_spin", volatility = "volatile")]
impl Aggregate for Spin {
    type Args<'a> = f64;
    type Output = f64;

    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }

    fn load(state: &[u8]) -> Result<Self, String> {
        Ok(Self(state.len() as u64))
    }

    fn update(&mut self, x: f64) {
        let mut i = x as u64;
        loop {
            i = black_box(i.wrapping_add(1));
            if black_box(false) {
                self.0 = i;
                return;
            }
        }
    }

    fn finish(self) -> f64 {
        self.0 as f64
    }

    fn save(&self) -> impl AsRef<[u8]> {
        Vec::new()
    }
}

/// 1 MiB per row seen, kept.
#[derive(Default)]
pub struct Balloon(u64, Vec<Vec<u8>>);

/// Keeps 1 MiB more per row.
#[udf(name = "hostile_agg_balloon", volatility = "volatile")]
impl Aggregate for Balloon {
    type Args<'a> = f64;
    type Output = f64;

    fn update(&mut self, x: f64) {
        // Written to, so the pages are really used.
        self.1.push(black_box(vec![x as u8 | 1; 1 << 20]));
        self.0 += 1;
    }

    fn merge(&mut self, other: Self) {
        self.0 += other.0;
        self.1.extend(other.1);
    }

    fn finish(self) -> f64 {
        self.0 as f64
    }

    fn save(&self) -> impl AsRef<[u8]> {
        self.0.to_le_bytes()
    }

    fn load(_state: &[u8]) -> Result<Self, String> {
        Ok(Balloon::default())
    }
}

/// Rows seen.
#[derive(Default)]
pub struct Panic(u64);

/// Panics in finish.
#[udf(name = "hostile_agg_panic", volatility = "volatile")]
impl Aggregate for Panic {
    type Args<'a> = f64;
    type Output = f64;

    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }

    fn load(state: &[u8]) -> Result<Self, String> {
        Ok(Self(state.len() as u64))
    }

    fn update(&mut self, _x: f64) {
        self.0 += 1;
    }

    fn finish(self) -> f64 {
        panic!("hostile_agg_panic: finish after {} rows", self.0)
    }

    fn save(&self) -> impl AsRef<[u8]> {
        vec![0u8; self.0 as usize % 8]
    }
}

/// Rows seen.
#[derive(Default)]
pub struct BigState(u64);

/// States of 2 MiB.
#[udf(name = "hostile_agg_big_state", volatility = "volatile")]
impl Aggregate for BigState {
    type Args<'a> = f64;
    type Output = f64;

    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }

    fn load(state: &[u8]) -> Result<Self, String> {
        Ok(Self(state.len() as u64))
    }

    fn update(&mut self, _x: f64) {
        self.0 += 1;
    }

    fn finish(self) -> f64 {
        self.0 as f64
    }

    fn save(&self) -> impl AsRef<[u8]> {
        vec![0xAB; 2 << 20]
    }
}

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"bad_agg_state_offsets","kind":"aggregate","export":"bad_agg_state_offsets","args":["float64"],"returns":"float64","volatility":"volatile","doc":"E_state returns offsets past its data buffer"}"#
);

/// `bad_agg_state_offsets_new`: a handle that is never dereferenced.
#[cfg_attr(
    target_arch = "wasm32",
    unsafe(export_name = "bad_agg_state_offsets_new")
)]
pub extern "C" fn bad_state_new() -> i32 {
    8
}

/// `bad_agg_state_offsets_update`: accepts anything.
#[cfg_attr(
    target_arch = "wasm32",
    unsafe(export_name = "bad_agg_state_offsets_update")
)]
pub extern "C" fn bad_state_update(
    _acc: i32,
    _args: i32,
    _nargs: i32,
    _nrows: i32,
    _groups: i32,
    _ngroups: i32,
    _err: i32,
) -> i32 {
    0
}

/// `bad_agg_state_offsets_merge`: accepts anything.
#[cfg_attr(
    target_arch = "wasm32",
    unsafe(export_name = "bad_agg_state_offsets_merge")
)]
pub extern "C" fn bad_state_merge(
    _acc: i32,
    _states: i32,
    _nrows: i32,
    _groups: i32,
    _ngroups: i32,
    _err: i32,
) -> i32 {
    0
}

/// `bad_agg_state_offsets_state`: `n` rows whose offsets run past the
/// 4-byte data buffer.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(
    target_arch = "wasm32",
    unsafe(export_name = "bad_agg_state_offsets_state")
)]
pub unsafe extern "C" fn bad_state_state(_acc: i32, n: i32, out: i32, _err: i32) -> i32 {
    let n = n.max(0) as usize;
    let mut offsets: Vec<i32> = (0..=n as i32).map(|i| i * 16).collect();
    offsets[n] = 0x7FFF_FFF0;
    // SAFETY: deliberately invalid, never viewed here.
    let data = unsafe {
        ArrayData::from_parts_unchecked(
            DataType::Binary,
            n,
            0,
            None,
            vec![Buffer::from_vec(offsets), Buffer::from_vec(vec![0u8; 4])],
        )
    };
    // SAFETY: out is the host's result struct.
    unsafe { export_array(guest_ptr::<ArrowArray>(out as u32), data) };
    0
}

/// `bad_agg_state_offsets_finish`: `n` NULLs.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(
    target_arch = "wasm32",
    unsafe(export_name = "bad_agg_state_offsets_finish")
)]
pub unsafe extern "C" fn bad_state_finish(_acc: i32, n: i32, out: i32, _err: i32) -> i32 {
    let data = ArrayData::new_null(DataType::Float64, n.max(0) as usize);
    // SAFETY: out is the host's result struct.
    unsafe { export_array(guest_ptr::<ArrowArray>(out as u32), data) };
    0
}

/// `bad_agg_state_offsets_drop`: nothing to free.
#[cfg_attr(
    target_arch = "wasm32",
    unsafe(export_name = "bad_agg_state_offsets_drop")
)]
pub extern "C" fn bad_state_drop(_acc: i32) {}
