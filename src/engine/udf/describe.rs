//! A module's self-description: the JSON lines of its `wasql.udfs` custom
//! sections (udfs/ABI.md §2), read without running any guest code.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::Volatility;
use serde::Deserialize;
use wasql_abi::{Kind, is_valid_name};

use super::exports::{self, Signature};
use crate::text::{escape_control, escape_control_lines};

/// The ABI versions this host implements.
pub const SUPPORTED_ABI: &[u32] = &[wasql_abi::ABI_VERSION];

/// The custom section holding the description.
pub use wasql_abi::SECTION;

/// A value type that crosses the ABI (udfs/ABI.md §5): the ABI's own type
/// list, with its Arrow types from [`ArrowType`].
pub use wasql_abi::DataType as WasmType;

/// The Arrow types of an ABI value type.
pub trait ArrowType {
    /// The Arrow type of values of this type as they cross the ABI.
    fn data_type(self) -> DataType;
    /// The SQL type of values of this type: timestamps cross the ABI in
    /// microseconds but are nanoseconds in SQL, like DataFusion's own;
    /// everything else is the same as [`ArrowType::data_type`].
    fn sql_type(self) -> DataType;
}

impl ArrowType for WasmType {
    fn data_type(self) -> DataType {
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

    fn sql_type(self) -> DataType {
        match self {
            WasmType::TimestampMicros => DataType::Timestamp(TimeUnit::Nanosecond, None),
            WasmType::TimestampMicrosUtc => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
            }
            other => other.data_type(),
        }
    }
}

/// DataFusion's volatility of an ABI one.
fn volatility(v: wasql_abi::Volatility) -> Volatility {
    match v {
        wasql_abi::Volatility::Immutable => Volatility::Immutable,
        wasql_abi::Volatility::Stable => Volatility::Stable,
        wasql_abi::Volatility::Volatile => Volatility::Volatile,
    }
}

