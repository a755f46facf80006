//! The network hook against real HTTP servers on 127.0.0.1 started by the
//! tests: the policy (default deny, hosts, addresses after DNS and on
//! redirects), limits, retries, sharing within a query, secrets and the
//! audit table — through `http_get` in SQL and through a WASM UDF
//! (`udfs/examples/fetch`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use serde_json::Value;

mod common;
use common::Run;
use common::http::serve;

/// The secret the tests' config injects.
const SECRET: &str = "tok-8f3a9c1e";

/// What the test server saw: requests per path, and the Authorization
/// headers it was sent.
#[derive(Default)]
struct Seen {
    hits: HashMap<String, usize>,
    authorization: Vec<String>,
    /// Requests to `/delay/...` being answered now, and the most at once.
    in_flight: usize,
    most_in_flight: usize,
}

/// An HTTP server on 127.0.0.1 with the routes the tests need.
struct Server {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

type Reply = hyper::Response<Full<Bytes>>;

fn reply(status: u16, body: impl Into<Bytes>) -> Reply {
    hyper::Response::builder()
        .status(status)
        .body(Full::new(body.into()))
        .unwrap()
}

fn redirect(to: &str) -> Reply {
    hyper::Response::builder()
        .status(302)
        .header("location", to)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

impl Server {
    fn start() -> Server {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Arc::clone(&seen);
        let port = serve(move |port| {
            service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(Self::route(&state, port, request).await) }
            })
        });
        Server { port, seen }
    }

    async fn route(
        state: &Mutex<Seen>,
        port: u16,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Reply {
        let path = request.uri().path().to_string();
        let count = {
            let mut seen = state.lock().unwrap();
            if let Some(auth) = request.headers().get("authorization") {
                seen.authorization
                    .push(auth.to_str().unwrap_or("").to_string());
            }
            let hits = seen.hits.entry(path.clone()).or_default();
            *hits += 1;
            *hits
        };
        match path.as_str() {
            "/labels.json" => reply(200, r#"{"A":"Alpha","B":"Beta"}"#),
            "/big" => reply(200, vec![b'x'; 3 << 20]),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                reply(200, "late")
            }
            "/flaky" if count == 1 => reply(429, "slow down"),
            "/loop" => redirect("/loop2"),
            "/loop2" => redirect("/loop"),
            "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
            "/to-localhost" => redirect(&format!("http://localhost:{port}/hello")),
            // A Location with C1 controls (CSI, in UTF-8): never shown.
            "/to-garbage" => hyper::Response::builder()
                .status(302)
                .header(
                    "location",
                    hyper::header::HeaderValue::from_bytes(b"/x\xc2\x9b2J\xc2\x9d0;pwned").unwrap(),
                )
                .body(Full::new(Bytes::new()))
                .unwrap(),
            p if p.starts_with("/delay/") => {
                {
                    let mut seen = state.lock().unwrap();
                    seen.in_flight += 1;
                    seen.most_in_flight = seen.most_in_flight.max(seen.in_flight);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                state.lock().unwrap().in_flight -= 1;
                reply(200, "d")
            }
            "/missing" => reply(404, "no such thing"),
            _ => reply(200, format!("hello from {path}")),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn most_in_flight(&self) -> usize {
        self.seen.lock().unwrap().most_in_flight
    }

    fn authorization(&self) -> Vec<String> {
        self.seen.lock().unwrap().authorization.clone()
    }
}

/// A sandbox with the fetch module and a wasql config file.
struct Sandbox {
    sandbox: common::Sandbox,
    config: PathBuf,
}

impl Sandbox {
    /// A config allowing GETs of the server with the test secret, with
    /// `settings` (keys of `[net]`) and `extra` TOML (more rules) added.
    fn new(server: &Server, settings: &str, extra: &str) -> Sandbox {
        Sandbox::with_config(&format!(
            "[net]\ntimeout_seconds = 2\nmax_response_bytes = \"1M\"\nretries = 2\n{settings}\
             [[net.allow]]\nurl = \"http://127.0.0.1:{port}/\"\nmethods = [\"GET\"]\n\
             secret = \"token\"\nsecret_format = \"Bearer {{}}\"\n\
             [net.secrets.token]\nenv = \"WASQL_TEST_NET_TOKEN\"\n{extra}",
            port = server.port
        ))
    }

    /// A config of exactly `text`.
    fn with_config(text: &str) -> Sandbox {
        let sandbox = common::Sandbox::new().env("WASQL_TEST_NET_TOKEN", SECRET);
        sandbox.add_module("fetch");
        let config = sandbox.write("wasql.toml", text);
        Sandbox { sandbox, config }
    }

    /// Runs wasql with the config, the fetch module and `queries`.
    fn run(&self, queries: &[&str]) -> Run {
        self.run_with(&[], queries)
    }

    fn run_with(&self, flags: &[&str], queries: &[&str]) -> Run {
        let config = self.config.display().to_string();
        let udfs = self.sandbox.udfs_arg();
        let mut args = vec!["--config", &config, "-q", "--format", "json"];
        args.extend(["--udfs", &udfs]);
        args.extend(flags);
        for query in queries {
            args.extend(["-c", query]);
        }
        self.sandbox.run(&args)
    }

    /// Runs `queries` (going on after errors), then reads the audit table;
    /// returns the run and the audit rows.
    fn audit_after(&self, queries: &[&str]) -> (Run, Vec<Value>) {
        let mut all: Vec<&str> = queries.to_vec();
        all.push(
            "SELECT function, module, method, url, decision, rule, status, bytes, cache_hit, error \
             FROM wasql.net_log ORDER BY time",
        );
        let run = self.run_with(&["--continue-on-error"], &all);
        let audit = run.last_json();
        (run, audit)
    }
}

#[test]
fn allowed_fetch_from_sql_and_from_a_udf() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let url = server.url("/hello");
    let (run, audit) = sandbox.audit_after(&[&format!(
        "SELECT http_get('{url}') AS sql_body, fetch_text('{url}') AS udf_body, \
                http_get_response('{}')['status'] AS missing",
        server.url("/missing")
    )]);
    let run = run.success();
    let rows = &run.results()[0];
    assert_eq!(rows[0]["sql_body"], "hello from /hello");
    assert_eq!(rows[0]["udf_body"], "hello from /hello");
    assert_eq!(rows[0]["missing"], 404);
    // Callers do not share answers (each gets what its own rules allow):
    // one request each for /hello, one for /missing.
    assert_eq!(server.hits("/hello"), 2, "{audit:?}");
    let allowed: Vec<&Value> = audit
        .iter()
        .filter(|r| r["decision"] == "allowed")
        .collect();
    assert_eq!(allowed.len(), 3, "{audit:?}");
    let sent: Vec<&&Value> = allowed.iter().filter(|r| r["cache_hit"] == false).collect();
    assert_eq!(sent.len(), 3, "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|r| r["function"] == "fetch_text" && r["module"] == "fetch"),
        "{audit:?}"
    );
    assert!(
        sent.iter()
            .all(|r| r["rule"].as_str().unwrap().starts_with("allow[1]")),
        "{audit:?}"
    );
}

#[test]
fn nothing_gets_out_without_a_rule() {
    let server = Server::start();
    let run = common::Sandbox::new().run(&[
        "-q",
        "-c",
        &format!("SELECT http_get('{}')", server.url("/hello")),
    ]);
    let stderr = &run.stderr;
    assert_eq!(run.code, 1);
    assert!(stderr.contains("off by default"), "{stderr}");
    assert_eq!(server.hits("/hello"), 0);
}

#[test]
fn denied_host_is_refused_and_audited() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let run = sandbox.run(&["SELECT http_get('https://example.com/')"]);
    let error = run.first_error();
    assert!(
        error.contains("refused") && error.contains("example.com"),
        "{error}"
    );
    let (_, audit) = sandbox.audit_after(&["SELECT fetch_status('http://example.com/x')"]);
    let refused: Vec<&Value> = audit
        .iter()
        .filter(|r| r["decision"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{audit:?}");
    assert_eq!(refused[0]["function"], "fetch_status");
    assert_eq!(refused[0]["url"], "http://example.com/x");
}

#[test]
fn a_name_resolving_to_loopback_needs_a_rule_listing_the_address() {
    let server = Server::start();
    let port = server.port;
    // localhost is allowed by name, but it resolves to a loopback address.
    let sandbox = Sandbox::new(
        &server,
        "",
        &format!("[[net.allow]]\nurl = \"http://localhost:{port}/\"\n"),
    );
    let run = sandbox.run(&[&format!("SELECT http_get('http://localhost:{port}/hello')")]);
    let error = run.first_error();
    assert!(
        error.contains("loopback") && error.contains("addresses"),
        "{error}"
    );
    assert_eq!(server.hits("/hello"), 0);

    let listed = Sandbox::new(
        &server,
        "",
        &format!(
            "[[net.allow]]\nurl = \"http://localhost:{port}/\"\naddresses = [\"127.0.0.0/8\", \"::1\"]\n"
        ),
    );
    let run = listed
        .run(&[&format!(
            "SELECT http_get('http://localhost:{port}/hello') AS b"
        )])
        .success();
    assert_eq!(run.results()[0][0]["b"], "hello from /hello");
}

#[test]
fn redirects_are_checked_hop_by_hop() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    // To the cloud metadata address: no rule allows it.
    let error = sandbox
        .run(&[&format!(
            "SELECT http_get('{}')",
            server.url("/to-metadata")
        )])
        .first_error()
        .to_string();
    assert!(
        error.contains("169.254.169.254") && error.contains("refused"),
        "{error}"
    );
    // To an allowed name that resolves to loopback.
    let port = server.port;
    let named = Sandbox::new(
        &server,
        "",
        &format!("[[net.allow]]\nurl = \"http://localhost:{port}/\"\n"),
    );
    let error = named
        .run(&[&format!(
            "SELECT http_get('{}')",
            server.url("/to-localhost")
        )])
        .first_error()
        .to_string();
    assert!(error.contains("loopback"), "{error}");
    // A loop.
    let (run, audit) =
        sandbox.audit_after(&[&format!("SELECT http_get('{}')", server.url("/loop"))]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("redirect loop"), "{run:?}");
    assert!(
        audit.iter().filter(|r| r["status"] == 302).count() >= 2,
        "{audit:?}"
    );
}

#[test]
fn limits_name_the_url_and_the_limit() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let error = sandbox
        .run(&[&format!("SELECT http_get('{}')", server.url("/big"))])
        .first_error()
        .to_string();
    assert!(
        error.contains("/big") && error.contains("net.max_response_bytes"),
        "{error}"
    );

    let run = sandbox.run(&[&format!("SELECT fetch_text('{}')", server.url("/slow"))]);
    assert!(run.elapsed < Duration::from_secs(4), "{run:?}");
    let error = run.first_error();
    assert!(
        error.contains("/slow") && error.contains("[net] timeout_seconds"),
        "{error}"
    );
    assert!(
        error.contains("fetch_text") && error.contains("fetch"),
        "names the function: {error}"
    );
}

#[test]
fn too_many_requests_then_success_is_retried() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let (run, audit) =
        sandbox.audit_after(&[&format!("SELECT http_get('{}') AS b", server.url("/flaky"))]);
    let run = run.success();
    assert_eq!(run.results()[0][0]["b"], "hello from /flaky");
    assert_eq!(server.hits("/flaky"), 2);
    let statuses: Vec<&Value> = audit.iter().map(|r| &r["status"]).collect();
    assert_eq!(
        statuses,
        [&Value::from(429), &Value::from(200)],
        "{audit:?}"
    );
}

