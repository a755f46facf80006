//! The `config.toml` file: user defaults for the shell and named object-store
//! profiles. Every key is optional; unknown keys are an error so that typos
//! do not go unnoticed.
//!
//! Values keep what was written; each kind of value ([`Seconds`],
//! [`ByteSize`], [`Count`]) has one rule that turns it into a setting, and
//! every refusal names the key (see [`crate::settings`]). This module is
//! plain data: of the engine it imports only [`crate::text`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Settings read from a wasql config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default output format (`table`, `csv`, ...).
    pub format: Option<String>,
    /// Default row limit for table output; 0 shows every row.
    pub maxrows: Option<usize>,
    /// Whether to print query timing after each statement.
    pub timing: Option<bool>,
    /// Memory limit for query execution, e.g. `"4G"` or `"512M"`.
    pub memory_limit: Option<ByteSize>,
    /// Number of partitions queries are split into (default: number of cores).
    pub target_partitions: Option<Count>,
    /// Seconds a statement may run before it is cancelled (like `--timeout`).
    pub timeout: Option<Seconds>,
    /// The cluster to run on, `df://HOST:PORT` (like `--cluster`).
    pub cluster: Option<String>,
    /// Named object-store profiles: endpoint, credentials and client options.
    #[serde(default)]
    pub profiles: BTreeMap<String, StoreProfile>,
    /// Directories of WASM UDF modules loaded at start-up.
    #[serde(default)]
    pub udf_dirs: Vec<PathBuf>,
    /// Sandbox limits for WASM UDFs.
    #[serde(default)]
    pub udf: UdfConfig,
    /// The network policy for UDFs and `http_get` (default: no access).
    #[serde(default)]
    pub net: NetConfig,
}

/// The `[udf]` table: sandbox limits for every module, and
/// `[udf.modules.NAME]` tables of the same keys overriding them for the
/// module `NAME.wasm` (unset keys keep the defaults, or `[udf]`'s).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdfConfig {
    /// Linear memory cap per instance, e.g. `"256M"`.
    pub memory_limit: Option<ByteSize>,
    /// Most elements of one WebAssembly table of an instance.
    pub max_table_elements: Option<Count>,
    /// Most tables an instance may define.
    pub max_tables: Option<Count>,
    /// Most linear memories an instance may define.
    pub max_memories: Option<Count>,
    /// Wall-time deadline per call, in seconds.
    pub timeout_seconds: Option<Seconds>,
    /// Largest serialized state of one aggregate group, e.g. `"1M"`.
    pub max_state_size: Option<ByteSize>,
    /// Per-module overrides, by module file name without `.wasm` (only in
    /// `[udf]` itself).
    #[serde(default)]
    pub modules: BTreeMap<String, UdfConfig>,
}

/// The `[net]` section.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Seconds before one request gives up (default 10).
    pub timeout_seconds: Option<Seconds>,
    /// Largest response body, e.g. `"10M"` (default 10 MiB).
    pub max_response_bytes: Option<ByteSize>,
    /// Requests one query may send (default 10,000).
    pub max_requests_per_query: Option<Count>,
    /// Requests in flight at once (default 64).
    pub max_concurrent: Option<Count>,
    /// Retries after a 429, a 5xx or a connection error (default 2).
    pub retries: Option<Count>,
    /// Keep successful GET responses this many seconds across queries
    /// (default 0: identical requests are shared within one query only).
    pub cache_ttl_seconds: Option<Seconds>,
    /// Also append every audit record to this JSON-lines file.
    pub audit_file: Option<PathBuf>,
    /// The rules; a request goes out only if one of them allows it.
    #[serde(default)]
    pub allow: Vec<RuleConfig>,
    /// Named secrets the host adds to requests, by name.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretConfig>,
}

