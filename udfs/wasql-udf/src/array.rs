//! Arrays: [`ArrayView`] borrows an argument, [`ArrayData`] owns a result,
//! and the builders make results row by row.

use std::alloc::{Layout, dealloc};
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, align_of, size_of};
use std::ptr::NonNull;

use crate::bitmap::{Bitmap, BitmapRef};
use crate::types::{DataType, NativeType, PrimitiveType};

/// An owned, aligned block of memory holding one Arrow buffer.
pub struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
    align: usize,
}

// SAFETY: Send needs that moving a Buffer to another thread is sound: it
// owns its allocation outright (no other handle to it exists, like Vec<u8>),
// and the global allocator frees from any thread.
unsafe impl Send for Buffer {}
// SAFETY: Sync needs that &Buffer is safe to share: through & a Buffer only
// reads its bytes (as_slice, as_ptr); nothing mutates through a shared
// reference.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Takes over a vector's allocation (no copy).
    pub fn from_vec<T: Copy>(values: Vec<T>) -> Buffer {
        let mut values = ManuallyDrop::new(values);
        let ptr =
            NonNull::new(values.as_mut_ptr().cast::<u8>()).expect("Vec pointers are non-null");
        Buffer {
            ptr,
            len: values.len() * size_of::<T>(),
            cap: values.capacity() * size_of::<T>(),
            align: align_of::<T>(),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: from_raw_parts needs ptr non-null, aligned for u8, valid
        // for len initialised bytes that are not mutated while borrowed:
        // ptr/len are a Vec's pointer and length in bytes (from_vec, whose T
        // is Copy, so the bytes are initialised plain data), the Buffer owns
        // them until drop, and &self keeps them from being freed or changed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The address (non-zero, also when empty).
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.cap != 0 {
            // SAFETY: dealloc needs a live block of this allocator with this
            // exact layout: a non-zero cap means from_vec took a Vec<T>'s
            // allocation of capacity * size_of::<T>() = cap bytes with
            // align_of::<T>() = align (a valid layout, since the Vec had
            // it), and drop runs once. (cap 0: Vec never allocated.)
            unsafe {
                dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.cap, self.align),
                )
            }
        }
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer").field("len", &self.len).finish()
    }
}

/// An owned array: a function's result, handed to the host.
#[derive(Debug)]
pub struct ArrayData {
    data_type: DataType,
    len: usize,
    null_count: i64,
    validity: Option<Buffer>,
    /// The buffers after validity: values, or offsets and data.
    buffers: Vec<Buffer>,
}

/// Validity as exported: `None` when every row is valid.
fn validity_buffer(validity: Option<Bitmap>, len: usize) -> (Option<Buffer>, usize) {
    match validity {
        None => (None, 0),
        Some(bitmap) => {
            assert!(
                bitmap.len() >= len,
                "a validity bitmap of {} bits for {len} rows",
                bitmap.len()
            );
            let nulls = BitmapRef::new(bitmap.as_bytes(), len).count_zeros();
            if nulls == 0 {
                (None, 0)
            } else {
                (Some(Buffer::from_vec(bitmap.into_bytes())), nulls)
            }
        }
    }
}

fn check_offsets(offsets: &[i32], data_len: usize) -> Result<usize, String> {
    let Some((&first, rest)) = offsets.split_first() else {
        return Err("offsets must hold at least one entry".into());
    };
    if first < 0 {
        return Err(format!("the first offset is {first}"));
    }
    let mut previous = first;
    for (row, &offset) in rest.iter().enumerate() {
        if offset < previous {
            return Err(format!("offset {} decreases at row {row}", offset));
        }
        previous = offset;
    }
    if previous as usize > data_len {
        return Err(format!(
            "the last offset {previous} is past the {data_len}-byte data buffer"
        ));
    }
    Ok(offsets.len() - 1)
}

impl ArrayData {
    /// A fixed-width array of `values`; `validity` (at least `values.len()`
    /// bits, 1 = valid) marks nulls. Rows under a null keep whatever value.
    ///
    /// # Panics
    /// If `validity` is shorter than `values`.
    pub fn primitive<T: PrimitiveType>(values: Vec<T>, validity: Option<Bitmap>) -> ArrayData {
        let len = values.len();
        let (validity, nulls) = validity_buffer(validity, len);
        ArrayData {
            data_type: T::DATA_TYPE,
            len,
            null_count: nulls as i64,
            validity,
            buffers: vec![Buffer::from_vec(values)],
        }
    }

    /// A `decimal128(precision, scale)` array of unscaled `values`.
    ///
    /// # Panics
    /// If `validity` is shorter than `values`, or precision/scale are outside
    /// what the ABI allows.
    pub fn decimal128(
        values: Vec<i128>,
        validity: Option<Bitmap>,
        precision: u8,
        scale: i8,
    ) -> ArrayData {
        assert!(
            (1..=38).contains(&precision) && scale.unsigned_abs() <= precision,
            "decimal128({precision},{scale}) is not a valid type"
        );
        let len = values.len();
        let (validity, nulls) = validity_buffer(validity, len);
        ArrayData {
            data_type: DataType::Decimal128(precision, scale),
            len,
            null_count: nulls as i64,
            validity,
            buffers: vec![Buffer::from_vec(values)],
        }
    }