#[test]
fn identical_requests_of_a_query_go_out_once() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let url = server.url("/counted");
    let run = sandbox
        .run(&[&format!(
            "SELECT count(*) AS n, count(DISTINCT b) AS d FROM \
             (SELECT http_get('{url}') AS b FROM generate_series(1, 5000))"
        )])
        .success();
    assert_eq!(run.results()[0][0]["n"], 5000);
    assert_eq!(server.hits("/counted"), 1);
    // A UDF's batch of 200 identical URLs, twice in one query.
    let run = sandbox
        .run(&[&format!(
            "SELECT sum(fetch_status_all('{url}?u')) AS s, sum(fetch_status_all('{url}?u')) AS t \
             FROM generate_series(1, 200)"
        )])
        .success();
    assert_eq!(run.results()[0][0]["s"], 200 * 200);
    assert_eq!(
        server.hits("/counted"),
        2,
        "one more request for the new URL"
    );
}

#[test]
fn secrets_reach_the_server_but_not_the_guest_or_the_audit() {
    let server = Server::start();
    let audit_file = tempfile::NamedTempFile::new().unwrap();
    let sandbox = Sandbox::new(
        &server,
        &format!("audit_file = \"{}\"\n", audit_file.path().display()),
        "",
    );
    let url = server.url("/whoami");
    let (run, audit) = sandbox.audit_after(&[
        &format!("SELECT fetch_seen('{url}') AS seen"),
        &format!("SELECT http_get('{url}?access_token={SECRET}') AS b"),
    ]);
    let run = run.success();
    assert_eq!(
        server.authorization(),
        [format!("Bearer {SECRET}"), format!("Bearer {SECRET}")]
    );
    let seen = run.results()[0][0]["seen"].as_str().unwrap().to_string();
    assert!(seen.contains("hello from /whoami"), "{seen}");
    assert!(!seen.contains(SECRET), "the guest saw the secret: {seen}");
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "{run:?}"
    );
    let audit_text = serde_json::to_string(&audit).unwrap();
    assert!(!audit_text.contains(SECRET), "{audit_text}");
    assert!(audit_text.contains("access_token=REDACTED"), "{audit_text}");
    let file = std::fs::read_to_string(audit_file.path()).unwrap();
    assert_eq!(file.lines().count(), 2, "{file}");
    assert!(!file.contains(SECRET), "{file}");
}

