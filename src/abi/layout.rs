//! The structs in guest memory (udfs/ABI.md §3, §4): the Arrow C Data
//! Interface's `ArrowArray` and `ArrowSchema` as laid out on wasm32, and
//! the error slot.
//!
//! Every pointer is a `u32` offset into the guest's linear memory, so these
//! `repr(C)` structs have the wasm32 layout on any target; the asserts below
//! pin it. A guest uses them in place; a host reads and writes them as
//! little-endian bytes with `from_le_bytes` / `to_le_bytes`, which use the
//! struct's own field offsets (`offset_of!`).

use core::mem::{align_of, offset_of, size_of};

/// `N` bytes of `bytes` at `at` (`at + N` is within `bytes`: the callers
/// pass field offsets, which the asserts keep inside the struct).
fn take<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Writes `value` into `bytes` at `at`.
fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

/// The Arrow C Data Interface `ArrowArray` as laid out on wasm32: 64 bytes,
/// 8-byte aligned (udfs/ABI.md §4).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArrowArray {
    /// Rows (or 1 for a constant argument).
    pub length: i64,
    /// Null rows; `-1` if unknown (results only).
    pub null_count: i64,
    /// Always 0 in this ABI.
    pub offset: i64,
    /// Buffers, validity included.
    pub n_buffers: i64,
    /// Always 0 in this ABI.
    pub n_children: i64,
    /// Guest address of `n_buffers` u32 buffer addresses.
    pub buffers: u32,
    /// Always 0 in this ABI.
    pub children: u32,
    /// Always 0 in this ABI.
    pub dictionary: u32,
    /// Ignored: the host calls `wasql_release`.
    pub release: u32,
    /// The guest's own (the Rust SDK keeps the result's buffers here).
    pub private_data: u32,
    /// Padding to 64 bytes (C has it implicitly; here it is a field so that
    /// the whole struct is written).
    pub padding: u32,
}

const _: () = {
    assert!(size_of::<ArrowArray>() == 64);
    assert!(align_of::<ArrowArray>() == 8);
    assert!(offset_of!(ArrowArray, length) == 0);
    assert!(offset_of!(ArrowArray, null_count) == 8);
    assert!(offset_of!(ArrowArray, offset) == 16);
    assert!(offset_of!(ArrowArray, n_buffers) == 24);
    assert!(offset_of!(ArrowArray, n_children) == 32);
    assert!(offset_of!(ArrowArray, buffers) == 40);
    assert!(offset_of!(ArrowArray, children) == 44);
    assert!(offset_of!(ArrowArray, dictionary) == 48);
    assert!(offset_of!(ArrowArray, release) == 52);
    assert!(offset_of!(ArrowArray, private_data) == 56);
    assert!(offset_of!(ArrowArray, padding) == 60);
};

impl ArrowArray {
    /// Size of the struct in guest memory.
    pub const SIZE: usize = size_of::<ArrowArray>();

    /// Offsets of the five `i64` header fields, in order: `length`,
    /// `null_count`, `offset`, `n_buffers`, `n_children`.
    pub const I64_FIELDS: [usize; 5] = [
        offset_of!(ArrowArray, length),
        offset_of!(ArrowArray, null_count),
        offset_of!(ArrowArray, offset),
        offset_of!(ArrowArray, n_buffers),
        offset_of!(ArrowArray, n_children),
    ];

    /// Offsets of the three pointer fields the ABI gives a meaning:
    /// `buffers`, `children`, `dictionary`.
    pub const POINTER_FIELDS: [usize; 3] = [
        offset_of!(ArrowArray, buffers),
        offset_of!(ArrowArray, children),
        offset_of!(ArrowArray, dictionary),
    ];

    /// The struct stored little-endian in `bytes`, as a guest wrote it.
    pub fn from_le_bytes(bytes: &[u8; ArrowArray::SIZE]) -> ArrowArray {
        let i64_at = |at| i64::from_le_bytes(take(bytes, at));
        let u32_at = |at| u32::from_le_bytes(take(bytes, at));
        ArrowArray {
            length: i64_at(offset_of!(ArrowArray, length)),
            null_count: i64_at(offset_of!(ArrowArray, null_count)),
            offset: i64_at(offset_of!(ArrowArray, offset)),
            n_buffers: i64_at(offset_of!(ArrowArray, n_buffers)),
            n_children: i64_at(offset_of!(ArrowArray, n_children)),
            buffers: u32_at(offset_of!(ArrowArray, buffers)),
            children: u32_at(offset_of!(ArrowArray, children)),
            dictionary: u32_at(offset_of!(ArrowArray, dictionary)),
            release: u32_at(offset_of!(ArrowArray, release)),
            private_data: u32_at(offset_of!(ArrowArray, private_data)),
            padding: u32_at(offset_of!(ArrowArray, padding)),
        }
    }