    /// A boolean array of `values.len()` rows.
    ///
    /// # Panics
    /// If `validity` is shorter than `values`.
    pub fn boolean(values: Bitmap, validity: Option<Bitmap>) -> ArrayData {
        let len = values.len();
        let (validity, nulls) = validity_buffer(validity, len);
        ArrayData {
            data_type: DataType::Boolean,
            len,
            null_count: nulls as i64,
            validity,
            buffers: vec![Buffer::from_vec(values.into_bytes())],
        }
    }

    /// A `utf8` array from Arrow's parts: `rows + 1` offsets into `data`.
    /// Checks the offsets and that every row is valid UTF-8.
    pub fn utf8_from_parts(
        offsets: Vec<i32>,
        data: Vec<u8>,
        validity: Option<Bitmap>,
    ) -> Result<ArrayData, String> {
        let rows = check_offsets(&offsets, data.len())?;
        for row in 0..rows {
            let bytes = &data[offsets[row] as usize..offsets[row + 1] as usize];
            if let Err(e) = std::str::from_utf8(bytes) {
                return Err(format!("row {row} is not valid UTF-8: {e}"));
            }
        }
        // SAFETY: var_unchecked needs valid offsets into data and, for
        // utf8, UTF-8 rows: check_offsets and the loop above just checked
        // both.
        Ok(unsafe { Self::var_unchecked(DataType::Utf8, offsets, data, validity) })
    }

    /// A `utf8` array from Arrow's parts, unchecked.
    ///
    /// # Safety
    /// `offsets` holds `rows + 1` entries, starts at 0 or more, never
    /// decreases, ends inside `data`, and every row is valid UTF-8. (Breaking
    /// this makes [`ArrayData::view`] unsound; the host would refuse the
    /// result anyway.)
    pub unsafe fn utf8_from_parts_unchecked(
        offsets: Vec<i32>,
        data: Vec<u8>,
        validity: Option<Bitmap>,
    ) -> ArrayData {
        // SAFETY: the caller guarantees what var_unchecked needs (the same
        // contract).
        unsafe { Self::var_unchecked(DataType::Utf8, offsets, data, validity) }
    }

    /// A `binary` array from Arrow's parts: `rows + 1` offsets into `data`.
    pub fn binary_from_parts(
        offsets: Vec<i32>,
        data: Vec<u8>,
        validity: Option<Bitmap>,
    ) -> Result<ArrayData, String> {
        check_offsets(&offsets, data.len())?;
        // SAFETY: var_unchecked needs valid offsets into data (binary rows
        // may hold any bytes): check_offsets just checked them.
        Ok(unsafe { Self::var_unchecked(DataType::Binary, offsets, data, validity) })
    }

    /// A utf8 or binary array of `offsets` into `data`, unchecked.
    ///
    /// # Safety
    /// `data_type` is `utf8` or `binary`; otherwise as
    /// [`ArrayData::utf8_from_parts_unchecked`] (rows valid UTF-8 only for
    /// `utf8`).
    unsafe fn var_unchecked(
        data_type: DataType,
        offsets: Vec<i32>,
        data: Vec<u8>,
        validity: Option<Bitmap>,
    ) -> ArrayData {
        let len = offsets.len().saturating_sub(1);
        let (validity, nulls) = validity_buffer(validity, len);
        ArrayData {
            data_type,
            len,
            null_count: nulls as i64,
            validity,
            buffers: vec![Buffer::from_vec(offsets), Buffer::from_vec(data)],
        }
    }

    /// `len` rows of NULL.
    pub fn new_null(data_type: DataType, len: usize) -> ArrayData {
        let validity = Some(Bitmap::new(len, false));
        match data_type {
            DataType::Boolean => ArrayData::boolean(Bitmap::new(len, false), validity),
            DataType::Utf8 | DataType::Binary => {
                // SAFETY: var_unchecked needs len + 1 offsets, from 0 or more,
                // never decreasing, ending inside data, rows valid UTF-8:
                // all zeros into an empty buffer is that (every row empty).
                unsafe { Self::var_unchecked(data_type, vec![0; len + 1], Vec::new(), validity) }
            }
            other => {
                let width = other.byte_width().expect("fixed width");
                let (validity, nulls) = validity_buffer(validity, len);
                ArrayData {
                    data_type,
                    len,
                    null_count: nulls as i64,
                    validity,
                    buffers: vec![Buffer::from_vec(vec![0u8; width * len])],
                }
            }
        }
    }

    /// An array from raw parts with **no checks at all**: for testing hosts
    /// against broken results.
    ///
    /// # Safety
    /// Only [`ArrayData::view`] reads the buffers back; it is unsound unless
    /// the parts form a valid array of `data_type`.
    pub unsafe fn from_parts_unchecked(
        data_type: DataType,
        len: usize,
        null_count: i64,
        validity: Option<Buffer>,
        buffers: Vec<Buffer>,
    ) -> ArrayData {
        ArrayData {
            data_type,
            len,
            null_count,
            validity,
            buffers,
        }
    }

    /// The ABI type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Null rows (as exported: `-1` would mean unknown).
    pub fn null_count(&self) -> i64 {
        self.null_count
    }

    /// The validity buffer, if any row is null.
    pub fn validity_buffer(&self) -> Option<&Buffer> {
        self.validity.as_ref()
    }

