//! The network hook's goals, measured against a local HTTP server whose
//! every answer takes 20 ms:
//!
//! 1. 1,000 distinct URLs in one query, with the default `[net]` limits (one
//!    `allow` rule for the server, nothing else): wall time ≤ 1 s, through
//!    the batch UDF `fetch_status_all` (udfs/examples/fetch) and through
//!    `http_get` in SQL.
//! 2. The same 1,000 URLs repeated 10 times in one query (10,000 rows): the
//!    server sees 1,000 requests.
//! 3. A query whose UDF never fetches pays nothing measurable for the hook:
//!    `price_net` (udfs/examples/numeric) on TPC-H `lineitem` in a session
//!    without `[net]` rules against one whose `[net]` has rules and limits
//!    (configured, unused): ≤ 2%; and, for context, the UDF against the same
//!    logic in SQL.
//!
//! ```text
//! bash udfs/build.sh && cargo bench --bench net
//! WASQL_TPCH_SF=0.1 cargo bench --bench net      # quick check
//! ```
//!
//! Criterion measures each query; the summary then runs the network queries
//! again (fresh URLs each time, the server's request count checked for each)
//! and the goal-3 pairs in alternating rounds, and prints medians and the
//! median of the rounds' ratios.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode};
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::runtime::Runtime;
use wasql_engine::config::{ByteSize, Count, Seconds};
use wasql_engine::net::{NetConfig, RuleConfig};
use wasql_engine::{Engine, EngineSettings};

mod common;
#[path = "../tests/common/http.rs"]
mod http;
use common::{ROUNDS, alternate, lineitem, median, run, scale_factor, udf_dist};

const SAMPLE_SIZE: usize = 10;
/// Alternating rounds behind the goal-3 ratios.
/// Queries of each network form behind the summary's medians.
const NET_RUNS: usize = 11;
/// How long the server takes to answer.
const DELAY: Duration = Duration::from_millis(20);
/// Distinct URLs per query.
const URLS: usize = 1000;
/// Goal 1's limit.
const GOAL_WALL: Duration = Duration::from_secs(1);
/// Goal 3's limit on the hook's cost.
const GOAL_HOOK: f64 = 1.02;

/// The default `max_concurrent` of `[net]` (src/net/policy.rs), for the
/// lower bound the summary shows.
const DEFAULT_MAX_CONCURRENT: usize = 64;

/// An HTTP server on 127.0.0.1, on its own thread and runtime, that
/// answers every request `200 ok` after [`DELAY`] and counts the requests.
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Server {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let port = http::serve(move |_| {
            service_fn(move |_: hyper::Request<hyper::body::Incoming>| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(DELAY).await;
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            })
        });
        Server { port, requests }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests seen since the last call.
    fn take(&self) -> usize {
        self.requests.swap(0, Ordering::SeqCst)
    }
}

/// A network query: its SQL for a fresh URL prefix, and its answer.
struct NetQuery {
    name: &'static str,
    /// SQL with `{P}` for the URL prefix (`http://127.0.0.1:PORT/kind/N/`).
    sql: &'static str,
    expected: &'static str,
    /// Requests the server must see per query.
    requests: usize,
}

const NET_QUERIES: [NetQuery; 4] = [
    NetQuery {
        name: "1,000 URLs, UDF fetch_status_all",
        sql: "SELECT sum(fetch_status_all('{P}' || x)) FROM generate_series(1, 1000) t(x)",
        expected: "200000",
        requests: URLS,
    },
    NetQuery {
        name: "1,000 URLs, SQL http_get",
        sql: "SELECT count(http_get('{P}' || x)) FROM generate_series(1, 1000) t(x)",
        expected: "1000",
        requests: URLS,
    },
    NetQuery {
        name: "1,000 URLs x10, UDF fetch_status_all",
        sql: "SELECT sum(fetch_status_all('{P}' || (x % 1000))) FROM generate_series(1, 10000) t(x)",
        expected: "2000000",
        requests: URLS,
    },
    NetQuery {
        name: "1,000 URLs x10, SQL http_get",
        sql: "SELECT count(http_get('{P}' || (x % 1000))) FROM generate_series(1, 10000) t(x)",
        expected: "10000",
        requests: URLS,
    },
];

