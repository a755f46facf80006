//! What `#[udf]` expands to calls: argument readers, result builders, the
//! call drivers of scalar, table and aggregate exports, and the
//! const-evaluated description line. Not a stable API.

use std::borrow::Cow;
use std::fmt::Display;
use std::marker::PhantomData;

pub use crate::aggregate::FoldRows;
use crate::aggregate::{Accumulator, Aggregate};
use crate::array::{
    ArrayData, ArrayView, BinaryBuilder, BooleanBuilder, PrimitiveBuilder, StringBuilder,
};
use crate::bitmap::BitmapRef;
use crate::ffi::{ArrowArray, export_array, guest_address, guest_ptr, write_error};
use crate::types::{
    DataType, Date32, PrimitiveType, TimestampMicros, TimestampMicrosUtc, simple_name,
};

/// A Rust argument type: its ABI type and how to read it row by row.
pub trait FromArg<'a>: Sized {
    /// The ABI type string.
    const TYPE: &'static str;
    /// The ABI type.
    const DATA_TYPE: DataType;
    /// Reads values of this type.
    type Reader: ArgReader<'a, Item = Self>;
}

/// Reads one argument row by row.
pub trait ArgReader<'a>: Sized {
    /// What a row reads as.
    type Item;
    /// A reader of `view`, which must have 1 or `nrows` rows.
    fn new(view: &'a ArrayView<'a>, nrows: usize) -> Result<Self, String>;
    /// `nrows` rows and no nulls: [`ArgReader::get_dense`] may be used.
    fn dense(&self) -> bool;
    /// Row `row` (row 0 for a constant); `None` when it is null and the
    /// type has no null of its own, so the result row is null.
    ///
    /// # Safety
    /// `row < nrows`, the rows the reader was made for: readers index their
    /// buffers without bounds checks.
    unsafe fn get(&self, row: usize) -> Option<Self::Item>;
    /// Row `row`, knowing the reader is dense.
    ///
    /// # Safety
    /// `row < nrows` and [`ArgReader::dense`] is true (so there are `nrows`
    /// values and no validity to consult).
    unsafe fn get_dense(&self, row: usize) -> Self::Item;
}

/// Checks an argument and returns its row step: 1, or 0 for a constant.
fn step(view: &ArrayView<'_>, nrows: usize, expected: DataType) -> Result<usize, String> {
    if view.data_type() != expected {
        return Err(format!(
            "an argument of type {} where {expected} was declared",
            view.data_type()
        ));
    }
    if view.len() == nrows {
        Ok(1)
    } else if view.len() == 1 {
        Ok(0)
    } else {
        Err(format!(
            "an argument of {} rows in a batch of {nrows}",
            view.len()
        ))
    }
}

/// Reads fixed-width values. A non-null constant is broadcast into a
/// buffer of `nrows` values once per batch, so that the row loop stays the
/// plain indexed one.
pub struct PrimReader<'a, T> {
    /// `nrows` values (step 1), or one (step 0).
    values: *const T,
    validity: Option<BitmapRef<'a>>,
    step: usize,
    /// Backs `values` for a broadcast constant.
    _broadcast: Vec<T>,
    _life: PhantomData<&'a [T]>,
}

impl<'a, T: PrimitiveType> ArgReader<'a> for PrimReader<'a, T> {
    type Item = T;

    fn new(view: &'a ArrayView<'a>, nrows: usize) -> Result<Self, String> {
        let mut step = step(view, nrows, T::DATA_TYPE)?;
        let values = view.values::<T>();
        let validity = view.validity();
        let mut broadcast = Vec::new();
        if step == 0 && validity.is_none() {
            broadcast = vec![values[0]; nrows];
            step = 1;
        }
        Ok(PrimReader {
            values: if broadcast.is_empty() {
                values.as_ptr()
            } else {
                broadcast.as_ptr()
            },
            validity,
            step,
            _broadcast: broadcast,
            _life: PhantomData,
        })
    }

    #[inline(always)]
    fn dense(&self) -> bool {
        self.validity.is_none() && self.step == 1
    }

    #[inline(always)]
    unsafe fn get(&self, row: usize) -> Option<T> {
        let row = row * self.step;
        // SAFETY: get_unchecked and add/deref need row inside the validity
        // bitmap and the values: the caller keeps row < nrows; with step 1
        // the view had nrows rows (checked by `step`), so values (the
        // view's or the broadcast Vec, kept alive by self) holds nrows
        // aligned T's and validity nrows bits; with step 0 row is 0, and a
        // constant holds 1 value and 1 bit.
        unsafe {
            if let Some(validity) = self.validity
                && !validity.get_unchecked(row)
            {
                return None;
            }
            Some(*self.values.add(row))
        }
    }

    #[inline(always)]
    unsafe fn get_dense(&self, row: usize) -> T {
        // SAFETY: add/deref need row inside the values: dense means step 1,
        // so values holds nrows aligned T's (the view's, or the broadcast
        // Vec kept alive by self), and the caller keeps row < nrows.
        unsafe { *self.values.add(row) }
    }
}

