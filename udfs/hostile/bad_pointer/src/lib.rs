//! Hostile: `bad_pointer(BIGINT) -> BIGINT` returns a values buffer pointer
//! (0xFFFF_FFF0) beyond linear memory. A raw export writing the struct by
//! hand; with no private data, `wasql_release` leaves it alone.

use wasql_udf::ffi::{ArrowArray, guest_address, guest_ptr};

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"bad_pointer","kind":"scalar","export":"wasql_udf_bad_pointer","args":["int64"],"returns":"int64","volatility":"volatile","doc":"returns a pointer outside memory"}"#
);

/// The buffer table: no validity, values far outside memory.
static TABLE: [u32; 2] = [0, 0xFFFF_FFF0];

/// The export.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wasql_udf_bad_pointer"))]
pub unsafe extern "C" fn bad_pointer(
    _args: i32,
    _nargs: i32,
    nrows: i32,
    out: i32,
    _err: i32,
) -> i32 {
    // SAFETY: out is the host's result struct.
    unsafe {
        guest_ptr::<ArrowArray>(out as u32).write(ArrowArray {
            length: i64::from(nrows),
            null_count: 0,
            n_buffers: 2,
            buffers: guest_address(TABLE.as_ptr()),
            ..ArrowArray::default()
        })
    };
    0
}