#[test]
fn the_label_example_reads_its_config_once_per_query() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let config = server.url("/labels.json");
    let run = sandbox
        .run(&[&format!(
            "SELECT label(code, '{config}') AS l, count(*) AS n FROM \
             (SELECT CASE x % 3 WHEN 0 THEN 'A' WHEN 1 THEN 'B' ELSE 'Z' END AS code \
              FROM generate_series(1, 30000) t(x)) GROUP BY 1 ORDER BY 1"
        )])
        .success();
    let rows = &run.results()[0];
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["l"], "Alpha");
    assert_eq!(rows[1]["l"], "Beta");
    assert_eq!(rows[2]["l"], Value::Null);
    assert_eq!(server.hits("/labels.json"), 1);
}

#[test]
fn cache_across_queries_and_the_request_limit() {
    let server = Server::start();
    let sandbox = Sandbox::new(
        &server,
        "cache_ttl_seconds = 60\nmax_requests_per_query = 3\n",
        "",
    );
    let url = server.url("/cached");
    let (run, audit) = sandbox.audit_after(&[
        &format!("SELECT http_get('{url}') AS b"),
        &format!("SELECT http_get('{url}') AS b"),
        &format!(
            "SELECT count(http_get('{}' || x)) FROM generate_series(1, 5) t(x)",
            server.url("/many/")
        ),
    ]);
    assert_eq!(
        server.hits("/cached"),
        1,
        "the second query hits the cache: {audit:?}"
    );
    let hits: Vec<&Value> = audit.iter().filter(|r| r["cache_hit"] == true).collect();
    assert_eq!(hits.len(), 1, "{audit:?}");
    assert_eq!(hits[0]["status"], 200);
    assert!(
        run.stderr.contains("net.max_requests_per_query"),
        "the third query passes the limit: {run:?}"
    );
    let many: usize = (1..=5).map(|i| server.hits(&format!("/many/{i}"))).sum();
    assert_eq!(many, 3, "{audit:?}");
}