/// What kind of function it is, and what it produces.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionKind {
    /// One value per row (udfs/ABI.md §3).
    Scalar {
        /// The type of the value.
        returns: WasmType,
    },
    /// One value per group (§8).
    Aggregate {
        /// The type of the group's value.
        returns: WasmType,
    },
    /// Rows of `columns` per input row, or per partition when
    /// `partitioned` (§9).
    Table {
        /// The output columns, by name and type.
        columns: Vec<(String, WasmType)>,
        /// Called once per partition rather than per row.
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
    /// The argument types, in order.
    pub args: Vec<WasmType>,
    /// Scalar, aggregate or table, and what it produces.
    pub kind: FunctionKind,
    /// The volatility DataFusion plans it with.
    pub volatility: Volatility,
    /// What the function asks for; granted only by the operator.
    pub capabilities: Vec<String>,
    /// The function's documentation, if the module gives one.
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
    volatility: Option<String>,
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
        if !is_valid_name(&raw.name) {
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
        let kind = match Kind::parse(&raw.kind) {
            Some(Kind::Scalar) => FunctionKind::Scalar {
                returns: returns()?,
            },
            Some(Kind::Aggregate) => FunctionKind::Aggregate {
                returns: returns()?,
            },
            Some(Kind::Table) => {
                let columns = raw
                    .columns
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| format!("table function '{}' declares no columns", raw.name))?;
                let mut parsed: Vec<(String, WasmType)> = Vec::new();
                for column in columns {
                    if !is_valid_name(&column.name) || parsed.iter().any(|(n, _)| *n == column.name)
                    {
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
            None => {
                return Err(format!(
                    "function '{}' is of kind '{}', which this wasql cannot run (it runs scalar, aggregate and table functions)",
                    raw.name, raw.kind
                ));
            }
        };
        let declared = match raw.volatility.as_deref() {
            None => wasql_abi::Volatility::default(),
            Some(name) => wasql_abi::Volatility::parse(name).ok_or_else(|| {
                format!(
                    "function '{}' has volatility '{name}': use immutable, stable or volatile",
                    raw.name
                )
            })?,
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
            volatility: volatility(declared),
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
    use datafusion::arrow::datatypes::{Decimal128Type, validate_decimal_precision_and_scale};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::{Value, json};

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
        assert_eq!(specs[0].volatility, Volatility::Immutable);
        assert_eq!(specs[1].args[0], WasmType::Decimal128(10, 2));
        assert_eq!(specs[1].volatility, Volatility::Volatile);
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

    /// Description lines as the examples in `udfs/` write them (read from
    /// their built modules), and one with a decimal type.
    const REAL: [&str; 8] = [
        r#"{"abi":1,"name":"slugify","kind":"scalar","export":"wasql_udf_slugify","args":["utf8"],"returns":"utf8","volatility":"immutable","capabilities":[],"doc":"Lowercase; each run of characters other than ASCII letters and digits becomes one '-'; no leading or trailing '-'."}"#,
        r#"{"abi":1,"name":"label","kind":"scalar","export":"wasql_udf_label","args":["utf8","utf8"],"returns":"utf8","volatility":"volatile","capabilities":["net:*"],"doc":"The label of a code in the online configuration at config_url (a JSON object of code to label); null when the code is not there."}"#,
        r#"{"abi":1,"name":"digit_count","kind":"scalar","export":"digit_count","args":["utf8"],"returns":"int64","doc":"number of ASCII digits in a string (C example)"}"#,
        r#"{"abi":1,"name":"geo_mean","kind":"aggregate","export":"wasql_agg_geo_mean","args":["float64"],"returns":"float64","volatility":"immutable","capabilities":[],"doc":"Geometric mean of the positive values (NULLs, zeros and negatives are ignored); NULL when there are none."}"#,
        r#"{"abi":1,"name":"tokenize","kind":"table","export":"wasql_table_tokenize","args":["utf8"],"columns":[{"name":"token","type":"utf8"},{"name":"pos","type":"int32"}],"volatility":"immutable","capabilities":[],"doc":"The lowercase words of a text (runs of alphanumeric characters) with their ordinal from 1."}"#,
        r#"{"abi":1,"name":"sessionize","kind":"table","export":"wasql_table_sessionize","args":["int64","timestamp_us","int64"],"columns":[{"name":"user_id","type":"int64"},{"name":"session_id","type":"int32"},{"name":"start","type":"timestamp_us"},{"name":"end","type":"timestamp_us"},{"name":"events","type":"int32"}],"partitioned":true,"volatility":"immutable","capabilities":[],"doc":"A partition's rows (one user's events, ordered by ts) cut into sessions: a new one after a gap of more than gap_seconds."}"#,
        r#"{"abi":1,"name":"echo_tsz","kind":"scalar","export":"wasql_udf_echo_tsz","args":["timestamp_us_utc"],"returns":"timestamp_us_utc","volatility":"immutable","capabilities":[],"doc":"timestamp_us_utc in, unchanged out."}"#,
        r#"{"abi":1,"name":"money","kind":"scalar","export":"m","args":["decimal128(10,2)","date32","uint16"],"returns":"boolean","volatility":"stable"}"#,
    ];

    /// One to four real lines, one per line.
    fn real_descriptions() -> impl Strategy<Value = String> {
        vec(select(&REAL[..]), 1..5).prop_map(|lines| lines.join("\n") + "\n")
    }

    /// Type strings: every supported one, decimals in and out of range,
    /// near misses and junk.
    fn type_texts() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(
                WasmType::SIMPLE
                    .iter()
                    .map(WasmType::to_string)
                    .chain([
                        " int64 ", "Float64", "float16", "timestamp_ns", "",
                        "decimal128(38,38)", "decimal128(38,-38)", "decimal128(39,0)",
                        "decimal128(0,0)", "decimal128(1,-2)", "decimal128( 10 , 2 )",
                        "decimal128(10,2", "decimal128(255,127)", "decimal128(10,-128)",
                        "decimal128(-1,0)", "decimal128(10,2,3)", "decimal128()",
                    ].map(String::from))
                    .collect::<Vec<_>>()
            ),
            1 => (any::<u8>(), any::<i8>()).prop_map(|(p, s)| format!("decimal128({p},{s})")),
            1 => ".{0,12}",
        ]
    }

    /// Function and column names, valid and not.
    fn names() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => "[a-z_][a-z0-9_]{0,8}",
            1 => select(vec!["", "_", "9a", "A", "drop table", "é", "a-b", "a\u{0}"])
                .prop_map(String::from),
            1 => ".{0,8}",
        ]
    }

    /// A `columns` value: names and types, valid or not.
    fn columns() -> impl Strategy<Value = String> {
        vec((names(), type_texts()), 0..4).prop_map(|columns| {
            let columns: Vec<Value> = columns
                .into_iter()
                .map(|(name, t)| json!({"name": name, "type": t}))
                .collect();
            json!(columns).to_string()
        })
    }

    /// JSON values of the wrong type (or of the right type, wrong shape),
    /// as text: leaves, nested arrays and objects, numbers no integer type
    /// holds, and nesting deeper than serde_json allows.
    fn junk() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            names().prop_map(Value::from),
        ];
        let nested = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                vec((names(), inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        });
        prop_oneof![
            3 => nested.prop_map(|v| v.to_string()),
            1 => select(vec![
                "1e400", "-1e400", "18446744073709551616", "4294967296", "-0", "1.5", "01",
                "\"\\ud800\"", "\"\\u0000\"",
            ])
            .prop_map(String::from),
            1 => (1usize..400, any::<bool>()).prop_map(|(depth, arrays)| if arrays {
                "[".repeat(depth) + &"]".repeat(depth)
            } else {
                "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
            }),
        ]
    }

    const KEYS: [&str; 12] = [
        "abi",
        "name",
        "kind",
        "export",
        "args",
        "returns",
        "columns",
        "partitioned",
        "volatility",
        "capabilities",
        "doc",
        "extra",
    ];

    /// A change to one key of a description line.
    #[derive(Debug, Clone)]
    enum Change {
        /// Sets (or adds) the key to this JSON text.
        Set(&'static str, String),
        Remove(&'static str),
        /// Writes the key a second time.
        Repeat(&'static str),
    }

    /// A real line with 1 to 3 changes to its keys (mostly values of the
    /// right JSON type, valid or not), written back as JSON.
    fn changed_line() -> impl Strategy<Value = String> {
        let string = |s: String| json!(s).to_string();
        let well_typed = prop_oneof![
            names().prop_map(move |n| Change::Set("name", string(n))),
            type_texts().prop_map(move |t| Change::Set("returns", string(t))),
            vec(type_texts(), 0..4).prop_map(|t| Change::Set("args", json!(t).to_string())),
            columns().prop_map(|c| Change::Set("columns", c)),
            select(vec!["scalar", "aggregate", "table", "window", "Scalar", ""])
                .prop_map(move |k| Change::Set("kind", string(k.into()))),
            select(vec!["immutable", "stable", "volatile", "Volatile"])
                .prop_map(move |v| Change::Set("volatility", string(v.into()))),
            select(vec!["0", "1", "2", "-1", "4294967296", "1.0"])
                .prop_map(|abi| Change::Set("abi", abi.into())),
            any::<bool>().prop_map(|p| Change::Set("partitioned", p.to_string())),
        ];
        let change = prop_oneof![
            4 => well_typed,
            2 => (select(&KEYS[..]), junk()).prop_map(|(k, v)| Change::Set(k, v)),
            1 => select(&KEYS[..]).prop_map(Change::Remove),
            1 => select(&KEYS[..]).prop_map(Change::Repeat),
        ];
        (select(&REAL[..]), vec(change, 1..4)).prop_map(|(line, changes)| {
            let object: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
            let mut pairs: Vec<(String, String)> = object
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect();
            for change in changes {
                match change {
                    Change::Set(key, value) => match pairs.iter_mut().find(|(k, _)| k == key) {
                        Some(pair) => pair.1 = value,
                        None => pairs.push((key.into(), value)),
                    },
                    Change::Remove(key) => pairs.retain(|(k, _)| k != key),
                    Change::Repeat(key) => {
                        if let Some(pair) = pairs.iter().find(|(k, _)| k == key).cloned() {
                            pairs.push(pair);
                        }
                    }
                }
            }
            let body: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}:{v}", json!(k)))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    /// The description line of `spec`.
    fn describe(spec: &FunctionSpec) -> String {
        let mut line = json!({
            "abi": 1,
            "name": spec.name,
            "export": spec.export,
            "args": spec.args.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "volatility": format!("{:?}", spec.volatility).to_lowercase(),
            "capabilities": spec.capabilities,
            "doc": spec.doc,
        });
        let extra = match &spec.kind {
            FunctionKind::Scalar { returns } => {
                json!({"kind": "scalar", "returns": returns.to_string()})
            }
            FunctionKind::Aggregate { returns } => {
                json!({"kind": "aggregate", "returns": returns.to_string()})
            }
            FunctionKind::Table {
                columns,
                partitioned,
            } => json!({
                "kind": "table",
                "partitioned": partitioned,
                "columns": columns
                    .iter()
                    .map(|(name, t)| json!({"name": name, "type": t.to_string()}))
                    .collect::<Vec<_>>(),
            }),
        };
        line.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        line.to_string()
    }

    /// `[a-z_][a-z0-9_]*`, written independently of `valid_name`.
    fn is_sql_name(name: &str) -> bool {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
    }

    /// What every accepted description satisfies: one function per
    /// non-blank line, valid names, types Arrow can hold, distinct table
    /// columns; and each function, described again, parses back the same.
    fn check_accepted(text: &str, specs: &[FunctionSpec]) -> Result<(), TestCaseError> {
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(specs.len(), lines);
        for spec in specs {
            prop_assert!(is_sql_name(&spec.name), "name {:?}", spec.name);
            let mut types = spec.args.clone();
            match &spec.kind {
                FunctionKind::Scalar { returns } | FunctionKind::Aggregate { returns } => {
                    types.push(*returns)
                }
                FunctionKind::Table { columns, .. } => {
                    prop_assert!(!columns.is_empty());
                    for (i, (name, t)) in columns.iter().enumerate() {
                        prop_assert!(is_sql_name(name), "column {:?}", name);
                        prop_assert!(columns[..i].iter().all(|(other, _)| other != name));
                        types.push(*t);
                    }
                }
            }
            for t in types {
                if let WasmType::Decimal128(p, s) = t {
                    prop_assert!((1..=38).contains(&p) && s.unsigned_abs() <= p, "{t:?}");
                    prop_assert!(
                        validate_decimal_precision_and_scale::<Decimal128Type>(p, s).is_ok()
                    );
                }
            }
            let again = parse_description(&describe(spec));
            prop_assert_eq!(again, Ok(vec![spec.clone()]));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(crate::fuzz::config(1000))]

        /// The real descriptions are accepted, as they are.
        #[test]
        fn fuzz_description_accepts_real_ones(text in real_descriptions()) {
            let specs = parse_description(&text);
            prop_assert!(specs.is_ok(), "{:?}", specs);
            check_accepted(&text, &specs.unwrap())?;
        }

        /// Real descriptions with bytes flipped, inserted, deleted or
        /// repeated (then read as the module loader does, which refuses
        /// non-UTF-8 sections: here replaced) never panic the parser, and
        /// what it accepts is sound.
        #[test]
        fn fuzz_description_with_mutated_bytes(
            bytes in crate::fuzz::mutated(real_descriptions().prop_map(String::into_bytes)),
        ) {
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(specs) = parse_description(&text) {
                check_accepted(&text, &specs)?;
            }
        }

        /// Real lines with keys missing, repeated or holding values of the
        /// wrong type, out-of-range numbers, bad names and types, deep
        /// nesting, between real lines and blank ones: never a panic, and
        /// what is accepted is sound.
        #[test]
        fn fuzz_description_with_changed_values(
            lines in vec(prop_oneof![
                3 => changed_line(),
                1 => select(&REAL[..]).prop_map(String::from),
                1 => select(vec!["", " ", "\0\0", "\t"]).prop_map(String::from),
            ], 1..4),
        ) {
            let text = lines.join("\n");
            if let Ok(specs) = parse_description(&text) {
                check_accepted(&text, &specs)?;
            }
        }
    }
}
