//! The wasql UDF ABI, version 1, in Rust: the one definition the host
//! (`wasql-engine`) and the guest SDK (`udfs/wasql-udf`) both use.
//!
//! `udfs/ABI.md` is the contract, written for any language; this crate is its
//! Rust form:
//!
//! - [`DataType`]: the value types that cross the ABI and their type strings
//!   (udfs/ABI.md §5);
//! - the description schema of the `wasql.udfs` custom section (§2):
//!   [`ABI_VERSION`], [`SECTION`], [`Kind`], [`Volatility`],
//!   [`is_valid_name`];
//! - the names of the exports every module has and of an aggregate's six
//!   ([`export`], §1 and §8), and the section's and the fixed exports' names
//!   as literals for attributes ([`literal!`]);
//! - the structs in guest memory as a wasm32 guest lays them out
//!   ([`ArrowArray`], [`ArrowSchema`], [`WasqlError`], §3 and §4): pointers
//!   are `u32` offsets into linear memory, so the same `repr(C)` layout holds
//!   on a 64-bit host, which reads them from guest memory as little-endian
//!   bytes (`from_le_bytes`) and never by reference.
//!
//! No dependencies and `no_std`, so that it builds for any guest target.

#![no_std]

mod describe;
mod layout;
mod types;

pub use describe::{ABI_VERSION, Kind, SECTION, Volatility, export, is_valid_name};
pub use layout::{ArrowArray, ArrowSchema, WasqlError};
pub use types::{DataType, MAX_DECIMAL_PRECISION, Physical};