#[test]
fn the_shell_shows_the_policy() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let run = sandbox.run(&["\\net"]).success();
    assert!(
        run.stdout
            .contains(&format!("allow[1] http://127.0.0.1:{}/", server.port)),
        "{run:?}"
    );
    assert!(run.stdout.contains("Authorization (secret)"), "{run:?}");
    assert!(
        run.stdout.contains("Secrets (names only): token"),
        "{run:?}"
    );
    assert!(!run.stdout.contains(SECRET), "{run:?}");
    assert!(
        run.stdout.contains("fetch_status_all"),
        "requested hosts: {run:?}"
    );
}

#[test]
fn requests_run_concurrently_up_to_the_limit() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "max_concurrent = 3\n", "");
    let run = sandbox
        .run(&[&format!(
            "SELECT sum(fetch_status_all('{}' || x)) AS s FROM generate_series(1, 12) t(x)",
            server.url("/delay/")
        )])
        .success();
    assert_eq!(run.results()[0][0]["s"], 12 * 200);
    assert_eq!(server.most_in_flight(), 3, "one UDF call, three at a time");
}

#[test]
fn rules_for_named_functions_only() {
    let server = Server::start();
    let port = server.port;
    let sandbox = Sandbox::with_config(&format!(
        "[net]\n[[net.allow]]\nurl = \"http://127.0.0.1:{port}/\"\nmodules = [\"fetch\"]\nfunctions = [\"fetch_text\"]\n"
    ));
    let url = server.url("/only");
    let run = sandbox
        .run(&[&format!("SELECT fetch_text('{url}') AS b")])
        .success();
    assert_eq!(run.results()[0][0]["b"], "hello from /only");
    for refused in [
        format!("SELECT fetch_status('{url}')"),
        format!("SELECT http_get('{url}')"),
    ] {
        let run = sandbox.run(&[&refused]);
        assert!(
            run.first_error().contains("no [[net.allow]] rule allows"),
            "{run:?}"
        );
    }
    assert_eq!(server.hits("/only"), 1);
}

