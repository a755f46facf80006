//! Scripts: the statement splitter on large inputs, and 10,000 tiny
//! statements run end to end by the `wasql` binary.
//!
//! ```text
//! cargo bench --bench split
//! ```
//!
//! The splitter must stay linear: a 10 MB script of mixed statements, and a
//! dollar-quoted string holding 8,000 `$` in 200 KB (once quadratic: 73 s).
//! `wasql -f` on `SELECT 1;` ... `SELECT 10000;` measures what each statement
//! costs besides its work. When a `duckdb` shell is on the `PATH` (or named by
//! `WASQL_BENCH_DUCKDB`), it runs the same script in the same run, so the two
//! figures sit side by side (`pip install duckdb-cli` provides one).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::Criterion;
use wasql::split::split;

/// Statements of every kind the splitter tells apart, repeated to `bytes`.
fn mixed_script(bytes: usize) -> String {
    const PIECE: &str = "-- a comment; with a semicolon\n\
        SELECT 'it''s', \"col;umn\", E'it\\'s' FROM t /* block; */ WHERE x > 1;\n\
        CREATE FUNCTION f() AS $body$ SELECT 1; $body$;\n\
        \\timing on\n\
        SELECT '×😀', $$a $ b$$;\n";
    PIECE.repeat(bytes / PIECE.len() + 1)
}

/// 8,000 `$` in a 200 KB dollar-quoted string.
fn dollars() -> String {
    let body = "$ ".repeat(8_000) + &"x".repeat(200_000 - 16_000);
    format!("SELECT $${body}$$;")
}

/// `SELECT 1;` ... `SELECT 10000;`, one a line.
fn tiny_statements() -> String {
    (1..=10_000).map(|i| format!("SELECT {i};\n")).collect()
}

/// Runs `shell -f script` and checks that it succeeded.
fn run_script(shell: &Path, script: &Path) {
    let status = Command::new(shell)
        .arg("-f")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("start {}: {e}", shell.display()));
    assert!(
        status.success(),
        "{} -f {} failed",
        shell.display(),
        script.display()
    );
}

/// The DuckDB shell to compare with: `WASQL_BENCH_DUCKDB`, else `duckdb` on
/// the `PATH` if it runs.
fn duckdb() -> Option<PathBuf> {
    let shell = std::env::var_os("WASQL_BENCH_DUCKDB").unwrap_or_else(|| "duckdb".into());
    let runs = Command::new(&shell)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    runs.then(|| PathBuf::from(shell))
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mixed = mixed_script(10 << 20);
    let statements = split(&mixed).items.len();
    criterion.bench_function(&format!("split 10 MB script ({statements} items)"), |b| {
        b.iter(|| split(black_box(&mixed)))
    });
    let dollars = dollars();
    criterion.bench_function("split 8,000 $ in a 200 KB $$ string", |b| {
        b.iter(|| split(black_box(&dollars)))
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("tiny.sql");
    std::fs::write(&script, tiny_statements()).expect("write script");
    let wasql = Path::new(env!("CARGO_BIN_EXE_wasql"));
    criterion.bench_function("wasql -f: 10,000 x SELECT i", |b| {
        b.iter(|| run_script(wasql, &script))
    });
    match duckdb() {
        Some(duckdb) => {
            criterion.bench_function("duckdb -f: 10,000 x SELECT i", |b| {
                b.iter(|| run_script(&duckdb, &script))
            });
        }
        None => eprintln!("no duckdb shell found: install one (pip install duckdb-cli) to compare"),
    }
    criterion.final_summary();
}
