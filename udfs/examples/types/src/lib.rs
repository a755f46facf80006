//! One function per ABI type, for the host's type tests. The `echo_*`
//! functions return their input unchanged, nulls included: those taking a
//! plain type rely on null propagation (a null argument gives a null result
//! without a call), those taking an `Option` see the null themselves.

use wasql_udf::{Date32, TimestampMicros, TimestampMicrosUtc, udf};

/// int8 in, unchanged out.
#[udf]
pub fn echo_i8(x: i8) -> i8 {
    x
}

/// int16 in, unchanged out.
#[udf]
pub fn echo_i16(x: i16) -> i16 {
    x
}

/// int32 in, unchanged out.
#[udf]
pub fn echo_i32(x: i32) -> i32 {
    x
}

/// int64 in, unchanged out.
#[udf]
pub fn echo_i64(x: i64) -> i64 {
    x
}

/// uint8 in, unchanged out.
#[udf]
pub fn echo_u8(x: u8) -> u8 {
    x
}

/// uint16 in, unchanged out.
#[udf]
pub fn echo_u16(x: u16) -> u16 {
    x
}

/// uint32 in, unchanged out.
#[udf]
pub fn echo_u32(x: u32) -> u32 {
    x
}

/// uint64 in, unchanged out.
#[udf]
pub fn echo_u64(x: u64) -> u64 {
    x
}

/// float32 in, unchanged out.
#[udf]
pub fn echo_f32(x: Option<f32>) -> Option<f32> {
    x
}

/// float64 in, unchanged out.
#[udf]
pub fn echo_f64(x: Option<f64>) -> Option<f64> {
    x
}

/// boolean in, unchanged out.
#[udf]
pub fn echo_bool(x: Option<bool>) -> Option<bool> {
    x
}

/// utf8 in, unchanged out.
#[udf]
pub fn echo_utf8(s: Option<&str>) -> Option<&str> {
    s
}

/// binary in, unchanged out.
#[udf]
pub fn echo_binary(b: Option<&[u8]>) -> Option<&[u8]> {
    b
}

/// date32 in, unchanged out.
#[udf]
pub fn echo_date32(d: Option<Date32>) -> Option<Date32> {
    d
}

/// timestamp_us in, unchanged out.
#[udf]
pub fn echo_ts(t: TimestampMicros) -> TimestampMicros {
    t
}

/// timestamp_us_utc in, unchanged out.
#[udf]
pub fn echo_tsz(t: Option<TimestampMicrosUtc>) -> Option<TimestampMicrosUtc> {
    t
}

/// The date n days after d.
#[udf]
pub fn add_days(d: Date32, n: i32) -> Result<Date32, &'static str> {
    d.0.checked_add(n).map(Date32).ok_or("date out of range")
}

/// A decimal integer, or an error naming the text.
#[udf]
pub fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|e| format!("cannot parse {s:?} as an integer: {e}"))
}

/// NULL for an empty string, the string otherwise.
#[udf]
pub fn null_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_logic() {
        assert_eq!(add_days(Date32(10), -11), Ok(Date32(-1)));
        assert!(add_days(Date32(i32::MAX), 1).is_err());
        assert_eq!(parse_int(" 42 "), Ok(42));
        assert_eq!(
            parse_int("4x").unwrap_err(),
            "cannot parse \"4x\" as an integer: invalid digit found in string"
        );
        assert_eq!(null_if_empty(String::new()), None);
        assert_eq!(echo_utf8(Some("é")), Some("é"));
    }

    #[test]
    fn declared_types() {
        let section = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
        for (line, args, returns) in [
            (section(&__WASQL_UDF_SECTION_echo_i8), "int8", "int8"),
            (section(&__WASQL_UDF_SECTION_echo_u64), "uint64", "uint64"),
            (section(&__WASQL_UDF_SECTION_echo_f32), "float32", "float32"),
            (
                section(&__WASQL_UDF_SECTION_echo_bool),
                "boolean",
                "boolean",
            ),
            (section(&__WASQL_UDF_SECTION_echo_utf8), "utf8", "utf8"),
            (
                section(&__WASQL_UDF_SECTION_echo_binary),
                "binary",
                "binary",
            ),
            (
                section(&__WASQL_UDF_SECTION_echo_date32),
                "date32",
                "date32",
            ),
            (
                section(&__WASQL_UDF_SECTION_echo_ts),
                "timestamp_us",
                "timestamp_us",
            ),
            (
                section(&__WASQL_UDF_SECTION_echo_tsz),
                "timestamp_us_utc",
                "timestamp_us_utc",
            ),
            (
                section(&__WASQL_UDF_SECTION_add_days),
                "date32\",\"int32",
                "date32",
            ),
        ] {
            let expected = format!("\"args\":[\"{args}\"],\"returns\":\"{returns}\"");
            assert!(line.contains(&expected), "{line} lacks {expected}");
        }
    }
}
