//! The raw ABI (udfs/ABI.md §1, §3, §4): the structs as laid out on wasm32
//! (wasql-abi's), and helpers for modules that implement an export by hand.
//!
//! Pointers cross as `u32` offsets into linear memory. On wasm32 a `u32` and
//! a pointer are the same; these types also compile on 64-bit hosts (for
//! `cargo test`) but only mean something inside a wasm32 module.
//!
//! # What the host guarantees
//!
//! Inside the guest, every address the host passes is an offset into this
//! module's own linear memory, and the host is the only other party that
//! writes it. The SDK's `unsafe` code relies on udfs/ABI.md for the
//! following, and the `// SAFETY:` comments name them:
//!
//! - **\[call\]** A module instance runs one call at a time (wasm32 has one
//!   thread; the host never re-enters an instance), and what the host passes
//!   stays valid, and unchanged by the host, until the export returns (§3:
//!   "valid during the call only").
//! - **\[aligned\]** Every address the host passes is aligned for what it
//!   points to: wasql places each struct, buffer table, buffer and `u32`
//!   array at a 16-byte boundary of a block from `wasql_alloc(size, 16)`
//!   (§3). The SDK still copies a misaligned value buffer rather than
//!   assume it.
//! - **\[args\]** `args` points to `nargs` `ArrowArray` structs (§3, §4):
//!   `buffers` points to `n_buffers` `u32` buffer addresses; buffer 0 is 0 or
//!   a bitmap of `length` bits; then `length` values of the type, or `length`
//!   bits (boolean), or `length + 1` non-decreasing `i32` offsets starting at
//!   0 or more and a data buffer at least as long as the last offset
//!   (utf8, binary), with every utf8 row valid UTF-8 (§5: Arrow's own
//!   layout, which the host's Arrow arrays hold by construction). The SDK
//!   checks the cheap parts (type, length, `offset`, `n_buffers`, null
//!   pointers, a negative last offset) and trusts the rest.
//! - **\[out\]** `out` points to one writable `ArrowArray` (`1 + ncolumns`
//!   of them for a table function, §9) and `err` to one writable
//!   `WasqlError`, both zeroed.
//! - **\[extras\]** `bounds` points to `nparts + 1` `u32` part bounds (§9) and
//!   `groups` to `nrows` `u32` group numbers (§8).
//! - **\[handles\]** An aggregate handle `acc` is one that this module's
//!   `E_new` returned for the same export and `E_drop` has not yet freed
//!   (§8: "a handle belongs to the instance that made it").
//! - **\[free\]** `wasql_free(ptr, size, align)` gets only a block from
//!   `wasql_alloc` with the same size and align, once; `wasql_release(out)`
//!   gets only a struct a successful call wrote (or one still zeroed), and
//!   after it the struct is not read again (§3, §4).
//!
//! A host that broke these could corrupt the guest's memory, but nothing
//! beyond it: every access stays inside linear memory or traps, so the
//! sandbox holds either way. Hand-written exports using the helpers below
//! pass on the same guarantees.

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
/// `out` is non-null, 8-byte aligned and valid for writing one `ArrowArray`
/// (the host's result struct, **\[out\]** \[aligned\]). Whatever it held is
/// overwritten, not released.
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
    // SAFETY: the caller guarantees `out` is non-null, aligned and writable
    // for one ArrowArray; `write` neither reads nor drops the old value
    // (ArrowArray is Copy anyway).
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
/// `array` is non-null, aligned, valid for reads and writes of one
/// `ArrowArray`, not otherwise referenced during the call, and its
/// `private_data` is either 0 or the value [`export_array`] wrote there and
/// no release has freed since (**\[free\]**).
pub unsafe fn release_array(array: *mut ArrowArray) {
    // SAFETY: the caller guarantees a valid, aligned, unaliased struct, so a
    // unique reference to it for this function is sound.
    let array = unsafe { &mut *array };
    if array.private_data != 0 {
        // SAFETY: a non-zero private_data is, by the caller's contract, the
        // Box<Exported> export_array leaked with Box::into_raw and nothing has
        // freed yet; it is zeroed right after, so it is freed once.
        drop(unsafe { Box::from_raw(guest_ptr::<Exported>(array.private_data)) });
        array.private_data = 0;
        array.buffers = 0;
    }
}

