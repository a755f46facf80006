//! wasql against a real S3-compatible server: s3s-fs, started in-process on
//! 127.0.0.1 for each test, serving a temporary directory (a bucket is a
//! subdirectory). The tests run the `wasql` binary the way a user does and
//! check its output, exit status and error messages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::s3::{ACCESS_KEY, BUCKET, PEOPLE_CSV, SECRET_KEY, Server, config_file};
use common::{Run, Sandbox, files_under};

fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| row.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// A sandbox whose runs reach only the test's servers.
struct User {
    sandbox: Sandbox,
}

impl User {
    fn new() -> User {
        User {
            sandbox: Sandbox::new()
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("NO_PROXY", "127.0.0.1,localhost"),
        }
    }

    fn env(self, key: &str, value: &str) -> User {
        User {
            sandbox: self.sandbox.env(key, value),
        }
    }

    fn home(&self) -> PathBuf {
        self.sandbox.home()
    }

    /// Runs `wasql -q --format FORMAT [extra args] -c SQL...`.
    fn run(&self, format: &str, extra: &[&str], sql: &[&str]) -> Run {
        let mut args = vec!["-q", "--format", format];
        args.extend(extra);
        for statement in sql {
            args.extend(["-c", statement]);
        }
        self.sandbox.run(&args)
    }

    /// Runs with the config file `config`.
    fn run_with(&self, config: &Path, format: &str, sql: &[&str]) -> Run {
        self.run(format, &["--config", config.to_str().unwrap()], sql)
    }
}

#[test]
fn profile_reads_one_csv_object() {
    let server = Server::start();
    server.put("data/people.csv", PEOPLE_CSV);
    let user = User::new();
    let config = server.config(&user.home(), SECRET_KEY);
    let run = user
        .run_with(
            &config,
            "csv",
            &["SELECT name, age FROM 's3://bucket/data/people.csv' ORDER BY age DESC"],
        )
        .success();
    assert_eq!(
        run.csv(),
        rows(&[
            &["name", "age"],
            &["grace", "85"],
            &["alan", "41"],
            &["ada", "36"]
        ])
    );
}

#[test]
fn profile_chosen_by_option() {
    let server = Server::start();
    server.put("data/people.csv", PEOPLE_CSV);
    let user = User::new();
    // The profile lists no bucket: only OPTIONS ('profile' 'local') picks it.
    let config = config_file(&user.home(), &server.endpoint(), &[], SECRET_KEY);
    let run = user
        .run_with(
            &config,
            "csv",
            &[
                "CREATE EXTERNAL TABLE people STORED AS CSV \
                 LOCATION 's3://bucket/data/people.csv' \
                 OPTIONS ('profile' 'local', 'format.has_header' 'true')",
                "SELECT sum(age) AS total FROM people",
            ],
        )
        .success();
    assert_eq!(run.csv(), rows(&[&["total"], &["162"]]));
}

#[test]
fn glob_reads_only_matching_objects() {
    let server = Server::start();
    server.put("data/a.csv", "id,v\n1,a\n2,a\n");
    server.put("data/b.csv", "id,v\n3,b\n");
    server.put("data/c.csv", "id,v\n4,c\n5,c\n");
    // Same shape, but not matched by the glob.
    server.put("data/skip.txt", "id,v\n100,skip\n");
    server.put("other/d.csv", "id,v\n200,other\n");
    let user = User::new();
    let config = server.config(&user.home(), SECRET_KEY);
    let run = user
        .run_with(
            &config,
            "csv",
            &["SELECT id, v FROM 's3://bucket/data/*.csv' ORDER BY id"],
        )
        .success();
    assert_eq!(
        run.csv(),
        rows(&[
            &["id", "v"],
            &["1", "a"],
            &["2", "a"],
            &["3", "b"],
            &["4", "c"],
            &["5", "c"]
        ])
    );
}

#[test]
fn external_table_over_a_glob() {
    let server = Server::start();
    server.put("logs/2024-01.csv", "day,hits\n1,10\n2,20\n");
    server.put("logs/2024-02.csv", "day,hits\n1,5\n");
    // Not matched by the glob: another year, and a different layout.
    server.put("logs/2023-12.csv", "day,hits\n31,1000\n");
    server.put("logs/notes.csv", "text\nhello\n");
    let user = User::new();
    let config = server.config(&user.home(), SECRET_KEY);
    let run = user
        .run_with(
            &config,
            "csv",
            &[
                "CREATE EXTERNAL TABLE hits STORED AS CSV LOCATION 's3://bucket/logs/2024-*.csv'",
                "SELECT count(*) AS files_rows, sum(hits) AS hits FROM hits",
            ],
        )
        .success();
    assert_eq!(run.csv(), rows(&[&["files_rows", "hits"], &["3", "35"]]));
}

