//! Cluster mode: a scheduler and two executors (separate `wasql`
//! processes on 127.0.0.1) give the embedded engine's answers; WASM
//! modules reach executors that never saw them, large ones from the
//! scheduler's depot; a guest's trap reads as it does embedded; an
//! executor's own network policy decides its fetches; a missing scheduler
//! is a clear error.

mod common;

#[path = "../benches/common/tpch_data.rs"]
mod tpch_data;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;

use common::Sandbox;
use common::cluster::Cluster;
use common::http::serve;
use common::s3;

/// Queries over a CSV file with the example UDFs: scalar (Rust and C),
/// aggregate, grouped, joined, sorted.
const QUERIES: &[&str] = &[
    "SELECT country, count(*) AS n, sum(population) AS people FROM 'cities.csv' \
     GROUP BY country ORDER BY country",
    "SELECT name, slugify(name || ' City') AS slug FROM 'cities.csv' ORDER BY name",
    "SELECT a.name, round(haversine_km(a.lat, a.lon, b.lat, b.lon)) AS km \
     FROM 'cities.csv' a JOIN 'cities.csv' b ON a.name < b.name \
     ORDER BY km, a.name LIMIT 10",
    "SELECT country, round(geo_mean(population), 3) AS g FROM 'cities.csv' \
     GROUP BY country ORDER BY country",
    "SELECT luhn_valid(CAST(population AS VARCHAR)) AS valid, count(*) AS n FROM 'cities.csv' \
     GROUP BY valid ORDER BY valid",
    // WASM calls in shuffle keys: a window's PARTITION BY and ORDER BY, a sort.
    "SELECT name, rank() OVER (PARTITION BY slugify(country) ORDER BY slugify(name)) AS r, \
     sum(population) OVER (PARTITION BY luhn_valid(CAST(population AS VARCHAR))) AS s \
     FROM 'cities.csv' ORDER BY slugify(name) DESC",
    // Table functions: constant arguments, LATERAL, over a series.
    "SELECT token, pos FROM tokenize('Hello, World! 42x') ORDER BY pos",
    "SELECT c.name, t.token, t.pos FROM 'cities.csv' c CROSS JOIN LATERAL tokenize(c.name) AS t \
     ORDER BY c.name, t.pos",
    "SELECT count(*) AS n, sum(t.pos) AS s FROM generate_series(1, 300) AS g(v) \
     CROSS JOIN LATERAL tokenize(repeat('ab ', CAST(g.v AS INT))) AS t",
    // Introspection describes the client's session.
    "SELECT name, kind, signature FROM wasql.functions ORDER BY name",
];

#[test]
fn cluster_gives_the_embedded_answers_with_udfs_the_executors_never_saw() {
    let sandbox = Sandbox::with(&["slugify", "haversine", "stats", "luhn_c", "tables"]);
    sandbox.add_cities();
    let cluster = Cluster::start(&sandbox, "");
    let udfs = sandbox.udfs_arg();
    for sql in QUERIES {
        let rows = cluster.same_as_embedded(&sandbox, &["--udfs", &udfs, "-c", sql]);
        assert!(rows.lines().count() > 1, "{sql}: {rows}");
    }
}

#[test]
fn create_function_and_explain_work_on_the_cluster() {
    let sandbox = Sandbox::new();
    sandbox.add_cities();
    std::fs::copy(
        common::modules::module_file("slugify"),
        sandbox.path("slugify.wasm"),
    )
    .unwrap();
    let cluster = Cluster::start(&sandbox, "");
    let create = "CREATE FUNCTION slug(VARCHAR) RETURNS VARCHAR LANGUAGE wasm \
                  AS 'slugify.wasm#slugify'";
    let query = "SELECT slug(name) AS s FROM 'cities.csv' ORDER BY s";
    let rows = cluster.same_as_embedded(&sandbox, &["-c", create, "-c", query]);
    assert!(rows.lines().count() > 2, "{rows}");
    for explain in ["EXPLAIN", "EXPLAIN ANALYZE"] {
        let run = sandbox
            .run(&[
                "--cluster",
                &cluster.url,
                "-q",
                "-c",
                create,
                "-c",
                &format!("{explain} {query}"),
            ])
            .success();
        assert!(run.stdout.contains("slug("), "{explain}: {}", run.stdout);
        if explain == "EXPLAIN" {
            // The stages the scheduler made.
            assert!(run.stdout.contains("distributed_plan"), "{}", run.stdout);
        }
    }
}

