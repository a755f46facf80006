//! The compiled-code cache of WebAssembly modules: cold and warm starts, invalidation, and what wasql does with entries it cannot trust.
//!
//! Driven through the `wasql` binary the way a user drives it (`--udfs DIR`,
//! `\\udf` meta-commands, `CREATE FUNCTION`, config files); the modules come
//! from `udfs/dist` (built by `bash udfs/build.sh`) and the helpers from
//! `tests/common`.

use std::fs;
use std::path::Path;
use std::time::Duration;

mod common;
use common::modules::*;
use common::udf::haversine_sql;
use common::*;

// ---------------------------------------------------------------------------
// The compiled-code cache
// ---------------------------------------------------------------------------

/// The `.cwasm` files in a module cache, by name.
fn cached_files(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().to_string(),
                entry.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

const CACHE_QUERY: &str = "SELECT luhn_valid('79927398713') AS ok, slugify('Cache Me') AS s";

/// A first run writes `<sha256>-*.cwasm` for each loaded module; a second
/// run uses them as they are and gives the same results.
#[test]
fn compiled_modules_are_cached_by_sha256() {
    let sandbox = Sandbox::new();
    let luhn = sandbox.add_module("luhn_c");
    let slugify = sandbox.add_module("slugify");
    assert!(!sandbox.modules_cache().exists());

    let first = sandbox.query("csv", &[CACHE_QUERY]).success();
    assert_eq!(first.stdout, "ok,s\ntrue,cache-me\n");
    let files = cached_files(&sandbox.modules_cache());
    assert_eq!(files.len(), 2, "{files:?}");
    for module in [&luhn, &slugify] {
        let sha = sha256_of(module);
        assert!(
            files
                .iter()
                .any(|(name, _)| name.starts_with(&format!("{sha}-")) && name.ends_with(".cwasm")),
            "no cache entry for {} ({sha}): {files:?}",
            module.display()
        );
    }

    let second = sandbox.query("csv", &[CACHE_QUERY]).success();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(
        cached_files(&sandbox.modules_cache()),
        files,
        "the cache was rewritten instead of used"
    );
}

/// A corrupt cache entry is not trusted: the module is compiled again.
#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let sandbox = Sandbox::new();
    let luhn = sandbox.add_module("luhn_c");
    let query = "SELECT luhn_valid('79927398713') AS ok, card_mask('12345') AS m";
    let first = sandbox.query("csv", &[query]).success();
    assert_eq!(first.stdout, "ok,m\ntrue,*2345\n");
    let sha = sha256_of(&luhn);
    let files = cached_files(&sandbox.modules_cache());
    let (name, _) = files
        .iter()
        .find(|(name, _)| name.starts_with(&sha))
        .unwrap_or_else(|| panic!("no cache entry: {files:?}"));
    let entry = sandbox.modules_cache().join(name);
    fs::write(&entry, b"not compiled code").unwrap();

    let second = sandbox.query("csv", &[query]).success();
    assert_eq!(second.stdout, first.stdout);
    assert_ne!(
        fs::read(&entry).unwrap(),
        b"not compiled code",
        "the corrupt entry was not replaced"
    );
}