#[test]
fn create_external_table_with_statement_options() {
    let server = Server::start();
    server.put("data/people.csv", PEOPLE_CSV);
    let user = User::new();
    let create = format!(
        "CREATE EXTERNAL TABLE people STORED AS CSV LOCATION 's3://bucket/data/' \
         OPTIONS ({}, 'format.has_header' 'true')",
        server.options(SECRET_KEY)
    );
    let run = user
        .run(
            "json",
            &[],
            &[
                &create,
                "SELECT name, age FROM people WHERE age > 40 ORDER BY name",
            ],
        )
        .success();
    assert_eq!(
        run.json(),
        vec![
            serde_json::json!({"name": "alan", "age": 41}),
            serde_json::json!({"name": "grace", "age": 85}),
        ]
    );
}

#[test]
fn environment_credentials() {
    let server = Server::start();
    server.put("data/people.csv", PEOPLE_CSV);
    let user = User::new()
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT", &server.endpoint())
        .env("AWS_ALLOW_HTTP", "true");
    let run = user
        .run(
            "csv",
            &[],
            &["SELECT count(*) AS n, max(age) AS oldest FROM 's3://bucket/data/people.csv'"],
        )
        .success();
    assert_eq!(run.csv(), rows(&[&["n", "oldest"], &["3", "85"]]));
}

#[test]
fn copy_parquet_then_read_back() {
    let server = Server::start();
    let user = User::new();
    let copy = format!(
        "COPY (SELECT x, x * x AS square, 'row ' || x AS label FROM generate_series(1, 1000) t(x)) \
         TO 's3://bucket/out/result.parquet' OPTIONS ({})",
        server.options(SECRET_KEY)
    );
    let run = user.run("csv", &[], &[&copy]).success();
    assert_eq!(run.csv(), rows(&[&["count"], &["1000"]]));
    assert_eq!(server.keys(), vec!["out/result.parquet"]);
    let bytes = std::fs::read(server.root().join("bucket/out/result.parquet")).unwrap();
    assert_eq!(&bytes[..4], b"PAR1", "not a Parquet file");

    // Read it back in another process, with a table over the object.
    let create = format!(
        "CREATE EXTERNAL TABLE result STORED AS PARQUET \
         LOCATION 's3://bucket/out/result.parquet' OPTIONS ({})",
        server.options(SECRET_KEY)
    );
    let run = user
        .run(
            "json",
            &[],
            &[
                &create,
                "SELECT count(*) AS n, sum(square) AS total FROM result",
                "SELECT x, square, label FROM result WHERE x IN (1, 500, 1000) ORDER BY x",
            ],
        )
        .success();
    // Two statements print two JSON arrays.
    let arrays: Vec<Value> = serde_json::Deserializer::from_str(&run.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("bad JSON {e}: {run:?}"));
    assert_eq!(
        arrays,
        vec![
            serde_json::json!([{"n": 1000, "total": 333_833_500}]),
            serde_json::json!([
                {"x": 1, "square": 1, "label": "row 1"},
                {"x": 500, "square": 250_000, "label": "row 500"},
                {"x": 1000, "square": 1_000_000, "label": "row 1000"},
            ]),
        ]
    );
}

#[test]
fn read_parquet_directory_written_by_copy() {
    let server = Server::start();
    let user = User::new();
    let config = server.config(&user.home(), SECRET_KEY);
    user.run_with(
        &config,
        "csv",
        &[
            "COPY (SELECT x AS id, x % 3 AS bucket_no FROM generate_series(1, 30) t(x)) \
           TO 's3://bucket/pq/' STORED AS PARQUET",
        ],
    )
    .success();
    let keys = server.keys();
    assert!(!keys.is_empty(), "COPY wrote nothing");
    assert!(
        keys.iter()
            .all(|k| k.starts_with("pq/") && k.ends_with(".parquet") && !k.contains(".wasql-copy")),
        "{keys:?}"
    );
    let run = user
        .run_with(
            &config,
            "csv",
            &["SELECT bucket_no, count(*) AS n, sum(id) AS total \
               FROM 's3://bucket/pq/' GROUP BY bucket_no ORDER BY bucket_no"],
        )
        .success();
    assert_eq!(
        run.csv(),
        rows(&[
            &["bucket_no", "n", "total"],
            &["0", "10", "165"],
            &["1", "10", "145"],
            &["2", "10", "155"]
        ])
    );
}

