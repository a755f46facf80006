//! Hostile: `bad_length(BIGINT) -> BIGINT` returns nrows + 5 rows (with
//! buffers that really hold them). A raw export.

use wasql_udf::ffi::{ArrowArray, export_array, guest_ptr};
use wasql_udf::{ArrayData, Buffer, DataType};

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"bad_length","kind":"scalar","export":"wasql_udf_bad_length","args":["int64"],"returns":"int64","volatility":"volatile","doc":"returns nrows + 5 rows"}"#
);

/// The export.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wasql_udf_bad_length"))]
pub unsafe extern "C" fn bad_length(
    _args: i32,
    _nargs: i32,
    nrows: i32,
    out: i32,
    _err: i32,
) -> i32 {
    let len = nrows.max(0) as usize + 5;
    // SAFETY: a valid int64 array, just of the wrong length.
    let data = unsafe {
        ArrayData::from_parts_unchecked(
            DataType::Int64,
            len,
            0,
            None,
            vec![Buffer::from_vec(vec![7i64; len])],
        )
    };
    // SAFETY: out is the host's result struct.
    unsafe { export_array(guest_ptr::<ArrowArray>(out as u32), data) };
    0
}
