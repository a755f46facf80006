//! The operator's network policy: the `[net]` section of the config file,
//! which URLs a function may fetch, which addresses it may reach, and which
//! secrets the host adds to the requests. Default: nothing gets out.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::config::{InvalidSetting, NetConfig, RuleConfig};
use crate::text::escape_control;

/// Limits applied to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of one request attempt.
    pub timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: usize,
    /// Most requests one query may make, refused ones included.
    pub max_requests_per_query: usize,
    /// Most requests in flight at once.
    pub max_concurrent: usize,
    /// Retries after a failed attempt; 0 means none.
    pub retries: u32,
    /// How long successful GET responses are cached; zero means no cache.
    pub cache_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            max_response_bytes: 10 << 20,
            max_requests_per_query: 10_000,
            max_concurrent: 64,
            retries: 2,
            cache_ttl: Duration::ZERO,
        }
    }
}

impl Limits {
    /// The limits `[net]` sets, each checked by the rule of its kind; the
    /// defaults for the keys it leaves out.
    pub fn from_config(config: &NetConfig) -> Result<Limits, InvalidSetting> {
        let key = |name: &str| format!("[net] {name}");
        let mut limits = Limits::default();
        if let Some(seconds) = &config.timeout_seconds {
            limits.timeout = seconds.positive(&key("timeout_seconds"))?;
        }
        if let Some(size) = &config.max_response_bytes {
            limits.max_response_bytes = size.positive(&key("max_response_bytes"))?;
        }
        if let Some(count) = &config.max_requests_per_query {
            limits.max_requests_per_query = count.positive(&key("max_requests_per_query"))?;
        }
        if let Some(count) = &config.max_concurrent {
            limits.max_concurrent = count.positive(&key("max_concurrent"))?;
        }
        if let Some(count) = &config.retries {
            let retries = count.positive_or_zero(&key("retries"))?;
            limits.retries = u32::try_from(retries).unwrap_or(u32::MAX);
        }
        if let Some(seconds) = &config.cache_ttl_seconds {
            limits.cache_ttl = seconds.positive_or_zero(&key("cache_ttl_seconds"))?;
        }
        Ok(limits)
    }
}

/// Who is asking: a module's function, or a SQL function (module `None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    /// The module of the function; `None` for a SQL function.
    pub module: Option<String>,
    /// The function's name.
    pub function: String,
}

impl Caller {
    /// The module name rules match: the module's, or `sql`.
    fn module_name(&self) -> &str {
        self.module.as_deref().unwrap_or("sql")
    }
}

/// A host pattern: exact, or `*.suffix` for any subdomain of `suffix`.
#[derive(Debug, Clone)]
enum HostPattern {
    Exact(String),
    Subdomains(String),
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            // `suffix` starts with '.': "a.example.com" has the head "a".
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| !head.is_empty()),
        }
    }
}

/// An IP network `address/prefix`.
#[derive(Debug, Clone, Copy)]
struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(text: &str) -> Result<IpNet, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not an IP address or network"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{text}': the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(IpNet { address, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), self.prefix, 128) == masked(ip.into(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// An IPv6 address that carries an IPv4 one — mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`) or
/// 6to4 (`2002:AABB:CCDD::/48`) — as that IPv4 address; others unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| {
        IpAddr::V4(std::net::Ipv4Addr::from(
            (u32::from(hi) << 16) | u32::from(lo),
        ))
    };
    if let Some(mapped) = v6.to_ipv4_mapped() {
        IpAddr::V4(mapped)
    } else if (s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1))
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
    {
        v4(s[6], s[7])
    } else if s[0] == 0x2002 {
        v4(s[1], s[2])
    } else {
        ip
    }
}

