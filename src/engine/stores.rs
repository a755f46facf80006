//! Object stores, created on the first use of a URL.
//!
//! [`StoreRegistry`] is DataFusion's [`ObjectStoreRegistry`]: when a query
//! touches `s3://bucket/...`, `gs://...`, `az://...`/`abfss://...` or
//! `http(s)://...` for the first time, it builds a store from (lowest to
//! highest precedence) the AWS shared config files, the environment, the
//! config file's named profiles, and the statement's `OPTIONS (...)`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use datafusion::common::{DataFusionError, Result};

use crate::error::{StoreError, StoreFailure};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::{ClientConfigKey, ClientOptions, ObjectStore, RetryConfig};
use url::Url;

use super::aws_profile;
use super::located_store::LocatedStore;
use crate::config::StoreProfile;

/// Statement option that picks a named profile from the config file.
pub const PROFILE_OPTION: &str = "profile";

/// The kinds of object store wasql can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Local,
    S3,
    Gcs,
    Azure,
    Http,
}

/// Each kind of store: the URL schemes naming it, and the prefix of its keys
/// in `OPTIONS (...)` (`aws.region`) — the one place both are listed.
const KINDS: &[(StoreKind, &[&str], &str)] = &[
    (StoreKind::Local, &["file"], "file"),
    (StoreKind::S3, &["s3", "s3a"], "aws"),
    (StoreKind::Gcs, &["gs", "gcs"], "gcp"),
    (
        StoreKind::Azure,
        &["az", "azure", "abfs", "abfss", "adl"],
        "azure",
    ),
    (StoreKind::Http, &["http", "https"], "http"),
];

impl StoreKind {
    fn of(url: &Url) -> Result<StoreKind> {
        KINDS
            .iter()
            .find(|(_, schemes, _)| schemes.contains(&url.scheme()))
            .map(|(kind, _, _)| *kind)
            .ok_or_else(|| {
                store_error(
                    url,
                    StoreFailure::UnsupportedScheme(url.scheme().to_string()),
                )
            })
    }

    /// The prefix of this kind's keys in `OPTIONS (...)`, e.g. `aws.region`.
    fn option_prefix(self) -> &'static str {
        KINDS
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .map_or("file", |(_, _, prefix)| prefix)
    }
}

/// The prefix of the `OPTIONS (...)` keys for locations of `scheme`
/// (`aws` for `s3`), if wasql knows the scheme.
pub fn option_prefix(scheme: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|(_, schemes, _)| schemes.contains(&scheme))
        .map(|(_, _, prefix)| *prefix)
}

/// Returns true for statement option keys that configure an object store
/// rather than a file format.
pub fn is_store_option(key: &str) -> bool {
    key == PROFILE_OPTION
        || KINDS
            .iter()
            .filter(|(kind, _, _)| *kind != StoreKind::Local)
            .any(|(_, _, prefix)| {
                key.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
}

/// The registry key of a URL: scheme, host and port (`s3://bucket`).
fn store_key(url: &Url) -> String {
    format!(
        "{}://{}",
        url.scheme(),
        &url[url::Position::BeforeHost..url::Position::AfterPort]
    )
}

/// Creates object stores on first use and keeps them per bucket/host.
#[derive(Debug)]
pub struct StoreRegistry {
    stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    profiles: BTreeMap<String, StoreProfile>,
}

impl StoreRegistry {
    /// A registry with the local file system and the given named profiles.
    pub fn new(profiles: BTreeMap<String, StoreProfile>) -> Self {
        let local: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
        let stores = HashMap::from([("file://".to_string(), local)]);
        Self {
            stores: RwLock::new(stores),
            profiles,
        }
    }

    /// Builds the store for `url` with explicit statement options
    /// (`aws.region`, `profile`, ...) and registers it, replacing any store
    /// previously used for the same bucket.
    pub fn configure(&self, url: &Url, options: &[(String, String)]) -> Result<()> {
        let store = self.build(url, options)?;
        self.register_store(url, store);
        Ok(())
    }

    /// The profile for `url`: the one named in the options, else the first
    /// whose `urls` list the URL's bucket.
    fn profile_for(
        &self,
        url: &Url,
        options: &[(String, String)],
    ) -> Result<Option<&StoreProfile>> {
        if let Some((_, name)) = options.iter().find(|(k, _)| k == PROFILE_OPTION) {
            return match self.profiles.get(name) {
                Some(profile) => Ok(Some(profile)),
                None => Err(store_error(url, StoreFailure::NoProfile(name.clone()))),
            };
        }
        let key = store_key(url);
        Ok(self
            .profiles
            .values()
            .find(|profile| profile.urls.iter().any(|u| u.trim_end_matches('/') == key)))
    }

    fn build(&self, url: &Url, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
        let kind = StoreKind::of(url)?;
        if kind == StoreKind::Local {
            return Ok(Arc::new(LocalFileSystem::new()));
        }
        // Settings in increasing precedence: profile, then statement options.
        let mut settings: Vec<(String, String)> = Vec::new();
        if let Some(profile) = self.profile_for(url, options)? {
            settings.extend(profile.string_options());
        }
        let prefix = format!("{}.", kind.option_prefix());
        for (key, value) in options {
            if key == PROFILE_OPTION {
                continue;
            }
            match key.strip_prefix(&prefix) {
                Some(stripped) => settings.push((stripped.to_string(), value.clone())),
                None => {
                    return Err(store_error(
                        url,
                        StoreFailure::OptionMismatch {
                            key: key.clone(),
                            prefix: prefix.clone(),
                        },
                    ));
                }
            }
        }
        let bucket = url.host_str().unwrap_or_default();
        let store = match kind {
            StoreKind::S3 => {
                let profile_name = settings
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "profile")
                    .map(|(_, v)| v.clone());
                let layered = aws_profile::settings(profile_name.as_deref())
                    .into_iter()
                    .chain(aws_env_settings())
                    .chain(settings.into_iter().filter(|(k, _)| k != "profile"));
                configure(
                    AmazonS3Builder::new().with_bucket_name(bucket),
                    layered,
                    url,
                )?
            }
            StoreKind::Gcs => configure(
                GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket),
                settings,
                url,
            )?,
            StoreKind::Azure => configure(
                MicrosoftAzureBuilder::from_env().with_url(url.as_str()),
                settings,
                url,
            )?,
            StoreKind::Http => {
                configure(HttpBuilder::new().with_url(store_key(url)), settings, url)?
            }
            StoreKind::Local => unreachable!("handled above"),
        };
        Ok(Arc::new(LocatedStore::new(url, store)))
    }
}

