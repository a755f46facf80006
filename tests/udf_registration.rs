//! Registering WebAssembly UDFs: `--udfs`, `\\udf load`, config, `CREATE FUNCTION`, and the modules and names wasql refuses; for scalar, aggregate and table functions.
//!
//! Driven through the `wasql` binary the way a user drives it (`--udfs DIR`,
//! `\\udf` meta-commands, `CREATE FUNCTION`, config files); the modules come
//! from `udfs/dist` (built by `bash udfs/build.sh`) and the helpers from
//! `tests/common`.

use std::fs;
use std::path::Path;

mod common;
use common::encode::*;
use common::modules::*;
use common::udf::*;
use common::*;

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

/// `\udf list` shows each function with its signature, module path and the
/// module's sha256 prefix.
#[test]
fn udf_list_shows_functions_signatures_modules_and_hashes() {
    let sandbox = Sandbox::with(&["slugify", "haversine", "luhn_c"]);
    let run = sandbox.query("json", &["\\udf list"]).success();
    let rows = json_results(&run.stdout).pop().unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["function"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {rows:?}"))
            .clone()
    };
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (function, module, signature) in [
        ("slugify", "slugify", "slugify(Utf8) -> Utf8"),
        (
            "haversine_km",
            "haversine",
            "haversine_km(Float64, Float64, Float64, Float64) -> Float64",
        ),
        ("luhn_valid", "luhn_c", "luhn_valid(Utf8) -> Boolean"),
        ("digit_count", "luhn_c", "digit_count(Utf8) -> Int64"),
        ("card_mask", "luhn_c", "card_mask(Utf8) -> Utf8"),
    ] {
        let row = find(function);
        let path = sandbox.module_path(module);
        let sha = sha256_of(Path::new(&path));
        assert_eq!(row["signature"], signature, "{row}");
        assert_eq!(row["module"], path.as_str(), "{row}");
        let listed = row["sha256"].as_str().unwrap();
        assert!(
            listed.len() >= 12 && sha.starts_with(listed),
            "{row}: sha256 {sha}"
        );
    }
}

/// `\df slugify` and SHOW FUNCTIONS show the function, described with its
/// module path.
#[test]
fn udfs_appear_in_function_listings() {
    let sandbox = Sandbox::with(&["slugify"]);
    let path = sandbox.module_path("slugify");
    let run = sandbox
        .query("json", &["\\df slugify", "SHOW FUNCTIONS LIKE 'slugify'"])
        .success();
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), 2, "{run:#?}");
    let df = &results[0];
    assert_eq!(df.len(), 1, "{df:?}");
    assert_eq!(df[0]["name"], "slugify");
    assert!(
        df[0]["description"].as_str().unwrap().contains(&path),
        "{df:?}"
    );
    let show = &results[1];
    assert!(!show.is_empty(), "{show:?}");
    for row in show {
        assert_eq!(row["function_name"], "slugify", "{row}");
        assert!(
            row["description"].as_str().unwrap().contains(&path),
            "{row}"
        );
    }
}

/// `\udf load DIR` in a script registers the modules for the statements
/// after it.
#[test]
fn udf_load_in_a_script() {
    let sandbox = Sandbox::with(&["slugify"]);
    let dir = sandbox.udfs_arg();
    let run = sandbox
        .run_stdin(
            &["--format", "csv"],
            &format!("\\udf load {dir}\nSELECT slugify('Loaded Later') AS s;\n"),
        )
        .success();
    assert_eq!(run.stdout, "s\nloaded-later\n");
    assert!(
        run.stderr.contains("Loaded 1 function") && run.stderr.contains(&dir),
        "{run:#?}"
    );
}

/// Without `--udfs` the functions do not exist.
#[test]
fn without_udfs_the_functions_do_not_exist() {
    let sandbox = Sandbox::with(&["slugify"]);
    let run = sandbox.run(&["-q", "-c", "SELECT slugify('x')"]).exit(1);
    run.one_error_line(&["slugify"]);
}