/// Why `ip` may not be reached without a rule that lists it, if it is not a
/// public address: loopback, private, link-local (cloud metadata lives
/// there), shared, unspecified, broadcast or multicast.
pub fn special_address(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local (cloud metadata)")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (carrier-grade NAT, cloud metadata)")
            } else if (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
            {
                Some("reserved (protocol assignments, benchmarking)")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_broadcast() || v4.is_multicast() || a >= 240 {
                Some("broadcast, multicast or reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local, cloud metadata)")
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                Some("link-local or site-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// A secret injected into matching requests.
#[derive(Debug, Clone)]
pub struct Injection {
    /// The secret's name in `[net.secrets]`.
    pub secret: String,
    pub header: String,
    pub value: String,
}

/// One rule, parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    /// How the audit names it: `allow[N] URL`.
    pub name: String,
    scheme: String,
    host: HostPattern,
    port: u16,
    path_prefix: String,
    methods: Vec<String>,
    modules: Vec<String>,
    functions: Vec<String>,
    addresses: Vec<IpNet>,
    /// The literal address of a rule written for an IP (`http://127.0.0.1`).
    literal: Option<IpAddr>,
    pub injection: Option<Injection>,
}

impl Rule {
    fn parse(
        index: usize,
        config: &RuleConfig,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Rule, String> {
        let context =
            |e: String| format!("[[net.allow]] rule {} ('{}'): {e}", index + 1, config.url);
        let (scheme, rest) = config
            .url
            .split_once("://")
            .ok_or_else(|| context("write it as scheme://host[:port][/path]".into()))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(context(format!("scheme '{scheme}' is not http or https")));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| context(format!("port '{p}' is not a number")))?;
                (h, port)
            }
            _ => (authority, if scheme == "https" { 443 } else { 80 }),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(context("no host".into()));
        }
        let pattern = match host.strip_prefix("*.") {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
                HostPattern::Subdomains(format!(".{suffix}"))
            }
            _ if host.contains('*') => {
                return Err(context("a wildcard may only be a leading '*.'".into()));
            }
            _ => HostPattern::Exact(host.clone()),
        };
        let literal = host.parse::<IpAddr>().ok();
        let addresses = config
            .addresses
            .iter()
            .map(|a| IpNet::parse(a).map_err(context))
            .collect::<Result<Vec<_>, _>>()?;
        let methods = if config.methods.is_empty() {
            vec!["GET".to_string(), "HEAD".to_string()]
        } else {
            config
                .methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect()
        };
        let injection = match &config.secret {
            None => None,
            Some(name) => {
                let secret = secrets
                    .get(name)
                    .ok_or_else(|| context(format!("no secret '{name}' in [net.secrets]")))?;
                let format = config.secret_format.as_deref().unwrap_or("{}");
                if !format.contains("{}") {
                    return Err(context("secret_format must contain {}".into()));
                }
                Some(Injection {
                    secret: name.clone(),
                    header: config
                        .secret_header
                        .clone()
                        .unwrap_or_else(|| "Authorization".into()),
                    value: format.replacen("{}", secret, 1),
                })
            }
        };
        Ok(Rule {
            name: format!("allow[{}] {}", index + 1, config.url),
            scheme,
            host: pattern,
            port,
            path_prefix: path.to_string(),
            methods,
            modules: config.modules.clone(),
            functions: config.functions.clone(),
            addresses,
            literal,
            injection,
        })
    }

    fn matches(&self, url: &Url, method: &str, caller: &Caller) -> bool {
        let host = url
            .host_str()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        url.scheme() == self.scheme
            && self.host.matches(&host.to_ascii_lowercase())
            && url.port_or_known_default() == Some(self.port)
            && self.path_allowed(url.path())
            && self.methods.iter().any(|m| m == method)
            && (self.modules.is_empty() || self.modules.iter().any(|m| m == caller.module_name()))
            && (self.functions.is_empty() || self.functions.contains(&caller.function))
    }

    /// Whether `path` is under the rule's path prefix: on a segment
    /// boundary, and — for a rule limited to a path — with no encoded
    /// slash, backslash or dot and no `;` that a server might decode into
    /// another path.
    fn path_allowed(&self, path: &str) -> bool {
        if self.path_prefix == "/" {
            return true;
        }
        let Some(rest) = path.strip_prefix(&self.path_prefix) else {
            return false;
        };
        let on_boundary =
            self.path_prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/');
        let lower = path.to_ascii_lowercase();
        let disguised = ["%2f", "%5c", "%2e", ";"].iter().any(|s| lower.contains(s));
        on_boundary && !disguised
    }

    /// Whether this rule lets its host reach `ip`.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        special_address(ip).is_none()
            || self.literal.is_some_and(|l| canonical(l) == canonical(ip))
            || self.addresses.iter().any(|net| net.contains(ip))
    }

    /// The URL scheme it allows.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host it allows: a name or address, or `*.suffix` for the
    /// subdomains of `suffix`.
    pub fn host(&self) -> String {
        match &self.host {
            HostPattern::Exact(host) => host.clone(),
            HostPattern::Subdomains(suffix) => format!("*{suffix}"),
        }
    }

    /// The port it allows.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix it allows.
    pub fn path(&self) -> &str {
        &self.path_prefix
    }

    /// The methods it allows.
    pub fn methods(&self) -> &[String] {
        &self.methods
    }

    /// The modules that may use it; empty for any.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// The functions that may use it; empty for any.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    /// The private networks it may reach, as `address/prefix`.
    pub fn addresses(&self) -> Vec<String> {
        self.addresses
            .iter()
            .map(|n| format!("{}/{}", n.address, n.prefix))
            .collect()
    }

    /// Whether the rule's host pattern covers `host`.
    fn covers_host(&self, host: &str) -> bool {
        self.host.matches(host)
    }
}

