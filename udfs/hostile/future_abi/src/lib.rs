//! Refused at registration: declares ABI version 2.

use wasql_udf::ffi::{WasqlError, guest_ptr, write_error};

wasql_udf::raw_section!(
    r#"{"abi":2,"name":"future_abi","kind":"scalar","export":"wasql_udf_future_abi","args":["int64"],"returns":"int64"}"#
);

/// The export; never called by a host that refuses the module.
///
/// # Safety
/// Called by the host only.
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wasql_udf_future_abi"))]
pub unsafe extern "C" fn future_abi(
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
            "ABI v2 is not implemented",
        )
    };
    1
}
