//! The external-function hook: HTTP requests from UDFs and SQL, allowed only
//! by the operator's policy, within limits, with secrets the caller never
//! sees, shared when identical within a query (and cached across queries if
//! configured), and audited.
//!
//! Callers are synchronous (a guest's host import, a scalar function), so
//! [`Net::fetch_blocking`] runs the requests concurrently on the network's
//! own runtime and waits for all of them.

mod audit;
mod client;
mod policy;
mod sql;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;

pub use crate::config::{NetConfig, RuleConfig, SecretConfig};
pub use audit::{Audit, AuditRecord};
pub use policy::{Caller, Limits, Policy};
pub use sql::http_functions;

use crate::text::escape_control;

/// A request as a caller makes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// The HTTP method, in any case.
    pub method: String,
    /// The URL as the caller gave it.
    pub url: String,
    /// Headers as (name, value) pairs.
    pub headers: Vec<(String, String)>,
    /// The request body; empty for none.
    pub body: Vec<u8>,
}

impl Request {
    /// A GET of `url` with `headers`.
    pub fn get(url: &str, headers: Vec<(String, String)>) -> Request {
        Request {
            method: "GET".into(),
            url: url.to_string(),
            headers,
            body: Vec::new(),
        }
    }

    /// The method as errors and the audit show it: in uppercase, control
    /// characters escaped (a caller may pass any text).
    pub fn shown_method(&self) -> String {
        escape_control(&self.method.to_ascii_uppercase()).into_owned()
    }
}

/// A response: status, headers (lowercase names) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Headers as (name, value) pairs, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

/// How a request ended: the response, or a message naming the URL (secrets
/// redacted) and the cause or limit.
pub type Outcome = Result<Arc<Response>, String>;

/// What a response is shared or cached under: the request, the caller and
/// the rule that allowed it. An answer is only ever given to the caller
/// that asked (a redirect may have led its request under other rules, with
/// their secrets), and only while the same rule allows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    rule: String,
    caller: Caller,
    request: Request,
}

/// One query's share of the network: its request count and its requests in
/// flight or done, by request, so identical ones go out once.
#[derive(Debug, Default)]
pub struct QueryState {
    /// The query's id, as the audit shows it.
    pub id: u64,
    /// Requests the query has attempted so far, refused ones included.
    pub sent: AtomicUsize,
    shared: Mutex<HashMap<CacheKey, Shared<BoxFuture<'static, Outcome>>>>,
}

/// The network of one session.
pub struct Net {
    inner: Arc<Inner>,
    /// Started on the first request: sessions that never fetch pay nothing.
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

struct Inner {
    policy: Arc<Policy>,
    client: OnceLock<Result<reqwest::Client, String>>,
    limiter: Semaphore,
    audit: Audit,
    queries: AtomicU64,
    query: Mutex<Arc<QueryState>>,
    /// Successful GET responses kept across queries (`cache_ttl_seconds`).
    cache: Mutex<HashMap<CacheKey, (Instant, Arc<Response>)>>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").finish_non_exhaustive()
    }
}

