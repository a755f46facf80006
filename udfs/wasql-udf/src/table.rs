//! Table functions (udfs/ABI.md §9): the [`Emitter`] that collects output
//! rows tagged with their part, and [`Rows`], one argument over the rows of
//! one partition.

use crate::__private::{ArgReader, FromArg, RetBuilder};
use crate::array::{ArrayData, BinaryBuilder, BooleanBuilder, PrimitiveBuilder, StringBuilder};
use crate::types::{DataType, Date32, TimestampMicros, TimestampMicrosUtc, simple_name};

/// The Rust type of an output column: its ABI type, its builder, and the
/// value an output row gives it (`&str` for a `String` column, `&[u8]` for
/// `Vec<u8>`, `Option<_>` for a nullable column).
pub trait Column {
    /// The ABI type string.
    const TYPE: &'static str;
    /// Builds the column.
    type Builder: RetBuilder;
    /// One row's value.
    type Value<'v>;
    /// Appends one row's value.
    fn push(builder: &mut Self::Builder, value: Self::Value<'_>);
}

macro_rules! column {
    ($builder:ty, $name:expr, $($t:ty => $value:ty),* $(,)?) => {$(
        impl Column for $t {
            const TYPE: &'static str = $name;
            type Builder = $builder;
            type Value<'v> = $value;
            #[inline(always)]
            fn push(builder: &mut Self::Builder, value: Self::Value<'_>) {
                builder.push(value);
            }
        }
    )*};
}

macro_rules! prim_column {
    ($($t:ty),*) => {$(
        column!(PrimitiveBuilder<$t>, <$t as crate::PrimitiveType>::TYPE_NAME, $t => $t);
    )*};
}

prim_column!(
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
column!(BooleanBuilder, simple_name(DataType::Boolean), bool => bool);
column!(StringBuilder, simple_name(DataType::Utf8), String => &'v str);
column!(BinaryBuilder, simple_name(DataType::Binary), Vec<u8> => &'v [u8]);

impl<T: Column> Column for Option<T> {
    const TYPE: &'static str = T::TYPE;
    type Builder = T::Builder;
    type Value<'v> = Option<T::Value<'v>>;
    #[inline(always)]
    fn push(builder: &mut Self::Builder, value: Self::Value<'_>) {
        match value {
            Some(value) => T::push(builder, value),
            None => builder.push_null(),
        }
    }
}

/// The output columns of a table function: a tuple of [`Column`] types,
/// `(T,)` for one column.
pub trait Columns {
    /// One builder per column.
    type Builders;
    /// One output row: a tuple of the columns' values.
    type Row<'v>;
    /// Builders with room for `rows` rows (`data_bytes` for each variable-length column).
    fn builders(rows: usize, data_bytes: usize) -> Self::Builders;
    /// Appends one row.
    fn push(builders: &mut Self::Builders, row: Self::Row<'_>);
    /// The columns, appended to `out` in order.
    fn finish(builders: Self::Builders, out: &mut Vec<ArrayData>);
}

macro_rules! columns {
    ($(($($t:ident $i:tt),+))*) => {$(
        impl<$($t: Column),+> Columns for ($($t,)+) {
            type Builders = ($($t::Builder,)+);
            type Row<'v> = ($($t::Value<'v>,)+);
            fn builders(rows: usize, data_bytes: usize) -> Self::Builders {
                ($($t::Builder::with_rows(rows, data_bytes),)+)
            }
            #[inline(always)]
            fn push(builders: &mut Self::Builders, row: Self::Row<'_>) {
                $($t::push(&mut builders.$i, row.$i);)+
            }
            fn finish(builders: Self::Builders, out: &mut Vec<ArrayData>) {
                $(out.push(builders.$i.finish());)+
            }
        }
    )*};
}

columns! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// Collects a table function's output rows, each tagged with the part
/// (input row, or partition) being processed: `out[0]` of udfs/ABI.md §9.
#[derive(Debug)]
pub struct Emitter<C: Columns> {
    parts: Vec<u32>,
    part: u32,
    columns: C::Builders,
}

impl<C: Columns> Emitter<C> {
    /// An emitter with room for `rows` rows (`data_bytes` per
    /// variable-length column), at part 0.
    pub fn new(rows: usize, data_bytes: usize) -> Self {
        Emitter {
            parts: Vec::with_capacity(rows),
            part: 0,
            columns: C::builders(rows, data_bytes),
        }
    }

    /// Appends one output row, a tuple with a value per column, to the
    /// current part. Strings and bytes are copied into the column's buffer.
    #[inline(always)]
    pub fn emit(&mut self, row: C::Row<'_>) {
        self.parts.push(self.part);
        C::push(&mut self.columns, row);
    }

    /// Rows emitted so far, all parts.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// No rows emitted yet.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Tags the rows emitted from now on with `part`.
    pub fn start_part(&mut self, part: u32) {
        self.part = part;
    }

    /// The part numbers (`uint32`), then the columns.
    pub fn finish(self) -> Vec<ArrayData> {
        let mut out = vec![ArrayData::primitive(self.parts, None)];
        C::finish(self.columns, &mut out);
        out
    }
}

/// One argument over the rows of one partition, for a partitioned table
/// function. `T` is a `#[udf]` argument type without `Option`: a row reads
/// as `None` when it is null. A constant argument reads the same in every
/// row.
pub struct Rows<'r, T: FromArg<'r>> {
    reader: &'r T::Reader,
    start: usize,
    len: usize,
}

impl<'r, T: FromArg<'r>> Rows<'r, T> {
    /// Rows `start..end` of the argument `reader` reads.
    ///
    /// # Safety
    /// `start <= end` and `end` is at most the `nrows` `reader` was made
    /// for: [`Rows::get`] reads rows `start..end` of it with
    /// [`ArgReader::get`], whose contract is `row < nrows`.
    pub unsafe fn new(reader: &'r T::Reader, start: usize, end: usize) -> Self {
        Rows {
            reader,
            start,
            len: end - start,
        }
    }

    /// Rows in the partition.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row `i` of the partition, `None` when null.
    ///
    /// # Panics
    /// If `i >= len()`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        assert!(i < self.len, "row {i} of a {}-row partition", self.len);
        // SAFETY: ArgReader::get needs a row below the reader's nrows:
        // i < len (asserted above), so start + i < start + len = end, and
        // new's contract has end <= nrows.
        unsafe { self.reader.get(self.start + i) }
    }

    /// The rows in order, `None` for a null.
    pub fn iter(&self) -> impl Iterator<Item = Option<T>> + '_ {
        (0..self.len).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::PrimReader;
    use crate::array::ArrayView;
    use crate::bitmap::Bitmap;
    use crate::types::DataType;

    #[test]
    fn emitter_tags_rows_with_their_part() {
        let mut out = Emitter::<(String, Option<i32>)>::new(1, 0);
        out.emit(("a", Some(1)));
        out.start_part(2);
        out.emit(("bc", None));
        out.emit(("", Some(3)));
        assert_eq!(out.len(), 3);
        let arrays = out.finish();
        assert_eq!(arrays.len(), 3);
        assert_eq!(arrays[0].data_type(), DataType::UInt32);
        assert_eq!(arrays[0].view().values::<u32>(), &[0, 2, 2]);
        assert!(arrays[0].validity_buffer().is_none());
        let tokens = arrays[1].view();
        assert_eq!(tokens.offsets(), &[0, 1, 3, 3]);
        assert_eq!(tokens.str_value(1), "bc");
        assert_eq!(arrays[2].data_type(), DataType::Int32);
        assert_eq!(arrays[2].null_count(), 1);
        assert_eq!(<Option<TimestampMicros> as Column>::TYPE, "timestamp_us");
    }

    #[test]
    fn an_empty_emitter_makes_empty_columns() {
        let arrays = Emitter::<(Vec<u8>, bool)>::new(0, 0).finish();
        assert_eq!(
            arrays.iter().map(ArrayData::len).collect::<Vec<_>>(),
            [0, 0, 0]
        );
        assert_eq!(arrays[1].view().offsets(), &[0]);
    }

    #[test]
    fn rows_read_one_partition() {
        let validity = Bitmap::from_iter([true, true, false, true]);
        let values = [1i64, 2, 3, 4];
        let column = ArrayView::from_values(&values, Some(validity.as_ref()));
        let reader = PrimReader::<i64>::new(&column, 4).unwrap();
        // SAFETY: new needs start <= end <= the reader's rows: 1 <= 4 <= 4.
        let rows = unsafe { Rows::<i64>::new(&reader, 1, 4) };
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.iter().collect::<Vec<_>>(), [Some(2), None, Some(4)]);

        let constant = ArrayView::from_values(&values[..1], None);
        let reader = PrimReader::<i64>::new(&constant, 4).unwrap();
        // SAFETY: new needs start <= end <= the reader's rows: 2 <= 4 <= 4.
        let rows = unsafe { Rows::<i64>::new(&reader, 2, 4) };
        assert_eq!(rows.iter().collect::<Vec<_>>(), [Some(1), Some(1)]);
    }

    #[test]
    #[should_panic(expected = "row 2 of a 2-row partition")]
    fn rows_past_the_partition_panic() {
        let values = [1i64, 2, 3];
        let column = ArrayView::from_values(&values, None);
        let reader = PrimReader::<i64>::new(&column, 3).unwrap();
        // SAFETY: new needs start <= end <= the reader's rows: 0 <= 2 <= 3.
        unsafe { Rows::<i64>::new(&reader, 0, 2) }.get(2);
    }
}