    /// The buffers after validity.
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers
    }

    pub(crate) fn into_parts(self) -> (DataType, usize, i64, Option<Buffer>, Vec<Buffer>) {
        (
            self.data_type,
            self.len,
            self.null_count,
            self.validity,
            self.buffers,
        )
    }

    /// Reads the array back, e.g. to test a function on the host.
    pub fn view(&self) -> ArrayView<'_> {
        let validity = self
            .validity
            .as_ref()
            .map(|b| BitmapRef::new(b.as_slice(), self.len));
        let (values, data) = match self.data_type {
            DataType::Utf8 | DataType::Binary => {
                (self.buffers[0].as_slice(), self.buffers[1].as_slice())
            }
            _ => (self.buffers[0].as_slice(), &[][..]),
        };
        ArrayView {
            data_type: self.data_type,
            len: self.len,
            null_count: self.null_count.max(0) as usize,
            validity,
            values: values.as_ptr(),
            values_len: values.len(),
            data,
            _owned: None,
            _life: PhantomData,
        }
    }
}

/// 16 aligned bytes: storage for a copy of a misaligned input buffer.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Align16([u8; 16]);

/// A borrowed array: one argument of a call.
///
/// An argument holds either `nrows` rows or exactly one (a constant for every
/// row); see [`ArrayView::is_scalar`].
///
/// Invariant (what the accessors' `unsafe` relies on; every constructor
/// establishes it): `values` is valid for `values_len` bytes for `'a` (or
/// while `_owned`, which backs it, lives), unchanged while the view exists,
/// aligned for the type's storage (4 for offsets, 1 for bits), and
/// `values_len` is [`values_len_of`]`(data_type, len)`: `len` values, or
/// `ceil(len / 8)` bytes of bits, or `len + 1` offsets; the offsets of a
/// utf8 or binary array never decrease, start at 0 or more and end inside
/// `data`, and each utf8 row is valid UTF-8.
#[derive(Debug)]
pub struct ArrayView<'a> {
    data_type: DataType,
    len: usize,
    null_count: usize,
    validity: Option<BitmapRef<'a>>,
    /// Values (fixed width), value bits (boolean) or offsets (utf8, binary).
    values: *const u8,
    values_len: usize,
    /// The data of utf8 and binary.
    data: &'a [u8],
    /// Backs `values` when the input buffer was misaligned.
    _owned: Option<Vec<Align16>>,
    _life: PhantomData<&'a [u8]>,
}

impl std::fmt::Debug for Align16 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Align16")
    }
}

/// `bytes` as a slice usable as `align`-aligned values: borrowed if aligned,
/// copied otherwise.
fn aligned(bytes: &[u8], align: usize) -> (*const u8, Option<Vec<Align16>>) {
    if (bytes.as_ptr() as usize).is_multiple_of(align) {
        (bytes.as_ptr(), None)
    } else {
        let mut copy = vec![Align16([0; 16]); bytes.len().div_ceil(16)];
        // SAFETY: copy_nonoverlapping needs bytes.len() readable bytes at the
        // source, as many writable at the destination, and no overlap: the
        // source is a live slice; copy is a fresh Vec of 16 * ceil(len / 16)
        // >= len bytes (Align16 is 16 plain bytes), so distinct memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                copy.as_mut_ptr().cast::<u8>(),
                bytes.len(),
            )
        };
        (copy.as_ptr().cast::<u8>(), Some(copy))
    }
}