/// The config's `udf_dirs` loads modules at start-up like `--udfs`.
#[test]
fn config_udf_dirs_loads_modules() {
    let sandbox = Sandbox::with(&["slugify"]);
    let config = sandbox.write(
        "wasql.toml",
        format!("udf_dirs = [{:?}]\n", sandbox.udfs_arg()),
    );
    let run = sandbox
        .run(&[
            "--config",
            config.to_str().unwrap(),
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT slugify('From Config') AS s",
        ])
        .success();
    assert_eq!(run.stdout, "s\nfrom-config\n");
}

/// Bad `[udf]` limits in the config are usage errors.
#[test]
fn config_rejects_bad_udf_limits() {
    let sandbox = Sandbox::warm();
    for (text, expected) in [
        ("[udf]\ntimeout_seconds = 0\n", "timeout_seconds"),
        ("[udf]\ntimeout_seconds = -1.5\n", "timeout_seconds"),
        ("[udf]\nmemory_limit = \"lots\"\n", "lots"),
    ] {
        let config = sandbox.write("bad.toml", text);
        let run = sandbox
            .run(&["--config", config.to_str().unwrap(), "-c", "SELECT 1"])
            .exit(2);
        run.one_error_line(&[expected]);
        assert_eq!(run.stdout, "", "{text}");
    }
}

/// The same module under two file names: start-up fails naming both
/// modules and the function.
#[test]
fn duplicate_function_at_start_up() {
    let sandbox = Sandbox::warm();
    let first = sandbox.add_module_as("slugify", "a_slugify.wasm");
    let second = sandbox.add_module_as("slugify", "b_slugify.wasm");
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &first.display().to_string(),
        &second.display().to_string(),
        "'slugify'",
        "already defined",
    ]);
    assert_eq!(run.stdout, "");
}

/// The same with `\udf load` in a script: the statement fails (exit 1).
#[test]
fn duplicate_function_with_udf_load() {
    let sandbox = Sandbox::warm();
    let first = sandbox.add_module_as("slugify", "a_slugify.wasm");
    let second = sandbox.add_module_as("slugify", "b_slugify.wasm");
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            &format!("\\udf load {}\nSELECT 1 AS one;\n", sandbox.udfs_arg()),
        )
        .exit(1);
    run.one_error_line(&[
        &first.display().to_string(),
        &second.display().to_string(),
        "'slugify'",
    ]);
    assert_eq!(run.stdout, "");

    // Loading a directory twice defines every function twice.
    let sandbox = Sandbox::with(&["slugify"]);
    let dir = sandbox.udfs_arg();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv", "--udfs", &dir],
            &format!("\\udf load {dir}\n"),
        )
        .exit(1);
    run.one_error_line(&["'slugify'", &sandbox.module_path("slugify")]);
}

/// A module built for ABI version 2 is refused, naming both versions.
#[test]
fn future_abi_is_refused() {
    let sandbox = Sandbox::with(&["hostile/future_abi"]);
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &sandbox.module_path("hostile/future_abi"),
        "ABI version 2",
        "supports version 1",
    ]);
}

/// A module declaring a type wasql cannot map is refused, naming the type.
#[test]
fn unmappable_type_is_refused() {
    let sandbox = Sandbox::with(&["hostile/weird_type"]);
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &sandbox.module_path("hostile/weird_type"),
        "weird_type",
        "float16",
    ]);
}

/// A file that is not WebAssembly is refused, naming it.
#[test]
fn garbage_module_is_refused() {
    let sandbox = Sandbox::warm();
    let junk = sandbox.write("udfs/junk.wasm", "this is not a wasm module\n");
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[
        &junk.display().to_string(),
        "not a valid WebAssembly module",
    ]);
    // An empty file too.
    fs::write(&junk, b"").unwrap();
    let run = sandbox
        .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[&junk.display().to_string()]);
}