/// Writes `message` into `err`, allocated as `wasql_alloc(len, 1)` would
/// (so that the host's `wasql_free(ptr, len, 1)` frees it). Out of memory,
/// it writes nothing: the call still fails, without a message.
///
/// # Safety
/// `err` is non-null, 4-byte aligned and valid for writing one `WasqlError`
/// (the host's error struct, **\[out\]** \[aligned\]).
pub unsafe fn write_error(err: *mut WasqlError, message: &str) {
    let message = if message.is_empty() {
        "the function failed without a message"
    } else {
        message
    };
    let Ok(layout) = std::alloc::Layout::from_size_align(message.len(), 1) else {
        return;
    };
    // SAFETY: `alloc` needs a layout of non-zero size: message is not empty
    // (an empty one was replaced above).
    let ptr = unsafe { std::alloc::alloc(layout) };
    if ptr.is_null() {
        return;
    }
    // SAFETY: copy_nonoverlapping needs both ranges valid and disjoint: ptr
    // is a fresh, non-null allocation of message.len() bytes (alignment 1),
    // message is a live &str of that length, and a fresh block overlaps
    // nothing. `err.write` needs a non-null, aligned, writable struct: the
    // caller's contract.
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
///
/// `export_name` is an unsafe attribute because two symbols of one name
/// would clash: these three names are the ABI's own, defined only here (a
/// module that defined one itself would fail to link, not misbehave).
#[cfg(target_arch = "wasm32")]
mod exports {
    use super::*;
    use std::alloc::Layout;

    /// `wasql_alloc(size, align) -> ptr`: 0 when out of memory or asked for
    /// an impossible layout; a non-zero aligned pointer for size 0.
    ///
    /// # Safety
    /// None beyond Rust's: any arguments are handled (an impossible layout
    /// returns 0). `unsafe` because only the host is meant to call it.
    #[unsafe(export_name = wasql_abi::literal!(alloc))]
    pub unsafe extern "C" fn wasql_alloc(size: i32, align: i32) -> i32 {
        let (size, align) = (size as u32 as usize, align as u32 as usize);
        let Ok(layout) = Layout::from_size_align(size, align) else {
            return 0;
        };
        if size == 0 {
            return align as i32;
        }
        // SAFETY: `alloc` needs a valid layout of non-zero size:
        // from_size_align checked the layout (align a power of two, size
        // within isize) and size 0 returned above.
        guest_address(unsafe { std::alloc::alloc(layout) }) as i32
    }

    /// `wasql_free(ptr, size, align)`: frees a block from `wasql_alloc`.
    ///
    /// # Safety
    /// `ptr` is 0, or a block `wasql_alloc(size, align)` returned with the
    /// same `size` and `align` and that is not freed yet (**\[free\]**).
    #[unsafe(export_name = wasql_abi::literal!(free))]
    pub unsafe extern "C" fn wasql_free(ptr: i32, size: i32, align: i32) {
        let (size, align) = (size as u32 as usize, align as u32 as usize);
        if ptr == 0 || size == 0 {
            return;
        }
        if let Ok(layout) = Layout::from_size_align(size, align) {
            // SAFETY: `dealloc` needs a block from this allocator with this
            // layout, not yet freed: by the caller's contract ([free]) ptr
            // came from wasql_alloc(size, align), which allocated exactly
            // this layout because size != 0 (size 0 returned above).
            unsafe { std::alloc::dealloc(guest_ptr::<u8>(ptr as u32), layout) }
        }
    }

    /// `wasql_release(array)`: frees a result's buffers.
    ///
    /// # Safety
    /// `array` is 0 or the `out` struct of a call that succeeded (or one
    /// still zeroed), not released since (**\[free\]**, \[aligned\]).
    #[unsafe(export_name = wasql_abi::literal!(release))]
    pub unsafe extern "C" fn wasql_release(array: i32) {
        if array != 0 {
            // SAFETY: release_array needs an aligned, writable, unaliased
            // struct whose private_data is 0 or export_array's: the caller's
            // out struct ([free]), in linear memory, during a call of its
            // own ([call]).
            unsafe { release_array(guest_ptr::<ArrowArray>(array as u32)) }
        }
    }
}