impl<'a> ArrayView<'a> {
    fn from_parts(
        data_type: DataType,
        len: usize,
        validity: Option<BitmapRef<'a>>,
        values: &'a [u8],
        align: usize,
        data: &'a [u8],
    ) -> ArrayView<'a> {
        let validity = validity.filter(|v| v.count_zeros() > 0);
        let null_count = validity.map_or(0, |v| v.count_zeros());
        let (values, owned) = aligned(values, align);
        ArrayView {
            data_type,
            len,
            null_count,
            validity,
            values,
            values_len: values_len_of(data_type, len),
            data,
            _owned: owned,
            _life: PhantomData,
        }
    }

    /// A view of fixed-width `values` (e.g. for testing a batch function).
    ///
    /// # Panics
    /// If `validity` is shorter than `values`.
    pub fn from_values<T: PrimitiveType>(
        values: &'a [T],
        validity: Option<BitmapRef<'a>>,
    ) -> ArrayView<'a> {
        if let Some(v) = validity {
            assert!(v.len() >= values.len(), "validity shorter than values");
        }
        let bytes =
            // SAFETY: from_raw_parts needs a non-null pointer valid for
            // size_of_val(values) initialised bytes for the borrow: values is
            // a live &'a [T] of exactly those bytes, and a NativeType is
            // plain data without padding (its # Safety), so every byte is
            // initialised; u8 needs no alignment.
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values)) };
        Self::from_parts(
            T::DATA_TYPE,
            values.len(),
            validity.map(|v| BitmapRef::new(v.as_bytes(), values.len())),
            bytes,
            align_of::<T>(),
            &[],
        )
    }

    /// A view of boolean `values`.
    pub fn from_booleans(values: BitmapRef<'a>, validity: Option<BitmapRef<'a>>) -> ArrayView<'a> {
        let len = values.len();
        if let Some(v) = validity {
            assert!(v.len() >= len, "validity shorter than values");
        }
        Self::from_parts(
            DataType::Boolean,
            len,
            validity.map(|v| BitmapRef::new(v.as_bytes(), len)),
            &values.as_bytes()[..len.div_ceil(8)],
            1,
            &[],
        )
    }

    /// A view of a host-provided array; checks its header (length, offset,
    /// buffer count, null pointers, a negative last offset) and trusts the
    /// buffers' contents.
    ///
    /// # Safety
    /// `array` is non-null, 8-byte aligned and points to an `ArrowArray` laid
    /// out as udfs/ABI.md §4 and §5 say for `data_type` (the buffer table
    /// holds `n_buffers` addresses; each buffer holds what the type needs for
    /// `length` rows; offsets never decrease and end inside the data; utf8
    /// rows are valid UTF-8), and the struct and its buffers stay valid and
    /// unchanged for `'a` (**\[args\]**, \[call\], \[aligned\] in
    /// [`crate::ffi`]).
    pub(crate) unsafe fn from_ffi(
        array: *const crate::ffi::ArrowArray,
        data_type: DataType,
    ) -> Result<ArrayView<'a>, String> {
        // SAFETY: a shared reference needs a non-null, aligned pointer to an
        // initialised ArrowArray not mutated while borrowed: the caller's
        // contract (any bit pattern is a valid ArrowArray: integers only).
        let array = unsafe { &*array };
        let len = usize::try_from(array.length)
            .map_err(|_| format!("the length {} is negative", array.length))?;
        if array.offset != 0 {
            return Err(format!("the offset is {}, not 0", array.offset));
        }
        let n_buffers = data_type.n_buffers();
        if array.n_buffers != n_buffers as i64 {
            return Err(format!(
                "{} buffers for {data_type}, expected {n_buffers}",
                array.n_buffers
            ));
        }
        let table = crate::ffi::guest_ptr::<u32>(array.buffers);
        if table.is_null() {
            return Err("the buffer table is null".into());
        }
        // SAFETY: (each call) add/read need i < n_buffers, so that the
        // address stays in the table, and a readable u32 there: the calls
        // below pass 0, 1 and, for utf8 and binary only, 2, below n_buffers
        // (checked against the type above); the caller's contract has the
        // table hold n_buffers addresses; read_unaligned needs no alignment.
        let pointer = |i: usize| unsafe { table.add(i).read_unaligned() };
        /// `len` bytes at `ptr` (which may be 0 only when `len` is 0).
        ///
        /// # Safety
        /// A non-zero `ptr` with a non-zero `len` is valid for reading `len`
        /// initialised bytes, unchanged for `'b`.
        unsafe fn bytes<'b>(ptr: u32, len: usize, what: &str) -> Result<&'b [u8], String> {
            if len == 0 {
                return Ok(&[]);
            }
            if ptr == 0 {
                return Err(format!("the {what} buffer is null"));
            }
            // SAFETY: from_raw_parts needs a non-null pointer (checked just
            // above) valid for len bytes for 'b (the caller's contract); u8
            // needs no alignment; len <= isize::MAX because it is inside a
            // 32-bit linear memory.
            Ok(unsafe { std::slice::from_raw_parts(crate::ffi::guest_ptr::<u8>(ptr), len) })
        }
        let bitmap_len = len.div_ceil(8);
        let validity = match pointer(0) {
            0 => None,
            _ if array.null_count == 0 => None,
            // SAFETY: bytes needs ptr valid for ceil(len / 8) bytes for 'a:
            // a non-zero validity pointer holds len bits (§4, [args]).
            ptr => Some(BitmapRef::new(
                unsafe { bytes(ptr, bitmap_len, "validity") }?,
                len,
            )),
        };
        let view = match data_type {
            DataType::Boolean => {
                // SAFETY: bytes needs pointer(1) valid for ceil(len / 8) bytes
                // for 'a: a boolean's value bits ([args]).
                let values = unsafe { bytes(pointer(1), bitmap_len, "values") }?;
                Self::from_parts(data_type, len, validity, values, 1, &[])
            }
            DataType::Utf8 | DataType::Binary => {
                // SAFETY: bytes needs pointer(1) valid for 4 * (len + 1) bytes
                // for 'a: utf8 and binary hold len + 1 i32 offsets ([args]).
                let offsets = unsafe { bytes(pointer(1), 4 * (len + 1), "offsets") }?;
                let (ptr, owned) = aligned(offsets, 4);
                // SAFETY: read needs an aligned, readable i32 at index len:
                // `aligned` returned a 4-aligned pointer to (a copy of) the
                // 4 * (len + 1) offset bytes, alive in `owned` or the host's
                // buffer.
                let last = unsafe { ptr.cast::<i32>().add(len).read() };
                let data_len = usize::try_from(last)
                    .map_err(|_| format!("the last offset {last} is negative"))?;
                // SAFETY: bytes needs pointer(2) valid for data_len bytes for
                // 'a: the data buffer is at least as long as the last offset
                // ([args]).
                let data = unsafe { bytes(pointer(2), data_len, "data") }?;
                let validity = validity.filter(|v| v.count_zeros() > 0);
                ArrayView {
                    data_type,
                    len,
                    null_count: validity.map_or(0, |v| v.count_zeros()),
                    validity,
                    values: ptr,
                    values_len: 4 * (len + 1),
                    data,
                    _owned: owned,
                    _life: PhantomData,
                }
            }
            other => {
                let width = other.byte_width().expect("fixed width");
                // SAFETY: bytes needs pointer(1) valid for width * len bytes
                // for 'a: len values of the type's width ([args]).
                let values = unsafe { bytes(pointer(1), width * len, "values") }?;
                Self::from_parts(data_type, len, validity, values, width, &[])
            }
        };
        Ok(view)
    }

    /// The ABI type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// Rows: the batch's `nrows`, or 1 for a constant.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One row standing for every row of the batch (a SQL constant), when
    /// the batch has more than one row. With `nrows == 1` both readings agree.
    pub fn is_scalar(&self) -> bool {
        self.len == 1
    }

    /// Null rows.
    pub fn null_count(&self) -> usize {
        self.null_count
    }

    /// The validity bitmap; `None` when no row is null.
    pub fn validity(&self) -> Option<BitmapRef<'a>> {
        self.validity
    }

    /// Row `i` is not null.
    ///
    /// # Panics
    /// If `i >= len()`.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        assert!(i < self.len, "row {i} of a {}-row array", self.len);
        self.validity.is_none_or(|v| v.get(i))
    }

    /// Row `i` is null.
    #[inline]
    pub fn is_null(&self, i: usize) -> bool {
        !self.is_valid(i)
    }

    /// The values of a fixed-width array, one per row (null rows hold
    /// anything). `T` may be any type with the same storage: `i32` or
    /// [`crate::Date32`] for `date32`, `i64` for timestamps, `i128` for
    /// decimals.
    ///
    /// # Panics
    /// If `T`'s storage differs from the array's type.
    #[inline]
    pub fn values<T: NativeType>(&self) -> &[T] {
        assert!(
            self.data_type.physical() == Some(T::PHYSICAL),
            "values::<{}>() of a {} array",
            std::any::type_name::<T>(),
            self.data_type
        );
        // SAFETY: from_raw_parts needs a non-null pointer aligned for T,
        // valid for len initialised T's for the borrow: the type invariant
        // gives len values of the array's storage, aligned for it, alive and
        // unchanged for 'a (or by _owned, which &self keeps); T has that
        // storage (asserted above), so the same size and alignment, and every
        // bit pattern is a valid T (NativeType's contract).
        unsafe { std::slice::from_raw_parts(self.values.cast::<T>(), self.len) }
    }

    /// The value bits of a boolean array.
    ///
    /// # Panics
    /// If the array is not `boolean`.
    pub fn bool_values(&self) -> BitmapRef<'_> {
        assert!(
            self.data_type == DataType::Boolean,
            "bool_values() of a {} array",
            self.data_type
        );
        // SAFETY: from_raw_parts needs values valid for values_len bytes for
        // the borrow: the type invariant (a boolean's values_len is
        // ceil(len / 8)).
        BitmapRef::new(
            unsafe { std::slice::from_raw_parts(self.values, self.values_len) },
            self.len,
        )
    }

    /// Row `i` of a boolean array (ignoring validity).
    pub fn bool_value(&self, i: usize) -> bool {
        self.bool_values().get(i)
    }

    /// The `len + 1` offsets of a utf8 or binary array.
    ///
    /// # Panics
    /// If the array is neither.
    pub fn offsets(&self) -> &[i32] {
        assert!(
            self.data_type.is_variable(),
            "offsets() of a {} array",
            self.data_type
        );
        // SAFETY: from_raw_parts needs a 4-aligned pointer valid for len + 1
        // initialised i32's for the borrow: the type invariant for utf8 and
        // binary (asserted above); any bits are a valid i32.
        unsafe { std::slice::from_raw_parts(self.values.cast::<i32>(), self.len + 1) }
    }

    /// The data buffer of a utf8 or binary array (all rows back to back).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Row `i` of a utf8 or binary array as bytes (empty when null).
    ///
    /// # Panics
    /// If the array is neither, or `i >= len()`.
    #[inline]
    pub fn bytes_value(&self, i: usize) -> &[u8] {
        let offsets = self.offsets();
        &self.data[offsets[i] as usize..offsets[i + 1] as usize]
    }

    /// Row `i` of a utf8 array (empty when null).
    ///
    /// # Panics
    /// If the array is not `utf8`, or `i >= len()`.
    #[inline]
    pub fn str_value(&self, i: usize) -> &str {
        assert!(
            self.data_type == DataType::Utf8,
            "str_value() of a {} array",
            self.data_type
        );
        // SAFETY: from_utf8_unchecked needs valid UTF-8: bytes_value slices
        // exactly row i (or panics), and each row of a utf8 view is valid
        // UTF-8 (the type invariant: the host passes Arrow string arrays,
        // [args]; ArrayData's safe constructors check).
        unsafe { std::str::from_utf8_unchecked(self.bytes_value(i)) }
    }
}