#[track_caller]
fn assert_no_xml(line: &str) {
    assert!(
        !line.contains("<?xml") && !line.contains("<Error>") && !line.contains("</"),
        "XML in the message: {line}"
    );
}

/// Asserts a failed COPY left no object under `out/` and no staging object.
#[track_caller]
fn assert_nothing_left(server: &Server, before: &[String]) {
    let keys = server.keys();
    let new: Vec<&String> = keys.iter().filter(|k| !before.contains(k)).collect();
    assert!(new.is_empty(), "objects left by a failed COPY: {new:?}");
    let staged: Vec<PathBuf> = files_under(server.root(), false)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".wasql-copy-"))
        .collect();
    assert!(staged.is_empty(), "staging objects left: {staged:?}");
}

#[test]
fn failed_copy_to_a_file_leaves_nothing() {
    let server = Server::start();
    server.put("data/people.csv", PEOPLE_CSV);
    let before = server.keys();
    let user = User::new();
    let config = server.config(&user.home(), SECRET_KEY);
    let run = user.run_with(
        &config,
        "csv",
        &[
            "COPY (SELECT x, 1 / (x - 5000) AS y FROM generate_series(1, 100000) t(x)) \
           TO 's3://bucket/out/result.parquet'",
        ],
    );
    let line = run.failed();
    assert!(line.contains("Divide by zero"), "{run:?}");
    assert_nothing_left(&server, &before);
}

#[test]
fn failed_copy_to_a_directory_leaves_nothing() {
    let server = Server::start();
    let user = User::new();
    let config = server.config(&user.home(), SECRET_KEY);
    // Small output files, so that some are complete before the query fails
    // late, at x = 90000.
    let run = user.run_with(
        &config,
        "csv",
        &[
            "SET datafusion.execution.soft_max_rows_per_output_file = 1000",
            "COPY (SELECT x, 1 / (x - 90000) AS y FROM generate_series(1, 100000) t(x)) \
             TO 's3://bucket/out/' STORED AS CSV",
        ],
    );
    let line = run.failed();
    assert!(line.contains("Divide by zero"), "{run:?}");
    assert_nothing_left(&server, &[]);
}

#[test]
fn wrong_secret_is_refused() {
    let server = Server::start();
    server.put("data/people.csv", PEOPLE_CSV);
    let user = User::new();
    let config = server.config(&user.home(), "not-the-secret");
    let run = user.run_with(
        &config,
        "csv",
        &["SELECT * FROM 's3://bucket/data/people.csv'"],
    );
    let line = run.failed();
    assert!(line.contains("s3://bucket/data/people.csv"), "{run:?}");
    assert!(line.contains("credentials refused"), "{run:?}");
    assert!(line.contains("check the access key and secret"), "{run:?}");
    assert_no_xml(line);
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn wrong_secret_on_copy_is_refused() {
    let server = Server::start();
    let user = User::new();
    let copy = format!(
        "COPY (SELECT 1 AS x) TO 's3://bucket/out/one.parquet' OPTIONS ({})",
        server.options("not-the-secret")
    );
    let run = user.run("csv", &[], &[&copy]);
    let line = run.failed();
    assert!(line.contains("s3://bucket/out/"), "{run:?}");
    assert!(line.contains("credentials refused"), "{run:?}");
    assert_no_xml(line);
    assert!(server.keys().is_empty(), "{:?}", server.keys());
}

#[test]
fn missing_bucket_is_named() {
    let server = Server::start();
    let user = User::new();
    let config = config_file(
        &user.home(),
        &server.endpoint(),
        &["no-such-bucket"],
        SECRET_KEY,
    );
    let run = user.run_with(
        &config,
        "csv",
        &["SELECT * FROM 's3://no-such-bucket/data/people.csv'"],
    );
    let line = run.failed();
    assert!(
        line.contains("s3://no-such-bucket/data/people.csv"),
        "{run:?}"
    );
    assert!(
        line.contains("bucket 'no-such-bucket' does not exist"),
        "{run:?}"
    );
    assert_no_xml(line);
}

#[test]
fn unreachable_endpoint_fails_fast() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let user = User::new();
    let endpoint = format!("http://127.0.0.1:{port}");
    let config = config_file(&user.home(), &endpoint, &[BUCKET], SECRET_KEY);
    let run = user.run_with(
        &config,
        "csv",
        &["SELECT * FROM 's3://bucket/data/people.csv'"],
    );
    let line = run.failed();
    assert!(line.contains("s3://bucket/data/people.csv"), "{run:?}");
    assert!(
        line.contains(&format!("cannot reach the endpoint {endpoint}")),
        "{run:?}"
    );
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}
