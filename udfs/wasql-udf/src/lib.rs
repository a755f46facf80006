//! The Rust SDK for wasql user-defined functions (udfs/ABI.md, ABI v1).
//!
//! Write plain functions and mark them `#[udf]`:
//!
//! ```ignore
//! use wasql_udf::udf;
//!
//! /// Distance between two points, in km.
//! #[udf]
//! fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 { /* ... */ 0.0 }
//!
//! #[udf(volatility = "stable")]
//! fn parse(s: &str) -> Result<Option<i64>, String> { /* ... */ Ok(None) }
//! ```
//!
//! The attribute exports `wasql_udf_<name>`, which the host calls once per
//! batch; it loops over the rows reading values straight from the Arrow
//! buffers. It also writes the function's description into the module's
//! `wasql.udfs` custom section. This crate exports `wasql_alloc`,
//! `wasql_free` and `wasql_release`.
//!
//! For whole-array work (SIMD, a loop of your own), the batch form hands over
//! [`ArrayView`]s and takes an [`ArrayData`]:
//!
//! ```ignore
//! #[udf(batch, args = ["float64"], returns = "float64")]
//! fn double(args: &[ArrayView], nrows: usize) -> Result<ArrayData, String> { /* ... */ }
//! ```
//!
//! An aggregate is a type holding one group's state, with `#[udf]` on its
//! [`Aggregate`] impl (six exports `wasql_agg_<name>_new`, `_update`, ...):
//!
//! ```ignore
//! #[udf(name = "positive_sum")]
//! impl Aggregate for Total { type Args<'a> = f64; type Output = f64; /* ... */ }
//! ```
//!
//! A table function pushes output rows into an [`Emitter`], per input row
//! or, `partitioned`, per partition (its arguments as [`Rows`]):
//!
//! ```ignore
//! #[udf(table, columns = ["word", "pos"])]
//! fn words(s: &str, out: &mut Emitter<(String, i32)>) { /* out.emit((w, i)) */ }
//!
//! #[udf(table, partitioned, columns = ["n"])]
//! fn count_rows(x: Rows<'_, i64>, out: &mut Emitter<(i64,)>) { out.emit((x.len() as i64,)) }
//! ```
//!
//! See udfs/README.md for the type mapping and the null and error rules.
//!
//! [`http`] sends HTTP requests through the host (`wasql.http_fetch`), as
//! far as the operator's network policy allows.
//!
//! On wasm32 the crate installs a global allocator tuned for per-row
//! functions (small blocks made and dropped every row come from a reused
//! arena; the rest from the system allocator). Turn off the default feature
//! `scratch-alloc` to use your own `#[global_allocator]`.

// Lets `::wasql_udf::...` paths from `#[udf]` resolve inside this crate too.
extern crate self as wasql_udf;

mod aggregate;
mod array;
mod bitmap;
pub mod ffi;
pub mod http;
// The arena is used by the global allocator of wasm32 builds only.
#[cfg_attr(
    not(all(target_family = "wasm", feature = "scratch-alloc")),
    allow(dead_code)
)]
mod scratch;
mod table;
mod types;

#[doc(hidden)]
#[path = "rt.rs"]
pub mod __private;

pub use aggregate::{Accumulator, Aggregate};
pub use array::{
    ArrayData, ArrayView, BinaryBuilder, BooleanBuilder, Buffer, PrimitiveBuilder, RowWriter,
    StringBuilder, all_valid, map_rows,
};
pub use bitmap::{Bitmap, BitmapRef};
pub use table::{Column, Columns, Emitter, Rows};
pub use types::{
    DataType, Date32, NativeType, Physical, PrimitiveType, TimestampMicros, TimestampMicrosUtc,
};
pub use wasql_udf_macros::udf;

/// The ABI itself, as the host uses it too: types, layouts, names.
pub use wasql_abi as abi;
/// The ABI version this SDK implements.
pub use wasql_abi::ABI_VERSION;

/// Adds hand-written description lines (JSON objects, without the trailing
/// newline) to the module's `wasql.udfs` section ([`abi::SECTION`]). `#[udf]` writes its own;
/// this is for exports implemented by hand against [`ffi`].
///
/// ```ignore
/// wasql_udf::raw_section!(r#"{"abi":1,"name":"f","kind":"scalar","export":"f","args":[],"returns":"int64"}"#);
/// ```
#[macro_export]
macro_rules! raw_section {
    ($($line:expr),+ $(,)?) => {
        const _: () = {
            const PARTS: &[&str] = &[$($line, "\n"),+];
            // SAFETY (of link_section): a wasm custom section is never
            // loaded into memory or run; it only carries these bytes for the
            // host to read.
            #[used]
            #[cfg_attr(target_family = "wasm", unsafe(link_section = $crate::abi::literal!(section)))]
            static SECTION: [u8; $crate::__private::json_len(PARTS)] =
                $crate::__private::json_bytes(PARTS);
        };
    };
}
