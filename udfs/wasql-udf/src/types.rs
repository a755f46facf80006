//! The value types that cross the ABI (udfs/ABI.md §5) and their Rust forms.

use std::fmt;

/// An ABI value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `boolean`: BOOLEAN, one bit per row.
    Boolean,
    /// `int8`: TINYINT.
    Int8,
    /// `int16`: SMALLINT.
    Int16,
    /// `int32`: INT.
    Int32,
    /// `int64`: BIGINT.
    Int64,
    /// `uint8`.
    UInt8,
    /// `uint16`.
    UInt16,
    /// `uint32`.
    UInt32,
    /// `uint64`.
    UInt64,
    /// `float32`: REAL.
    Float32,
    /// `float64`: DOUBLE.
    Float64,
    /// `utf8`: VARCHAR.
    Utf8,
    /// `binary`: BYTEA.
    Binary,
    /// `date32`: DATE, days since 1970-01-01.
    Date32,
    /// `timestamp_us`: TIMESTAMP, microseconds since 1970-01-01 00:00:00.
    TimestampMicros,
    /// `timestamp_us_utc`: TIMESTAMPTZ, microseconds since the epoch, UTC.
    TimestampMicrosUtc,
    /// `decimal128(P,S)`: DECIMAL(P,S), i128 values × 10^S.
    Decimal128(u8, i8),
}

/// How values of a fixed-width type are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Physical {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    I128,
}

impl DataType {
    /// Parses an ABI type string: `float64`, `utf8`, `decimal128(10,2)`, ...
    pub fn parse(text: &str) -> Option<DataType> {
        use DataType::*;
        Some(match text.trim() {
            "boolean" => Boolean,
            "int8" => Int8,
            "int16" => Int16,
            "int32" => Int32,
            "int64" => Int64,
            "uint8" => UInt8,
            "uint16" => UInt16,
            "uint32" => UInt32,
            "uint64" => UInt64,
            "float32" => Float32,
            "float64" => Float64,
            "utf8" => Utf8,
            "binary" => Binary,
            "date32" => Date32,
            "timestamp_us" => TimestampMicros,
            "timestamp_us_utc" => TimestampMicrosUtc,
            other => {
                let inner = other.strip_prefix("decimal128(")?.strip_suffix(')')?;
                let (precision, scale) = inner.split_once(',')?;
                let precision: u8 = precision.trim().parse().ok()?;
                let scale: i8 = scale.trim().parse().ok()?;
                if precision == 0 || precision > 38 || scale.unsigned_abs() > precision {
                    return None;
                }
                Decimal128(precision, scale)
            }
        })
    }

    /// Buffers of an array of this type, the validity bitmap included.
    pub const fn n_buffers(self) -> usize {
        match self {
            DataType::Utf8 | DataType::Binary => 3,
            _ => 2,
        }
    }

    /// The storage of a fixed-width type; `None` for `boolean`, `utf8` and
    /// `binary`.
    pub const fn physical(self) -> Option<Physical> {
        use DataType::*;
        Some(match self {
            Int8 => Physical::I8,
            Int16 => Physical::I16,
            Int32 | Date32 => Physical::I32,
            Int64 | TimestampMicros | TimestampMicrosUtc => Physical::I64,
            UInt8 => Physical::U8,
            UInt16 => Physical::U16,
            UInt32 => Physical::U32,
            UInt64 => Physical::U64,
            Float32 => Physical::F32,
            Float64 => Physical::F64,
            Decimal128(..) => Physical::I128,
            Boolean | Utf8 | Binary => return None,
        })
    }

    /// Bytes per value of a fixed-width type.
    pub const fn byte_width(self) -> Option<usize> {
        match self.physical() {
            Some(p) => Some(p.width()),
            None => None,
        }
    }

    /// `utf8` or `binary`: offsets and a data buffer.
    pub const fn is_variable(self) -> bool {
        matches!(self, DataType::Utf8 | DataType::Binary)
    }
}

