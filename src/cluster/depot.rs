//! How large modules reach executors: by digest, from the scheduler.
//!
//! The client's plan carries the bytes of every module it calls to the
//! scheduler, which keeps them in its registry. The tasks the scheduler
//! sends carry a small module's bytes inline and a large one's only as a
//! digest and the address of the scheduler's depot, an HTTP service that
//! answers `GET /modules/SHA256` with the module's bytes. An executor that
//! lacks the module fetches it once, checks its sha256, compiles it and
//! keeps it: a large module crosses to each executor once, not with every
//! task, and no gRPC message has to hold it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use datafusion::common::{DataFusionError, Result};
use wasql_engine::udf::UdfRegistry;

/// Modules at most this large travel inline in tasks; larger ones are
/// fetched from the depot.
pub const INLINE_LIMIT: usize = 1 << 20;

/// The largest module an executor fetches.
const MAX_MODULE_BYTES: u64 = 1 << 30;

/// How long an executor waits for a module from the depot.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Serves the modules of `registry` by digest on `bind`. Returns the
/// depot's base address (`http://HOST:PORT`) once it listens; it serves
/// until the process ends.
pub async fn serve(bind: SocketAddr, registry: Arc<UdfRegistry>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        DataFusionError::Execution(format!("the module depot cannot listen on {bind}: {e}"))
    })?;
    let address = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/modules/{sha256}", get(module))
        .with_state(registry);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            log::error!("the module depot on {address} stopped: {e}");
        }
    });
    Ok(format!("http://{address}"))
}

/// `GET /modules/SHA256`: the module's bytes, or 404.
async fn module(State(registry): State<Arc<UdfRegistry>>, Path(sha256): Path<String>) -> Response {
    match registry.by_digest(&sha256) {
        Some(module) => {
            log::info!(
                "depot: sending module {} ({} bytes, sha256 {sha256})",
                module.path.display(),
                module.bytes.len()
            );
            module.bytes.to_vec().into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("no module with sha256 {sha256} here\n"),
        )
            .into_response(),
    }
}

/// The address of the module with `sha256` at the depot `depot`.
pub fn module_url(depot: &str, sha256: &str) -> String {
    format!("{depot}/modules/{sha256}")
}

/// Fetches the bytes at `url` (a depot's module), blocking the calling
/// thread: plans are decoded synchronously.
pub fn fetch(url: &str) -> Result<Vec<u8>> {
    let error = |e: &dyn std::fmt::Display| {
        DataFusionError::Execution(format!("fetching module {url}: {e}"))
    };
    let request = async {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| error(&e))?;
        let response = client.get(url).send().await.map_err(|e| error(&e))?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(error(&format!("{status}: {}", text.trim())));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_MODULE_BYTES)
        {
            return Err(error(&format!("larger than {MAX_MODULE_BYTES} bytes")));
        }
        let bytes = response.bytes().await.map_err(|e| error(&e))?;
        Ok(bytes.to_vec())
    };
    block_on(request)
}

/// Runs `future` to completion from synchronous code, inside a Tokio
/// runtime or not: on a thread of its own with a runtime of its own, so
/// that the caller's runtime keeps running its other tasks.
fn block_on<T: Send>(future: impl Future<Output = Result<T>> + Send) -> Result<T> {
    let run = || {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?
                        .block_on(future)
                })
                .join()
                .map_err(|_| DataFusionError::Internal("the module fetch panicked".into()))?
        })
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(run)
        }
        _ => run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasql_engine::{Engine, EngineSettings};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_module_is_served_by_digest_and_an_unknown_digest_is_named() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../udfs/dist/slugify.wasm");
        let bytes = std::fs::read(path).expect("run `bash udfs/build.sh` first");
        let engine = Engine::new(&EngineSettings::default()).expect("an engine");
        let registry = Arc::clone(engine.udf_registry());
        let module = registry
            .load_shipped(std::path::Path::new("slugify.wasm"), bytes.clone())
            .expect("loaded");
        let depot = serve("127.0.0.1:0".parse().unwrap(), registry)
            .await
            .expect("serving");

        let fetched = fetch(&module_url(&depot, &module.sha256)).expect("fetched");
        assert_eq!(fetched, bytes);

        let unknown = "0".repeat(64);
        let error = fetch(&module_url(&depot, &unknown))
            .unwrap_err()
            .to_string();
        assert!(error.contains("404"), "{error}");
        assert!(
            error.contains(&format!("no module with sha256 {unknown}")),
            "{error}"
        );
    }

    #[test]
    fn nothing_listening_is_an_error_naming_the_address() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/modules/x");
        let error = fetch(&url).unwrap_err().to_string();
        assert!(error.contains(&url), "{error}");
    }
}