/// Reads booleans.
pub struct BoolReader<'a> {
    values: BitmapRef<'a>,
    validity: Option<BitmapRef<'a>>,
    step: usize,
}

impl<'a> ArgReader<'a> for BoolReader<'a> {
    type Item = bool;

    fn new(view: &'a ArrayView<'a>, nrows: usize) -> Result<Self, String> {
        let step = step(view, nrows, DataType::Boolean)?;
        Ok(BoolReader {
            values: view.bool_values(),
            validity: view.validity(),
            step,
        })
    }

    #[inline(always)]
    fn dense(&self) -> bool {
        self.validity.is_none() && self.step == 1
    }

    #[inline(always)]
    unsafe fn get(&self, row: usize) -> Option<bool> {
        let row = row * self.step;
        // SAFETY: get_unchecked needs row below each bitmap's len: the
        // caller keeps row < nrows; with step 1 the view (so both bitmaps)
        // has nrows rows, with step 0 row is 0 of a 1-row constant.
        unsafe {
            if let Some(validity) = self.validity
                && !validity.get_unchecked(row)
            {
                return None;
            }
            Some(self.values.get_unchecked(row))
        }
    }

    #[inline(always)]
    unsafe fn get_dense(&self, row: usize) -> bool {
        // SAFETY: get_unchecked needs row < the bitmap's len: dense means
        // step 1, so the values hold nrows bits, and row < nrows.
        unsafe { self.values.get_unchecked(row) }
    }
}

/// Reads utf8 or binary rows as byte slices.
pub struct BytesReader<'a> {
    offsets: &'a [i32],
    data: &'a [u8],
    validity: Option<BitmapRef<'a>>,
    step: usize,
}

impl<'a> BytesReader<'a> {
    fn with_type(view: &'a ArrayView<'a>, nrows: usize, dt: DataType) -> Result<Self, String> {
        let step = step(view, nrows, dt)?;
        Ok(BytesReader {
            offsets: view.offsets(),
            data: view.data(),
            validity: view.validity(),
            step,
        })
    }

    #[inline(always)]
    fn dense(&self) -> bool {
        self.validity.is_none() && self.step == 1
    }

    /// Row `row`'s bytes.
    ///
    /// # Safety
    /// `row` is below the view's length (`nrows`, or 1 for a constant).
    #[inline(always)]
    unsafe fn at(&self, row: usize) -> &'a [u8] {
        // SAFETY: get_unchecked needs row + 1 < offsets.len() = len + 1: the
        // caller keeps row < len. (The data range itself is sliced with a
        // bounds check.)
        let (start, end) = unsafe {
            (
                *self.offsets.get_unchecked(row) as usize,
                *self.offsets.get_unchecked(row + 1) as usize,
            )
        };
        &self.data[start..end]
    }

    /// Row `row`'s bytes, `None` when null.
    ///
    /// # Safety
    /// `row < nrows`.
    #[inline(always)]
    unsafe fn get(&self, row: usize) -> Option<&'a [u8]> {
        let row = row * self.step;
        // SAFETY: get_unchecked and at need row below the view's length:
        // the caller keeps row < nrows; with step 1 the view has nrows rows
        // (checked by `step`), with step 0 row is 0 of a 1-row constant.
        unsafe {
            if let Some(validity) = self.validity
                && !validity.get_unchecked(row)
            {
                return None;
            }
            Some(self.at(row))
        }
    }
}

macro_rules! bytes_reader {
    ($name:ident, $item:ty, $dt:expr, |$b:ident| $map:expr) => {
        /// Reads utf8 or binary rows.
        pub struct $name<'a>(BytesReader<'a>);

        impl<'a> ArgReader<'a> for $name<'a> {
            type Item = $item;

            fn new(view: &'a ArrayView<'a>, nrows: usize) -> Result<Self, String> {
                BytesReader::with_type(view, nrows, $dt).map($name)
            }

            #[inline(always)]
            fn dense(&self) -> bool {
                self.0.dense()
            }

            #[inline(always)]
            unsafe fn get(&self, row: usize) -> Option<$item> {
                // SAFETY: BytesReader::get needs row < nrows: this
                // function's own contract.
                unsafe { self.0.get(row) }.map(|$b| $map)
            }

            #[inline(always)]
            unsafe fn get_dense(&self, row: usize) -> $item {
                // SAFETY: at needs row below the view's length: dense
                // (this function's contract) means step 1 and nrows rows,
                // and row < nrows.
                let $b = unsafe { self.0.at(row) };
                $map
            }
        }
    };
}

