//! A module's self-description: the JSON lines of its `wasql.udfs` custom
//! sections (udfs/ABI.md §2), read without running any guest code.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::Volatility;
use serde::Deserialize;

use super::exports::{self, Signature};
use crate::text::{escape_control, escape_control_lines};

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

    /// The SQL type of values of this type: timestamps cross the ABI in
    /// microseconds but are nanoseconds in SQL, like DataFusion's own;
    /// everything else is the same.
    pub fn sql_type(self) -> DataType {
        match self {
            WasmType::TimestampMicros => DataType::Timestamp(TimeUnit::Nanosecond, None),
            WasmType::TimestampMicrosUtc => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
            }
            other => other.data_type(),
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

/// What kind of function it is, and what it produces.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionKind {
    /// One value per row (udfs/ABI.md §3).
    Scalar { returns: WasmType },
    /// One value per group (§8).
    Aggregate { returns: WasmType },
    /// Rows of `columns` per input row, or per partition when
    /// `partitioned` (§9).
    Table {
        columns: Vec<(String, WasmType)>,
        partitioned: bool,
    },
}

impl FunctionKind {
    /// The word `\df` and `\udf list` show.
    pub fn label(&self) -> &'static str {
        match self {
            FunctionKind::Scalar { .. } => "scalar",
            FunctionKind::Aggregate { .. } => "aggregate",
            FunctionKind::Table {
                partitioned: false, ..
            } => "table",
            FunctionKind::Table {
                partitioned: true, ..
            } => "table (per partition)",
        }
    }
}

/// One function a module offers.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The SQL name.
    pub name: String,
    /// The exported wasm function implementing it (for an aggregate, the
    /// prefix of its exports).
    pub export: String,
    pub args: Vec<WasmType>,
    pub kind: FunctionKind,
    pub volatility: WasmVolatility,
    /// What the function asks for; granted only by the operator.
    pub capabilities: Vec<String>,
    pub doc: Option<String>,
}

impl FunctionSpec {
    /// The exports implementing the function, with the signature each must
    /// have.
    pub fn exports(&self) -> Vec<(String, Signature)> {
        match self.kind {
            FunctionKind::Scalar { .. } => {
                vec![(self.export.clone(), Signature::of::<exports::Scalar>())]
            }
            FunctionKind::Aggregate { .. } => exports::AGGREGATE
                .iter()
                .map(|(suffix, signature)| (format!("{}{suffix}", self.export), *signature))
                .collect(),
            FunctionKind::Table { .. } => {
                vec![(self.export.clone(), Signature::of::<exports::Table>())]
            }
        }
    }

    /// `name(Float64, Float64) -> Float64`, `name(Utf8) -> TABLE(token Utf8, pos Int32)`.
    pub fn signature(&self) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|t| t.data_type().to_string())
            .collect();
        let returns = match &self.kind {
            FunctionKind::Scalar { returns } | FunctionKind::Aggregate { returns } => {
                returns.data_type().to_string()
            }
            FunctionKind::Table { columns, .. } => {
                let columns: Vec<String> = columns
                    .iter()
                    .map(|(name, t)| format!("{name} {}", t.data_type()))
                    .collect();
                format!("TABLE({})", columns.join(", "))
            }
        };
        format!("{}({}) -> {returns}", self.name, args.join(", "))
    }
}

#[derive(Deserialize)]
struct RawSpec {
    abi: u32,
    name: String,
    kind: String,
    export: String,
    args: Vec<String>,
    #[serde(default)]
    returns: Option<String>,
    #[serde(default)]
    columns: Option<Vec<RawColumn>>,
    #[serde(default)]
    partitioned: bool,
    #[serde(default)]
    volatility: WasmVolatility,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    doc: Option<String>,
}

#[derive(Deserialize)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
}

/// Whether `name` is a valid function or column name: `[a-z_][a-z0-9_]*`.
fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parses the concatenated `wasql.udfs` sections of a module. Errors quote
/// the module's text with its control characters escaped.
pub fn parse_description(text: &str) -> Result<Vec<FunctionSpec>, String> {
    parse_specs(text).map_err(|e| escape_control(&e).into_owned())
}