/// One `[[net.allow]]` rule.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// `scheme://host[:port][/path-prefix]`; the host may start with `*.`
    /// (any subdomain). `http://` is allowed only by a rule that says so.
    pub url: String,
    /// Methods allowed (default GET and HEAD).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Only for functions of these modules (file names without `.wasm`;
    /// `sql` for the SQL functions such as `http_get`). Default: any.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Only for these functions. Default: any.
    #[serde(default)]
    pub functions: Vec<String>,
    /// Private, loopback or link-local addresses (or networks, `a.b.c.d/n`)
    /// this rule's host may resolve to. Public addresses need no listing.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// A secret (from `[net.secrets]`) the host adds to matching requests.
    pub secret: Option<String>,
    /// The header that carries the secret (default `Authorization`).
    pub secret_header: Option<String>,
    /// How the header's value is made, `{}` standing for the secret
    /// (default `{}`; e.g. `Bearer {}`).
    pub secret_format: Option<String>,
}

/// Where a secret's value comes from: an environment variable or a file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// The environment variable holding the secret.
    pub env: Option<String>,
    /// The file holding the secret (its trailing newline dropped).
    pub file: Option<PathBuf>,
}

/// A named object-store profile.
///
/// `urls` lists the bucket URLs (e.g. `s3://my-bucket`) that use this profile
/// without being asked; any profile can also be chosen per statement with
/// `OPTIONS ('profile' 'NAME')`. Every other key is an `object_store`
/// configuration key for the URL's scheme (`endpoint`, `region`,
/// `access_key_id`, `secret_access_key`, `allow_http`, ...).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct StoreProfile {
    /// Bucket URLs that use this profile without being asked.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Every other key: `object_store` options for the URL's scheme.
    #[serde(flatten)]
    pub options: BTreeMap<String, toml::Value>,
}

impl StoreProfile {
    /// The profile's store options as strings, the way object_store takes them.
    pub fn string_options(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.options.iter().map(|(key, value)| {
            let value = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.clone(), value)
        })
    }
}

impl Config {
    /// The default config file: `$XDG_CONFIG_HOME/wasql/config.toml` (or the
    /// platform's equivalent).
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|dir| dir.join("wasql").join("config.toml"))
    }

    /// The default init script: `init.sql` beside the default config file.
    pub fn default_init_path() -> Option<PathBuf> {
        dirs::config_dir().map(|dir| dir.join("wasql").join("init.sql"))
    }

    /// Reads and parses a config file; the error names the file and the
    /// offending line.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Parses config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start].matches('\n').count() + 1;
                    format!("line {line}: {message}")
                }
                None => message,
            }
        })
    }
}

/// A refused config value (or command-line flag): the key as the user
/// would find it (`[udf] max_tables`, `timeout in the config`, `--timeout`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// Where the value was set.
    pub key: String,
    /// What the value must be and what it was, e.g. `must be at least 1, not 0`.
    pub problem: String,
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.problem)
    }
}

impl std::error::Error for InvalidSetting {}

impl InvalidSetting {
    /// `key` refused because it must be `rule` and was `value`.
    fn new(key: &str, rule: &str, value: &Scalar) -> InvalidSetting {
        InvalidSetting {
            key: key.to_string(),
            problem: format!("must be {rule}, not {value}"),
        }
    }
}

/// A value as written in the config: the kinds below take any of these and
/// their rule decides, so that a wrong type is refused like a wrong value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Text(text) => write!(f, "'{}'", crate::text::escape_control(text)),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A number of seconds, e.g. `timeout_seconds = 2.5`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Seconds(Scalar);

impl From<f64> for Seconds {
    fn from(seconds: f64) -> Self {
        Seconds(Scalar::Float(seconds))
    }
}

impl Seconds {
    const POSITIVE: &str = "a positive number of seconds";

    /// The rule for durations: a finite number of seconds above zero.
    pub fn positive(&self, key: &str) -> Result<Duration, InvalidSetting> {
        self.duration()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| InvalidSetting::new(key, Self::POSITIVE, &self.0))
    }

    /// The rule for periods where 0 means "off" (a cache's lifetime): as
    /// [`Seconds::positive`], with 0 allowed.
    pub fn positive_or_zero(&self, key: &str) -> Result<Duration, InvalidSetting> {
        self.duration()
            .ok_or_else(|| InvalidSetting::new(key, "0 or a positive number of seconds", &self.0))
    }

    fn duration(&self) -> Option<Duration> {
        let seconds = match self.0 {
            Scalar::Int(n) => n as f64,
            Scalar::Float(x) => x,
            Scalar::Text(_) | Scalar::Bool(_) => return None,
        };
        Duration::try_from_secs_f64(seconds).ok()
    }
}

