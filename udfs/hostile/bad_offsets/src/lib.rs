//! Hostile: `bad_offsets(VARCHAR) -> VARCHAR` returns offsets that point
//! past the end of its 4-byte data buffer: they start at 0 and never
//! decrease, but the last one is 0x7FFF_FFF0, so the data would run far past
//! the end of linear memory (the only end a host can check). A raw export:
//! the SDK's checked paths would never build this.

use wasql_udf::ffi::{ArrowArray, export_array, guest_ptr};
use wasql_udf::{ArrayData, Buffer, DataType};

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"bad_offsets","kind":"scalar","export":"wasql_udf_bad_offsets","args":["utf8"],"returns":"utf8","volatility":"volatile","doc":"returns offsets past its data"}"#
);

/// The export.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wasql_udf_bad_offsets"))]
pub unsafe extern "C" fn bad_offsets(
    _args: i32,
    _nargs: i32,
    nrows: i32,
    out: i32,
    _err: i32,
) -> i32 {
    let nrows = nrows.max(0) as usize;
    // Rows 0..n-1 are one byte each; the last ends 2 GiB past the start.
    let mut offsets: Vec<i32> = (0..nrows as i32).collect();
    offsets.push(0x7FFF_FFF0);
    // SAFETY: deliberately invalid, never viewed here; the host must refuse it.
    let data = unsafe {
        ArrayData::from_parts_unchecked(
            DataType::Utf8,
            nrows,
            0,
            None,
            vec![
                Buffer::from_vec(offsets),
                Buffer::from_vec(b"abcd".to_vec()),
            ],
        )
    };
    // SAFETY: out is the host's result struct.
    unsafe { export_array(guest_ptr::<ArrowArray>(out as u32), data) };
    0
}
