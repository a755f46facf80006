//! The raw ABI (udfs/ABI.md §1, §3, §4): the structs as laid out on wasm32
//! (wasql-abi's), and helpers for modules that implement an export by hand.
//!
//! Pointers cross as `u32` offsets into linear memory. On wasm32 a `u32` and
//! a pointer are the same; these types also compile on 64-bit hosts (for
//! `cargo test`) but only mean something inside a wasm32 module.

use crate::array::{ArrayData, Buffer};

/// The structs of udfs/ABI.md §3 and §4, as wasql-abi defines them for the
/// host and the guest alike.
pub use wasql_abi::{ArrowArray, WasqlError};

/// A guest address as a pointer.
#[inline]
pub fn guest_ptr<T>(address: u32) -> *mut T {
    address as usize as *mut T
}

/// A pointer as a guest address (meaningful on wasm32 only).
#[inline]
pub fn guest_address<T>(ptr: *const T) -> u32 {
    ptr as usize as u32
}

/// What a result keeps alive until `wasql_release`.
struct Exported {
    /// The buffer pointer table `ArrowArray::buffers` points to.
    pointers: [u32; 3],
    _validity: Option<Buffer>,
    _buffers: Vec<Buffer>,
}

/// Writes `data` into the host's `out` struct; the buffers stay alive until
/// the host calls `wasql_release(out)`. No checks: the host validates.
///
/// # Safety
/// `out` points to a writable `ArrowArray`.
pub unsafe fn export_array(out: *mut ArrowArray, data: ArrayData) {
    let (_, len, null_count, validity, buffers) = data.into_parts();
    let mut pointers = [0u32; 3];
    pointers[0] = validity.as_ref().map_or(0, |b| guest_address(b.as_ptr()));
    for (slot, buffer) in pointers[1..].iter_mut().zip(&buffers) {
        *slot = guest_address(buffer.as_ptr());
    }
    let n_buffers = 1 + buffers.len();
    let exported = Box::new(Exported {
        pointers,
        _validity: validity,
        _buffers: buffers,
    });
    let table = guest_address(exported.pointers.as_ptr());
    let private = Box::into_raw(exported);
    // SAFETY: the caller passes a writable struct.
    unsafe {
        out.write(ArrowArray {
            length: len as i64,
            null_count,
            offset: 0,
            n_buffers: n_buffers as i64,
            n_children: 0,
            buffers: table,
            children: 0,
            dictionary: 0,
            release: 0,
            private_data: guest_address(private),
            padding: 0,
        })
    };
}

/// Frees what [`export_array`] left in `array`; a struct with no
/// `private_data` is left alone (so releasing twice is harmless).
///
/// # Safety
/// `array` points to an `ArrowArray` filled by [`export_array`] or with
/// `private_data == 0`.
pub unsafe fn release_array(array: *mut ArrowArray) {
    // SAFETY: the caller passes a live struct.
    let array = unsafe { &mut *array };
    if array.private_data != 0 {
        // SAFETY: private_data came from Box::into_raw in export_array.
        drop(unsafe { Box::from_raw(guest_ptr::<Exported>(array.private_data)) });
        array.private_data = 0;
        array.buffers = 0;
    }
}

/// Writes `message` into `err`, allocated as `wasql_alloc(len, 1)` would.
///
/// # Safety
/// `err` points to a writable `WasqlError`.
pub unsafe fn write_error(err: *mut WasqlError, message: &str) {
    let message = if message.is_empty() {
        "the function failed without a message"
    } else {
        message
    };
    let Ok(layout) = std::alloc::Layout::from_size_align(message.len(), 1) else {
        return;
    };
    // SAFETY: layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc(layout) };
    if ptr.is_null() {
        return;
    }
    // SAFETY: ptr holds message.len() bytes; err is writable.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), ptr, message.len());
        err.write(WasqlError {
            ptr: guest_address(ptr),
            len: message.len() as u32,
        });
    }
}

/// The three exports every module needs, once per module (this crate is
/// linked once).
#[cfg(target_arch = "wasm32")]
mod exports {
    use super::*;
    use std::alloc::Layout;

    /// `wasql_alloc(size, align) -> ptr`: 0 when out of memory or asked for
    /// an impossible layout; a non-zero aligned pointer for size 0.
    ///
    /// # Safety
    /// Called by the host only.
    #[unsafe(export_name = wasql_abi::literal!(alloc))]
    pub unsafe extern "C" fn wasql_alloc(size: i32, align: i32) -> i32 {
        let (size, align) = (size as u32 as usize, align as u32 as usize);
        let Ok(layout) = Layout::from_size_align(size, align) else {
            return 0;
        };
        if size == 0 {
            return align as i32;
        }
        // SAFETY: non-zero size.
        guest_address(unsafe { std::alloc::alloc(layout) }) as i32
    }

    /// `wasql_free(ptr, size, align)`: frees a block from `wasql_alloc`.
    ///
    /// # Safety
    /// Called by the host only, with a block from `wasql_alloc`.
    #[unsafe(export_name = wasql_abi::literal!(free))]
    pub unsafe extern "C" fn wasql_free(ptr: i32, size: i32, align: i32) {
        let (size, align) = (size as u32 as usize, align as u32 as usize);
        if ptr == 0 || size == 0 {
            return;
        }
        if let Ok(layout) = Layout::from_size_align(size, align) {
            // SAFETY: the host frees what wasql_alloc gave it, same layout.
            unsafe { std::alloc::dealloc(guest_ptr::<u8>(ptr as u32), layout) }
        }
    }

    /// `wasql_release(array)`: frees a result's buffers.
    ///
    /// # Safety
    /// Called by the host only, with a result struct.
    #[unsafe(export_name = wasql_abi::literal!(release))]
    pub unsafe extern "C" fn wasql_release(array: i32) {
        if array != 0 {
            // SAFETY: the host passes the struct it gave as `out`.
            unsafe { release_array(guest_ptr::<ArrowArray>(array as u32)) }
        }
    }
}