impl Physical {
    /// Bytes per value.
    pub const fn width(self) -> usize {
        match self {
            Physical::I8 | Physical::U8 => 1,
            Physical::I16 | Physical::U16 => 2,
            Physical::I32 | Physical::U32 | Physical::F32 => 4,
            Physical::I64 | Physical::U64 | Physical::F64 => 8,
            Physical::I128 => 16,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataType::*;
        let name = match self {
            Boolean => "boolean",
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            UInt8 => "uint8",
            UInt16 => "uint16",
            UInt32 => "uint32",
            UInt64 => "uint64",
            Float32 => "float32",
            Float64 => "float64",
            Utf8 => "utf8",
            Binary => "binary",
            Date32 => "date32",
            TimestampMicros => "timestamp_us",
            TimestampMicrosUtc => "timestamp_us_utc",
            Decimal128(p, s) => return write!(f, "decimal128({p},{s})"),
        };
        f.write_str(name)
    }
}

/// SQL `DATE`: days since 1970-01-01.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date32(pub i32);

/// SQL `TIMESTAMP` (no time zone): microseconds since 1970-01-01 00:00:00.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimestampMicros(pub i64);

/// SQL `TIMESTAMPTZ`: microseconds since the epoch, UTC.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimestampMicrosUtc(pub i64);

mod sealed {
    pub trait Sealed {}
}

/// A fixed-width value type whose slices can be read straight out of an
/// Arrow buffer.
///
/// # Safety
/// Every bit pattern of `WIDTH` bytes must be a valid value, and `WIDTH` must
/// be the type's size. Sealed: implemented only by this crate.
pub unsafe trait NativeType:
    Copy + Default + Send + Sync + 'static + sealed::Sealed
{
    /// The storage this type reads and writes.
    const PHYSICAL: Physical;
}

/// A [`NativeType`] with exactly one ABI type, so a `Vec` of it is an array.
pub trait PrimitiveType: NativeType {
    /// The ABI type of arrays of this type.
    const DATA_TYPE: DataType;
    /// The ABI type string.
    const TYPE_NAME: &'static str;
}

macro_rules! native {
    ($($t:ty => $phys:ident, $dt:ident, $name:literal;)*) => {$(
        impl sealed::Sealed for $t {}
        // SAFETY: plain integers, floats and transparent wrappers of them.
        unsafe impl NativeType for $t {
            const PHYSICAL: Physical = Physical::$phys;
        }
        impl PrimitiveType for $t {
            const DATA_TYPE: DataType = DataType::$dt;
            const TYPE_NAME: &'static str = $name;
        }
    )*};
}

native! {
    i8 => I8, Int8, "int8";
    i16 => I16, Int16, "int16";
    i32 => I32, Int32, "int32";
    i64 => I64, Int64, "int64";
    u8 => U8, UInt8, "uint8";
    u16 => U16, UInt16, "uint16";
    u32 => U32, UInt32, "uint32";
    u64 => U64, UInt64, "uint64";
    f32 => F32, Float32, "float32";
    f64 => F64, Float64, "float64";
    Date32 => I32, Date32, "date32";
    TimestampMicros => I64, TimestampMicros, "timestamp_us";
    TimestampMicrosUtc => I64, TimestampMicrosUtc, "timestamp_us_utc";
}

impl sealed::Sealed for i128 {}
// SAFETY: a plain integer.
unsafe impl NativeType for i128 {
    const PHYSICAL: Physical = Physical::I128;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_strings_round_trip() {
        for text in [
            "boolean",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float32",
            "float64",
            "utf8",
            "binary",
            "date32",
            "timestamp_us",
            "timestamp_us_utc",
            "decimal128(38,-2)",
            "decimal128(10,2)",
        ] {
            let parsed = DataType::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(DataType::parse("decimal128(39,0)"), None);
        assert_eq!(DataType::parse("float16"), None);
    }

    #[test]
    fn widths_match_rust_sizes() {
        fn check<T: PrimitiveType>() {
            assert_eq!(T::PHYSICAL.width(), std::mem::size_of::<T>());
            assert_eq!(T::DATA_TYPE.physical(), Some(T::PHYSICAL));
            assert_eq!(T::DATA_TYPE.to_string(), T::TYPE_NAME);
        }
        check::<i8>();
        check::<i16>();
        check::<i32>();
        check::<i64>();
        check::<u8>();
        check::<u16>();
        check::<u32>();
        check::<u64>();
        check::<f32>();
        check::<f64>();
        check::<Date32>();
        check::<TimestampMicros>();
        check::<TimestampMicrosUtc>();
        assert_eq!(std::mem::size_of::<i128>(), Physical::I128.width());
        assert_eq!(DataType::Utf8.n_buffers(), 3);
        assert_eq!(DataType::Boolean.byte_width(), None);
    }
}
