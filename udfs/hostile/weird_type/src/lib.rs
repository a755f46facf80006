//! Refused at registration: returns `float16`, a type the host cannot map.

use wasql_udf::ffi::{WasqlError, guest_ptr, write_error};

wasql_udf::raw_section!(
    r#"{"abi":1,"name":"weird_type","kind":"scalar","export":"wasql_udf_weird_type","args":["int64"],"returns":"float16"}"#
);

/// The export; never called by a host that refuses the module.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wasql_udf_weird_type"))]
pub unsafe extern "C" fn weird_type(
    _args: i32,
    _nargs: i32,
    _nrows: i32,
    _out: i32,
    err: i32,
) -> i32 {
    // SAFETY: err is the host's error struct.
    unsafe {
        write_error(
            guest_ptr::<WasqlError>(err as u32),
            "float16 is not an ABI type",
        )
    };
    1
}