/// A size in bytes: a number, or text such as `"512M"`, `"4G"`, `"1.5GB"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ByteSize(Scalar);

impl From<&str> for ByteSize {
    fn from(text: &str) -> Self {
        ByteSize(Scalar::Text(text.to_string()))
    }
}

impl From<usize> for ByteSize {
    fn from(bytes: usize) -> Self {
        ByteSize(Scalar::Int(bytes.try_into().unwrap_or(i64::MAX)))
    }
}

impl ByteSize {
    /// The rule for sizes: a number above zero, with an optional unit K, M,
    /// G or T (powers of 1024; `B` and `iB` suffixes allowed).
    pub fn positive(&self, key: &str) -> Result<usize, InvalidSetting> {
        let text = match &self.0 {
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Text(text) => text.clone(),
            Scalar::Bool(_) => String::new(),
        };
        parse_byte_size(&text).ok_or_else(|| {
            InvalidSetting::new(
                key,
                "a positive size: a number with K, M, G or T, such as 512M",
                &self.0,
            )
        })
    }
}

/// `text` as a number of bytes, if it is a positive size.
fn parse_byte_size(text: &str) -> Option<usize> {
    let upper = text.trim().to_ascii_uppercase();
    let number_end = upper
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(upper.len());
    let (number, unit) = upper.split_at(number_end);
    let multiplier: f64 = match unit.trim().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number.parse::<f64>().ok()? * multiplier;
    (bytes >= 1.0 && bytes.is_finite()).then_some(bytes as usize)
}

/// A whole number of things, e.g. `max_tables = 4`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Count(Scalar);

impl From<usize> for Count {
    fn from(count: usize) -> Self {
        Count(Scalar::Int(count.try_into().unwrap_or(i64::MAX)))
    }
}

impl Count {
    /// The rule for counts of things that need one: a whole number, at
    /// least 1.
    pub fn positive(&self, key: &str) -> Result<usize, InvalidSetting> {
        self.at_least(1, key)
    }

    /// The rule for counts where 0 means "none" (retries): a whole number,
    /// 0 or more.
    pub fn positive_or_zero(&self, key: &str) -> Result<usize, InvalidSetting> {
        self.at_least(0, key)
    }

    fn at_least(&self, least: usize, key: &str) -> Result<usize, InvalidSetting> {
        match self.0 {
            Scalar::Int(n) => usize::try_from(n)
                .ok()
                .filter(|&n| n >= least)
                .ok_or_else(|| InvalidSetting::new(key, &format!("at least {least}"), &self.0)),
            _ => Err(InvalidSetting::new(
                key,
                &format!("a whole number, at least {least}"),
                &self.0,
            )),
        }
    }
}

impl Config {
    /// How `key`, a key at the top of the file, is named in errors.
    pub fn key(key: &str) -> String {
        format!("{key} in the config")
    }

