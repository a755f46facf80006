//! The engine's own errors, as types: a WASM function ([`UdfError`]), the
//! network hook's SQL functions ([`NetError`]) and object stores
//! ([`StoreError`]).
//!
//! Each travels inside `DataFusionError::External`, however deep DataFusion
//! wraps it; [`find`] gets it back by type, so a caller (the CLI, an
//! embedder, a server) decides what to show without reading message text.
//! Their `Display` is the one-line message for a person, and so is their
//! `Debug`: errors leave an executor of a cluster in `Debug` form (Ballista
//! formats a failed task's error with `{:?}`), and the client shows the
//! message it finds there.

use std::error::Error;
use std::fmt;

use datafusion::common::DataFusionError;

pub use crate::udf::LimitExceeded;
pub use crate::udf::{CallError, NameOwner, UdfError};

/// The first error of type `E` in `err`'s chain of causes.
pub fn find<E: Error + 'static>(err: &DataFusionError) -> Option<&E> {
    let mut cause: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(error) = cause {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        cause = error.source();
    }
    None
}

/// `Debug` for the engine's errors: their message (see the module's doc).
macro_rules! debug_as_display {
    ($($error:ty),*) => {$(
        impl fmt::Debug for $error {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    )*};
}
pub(crate) use debug_as_display;

debug_as_display!(NetError, StoreError);

/// A call of `http_get` (or its siblings) failed.
#[derive(Clone, PartialEq, Eq)]
pub struct NetError {
    /// The SQL function.
    pub function: String,
    /// What went wrong.
    pub failure: NetFailure,
}

/// Why a network function failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetFailure {
    /// An argument was unusable: not text, or a header line that is not
    /// `Name: value`.
    Argument(String),
    /// The request got no answer: refused by the policy, timed out, too
    /// large, or failed in transport (the client's account, URL redacted).
    Request(String),
    /// The server answered with a status outside 200–299.
    Status {
        /// The request, as `GET URL` with secrets redacted.
        request: String,
        /// The HTTP status.
        status: u16,
    },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let function = &self.function;
        match &self.failure {
            NetFailure::Argument(why) | NetFailure::Request(why) => write!(f, "{function}: {why}"),
            NetFailure::Status { request, status } => {
                write!(f, "{function}: {request} returned status {status}")
            }
        }
    }
}

impl Error for NetError {}

impl From<NetError> for DataFusionError {
    fn from(error: NetError) -> Self {
        DataFusionError::External(Box::new(error))
    }
}

/// An object store location could not be used.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreError {
    /// The location, as written.
    pub location: String,
    /// What went wrong.
    pub failure: StoreFailure,
}

/// Why a store could not be set up or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFailure {
    /// The location's scheme is not one wasql reads.
    UnsupportedScheme(String),
    /// `OPTIONS ('profile' ...)` names no `[profiles.NAME]` of the config.
    NoProfile(String),
    /// An option meant for another kind of store.
    OptionMismatch {
        /// The option as given.
        key: String,
        /// The prefix this store's options take (`aws.`, `gcp.`, ...).
        prefix: String,
    },
    /// An option the store does not know.
    UnknownOption(String),
    /// The store's client refused its settings.
    Setup(String),
    /// No store is registered for the location.
    NotRegistered,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = &self.location;
        match &self.failure {
            StoreFailure::UnsupportedScheme(scheme) => write!(
                f,
                "unsupported location scheme '{scheme}://' in '{location}': use a local path, \
                 s3://, gs://, az:// (or abfss://) or http(s)://"
            ),
            StoreFailure::NoProfile(name) => write!(
                f,
                "no profile named '{name}' for '{location}': define [profiles.{name}] in the \
                 config file"
            ),
            StoreFailure::OptionMismatch { key, prefix } => {
                let scheme = location.split("://").next().unwrap_or_default();
                write!(
                    f,
                    "option '{key}' does not apply to '{location}': use '{prefix}*' options for \
                     {scheme}:// locations"
                )
            }
            StoreFailure::UnknownOption(key) => {
                write!(f, "unknown store option '{key}' for '{location}'")
            }
            StoreFailure::Setup(why) => {
                write!(f, "cannot set up the store for '{location}': {why}")
            }
            StoreFailure::NotRegistered => {
                write!(f, "no object store registered for '{location}'")
            }
        }
    }
}

impl Error for StoreError {}

impl From<StoreError> for DataFusionError {
    fn from(error: StoreError) -> Self {
        DataFusionError::External(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn found_through_datafusion_wrappers() {
        let store = StoreError {
            location: "ftp://x/y".into(),
            failure: StoreFailure::UnsupportedScheme("ftp".into()),
        };
        let wrapped = DataFusionError::Context(
            "listing".into(),
            Box::new(DataFusionError::Shared(Arc::new(store.clone().into()))),
        );
        assert_eq!(find::<StoreError>(&wrapped), Some(&store));
        assert_eq!(find::<NetError>(&wrapped), None);
        let arrow = DataFusionError::ArrowError(
            Box::new(datafusion::arrow::error::ArrowError::ExternalError(
                Box::new(DataFusionError::from(NetError {
                    function: "http_get".into(),
                    failure: NetFailure::Status {
                        request: "GET http://h/".into(),
                        status: 404,
                    },
                })),
            )),
            None,
        );
        let net = find::<NetError>(&arrow).expect("found inside an Arrow error");
        assert_eq!(
            net.to_string(),
            "http_get: GET http://h/ returned status 404"
        );
    }

    #[test]
    fn option_mismatch_names_the_scheme() {
        let error = StoreError {
            location: "gs://bucket/x".into(),
            failure: StoreFailure::OptionMismatch {
                key: "aws.region".into(),
                prefix: "gcp.".into(),
            },
        };
        assert_eq!(
            error.to_string(),
            "option 'aws.region' does not apply to 'gs://bucket/x': use 'gcp.*' options for gs:// locations"
        );
    }
}