#[test]
fn a_guest_that_traps_on_an_executor_reads_as_it_does_embedded() {
    let sandbox = Sandbox::with(&["hostile/boom"]);
    let cluster = Cluster::start(&sandbox, "");
    let udfs = sandbox.udfs_arg();
    let sql = "SELECT boom(v) FROM generate_series(1, 3) AS r(v)";
    let embedded = sandbox.run(&["--udfs", &udfs, "-c", sql]).exit(1);
    let on_cluster = sandbox
        .run(&["--cluster", &cluster.url, "--udfs", &udfs, "-c", sql])
        .exit(1);
    assert!(
        embedded.stderr.contains("function boom (module") && embedded.stderr.contains("trapped"),
        "{embedded:#?}"
    );
    assert_eq!(on_cluster.stderr, embedded.stderr);
}

#[test]
fn copy_to_an_object_store_is_all_or_nothing_and_reads_back() {
    let server = s3::Server::start();
    let profile = s3::profile(&server.endpoint(), &[s3::BUCKET], s3::SECRET_KEY);
    // Every role finds the bucket's profile in its own config: the client
    // and the scheduler in the default place, the executors in theirs.
    let sandbox = Sandbox::new()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost");
    std::fs::create_dir_all(sandbox.config_home().join("wasql")).unwrap();
    std::fs::write(sandbox.config_home().join("wasql/config.toml"), &profile).unwrap();
    let cluster = Cluster::start(&sandbox, &profile);
    let client = ["--cluster", cluster.url.as_str(), "-q", "--format", "csv"];
    let copy = "COPY (SELECT v, v % 3 AS k FROM generate_series(1, 30000) AS g(v)) \
                TO 's3://bucket/out/' STORED AS PARQUET";
    let read = "SELECT count(*) AS n, sum(v) AS s FROM 's3://bucket/out/'";
    sandbox
        .run(&[&client[..], &["-c", copy, "-c", read]].concat())
        .success();
    let run = sandbox
        .run(&[&client[..], &["-c", read]].concat())
        .success();
    assert_eq!(run.stdout, "n,s\n30000,450015000\n");
    let written = server.keys();
    assert!(written.iter().all(|k| k.starts_with("out/")), "{written:?}");

    // A COPY that fails on an executor leaves nothing in the bucket.
    let failing = "COPY (SELECT 1 / (v - 20000) AS x FROM generate_series(1, 30000) AS g(v)) \
                   TO 's3://bucket/failed/' STORED AS PARQUET";
    let run = sandbox
        .run(&[&client[..], &["-c", failing]].concat())
        .exit(1);
    assert!(run.stderr.contains("Divide by zero"), "{run:#?}");
    assert_eq!(server.keys(), written);
}

/// Serves `/label` with a fixed body on 127.0.0.1; returns the port.
fn label_server() -> u16 {
    serve(|_| {
        service_fn(|_request| async {
            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from("fetched"))))
        })
    })
}

fn allow(port: u16) -> String {
    format!("[[net.allow]]\nurl = \"http://127.0.0.1:{port}/\"\n")
}