#[test]
fn callers_cannot_override_the_secret_or_the_host() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let url = server.url("/headers");
    let run = sandbox
        .run(&[&format!(
            "SELECT http_get('{url}', 'Authorization: Bearer guest\nX-Trace: 1') AS b"
        )])
        .success();
    assert_eq!(run.results()[0][0]["b"], "hello from /headers");
    assert_eq!(
        server.authorization(),
        [format!("Bearer {SECRET}")],
        "only the secret"
    );
    let run = sandbox.run(&[&format!(
        "SELECT http_get('{url}', 'Host: intranet.example')"
    )]);
    assert!(
        run.first_error().contains("'host' may not be set"),
        "{run:?}"
    );
    assert_eq!(server.hits("/headers"), 1);
}

#[test]
fn a_shared_or_cached_answer_goes_only_to_callers_the_same_rule_allows() {
    let server = Server::start();
    let port = server.port;
    let sandbox = Sandbox::with_config(&format!(
        "[net]\ncache_ttl_seconds = 60\n[[net.allow]]\nurl = \"http://127.0.0.1:{port}/\"\n\
         functions = [\"fetch_text\"]\n"
    ));
    let url = server.url("/private");
    // Allowed for fetch_text; http_get in the same query and the next one
    // must not get the answer from the sharing map or the cache.
    let (run, audit) = sandbox.audit_after(&[
        &format!("SELECT fetch_text('{url}') AS a, http_get('{url}') AS b"),
        &format!("SELECT http_get('{url}') AS b"),
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stdout.contains("hello from /private"), "{run:?}");
    let refused = audit.iter().filter(|r| r["decision"] == "refused").count();
    assert!(refused >= 2, "{audit:?}");
    assert!(
        audit
            .iter()
            .all(|r| r["function"] != "http_get" || r["decision"] == "refused"),
        "{audit:?}"
    );
}

/// The `wasql` schema is read-only: no statement creates, replaces, drops or
/// changes a table there (nor the schema itself), each fails with one
/// line saying so, and the audit table reads as before afterwards.
#[test]
fn the_wasql_schema_is_read_only() {
    let sandbox = Sandbox::with_config("");
    let csv = sandbox.sandbox.path("fake.csv");
    std::fs::write(&csv, "n\n1\n").unwrap();
    let external = format!(
        "CREATE EXTERNAL TABLE wasql.net_log STORED AS CSV LOCATION '{}'",
        csv.display()
    );
    let cases: Vec<Vec<&str>> = vec![
        vec!["CREATE OR REPLACE TABLE wasql.net_log AS SELECT 1 AS n"],
        vec!["CREATE TABLE wasql.x AS SELECT 1 AS n"],
        vec!["CREATE TABLE wasql.x (n INT)"],
        vec![&external],
        vec!["CREATE VIEW wasql.v AS SELECT 1 AS n"],
        vec!["CREATE OR REPLACE VIEW wasql.net_log AS SELECT 1 AS n"],
        vec!["DROP TABLE wasql.net_log"],
        vec!["DROP TABLE IF EXISTS wasql.net_log"],
        vec!["DROP VIEW wasql.net_log"],
        vec!["INSERT INTO wasql.net_log SELECT * FROM wasql.net_log"],
        vec!["DELETE FROM wasql.net_log"],
        vec!["UPDATE wasql.net_log SET status = 0"],
        vec!["TRUNCATE TABLE wasql.net_log"],
        vec!["CREATE SCHEMA wasql"],
        vec!["CREATE SCHEMA IF NOT EXISTS wasql"],
        vec!["DROP SCHEMA wasql"],
        vec!["DROP SCHEMA wasql CASCADE"],
        vec![
            "SET datafusion.catalog.default_schema = 'wasql'",
            "CREATE TABLE x AS SELECT 1 AS n",
        ],
    ];
    for statements in cases {
        let mut all = statements.clone();
        all.push("SELECT count(*) AS n FROM datafusion.wasql.net_log");
        let run = sandbox.run_with(&["--continue-on-error"], &all);
        let what = statements.join("; ");
        assert_eq!(run.stderr.lines().count(), 1, "{what}: {run:?}");
        assert!(
            run.first_error()
                .contains("the wasql schema is read-only: it holds wasql's own tables (functions, modules, net_log, net_rules)"),
            "{what}: {run:?}"
        );
        assert_eq!(
            run.last_json(),
            vec![serde_json::json!({"n": 0})],
            "{what}: {run:?}"
        );
    }
}

/// Asserts that `text` has no control character but newlines: no C0
/// (ESC, BEL, ...), no DEL, no C1.
#[track_caller]
fn assert_printable(what: &str, text: &str) {
    let controls: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        controls.is_empty(),
        "{what} has control characters {controls:?}: {text:?}"
    );
}