fn values_len_of(data_type: DataType, len: usize) -> usize {
    match data_type {
        DataType::Boolean => len.div_ceil(8),
        DataType::Utf8 | DataType::Binary => 4 * (len + 1),
        other => other.byte_width().unwrap_or(0) * len,
    }
}

/// Rows per step of [`map_rows`].
const UNROLL: usize = 8;

/// `f(0)`, `f(1)`, ... `f(nrows - 1)` in a Vec, called in that order,
/// eight rows per loop step. The sandbox checks its deadline once per loop
/// iteration; a step of eight rows (which LLVM also turns into SIMD) makes
/// that check cheap next to a per-row computation of a few instructions.
/// `#[udf]` uses it for fixed-width results; batch functions can too:
///
/// ```
/// let (p, d) = ([10.0, 20.0], [0.5, 0.25]);
/// let net = wasql_udf::map_rows(2, |i| p[i] * (1.0 - d[i]));
/// assert_eq!(net, [5.0, 15.0]);
/// ```
#[inline(always)]
pub fn map_rows<T, F: FnMut(usize) -> T>(nrows: usize, mut f: F) -> Vec<T> {
    let mut values: Vec<T> = Vec::with_capacity(nrows);
    let slots = &mut values.spare_capacity_mut()[..nrows];
    let mut chunks = slots.chunks_exact_mut(UNROLL);
    let mut row = 0;
    for chunk in &mut chunks {
        // Computed into a local array first: no store can alias the loads,
        // so LLVM can turn the eight rows into SIMD operations.
        let step: [T; UNROLL] = std::array::from_fn(|i| f(row + i));
        for (slot, value) in chunk.iter_mut().zip(step) {
            slot.write(value);
        }
        row += UNROLL;
    }
    for slot in chunks.into_remainder() {
        slot.write(f(row));
        row += 1;
    }
    // SAFETY: set_len needs nrows <= capacity and the first nrows elements
    // initialised: the Vec has capacity nrows, and the two loops above wrote
    // every one of the nrows slots (the chunks, then their remainder).
    unsafe { values.set_len(nrows) };
    values
}

