//! The value types that cross the ABI (udfs/ABI.md §5): their type strings,
//! buffers and storage.

use core::fmt;

/// The largest precision of `decimal128(P,S)`.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

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
    /// `decimal128(P,S)`: DECIMAL(P,S), i128 values × 10^S, with
    /// `1 <= P <= 38` and `|S| <= P`.
    Decimal128(u8, i8),
}

/// How values of a fixed-width type are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Physical {
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `i128`, two's complement.
    I128,
}

impl DataType {
    /// Every type without parameters, in the order of udfs/ABI.md §5
    /// (`decimal128(P,S)` is the only type with parameters).
    pub const SIMPLE: [DataType; 16] = [
        DataType::Boolean,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Utf8,
        DataType::Binary,
        DataType::Date32,
        DataType::TimestampMicros,
        DataType::TimestampMicrosUtc,
    ];

    /// The type string of a type without parameters; `None` for
    /// `decimal128(P,S)` (written by [`fmt::Display`]).
    pub const fn simple_name(self) -> Option<&'static str> {
        use DataType::*;
        Some(match self {
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
            Decimal128(..) => return None,
        })
    }

    /// Parses a type string such as `float64` or `decimal128(10,2)`
    /// (surrounding spaces, and spaces around the decimal's numbers, are
    /// allowed); `None` for anything else, a decimal out of range included.
    pub fn parse(text: &str) -> Option<DataType> {
        let text = text.trim();
        if let Some(simple) = DataType::SIMPLE
            .into_iter()
            .find(|t| t.simple_name() == Some(text))
        {
            return Some(simple);
        }
        let inner = text.strip_prefix("decimal128(")?.strip_suffix(')')?;
        let (precision, scale) = inner.split_once(',')?;
        let precision: u8 = precision.trim().parse().ok()?;
        let scale: i8 = scale.trim().parse().ok()?;
        DataType::decimal128(precision, scale)
    }

    /// `decimal128(precision, scale)`, if the ABI allows it.
    pub const fn decimal128(precision: u8, scale: i8) -> Option<DataType> {
        if precision == 0 || precision > MAX_DECIMAL_PRECISION || scale.unsigned_abs() > precision {
            return None;
        }
        Some(DataType::Decimal128(precision, scale))
    }

    /// Buffers of an array of this type, the validity bitmap included.
    pub const fn n_buffers(self) -> usize {
        if self.is_variable() { 3 } else { 2 }
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

    /// Bytes per value of a fixed-width type; `None` for bit-packed
    /// booleans and the variable-length types.
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

/// The type string, as [`DataType::parse`] reads it.
impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Decimal128(p, s) => write!(f, "decimal128({p},{s})"),
            simple => f.write_str(simple.simple_name().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn type_strings_round_trip() {
        for t in DataType::SIMPLE {
            assert_eq!(DataType::parse(&t.to_string()), Some(t));
        }
        for text in ["decimal128(38,-2)", "decimal128(10,2)", "decimal128(1,-1)"] {
            let parsed = DataType::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            DataType::parse(" decimal128( 10 , 2 ) "),
            Some(DataType::Decimal128(10, 2))
        );
        for refused in [
            "decimal128(39,0)",
            "decimal128(0,0)",
            "decimal128(1,-2)",
            "decimal128(10,2",
            "float16",
            "Float64",
            "",
        ] {
            assert_eq!(DataType::parse(refused), None, "{refused}");
        }
    }

    #[test]
    fn buffers_and_widths() {
        assert_eq!(DataType::Utf8.n_buffers(), 3);
        assert_eq!(DataType::Int8.n_buffers(), 2);
        assert_eq!(DataType::Boolean.byte_width(), None);
        assert_eq!(DataType::Date32.byte_width(), Some(4));
        assert_eq!(DataType::Decimal128(10, 2).byte_width(), Some(16));
        assert_eq!(DataType::TimestampMicrosUtc.physical(), Some(Physical::I64));
    }
}