/// When one module of a directory fails, `\udf load` registers none of it.
#[test]
fn a_failed_udf_load_registers_nothing() {
    let sandbox = Sandbox::with(&["slugify"]);
    let junk = sandbox.write("udfs/zz_junk.wasm", "junk");
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv", "--continue-on-error"],
            &format!(
                "\\udf load {}\nSELECT slugify('x') AS s;\n\\udf list\n",
                sandbox.udfs_arg()
            ),
        )
        .exit(1);
    let lines = run.error_lines();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(lines[0].contains(&junk.display().to_string()), "{run:#?}");
    assert!(lines[1].contains("slugify"), "{run:#?}");
    assert_eq!(
        run.stdout.trim(),
        "function,kind,signature,module,sha256,capabilities"
    );
}

/// A missing `--udfs` directory is a usage error naming it.
#[test]
fn missing_udfs_directory() {
    let sandbox = Sandbox::warm();
    let missing = sandbox.work().join("no-such-dir");
    let run = sandbox
        .run(&["--udfs", missing.to_str().unwrap(), "-c", "SELECT 1"])
        .exit(2);
    run.one_error_line(&[&missing.display().to_string(), "cannot read"]);
    assert_eq!(run.stdout, "");
}

/// A function named like a built-in (scalar or aggregate) is refused.
#[test]
fn function_named_like_a_built_in_is_refused() {
    for name in ["abs", "sum"] {
        let sandbox = Sandbox::warm();
        let module = sandbox.write(&format!("udfs/{name}.wasm"), tiny_module(name));
        let run = sandbox
            .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
            .exit(2);
        run.one_error_line(&[
            &module.display().to_string(),
            &format!("'{name}'"),
            "built-in",
        ]);
    }
    // The hand-made module itself is fine under another name: its call
    // fails without a message.
    let sandbox = Sandbox::warm();
    let module = sandbox.write("udfs/tiny.wasm", tiny_module("tiny_fails"));
    let run = sandbox
        .query(
            "csv",
            &["SELECT tiny_fails(x) FROM generate_series(1, 2) t(x)"],
        )
        .exit(1);
    run.one_error_line(&[
        &guest_failure("tiny_fails", &module.display().to_string()),
        "without a message",
    ]);
}