/// A URL full of control characters, from SQL and from a guest, is shown
/// escaped in errors and in the audit; so is nothing of a hostile
/// redirect's Location. The session goes on.
#[test]
fn control_characters_in_requests_and_responses_are_escaped() {
    let server = Server::start();
    let sandbox = Sandbox::new(&server, "", "");
    let nasty = "'http://x' || chr(27) || ']0;pwned' || chr(7) || chr(155) || '2J/'";
    let (run, audit) = sandbox.audit_after(&[
        &format!("SELECT http_get({nasty})"),
        &format!("SELECT fetch_text({nasty})"),
        &format!("SELECT http_get('{}')", server.url("/to-garbage")),
        "SELECT 42 AS v",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_printable("stderr", &run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    let shown = "http://x\\x1b]0;pwned\\x07\\u{9b}2J/";
    assert!(
        lines[0].contains(&format!("'{shown}' is not a URL")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("fetch_text") && lines[1].contains(shown),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("without a usable Location"),
        "{}",
        lines[2]
    );
    assert_eq!(run.results()[0], [serde_json::json!({"v": 42})], "{run:?}");
    let refused: Vec<&Value> = audit
        .iter()
        .filter(|r| r["decision"] == "refused")
        .collect();
    assert_eq!(refused.len(), 2, "{audit:?}");
    for record in refused {
        let (url, error) = (
            record["url"].as_str().unwrap(),
            record["error"].as_str().unwrap(),
        );
        assert_eq!(url, shown, "{record}");
        assert!(error.contains(shown), "{record}");
        assert_printable("the audit", &format!("{url} {error}"));
    }
}
