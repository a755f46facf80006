//! The Rust forms of the value types that cross the ABI (udfs/ABI.md §5).
//! The types themselves ([`DataType`], [`Physical`]) are wasql-abi's, the
//! definition the host uses too.

pub use wasql_abi::{DataType, Physical};

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
/// `size_of::<Self>()` is `PHYSICAL.width()`, with no padding bytes, its
/// alignment is at most its size, and every bit pattern of those bytes is a
/// valid value: the SDK reinterprets Arrow buffers as `&[Self]` and `&[Self]`
/// as bytes. Sealed: implemented only by this crate.
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

/// The type string of a type without parameters, at compile time.
pub(crate) const fn simple_name(data_type: DataType) -> &'static str {
    match data_type.simple_name() {
        Some(name) => name,
        None => panic!("a type with parameters has no simple name"),
    }
}

macro_rules! native {
    ($($t:ty => $phys:ident, $dt:ident;)*) => {$(
        impl sealed::Sealed for $t {}
        // SAFETY: primitive integers and floats, and repr(transparent)
        // wrappers of one: size = width (tested in widths_match_rust_sizes),
        // no padding, alignment <= size, and every bit pattern valid.
        unsafe impl NativeType for $t {
            const PHYSICAL: Physical = Physical::$phys;
        }
        impl PrimitiveType for $t {
            const DATA_TYPE: DataType = DataType::$dt;
            const TYPE_NAME: &'static str = simple_name(DataType::$dt);
        }
    )*};
}

native! {
    i8 => I8, Int8;
    i16 => I16, Int16;
    i32 => I32, Int32;
    i64 => I64, Int64;
    u8 => U8, UInt8;
    u16 => U16, UInt16;
    u32 => U32, UInt32;
    u64 => U64, UInt64;
    f32 => F32, Float32;
    f64 => F64, Float64;
    Date32 => I32, Date32;
    TimestampMicros => I64, TimestampMicros;
    TimestampMicrosUtc => I64, TimestampMicrosUtc;
}

impl sealed::Sealed for i128 {}
// SAFETY: a primitive integer: 16 bytes (tested), no padding, alignment
// <= 16, every bit pattern valid.
unsafe impl NativeType for i128 {
    const PHYSICAL: Physical = Physical::I128;
}

#[cfg(test)]
mod tests {
    use super::*;

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
