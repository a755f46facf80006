//! [`EngineSettings`]: how to set up an [`crate::Engine`], made from a
//! [`Config`] with every value checked by the rule of its kind (see
//! [`crate::config`]), so that embedders and the `wasql` binary refuse the
//! same values with the same words.

use std::collections::BTreeMap;

use crate::config::{Config, InvalidSetting, NetConfig, StoreProfile, UdfConfig};
use crate::{net, udf};

/// How to set up an [`crate::Engine`].
#[derive(Debug, Default, Clone)]
pub struct EngineSettings {
    /// Memory limit for query execution in bytes; `None` means unbounded.
    pub memory_limit: Option<usize>,
    /// Partitions per query; `None` means one per core.
    pub target_partitions: Option<usize>,
    /// Named object-store profiles from the config file.
    pub profiles: BTreeMap<String, StoreProfile>,
    /// Sandbox limits for WASM UDFs.
    pub udf_limits: udf::LimitPolicy,
    /// The network policy (`[net]`).
    pub net: NetConfig,
}

impl EngineSettings {
    /// The settings `config` asks for; the first value it sets wrongly is
    /// refused, naming its key (`[udf] max_tables must be at least 1, not 0`).
    pub fn from_config(config: &Config) -> Result<EngineSettings, InvalidSetting> {
        // The network's limits are made when the engine starts (with its
        // secrets); checked here so that a bad value is refused up front.
        net::Limits::from_config(&config.net)?;
        Ok(EngineSettings {
            memory_limit: config
                .memory_limit
                .as_ref()
                .map(|size| size.positive(&Config::key("memory_limit")))
                .transpose()?,
            target_partitions: config
                .target_partitions
                .as_ref()
                .map(|count| count.positive(&Config::key("target_partitions")))
                .transpose()?,
            profiles: config.profiles.clone(),
            udf_limits: udf_limit_policy(&config.udf)?,
            net: config.net.clone(),
        })
    }
}

/// The `[udf]` limits, with `[udf.modules.NAME]` overrides.
fn udf_limit_policy(config: &UdfConfig) -> Result<udf::LimitPolicy, InvalidSetting> {
    let default = udf_limits(udf::Limits::default(), config, "[udf]")?;
    let modules = config
        .modules
        .iter()
        .map(|(name, module)| {
            let table = format!("[udf.modules.{name}]");
            if !module.modules.is_empty() {
                return Err(InvalidSetting {
                    key: table,
                    problem: "cannot have modules of its own".into(),
                });
            }
            Ok((name.clone(), udf_limits(default, module, &table)?))
        })
        .collect::<Result<_, _>>()?;
    Ok(udf::LimitPolicy { default, modules })
}

/// `limits` with the keys `config` sets, which is the table `table`.
fn udf_limits(
    mut limits: udf::Limits,
    config: &UdfConfig,
    table: &str,
) -> Result<udf::Limits, InvalidSetting> {
    let key = |name: &str| format!("{table} {name}");
    if let Some(size) = &config.memory_limit {
        limits.memory_bytes = size.positive(&key("memory_limit"))?;
    }
    if let Some(size) = &config.max_state_size {
        limits.state_bytes = size.positive(&key("max_state_size"))?;
    }
    if let Some(seconds) = &config.timeout_seconds {
        limits.call_timeout = seconds.positive(&key("timeout_seconds"))?;
    }
    if let Some(count) = &config.max_table_elements {
        limits.table_elements = count.positive(&key("max_table_elements"))?;
    }
    if let Some(count) = &config.max_tables {
        limits.tables = count.positive(&key("max_tables"))?;
    }
    if let Some(count) = &config.max_memories {
        limits.memories = count.positive(&key("max_memories"))?;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings(text: &str) -> Result<EngineSettings, String> {
        EngineSettings::from_config(&Config::parse(text)?).map_err(|e| e.to_string())
    }

    #[test]
    fn every_kind_is_checked_where_it_is_set() {
        for (text, error) in [
            (
                "memory_limit = \"0\"",
                "memory_limit in the config must be a positive size",
            ),
            (
                "target_partitions = 0",
                "target_partitions in the config must be at least 1, not 0",
            ),
            (
                "[udf]\ntimeout_seconds = 0",
                "[udf] timeout_seconds must be a positive number of seconds, not 0",
            ),
            (
                "[udf]\nmax_tables = -1",
                "[udf] max_tables must be at least 1, not -1",
            ),
            (
                "[udf.modules.m]\nmax_state_size = \"lots\"",
                "[udf.modules.m] max_state_size must be a positive size",
            ),
            (
                "[udf.modules.m.modules.n]",
                "[udf.modules.m] cannot have modules of its own",
            ),
            (
                "[net]\ntimeout_seconds = 0",
                "[net] timeout_seconds must be a positive number of seconds, not 0",
            ),
            (
                "[net]\nmax_concurrent = 0",
                "[net] max_concurrent must be at least 1, not 0",
            ),
            (
                "[net]\nmax_requests_per_query = -3",
                "[net] max_requests_per_query must be at least 1, not -3",
            ),
            (
                "[net]\nmax_response_bytes = 0",
                "[net] max_response_bytes must be a positive size",
            ),
            (
                "[net]\nretries = -1",
                "[net] retries must be at least 0, not -1",
            ),
        ] {
            let err = settings(text).unwrap_err();
            assert!(err.starts_with(error), "{text}: {err}");
        }
    }

    #[test]
    fn values_become_settings() {
        let settings = settings(
            "memory_limit = \"1G\"\ntarget_partitions = 3\n\
             [udf]\ntimeout_seconds = 2.5\nmax_tables = 2\n\
             [udf.modules.m]\nmemory_limit = \"64M\"\n\
             [net]\nretries = 0\ncache_ttl_seconds = 0\n",
        )
        .unwrap();
        assert_eq!(settings.memory_limit, Some(1 << 30));
        assert_eq!(settings.target_partitions, Some(3));
        let default = settings.udf_limits.default;
        assert_eq!(default.call_timeout, Duration::from_millis(2500));
        assert_eq!(default.tables, 2);
        let module = settings.udf_limits.modules["m"];
        assert_eq!(module.memory_bytes, 64 << 20);
        assert_eq!(module.call_timeout, Duration::from_millis(2500));
        let net = net::Limits::from_config(&settings.net).unwrap();
        assert_eq!((net.retries, net.cache_ttl), (0, Duration::ZERO));
        assert_eq!(net.max_concurrent, 64);
    }
}