/// Row bytes of a `utf8` argument as `&str`, unchecked.
///
/// # Safety
/// `bytes` is one row of a `utf8` array the host passed: udfs/ABI.md §5 has
/// each row valid UTF-8 (the host passes Arrow string arrays, which hold
/// UTF-8 by construction), and the readers here only ever slice whole rows.
#[inline(always)]
unsafe fn utf8_row(bytes: &[u8]) -> &str {
    // SAFETY: the caller passes one whole row of a utf8 array, which is
    // valid UTF-8 (see the function's contract).
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

// SAFETY (of each `utf8_row` call below): `b` is one whole row that
// `BytesReader` sliced out of a `utf8` argument (it checked the type).
bytes_reader!(StrReader, &'a str, DataType::Utf8, |b| {
    // SAFETY: a whole row of a utf8 argument (above).
    unsafe { utf8_row(b) }
});
bytes_reader!(StringReader, String, DataType::Utf8, |b| {
    // SAFETY: a whole row of a utf8 argument (above).
    unsafe { utf8_row(b) }.to_owned()
});
bytes_reader!(BinReader, &'a [u8], DataType::Binary, |b| b);
bytes_reader!(VecReader, Vec<u8>, DataType::Binary, |b| b.to_vec());

/// Reads `Option<T>`: a null row is `Some(None)`, never a null result.
pub struct OptionReader<R>(R);

impl<'a, R: ArgReader<'a>> ArgReader<'a> for OptionReader<R> {
    type Item = Option<R::Item>;

    fn new(view: &'a ArrayView<'a>, nrows: usize) -> Result<Self, String> {
        R::new(view, nrows).map(OptionReader)
    }

    #[inline(always)]
    fn dense(&self) -> bool {
        self.0.dense()
    }

    #[inline(always)]
    unsafe fn get(&self, row: usize) -> Option<Option<R::Item>> {
        // SAFETY: R::get needs row < nrows: this function's own contract.
        Some(unsafe { self.0.get(row) })
    }

    #[inline(always)]
    unsafe fn get_dense(&self, row: usize) -> Option<R::Item> {
        // SAFETY: R::get_dense needs row < nrows and R dense: this
        // function's contract (dense() is R's).
        Some(unsafe { self.0.get_dense(row) })
    }
}

macro_rules! prim_arg {
    ($($t:ty),*) => {$(
        impl<'a> FromArg<'a> for $t {
            const TYPE: &'static str = <$t as PrimitiveType>::TYPE_NAME;
            const DATA_TYPE: DataType = <$t as PrimitiveType>::DATA_TYPE;
            type Reader = PrimReader<'a, $t>;
        }
    )*};
}

prim_arg!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    Date32,
    TimestampMicros,
    TimestampMicrosUtc
);

impl<'a> FromArg<'a> for bool {
    const TYPE: &'static str = simple_name(DataType::Boolean);
    const DATA_TYPE: DataType = DataType::Boolean;
    type Reader = BoolReader<'a>;
}

impl<'a> FromArg<'a> for &'a str {
    const TYPE: &'static str = simple_name(DataType::Utf8);
    const DATA_TYPE: DataType = DataType::Utf8;
    type Reader = StrReader<'a>;
}

impl<'a> FromArg<'a> for String {
    const TYPE: &'static str = simple_name(DataType::Utf8);
    const DATA_TYPE: DataType = DataType::Utf8;
    type Reader = StringReader<'a>;
}

impl<'a> FromArg<'a> for &'a [u8] {
    const TYPE: &'static str = simple_name(DataType::Binary);
    const DATA_TYPE: DataType = DataType::Binary;
    type Reader = BinReader<'a>;
}

impl<'a> FromArg<'a> for Vec<u8> {
    const TYPE: &'static str = simple_name(DataType::Binary);
    const DATA_TYPE: DataType = DataType::Binary;
    type Reader = VecReader<'a>;
}

impl<'a, T: FromArg<'a>> FromArg<'a> for Option<T> {
    const TYPE: &'static str = T::TYPE;
    const DATA_TYPE: DataType = T::DATA_TYPE;
    type Reader = OptionReader<T::Reader>;
}

/// Builds a result column; the macro sizes it for `nrows`.
pub trait RetBuilder: Sized {
    /// Room for `nrows` rows; variable-length builders also reserve
    /// `data_hint` bytes (see [`data_hint`]).
    fn with_rows(nrows: usize, data_hint: usize) -> Self;
    /// Appends a null row.
    fn push_null(&mut self);
    /// The array.
    fn finish(self) -> ArrayData;
}

impl<T: PrimitiveType> RetBuilder for PrimitiveBuilder<T> {
    fn with_rows(nrows: usize, _: usize) -> Self {
        PrimitiveBuilder::with_capacity(nrows)
    }
    #[inline(always)]
    fn push_null(&mut self) {
        PrimitiveBuilder::push_null(self)
    }
    fn finish(self) -> ArrayData {
        PrimitiveBuilder::finish(self)
    }
}