/// The parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The `[[net.allow]]` rules, in config order; the first match allows.
    pub rules: Vec<Rule>,
    /// Limits applied to every request.
    pub limits: Limits,
    /// File the audit trail is appended to; `None` keeps it in memory only.
    pub audit_file: Option<PathBuf>,
    /// Secret names and values, to redact them wherever they might show.
    secrets: BTreeMap<String, String>,
}

impl Policy {
    /// Parses the `[net]` section, reading the secrets it names.
    pub fn from_config(config: &NetConfig) -> Result<Policy, String> {
        let mut secrets = BTreeMap::new();
        for (name, source) in &config.secrets {
            let value = match (&source.env, &source.file) {
                (Some(var), None) => std::env::var(var).map_err(|_| {
                    format!("[net.secrets.{name}]: the environment variable {var} is not set")
                })?,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| {
                        format!(
                            "[net.secrets.{name}]: cannot read '{}': {e}",
                            path.display()
                        )
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                _ => {
                    return Err(format!(
                        "[net.secrets.{name}]: give exactly one of env = \"VAR\" or file = \"PATH\""
                    ));
                }
            };
            if value.is_empty() {
                return Err(format!("[net.secrets.{name}] is empty"));
            }
            secrets.insert(name.clone(), value);
        }
        let rules = config
            .allow
            .iter()
            .enumerate()
            .map(|(i, rule)| Rule::parse(i, rule, &secrets))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            rules,
            limits: Limits::from_config(config).map_err(|e| e.to_string())?,
            audit_file: config.audit_file.clone(),
            secrets,
        })
    }

    /// The rule that allows `method url` for `caller`, or why none does.
    pub fn decide(&self, url: &Url, method: &str, caller: &Caller) -> Result<&Rule, String> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("scheme '{}' is never allowed", url.scheme()));
        }
        if self.rules.is_empty() {
            return Err(
                "no [[net.allow]] rule in the configuration (network access is off by default)"
                    .into(),
            );
        }
        self.rules
            .iter()
            .find(|rule| rule.matches(url, method, caller))
            .ok_or_else(|| {
                let who = match &caller.module {
                    Some(module) => format!("function {} of module {module}", caller.function),
                    None => format!("SQL function {}", caller.function),
                };
                format!(
                    "no [[net.allow]] rule allows {method} {}://{}:{} for {who}",
                    url.scheme(),
                    url.host_str().unwrap_or(""),
                    url.port_or_known_default().unwrap_or(0)
                )
            })
    }

    /// The addresses `host` may resolve to: checked against every rule for
    /// that host (a rule lists the private addresses it may reach).
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        let host = host.to_ascii_lowercase();
        let Some(kind) = special_address(ip) else {
            return Ok(());
        };
        if self
            .rules
            .iter()
            .any(|r| r.covers_host(&host) && r.allows_address(ip))
        {
            Ok(())
        } else {
            Err(format!(
                "{host} resolves to {ip}, a {kind} address; only a rule listing it in `addresses` allows that"
            ))
        }
    }

    /// `text` with every secret value replaced.
    pub fn redact_secrets(&self, text: &str) -> String {
        self.secrets
            .values()
            .fold(text.to_string(), |text, secret| {
                text.replace(secret.as_str(), "[REDACTED]")
            })
    }

    /// `url` fit for errors and the audit: no user or password, the values
    /// of query parameters that look like credentials replaced, and no
    /// secret value anywhere.
    pub fn redact_url(&self, url: &Url) -> String {
        let mut url = url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let sensitive = [
                        "key",
                        "token",
                        "secret",
                        "pass",
                        "sig",
                        "auth",
                        "credential",
                    ]
                    .iter()
                    .any(|word| lower.contains(word));
                    (
                        k.into_owned(),
                        if sensitive {
                            "REDACTED".to_string()
                        } else {
                            v.into_owned()
                        },
                    )
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        self.redact_secrets(url.as_str())
    }

    /// A URL as a caller gave it, fit for errors and the audit: redacted as
    /// by [`Self::redact_url`] if it parses (a parsed URL shows only
    /// printable ASCII, the rest percent-encoded), else with its secrets
    /// redacted and its control characters escaped.
    pub fn shown_url(&self, url: &str) -> String {
        match Url::parse(url) {
            Ok(url) => self.redact_url(&url),
            Err(_) => escape_control(&self.redact_secrets(url)).into_owned(),
        }
    }

    /// The names of the configured secrets (never their values).
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_text: &str) -> Policy {
        let config: NetConfig = toml::from_str(toml_text).unwrap();
        Policy::from_config(&config).unwrap()
    }

    fn caller(module: Option<&str>, function: &str) -> Caller {
        Caller {
            module: module.map(str::to_string),
            function: function.to_string(),
        }
    }

    #[test]
    fn default_denies_everything() {
        let p = policy("");
        let url = Url::parse("https://example.com/").unwrap();
        let err = p
            .decide(&url, "GET", &caller(None, "http_get"))
            .unwrap_err();
        assert!(err.contains("off by default"), "{err}");
    }

    #[test]
    fn rules_match_scheme_host_port_path_method_and_caller() {
        let p = policy(
            r#"
            [[allow]]
            url = "https://*.example.com/api/"
            [[allow]]
            url = "http://127.0.0.1:8080"
            methods = ["GET", "post"]
            modules = ["labels"]
            "#,
        );
        let f = caller(Some("labels"), "label");
        let ok = |u: &str, m: &str, c: &Caller| p.decide(&Url::parse(u).unwrap(), m, c).is_ok();
        assert!(ok("https://a.example.com/api/x", "GET", &f));
        assert!(ok("https://a.b.example.com:443/api/", "HEAD", &f));
        assert!(
            !ok("https://example.com/api/x", "GET", &f),
            "apex is not a subdomain"
        );
        assert!(!ok("https://evil-example.com/api/x", "GET", &f));
        assert!(
            !ok("http://a.example.com/api/x", "GET", &f),
            "http needs its own rule"
        );
        assert!(
            !ok("https://a.example.com:8443/api/x", "GET", &f),
            "other port"
        );
        assert!(!ok("https://a.example.com/other", "GET", &f), "other path");
        assert!(!ok("https://a.example.com/api/x", "POST", &f), "method");
        assert!(ok("http://127.0.0.1:8080/x", "POST", &f));
        assert!(
            !ok("http://127.0.0.1:8080/x", "GET", &caller(None, "http_get")),
            "module filter"
        );
        assert!(!ok("file:///etc/passwd", "GET", &f));
    }

    #[test]
    fn path_prefixes_hold_on_segment_boundaries_and_against_encodings() {
        let p = policy("[[allow]]\nurl = \"https://api.example.com/v2\"");
        let ok = |u: &str| {
            p.decide(&Url::parse(u).unwrap(), "GET", &caller(None, "http_get"))
                .is_ok()
        };
        assert!(ok("https://api.example.com/v2"));
        assert!(ok("https://api.example.com/v2/items"));
        assert!(!ok("https://api.example.com/v2-internal"));
        assert!(!ok("https://api.example.com/v2/..%2f..%2fadmin"));
        assert!(!ok("https://api.example.com/v2/..;/admin"));
        assert!(!ok("https://api.example.com/v2/%2E%2E/admin"));
    }

    #[test]
    fn addresses_inside_ipv6_forms_are_classified_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for special in [
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:5",
            "::127.0.0.1",
            "2002:a00:1::1",
            "fec0::1",
            "192.0.0.8",
            "198.18.0.1",
        ] {
            assert!(special_address(ip(special)).is_some(), "{special}");
        }
        for public in [
            "2606:4700::1111",
            "64:ff9b::808:808",
            "8.8.8.8",
            "::1:0:0:1",
        ] {
            assert!(special_address(ip(public)).is_none(), "{public}");
        }
    }

    #[test]
    fn special_addresses_need_a_rule_that_lists_them() {
        let p = policy(
            r#"
            [[allow]]
            url = "http://localhost:9000"
            addresses = ["127.0.0.0/8", "::1"]
            [[allow]]
            url = "https://api.example.com"
            [[allow]]
            url = "http://10.1.2.3:80"
            "#,
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(p.check_address("localhost", ip("127.0.0.1")).is_ok());
        assert!(p.check_address("localhost", ip("::1")).is_ok());
        assert!(p.check_address("localhost", ip("::ffff:127.0.0.2")).is_ok());
        assert!(
            p.check_address("api.example.com", ip("93.184.216.34"))
                .is_ok()
        );
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "100.100.100.200",
            "::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "::ffff:192.168.1.1",
        ] {
            let err = p.check_address("api.example.com", ip(refused)).unwrap_err();
            assert!(
                err.contains(refused.trim_start_matches("::ffff:")) || err.contains("resolves"),
                "{err}"
            );
        }
        assert!(
            p.check_address("10.1.2.3", ip("10.1.2.3")).is_ok(),
            "a rule for the address itself"
        );
        assert!(p.check_address("10.1.2.3", ip("10.1.2.4")).is_err());
    }

    #[test]
    fn secrets_are_injected_and_redacted() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("WASQL_TEST_POLICY_TOKEN", "s3cr3t-value") };
        let p = policy(
            r#"
            [[allow]]
            url = "https://api.example.com"
            secret = "token"
            secret_format = "Bearer {}"
            [secrets.token]
            env = "WASQL_TEST_POLICY_TOKEN"
            "#,
        );
        let url = Url::parse("https://user:pw@api.example.com/x?api_key=abc&q=s3cr3t-value&page=2")
            .unwrap();
        let rule = p.decide(&url, "GET", &caller(None, "http_get")).unwrap();
        let injection = rule.injection.as_ref().unwrap();
        assert_eq!(
            (injection.header.as_str(), injection.value.as_str()),
            ("Authorization", "Bearer s3cr3t-value")
        );
        let shown = p.redact_url(&url);
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("abc") && !shown.contains("pw"),
            "{shown}"
        );
        assert!(shown.contains("page=2"), "{shown}");
    }

    #[test]
    fn bad_rules_are_errors_naming_the_rule() {
        for (text, wanted) in [
            ("[[allow]]\nurl = \"ftp://x\"", "scheme 'ftp'"),
            ("[[allow]]\nurl = \"example.com\"", "scheme://host"),
            ("[[allow]]\nurl = \"https://a.*.com\"", "wildcard"),
            (
                "[[allow]]\nurl = \"https://x\"\naddresses = [\"10.0.0.0/33\"]",
                "prefix",
            ),
            (
                "[[allow]]\nurl = \"https://x\"\nsecret = \"nope\"",
                "no secret 'nope'",
            ),
            (
                "[secrets.s]\nenv = \"WASQL_TEST_SURELY_UNSET\"",
                "is not set",
            ),
        ] {
            let config: NetConfig = toml::from_str(text).unwrap();
            let err = Policy::from_config(&config).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }
}