/// The rows of a batch where every argument is valid (a constant counts for
/// every row); `None` when no row has a null. The validity of a result that
/// is null wherever an argument is.
pub fn all_valid(args: &[ArrayView<'_>], nrows: usize) -> Option<Bitmap> {
    let mut out: Option<Bitmap> = None;
    for arg in args {
        let Some(validity) = arg.validity() else {
            continue;
        };
        if arg.len() != nrows {
            if !validity.get(0) {
                return Some(Bitmap::new(nrows, false));
            }
            continue;
        }
        match &mut out {
            None => out = Some(validity.to_bitmap()),
            Some(bitmap) => bitmap.and(validity),
        }
    }
    out
}

/// Validity from the rows recorded as null: `None` when there are none.
fn validity_from_nulls(nulls: &[usize], len: usize) -> Option<Bitmap> {
    if nulls.is_empty() {
        return None;
    }
    let mut bitmap = Bitmap::new(len, true);
    for &row in nulls {
        bitmap.set(row, false);
    }
    Some(bitmap)
}

/// Builds a fixed-width result row by row. A value costs one `Vec::push`;
/// nulls are remembered by row and become a bitmap at the end.
#[derive(Debug)]
pub struct PrimitiveBuilder<T: PrimitiveType> {
    values: Vec<T>,
    nulls: Vec<usize>,
}

impl<T: PrimitiveType> PrimitiveBuilder<T> {
    /// Room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        PrimitiveBuilder {
            values: Vec::with_capacity(rows),
            nulls: Vec::new(),
        }
    }

    /// Appends a value.
    #[inline]
    pub fn push(&mut self, value: T) {
        self.values.push(value);
    }

    /// Appends a null.
    #[inline]
    pub fn push_null(&mut self) {
        self.nulls.push(self.values.len());
        self.values.push(T::default());
    }

    /// Appends a value or a null.
    #[inline]
    pub fn push_option(&mut self, value: Option<T>) {
        match value {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No rows yet.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The array.
    pub fn finish(self) -> ArrayData {
        let validity = validity_from_nulls(&self.nulls, self.values.len());
        ArrayData::primitive(self.values, validity)
    }
}

/// Builds a boolean result row by row.
#[derive(Debug)]
pub struct BooleanBuilder {
    values: Bitmap,
    nulls: Vec<usize>,
}

impl BooleanBuilder {
    /// Room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        BooleanBuilder {
            values: Bitmap::with_capacity(rows),
            nulls: Vec::new(),
        }
    }

    /// Appends a value.
    #[inline]
    pub fn push(&mut self, value: bool) {
        self.values.push(value);
    }

    /// Appends a null.
    #[inline]
    pub fn push_null(&mut self) {
        self.nulls.push(self.values.len());
        self.values.push(false);
    }

    /// Appends a value or a null.
    #[inline]
    pub fn push_option(&mut self, value: Option<bool>) {
        match value {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No rows yet.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The array.
    pub fn finish(self) -> ArrayData {
        let validity = validity_from_nulls(&self.nulls, self.values.len());
        ArrayData::boolean(self.values, validity)
    }
}

/// Offsets + one growing data buffer, shared by the string and binary
/// builders.
#[derive(Debug)]
struct VarBuilder {
    offsets: Vec<i32>,
    data: Vec<u8>,
    nulls: Vec<usize>,
}

impl VarBuilder {
    fn with_capacity(rows: usize, data_bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        VarBuilder {
            offsets,
            data: Vec::with_capacity(data_bytes),
            nulls: Vec::new(),
        }
    }

    #[inline]
    fn end_row(&mut self) {
        let end = i32::try_from(self.data.len()).expect("more than 2 GiB of result data");
        self.offsets.push(end);
    }

    #[inline]
    fn push(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.end_row();
    }

    #[inline]
    fn push_null(&mut self) {
        self.nulls.push(self.len());
        self.end_row();
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn finish(self, data_type: DataType) -> ArrayData {
        let validity = validity_from_nulls(&self.nulls, self.len());
        // SAFETY: var_unchecked needs offsets from 0, never decreasing, ending
        // inside data, and UTF-8 rows for utf8: offsets start at 0 and each
        // row appends data.len() after extending it; StringBuilder (the one
        // utf8 caller) appends only &str bytes, whole rows.
        unsafe { ArrayData::var_unchecked(data_type, self.offsets, self.data, validity) }
    }
}

/// Builds a `utf8` result: one data buffer that grows, plus offsets.
#[derive(Debug)]
pub struct StringBuilder(VarBuilder);

impl StringBuilder {
    /// Room for `rows` rows of `data_bytes` bytes in all.
    pub fn with_capacity(rows: usize, data_bytes: usize) -> Self {
        StringBuilder(VarBuilder::with_capacity(rows, data_bytes))
    }

    /// Appends a string.
    #[inline]
    pub fn push(&mut self, value: &str) {
        self.0.push(value.as_bytes());
    }

    /// Appends a null.
    #[inline]
    pub fn push_null(&mut self) {
        self.0.push_null();
    }

    /// Appends a string or a null.
    #[inline]
    pub fn push_option(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    /// Appends one row written with `write!`: `f` appends to the row's text.
    pub fn push_with<F: FnOnce(&mut RowWriter<'_>) -> std::fmt::Result>(
        &mut self,
        f: F,
    ) -> std::fmt::Result {
        let start = self.0.data.len();
        let result = f(&mut RowWriter(&mut self.0.data));
        if result.is_err() {
            self.0.data.truncate(start);
            return result;
        }
        self.0.end_row();
        Ok(())
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No rows yet.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// The array.
    pub fn finish(self) -> ArrayData {
        self.0.finish(DataType::Utf8)
    }
}

/// Appends text to the row being built by [`StringBuilder::push_with`].
pub struct RowWriter<'b>(&'b mut Vec<u8>);

impl std::fmt::Write for RowWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Builds a `binary` result: one data buffer that grows, plus offsets.
#[derive(Debug)]
pub struct BinaryBuilder(VarBuilder);

impl BinaryBuilder {
    /// Room for `rows` rows of `data_bytes` bytes in all.
    pub fn with_capacity(rows: usize, data_bytes: usize) -> Self {
        BinaryBuilder(VarBuilder::with_capacity(rows, data_bytes))
    }

    /// Appends a value.
    #[inline]
    pub fn push(&mut self, value: &[u8]) {
        self.0.push(value);
    }

    /// Appends a null.
    #[inline]
    pub fn push_null(&mut self) {
        self.0.push_null();
    }

    /// Appends a value or a null.
    #[inline]
    pub fn push_option(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No rows yet.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// The array.
    pub fn finish(self) -> ArrayData {
        self.0.finish(DataType::Binary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Date32;

    #[test]
    fn unrolled_collect_calls_every_row_in_order() {
        for nrows in [0, 1, 7, 8, 9, 16, 8191] {
            let mut seen: Vec<usize> = Vec::new();
            let values = map_rows(nrows, |row| {
                Vec::push(&mut seen, row);
                row * 2
            });
            assert_eq!(seen, (0..nrows).collect::<Vec<_>>());
            assert_eq!(values, (0..nrows).map(|r| r * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn primitive_without_nulls_has_no_bitmap() {
        let data = ArrayData::primitive(vec![1.5f64, 2.5], Some(Bitmap::new(2, true)));
        assert_eq!(data.null_count(), 0);
        assert!(data.validity_buffer().is_none());
        assert_eq!(data.buffers()[0].len(), 16);
        assert_eq!(data.view().values::<f64>(), &[1.5, 2.5]);
    }

    #[test]
    fn primitive_builder_tracks_nulls_lazily() {
        let mut b = PrimitiveBuilder::<i64>::with_capacity(4);
        b.push(1);
        b.push(2);
        b.push_null();
        b.push(4);
        b.push(5); // past the capacity
        let data = b.finish();
        assert_eq!(data.len(), 5);
        assert_eq!(data.null_count(), 1);
        let view = data.view();
        assert_eq!(view.values::<i64>(), &[1, 2, 0, 4, 5]);
        assert_eq!(
            (0..5).map(|i| view.is_valid(i)).collect::<Vec<_>>(),
            [true, true, false, true, true]
        );
        assert_eq!(data.validity_buffer().unwrap().as_slice(), &[0b11011]);
    }

    #[test]
    fn string_builder_offsets() {
        let mut b = StringBuilder::with_capacity(2, 0);
        b.push("héllo");
        b.push_null();
        b.push("");
        b.push_option(Some("x"));
        b.push_with(|w| std::fmt::Write::write_fmt(w, format_args!("{}-{}", 1, 2)))
            .unwrap();
        let data = b.finish();
        assert_eq!(data.data_type(), DataType::Utf8);
        assert_eq!(data.null_count(), 1);
        let view = data.view();
        assert_eq!(view.offsets(), &[0, 6, 6, 6, 7, 10]);
        assert_eq!(view.data(), "héllox1-2".as_bytes());
        assert_eq!(view.str_value(0), "héllo");
        assert!(view.is_null(1));
        assert_eq!(view.str_value(4), "1-2");
    }

    #[test]
    fn binary_and_boolean_builders() {
        let mut b = BinaryBuilder::with_capacity(3, 4);
        b.push(&[0xFF, 0]);
        b.push_null();
        let data = b.finish();
        assert_eq!(data.view().bytes_value(0), &[0xFF, 0]);
        assert_eq!(data.view().offsets(), &[0, 2, 2]);

        let mut b = BooleanBuilder::with_capacity(1);
        b.push(true);
        b.push_null();
        b.push(false);
        b.push(true);
        let data = b.finish();
        let view = data.view();
        assert_eq!(view.bool_values().as_bytes(), &[0b1001]);
        assert_eq!(view.null_count(), 1);
        assert!(view.bool_value(3) && !view.bool_value(2) && view.is_null(1));
    }

    #[test]
    fn from_parts_checks() {
        assert!(ArrayData::utf8_from_parts(vec![0, 2], b"ab".to_vec(), None).is_ok());
        let err = ArrayData::utf8_from_parts(vec![0, 3], b"ab".to_vec(), None).unwrap_err();
        assert!(err.contains("past"), "{err}");
        let err = ArrayData::utf8_from_parts(vec![0, 2, 1], b"ab".to_vec(), None).unwrap_err();
        assert!(err.contains("decreases"), "{err}");
        let err = ArrayData::utf8_from_parts(vec![0, 2], vec![0xFF, 0xFE], None).unwrap_err();
        assert!(err.contains("UTF-8"), "{err}");
        assert!(ArrayData::binary_from_parts(vec![0, 2], vec![0xFF, 0xFE], None).is_ok());
        assert!(ArrayData::binary_from_parts(vec![-1, 2], vec![0xFF, 0xFE], None).is_err());
    }

    #[test]
    fn null_arrays() {
        for dt in [
            DataType::Int8,
            DataType::Float64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Decimal128(10, 2),
        ] {
            let data = ArrayData::new_null(dt, 9);
            assert_eq!(data.len(), 9);
            assert_eq!(data.null_count(), 9);
            assert_eq!(data.view().null_count(), 9);
            assert_eq!(data.buffers().len() + 1, dt.n_buffers());
        }
    }

    #[test]
    fn all_valid_combines_columns_and_constants() {
        let a = [1i32, 2, 3];
        let va = Bitmap::from_iter([true, false, true]);
        let vb = Bitmap::from_iter([true, true, false]);
        let null = Bitmap::from_iter([false]);
        let col_a = ArrayView::from_values(&a, Some(va.as_ref()));
        let col_b = ArrayView::from_values(&a, Some(vb.as_ref()));
        let dense = ArrayView::from_values(&a, None);
        let constant = ArrayView::from_values(&a[..1], None);
        let null_constant = ArrayView::from_values(&a[..1], Some(null.as_ref()));
        assert_eq!(all_valid(&[dense, constant], 3), None);
        let both = all_valid(&[col_a, col_b], 3).unwrap();
        assert_eq!(both.as_bytes(), &[0b001]);
        let col_a = ArrayView::from_values(&a, Some(va.as_ref()));
        let nothing = all_valid(&[col_a, null_constant], 3).unwrap();
        assert_eq!(nothing.count_ones(), 0);
        assert_eq!(nothing.len(), 3);
    }

    #[test]
    fn views_of_values() {
        let dates = [Date32(1), Date32(-3)];
        let validity = Bitmap::from_iter([true, false]);
        let view = ArrayView::from_values(&dates, Some(validity.as_ref()));
        assert_eq!(view.data_type(), DataType::Date32);
        assert_eq!(view.values::<i32>(), &[1, -3]);
        assert_eq!(view.values::<Date32>()[1], Date32(-3));
        assert_eq!(view.null_count(), 1);
        assert!(!view.is_scalar());
    }

    #[test]
    #[should_panic(expected = "values::<f64>() of a int64 array")]
    fn values_of_the_wrong_type_panic() {
        let view = ArrayView::from_values(&[1i64], None);
        view.values::<f64>();
    }

    #[test]
    fn misaligned_input_is_copied() {
        let mut source = [0u8; 17];
        source[1..9].copy_from_slice(&7i64.to_le_bytes());
        source[9..17].copy_from_slice(&(-2i64).to_le_bytes());
        for start in [0, 1] {
            let bytes = &source[start..start + 16];
            let (ptr, owned) = aligned(bytes, 8);
            assert_eq!(ptr as usize % 8, 0);
            assert_eq!(
                owned.is_some(),
                !(bytes.as_ptr() as usize).is_multiple_of(8)
            );
        }
        let (ptr, _owned) = aligned(&source[1..17], 8);
        // SAFETY: from_raw_parts needs an 8-aligned pointer valid for two
        // i64's: `aligned` returned an 8-aligned pointer to 16 bytes (the
        // copy in _owned, alive to the end of the test).
        let values = unsafe { std::slice::from_raw_parts(ptr.cast::<i64>(), 2) };
        assert_eq!(values, &[7, -2]);
    }
}
