//! Sending one request under the policy: the rule check, the address check
//! after DNS (a resolver that drops refused addresses, so a name cannot be
//! re-pointed between check and connect), redirects followed by hand and
//! checked hop by hop, retries with backoff, the response size cap, and an
//! audit record for every attempt.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{
    CONNECTION, CONTENT_LENGTH, HOST, HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER,
    TRANSFER_ENCODING,
};
use tokio::sync::Semaphore;
use url::Url;

use super::audit::{Audit, AuditRecord};
use super::policy::{Caller, Policy};
use super::{QueryState, Request, Response};
use crate::text::escape_control;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 10;
/// Longest wait a `Retry-After` header may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The DNS resolver: every address a name resolves to is checked against the
/// policy; refused ones are never connected to.
#[derive(Debug)]
pub struct GuardedResolver {
    pub policy: Arc<Policy>,
}

/// A name that resolved only to refused addresses.
#[derive(Debug)]
struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check_address(&host, addr.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal = Some(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.unwrap_or_else(|| format!("{host} has no address"));
                return Err(
                    Box::new(AddressRefused(why)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A reqwest client that follows no redirects and resolves through the
/// guarded resolver.
pub fn build_client(policy: &Arc<Policy>) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve names itself, past the address checks.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            policy: Arc::clone(policy),
        }))
        .timeout(policy.limits.timeout)
        .user_agent(concat!("wasql/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))
}

/// Everything one request needs.
pub struct Sender<'a> {
    pub policy: &'a Policy,
    pub client: &'a reqwest::Client,
    pub limiter: &'a Semaphore,
    pub audit: &'a Audit,
    pub query: &'a QueryState,
    pub caller: &'a Caller,
}

/// How one attempt ended.
enum Attempt {
    Done(Response),
    Redirect(Url, u16),
    /// Worth another try, after the wait the server asked for, if any.
    Retry(Option<Duration>, String),
}

impl Sender<'_> {
    /// Audits an attempt that failed with `why` (after an answer with
    /// `status`, if one came) and returns the request's error.
    fn failed(
        &self,
        method: &str,
        shown: &str,
        started: Instant,
        rule: Option<String>,
        status: Option<u16>,
        why: &str,
    ) -> String {
        self.record(
            method,
            shown,
            started,
            AttemptRecord::failed(rule, status, why),
        );
        format!("{method} {shown}: {why}")
    }

    fn record(&self, method: &str, url: &str, started: Instant, outcome: AttemptRecord) {
        self.audit.record(AuditRecord {
            time_us: AuditRecord::now_us(),
            query_id: self.query.id,
            module: self.caller.module.clone(),
            function: self.caller.function.clone(),
            method: method.to_string(),
            url: url.to_string(),
            decision: if outcome.refused {
                "refused"
            } else {
                "allowed"
            },
            rule: outcome.rule,
            status: outcome.status.map(i32::from),
            bytes: outcome.bytes.map(|b| b as i64),
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            cache_hit: false,
            error: outcome.error.map(|e| self.policy.redact_secrets(&e)),
        });
    }

    /// Sends `request`, following redirects; every hop and retry is checked
    /// and audited. The error names the URL and the cause or limit.
    pub async fn send(&self, request: &Request) -> Result<Response, String> {
        // The method goes into messages and the audit as shown: a method
        // with a control character is no HTTP method, and neither is its
        // escape (`\` is not allowed in one), so it is refused just the same.
        let mut method = request.shown_method();
        let mut body = request.body.clone();
        let mut url = Url::parse(&request.url).map_err(|e| {
            let shown = self.policy.shown_url(&request.url);
            let message = format!("'{shown}' is not a URL: {e}");
            self.record(
                &method,
                &shown,
                Instant::now(),
                AttemptRecord::refused(None, &message),
            );
            message
        })?;
        let mut visited = HashSet::new();
        for _ in 0..=MAX_REDIRECTS {
            if !visited.insert(url.clone()) {
                let shown = self.policy.redact_url(&url);
                return Err(format!("{method} {shown}: redirect loop (back to {shown})"));
            }
            let shown = self.policy.redact_url(&url);
            let mut retries = 0;
            let next = loop {
                match self
                    .attempt(&method, &url, &shown, &request.headers, &body)
                    .await?
                {
                    Attempt::Retry(wait, _) if retries < self.policy.limits.retries => {
                        tokio::time::sleep(wait.unwrap_or_else(|| backoff(retries))).await;
                        retries += 1;
                    }
                    Attempt::Retry(_, why) => {
                        return Err(format!(
                            "{method} {shown}: {why}, still after {retries} retries ([net] retries)"
                        ));
                    }
                    other => break other,
                }
            };
            match next {
                Attempt::Done(response) => return Ok(response),
                Attempt::Redirect(target, status) => {
                    if status == 303 || ((status == 301 || status == 302) && method == "POST") {
                        method = "GET".to_string();
                        body.clear();
                    }
                    url = target;
                }
                Attempt::Retry(..) => unreachable!("handled above"),
            }
        }
        Err(format!(
            "{method} {}: more than {MAX_REDIRECTS} redirects",
            self.policy.redact_url(&url)
        ))
    }

    /// One attempt at one URL.
    async fn attempt(
        &self,
        method: &str,
        url: &Url,
        shown: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Attempt, String> {
        let started = Instant::now();
        let refuse = |rule: Option<String>, why: String| {
            let message = format!("{method} {shown} refused: {why}");
            self.record(
                method,
                shown,
                started,
                AttemptRecord::refused(rule, &message),
            );
            message
        };
        // Every attempt counts, refused ones too: a caller cannot flood the
        // audit trail with refusals either.
        let limit = self.policy.limits.max_requests_per_query;
        if self
            .query
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            >= limit
        {
            return Err(refuse(
                None,
                format!("the query already made {limit} requests (net.max_requests_per_query)"),
            ));
        }
        let rule = self
            .policy
            .decide(url, method, self.caller)
            .map_err(|why| refuse(None, why))?;
        if let Some(host) = url.host_str()
            && let bare = host.trim_start_matches('[').trim_end_matches(']')
            && let Ok(ip) = bare.parse::<IpAddr>()
        {
            self.policy
                .check_address(bare, ip)
                .map_err(|why| refuse(Some(rule.name.clone()), why))?;
        }
        let method_value = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
            refuse(
                Some(rule.name.clone()),
                format!("'{method}' is not an HTTP method"),
            )
        })?;
        let mut header_map = HeaderMap::new();
        for (name, value) in headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) else {
                return Err(refuse(
                    Some(rule.name.clone()),
                    format!("bad header '{}'", escape_control(name)),
                ));
            };
            // The connection's own headers are the host's to set: a caller
            // may not point `Host` at another site behind the allowed address.
            if [HOST, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING].contains(&name) {
                return Err(refuse(
                    Some(rule.name.clone()),
                    format!("the header '{name}' may not be set"),
                ));
            }
            header_map.append(name, value);
        }
        if let Some(injection) = &rule.injection {
            // Replaces any header of that name the caller set.
            let (Ok(name), Ok(value)) = (
                HeaderName::try_from(injection.header.as_str()),
                HeaderValue::try_from(injection.value.as_str()),
            ) else {
                return Err(refuse(
                    Some(rule.name.clone()),
                    "the secret is not a valid header".into(),
                ));
            };
            header_map.insert(name, value);
        }
        let mut builder = self
            .client
            .request(method_value, url.clone())
            .headers(header_map);
        if !body.is_empty() {
            builder = builder.body(body.to_vec());
        }
        let _permit = self
            .limiter
            .acquire()
            .await
            .map_err(|_| "the network is shut down".to_string())?;
        let rule_name = Some(rule.name.clone());
        let sent = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                if let Some(refused) = find_cause::<AddressRefused>(&e) {
                    return Err(refuse(rule_name, refused.0.clone()));
                }
                let (timed_out, connect) = (e.is_timeout(), e.is_connect());
                let why = if timed_out {
                    format!(
                        "no answer within {:.1} s ([net] timeout_seconds)",
                        self.policy.limits.timeout.as_secs_f64()
                    )
                } else {
                    format!("cannot connect: {}", error_chain(&e.without_url()))
                };
                let error = self.failed(method, shown, started, rule_name, None, &why);
                if connect {
                    return Ok(Attempt::Retry(None, why));
                }
                return Err(error);
            }
        };
        let status = sent.status().as_u16();
        if (300..400).contains(&status) && status != 304 {
            let target = sent
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok());
            self.record(
                method,
                shown,
                started,
                AttemptRecord::answered(rule_name, status, 0),
            );
            return match target {
                Some(target) => Ok(Attempt::Redirect(target, status)),
                None => Err(format!(
                    "{method} {shown}: redirect {status} without a usable Location"
                )),
            };
        }
        if status == 429 || (500..600).contains(&status) && status != 501 {
            let wait = sent
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            self.record(
                method,
                shown,
                started,
                AttemptRecord::answered(rule_name, status, 0),
            );
            return Ok(Attempt::Retry(wait, format!("status {status}")));
        }
        let max = self.policy.limits.max_response_bytes;
        let too_large = |size: String| {
            format!("the response is larger than {max} bytes ({size}; net.max_response_bytes)")
        };
        if let Some(length) = sent.content_length()
            && length > max as u64
        {
            let why = too_large(format!("Content-Length {length}"));
            return Err(self.failed(method, shown, started, rule_name, Some(status), &why));
        }
        let headers: Vec<(String, String)> = sent
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut sent = sent;
        let mut bytes = Vec::new();
        loop {
            match sent.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > max {
                        let why = too_large("cut off".into());
                        return Err(self.failed(
                            method,
                            shown,
                            started,
                            rule_name,
                            Some(status),
                            &why,
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    let why = if e.is_timeout() {
                        format!(
                            "the body did not arrive within {:.1} s ([net] timeout_seconds)",
                            self.policy.limits.timeout.as_secs_f64()
                        )
                    } else {
                        format!("reading the body failed: {}", error_chain(&e.without_url()))
                    };
                    return Err(self.failed(method, shown, started, rule_name, Some(status), &why));
                }
            }
        }
        self.record(
            method,
            shown,
            started,
            AttemptRecord::answered(rule_name, status, bytes.len()),
        );
        Ok(Attempt::Done(Response {
            status,
            headers,
            body: bytes,
        }))
    }
}

/// What the audit says of one attempt.
struct AttemptRecord {
    refused: bool,
    rule: Option<String>,
    status: Option<u16>,
    bytes: Option<usize>,
    error: Option<String>,
}

impl AttemptRecord {
    fn refused(rule: Option<String>, error: &str) -> Self {
        AttemptRecord {
            refused: true,
            rule,
            status: None,
            bytes: None,
            error: Some(error.to_string()),
        }
    }
    fn failed(rule: Option<String>, status: Option<u16>, error: &str) -> Self {
        AttemptRecord {
            refused: false,
            rule,
            status,
            bytes: None,
            error: Some(error.to_string()),
        }
    }
    fn answered(rule: Option<String>, status: u16, bytes: usize) -> Self {
        AttemptRecord {
            refused: false,
            rule,
            status: Some(status),
            bytes: Some(bytes),
            error: None,
        }
    }
}

/// 100 ms, 200 ms, 400 ms, ... before retry `n + 1`.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(100 << n.min(6))
}

/// The first error of type `E` in `error`'s chain of causes.
fn find_cause<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// An error and its causes on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}
