//! Hostile table functions (udfs/ABI.md §9), raw exports, each
//! `(VARCHAR) -> TABLE(token VARCHAR)`, all volatile. Each answers one row
//! per part, except as noted:
//!
//! * `bad_table_part_range`: part numbers 1..=nparts: the last is `nparts`,
//!   out of range.
//! * `bad_table_part_order`: part numbers nparts-1 down to 0: decreasing
//!   (given two or more input rows).
//! * `bad_table_ragged`: `out[0]` has one row per part, the token column one
//!   more.
//! * `bad_table_utf8`: tokens of the bytes FF FE, not UTF-8.

use wasql_udf::ffi::{ArrowArray, export_array, guest_ptr};
use wasql_udf::{ArrayData, Buffer, DataType, StringBuilder};

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"bad_table_part_range","kind":"table","export":"bad_table_part_range","args":["utf8"],"columns":[{"name":"token","type":"utf8"}],"volatility":"volatile","doc":"a part number equal to nparts"}"#,
    r#"{"abi":1,"name":"bad_table_part_order","kind":"table","export":"bad_table_part_order","args":["utf8"],"columns":[{"name":"token","type":"utf8"}],"volatility":"volatile","doc":"decreasing part numbers"}"#,
    r#"{"abi":1,"name":"bad_table_ragged","kind":"table","export":"bad_table_ragged","args":["utf8"],"columns":[{"name":"token","type":"utf8"}],"volatility":"volatile","doc":"a column one row longer than the part numbers"}"#,
    r#"{"abi":1,"name":"bad_table_utf8","kind":"table","export":"bad_table_utf8","args":["utf8"],"columns":[{"name":"token","type":"utf8"}],"volatility":"volatile","doc":"tokens that are not UTF-8"}"#,
);

/// `rows` tokens "x".
fn tokens(rows: usize) -> ArrayData {
    let mut b = StringBuilder::with_capacity(rows, rows);
    for _ in 0..rows {
        b.push("x");
    }
    b.finish()
}

/// Writes the part numbers and the token column into the host's `out`.
///
/// # Safety
/// `out` points to two writable `ArrowArray` structs.
unsafe fn answer(out: i32, parts: Vec<u32>, tokens: ArrayData) -> i32 {
    let out = guest_ptr::<ArrowArray>(out as u32);
    // SAFETY: passed on to the caller.
    unsafe {
        export_array(out, ArrayData::primitive(parts, None));
        export_array(out.add(1), tokens);
    }
    0
}

/// Part numbers 1..=nparts.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "bad_table_part_range"))]
pub unsafe extern "C" fn part_range(
    _args: i32,
    _nargs: i32,
    _nrows: i32,
    _bounds: i32,
    nparts: i32,
    out: i32,
    _err: i32,
) -> i32 {
    let n = nparts.max(0) as u32;
    // SAFETY: out is the host's.
    unsafe { answer(out, (1..=n).collect(), tokens(n as usize)) }
}

/// Part numbers nparts-1 down to 0.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "bad_table_part_order"))]
pub unsafe extern "C" fn part_order(
    _args: i32,
    _nargs: i32,
    _nrows: i32,
    _bounds: i32,
    nparts: i32,
    out: i32,
    _err: i32,
) -> i32 {
    let n = nparts.max(0) as u32;
    // SAFETY: out is the host's.
    unsafe { answer(out, (0..n).rev().collect(), tokens(n as usize)) }
}

/// One part number per part, one token more.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "bad_table_ragged"))]
pub unsafe extern "C" fn ragged(
    _args: i32,
    _nargs: i32,
    _nrows: i32,
    _bounds: i32,
    nparts: i32,
    out: i32,
    _err: i32,
) -> i32 {
    let n = nparts.max(0) as u32;
    // SAFETY: out is the host's.
    unsafe { answer(out, (0..n).collect(), tokens(n as usize + 1)) }
}

/// One token of bytes FF FE per part.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "bad_table_utf8"))]
pub unsafe extern "C" fn utf8(
    _args: i32,
    _nargs: i32,
    _nrows: i32,
    _bounds: i32,
    nparts: i32,
    out: i32,
    _err: i32,
) -> i32 {
    let n = nparts.max(0) as usize;
    let offsets: Vec<i32> = (0..=n as i32).map(|i| i * 2).collect();
    // SAFETY: deliberately invalid UTF-8, never viewed here.
    let tokens = unsafe {
        ArrayData::from_parts_unchecked(
            DataType::Utf8,
            n,
            0,
            None,
            vec![
                Buffer::from_vec(offsets),
                Buffer::from_vec([0xFF, 0xFE].repeat(n)),
            ],
        )
    };
    // SAFETY: out is the host's.
    unsafe { answer(out, (0..n as u32).collect(), tokens) }
}