/// The numeric module's per-row and batch forms (the benchmark's functions,
/// whose batch form uses WebAssembly SIMD) equal SQL built-ins over 200,000
/// rows: strings of every length from 0 to 199 bytes (so every SIMD step and
/// tail), nulls, caseless non-ASCII characters, and constant arguments.
#[test]
fn numeric_module_matches_builtins_over_many_batches() {
    let sandbox = Sandbox::with(&["numeric"]);
    let sql = "WITH s AS (SELECT x, \
                   CASE WHEN x % 11 = 0 THEN NULL \
                   ELSE substr(repeat('abcXYZ-09 €→中 qz{`@[', 10), 1 + x % 5, x % 200) END AS c, \
                   CASE WHEN x % 13 = 0 THEN NULL ELSE x * 1.5 END AS p, \
                   (x % 10) / 100.0 AS d, (x % 8) / 100.0 AS t \
                   FROM generate_series(1, 200000) g(x)) \
               SELECT count(*) AS n, \
                 count(*) FILTER (WHERE upper_ascii(c) IS DISTINCT FROM upper(c)) AS upper_row, \
                 count(*) FILTER (WHERE upper_ascii_batch(c) IS DISTINCT FROM upper(c)) AS upper_batch, \
                 count(*) FILTER (WHERE upper_ascii_batch('aZ€b') <> 'AZ€B') AS upper_constant, \
                 count(*) FILTER (WHERE abs(price_net(p, d, t) - p * (1 - d) * (1 + t)) > 1e-9 \
                                  OR (price_net(p, d, t) IS NULL) <> (p IS NULL)) AS price_row, \
                 count(*) FILTER (WHERE abs(price_net_batch(p, d, t) - p * (1 - d) * (1 + t)) > 1e-9 \
                                  OR (price_net_batch(p, d, t) IS NULL) <> (p IS NULL)) AS price_batch, \
                 count(*) FILTER (WHERE abs(price_net_batch(p, 0.5, t) - p * 0.5 * (1 + t)) > 1e-9) \
                   AS price_constant, \
                 sum(length(upper_ascii_batch(c))) AS chars, count(upper_ascii(c)) AS not_null \
               FROM s";
    let run = sandbox
        .run(&[
            "--udfs",
            &sandbox.udfs_arg(),
            "--target-partitions",
            "2",
            "-q",
            "--format",
            "json",
            "-c",
            sql,
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    let row = &rows[0];
    assert_eq!(row["n"], 200000, "{row}");
    for mismatches in [
        "upper_row",
        "upper_batch",
        "upper_constant",
        "price_row",
        "price_batch",
        "price_constant",
    ] {
        assert_eq!(row[mismatches], 0, "{mismatches}: {row}");
    }
    assert_eq!(row["not_null"], 200000 - 200000 / 11, "{row}");
    assert!(row["chars"].as_i64().unwrap() > 200000 * 50, "{row}");
}

/// The SDK also targets wasm32-unknown-unknown: modules with no WASI
/// imports at all (udfs/build.sh builds two examples for it) load and give
/// the same answers.
#[test]
fn modules_built_for_wasm32_unknown_unknown() {
    let bytes = fs::read(module_file("unknown/slugify")).unwrap();
    assert!(
        !bytes.windows(22).any(|w| w == b"wasi_snapshot_preview1"),
        "an unknown-unknown module imports nothing from WASI"
    );
    let sandbox = Sandbox::with(&["unknown/haversine", "unknown/slugify"]);
    let rows = sandbox.rows(&format!(
        "SELECT slugify('Hello, Wörld -- 2!') AS s, slugify(NULL) AS n, \
                abs(haversine_km(52.52, 13.405, 48.8566, 2.3522) - {}) < 1e-9 AS same",
        haversine_sql("52.52", "13.405", "48.8566", "2.3522")
    ));
    assert_eq!(
        rows,
        vec![serde_json::json!({"s": "hello-w-rld-2", "n": null, "same": true})]
    );
}

/// Hostile uses of the network import: computing between empty fetches
/// still hits the per-call deadline (a fetch does not reset it), and a call
/// passing 10,000 requests over one 1 MiB body is refused before the host
/// copies anything; wasql carries on.
#[test]
fn hostile_network_use_is_contained() {
    let sandbox = Sandbox::with(&["hostile/net_abuse"]);
    let config = sandbox.tight_limits();
    let run = sandbox
        .run_script(
            &config,
            "SELECT net_spin(1) AS r;\nSELECT net_flood(1) AS r;\nSELECT 40 + 2 AS v;\n",
        )
        .exit(1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(
        lines[0].contains("function net_spin") && lines[0].contains("timed out after 1.0 s"),
        "{run:#?}"
    );
    assert!(
        lines[1].contains("function net_flood") && lines[1].contains("at most 64 MiB"),
        "{run:#?}"
    );
    assert_eq!(run.stdout, "v\n42\n", "{run:#?}");
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
}
