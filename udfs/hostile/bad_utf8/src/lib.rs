//! Hostile: `bad_utf8(VARCHAR) -> VARCHAR` returns the bytes FF FE, which
//! are not UTF-8, in every row. A raw export.

use wasql_udf::ffi::{ArrowArray, export_array, guest_ptr};
use wasql_udf::{ArrayData, Buffer, DataType};

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"bad_utf8","kind":"scalar","export":"wasql_udf_bad_utf8","args":["utf8"],"returns":"utf8","volatility":"volatile","doc":"returns invalid UTF-8"}"#
);

/// The export.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wasql_udf_bad_utf8"))]
pub unsafe extern "C" fn bad_utf8(_args: i32, _nargs: i32, nrows: i32, out: i32, _err: i32) -> i32 {
    let nrows = nrows.max(0) as usize;
    let offsets: Vec<i32> = (0..=nrows as i32).map(|i| i * 2).collect();
    let bytes: Vec<u8> = [0xFF, 0xFE].repeat(nrows);
    // SAFETY: deliberately invalid UTF-8, never viewed here.
    let data = unsafe {
        ArrayData::from_parts_unchecked(
            DataType::Utf8,
            nrows,
            0,
            None,
            vec![Buffer::from_vec(offsets), Buffer::from_vec(bytes)],
        )
    };
    // SAFETY: out is the host's result struct.
    unsafe { export_array(guest_ptr::<ArrowArray>(out as u32), data) };
    0
}