impl Net {
    /// The network under the `[net]` configuration.
    pub fn new(config: &NetConfig) -> Result<Net, String> {
        let policy = Arc::new(Policy::from_config(config)?);
        let audit = Audit::new(policy.audit_file.as_deref())?;
        Ok(Net {
            inner: Arc::new(Inner {
                limiter: Semaphore::new(policy.limits.max_concurrent),
                policy,
                client: OnceLock::new(),
                audit,
                queries: AtomicU64::new(0),
                query: Mutex::new(Arc::default()),
                cache: Mutex::new(HashMap::new()),
            }),
            runtime: OnceLock::new(),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The audit trail.
    pub fn audit(&self) -> &Audit {
        &self.inner.audit
    }

    /// Starts a new query: a fresh request count and sharing map. Returns
    /// its id (as the audit shows it).
    pub fn begin_query(&self) -> u64 {
        let id = self.inner.queries.fetch_add(1, Ordering::Relaxed) + 1;
        *self.inner.query.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(QueryState {
            id,
            ..QueryState::default()
        });
        id
    }

    /// Sends `requests` for `caller` concurrently and waits for all of them.
    /// Called from synchronous code on any thread (not from inside the
    /// network's own runtime).
    pub fn fetch_blocking(&self, caller: &Caller, requests: Vec<Request>) -> Vec<Outcome> {
        let runtime = match self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("wasql-net")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the network runtime: {e}"))
        }) {
            Ok(runtime) => runtime,
            Err(e) => return vec![Err(e.clone()); requests.len()],
        };
        let inner = Arc::clone(&self.inner);
        let query = Arc::clone(&inner.query.lock().unwrap_or_else(|e| e.into_inner()));
        let caller = caller.clone();
        let count = requests.len();
        let (done, wait) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let fetches = requests
                .into_iter()
                .map(|request| Inner::fetch(&inner, &query, &caller, request));
            let _ = done.send(futures::future::join_all(fetches).await);
        });
        wait.recv()
            .unwrap_or_else(|_| vec![Err("the network runtime stopped".to_string()); count])
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // A runtime may not be dropped inside another one (the session is
        // often dropped inside the CLI's): let its threads go on their own.
        if let Some(Ok(runtime)) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Inner {
    /// One request: from the cross-query cache, from an identical request of
    /// the same query, or sent.
    async fn fetch(
        self: &Arc<Self>,
        query: &Arc<QueryState>,
        caller: &Caller,
        request: Request,
    ) -> Outcome {
        let started = Instant::now();
        let rule = url::Url::parse(&request.url).ok().and_then(|url| {
            self.policy
                .decide(&url, &request.method.to_ascii_uppercase(), caller)
                .ok()
                .map(|rule| rule.name.clone())
        });
        let Some(rule) = rule else {
            // Refused (or not a URL): nothing to share; the sender says why.
            return Self::send(Arc::clone(self), Arc::clone(query), caller.clone(), request).await;
        };
        let key = CacheKey {
            rule,
            caller: caller.clone(),
            request,
        };
        let ttl = self.policy.limits.cache_ttl;
        let cacheable = key.request.method.eq_ignore_ascii_case("GET") && !ttl.is_zero();
        if cacheable && let Some(response) = self.cached(&key, ttl) {
            self.record_hit(query, caller, &key, &Ok(Arc::clone(&response)), started);
            return Ok(response);
        }
        let (future, first) = {
            let mut shared = query.shared.lock().unwrap_or_else(|e| e.into_inner());
            match shared.get(&key) {
                Some(future) => (future.clone(), false),
                None => {
                    let future = Self::send(
                        Arc::clone(self),
                        Arc::clone(query),
                        caller.clone(),
                        key.request.clone(),
                    )
                    .boxed()
                    .shared();
                    shared.insert(key.clone(), future.clone());
                    (future, true)
                }
            }
        };
        let outcome = future.await;
        if first {
            if cacheable
                && let Ok(response) = &outcome
                && (200..300).contains(&response.status)
            {
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (Instant::now(), Arc::clone(response)));
            }
        } else {
            self.record_hit(query, caller, &key, &outcome, started);
        }
        outcome
    }

    async fn send(
        self: Arc<Self>,
        query: Arc<QueryState>,
        caller: Caller,
        request: Request,
    ) -> Outcome {
        let client = self
            .client
            .get_or_init(|| client::build_client(&self.policy))
            .as_ref()
            .map_err(Clone::clone)?;
        let sender = client::Sender {
            policy: &self.policy,
            client,
            limiter: &self.limiter,
            audit: &self.audit,
            query: &query,
            caller: &caller,
        };
        // Redirects and retries each get the per-request timeout; the whole
        // request gets a bound too, so no caller waits for minutes.
        let limits = &self.policy.limits;
        let whole = limits.timeout * (limits.retries + 2);
        match tokio::time::timeout(whole, sender.send(&request)).await {
            Ok(outcome) => outcome.map(Arc::new),
            Err(_) => Err(format!(
                "{} {}: no answer within {:.1} s in all ([net] timeout_seconds × (retries + 2))",
                request.shown_method(),
                self.policy.shown_url(&request.url),
                whole.as_secs_f64()
            )),
        }
    }

    fn cached(&self, key: &CacheKey, ttl: std::time::Duration) -> Option<Arc<Response>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(key) {
            Some((at, response)) if at.elapsed() < ttl => Some(Arc::clone(response)),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    /// Audits a request answered without going out.
    fn record_hit(
        &self,
        query: &QueryState,
        caller: &Caller,
        key: &CacheKey,
        outcome: &Outcome,
        started: Instant,
    ) {
        let request = &key.request;
        self.audit.record(AuditRecord {
            time_us: AuditRecord::now_us(),
            query_id: query.id,
            module: caller.module.clone(),
            function: caller.function.clone(),
            method: request.shown_method(),
            url: self.policy.shown_url(&request.url),
            decision: "allowed",
            rule: Some(key.rule.clone()),
            status: outcome.as_ref().ok().map(|r| i32::from(r.status)),
            bytes: outcome.as_ref().ok().map(|r| r.body.len() as i64),
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            cache_hit: true,
            error: outcome.as_ref().err().cloned(),
        });
    }
}