/// The object_store builders, configured the same way.
trait StoreBuilder: Sized {
    type Key: std::str::FromStr;
    fn client(self, retry: RetryConfig, options: ClientOptions) -> Self;
    fn set(self, key: Self::Key, value: String) -> Self;
    fn finish(self) -> object_store::Result<Arc<dyn ObjectStore>>;
}

macro_rules! store_builder {
    ($builder:ty, $key:ty) => {
        impl StoreBuilder for $builder {
            type Key = $key;
            fn client(self, retry: RetryConfig, options: ClientOptions) -> Self {
                self.with_retry(retry).with_client_options(options)
            }
            fn set(self, key: $key, value: String) -> Self {
                self.with_config(key, value)
            }
            fn finish(self) -> object_store::Result<Arc<dyn ObjectStore>> {
                Ok(Arc::new(self.build()?))
            }
        }
    };
}

store_builder!(AmazonS3Builder, AmazonS3ConfigKey);
store_builder!(GoogleCloudStorageBuilder, GoogleConfigKey);
store_builder!(MicrosoftAzureBuilder, AzureConfigKey);
store_builder!(HttpBuilder, ClientConfigKey);

/// Applies wasql's client defaults, then `settings` (so that settings such
/// as `allow_http` or `timeout` win), and builds the store for `url`.
fn configure<B: StoreBuilder>(
    builder: B,
    settings: impl IntoIterator<Item = (String, String)>,
    url: &Url,
) -> Result<Arc<dyn ObjectStore>> {
    let mut builder = builder.client(retry_config(), client_options());
    for (key, value) in settings {
        let parsed = key
            .parse()
            .map_err(|_| store_error(url, StoreFailure::UnknownOption(key.clone())))?;
        builder = builder.set(parsed, value);
    }
    builder
        .finish()
        .map_err(|e| store_error(url, StoreFailure::Setup(e.to_string())))
}

/// `AWS_*` environment variables as S3 settings (`AWS_REGION` ->
/// `aws_region`), the way object_store's `from_env` reads them.
fn aws_env_settings() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("AWS_"))
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .filter(|(key, _)| key.parse::<AmazonS3ConfigKey>().is_ok())
        .collect()
}

/// Few, quick retries: an unreachable endpoint should fail in seconds, not
/// after object_store's default three minutes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
        ..RetryConfig::default()
    }
}

fn client_options() -> ClientOptions {
    ClientOptions::new().with_connect_timeout(Duration::from_secs(5))
}

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        stores.insert(store_key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        stores
            .remove(&store_key(url))
            .ok_or_else(|| store_error(url, StoreFailure::NotRegistered))
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let key = store_key(url);
        if let Some(store) = self
            .stores
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(store));
        }
        let store = self.build(url, &[])?;
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        Ok(Arc::clone(stores.entry(key).or_insert(store)))
    }
}

/// A [`StoreError`] about `url`, as a query error.
fn store_error(url: &Url, failure: StoreFailure) -> DataFusionError {
    StoreError {
        location: url.to_string(),
        failure,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_are_scheme_host_port() {
        let url = Url::parse("s3://bucket/a/b.parquet").unwrap();
        assert_eq!(store_key(&url), "s3://bucket");
        let url = Url::parse("http://127.0.0.1:8080/x.csv").unwrap();
        assert_eq!(store_key(&url), "http://127.0.0.1:8080");
    }

    #[test]
    fn options_for_another_scheme_are_refused() {
        let registry = StoreRegistry::new(BTreeMap::new());
        let url = Url::parse("gs://bucket/x.csv").unwrap();
        let err = registry
            .configure(&url, &[("aws.region".into(), "us-east-1".into())])
            .unwrap_err();
        assert!(err.to_string().contains("does not apply"), "{err}");
    }

    #[test]
    fn unknown_profile_is_named() {
        let registry = StoreRegistry::new(BTreeMap::new());
        let url = Url::parse("s3://bucket/x.csv").unwrap();
        let err = registry
            .configure(&url, &[("profile".into(), "nope".into())])
            .unwrap_err();
        assert!(err.to_string().contains("no profile named 'nope'"), "{err}");
    }

    #[test]
    fn unsupported_scheme() {
        let registry = StoreRegistry::new(BTreeMap::new());
        let url = Url::parse("ftp://host/x.csv").unwrap();
        let err = registry.get_store(&url).unwrap_err();
        assert!(
            err.to_string()
                .contains("unsupported location scheme 'ftp://'"),
            "{err}"
        );
    }
}