impl RetBuilder for BooleanBuilder {
    fn with_rows(nrows: usize, _: usize) -> Self {
        BooleanBuilder::with_capacity(nrows)
    }
    #[inline(always)]
    fn push_null(&mut self) {
        BooleanBuilder::push_null(self)
    }
    fn finish(self) -> ArrayData {
        BooleanBuilder::finish(self)
    }
}

impl RetBuilder for StringBuilder {
    fn with_rows(nrows: usize, data_hint: usize) -> Self {
        StringBuilder::with_capacity(nrows, data_hint)
    }
    #[inline(always)]
    fn push_null(&mut self) {
        StringBuilder::push_null(self)
    }
    fn finish(self) -> ArrayData {
        StringBuilder::finish(self)
    }
}

impl RetBuilder for BinaryBuilder {
    fn with_rows(nrows: usize, data_hint: usize) -> Self {
        BinaryBuilder::with_capacity(nrows, data_hint)
    }
    #[inline(always)]
    fn push_null(&mut self) {
        BinaryBuilder::push_null(self)
    }
    fn finish(self) -> ArrayData {
        BinaryBuilder::finish(self)
    }
}

/// A Rust return type: its ABI type and how to append it to the result.
pub trait IntoRet: Sized {
    /// The ABI type string.
    const TYPE: &'static str;
    /// The ABI type.
    const DATA_TYPE: DataType;
    /// Builds the result column.
    type Builder: RetBuilder;
    /// Appends one row; `Err` fails the whole call with that message.
    fn push(self, builder: &mut Self::Builder) -> Result<(), String>;

    /// The result of `f(0)`, `f(1)`, ... `f(nrows - 1)`, called in that
    /// order and only for those rows (generated code relies on it). Plain
    /// fixed-width values override this with a straight collect into a Vec.
    #[inline(always)]
    fn collect_rows<F: FnMut(usize) -> Self>(
        nrows: usize,
        data_hint: usize,
        mut f: F,
    ) -> Result<ArrayData, String> {
        let mut builder = Self::Builder::with_rows(nrows, data_hint);
        for row in 0..nrows {
            f(row).push(&mut builder)?;
        }
        Ok(builder.finish())
    }
}

macro_rules! prim_ret {
    ($($t:ty),*) => {$(
        impl IntoRet for $t {
            const TYPE: &'static str = <$t as PrimitiveType>::TYPE_NAME;
            const DATA_TYPE: DataType = <$t as PrimitiveType>::DATA_TYPE;
            type Builder = PrimitiveBuilder<$t>;
            #[inline(always)]
            fn push(self, builder: &mut Self::Builder) -> Result<(), String> {
                builder.push(self);
                Ok(())
            }
            #[inline(always)]
            fn collect_rows<F: FnMut(usize) -> Self>(
                nrows: usize,
                _: usize,
                f: F,
            ) -> Result<ArrayData, String> {
                Ok(ArrayData::primitive(crate::map_rows(nrows, f), None))
            }
        }
    )*};
}

prim_ret!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    Date32,
    TimestampMicros,
    TimestampMicrosUtc
);

impl IntoRet for bool {
    const TYPE: &'static str = simple_name(DataType::Boolean);
    const DATA_TYPE: DataType = DataType::Boolean;
    type Builder = BooleanBuilder;
    #[inline(always)]
    fn push(self, builder: &mut BooleanBuilder) -> Result<(), String> {
        builder.push(self);
        Ok(())
    }
}

macro_rules! var_ret {
    ($builder:ident, $dt:expr, $($t:ty => |$v:ident| $as:expr;)*) => {$(
        impl<'a> IntoRet for $t {
            const TYPE: &'static str = simple_name($dt);
            const DATA_TYPE: DataType = $dt;
            type Builder = $builder;
            #[inline(always)]
            fn push(self, builder: &mut $builder) -> Result<(), String> {
                let $v = &self;
                builder.push($as);
                Ok(())
            }
        }
    )*};
}

var_ret!(StringBuilder, DataType::Utf8,
    String => |v| v.as_str();
    &'a str => |v| v;
    Cow<'a, str> => |v| v.as_ref();
    Box<str> => |v| v.as_ref();
);
var_ret!(BinaryBuilder, DataType::Binary,
    Vec<u8> => |v| v.as_slice();
    &'a [u8] => |v| v;
    Cow<'a, [u8]> => |v| v.as_ref();
    Box<[u8]> => |v| v.as_ref();
);

impl<T: IntoRet> IntoRet for Option<T> {
    const TYPE: &'static str = T::TYPE;
    const DATA_TYPE: DataType = T::DATA_TYPE;
    type Builder = T::Builder;
    #[inline(always)]
    fn push(self, builder: &mut T::Builder) -> Result<(), String> {
        match self {
            Some(value) => value.push(builder),
            None => {
                builder.push_null();
                Ok(())
            }
        }
    }
}