/// Makes each run's URLs new, so that nothing is answered from a cache.
static RUN_ID: AtomicUsize = AtomicUsize::new(0);

impl NetQuery {
    /// Runs the query with fresh URLs; checks its answer and the requests
    /// the server saw, and returns its wall time and that count.
    fn run_once(&self, rt: &Runtime, engine: &Engine, server: &Server) -> (Duration, usize) {
        let id = RUN_ID.fetch_add(1, Ordering::Relaxed);
        let sql = self
            .sql
            .replace("{P}", &format!("{}/q{id}/", server.base()));
        server.take();
        let start = Instant::now();
        let value = rt.block_on(run(engine, &sql));
        let elapsed = start.elapsed();
        let seen = server.take();
        assert_eq!(value, self.expected, "{}: {sql}", self.name);
        assert_eq!(
            seen, self.requests,
            "{}: the server saw {seen} requests, not {}",
            self.name, self.requests
        );
        (elapsed, seen)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> datafusion::error::Result<()> {
    let sf = scale_factor();
    let rt = Runtime::new()?;
    let dist = udf_dist(&["numeric.wasm", "fetch.wasm"]);
    let server = Server::start();

    // Goals 1 and 2: every limit at its default, one rule for the server.
    let fetching = Engine::new(&EngineSettings {
        net: NetConfig {
            allow: vec![RuleConfig {
                url: format!("{}/", server.base()),
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    })?;
    fetching.load_udf_dir(&dist)?;

    // Goal 3: no [net] at all, and [net] with rules and limits (no secrets)
    // that the query never uses.
    let plain = Engine::new(&EngineSettings::default())?;
    plain.load_udf_dir(&dist)?;
    let hooked = Engine::new(&EngineSettings {
        net: NetConfig {
            timeout_seconds: Some(Seconds::from(5.0)),
            max_response_bytes: Some(ByteSize::from("1M")),
            max_requests_per_query: Some(Count::from(5000)),
            max_concurrent: Some(Count::from(32)),
            retries: Some(Count::from(1)),
            cache_ttl_seconds: Some(Seconds::from(60.0)),
            allow: vec![
                RuleConfig {
                    url: format!("{}/", server.base()),
                    ..Default::default()
                },
                RuleConfig {
                    url: "https://*.example.com/api/".into(),
                    methods: vec!["GET".into()],
                    modules: vec!["fetch".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
        ..Default::default()
    })?;
    hooked.load_udf_dir(&dist)?;
    let started = Instant::now();
    lineitem(&rt, &[&plain, &hooked], sf)?;
    eprintln!(
        "lineitem SF{sf} in memory in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The first query of each form, cold (the network runtime and client
    // start on the first request): checks the answers and counts.
    let cold: Vec<Duration> = NET_QUERIES
        .iter()
        .map(|q| q.run_once(&rt, &fetching, &server).0)
        .collect();

    const NATIVE: &str = "SELECT sum(p * (1 - d) * (1 + t)) FROM li";
    const UDF: &str = "SELECT sum(price_net(p, d, t)) FROM li";
    let answers: Vec<f64> = [(&plain, NATIVE), (&plain, UDF), (&hooked, UDF)]
        .into_iter()
        .map(|(engine, sql)| rt.block_on(run(engine, sql)).parse().expect("number"))
        .collect();
    for answer in &answers[1..] {
        assert!(
            (answer - answers[0]).abs() <= 1e-9 * answers[0].abs().max(1.0),
            "native {}, UDF {answer}",
            answers[0]
        );
    }

    let mut criterion = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    // Goals 1 and 2, per query: each iteration with fresh URLs.
    for (group_name, queries) in [
        ("net: 1,000 distinct URLs, 20 ms each", &NET_QUERIES[..2]),
        ("net: 1,000 URLs x10 in one query", &NET_QUERIES[2..]),
    ] {
        let mut group = criterion.benchmark_group(group_name);
        // A query takes a good part of a second: one per sample.
        group.sampling_mode(SamplingMode::Flat);
        for query in queries {
            let label = if query.name.contains("UDF") {
                "udf fetch_status_all"
            } else {
                "sql http_get"
            };
            group.bench_function(label, |b| {
                b.iter_custom(|iterations| {
                    (0..iterations)
                        .map(|_| query.run_once(&rt, &fetching, &server).0)
                        .sum()
                })
            });
        }
        group.finish();
    }

    // Goal 3, per query.
    {
        let mut group = criterion.benchmark_group("hook unused: price_net on lineitem");
        for (label, engine, sql) in [
            ("native", &plain, NATIVE),
            ("udf, no [net]", &plain, UDF),
            ("udf, [net] rules", &hooked, UDF),
        ] {
            group.bench_function(label, |b| {
                b.iter_custom(|iterations| {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        rt.block_on(run(engine, sql));
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
    }

    // The summary. Network queries: NET_RUNS of each, the forms taking
    // turns, fresh URLs every time.
    let mut net_times: Vec<Vec<Duration>> = vec![Vec::new(); NET_QUERIES.len()];
    let mut net_counts: Vec<Vec<usize>> = vec![Vec::new(); NET_QUERIES.len()];
    for round in 0..NET_RUNS {
        for i in 0..NET_QUERIES.len() {
            // Each form first in turn.
            let i = (i + round) % NET_QUERIES.len();
            let (time, count) = NET_QUERIES[i].run_once(&rt, &fetching, &server);
            net_times[i].push(time);
            net_counts[i].push(count);
        }
    }
    let hook = alternate(&rt, (&plain, UDF), (&hooked, UDF));
    let context = alternate(&rt, (&plain, NATIVE), (&plain, UDF));

    let waves = URLS.div_ceil(DEFAULT_MAX_CONCURRENT);
    println!(
        "\nNetwork hook, local server answering after {} ms, default limits \
         (max_concurrent {DEFAULT_MAX_CONCURRENT}: ≥ {waves} x {} ms = {} ms for {URLS} URLs); \
         {NET_RUNS} queries each, fresh URLs:",
        ms(DELAY),
        ms(DELAY),
        waves as f64 * ms(DELAY),
    );
    println!(
        "{:<38} {:>9} {:>9} {:>9} {:>11} {:>7}",
        "query", "cold", "median", "max", "requests", "goal"
    );
    for (i, query) in NET_QUERIES.iter().enumerate() {
        let max = *net_times[i].iter().max().expect("runs");
        let med = median(&mut net_times[i]);
        let (lo, hi) = (
            net_counts[i].iter().min().expect("runs"),
            net_counts[i].iter().max().expect("runs"),
        );
        let requests = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo}-{hi}")
        };
        // Goal 1 is about wall time, goal 2 about the server's count.
        let met = if query.name.contains("x10") {
            *lo == URLS && *hi == URLS
        } else {
            med <= GOAL_WALL
        };
        println!(
            "{:<38} {:>7.0}ms {:>7.0}ms {:>7.0}ms {requests:>11} {:>7}",
            query.name,
            ms(cold[i]),
            ms(med),
            ms(max),
            if met { "met" } else { "MISSED" },
        );
    }
    let rows = rt.block_on(run(&plain, "SELECT count(*) FROM li"));
    println!(
        "\nHook unused: price_net on lineitem SF{sf} ({rows} rows), {ROUNDS} alternating rounds, medians:"
    );
    println!(
        "{:<38} {:>10} {:>10} {:>7} {:>7}",
        "pair (a vs b)", "a", "b", "b/a", "goal"
    );
    let (a, b, ratio) = hook;
    println!(
        "{:<38} {:>8.1}ms {:>8.1}ms {ratio:>6.3}x {:>7}",
        "udf: no [net] vs [net] rules",
        ms(a),
        ms(b),
        if ratio <= GOAL_HOOK { "met" } else { "MISSED" },
    );
    let (a, b, ratio) = context;
    println!(
        "{:<38} {:>8.1}ms {:>8.1}ms {ratio:>6.2}x",
        "context: native vs udf (no [net])",
        ms(a),
        ms(b),
    );
    Ok(())
}