fn parse_specs(text: &str) -> Result<Vec<FunctionSpec>, String> {
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
        if !valid_name(&raw.name) {
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
        let returns = || {
            raw.returns
                .as_deref()
                .ok_or_else(|| format!("function '{}' does not say what it returns", raw.name))
                .and_then(&parse)
        };
        let kind = match raw.kind.as_str() {
            "scalar" => FunctionKind::Scalar {
                returns: returns()?,
            },
            "aggregate" => FunctionKind::Aggregate {
                returns: returns()?,
            },
            "table" => {
                let columns = raw
                    .columns
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| format!("table function '{}' declares no columns", raw.name))?;
                let mut parsed: Vec<(String, WasmType)> = Vec::new();
                for column in columns {
                    if !valid_name(&column.name) || parsed.iter().any(|(n, _)| *n == column.name) {
                        return Err(format!(
                            "table function '{}' has a column named '{}': use distinct names of lowercase letters, digits and '_'",
                            raw.name, column.name
                        ));
                    }
                    parsed.push((column.name.clone(), parse(&column.data_type)?));
                }
                FunctionKind::Table {
                    columns: parsed,
                    partitioned: raw.partitioned,
                }
            }
            other => {
                return Err(format!(
                    "function '{}' is of kind '{other}', which this wasql cannot run (it runs scalar, aggregate and table functions)",
                    raw.name
                ));
            }
        };
        specs.push(FunctionSpec {
            args: raw
                .args
                .iter()
                .map(|t| parse(t))
                .collect::<Result<_, _>>()?,
            kind,
            name: raw.name,
            export: raw.export,
            volatility: raw.volatility,
            // Shown by `\udf list`, `\net` and `\df`: the module's own text,
            // so its control characters are escaped (a doc keeps its lines).
            capabilities: raw
                .capabilities
                .iter()
                .map(|c| escape_control(c).into_owned())
                .collect(),
            doc: raw.doc.map(|doc| escape_control_lines(&doc).into_owned()),
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
    fn parses_aggregates_and_table_functions() {
        let text = concat!(
            r#"{"abi":1,"name":"geo_mean","kind":"aggregate","export":"g","args":["float64"],"returns":"float64"}"#,
            "\n",
            r#"{"abi":1,"name":"tokenize","kind":"table","export":"t","args":["utf8"],"columns":[{"name":"token","type":"utf8"},{"name":"pos","type":"int32"}]}"#,
            "\n",
            r#"{"abi":1,"name":"sessions","kind":"table","partitioned":true,"export":"s","args":["int64"],"columns":[{"name":"n","type":"int64"}]}"#,
        );
        let specs = parse_description(text).unwrap();
        assert_eq!(
            specs[0].kind,
            FunctionKind::Aggregate {
                returns: WasmType::Float64
            }
        );
        assert_eq!(
            specs[1].signature(),
            "tokenize(Utf8) -> TABLE(token Utf8, pos Int32)"
        );
        assert_eq!(specs[2].kind.label(), "table (per partition)");
        let no_columns = r#"{"abi":1,"name":"t","kind":"table","export":"t","args":[]}"#;
        assert!(
            parse_description(no_columns)
                .unwrap_err()
                .contains("no columns")
        );
        let twice = r#"{"abi":1,"name":"t","kind":"table","export":"t","args":[],"columns":[{"name":"a","type":"int64"},{"name":"a","type":"int64"}]}"#;
        assert!(
            parse_description(twice)
                .unwrap_err()
                .contains("column named 'a'")
        );
        let no_returns = r#"{"abi":1,"name":"a","kind":"aggregate","export":"a","args":[]}"#;
        assert!(
            parse_description(no_returns)
                .unwrap_err()
                .contains("returns")
        );
        let window =
            r#"{"abi":1,"name":"w","kind":"window","export":"w","args":[],"returns":"int64"}"#;
        assert!(
            parse_description(window)
                .unwrap_err()
                .contains("kind 'window'")
        );
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
    fn the_modules_own_text_is_escaped() {
        let title = r#"{"abi":2,"name":"\u001b]0;pwned\u0007","kind":"scalar","export":"f","args":[],"returns":"int64"}"#;
        let err = parse_description(title).unwrap_err();
        assert!(err.contains("'\\x1b]0;pwned\\x07'"), "{err}");
        let listed = r#"{"abi":1,"name":"f","kind":"scalar","export":"f","args":[],"returns":"int64","capabilities":["net:\u001b[2J"],"doc":"a\nb\u009b"}"#;
        let spec = &parse_description(listed).unwrap()[0];
        assert_eq!(spec.capabilities, ["net:\\x1b[2J"]);
        assert_eq!(spec.doc.as_deref(), Some("a\nb\\u{9b}"));
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
