//! A module's self-description: the JSON lines of its `wasql.udfs` custom
//! sections (udfs/ABI.md §2), read without running any guest code.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::Volatility;
use serde::Deserialize;

/// The ABI versions this host implements.
pub const SUPPORTED_ABI: &[u32] = &[1];

/// The custom section holding the description.
pub const SECTION: &str = "wasql.udfs";

/// A value type that crosses the ABI (udfs/ABI.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmType {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Utf8,
    Binary,
    Date32,
    TimestampMicros,
    TimestampMicrosUtc,
    Decimal128(u8, i8),
}

impl WasmType {
    /// Parses an ABI type string such as `float64` or `decimal128(10,2)`.
    pub fn parse(text: &str) -> Option<WasmType> {
        use WasmType::*;
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

    /// The Arrow type of values of this type.
    pub fn data_type(self) -> DataType {
        use WasmType::*;
        match self {
            Boolean => DataType::Boolean,
            Int8 => DataType::Int8,
            Int16 => DataType::Int16,
            Int32 => DataType::Int32,
            Int64 => DataType::Int64,
            UInt8 => DataType::UInt8,
            UInt16 => DataType::UInt16,
            UInt32 => DataType::UInt32,
            UInt64 => DataType::UInt64,
            Float32 => DataType::Float32,
            Float64 => DataType::Float64,
            Utf8 => DataType::Utf8,
            Binary => DataType::Binary,
            Date32 => DataType::Date32,
            TimestampMicros => DataType::Timestamp(TimeUnit::Microsecond, None),
            TimestampMicrosUtc => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Decimal128(p, s) => DataType::Decimal128(p, s),
        }
    }

    /// Bytes per value in the values buffer; `None` for bit-packed booleans
    /// and variable-length types.
    pub fn value_width(self) -> Option<usize> {
        use WasmType::*;
        match self {
            Boolean | Utf8 | Binary => None,
            Int8 | UInt8 => Some(1),
            Int16 | UInt16 => Some(2),
            Int32 | UInt32 | Float32 | Date32 => Some(4),
            Int64 | UInt64 | Float64 | TimestampMicros | TimestampMicrosUtc => Some(8),
            Decimal128(..) => Some(16),
        }
    }
}

/// When a function returns the same result for the same arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WasmVolatility {
    #[default]
    Immutable,
    Stable,
    Volatile,
}

impl From<WasmVolatility> for Volatility {
    fn from(v: WasmVolatility) -> Self {
        match v {
            WasmVolatility::Immutable => Volatility::Immutable,
            WasmVolatility::Stable => Volatility::Stable,
            WasmVolatility::Volatile => Volatility::Volatile,
        }
    }
}

/// One function a module offers.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The SQL name.
    pub name: String,
    /// The exported wasm function implementing it.
    pub export: String,
    pub args: Vec<WasmType>,
    pub returns: WasmType,
    pub volatility: WasmVolatility,
    /// What the function asks for; granted only by the operator.
    pub capabilities: Vec<String>,
    pub doc: Option<String>,
}

impl FunctionSpec {
    /// `name(float64, float64) -> float64`.
    pub fn signature(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|t| t.data_type().to_string())
            .collect();
        format!(
            "{}({}) -> {}",
            self.name,
            args.join(", "),
            self.returns.data_type()
        )
    }
}

#[derive(Deserialize)]
struct RawSpec {
    abi: u32,
    name: String,
    kind: String,
    export: String,
    args: Vec<String>,
    returns: String,
    #[serde(default)]
    volatility: WasmVolatility,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    doc: Option<String>,
}

/// Parses the concatenated `wasql.udfs` sections of a module.
pub fn parse_description(text: &str) -> Result<Vec<FunctionSpec>, String> {
    let mut specs = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_no = index + 1;
        let raw: RawSpec = serde_json::from_str(line.trim_matches(char::from(0)).trim())
            .map_err(|e| format!("description line {line_no} is not valid: {e}"))?;
        if !SUPPORTED_ABI.contains(&raw.abi) {
            return Err(format!(
                "function '{}' is built for ABI version {}, this wasql supports version {}",
                raw.name,
                raw.abi,
                SUPPORTED_ABI
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if raw.kind != "scalar" {
            return Err(format!(
                "function '{}' is of kind '{}', which this wasql cannot run (it runs scalar functions)",
                raw.name, raw.kind
            ));
        }
        let valid_name = raw
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(format!(
                "function name '{}' is not valid: use lowercase letters, digits and '_'",
                raw.name
            ));
        }
        let parse = |t: &str| {
            WasmType::parse(t).ok_or_else(|| {
                format!(
                    "function '{}' uses type '{t}', which wasql cannot map",
                    raw.name
                )
            })
        };
        specs.push(FunctionSpec {
            args: raw
                .args
                .iter()
                .map(|t| parse(t))
                .collect::<Result<_, _>>()?,
            returns: parse(&raw.returns)?,
            name: raw.name,
            export: raw.export,
            volatility: raw.volatility,
            capabilities: raw.capabilities,
            doc: raw.doc,
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_functions() {
        let text = concat!(
            r#"{"abi":1,"name":"slugify","kind":"scalar","export":"wasql_udf_slugify","args":["utf8"],"returns":"utf8"}"#,
            "\n",
            r#"{"abi":1,"name":"money","kind":"scalar","export":"m","args":["decimal128(10,2)","timestamp_us_utc"],"returns":"boolean","volatility":"volatile","capabilities":["net:x"],"extra":1}"#,
            "\n"
        );
        let specs = parse_description(text).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].args, vec![WasmType::Utf8]);
        assert_eq!(specs[0].volatility, WasmVolatility::Immutable);
        assert_eq!(specs[1].args[0], WasmType::Decimal128(10, 2));
        assert_eq!(specs[1].volatility, WasmVolatility::Volatile);
        assert_eq!(specs[1].capabilities, vec!["net:x"]);
        assert_eq!(specs[0].signature(), "slugify(Utf8) -> Utf8");
    }

    #[test]
    fn refuses_other_abi_versions_and_types() {
        let future =
            r#"{"abi":2,"name":"f","kind":"scalar","export":"f","args":[],"returns":"int64"}"#;
        let err = parse_description(future).unwrap_err();
        assert!(
            err.contains("ABI version 2") && err.contains("supports version 1"),
            "{err}"
        );
        let weird = r#"{"abi":1,"name":"f","kind":"scalar","export":"f","args":["float16"],"returns":"int64"}"#;
        assert!(
            parse_description(weird)
                .unwrap_err()
                .contains("type 'float16'")
        );
        let bad_name = r#"{"abi":1,"name":"Drop Table","kind":"scalar","export":"f","args":[],"returns":"int64"}"#;
        assert!(
            parse_description(bad_name)
                .unwrap_err()
                .contains("not valid")
        );
        assert!(parse_description("{not json").is_err());
    }

    #[test]
    fn decimal_bounds() {
        assert_eq!(
            WasmType::parse("decimal128(38, 10)"),
            Some(WasmType::Decimal128(38, 10))
        );
        assert_eq!(WasmType::parse("decimal128(39,0)"), None);
        assert_eq!(WasmType::parse("decimal128(0,0)"), None);
    }
}
