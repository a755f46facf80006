//! The `config.toml` file: user defaults for the shell and named object-store
//! profiles. Every key is optional; unknown keys are an error so that typos
//! do not go unnoticed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    pub memory_limit: Option<String>,
    /// Number of partitions queries are split into (default: number of cores).
    pub target_partitions: Option<usize>,
    /// Seconds a statement may run before it is cancelled (like `--timeout`).
    pub timeout: Option<f64>,
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
    pub net: crate::net::NetConfig,
}

/// The `[udf]` table: sandbox limits for every module, and
/// `[udf.modules.NAME]` tables of the same keys overriding them for the
/// module `NAME.wasm` (unset keys keep the defaults, or `[udf]`'s).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdfConfig {
    /// Linear memory cap per instance, e.g. `"256M"`.
    pub memory_limit: Option<String>,
    /// Most elements of one WebAssembly table of an instance.
    pub max_table_elements: Option<usize>,
    /// Most tables an instance may define.
    pub max_tables: Option<usize>,
    /// Most linear memories an instance may define.
    pub max_memories: Option<usize>,
    /// Wall-time deadline per call, in seconds.
    pub timeout_seconds: Option<f64>,
    /// Largest serialized state of one aggregate group, e.g. `"1M"`.
    pub max_state_size: Option<String>,
    /// Per-module overrides, by module file name without `.wasm` (only in
    /// `[udf]` itself).
    #[serde(default)]
    pub modules: BTreeMap<String, UdfConfig>,
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
    #[serde(default)]
    pub urls: Vec<String>,
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

/// Parses a byte size such as `512M`, `4G`, `1.5GB` or `1048576`.
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
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
        _ => {
            return Err(format!(
                "invalid size '{trimmed}': use a number with K, M, G or T"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid size '{trimmed}': use a number with K, M, G or T"))?;
    if value <= 0.0 {
        return Err(format!(
            "invalid size '{trimmed}': must be greater than zero"
        ));
    }
    Ok((value * multiplier) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("1024").unwrap(), 1024);
        assert_eq!(parse_byte_size("2k").unwrap(), 2048);
        assert_eq!(parse_byte_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_byte_size("1.5GB").unwrap(), 3 << 29);
        assert_eq!(parse_byte_size("4GiB").unwrap(), 4 << 30);
        assert!(parse_byte_size("lots").is_err());
        assert!(parse_byte_size("0").is_err());
        assert!(parse_byte_size("5X").is_err());
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
        assert_eq!(config.timeout, Some(30.0));
        assert_eq!(config.udf_dirs, vec![PathBuf::from("udfs/dist")]);
        assert_eq!(config.udf.timeout_seconds, Some(2.5));
        assert_eq!(
            config.udf.modules["png_edge_color"].memory_limit.as_deref(),
            Some("512M")
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