#[test]
fn the_executors_network_policy_decides_not_the_clients() {
    let port = label_server();
    let sandbox = Sandbox::new();
    sandbox.write("urls.csv", format!("url\nhttp://127.0.0.1:{port}/label\n"));
    let client_allows = sandbox.write("client.toml", allow(port));
    let client_allows = client_allows.to_str().unwrap();
    let sql = "SELECT http_get(url) AS body FROM 'urls.csv'";

    // The executors allow nothing: a client that allows the host cannot
    // widen their policy.
    let strict = Cluster::start(&sandbox, "");
    let run = sandbox
        .run(&[
            "--cluster",
            &strict.url,
            "--config",
            client_allows,
            "-c",
            sql,
        ])
        .exit(1);
    assert!(
        run.stderr.contains("refused") && run.stderr.contains("[[net.allow]]"),
        "{run:#?}"
    );
    drop(strict);

    // The executors allow the host: the fetch is theirs, whatever the
    // client's config says.
    let open = Cluster::start(&sandbox, &allow(port));
    let run = sandbox
        .run(&["--cluster", &open.url, "-q", "--format", "csv", "-c", sql])
        .success();
    assert_eq!(run.stdout, "body\nfetched\n");
}

#[test]
fn no_scheduler_is_a_clear_error_within_seconds() {
    let sandbox = Sandbox::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("df://127.0.0.1:{port}");
    let run = sandbox.run(&["--cluster", &url, "-c", "SELECT 1"]).exit(2);
    assert!(
        run.stderr
            .contains(&format!("no scheduler answers at 127.0.0.1:{port}")),
        "{run:#?}"
    );
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    let run = sandbox
        .run(&["--cluster", "127.0.0.1:1", "-c", "SELECT 1"])
        .exit(2);
    assert!(run.stderr.contains("df://HOST:PORT"), "{run:#?}");
}