    /// The struct as little-endian bytes, as a wasm32 guest reads it.
    pub fn to_le_bytes(&self) -> [u8; ArrowArray::SIZE] {
        let mut bytes = [0; ArrowArray::SIZE];
        let b = &mut bytes;
        put(
            b,
            offset_of!(ArrowArray, length),
            &self.length.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, null_count),
            &self.null_count.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, offset),
            &self.offset.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, n_buffers),
            &self.n_buffers.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, n_children),
            &self.n_children.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, buffers),
            &self.buffers.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, children),
            &self.children.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, dictionary),
            &self.dictionary.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, release),
            &self.release.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, private_data),
            &self.private_data.to_le_bytes(),
        );
        put(
            b,
            offset_of!(ArrowArray, padding),
            &self.padding.to_le_bytes(),
        );
        bytes
    }
}

/// The Arrow C Data Interface `ArrowSchema` as laid out on wasm32: 48
/// bytes, 8-byte aligned. ABI version 1 passes no schemas (types travel in
/// the description, §2); the layout is here for a guest or host that
/// exchanges Arrow data through the C Data Interface by other means.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArrowSchema {
    /// Guest address of the NUL-terminated format string.
    pub format: u32,
    /// Guest address of the NUL-terminated field name, or 0.
    pub name: u32,
    /// Guest address of the binary metadata, or 0.
    pub metadata: u32,
    /// Padding before the 8-byte aligned `flags` (implicit in C).
    pub padding: u32,
    /// `ARROW_FLAG_*` bits.
    pub flags: i64,
    /// Child schemas.
    pub n_children: i64,
    /// Guest address of `n_children` u32 child schema addresses.
    pub children: u32,
    /// Guest address of the dictionary's schema, or 0.
    pub dictionary: u32,
    /// Guest address of the release callback, or 0 when released.
    pub release: u32,
    /// The producer's own.
    pub private_data: u32,
}

const _: () = {
    assert!(size_of::<ArrowSchema>() == 48);
    assert!(align_of::<ArrowSchema>() == 8);
    assert!(offset_of!(ArrowSchema, format) == 0);
    assert!(offset_of!(ArrowSchema, name) == 4);
    assert!(offset_of!(ArrowSchema, metadata) == 8);
    assert!(offset_of!(ArrowSchema, flags) == 16);
    assert!(offset_of!(ArrowSchema, n_children) == 24);
    assert!(offset_of!(ArrowSchema, children) == 32);
    assert!(offset_of!(ArrowSchema, dictionary) == 36);
    assert!(offset_of!(ArrowSchema, release) == 40);
    assert!(offset_of!(ArrowSchema, private_data) == 44);
};

/// Where a function describes its failure (udfs/ABI.md §3): a UTF-8 message
/// of `len` bytes at `ptr`, allocated with `wasql_alloc(len, 1)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WasqlError {
    /// Guest address of the message.
    pub ptr: u32,
    /// Its length in bytes.
    pub len: u32,
}

const _: () = {
    assert!(size_of::<WasqlError>() == 8);
    assert!(align_of::<WasqlError>() == 4);
    assert!(offset_of!(WasqlError, ptr) == 0);
    assert!(offset_of!(WasqlError, len) == 4);
};

impl WasqlError {
    /// Size of the struct in guest memory.
    pub const SIZE: usize = size_of::<WasqlError>();

    /// The struct stored little-endian in `bytes`, as a guest wrote it.
    pub fn from_le_bytes(bytes: &[u8; WasqlError::SIZE]) -> WasqlError {
        WasqlError {
            ptr: u32::from_le_bytes(take(bytes, offset_of!(WasqlError, ptr))),
            len: u32::from_le_bytes(take(bytes, offset_of!(WasqlError, len))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_through_bytes() {
        let array = ArrowArray {
            length: 3,
            null_count: -1,
            offset: 0,
            n_buffers: 3,
            n_children: 0,
            buffers: 0x1234,
            children: 0,
            dictionary: 0,
            release: 0,
            private_data: 0xdead_beef,
            padding: 0,
        };
        let bytes = array.to_le_bytes();
        assert_eq!(bytes[..8], 3i64.to_le_bytes());
        assert_eq!(bytes[8..16], (-1i64).to_le_bytes());
        assert_eq!(bytes[40..44], 0x1234u32.to_le_bytes());
        assert_eq!(ArrowArray::from_le_bytes(&bytes), array);
        assert_eq!(ArrowArray::I64_FIELDS, [0, 8, 16, 24, 32]);
        assert_eq!(ArrowArray::POINTER_FIELDS, [40, 44, 48]);
    }

    #[test]
    fn errors_read_from_bytes() {
        let mut bytes = [0; WasqlError::SIZE];
        bytes[..4].copy_from_slice(&16u32.to_le_bytes());
        bytes[4..].copy_from_slice(&5u32.to_le_bytes());
        assert_eq!(
            WasqlError::from_le_bytes(&bytes),
            WasqlError { ptr: 16, len: 5 }
        );
    }
}