/// Registration checks all it can without running a module: the memory
/// export, the signature of every export the host calls (allocator
/// included), and the types of WASI imports. `--udfs`, `\udf load` and
/// `CREATE FUNCTION` each refuse a module that fails one, with one line
/// naming it and what is wrong, and register nothing.
#[test]
fn registration_checks_memory_signatures_and_imports() {
    let mut unexported = tiny_scalar("tiny_fails");
    unexported.memory = None;
    let mut renamed = tiny_scalar("tiny_fails");
    renamed.memory = Some("mem");
    let no_memory = "it exports no memory named 'memory'";
    let cases = [
        ("tiny_fails", unexported, no_memory),
        ("tiny_fails", renamed, no_memory),
        (
            "tiny_fails",
            tiny_scalar("tiny_fails").retype("tiny_fn", &[I32], &[I32]),
            "export 'tiny_fn' has signature (i32) -> i32, \
             expected (i32, i32, i32, i32, i32) -> i32 (udfs/ABI.md §3)",
        ),
        (
            "tiny_sum",
            tiny_aggregate("tiny_sum", None).retype("tiny_agg_update", &[I32, I32], &[I32]),
            "export 'tiny_agg_update' has signature (i32, i32) -> i32, \
             expected (i32, i32, i32, i32, i32, i32, i32) -> i32 (udfs/ABI.md §8)",
        ),
        (
            "tiny_fails",
            tiny_scalar("tiny_fails").retype("wasql_alloc", &[I32], &[I32]),
            "export 'wasql_alloc' has signature (i32) -> i32, \
             expected (i32, i32) -> i32 (udfs/ABI.md §1)",
        ),
        (
            "tiny_fails",
            tiny_scalar("tiny_fails").import("wasi_snapshot_preview1", "fd_write", &[I32], &[I32]),
            "it imports 'wasi_snapshot_preview1::fd_write' as (i32) -> i32, \
             but wasql provides (i32, i32, i32, i32) -> i32",
        ),
    ];
    for (function, module, cause) in cases {
        let sandbox = Sandbox::warm();
        let path = sandbox.write("udfs/bad.wasm", module.assemble());
        let run = sandbox
            .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
            .exit(2);
        let named = format!("UDF module '{}': {cause}", path.display());
        run.one_error_line(&[&named]);
        assert_eq!(run.stdout, "");
        for statement in [
            format!("\\udf load {}", sandbox.udfs_arg()),
            format!("CREATE FUNCTION f() LANGUAGE wasm AS 'udfs/bad.wasm#{function}';"),
        ] {
            let run = sandbox
                .run_stdin(
                    &["-q", "--format", "csv", "--continue-on-error"],
                    &format!("{statement}\n\\udf list\n"),
                )
                .exit(1);
            run.one_error_line(&["bad.wasm': ", cause]);
            assert_eq!(
                run.stdout.trim(),
                "function,kind,signature,module,sha256,capabilities",
                "{statement}: {run:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: registration
// ---------------------------------------------------------------------------

/// `\udf list` has a kind column: scalar, aggregate, table, table (per
/// partition), and table signatures with their columns.
#[test]
fn udf_list_shows_the_kind_of_each_function() {
    let sandbox = Sandbox::with(&["slugify", "stats", "weighted_c", "tables"]);
    let run = sandbox.query("csv", &["\\udf list"]).success();
    assert_eq!(
        run.stdout.lines().next(),
        Some("function,kind,signature,module,sha256,capabilities"),
        "{run:#?}"
    );
    let rows = json_results(&sandbox.query("json", &["\\udf list"]).success().stdout)
        .pop()
        .unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (function, kind, signature, module) in [
        ("slugify", "scalar", "slugify(Utf8) -> Utf8", "slugify"),
        (
            "geo_mean",
            "aggregate",
            "geo_mean(Float64) -> Float64",
            "stats",
        ),
        (
            "weighted_avg",
            "aggregate",
            "weighted_avg(Float64, Float64) -> Float64",
            "weighted_c",
        ),
        (
            "tokenize",
            "table",
            "tokenize(Utf8) -> TABLE(token Utf8, pos Int32)",
            "tables",
        ),
        (
            "sessionize",
            "table (per partition)",
            "sessionize(Int64, Timestamp(µs), Int64) -> TABLE(user_id Int64, \
             session_id Int32, start Timestamp(µs), end Timestamp(µs), events Int32)",
            "tables",
        ),
    ] {
        let row = rows
            .iter()
            .find(|r| r["function"] == function)
            .unwrap_or_else(|| panic!("{function} not listed: {rows:?}"));
        assert_eq!(row["kind"], kind, "{row}");
        assert_eq!(row["signature"], signature, "{row}");
        assert_eq!(row["module"], sandbox.module_path(module).as_str(), "{row}");
    }
}

/// `\df` lists a WASM aggregate as AGGREGATE and a table function as
/// TABLE, once each, described with their module.
#[test]
fn df_lists_aggregates_and_table_functions_once_with_their_kind() {
    let sandbox = Sandbox::with(&["stats", "weighted_c", "tables"]);
    let results = results_of(
        &sandbox,
        &[
            "\\df geo*",
            "\\df weighted_avg",
            "\\df tokenize",
            "\\df sessionize",
        ],
    );
    for (rows, name, kind, module, words) in [
        (
            &results[0],
            "geo_mean",
            "AGGREGATE",
            "stats",
            "Geometric mean",
        ),
        (
            &results[1],
            "weighted_avg",
            "AGGREGATE",
            "weighted_c",
            "C example",
        ),
        (
            &results[2],
            "tokenize",
            "TABLE",
            "tables",
            "tokenize(Utf8) -> TABLE(token Utf8, pos Int32)",
        ),
        (
            &results[3],
            "sessionize",
            "TABLE",
            "tables",
            "per partition",
        ),
    ] {
        assert_eq!(rows.len(), 1, "\\df {name}: one row expected: {rows:#?}");
        assert_eq!(rows[0]["name"], name, "{rows:?}");
        assert_eq!(rows[0]["kind"], kind, "{rows:?}");
        let description = rows[0]["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(&sandbox.module_path(module)) && description.contains(words),
            "{name}: {description:?}"
        );
    }
}

/// `CREATE FUNCTION gm() LANGUAGE wasm AS '...#geo_mean'` registers the
/// aggregate under a name of the user's, plain and with `GROUP BY`; the C
/// aggregate with declared types too.
#[test]
fn create_function_registers_an_aggregate() {
    let sandbox = Sandbox::with(&["stats", "weighted_c"]);
    let results = results_of(
        &sandbox,
        &[
            "CREATE FUNCTION gm() LANGUAGE wasm AS 'udfs/stats.wasm#geo_mean'",
            "SELECT gm(x) AS g FROM (VALUES (2.0), (32.0), (NULL)) t(x)",
            "SELECT k, gm(x) AS g FROM (VALUES (1, 2.0), (1, 32.0), (2, 5.0)) t(k, x) \
             GROUP BY k ORDER BY k",
            "CREATE FUNCTION wavg(DOUBLE, DOUBLE) RETURNS DOUBLE LANGUAGE wasm \
             AS 'udfs/weighted_c.wasm#weighted_avg'",
            "SELECT wavg(v, w) AS a FROM (VALUES (1.0, 1.0), (4.0, 3.0)) t(v, w)",
            "\\df gm",
        ],
    );
    assert_rows("gm", &results[0], &[serde_json::json!({"g": 8.0})]);
    assert_rows(
        "gm grouped",
        &results[1],
        &[
            serde_json::json!({"k": 1, "g": 8.0}),
            serde_json::json!({"k": 2, "g": 5.0}),
        ],
    );
    assert_rows("wavg", &results[2], &[serde_json::json!({"a": 3.25})]);
    assert_eq!(results[3].len(), 1, "{:?}", results[3]);
    assert_eq!(results[3][0]["kind"], "AGGREGATE", "{:?}", results[3]);
}

/// `CREATE FUNCTION` of a table function gives a table function: in FROM
/// with a constant, with `CROSS JOIN LATERAL`, and a per-partition one with
/// `TABLE(... OVER ...)`.
#[test]
fn create_function_registers_table_functions() {
    let sandbox = Sandbox::with(&["tables"]);
    let results = results_of(
        &sandbox,
        &[
            "CREATE FUNCTION words() LANGUAGE wasm AS 'udfs/tables.wasm#tokenize'",
            "SELECT * FROM words('Foo bar')",
            "SELECT d.id, w.token FROM (VALUES (1, 'x y'), (2, 'z')) d(id, body) \
             CROSS JOIN LATERAL words(d.body) AS w ORDER BY d.id, w.pos",
            "CREATE FUNCTION sess() LANGUAGE wasm AS 'udfs/tables.wasm#sessionize'",
            "SELECT s.user_id, s.session_id, s.events \
             FROM (VALUES (1, TIMESTAMP '2024-01-01 00:00:00'), (1, TIMESTAMP '2024-01-01 00:00:30'), \
                          (1, TIMESTAMP '2024-01-01 00:05:00')) e(u, ts), \
                  TABLE(sess(e.u, e.ts, 60) OVER (PARTITION BY e.u ORDER BY e.ts)) AS s \
             ORDER BY s.session_id",
            "\\df words",
        ],
    );
    assert_rows(
        "words",
        &results[0],
        &[
            serde_json::json!({"token": "foo", "pos": 1}),
            serde_json::json!({"token": "bar", "pos": 2}),
        ],
    );
    assert_rows(
        "words lateral",
        &results[1],
        &[
            serde_json::json!({"id": 1, "token": "x"}),
            serde_json::json!({"id": 1, "token": "y"}),
            serde_json::json!({"id": 2, "token": "z"}),
        ],
    );
    assert_rows(
        "sess",
        &results[2],
        &[
            serde_json::json!({"user_id": 1, "session_id": 1, "events": 2}),
            serde_json::json!({"user_id": 1, "session_id": 2, "events": 1}),
        ],
    );
    assert_eq!(results[3].len(), 1, "{:?}", results[3]);
    assert_eq!(results[3][0]["kind"], "TABLE", "{:?}", results[3]);
}

/// After `CREATE FUNCTION words() ... '#tokenize'` (no `--udfs`), `\df`
/// shows `words` described with its module, and not the module's other
/// names, which SQL does not know.
#[test]
fn df_after_create_function_lists_only_the_created_table_function() {
    let sandbox = Sandbox::with(&["tables"]);
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "json",
            "--continue-on-error",
            "-c",
            "CREATE FUNCTION words() LANGUAGE wasm AS 'udfs/tables.wasm#tokenize'",
            "-c",
            "\\df words",
            "-c",
            "\\df tokenize",
            "-c",
            "\\df sessionize",
            "-c",
            "SELECT * FROM tokenize('a')",
        ])
        .exit(1);
    // tokenize itself was not created.
    run.one_error_line(&["<command 5>:1:", "tokenize"]);
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), 3, "{run:#?}");
    let mut problems = Vec::new();
    let words = &results[0];
    let described = words.len() == 1
        && words[0]["kind"] == "TABLE"
        && words[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("tables.wasm"));
    if !described {
        problems.push(format!(
            "\\df words: want one TABLE row naming its module, got {words:?}"
        ));
    }
    for (name, rows) in [("tokenize", &results[1]), ("sessionize", &results[2])] {
        if !rows.is_empty() {
            problems.push(format!(
                "\\df {name} lists a function SQL does not know: {rows:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A module describing an aggregate without one of its six exports is
/// refused, naming the export; with all six it registers as an aggregate
/// (whose calls fail without a message).
#[test]
fn aggregate_missing_an_export_is_refused() {
    for suffix in ["_new", "_update", "_merge", "_state", "_finish", "_drop"] {
        let sandbox = Sandbox::warm();
        let module = sandbox.write(
            "udfs/tiny_agg.wasm",
            tiny_aggregate_module("tiny_sum", Some(suffix)),
        );
        let run = sandbox
            .run(&["--udfs", &sandbox.udfs_arg(), "-c", "SELECT 1"])
            .exit(2);
        run.one_error_line(&[
            &module.display().to_string(),
            "does not export",
            &format!("'tiny_agg{suffix}'"),
        ]);
        assert_eq!(run.stdout, "");
    }
    let sandbox = Sandbox::warm();
    let module = sandbox.write(
        "udfs/tiny_agg.wasm",
        tiny_aggregate_module("tiny_sum", None),
    );
    let path = module.display().to_string();
    let run = sandbox
        .query(
            "csv",
            &[
                "\\udf list",
                "SELECT tiny_sum(CAST(x AS DOUBLE)) AS r FROM generate_series(1, 2) t(x)",
            ],
        )
        .exit(1);
    assert!(
        run.stdout.contains(&format!(
            "tiny_sum,aggregate,tiny_sum(Float64) -> Float64,{path}"
        )),
        "{run:#?}"
    );
    run.one_error_line(&[&guest_failure("tiny_sum", &path), "without a message"]);
}