#[test]
fn a_killed_executor_does_not_hang_the_query_or_the_cluster() {
    let sandbox = Sandbox::with(&["slugify"]);
    // 400,000 rows in 8 files: tasks for both executors, for seconds.
    write_rows(&sandbox);
    let mut cluster = Cluster::start(&sandbox, "");
    let udfs = sandbox.udfs_arg();
    // About 3 s on two executors: 3.2 million pairs through the UDF.
    let sql = "SELECT count(*) AS n FROM 'rows/*.csv' a JOIN 'rows/*.csv' b ON a.i = b.i \
               WHERE slugify(a.name) <= slugify(b.name)";
    let url = cluster.url.clone();
    let client = [
        "--cluster",
        &url,
        "--udfs",
        &udfs,
        "-q",
        "--format",
        "csv",
        "-c",
    ];
    let query = sandbox
        .command(&[&client[..], &[sql]].concat())
        .spawn()
        .expect("start the client");
    std::thread::sleep(Duration::from_millis(1000));
    let mut query = query;
    assert!(
        query.try_wait().expect("the client runs").is_none(),
        "the query ended before the executor was killed: make it longer"
    );
    cluster.kill_executor(1);
    let started = std::time::Instant::now();
    while query.try_wait().expect("the client runs").is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = query.kill();
            panic!(
                "the query hung after an executor was killed:\n{}",
                sandbox.read("scheduler.log")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = query.wait_with_output().expect("the client ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Either Ballista ran the lost tasks on the other executor, or the
    // query failed with one line; never a hang.
    assert!(
        (output.status.success() && stdout == "n\n3200000\n")
            || (output.status.code() == Some(1) && stderr.lines().count() == 1),
        "status {:?}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    // The cluster serves the next query with the executor left.
    let run = sandbox
        .run(&[&client[..], &["SELECT count(*) AS n FROM 'rows/*.csv'"]].concat())
        .success();
    assert_eq!(run.stdout, "n\n400000\n");
}

#[test]
fn tpch_at_scale_factor_0_1_gives_the_embedded_answers() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("tpch");
    tpch_data::generate(&data, 0.1).expect("TPC-H data");
    let setup: String = tpch_data::TABLES
        .iter()
        .map(|table| {
            format!(
                "CREATE EXTERNAL TABLE {table} STORED AS PARQUET LOCATION '{}';\n",
                data.join(format!("{table}.parquet")).display()
            )
        })
        .collect();
    let setup = sandbox.write("setup.sql", setup);
    let setup = setup.to_str().unwrap();
    let cluster = Cluster::start(&sandbox, "");
    let queries = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tpch");
    for q in 1..=22 {
        let query = queries.join(format!("q{q}.sql"));
        let query = query.to_str().unwrap();
        let rows = cluster.same_as_embedded(&sandbox, &["-f", setup, "-f", query]);
        assert!(rows.lines().count() > 1, "q{q}: {rows}");
    }
}

/// `rows/part0.csv` .. `part7.csv`: 50,000 rows each (`i`, `name`).
fn write_rows(sandbox: &Sandbox) {
    for part in 0..8 {
        sandbox
            .run(&[
                "-q",
                "-c",
                &format!(
                    "COPY (SELECT i, 'Row number ' || i AS name FROM generate_series(1, 50000) t(i)) \
                     TO 'rows/part{part}.csv'"
                ),
            ])
            .success();
    }
}

#[test]
fn a_statement_stopped_by_its_client_is_cancelled_on_the_cluster() {
    let sandbox = Sandbox::with(&["slugify"]).env("RUST_LOG", "ballista_scheduler=info");
    write_rows(&sandbox);
    let cluster = Cluster::start(&sandbox, "");
    let udfs = sandbox.udfs_arg();
    // Minutes of work: 400 rows of b for each of 400,000 rows of a, each
    // pair through the UDF.
    let sql = "SELECT count(*) FROM 'rows/*.csv' a JOIN 'rows/*.csv' b \
               ON a.i % 1000 = b.i % 1000 WHERE slugify(a.name) < slugify(b.name)";
    let run = sandbox
        .run(&[
            "--cluster",
            &cluster.url,
            "--udfs",
            &udfs,
            "--timeout",
            "1",
            "-c",
            sql,
        ])
        .exit(1);
    assert!(run.stderr.contains("--timeout"), "{run:#?}");
    let started = std::time::Instant::now();
    while !sandbox
        .read("scheduler.log")
        .contains("Received cancellation request for job")
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no cancellation reached the scheduler:\n{}",
            sandbox.read("scheduler.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_module_over_ten_megabytes_reaches_the_executors_once_from_the_depot() {
    // slugify with a 17 MB custom section: the same function, another
    // digest, a module larger than Ballista's default message cap (16 MiB).
    let mut module = std::fs::read(common::modules::module_file("slugify")).unwrap();
    let mut padding = common::encode::wasm_vec(b"padding");
    padding.extend(vec![0x5a; 17 << 20]);
    module.extend(common::encode::wasm_section(0, &padding));
    // The executors log the modules they fetch.
    let sandbox = Sandbox::new().env("RUST_LOG", "warn,wasql_cluster=info");
    sandbox.write("udfs/big.wasm", &module);
    sandbox.write("names.csv", "name\nHello World\nÀ bientôt\n");
    let cluster = Cluster::start(&sandbox, "");
    let sql = "SELECT slugify(name) AS s FROM 'names.csv' ORDER BY s";
    let udfs = sandbox.udfs_arg();
    for _ in 0..2 {
        let rows = cluster.same_as_embedded(&sandbox, &["--udfs", &udfs, "-c", sql]);
        assert_eq!(rows, "s\nbient-t\nhello-world\n");
    }
    // Tasks carried its digest, not its bytes: an executor that ran one
    // fetched the module from the scheduler's depot, once for both queries.
    let fetches: Vec<usize> = ["executor1.log", "executor2.log"]
        .iter()
        .map(|log| sandbox.read(log).matches("fetched module").count())
        .collect();
    assert!(
        fetches.iter().sum::<usize>() >= 1 && fetches.iter().all(|&n| n <= 1),
        "fetches per executor: {fetches:?}\nexecutor1: {}\nexecutor2: {}",
        sandbox.read("executor1.log"),
        sandbox.read("executor2.log")
    );
}