impl<T: IntoRet, E: Display> IntoRet for Result<T, E> {
    const TYPE: &'static str = T::TYPE;
    const DATA_TYPE: DataType = T::DATA_TYPE;
    type Builder = T::Builder;
    #[inline(always)]
    fn push(self, builder: &mut T::Builder) -> Result<(), String> {
        match self {
            Ok(value) => value.push(builder),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Bytes to reserve for a variable-length result: as many as the largest
/// utf8/binary argument holds (a constant counted once per row), at least 8
/// per row, at most 64 MiB. Most string functions return about what they
/// read, and one reservation beats growing the buffer row by row.
pub fn data_hint(views: &[ArrayView<'_>], nrows: usize) -> usize {
    let largest = views
        .iter()
        .filter(|v| v.data_type().is_variable())
        .map(|v| {
            if v.len() == nrows {
                v.data().len()
            } else {
                v.data().len().saturating_mul(nrows)
            }
        })
        .max()
        .unwrap_or(0);
    largest.max(nrows.saturating_mul(8)).min(64 << 20)
}

/// What a batch function may return.
pub trait IntoBatchResult {
    /// The result, or the message that fails the call.
    fn into_batch_result(self) -> Result<ArrayData, String>;
}

impl IntoBatchResult for ArrayData {
    fn into_batch_result(self) -> Result<ArrayData, String> {
        Ok(self)
    }
}

impl<E: Display> IntoBatchResult for Result<ArrayData, E> {
    fn into_batch_result(self) -> Result<ArrayData, String> {
        self.map_err(|e| e.to_string())
    }
}

/// The body of one function: the arguments (checked against the declared
/// types, each 1 or `nrows` rows long) to the result.
pub type Body = for<'a> fn(&'a [ArrayView<'a>], usize) -> Result<ArrayData, String>;

/// Hands a call's outcome to the host: `write` the result and return 0, or
/// the message into `err` and return 1.
///
/// # Safety
/// `err` is the address of the host's error struct: 4-byte aligned and
/// writable (**\[out\]** in [`crate::ffi`]).
unsafe fn answer<T>(result: Result<T, String>, err: i32, write: impl FnOnce(T)) -> i32 {
    match result {
        Ok(value) => {
            write(value);
            0
        }
        Err(message) => {
            // SAFETY: write_error needs a non-null, aligned, writable
            // WasqlError: this function's contract for err.
            unsafe { write_error(guest_ptr(err as u32), &message) };
            1
        }
    }
}

/// A count passed as `i32`.
fn count(value: i32, what: &str) -> Result<usize, String> {
    usize::try_from(value).map_err(|_| format!("called with {value} {what}"))
}

/// Views of the `nargs` argument structs at `args`, checked against the
/// declared types, each 1 or `nrows` rows long.
///
/// # Safety
/// `args` points to `nargs` `ArrowArray` structs laid out as udfs/ABI.md §4
/// says, which the host keeps valid and unchanged, with their buffers, for
/// `'a` (**\[args\]**, \[call\], \[aligned\] in [`crate::ffi`]).
unsafe fn read_args<'a>(
    args: i32,
    nargs: i32,
    nrows: usize,
    arg_types: &[DataType],
) -> Result<Vec<ArrayView<'a>>, String> {
    if usize::try_from(nargs).ok() != Some(arg_types.len()) {
        return Err(format!(
            "called with {nargs} arguments, the function takes {}",
            arg_types.len()
        ));
    }
    let mut views: Vec<ArrayView<'a>> = Vec::with_capacity(arg_types.len());
    for (i, &data_type) in arg_types.iter().enumerate() {
        // SAFETY: add needs the result inside the same allocation: i <
        // arg_types.len() = nargs (checked above), and args points to nargs
        // consecutive structs (this function's contract).
        let array = unsafe { guest_ptr::<ArrowArray>(args as u32).add(i) };
        // SAFETY: from_ffi needs an aligned ArrowArray laid out per §4 for
        // data_type, valid with its buffers for 'a: this function's contract
        // for each of the nargs structs. (It checks the header and returns an
        // error for a wrong one.)
        let view = unsafe { ArrayView::from_ffi(array, data_type) }
            .map_err(|e| format!("argument {}: {e}", i + 1))?;
        if view.len() != nrows && view.len() != 1 {
            return Err(format!(
                "argument {} has {} rows in a batch of {nrows}",
                i + 1,
                view.len()
            ));
        }
        views.push(view);
    }
    Ok(views)
}

/// `len` u32 values at guest address `ptr` (which may be 0 when `len` is).
///
/// # Safety
/// When `len > 0`, `ptr` is 4-byte aligned and valid for reading `len`
/// `u32`s that stay unchanged for `'a` (**\[extras\]**, \[aligned\],
/// \[call\] in [`crate::ffi`]).
unsafe fn u32s<'a>(ptr: i32, len: usize) -> &'a [u32] {
    if len == 0 {
        return &[];
    }
    // SAFETY: from_raw_parts needs a non-null, aligned pointer valid for len
    // initialised u32's for 'a: this function's contract (len > 0 here; any
    // bits are a valid u32; a wasm32 address range is far below isize::MAX).
    unsafe { std::slice::from_raw_parts(guest_ptr::<u32>(ptr as u32), len) }
}

/// Runs one call of a function export (udfs/ABI.md §3): reads the
/// arguments, runs `body`, checks and exports the result or writes the error.
///
/// # Safety
/// The arguments are the export's, from a host keeping to udfs/ABI.md §3:
/// `args` points to `nargs` argument structs (**\[args\]**), `out` to a
/// writable result struct and `err` to a writable error struct
/// (**\[out\]**), all aligned and valid for the call (see [`crate::ffi`]).
#[allow(clippy::too_many_arguments)]
pub unsafe fn run(
    args: i32,
    nargs: i32,
    nrows: i32,
    out: i32,
    err: i32,
    arg_types: &[DataType],
    returns: DataType,
    body: Body,
) -> i32 {
    // SAFETY: call needs what run needs: this function's contract.
    let result = unsafe { call(args, nargs, nrows, arg_types, returns, body) };
    // SAFETY: answer needs err writable and export_array needs out writable
    // for one ArrowArray, both aligned: this function's contract ([out]).
    unsafe {
        answer(result, err, |data| {
            export_array(guest_ptr(out as u32), data)
        })
    }
}

/// Reads the arguments, runs `body` and checks the result's length and
/// type.
///
/// # Safety
/// As [`run`] (of `args` and `nargs`).
unsafe fn call(
    args: i32,
    nargs: i32,
    nrows: i32,
    arg_types: &[DataType],
    returns: DataType,
    body: Body,
) -> Result<ArrayData, String> {
    let nrows = count(nrows, "rows")?;
    // SAFETY: read_args needs args to point to nargs valid structs for the
    // call: this function's contract.
    let views = unsafe { read_args(args, nargs, nrows, arg_types) }?;
    let data = body(&views, nrows)?;
    if data.len() != nrows {
        return Err(format!(
            "the function returned {} rows for a batch of {nrows}",
            data.len()
        ));
    }
    if data.data_type() != returns {
        return Err(format!(
            "the function returned {} but declared {returns}",
            data.data_type()
        ));
    }
    Ok(data)
}

/// What a table function may return: `()` or `Result<(), E>`.
pub trait TableResult {
    /// `Err` fails the call with the message.
    fn into_result(self) -> Result<(), String>;
}

impl TableResult for () {
    #[inline(always)]
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> TableResult for Result<(), E> {
    #[inline(always)]
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// The body of one table function: the arguments, `nrows` and the parts'
/// bounds to the part numbers and the columns.
pub type TableBody =
    for<'a> fn(&'a [ArrayView<'a>], usize, &[u32]) -> Result<Vec<ArrayData>, String>;

/// Checks a table call's `nparts + 1` bounds: from 0 to `nrows`, never
/// decreasing.
pub fn check_bounds(bounds: &[u32], nrows: usize) -> Result<(), String> {
    let ok = bounds.first() == Some(&0)
        && bounds.last().map(|&b| b as usize) == Some(nrows)
        && bounds.windows(2).all(|w| w[0] <= w[1]);
    if ok {
        Ok(())
    } else {
        Err(format!("invalid part bounds for {nrows} rows"))
    }
}

/// Runs one call of a table function export (udfs/ABI.md §9).
///
/// # Safety
/// The arguments are the export's, from a host keeping to udfs/ABI.md §9:
/// `args` and `nargs` as for [`run`], `bounds` pointing to `nparts + 1`
/// `u32`s (**\[extras\]**), `out` to `1 + ncolumns` writable result structs
/// where `ncolumns` is what `body` returns minus one (the description's
/// columns), and `err` to a writable error struct (**\[out\]**).
#[allow(clippy::too_many_arguments)]
pub unsafe fn run_table(
    args: i32,
    nargs: i32,
    nrows: i32,
    bounds: i32,
    nparts: i32,
    out: i32,
    err: i32,
    arg_types: &[DataType],
    body: TableBody,
) -> i32 {
    let result = (|| {
        let nrows = count(nrows, "rows")?;
        let nparts = count(nparts, "parts")?;
        // SAFETY: read_args needs nargs valid argument structs at args, and
        // u32s needs nparts + 1 readable, aligned u32's at bounds (non-zero
        // length): this function's contract.
        let (views, bounds) = unsafe {
            (
                read_args(args, nargs, nrows, arg_types)?,
                u32s(bounds, nparts + 1),
            )
        };
        body(&views, nrows, bounds)
    })();
    let out = guest_ptr::<ArrowArray>(out as u32);
    // SAFETY: add and export_array need out.add(i) inside the host's
    // 1 + ncolumns writable, aligned structs, and answer needs err writable:
    // this function's contract; body returns 1 + ncolumns arrays (the
    // Emitter's parts and columns, as #[udf] declared them).
    unsafe {
        answer(result, err, |arrays| {
            for (i, data) in arrays.into_iter().enumerate() {
                export_array(out.add(i), data);
            }
        })
    }
}

/// The accumulator behind an aggregate handle.
///
/// # Safety
/// `acc` came from [`agg_new`] for the same `A`, is not dropped, and no
/// other reference to its accumulator is in use during `'h`
/// (**\[handles\]**, \[call\] in [`crate::ffi`]).
unsafe fn accumulator<'h, A>(acc: i32) -> &'h mut Accumulator<A> {
    // SAFETY: a unique reference needs a non-null, aligned pointer to a live
    // Accumulator<A> that nothing else references: agg_new made it with
    // Box::into_raw for this A, agg_drop has not freed it, and the caller
    // holds no other reference (this function's contract).
    unsafe { &mut *guest_ptr::<Accumulator<A>>(acc as u32) }
}

/// `E_new` (udfs/ABI.md §8): a handle to a new accumulator.
pub fn agg_new<A: Aggregate>() -> i32 {
    guest_address(Box::into_raw(Box::new(Accumulator::<A>::default()))) as i32
}

/// `E_update`.
///
/// # Safety
/// The arguments are the export's, from a host keeping to udfs/ABI.md §8:
/// `acc` a live handle of this `A` (**\[handles\]**), `args` and `nargs` as
/// for [`run`], `groups` pointing to `nrows` `u32`s (**\[extras\]**), `err`
/// a writable error struct (**\[out\]**).
#[allow(clippy::too_many_arguments)]
pub unsafe fn agg_update<A: FoldRows>(
    acc: i32,
    args: i32,
    nargs: i32,
    nrows: i32,
    groups: i32,
    ngroups: i32,
    err: i32,
) -> i32 {
    let result = (|| {
        let nrows = count(nrows, "rows")?;
        // SAFETY: accumulator needs a live handle of A, not otherwise
        // referenced; read_args nargs valid argument structs; u32s nrows
        // readable u32's at groups: this function's contract (one call at a
        // time, so no other reference to the accumulator).
        let (acc, views, ids) = unsafe {
            (
                accumulator::<A>(acc),
                read_args(args, nargs, nrows, A::ARG_TYPES)?,
                u32s(groups, nrows),
            )
        };
        acc.update(&views, ids, count(ngroups, "groups")?)
    })();
    // SAFETY: answer needs err to be a writable error struct: this
    // function's contract.
    unsafe { answer(result, err, |()| ()) }
}

/// `E_merge`.
///
/// # Safety
/// The arguments are the export's, from a host keeping to udfs/ABI.md §8:
/// `acc` a live handle of this `A` (**\[handles\]**), `states` a `binary`
/// argument struct of `nrows` rows (**\[args\]**), `groups` pointing to
/// `nrows` `u32`s (**\[extras\]**), `err` a writable error struct
/// (**\[out\]**).
pub unsafe fn agg_merge<A: Aggregate>(
    acc: i32,
    states: i32,
    nrows: i32,
    groups: i32,
    ngroups: i32,
    err: i32,
) -> i32 {
    let result = (|| {
        let nrows = count(nrows, "rows")?;
        // SAFETY: accumulator needs a live handle of A, not otherwise
        // referenced; from_ffi an aligned binary ArrowArray valid for the
        // call; u32s nrows readable u32's at groups: this function's
        // contract.
        let (acc, states, ids) = unsafe {
            (
                accumulator::<A>(acc),
                ArrayView::from_ffi(guest_ptr::<ArrowArray>(states as u32), DataType::Binary)
                    .map_err(|e| format!("states: {e}"))?,
                u32s(groups, nrows),
            )
        };
        acc.merge(&states, ids, count(ngroups, "groups")?)
    })();
    // SAFETY: answer needs err to be a writable error struct: this
    // function's contract.
    unsafe { answer(result, err, |()| ()) }
}

/// `E_state` (`finish == false`) or `E_finish`.
///
/// # Safety
/// The arguments are the export's, from a host keeping to udfs/ABI.md §8:
/// `acc` a live handle of this `A` (**\[handles\]**), `out` a writable
/// result struct and `err` a writable error struct (**\[out\]**).
pub unsafe fn agg_emit<A: Aggregate>(acc: i32, n: i32, out: i32, err: i32, finish: bool) -> i32 {
    let result = count(n, "groups").and_then(|n| {
        // SAFETY: accumulator needs a live handle of A, not otherwise
        // referenced: this function's contract.
        let acc = unsafe { accumulator::<A>(acc) };
        if finish { acc.finish(n) } else { acc.state(n) }
    });
    // SAFETY: answer needs err writable and export_array needs out
    // writable for one ArrowArray, both aligned: this function's contract.
    unsafe {
        answer(result, err, |data| {
            export_array(guest_ptr(out as u32), data)
        })
    }
}

/// `E_drop`.
///
/// # Safety
/// `acc` is 0 or came from [`agg_new`] for the same `A`, is not dropped
/// yet, and is not used again (**\[handles\]** in [`crate::ffi`]).
pub unsafe fn agg_drop<A: Aggregate>(acc: i32) {
    if acc != 0 {
        // SAFETY: Box::from_raw needs a pointer from Box::into_raw of the
        // same type, not freed since and not used after: agg_new leaked a
        // Box<Accumulator<A>>, and this function's contract has it live and
        // dropped once.
        drop(unsafe { Box::from_raw(guest_ptr::<Accumulator<A>>(acc as u32)) });
    }
}

/// Total length of `parts`.
pub const fn json_len(parts: &[&str]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < parts.len() {
        total += parts[i].len();
        i += 1;
    }
    total
}

/// `parts` concatenated into `N` bytes (`N` must be [`json_len`]).
pub const fn json_bytes<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        let bytes = parts[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            out[at] = bytes[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(at == N, "description length mismatch");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitmap::Bitmap;

    #[test]
    fn json_concatenation() {
        const PARTS: &[&str] = &["{\"a\":", "1", "}\n"];
        const LEN: usize = json_len(PARTS);
        static BYTES: [u8; LEN] = json_bytes(PARTS);
        assert_eq!(&BYTES, b"{\"a\":1}\n");
    }

    #[test]
    fn readers_broadcast_constants_and_propagate_nulls() {
        let validity = Bitmap::from_iter([true, false, true]);
        let column = ArrayView::from_values(&[1i64, 2, 3], Some(validity.as_ref()));
        let constant = ArrayView::from_values(&[10i64], None);
        let r = PrimReader::<i64>::new(&column, 3).unwrap();
        let c = PrimReader::<i64>::new(&constant, 3).unwrap();
        assert!(!r.dense(), "a column with nulls");
        assert!(c.dense(), "a non-null constant is broadcast");
        // SAFETY: get_dense needs row < nrows = 3 and a dense reader
        // (asserted just above).
        assert_eq!(unsafe { c.get_dense(2) }, 10);
        // SAFETY: get needs rows < nrows = 3: 0, 1 and 2.
        unsafe {
            assert_eq!(
                (0..3).map(|i| r.get(i)).collect::<Vec<_>>(),
                [Some(1), None, Some(3)]
            );
            assert_eq!((0..3).map(|i| c.get(i)).collect::<Vec<_>>(), [Some(10); 3]);
        }
        let o = OptionReader::<PrimReader<'_, i64>>::new(&column, 3).unwrap();
        // SAFETY: get needs row < nrows = 3.
        assert_eq!(unsafe { o.get(1) }, Some(None));
        assert!(PrimReader::<i64>::new(&column, 4).is_err());
        assert!(PrimReader::<f64>::new(&column, 3).is_err());
    }

    #[test]
    fn string_reader() {
        let mut b = StringBuilder::with_capacity(2, 0);
        b.push("ab");
        b.push("cde");
        let data = b.finish();
        let view = data.view();
        let r = StrReader::new(&view, 2).unwrap();
        assert!(r.dense());
        // SAFETY: get_dense and get need rows < nrows = 2, and get_dense a
        // dense reader (asserted just above).
        unsafe {
            assert_eq!(r.get_dense(1), "cde");
            assert_eq!(r.get(0), Some("ab"));
        }
        assert!(BinReader::new(&view, 2).is_err(), "utf8 is not binary");
    }

    #[test]
    fn results_push_values_nulls_and_errors() {
        let mut b = <Option<f64> as IntoRet>::Builder::with_rows(3, 0);
        Some(1.0).push(&mut b).unwrap();
        None::<f64>.push(&mut b).unwrap();
        let err = Err::<f64, _>("bad row").push(&mut b).unwrap_err();
        assert_eq!(err, "bad row");
        Ok::<_, String>(Some(2.0)).push(&mut b).unwrap();
        let data = b.finish();
        assert_eq!(data.view().values::<f64>(), &[1.0, 0.0, 2.0]);
        assert_eq!(data.null_count(), 1);
        assert_eq!(<Result<Option<&str>, String> as IntoRet>::TYPE, "utf8");
        assert_eq!(
            <Option<Cow<'_, [u8]>> as IntoRet>::DATA_TYPE,
            DataType::Binary
        );
    }
}