    /// The statement time limit (`timeout`), checked.
    pub fn statement_timeout(&self) -> Result<Option<Duration>, InvalidSetting> {
        self.timeout
            .as_ref()
            .map(|seconds| seconds.positive(&Self::key("timeout")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as the value of `key` in a `[t]` table.
    fn value<T: serde::de::DeserializeOwned>(text: &str) -> T {
        #[derive(Deserialize)]
        struct T1<T> {
            key: T,
        }
        toml::from_str::<T1<T>>(&format!("key = {text}"))
            .unwrap()
            .key
    }

    #[test]
    fn byte_sizes() {
        let bytes = |text: &str| value::<ByteSize>(text).positive("[t] key");
        assert_eq!(bytes("1024"), Ok(1024));
        assert_eq!(bytes("\"2k\""), Ok(2048));
        assert_eq!(bytes("\"512M\""), Ok(512 << 20));
        assert_eq!(bytes("\"1.5GB\""), Ok(3 << 29));
        assert_eq!(bytes("\"4GiB\""), Ok(4 << 30));
        let refused = |text: &str, shown: &str| {
            assert_eq!(
                bytes(text).unwrap_err().to_string(),
                format!(
                    "[t] key must be a positive size: a number with K, M, G or T, such as 512M, \
                     not {shown}"
                )
            );
        };
        refused("0", "0");
        refused("\"0M\"", "'0M'");
        refused("-5", "-5");
        refused("\"-5M\"", "'-5M'");
        refused("\"lots\"", "'lots'");
        refused("\"5X\"", "'5X'");
        refused("true", "true");
        assert_eq!(ByteSize::from("2M").positive("--memory-limit"), Ok(2 << 20));
    }

    #[test]
    fn seconds() {
        let seconds = |text: &str| value::<Seconds>(text).positive("[net] timeout_seconds");
        assert_eq!(seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        for (text, shown) in [
            ("0", "0"),
            ("-1.5", "-1.5"),
            ("-3", "-3"),
            ("\"soon\"", "'soon'"),
        ] {
            assert_eq!(
                seconds(text).unwrap_err().to_string(),
                format!("[net] timeout_seconds must be a positive number of seconds, not {shown}")
            );
        }
        assert!(Seconds::from(f64::NAN).positive("--timeout").is_err());
        assert!(Seconds::from(f64::INFINITY).positive("--timeout").is_err());
        let ttl = |text: &str| value::<Seconds>(text).positive_or_zero("[net] cache_ttl_seconds");
        assert_eq!(ttl("0"), Ok(Duration::ZERO));
        assert_eq!(
            ttl("-1").unwrap_err().to_string(),
            "[net] cache_ttl_seconds must be 0 or a positive number of seconds, not -1"
        );
    }

    #[test]
    fn counts() {
        let count = |text: &str| value::<Count>(text).positive("[udf] max_tables");
        assert_eq!(count("3"), Ok(3));
        for (text, problem) in [
            ("0", "must be at least 1, not 0"),
            ("-2", "must be at least 1, not -2"),
            ("2.5", "must be a whole number, at least 1, not 2.5"),
            ("\"many\"", "must be a whole number, at least 1, not 'many'"),
        ] {
            assert_eq!(
                count(text).unwrap_err().to_string(),
                format!("[udf] max_tables {problem}")
            );
        }
        let retries = |text: &str| value::<Count>(text).positive_or_zero("[net] retries");
        assert_eq!(retries("0"), Ok(0));
        assert_eq!(
            retries("-1").unwrap_err().to_string(),
            "[net] retries must be at least 0, not -1"
        );
    }

    #[test]
    fn config_with_profiles() {
        let config = Config::parse(
            r#"
            format = "csv"
            maxrows = 10
            timeout = 30
            udf_dirs = ["udfs/dist"]
            [udf]
            memory_limit = "64M"
            timeout_seconds = 2.5
            [udf.modules.png_edge_color]
            memory_limit = "512M"
            [profiles.local]
            urls = ["s3://bucket"]
            endpoint = "http://127.0.0.1:9000"
            allow_http = true
            "#,
        )
        .unwrap();
        assert_eq!(config.format.as_deref(), Some("csv"));
        assert_eq!(
            config.statement_timeout(),
            Ok(Some(Duration::from_secs(30)))
        );
        assert_eq!(config.udf_dirs, vec![PathBuf::from("udfs/dist")]);
        assert_eq!(config.udf.timeout_seconds, Some(Seconds::from(2.5)));
        assert_eq!(
            config.udf.modules["png_edge_color"].memory_limit,
            Some(ByteSize::from("512M"))
        );
        let local = &config.profiles["local"];
        assert_eq!(local.urls, vec!["s3://bucket"]);
        let options: BTreeMap<_, _> = local.string_options().collect();
        assert_eq!(options["allow_http"], "true");
        assert_eq!(options["endpoint"], "http://127.0.0.1:9000");
    }

    #[test]
    fn unknown_key_names_line() {
        let err = Config::parse("format = \"csv\"\nmaxrow = 3\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(err.contains("maxrow"), "{err}");
    }
}
