//! End-to-end tests of the `wasql` binary, driven the way a user drives it:
//! arguments, files in the current directory, piped standard input, and the
//! exit status, standard output and standard error that come back.
//!
//! Every run happens in its own temporary directory with its own HOME and XDG
//! directories, so the user's config file and history are never touched.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

mod common;
use common::{Run, Sandbox};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs `SELECT 1` after `flags`; asserts the usage-error exit status 2.
#[track_caller]
fn usage_error(sandbox: &Sandbox, flags: &[&str]) -> Run {
    sandbox.run(&[flags, &["-c", "SELECT 1"]].concat()).exit(2)
}

/// Splits a footer such as `3 rows in 0.004 s.` into (`3 rows`, seconds).
fn split_footer(line: &str) -> Option<(&str, f64)> {
    let body = line.strip_suffix(" s.")?;
    let (what, seconds) = body.rsplit_once(" in ")?;
    Some((what, seconds.parse().ok()?))
}

/// Asserts that `line` is a timed footer saying `what`, e.g. `3 rows`.
#[track_caller]
fn assert_footer(line: &str, what: &str) {
    match split_footer(line) {
        Some((said, seconds)) => {
            assert_eq!(said, what, "footer {line:?}");
            assert!(seconds >= 0.0, "footer {line:?}");
        }
        None => panic!("expected a footer '{what} in X s.', got {line:?}"),
    }
}

/// True if `text` has a row-count, `OK` or timing line.
fn has_footer(text: &str) -> bool {
    text.lines().any(|line| {
        split_footer(line).is_some()
            || line.starts_with("OK")
            || line.ends_with(" rows.")
            || line.ends_with(" row.")
            || line.contains("rows (")
    })
}

/// Parses JSON output.
#[track_caller]
fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The cells of a Markdown or table row, trimmed: `| a | b |` -> `[a, b]`.
fn cells(line: &str) -> Vec<&str> {
    let inner = line
        .trim()
        .strip_prefix('|')
        .and_then(|l| l.strip_suffix('|'))
        .unwrap_or_else(|| panic!("not a table row: {line:?}"));
    inner.split('|').map(str::trim).collect()
}

/// A small CSV file with a header, used by the data tests.
const PEOPLE_CSV: &str = "id,name,city\n1,ann,Oslo\n2,bob,Rome\n3,cy,Oslo\n";
/// The rows of `PEOPLE_CSV` as the csv format prints them: the same text.
const PEOPLE_OUT: &str = PEOPLE_CSV;

/// A query whose aggregation needs several MB of memory.
const HUNGRY_QUERY: &str = "SELECT sum(cardinality(a)) AS n FROM \
     (SELECT x % 1000 AS k, array_agg(x) AS a FROM generate_series(1, 300000) t(x) GROUP BY k)";

/// A COPY whose query fails part way through (division by zero at row 50000).
const FAILING_COPY: &str = "COPY (SELECT 1/(x-50000) AS v FROM generate_series(1,100000) t(x)) \
     TO 'out.csv'";

// ---------------------------------------------------------------------------
// Where SQL comes from: -c, -f, both, standard input
// ---------------------------------------------------------------------------

/// `-c` is repeatable and all commands share one session.
#[test]
fn repeated_commands_share_one_session() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .quiet(
            "csv",
            &[
                "CREATE TABLE t (x INT)",
                "INSERT INTO t VALUES (1), (2)",
                "SELECT sum(x) AS total FROM t",
            ],
        )
        .success();
    assert_eq!(run.stdout, "count\n2\ntotal\n3\n");
}

/// `-f` is repeatable and the files run in order.
#[test]
fn repeated_files_run_in_order() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "one.sql",
        "CREATE TABLE t (x INT);\nINSERT INTO t VALUES (7);\n",
    );
    sandbox.write("two.sql", "SELECT x * 2 AS y FROM t;\n");
    let run = sandbox
        .run(&["-q", "--format", "csv", "-f", "one.sql", "-f", "two.sql"])
        .success();
    assert_eq!(run.stdout, "count\n1\ny\n14\n");
}

/// `-f a.sql -c ... -f b.sql` runs in command-line order.
#[test]
fn files_and_commands_run_in_command_line_order() {
    let sandbox = Sandbox::new();
    sandbox.write("a.sql", "CREATE TABLE t (x INT, s VARCHAR);\n");
    sandbox.write("b.sql", "SELECT s FROM t ORDER BY x;\n");
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "-f",
            "a.sql",
            "-c",
            "INSERT INTO t VALUES (2, 'second'), (1, 'first')",
            "-f",
            "b.sql",
        ])
        .success();
    assert_eq!(run.stdout, "count\n2\ns\nfirst\nsecond\n");
}

/// SQL piped on standard input runs as a script.
#[test]
fn sql_from_piped_stdin() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "CREATE TABLE t AS VALUES (1), (2), (3);\nSELECT count(*) AS n\n  FROM t;\n",
        )
        .success();
    assert_eq!(run.stdout, "n\n3\n");
    assert_eq!(run.stderr, "");
}

// ---------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------

const TWO_ROWS: &str = "SELECT * FROM (VALUES (1, 'a'), (22, NULL)) t(n, s) ORDER BY n";

/// table: an ASCII grid, numbers right-aligned, NULL shown as NULL, and a
/// footer on stdout.
#[test]
fn table_format() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["--format", "table", "-c", TWO_ROWS])
        .success();
    let lines = run.stdout_lines();
    assert_eq!(
        lines[..6].join("\n"),
        "\
+----+------+
| n  | s    |
+----+------+
|  1 | a    |
| 22 | NULL |
+----+------+"
    );
    assert_eq!(lines.len(), 7, "{}", run.stdout);
    assert_footer(lines[6], "2 rows");
    assert_eq!(run.stderr, "");
}

/// table is the default format.
#[test]
fn table_is_the_default_format() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["-q", "-c", TWO_ROWS]).success();
    assert!(run.stdout.starts_with("+----+------+\n| n  | s    |\n"));
}

/// csv: a header line, quoting where needed, NULL as an empty field.
#[test]
fn csv_format() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "--format",
            "csv",
            "-c",
            "SELECT 1 AS id, 'a,b' AS name, CAST(NULL AS VARCHAR) AS note, 'say \"hi\"' AS q",
        ])
        .success();
    assert_eq!(
        run.stdout,
        "id,name,note,q\n1,\"a,b\",,\"say \"\"hi\"\"\"\n"
    );
}

/// tsv: tab-separated with a header line.
#[test]
fn tsv_format() {
    let sandbox = Sandbox::new();
    let run = sandbox.quiet("tsv", &[TWO_ROWS]).success();
    assert_eq!(run.stdout, "n\ts\n1\ta\n22\t\n");
}

/// json: one array of objects, with nulls and types kept.
#[test]
fn json_format_is_one_array() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .quiet(
            "json",
            &["SELECT * FROM (VALUES (1, 'a', 1.5), (22, NULL, NULL)) t(n, s, f) ORDER BY n"],
        )
        .success();
    assert_eq!(
        parse_json(&run.stdout),
        json!([{"n": 1, "s": "a", "f": 1.5}, {"n": 22, "s": null, "f": null}])
    );
}

/// json: an empty result is `[]`.
#[test]
fn json_format_empty_result() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .quiet("json", &["SELECT 1 AS a WHERE false"])
        .success();
    assert_eq!(run.stdout.trim(), "[]");
    assert_eq!(parse_json(&run.stdout), json!([]));
}

/// ndjson: one object per line.
#[test]
fn ndjson_format() {
    let sandbox = Sandbox::new();
    let run = sandbox.quiet("ndjson", &[TWO_ROWS]).success();
    let objects: Vec<Value> = run.stdout_lines().into_iter().map(parse_json).collect();
    assert_eq!(
        objects,
        vec![json!({"n": 1, "s": "a"}), json!({"n": 22, "s": null})]
    );
}

/// markdown: `| n | s |`, then a `|---` line, then rows.
#[test]
fn markdown_format() {
    let sandbox = Sandbox::new();
    let run = sandbox.quiet("markdown", &[TWO_ROWS]).success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(cells(lines[0]), ["n", "s"]);
    assert!(lines[1].starts_with("|--"), "{}", run.stdout);
    assert!(
        lines[1].chars().all(|c| matches!(c, '|' | '-' | ':')),
        "{}",
        run.stdout
    );
    assert_eq!(cells(lines[2]), ["1", "a"]);
    assert_eq!(cells(lines[3]), ["22", "NULL"]);
}

/// markdown: a `|` inside a value is escaped, so the row keeps its cells.
#[test]
fn markdown_escapes_pipes_in_values() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .quiet("markdown", &["SELECT 'a|b' AS x, 1 AS y"])
        .success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    // Split on unescaped pipes only, the way Markdown renderers do.
    let row = lines[2].replace("\\|", "\u{1}");
    let row_cells: Vec<String> = cells(&row)
        .iter()
        .map(|c| c.replace('\u{1}', "\\|"))
        .collect();
    assert_eq!(row_cells, ["a\\|b", "1"], "{}", run.stdout);
}

/// vertical: a `-[ RECORD N ]-` header per row, then `column | value` lines.
#[test]
fn vertical_format() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .quiet(
            "vertical",
            &["SELECT * FROM (VALUES (1, 'ann'), (2, NULL)) t(id, name) ORDER BY id"],
        )
        .success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 6, "{}", run.stdout);
    assert!(lines[0].starts_with("-[ RECORD 1 ]-"), "{}", run.stdout);
    assert_eq!(lines[1], "id   | 1");
    assert_eq!(lines[2], "name | ann");
    assert!(lines[3].starts_with("-[ RECORD 2 ]-"), "{}", run.stdout);
    assert_eq!(lines[4], "id   | 2");
    assert_eq!(lines[5], "name | NULL");
}

/// A result of many batches comes out whole in every format.
#[test]
fn results_spanning_many_batches() {
    let sandbox = Sandbox::new();
    let query = "SELECT * FROM generate_series(1, 20000)";

    let csv = sandbox.quiet("csv", &[query]).success();
    let lines = csv.stdout_lines();
    assert_eq!(lines.len(), 20001);
    assert_eq!(lines[0], "value");
    let mut values: Vec<i64> = lines[1..].iter().map(|l| l.parse().unwrap()).collect();
    values.sort_unstable();
    assert_eq!(values, (1..=20000).collect::<Vec<i64>>());

    let json = sandbox.quiet("json", &[query]).success();
    let array = parse_json(&json.stdout);
    assert_eq!(array.as_array().unwrap().len(), 20000);
    let sum: i64 = array
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 20000 * 20001 / 2);

    let ndjson = sandbox.quiet("ndjson", &[query]).success();
    assert_eq!(ndjson.stdout_lines().len(), 20000);

    // Table output to a pipe shows every row: 3 border lines + header.
    let table = sandbox.run(&["-q", "-c", query]).success();
    assert_eq!(table.stdout_lines().len(), 20000 + 4);
}

// ---------------------------------------------------------------------------
// Row limits
// ---------------------------------------------------------------------------

/// `--maxrows N` shows N rows and the footer says how many there were.
#[test]
fn maxrows_limits_table_output() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "--maxrows",
            "5",
            "-c",
            "SELECT * FROM generate_series(1, 100)",
        ])
        .success();
    let lines = run.stdout_lines();
    let rows: Vec<&str> = lines[3..8].to_vec();
    assert_eq!(
        rows.iter().map(|l| cells(l)[0]).collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"]
    );
    assert!(lines[8].starts_with("+-"), "{}", run.stdout);
    assert_eq!(lines.len(), 10, "{}", run.stdout);
    assert_footer(
        lines[9],
        "100 rows (5 shown, \\maxrows or --maxrows to see more)",
    );
}

/// `--maxrows 0` shows every row.
#[test]
fn maxrows_zero_shows_all_rows() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "--maxrows",
            "0",
            "-c",
            "SELECT * FROM generate_series(1, 100)",
        ])
        .success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 100 + 5, "{}", run.stdout);
    assert_footer(lines[104], "100 rows");
}

/// When stdout is not a terminal, table output shows every row by default.
#[test]
fn all_rows_by_default_when_not_a_terminal() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["-c", "SELECT * FROM generate_series(1, 100)"])
        .success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 100 + 5, "{}", run.stdout);
    assert_eq!(cells(lines[102])[0], "100");
    assert_footer(lines[104], "100 rows");
}

/// `--maxrows` limits the table format only; csv keeps every row.
#[test]
fn maxrows_does_not_cut_machine_formats() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-q",
            "--maxrows",
            "5",
            "--format",
            "csv",
            "-c",
            "SELECT * FROM generate_series(1, 100)",
        ])
        .success();
    assert_eq!(run.stdout_lines().len(), 101);
}

// ---------------------------------------------------------------------------
// Footers, --quiet and -o
// ---------------------------------------------------------------------------

/// Table output ends with a `N rows in X s.` footer on stdout.
#[test]
fn table_footer_goes_to_stdout() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["-c", "SELECT * FROM generate_series(1, 3)"])
        .success();
    assert_footer(run.stdout_lines().last().unwrap(), "3 rows");
    assert_eq!(run.stderr, "");
    let one = sandbox.run(&["-c", "SELECT 1 AS a"]).success();
    assert_footer(one.stdout_lines().last().unwrap(), "1 row");
}

/// For csv, tsv, json and ndjson the footer goes to stderr and stdout stays
/// machine-readable.
#[test]
fn machine_formats_keep_the_footer_on_stderr() {
    let sandbox = Sandbox::new();
    let query = "SELECT * FROM generate_series(1, 3)";
    for format in ["csv", "tsv", "json", "ndjson"] {
        let run = sandbox.run(&["--format", format, "-c", query]).success();
        assert!(!has_footer(&run.stdout), "{format}: {}", run.stdout);
        let stderr = run.stderr_lines();
        assert_eq!(stderr.len(), 1, "{format}: {}", run.stderr);
        assert_footer(stderr[0], "3 rows");
    }
    let json = sandbox.run(&["--format", "json", "-c", query]).success();
    assert_eq!(
        parse_json(&json.stdout),
        json!([{"value": 1}, {"value": 2}, {"value": 3}])
    );
}

/// `-q` prints no row counts or timings, on stdout or stderr.
#[test]
fn quiet_prints_no_counts_or_timings() {
    let sandbox = Sandbox::new();
    for format in ["table", "csv", "json", "markdown", "vertical"] {
        for quiet in ["-q", "--quiet"] {
            let run = sandbox
                .run(&[
                    quiet,
                    "--format",
                    format,
                    "-c",
                    "CREATE TABLE t AS VALUES (1), (2), (3)",
                    "-c",
                    "SELECT * FROM t",
                ])
                .success();
            assert!(!has_footer(&run.stdout), "{format}: {}", run.stdout);
            assert_eq!(run.stderr, "", "{format}");
        }
    }
}

/// `-q` also silences the confirmation of `\timing` in a script.
#[test]
fn quiet_silences_timing_messages() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "\\timing off\n\\timing on\nSELECT 1 AS a;\n",
        )
        .success();
    assert_eq!(run.stdout, "a\n1\n");
    assert_eq!(run.stderr, "");
}

/// `-o FILE` sends results to the file and nothing to stdout.
#[test]
fn output_option_writes_results_to_a_file() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "-o",
            "result.csv",
            "-c",
            "SELECT 1 AS a, 'x' AS b",
            "-c",
            "SELECT 2 AS c",
        ])
        .success();
    assert_eq!(run.stdout, "");
    assert_eq!(sandbox.read("result.csv"), "a,b\n1,x\nc\n2\n");

    let run = sandbox
        .run(&["--output", "result.txt", "-c", "SELECT 1 AS a"])
        .success();
    assert_eq!(run.stdout, "");
    let text = sandbox.read("result.txt");
    assert!(
        text.starts_with("+---+\n| a |\n+---+\n| 1 |\n+---+\n"),
        "{text}"
    );
}

/// Runs `command`, closing our end of its stdout after reading `lines`
/// lines; returns its exit status and stderr.
fn run_with_closed_stdout(mut command: Command, lines: usize) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = command.spawn().expect("start wasql");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..lines {
        reader.read_line(&mut String::new()).unwrap();
    }
    drop(reader);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    (status.code(), stderr)
}

/// When the reader of stdout goes away (`wasql ... | head -1`), wasql stops
/// quietly with status 0, in every format.
#[test]
fn closed_stdout_stops_quietly() {
    let sandbox = Sandbox::new();
    let query = "SELECT * FROM generate_series(1, 5000000)";
    let mut failures = Vec::new();
    for format in [
        "table", "csv", "tsv", "json", "ndjson", "markdown", "vertical",
    ] {
        for lines in [0, 1] {
            let command = sandbox.command(&["-q", "--format", format, "-c", query]);
            let (code, stderr) = run_with_closed_stdout(command, lines);
            assert!(!stderr.contains("panicked"), "{format}: {stderr}");
            if code != Some(0) || !stderr.is_empty() {
                failures.push(format!(
                    "{format}, closed after {lines} lines: status {code:?}, stderr {stderr:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Config files
// ---------------------------------------------------------------------------

/// `format` and `target_partitions` from `--config`.
#[test]
fn config_sets_format_and_target_partitions() {
    let sandbox = Sandbox::new();
    sandbox.write("wasql.toml", "format = \"csv\"\ntarget_partitions = 5\n");
    let run = sandbox
        .run(&[
            "-q",
            "--config",
            "wasql.toml",
            "-c",
            "SHOW datafusion.execution.target_partitions",
        ])
        .success();
    assert_eq!(
        run.stdout,
        "name,value\ndatafusion.execution.target_partitions,5\n"
    );
}

/// `maxrows` and `timing = false` from the config: the footer has no time.
#[test]
fn config_sets_maxrows_and_timing() {
    let sandbox = Sandbox::new();
    sandbox.write("wasql.toml", "maxrows = 3\ntiming = false\n");
    let run = sandbox
        .run(&[
            "--config",
            "wasql.toml",
            "-c",
            "SELECT * FROM generate_series(1, 10)",
        ])
        .success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 3 + 5, "{}", run.stdout);
    assert_eq!(
        lines[7],
        "10 rows (3 shown, \\maxrows or --maxrows to see more)."
    );
}

/// `memory_limit` from the config applies to queries.
#[test]
fn config_sets_memory_limit() {
    let sandbox = Sandbox::new();
    sandbox.write("wasql.toml", "memory_limit = \"1M\"\n");
    let run = sandbox
        .run(&["--config", "wasql.toml", "-c", HUNGRY_QUERY])
        .exit(1);
    assert!(
        run.stderr.contains("query ran out of memory"),
        "{}",
        run.stderr
    );
}

/// `$XDG_CONFIG_HOME/wasql/config.toml` is read when it exists.
#[test]
fn default_config_file_is_picked_up() {
    let sandbox = Sandbox::new();
    let config = sandbox.config_home().join("wasql").join("config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "format = \"csv\"\ntiming = false\n").unwrap();
    let run = sandbox.run(&["-c", "SELECT 1 AS a"]).success();
    assert_eq!(run.stdout, "a\n1\n");
    assert_eq!(run.stderr, "1 row.\n");

    // A broken default config is reported too.
    fs::write(&config, "format = \"csv\"\nnot_a_key = 1\n").unwrap();
    let run = sandbox.run(&["-c", "SELECT 1 AS a"]).exit(2);
    assert!(
        run.stderr.contains(&config.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// An unknown key is a usage error naming the file, line and key.
#[test]
fn config_with_unknown_key_is_rejected() {
    let sandbox = Sandbox::new();
    sandbox.write("bad.toml", "format = \"csv\"\nmaxrow = 3\n");
    let run = usage_error(&sandbox, &["--config", "bad.toml"]);
    assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    assert!(run.stderr.contains("maxrow"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// Bad TOML is a usage error naming the file and line.
#[test]
fn config_with_bad_toml_is_rejected() {
    let sandbox = Sandbox::new();
    sandbox.write("bad.toml", "format = \"csv\"\n\nmaxrows = [\n");
    let run = usage_error(&sandbox, &["--config", "bad.toml"]);
    assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// A `--config` file that does not exist is a usage error.
#[test]
fn missing_config_file_is_rejected() {
    let sandbox = Sandbox::new();
    let run = usage_error(&sandbox, &["--config", "nope.toml"]);
    assert!(run.stderr.contains("nope.toml"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// Bad values in the config (format, memory limit) are usage errors.
#[test]
fn config_with_bad_values_is_rejected() {
    let sandbox = Sandbox::new();
    sandbox.write("format.toml", "format = \"xml\"\n");
    let run = usage_error(&sandbox, &["--config", "format.toml"]);
    assert!(run.stderr.contains("xml"), "{}", run.stderr);
    sandbox.write("memory.toml", "memory_limit = \"lots\"\n");
    let run = usage_error(&sandbox, &["--config", "memory.toml"]);
    assert!(run.stderr.contains("lots"), "{}", run.stderr);
}

/// Command-line flags win over the config file.
#[test]
fn flags_override_the_config() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "wasql.toml",
        "format = \"csv\"\nmaxrows = 3\ntiming = false\n\
         memory_limit = \"1M\"\ntarget_partitions = 5\n",
    );
    let with_config = |args: &[&str]| sandbox.run(&[&["--config", "wasql.toml"], args].concat());

    let run = with_config(&["-q", "--format", "json", "-c", "SELECT 1 AS a"]).success();
    assert_eq!(parse_json(&run.stdout), json!([{"a": 1}]));

    let run = with_config(&[
        "-q",
        "--target-partitions",
        "2",
        "-c",
        "SHOW datafusion.execution.target_partitions",
    ])
    .success();
    assert_eq!(
        run.stdout,
        "name,value\ndatafusion.execution.target_partitions,2\n"
    );

    let run = with_config(&[
        "--format",
        "table",
        "--maxrows",
        "0",
        "-c",
        "SELECT * FROM generate_series(1, 10)",
    ])
    .success();
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 10 + 5, "{}", run.stdout);
    assert_eq!(lines[14], "10 rows.");

    let run = with_config(&["-q", "--memory-limit", "2G", "-c", HUNGRY_QUERY]).success();
    assert_eq!(run.stdout, "n\n300000\n");
}

// ---------------------------------------------------------------------------
// Engine settings on the command line
// ---------------------------------------------------------------------------

/// `--target-partitions` sets DataFusion's target partitions.
#[test]
fn target_partitions_flag() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--target-partitions",
            "3",
            "-c",
            "SHOW datafusion.execution.target_partitions",
        ])
        .success();
    assert_eq!(
        run.stdout,
        "name,value\ndatafusion.execution.target_partitions,3\n"
    );
}

/// `--target-partitions 0` is a usage error.
#[test]
fn zero_target_partitions_is_rejected() {
    let sandbox = Sandbox::new();
    usage_error(&sandbox, &["--target-partitions", "0"]);
}

/// A tiny `--memory-limit` makes a big aggregation fail cleanly; a big one
/// lets it through.
#[test]
fn memory_limit_flag() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["--memory-limit", "1M", "-c", HUNGRY_QUERY])
        .exit(1);
    assert_eq!(run.stdout, "");
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("<command 1>:1: query ran out of memory"),
        "{}",
        run.stderr
    );

    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--memory-limit",
            "2G",
            "-c",
            HUNGRY_QUERY,
        ])
        .success();
    assert_eq!(run.stdout, "n\n300000\n");
}

/// A memory limit that is not a size is a usage error.
#[test]
fn bad_memory_limit_is_rejected() {
    let sandbox = Sandbox::new();
    let run = usage_error(&sandbox, &["--memory-limit", "lots"]);
    assert!(run.stderr.contains("lots"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

// ---------------------------------------------------------------------------
// Usage: --version, --help, bad arguments
// ---------------------------------------------------------------------------

#[test]
fn version() {
    let run = Sandbox::new().run(&["--version"]).success();
    assert_eq!(run.stdout.trim(), "wasql 0.1.0");
}

#[test]
fn help_shows_usage_and_examples() {
    let run = Sandbox::new().run(&["--help"]).success();
    assert!(run.stdout.contains("Usage: wasql"), "{}", run.stdout);
    assert!(run.stdout.contains("Examples:"), "{}", run.stdout);
    for flag in ["--command", "--file", "--format", "--maxrows", "--config"] {
        assert!(run.stdout.contains(flag), "{flag} missing:\n{}", run.stdout);
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let run = usage_error(&Sandbox::new(), &["--bogus"]);
    assert!(run.stderr.contains("--bogus"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn unknown_format_is_a_usage_error() {
    let run = usage_error(&Sandbox::new(), &["--format", "xml"]);
    assert!(run.stderr.contains("xml"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

/// A missing `-f` script is a usage error and nothing runs, not even a
/// `-c` given before it.
#[test]
fn missing_script_runs_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-c",
            "COPY (SELECT 1 AS a) TO 'early.csv'",
            "-f",
            "missing.sql",
        ])
        .exit(2);
    assert!(run.stderr.contains("missing.sql"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(!sandbox.exists("early.csv"));
}

// ---------------------------------------------------------------------------
// Exit status and error messages
// ---------------------------------------------------------------------------

/// 0 on success with a clean stderr; 1 when a statement fails, with the
/// error on stderr only.
#[test]
fn exit_status_and_errors_on_stderr() {
    let sandbox = Sandbox::new();
    let ok = sandbox.run(&["-c", "SELECT 1 AS a"]).success();
    assert_eq!(ok.stderr, "");

    let failed = sandbox
        .run(&["-q", "-c", "SELECT 1 AS a", "-c", "SELECT nope"])
        .exit(1);
    assert_eq!(failed.stdout, "+---+\n| a |\n+---+\n| 1 |\n+---+\n");
    assert!(failed.stderr.contains("nope"), "{}", failed.stderr);
}

/// Errors in `-c` read `<command N>:LINE: message`.
#[test]
fn command_errors_name_the_command() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["-c", "SELECT nope"]).exit(1);
    assert!(
        run.stderr.starts_with("<command 1>:1:8: "),
        "{}",
        run.stderr
    );

    let run = sandbox
        .run(&["-q", "-c", "SELECT 1", "-c", "SELECT 1;\nSELECT\n  nope"])
        .exit(1);
    assert!(
        run.stderr.starts_with("<command 2>:3:3: "),
        "{}",
        run.stderr
    );
}

/// A script error reads `FILE:LINE:COL:` with the position in the file,
/// shows that line with a caret, and the script stops there.
#[test]
fn script_error_names_file_and_line_and_stops() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "script.sql",
        "SELECT 1 AS one;\n\
         \n\
         -- the second statement\n\
         SELECT\n\
         \x20 2 AS two;\n\
         \n\
         SELECT 3 +\n\
         \x20 * 4;\n\
         COPY (SELECT 1 AS a) TO 'after.csv';\n",
    );
    let run = sandbox
        .run(&["-q", "--format", "csv", "-f", "script.sql"])
        .exit(1);
    assert_eq!(run.stdout, "one\n1\ntwo\n2\n");
    assert_eq!(
        run.stderr,
        "script.sql:8:3: syntax error: Expected: an expression, found: *\n  8 |   * 4;\n    |   ^\n"
    );
    assert!(!sandbox.exists("after.csv"), "the script went on");
}

/// `--continue-on-error` runs the rest of the script; the exit status is
/// still 1.
#[test]
fn continue_on_error_runs_the_rest() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "script.sql",
        "SELECT 1 AS one;\nSELECT nope;\nCOPY (SELECT 1 AS a) TO 'after.csv';\nSELECT 3 AS three;\n",
    );
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--continue-on-error",
            "-f",
            "script.sql",
        ])
        .exit(1);
    assert_eq!(run.stdout, "one\n1\ncount\n1\nthree\n3\n");
    assert!(run.stderr.starts_with("script.sql:2:8: "), "{}", run.stderr);
    assert_eq!(sandbox.read("after.csv"), "a\n1\n");
}

/// Errors in SQL from standard input read `<stdin>:LINE:`.
#[test]
fn stdin_errors_name_stdin_and_line() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "SELECT 1 AS a;\n\nSELECT nope;\nSELECT 2 AS b;\n",
        )
        .exit(1);
    assert_eq!(run.stdout, "a\n1\n");
    assert!(run.stderr.starts_with("<stdin>:3:8: "), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------
// Meta-commands in scripts
// ---------------------------------------------------------------------------

/// `\d` lists tables; `\d NAME` describes a table's columns.
#[test]
fn meta_list_and_describe_tables() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "CREATE TABLE t (a INT, b VARCHAR);\n\\d\n\\d t\n",
        )
        .success();
    let lines = run.stdout_lines();
    assert_eq!(lines[..2], ["schema,name,type", "public,t,BASE TABLE"]);
    let columns: Vec<Vec<&str>> = lines[3..].iter().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines[2].split(',').next(), Some("column_name"));
    assert_eq!(columns.len(), 2, "{}", run.stdout);
    assert_eq!(columns[0][..2], ["a", "Int32"]);
    assert_eq!(columns[1][0], "b");
    assert!(columns[1][1].starts_with("Utf8"), "{}", run.stdout);
}

/// `\df PATTERN` lists matching functions.
#[test]
fn meta_list_functions() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(&["-q", "--format", "csv"], "\\df sqrt\n")
        .success();
    let names: Vec<&str> = run
        .stdout_lines()
        .iter()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(names, ["sqrt"], "{}", run.stdout);
}

/// `\format` changes the format and `\timing off` drops the time from the
/// footer, for the statements after them.
#[test]
fn meta_format_and_timing() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &[],
            "SELECT 1 AS x;\n\\format csv\nSELECT 2 AS y;\n\\timing off\n\\format table\nSELECT 3 AS z;\n",
        )
        .success();
    let out = run.stdout_lines();
    assert_eq!(out[..4], ["+---+", "| x |", "+---+", "| 1 |"]);
    assert_footer(out[5], "1 row");
    assert_eq!(out[6..8], ["y", "2"]);
    assert_eq!(out[8..13], ["+---+", "| z |", "+---+", "| 3 |", "+---+"]);
    assert_eq!(out[13], "1 row.");
    assert_eq!(out.len(), 14, "{}", run.stdout);
    // The csv statement's footer went to stderr, with its time.
    assert!(
        run.stderr_lines()
            .iter()
            .any(|l| split_footer(l).is_some_and(|(what, _)| what == "1 row")),
        "{}",
        run.stderr
    );
}

/// `\o FILE` sends later results to FILE; `\o` sends them back to stdout.
#[test]
fn meta_output_redirects_results() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "SELECT 1 AS x;\n\\o out.txt\nSELECT 2 AS y;\n\\o\nSELECT 3 AS z;\n",
        )
        .success();
    assert_eq!(run.stdout, "x\n1\nz\n3\n");
    assert_eq!(sandbox.read("out.txt"), "y\n2\n");
}

/// `\i FILE` runs another script in the same session.
#[test]
fn meta_include_runs_another_script() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "setup.sql",
        "CREATE TABLE t (x INT);\nINSERT INTO t VALUES (5);\n",
    );
    sandbox.write("main.sql", "\\i setup.sql\nSELECT x + 1 AS y FROM t;\n");
    let run = sandbox
        .run(&["-q", "--format", "csv", "-f", "main.sql"])
        .success();
    assert_eq!(run.stdout, "count\n1\ny\n6\n");
}

/// Errors in an included script read `other.sql:LINE:` and stop the run.
#[test]
fn meta_include_errors_name_the_included_file() {
    let sandbox = Sandbox::new();
    sandbox.write("other.sql", "SELECT 2 AS y;\n\nSELECT nope;\n");
    sandbox.write(
        "main.sql",
        "SELECT 1 AS x;\n\\i other.sql\nSELECT 3 AS z;\n",
    );
    let run = sandbox
        .run(&["-q", "--format", "csv", "-f", "main.sql"])
        .exit(1);
    assert_eq!(run.stdout, "x\n1\ny\n2\n");
    assert!(run.stderr.starts_with("other.sql:3:8: "), "{}", run.stderr);
}

/// `\q` ends the script: later statements do not run.
#[test]
fn meta_quit_stops_the_script() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "SELECT 1 AS x;\n\\q\nCOPY (SELECT 1 AS a) TO 'after.csv';\nSELECT 2 AS y;\n",
        )
        .success();
    assert_eq!(run.stdout, "x\n1\n");
    assert!(!sandbox.exists("after.csv"));
}

/// `\?` prints the meta-command help.
#[test]
fn meta_help() {
    let run = Sandbox::new().run_stdin(&["-q"], "\\?\n").success();
    assert!(run.stdout.contains("Meta-commands:"), "{}", run.stdout);
    for command in [
        "\\d NAME", "\\df", "\\format", "\\timing", "\\o", "\\i", "\\q",
    ] {
        assert!(run.stdout.contains(command), "{command}: {}", run.stdout);
    }
}

/// An unknown meta-command is an error naming it, and the script stops.
#[test]
fn meta_unknown_is_an_error() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["-q", "--format", "csv"],
            "SELECT 1 AS x;\n\\nope\nSELECT 2 AS y;\n",
        )
        .exit(1);
    assert_eq!(run.stdout, "x\n1\n");
    assert!(run.stderr.starts_with("<stdin>:2: "), "{}", run.stderr);
    assert!(run.stderr.contains("\\nope"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------
// Data files where they live
// ---------------------------------------------------------------------------

/// CSV and newline-delimited JSON files are queried by path.
#[test]
fn query_files_by_path() {
    let sandbox = Sandbox::new();
    sandbox.write("people.csv", PEOPLE_CSV);
    sandbox.write(
        "people.json",
        "{\"id\":1,\"name\":\"ann\",\"city\":\"Oslo\"}\n\
         {\"id\":2,\"name\":\"bob\",\"city\":\"Rome\"}\n\
         {\"id\":3,\"name\":\"cy\",\"city\":\"Oslo\"}\n",
    );
    for file in ["people.csv", "people.json"] {
        let query = format!("SELECT id, name, city FROM '{file}' ORDER BY id");
        let run = sandbox.quiet("csv", &[&query]).success();
        assert_eq!(run.stdout, PEOPLE_OUT, "{file}");
    }
    let run = sandbox
        .quiet(
            "json",
            &["SELECT city, count(*) AS n FROM 'people.csv' GROUP BY city ORDER BY city"],
        )
        .success();
    assert_eq!(
        parse_json(&run.stdout),
        json!([{"city": "Oslo", "n": 2}, {"city": "Rome", "n": 1}])
    );
}

/// Parquet and Arrow IPC files written by COPY are real files of their
/// format and read back by path.
#[test]
fn parquet_and_arrow_files_by_path() {
    let sandbox = Sandbox::new();
    sandbox.write("people.csv", PEOPLE_CSV);
    sandbox
        .run(&[
            "-q",
            "-c",
            "COPY (SELECT * FROM 'people.csv') TO 'people.parquet'",
            "-c",
            "COPY (SELECT * FROM 'people.csv') TO 'people.arrow' STORED AS ARROW",
        ])
        .success();
    let parquet = fs::read(sandbox.path("people.parquet")).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let arrow = fs::read(sandbox.path("people.arrow")).unwrap();
    assert!(arrow.starts_with(b"ARROW1"));
    for file in ["people.parquet", "people.arrow"] {
        let query = format!("SELECT id, name, city FROM '{file}' ORDER BY id");
        let run = sandbox.quiet("csv", &[&query]).success();
        assert_eq!(run.stdout, PEOPLE_OUT, "{file}");
    }
}

/// Headers of expressions over a path name the column, not the path:
/// `avg(score)`, not `avg(data/people.parquet.score)`; an alias still shows.
#[test]
fn headers_over_paths_show_columns() {
    let sandbox = Sandbox::new();
    sandbox.write("data/people.csv", "name,score\nann,1\nbob,3\n");
    let run = sandbox
        .quiet(
            "csv",
            &[
                "COPY (SELECT * FROM 'data/people.csv') TO 'data/people.parquet'",
                "SELECT avg(score), max(upper(name)) FROM 'data/people.parquet'",
                "SELECT avg(p.score) FROM 'data/people.parquet' p",
            ],
        )
        .success();
    assert!(
        run.stdout
            .contains("avg(score),max(upper(name))\n2.0,BOB\navg(p.score)\n2.0\n"),
        "{}",
        run.stdout
    );
}

/// `CREATE EXTERNAL TABLE ... STORED AS CSV|PARQUET|JSON|ARROW`.
#[test]
fn external_tables_of_every_format() {
    let sandbox = Sandbox::new();
    sandbox.write("people.csv", PEOPLE_CSV);
    sandbox
        .run(&[
            "-q",
            "-c",
            "COPY (SELECT * FROM 'people.csv') TO 'people.parquet'",
            "-c",
            "COPY (SELECT * FROM 'people.csv') TO 'people.json'",
            "-c",
            "COPY (SELECT * FROM 'people.csv') TO 'people.arrow' STORED AS ARROW",
        ])
        .success();
    for (format, file) in [
        ("CSV", "people.csv"),
        ("PARQUET", "people.parquet"),
        ("JSON", "people.json"),
        ("ARROW", "people.arrow"),
    ] {
        let create = format!("CREATE EXTERNAL TABLE t STORED AS {format} LOCATION '{file}'");
        let run = sandbox
            .quiet(
                "csv",
                &[&create, "SELECT id, name, city FROM t ORDER BY id"],
            )
            .success();
        assert_eq!(run.stdout, PEOPLE_OUT, "{format}");
    }
}

/// A TSV file read through a CSV table with a tab delimiter.
#[test]
fn tsv_external_table() {
    let sandbox = Sandbox::new();
    sandbox.write("people.tsv", PEOPLE_CSV.replace(',', "\t"));
    let run = sandbox
        .quiet(
            "csv",
            &[
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION 'people.tsv' \
             OPTIONS ('format.delimiter' E'\\t', 'format.has_header' 'true')",
                "SELECT id, name, city FROM t ORDER BY id",
            ],
        )
        .success();
    assert_eq!(run.stdout, PEOPLE_OUT);
}

/// Writes `parts/a.parquet` (ids 1, 2), `parts/b.parquet` (id 3) and a
/// non-matching `parts/c.csv` (id 99).
fn write_parquet_parts(sandbox: &Sandbox) {
    fs::create_dir_all(sandbox.path("parts")).unwrap();
    sandbox
        .run(&[
            "-q",
            "-c",
            "COPY (SELECT * FROM (VALUES (1), (2)) t(id)) TO 'parts/a.parquet'",
            "-c",
            "COPY (SELECT 3 AS id) TO 'parts/b.parquet'",
        ])
        .success();
    sandbox.write("parts/c.csv", "id\n99\n");
}

/// A glob reads the matching files only.
#[test]
fn glob_reads_matching_files() {
    let sandbox = Sandbox::new();
    write_parquet_parts(&sandbox);
    let run = sandbox
        .quiet("csv", &["SELECT id FROM 'parts/*.parquet' ORDER BY id"])
        .success();
    assert_eq!(run.stdout, "id\n1\n2\n3\n");
}

/// A directory location reads every file of the table's format in it.
#[test]
fn directory_location() {
    let sandbox = Sandbox::new();
    write_parquet_parts(&sandbox);
    let run = sandbox
        .quiet(
            "csv",
            &[
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'parts/'",
                "SELECT id FROM t ORDER BY id",
            ],
        )
        .success();
    assert_eq!(run.stdout, "id\n1\n2\n3\n");
}

/// Writes `hive/year=2024/part.parquet` and `hive/year=2025/part.parquet`.
fn write_hive_dir(sandbox: &Sandbox) {
    sandbox
        .run(&[
            "-q",
            "-c",
            "COPY (SELECT 1 AS id, 'x' AS v) TO 'hive/year=2024/part.parquet'",
            "-c",
            "COPY (SELECT * FROM (VALUES (2, 'y'), (3, 'z')) t(id, v)) \
             TO 'hive/year=2025/part.parquet'",
        ])
        .success();
    assert!(sandbox.exists("hive/year=2024/part.parquet"));
    assert!(sandbox.exists("hive/year=2025/part.parquet"));
}

/// A hive-partitioned directory as an external table with `PARTITIONED BY`.
#[test]
fn hive_partitioned_external_table() {
    let sandbox = Sandbox::new();
    write_hive_dir(&sandbox);
    let run = sandbox
        .quiet(
            "csv",
            &[
                "CREATE EXTERNAL TABLE h STORED AS PARQUET PARTITIONED BY (year) LOCATION 'hive/'",
                "SELECT id, v, year FROM h ORDER BY id",
                "SELECT count(*) AS n FROM h WHERE year = '2025'",
            ],
        )
        .success();
    assert_eq!(
        run.stdout,
        "id,v,year\n1,x,2024\n2,y,2025\n3,z,2025\nn\n2\n"
    );
}

/// The same hive-partitioned directory queried directly by path.
#[test]
fn hive_partitioned_directory_by_path() {
    let sandbox = Sandbox::new();
    write_hive_dir(&sandbox);
    let run = sandbox
        .quiet("csv", &["SELECT id, v, year FROM 'hive/' ORDER BY id"])
        .success();
    assert_eq!(run.stdout, "id,v,year\n1,x,2024\n2,y,2025\n3,z,2025\n");
}

// ---------------------------------------------------------------------------
// COPY TO
// ---------------------------------------------------------------------------

/// COPY writes csv, parquet and json files that read back the same.
#[test]
fn copy_writes_files() {
    let sandbox = Sandbox::new();
    sandbox.write("people.csv", PEOPLE_CSV);
    let run = sandbox
        .run(&[
            "--format",
            "csv",
            "-c",
            "COPY (SELECT id, name FROM 'people.csv' ORDER BY id) TO 'out.csv'",
            "-c",
            "COPY (SELECT id, name FROM 'people.csv') TO 'out.parquet'",
            "-c",
            "COPY (SELECT id, name FROM 'people.csv' ORDER BY id) TO 'out.json'",
        ])
        .success();
    // Each COPY reports the number of rows written.
    assert_eq!(run.stdout, "count\n3\ncount\n3\ncount\n3\n");
    assert_eq!(sandbox.read("out.csv"), "id,name\n1,ann\n2,bob\n3,cy\n");
    let json: Vec<Value> = sandbox.read("out.json").lines().map(parse_json).collect();
    assert_eq!(
        json,
        [
            json!({"id": 1, "name": "ann"}),
            json!({"id": 2, "name": "bob"}),
            json!({"id": 3, "name": "cy"})
        ]
    );
    let back = sandbox
        .quiet("csv", &["SELECT id, name FROM 'out.parquet' ORDER BY id"])
        .success();
    assert_eq!(back.stdout, "id,name\n1,ann\n2,bob\n3,cy\n");
    assert!(sandbox.staging_leftovers().is_empty());
}

/// COPY ... PARTITIONED BY writes a hive-style directory.
#[test]
fn copy_writes_partitioned_directories() {
    let sandbox = Sandbox::new();
    sandbox.write("people.csv", PEOPLE_CSV);
    sandbox
        .run(&[
            "-q",
            "-c",
            "COPY (SELECT * FROM 'people.csv') TO 'by_city/' STORED AS PARQUET \
             PARTITIONED BY (city)",
        ])
        .success();
    for city in ["Oslo", "Rome"] {
        let dir = sandbox.path(&format!("by_city/city={city}"));
        let files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(
            !files.is_empty() && files.iter().all(|f| f.ends_with(".parquet")),
            "{city}: {files:?}"
        );
    }
    let run = sandbox
        .quiet(
            "csv",
            &["SELECT id, name, city FROM 'by_city/' ORDER BY id"],
        )
        .success();
    assert_eq!(run.stdout, PEOPLE_OUT);
    assert!(sandbox.staging_leftovers().is_empty());
}

/// A COPY whose query fails part way leaves no file and no staging
/// directory behind.
#[test]
fn failed_copy_leaves_nothing_behind() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["-c", FAILING_COPY]).exit(1);
    assert!(
        run.stderr.to_lowercase().contains("divide by zero"),
        "{}",
        run.stderr
    );
    assert!(!sandbox.exists("out.csv"));
    assert_eq!(sandbox.staging_leftovers(), Vec::<PathBuf>::new());
    let entries: Vec<_> = fs::read_dir(sandbox.work()).unwrap().collect();
    assert!(entries.is_empty(), "{entries:?}");
}

/// A partitioned COPY that fails leaves no directory behind either.
#[test]
fn failed_partitioned_copy_leaves_nothing_behind() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "-c",
            "COPY (SELECT x % 3 AS k, 1/(x-50000) AS v FROM generate_series(1,100000) t(x)) \
             TO 'parts/' STORED AS PARQUET PARTITIONED BY (k)",
        ])
        .exit(1);
    let entries: Vec<_> = fs::read_dir(sandbox.work()).unwrap().collect();
    assert!(entries.is_empty(), "{entries:?}");
}

/// A failed COPY leaves an existing file at the destination untouched.
#[test]
fn failed_copy_keeps_an_existing_file() {
    let sandbox = Sandbox::new();
    sandbox.write("out.csv", "old,content\n1,2\n");
    sandbox.run(&["-c", FAILING_COPY]).exit(1);
    assert_eq!(sandbox.read("out.csv"), "old,content\n1,2\n");
    assert_eq!(sandbox.staging_leftovers(), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------------
// Bad input never crashes
// ---------------------------------------------------------------------------

/// Statements that fail, and a piece of the one-line error each must give.
const BAD_STATEMENTS: [(&str, &str); 6] = [
    ("SELEC 1", "syntax error: "),
    ("SELECT 1 +\n  * 2", "syntax error: "),
    ("SELECT * FROM missing_table", "missing_table"),
    ("SELECT nope FROM (SELECT 1 AS a)", "nope"),
    ("SELECT * FROM 'nope.csv'", "nope.csv"),
    ("SELECT * FROM 'bad.parquet'", "parquet"),
];

/// A file of garbage with a Parquet name.
fn write_bad_parquet(sandbox: &Sandbox) {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(sandbox.path("bad.parquet"), garbage).unwrap();
}

/// Each bad statement gives one clear error line (with a snippet under it
/// when it has a position) and exit status 1.
#[test]
fn bad_input_gives_one_line_errors() {
    let sandbox = Sandbox::new();
    write_bad_parquet(&sandbox);
    for (sql, expected) in BAD_STATEMENTS {
        let run = sandbox.run(&["-c", sql]).exit(1);
        assert_eq!(run.stdout, "", "{sql}");
        let lines = run.error_lines();
        assert_eq!(lines.len(), 1, "{sql}: {}", run.stderr);
        assert!(
            lines[0].starts_with("<command 1>:"),
            "{sql}: {}",
            run.stderr
        );
        assert!(
            lines[0].to_lowercase().contains(&expected.to_lowercase()),
            "{sql}: expected {expected:?} in {}",
            run.stderr
        );
    }
}

/// A missing file's error names it and says it does not exist.
#[test]
fn missing_file_error_says_not_found() {
    let run = Sandbox::new()
        .run(&["-c", "SELECT * FROM 'nope.csv'"])
        .exit(1);
    let stderr = run.stderr.to_lowercase();
    assert!(stderr.contains("nope.csv"), "{}", run.stderr);
    assert!(
        stderr.contains("not found") || stderr.contains("no such file"),
        "{}",
        run.stderr
    );
}

/// With `--continue-on-error`, each bad statement is reported at its line
/// and the statement after it still works.
#[test]
fn bad_input_in_a_script_with_continue_on_error() {
    let sandbox = Sandbox::new();
    write_bad_parquet(&sandbox);
    let mut script = String::new();
    let mut bad_lines = Vec::new();
    for (i, (sql, _)) in BAD_STATEMENTS.iter().enumerate() {
        bad_lines.push(script.lines().count() + 1);
        script.push_str(&format!("{sql};\nSELECT {i} AS ok;\n"));
    }
    sandbox.write("bad.sql", &script);
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--continue-on-error",
            "-f",
            "bad.sql",
        ])
        .exit(1);
    let expected: String = (0..BAD_STATEMENTS.len())
        .map(|i| format!("ok\n{i}\n"))
        .collect();
    assert_eq!(run.stdout, expected);
    let errors = run.error_lines();
    assert_eq!(errors.len(), BAD_STATEMENTS.len(), "{}", run.stderr);
    for ((error, (sql, expected)), line) in errors.iter().zip(BAD_STATEMENTS).zip(&bad_lines) {
        // A syntax error on the statement's second line points at that line.
        let line = line + usize::from(sql.contains('\n'));
        assert!(
            error.starts_with(&format!("bad.sql:{line}:")),
            "{sql}: {error}"
        );
        assert!(
            error.to_lowercase().contains(&expected.to_lowercase()),
            "{sql}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------
// No input kills or stalls wasql
// ---------------------------------------------------------------------------

/// 15 bytes that start and end like Parquet: the reader panics on them.
const GARBAGE_PARQUET: &str = "PAR1garbagePAR1";

#[test]
fn garbage_parquet_is_one_error_line() {
    let sandbox = Sandbox::new();
    sandbox.write("x.parquet", GARBAGE_PARQUET);
    let run = sandbox.run(&["-c", "SELECT * FROM 'x.parquet'"]).exit(1);
    assert_eq!(run.stderr_lines().len(), 1, "{run:#?}");
    assert!(
        run.stderr.starts_with(
            "<command 1>:1: cannot read 'x.parquet': the reader failed on malformed input \
             (internal panic: "
        ),
        "{run:#?}"
    );
}

#[test]
fn garbage_parquet_in_a_script_fails_only_its_statements() {
    let sandbox = Sandbox::new();
    sandbox.write("x.parquet", GARBAGE_PARQUET);
    sandbox.write(
        "s.sql",
        "SELECT * FROM 'x.parquet';\n\
         CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION 'x.parquet';\n\
         SELECT 'after' AS next;\n",
    );
    let run = sandbox.run(&["--continue-on-error", "-f", "s.sql"]).exit(1);
    let errors = run.stderr_lines();
    assert_eq!(errors.len(), 2, "{run:#?}");
    assert!(
        errors[0].starts_with("s.sql:1: cannot read 'x.parquet'"),
        "{run:#?}"
    );
    assert!(
        errors[1].starts_with("s.sql:2: cannot create table x from 'x.parquet'")
            && errors[1].contains("(internal panic: "),
        "{run:#?}"
    );
    assert!(run.stdout.contains("| after |"), "{run:#?}");
}

#[test]
fn empty_parquet_file_is_not_parquet() {
    let sandbox = Sandbox::new();
    sandbox.write("empty.parquet", "");
    let run = sandbox
        .run(&["-c", "SELECT count(*) FROM 'empty.parquet'"])
        .exit(1);
    assert_eq!(
        run.stderr.trim(),
        "<command 1>:1: cannot read 'empty.parquet': the file is empty, so it is not Parquet \
         (Parquet files start with PAR1)"
    );
}

/// `term op term op ...` with `terms` terms.
fn chain(term: &str, op: &str, terms: usize) -> String {
    vec![term; terms].join(op)
}

#[test]
fn too_deep_expressions_are_refused() {
    let sandbox = Sandbox::new();
    for expr in [chain("1", " + ", 2_000), chain("'a'", " || ", 2_000)] {
        let run = sandbox.run(&["-c", &format!("SELECT {expr}")]).exit(1);
        assert_eq!(
            run.stderr.trim(),
            "<command 1>:1: expression too deep: more than 1000 nested levels; \
             split it up (e.g. sum rows of a table instead of adding terms)"
        );
    }
}

#[test]
fn deep_expressions_within_the_limit_run() {
    let sandbox = Sandbox::new();
    let sum = format!("SELECT {} AS v", chain("1", " + ", 500));
    let concat = format!("SELECT length({}) AS v", chain("'a'", " || ", 500));
    let run = sandbox
        .run(&["--format", "csv", "-q", "-c", &sum, "-c", &concat])
        .success();
    assert_eq!(run.stdout_lines(), ["v", "500", "v", "500"]);
}

#[test]
fn settings_that_size_allocations_are_bounded() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.sql",
        "SET datafusion.execution.batch_size = 1099511627776;\n\
         SET datafusion.execution.target_partitions = 0;\n\
         SELECT count(*) AS n FROM generate_series(1, 100000);\n\
         SHOW datafusion.execution.batch_size;\n",
    );
    let run = sandbox
        .run(&[
            "--continue-on-error",
            "--format",
            "csv",
            "-q",
            "-f",
            "s.sql",
        ])
        .exit(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "s.sql:1: datafusion.execution.batch_size = 1099511627776 is out of range: use 1 to 1048576",
            "s.sql:2: datafusion.execution.target_partitions = 0 is out of range: use 1 to 1024",
        ]
    );
    assert_eq!(
        run.stdout_lines(),
        [
            "n",
            "100000",
            "name,value",
            "datafusion.execution.batch_size,8192"
        ]
    );
}

#[test]
fn e_strings_with_backslash_escapes_split_right() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run_stdin(
            &["--format", "csv", "-q"],
            "SELECT E'it\\'s; fine' AS s;\nSELECT 2 AS n;\n",
        )
        .success();
    assert_eq!(run.stdout_lines(), ["s", "it's; fine", "n", "2"]);
}

// ---------------------------------------------------------------------------
// Parameters: --param, \set, $name in SQL, ${name} in paths
// ---------------------------------------------------------------------------

/// A value full of SQL is bound as one string, never run: the table stays.
#[test]
fn param_values_are_not_spliced_into_sql() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--param",
            "x='; DROP TABLE t; --",
            "-c",
            "CREATE TABLE t AS VALUES (1)",
            "-c",
            "SELECT $x AS v",
            "-c",
            "SELECT count(*) AS n FROM t WHERE $x <> 'x'",
        ])
        .success();
    assert_eq!(run.stdout, "v\n'; DROP TABLE t; --\nn\n1\n");
}

/// Values are text; the context of `$name` gives it a type (a DATE or an
/// integer column, `$n + 1`), and CAST gives one anywhere.
#[test]
fn param_types_come_from_their_context() {
    let sandbox = Sandbox::new();
    let events = "CREATE TABLE ev AS SELECT * FROM (VALUES \
                  (DATE '2024-06-01', 5), (DATE '2024-06-02', 7), (DATE '2024-06-02', 12)) t(day, n)";
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--param",
            "day=2024-06-02",
            "--param",
            "min=10",
            "--param",
            "n=41",
            "-c",
            events,
            "-c",
            "SELECT n FROM ev WHERE day = $day ORDER BY n",
            // Compared as numbers: as text, '5' and '7' would be > '10'.
            "-c",
            "SELECT n FROM ev WHERE n > $min",
            "-c",
            "SELECT $n + 1 AS m, CAST($n AS INT) * 2 AS d, CAST($day AS DATE) + INTERVAL '1 day' AS next",
        ])
        .success();
    assert_eq!(run.stdout, "n\n7\n12\nn\n12\nm,d,next\n42,82,2024-06-03\n");

    // A value that is not of the inferred type is an error naming both.
    let run = sandbox
        .run(&[
            "--param",
            "min=ten",
            "-c",
            events,
            "-c",
            "SELECT n FROM ev WHERE n > $min",
        ])
        .exit(1);
    assert!(
        run.stderr
            .contains("parameter $min is used as Int64, but its value 'ten' is not one"),
        "{}",
        run.stderr
    );
}

/// Parameters nobody set are named in one error; bad names are usage errors.
#[test]
fn unknown_params_are_named() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["--param", "a=1", "-c", "SELECT $nope, $other, $a"])
        .exit(1);
    assert!(
        run.stderr.contains(
            "no value for parameters $nope, $other: set it with --param nope=VALUE or \\set nope VALUE"
        ),
        "{}",
        run.stderr
    );
    for bad in ["1=x", "a-b=x", "novalue"] {
        let run = usage_error(&sandbox, &["--param", bad]);
        assert!(run.stderr.contains("--param"), "{}", run.stderr);
    }
}

/// `\set NAME VALUE` in a script, `\set` lists, `\unset` forgets.
#[test]
fn set_and_unset_params_in_a_script() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.sql",
        "\\set who 'o''hara'\nSELECT $who AS who;\n\\set\n\\unset who\nSELECT $who;\n",
    );
    let run = sandbox
        .run(&["-q", "--format", "csv", "--param", "day=1", "-f", "s.sql"])
        .exit(1);
    assert_eq!(
        run.stdout,
        "who\no'hara\nparameter,value\nday,1\nwho,o'hara\n"
    );
    assert!(
        run.stderr
            .starts_with("s.sql:5: no value for parameter $who"),
        "{}",
        run.stderr
    );
}

/// `${name}` in a quoted path: COPY targets and file tables.
#[test]
fn params_in_paths() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--param",
            "day=2024-06-01",
            "-c",
            "COPY (SELECT $day AS d) TO 'out/${day}.csv'",
            "-c",
            "SELECT d FROM 'out/${day}.csv'",
        ])
        .success();
    assert_eq!(sandbox.read("out/2024-06-01.csv"), "d\n2024-06-01\n");
    assert!(run.stdout.ends_with("d\n2024-06-01\n"), "{}", run.stdout);
    let run = sandbox
        .run(&["-c", "COPY (SELECT 1) TO 'out/${nope}.csv'"])
        .exit(1);
    assert!(
        run.stderr.contains("no value for parameter ${nope}"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Time limits: --timeout, timeout in the config, \timeout, --max-run-time
// ---------------------------------------------------------------------------

/// Runs for hours unless cancelled.
const ENDLESS_QUERY: &str = "SELECT sum(value % 7) AS s FROM range(1000000000000)";

/// A statement past `--timeout` is cancelled; the error names the limit.
#[test]
fn timeout_cancels_a_statement() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "--timeout",
        "2",
        "-c",
        "SELECT 1 AS a",
        "-c",
        ENDLESS_QUERY,
        "-c",
        "SELECT 2 AS b",
    ]);
    let seconds = run.elapsed.as_secs_f64();
    let run = run.exit(1);
    // Start-up of a debug build on a busy machine takes a while too.
    assert!(seconds < 2.0 + 5.0, "took {seconds} s");
    assert_eq!(
        run.stderr,
        "<command 2>:1: statement timed out after 2 s (--timeout)\n"
    );
    assert!(!run.stdout.contains("| b |"), "{}", run.stdout);

    // From the config file, and from \timeout in a script.
    sandbox.write("slow.toml", "timeout = 1.5\n");
    let run = sandbox
        .run(&["--config", "slow.toml", "-c", ENDLESS_QUERY])
        .exit(1);
    assert!(
        run.stderr
            .contains("statement timed out after 1.5 s (timeout in the config)"),
        "{}",
        run.stderr
    );
    sandbox.write("t.sql", format!("\\timeout 1\n{ENDLESS_QUERY};\n"));
    let run = sandbox.run(&["-f", "t.sql"]).exit(1);
    assert!(
        run.stderr
            .contains("t.sql:2: statement timed out after 1 s (\\timeout)"),
        "{}",
        run.stderr
    );
}

/// `--max-run-time` stops the whole run, even with --continue-on-error.
#[test]
fn max_run_time_stops_the_run() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "-q",
        "--format",
        "csv",
        "--continue-on-error",
        "--max-run-time",
        "3",
        "-c",
        "SELECT 1 AS a",
        "-c",
        ENDLESS_QUERY,
        "-c",
        "SELECT 2 AS b",
    ]);
    let seconds = run.elapsed.as_secs_f64();
    let run = run.exit(1);
    assert!(seconds < 3.0 + 5.0, "took {seconds} s");
    assert_eq!(run.stdout, "a\n1\n");
    assert_eq!(
        run.stderr,
        "<command 2>:1: run stopped after 3 s (--max-run-time)\n"
    );
}

/// Zero, negative and non-numeric limits are usage errors naming the setting.
#[test]
fn bad_time_limits_are_refused() {
    let sandbox = Sandbox::new();
    for (flag, value) in [
        ("--timeout", "0"),
        ("--timeout", "-1"),
        ("--max-run-time", "0"),
    ] {
        let run = usage_error(&sandbox, &[flag, value]);
        assert!(
            run.stderr.contains(&format!(
                "{flag} must be a positive number of seconds, not {value}"
            )),
            "{}",
            run.stderr
        );
    }
    let run = usage_error(&sandbox, &["--timeout", "soon"]);
    assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    sandbox.write("zero.toml", "timeout = 0\n");
    let run = usage_error(&sandbox, &["--config", "zero.toml"]);
    assert!(
        run.stderr
            .contains("timeout in the config must be a positive number"),
        "{}",
        run.stderr
    );
    sandbox.write("t.sql", "\\timeout 0\n");
    let run = sandbox.run(&["-f", "t.sql"]).exit(1);
    assert!(
        run.stderr
            .contains("t.sql:1: \\timeout must be a positive number of seconds, not 0"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Init files
// ---------------------------------------------------------------------------

/// `$XDG_CONFIG_HOME/wasql/init.sql` runs first; `--init FILE` replaces it;
/// `--no-init` skips it.
#[test]
fn init_file_runs_before_the_scripts() {
    let sandbox = Sandbox::new();
    let init = sandbox.config_home().join("wasql").join("init.sql");
    fs::create_dir_all(init.parent().unwrap()).unwrap();
    fs::write(
        &init,
        "\\set greeting hello\nCREATE TABLE seeded AS VALUES (7);\n",
    )
    .unwrap();
    let query = "SELECT column1 AS n, $greeting AS g FROM seeded";
    let run = sandbox.quiet("csv", &[query]).success();
    assert_eq!(run.stdout, "n,g\n7,hello\n");

    sandbox.write(
        "other.sql",
        "CREATE TABLE seeded AS VALUES (8);\n\\set greeting hi\n",
    );
    let run = sandbox
        .run(&["-q", "--format", "csv", "--init", "other.sql", "-c", query])
        .success();
    assert_eq!(run.stdout, "n,g\n8,hi\n");

    let run = sandbox
        .run(&["--no-init", "-c", "SELECT * FROM seeded"])
        .exit(1);
    assert!(run.stderr.contains("seeded"), "{}", run.stderr);

    let run = usage_error(&sandbox, &["--init", "nope.sql"]);
    assert!(run.stderr.contains("nope.sql"), "{}", run.stderr);
}

/// An init file that fails stops a run of scripts like a failed script.
#[test]
fn failing_init_file_stops_the_scripts() {
    let sandbox = Sandbox::new();
    sandbox.write("init.sql", "SELECT 1 AS ok;\nSELEC 2;\n");
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "csv",
            "--init",
            "init.sql",
            "-c",
            "SELECT 'script' AS s",
        ])
        .exit(1);
    assert_eq!(run.stdout, "ok\n1\n");
    assert!(
        run.stderr.starts_with("init.sql:2:1: syntax error"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Errors show where
// ---------------------------------------------------------------------------

/// A syntax error in `-c` shows the line with a caret under the position.
#[test]
fn syntax_error_shows_a_caret() {
    let run = Sandbox::new().run(&["-c", "SELECT * FRM t"]).exit(1);
    assert_eq!(
        run.stderr,
        "<command 1>:1:10: syntax error: Expected: end of statement, found: FRM\n\
         \x20 1 | SELECT * FRM t\n\
         \x20   |          ^\n"
    );
}

/// A script names one position, `FILE:LINE:COL`, for a statement that
/// starts in the middle of a line and fails on its second line.
#[test]
fn script_errors_name_file_line_and_column() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "s.sql",
        "SELECT 1 AS a; SELECT\n  nope FROM (SELECT 1 AS b);\n",
    );
    let run = sandbox.run(&["-q", "-f", "s.sql"]).exit(1);
    let lines = run.stderr_lines();
    assert!(lines[0].starts_with("s.sql:2:3: "), "{}", run.stderr);
    assert!(lines[0].contains("nope"), "{}", run.stderr);
    assert_eq!(
        lines[1..],
        ["  2 |   nope FROM (SELECT 1 AS b);", "    |   ^"]
    );
}

/// A statement that stops too early says so and points after its end.
#[test]
fn early_end_is_at_end_of_input() {
    let run = Sandbox::new().run(&["-c", "SELECT 1 +"]).exit(1);
    assert_eq!(
        run.stderr,
        "<command 1>:1:11: syntax error at end of input: Expected: an expression\n\
         \x20 1 | SELECT 1 +\n\
         \x20   |           ^\n"
    );
}

/// A byte-order mark at the start of a script is skipped.
#[test]
fn byte_order_mark_is_skipped() {
    let sandbox = Sandbox::new();
    sandbox.write("bom.sql", "\u{feff}SELECT 1 AS a;\n");
    let run = sandbox
        .run(&["-q", "--format", "csv", "-f", "bom.sql"])
        .success();
    assert_eq!(run.stdout, "a\n1\n");
}

/// Invisible characters in the snippet are shown escaped.
#[test]
fn zero_width_space_is_shown_escaped() {
    let run = Sandbox::new().run(&["-c", "SELECT\u{200b} 1"]).exit(1);
    let lines = run.stderr_lines();
    assert!(lines.contains(&"  1 | SELECT\\u{200b} 1"), "{}", run.stderr);
}

/// A script that is not UTF-8 is bad usage: exit 2, naming its line.
#[test]
fn non_utf8_script_names_the_line() {
    let sandbox = Sandbox::new();
    fs::write(
        sandbox.path("latin1.sql"),
        b"SELECT 1;\nSELECT 'caf\xe9';\n",
    )
    .unwrap();
    let run = sandbox.run(&["-f", "latin1.sql"]).exit(2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "wasql: latin1.sql: line 2 is not UTF-8 text: save the script as UTF-8\n"
    );
}

/// `sum` of a text column is the user's mistake, not a DataFusion bug.
#[test]
fn sum_of_text_is_a_user_error() {
    let sandbox = Sandbox::new();
    sandbox.write("people.csv", PEOPLE_CSV);
    let run = sandbox
        .run(&["-c", "SELECT sum(name) FROM 'people.csv'"])
        .exit(1);
    let stderr = run.stderr.to_lowercase();
    assert!(
        !stderr.contains("bug") && !stderr.contains("internal"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no function sum(Utf8)") && run.stderr.contains("CAST("),
        "{}",
        run.stderr
    );
}

/// A bad number in a CSV file names the file and the line.
#[test]
fn bad_csv_number_names_the_file() {
    let sandbox = Sandbox::new();
    sandbox.write("bad.csv", "a,b\n1,2\n3,x\n");
    let run = sandbox
        .run(&[
            "-c",
            "CREATE EXTERNAL TABLE t (a INT, b INT) STORED AS CSV LOCATION 'bad.csv' \
             OPTIONS ('format.has_header' 'true')",
            "-c",
            "SELECT sum(b) FROM t",
        ])
        .exit(1);
    assert!(run.stderr.contains("cannot read '"), "{}", run.stderr);
    assert!(run.stderr.contains("bad.csv'"), "{}", run.stderr);
    assert!(run.stderr.contains("at line"), "{}", run.stderr);
}

/// A corrupt file among others in a directory is named.
#[test]
fn corrupt_file_in_a_directory_is_named() {
    let sandbox = Sandbox::new();
    let good: String = (0..50).map(|i| format!("{i},{i}\n")).collect();
    sandbox.write("dir/a.csv", format!("a,b\n{good}"));
    sandbox.write("dir/b.csv", format!("a,b\n{good}7,oops\n"));
    sandbox.write("dir/c.csv", format!("a,b\n{good}"));
    let run = sandbox
        .run(&[
            "-c",
            "CREATE EXTERNAL TABLE t (a INT, b INT) STORED AS CSV LOCATION 'dir/' \
             OPTIONS ('format.has_header' 'true')",
            "-c",
            "SELECT sum(b) FROM t",
        ])
        .exit(1);
    assert!(run.stderr.contains("b.csv'"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("a.csv") && !run.stderr.contains("c.csv"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------
// Globs, directories, file types, standard input
// ---------------------------------------------------------------------------

/// `**` descends into any subdirectories, not only `key=value` ones.
#[test]
fn double_star_descends_into_subdirectories() {
    let sandbox = Sandbox::new();
    sandbox.write("deep/a.csv", "id\n1\n");
    sandbox.write("deep/x/b.csv", "id\n2\n");
    sandbox.write("deep/x/y/c.csv", "id\n3\n");
    sandbox.write("deep/x/notes.txt", "not data\n");
    let run = sandbox
        .quiet(
            "csv",
            &[
                "SELECT id FROM 'deep/**/*.csv' ORDER BY id",
                "CREATE EXTERNAL TABLE d STORED AS CSV LOCATION 'deep/**/*.csv'",
                "SELECT count(*) AS n FROM d",
            ],
        )
        .success();
    assert_eq!(run.stdout, "id\n1\n2\n3\nn\n3\n");
}

/// A `*` in a directory part matches across that level.
#[test]
fn glob_matches_across_one_level() {
    let sandbox = Sandbox::new();
    sandbox.write("lvl/part0.csv", "id\n0\n");
    sandbox.write("lvl/a/part1.csv", "id\n1\n");
    sandbox.write("lvl/b/part2.csv", "id\n2\n");
    sandbox.write("lvl/b/other.csv", "id\n9\n");
    let run = sandbox
        .quiet("csv", &["SELECT id FROM 'lvl/*/part*.csv' ORDER BY id"])
        .success();
    assert_eq!(run.stdout, "id\n1\n2\n");
}

/// A directory of several readable types is an error naming them; files
/// wasql cannot read are left out.
#[test]
fn directory_of_mixed_types_is_refused() {
    let sandbox = Sandbox::new();
    write_parquet_parts(&sandbox);
    let run = sandbox.run(&["-c", "SELECT * FROM 'parts/'"]).exit(1);
    assert_eq!(
        run.stderr,
        "<command 1>:1: cannot read 'parts/': it holds files of several types (.csv, .parquet): \
         pick one with a glob such as 'parts/*.csv'\n"
    );
    sandbox.write("one/a.csv", "id\n1\n");
    sandbox.write("one/README.md", "about\n");
    sandbox.write("one/_SUCCESS", "");
    let run = sandbox.quiet("csv", &["SELECT id FROM 'one/'"]).success();
    assert_eq!(run.stdout, "id\n1\n");
}

/// A file without an extension: say so, and how to read it.
#[test]
fn file_without_extension_needs_stored_as() {
    let sandbox = Sandbox::new();
    sandbox.write("data/people", PEOPLE_CSV);
    let run = sandbox.run(&["-c", "SELECT * FROM 'data/people'"]).exit(1);
    assert_eq!(
        run.stderr,
        "<command 1>:1: cannot read 'data/people': the file name has no extension to tell its type: \
         name the format with CREATE EXTERNAL TABLE ... STORED AS\n"
    );
    let run = sandbox
        .quiet(
            "csv",
            &[
                "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION 'data/people'",
                "SELECT * FROM p ORDER BY id",
            ],
        )
        .success();
    assert_eq!(run.stdout, PEOPLE_OUT);
}

/// Standard input is not a table: refused clearly instead of read as empty.
#[test]
fn stdin_as_a_table_is_refused() {
    let sandbox = Sandbox::new();
    for path in ["/dev/stdin", "-"] {
        let sql = format!("SELECT * FROM '{path}'");
        let run = sandbox.run_stdin(&["-c", &sql], "id\n1\n").exit(1);
        assert!(
            run.stderr.contains(&format!("cannot read '{path}': "))
                && run.stderr.contains("save the data to a file"),
            "{}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------
// Plans and wide results
// ---------------------------------------------------------------------------

/// `EXPLAIN` prints each plan's lines in the formats for people; csv keeps
/// the data form.
#[test]
fn explain_prints_plans_as_lines() {
    let sandbox = Sandbox::new();
    let sql = "EXPLAIN SELECT a FROM (SELECT 1 AS a) WHERE a > 0";
    for format in ["table", "markdown", "vertical"] {
        let run = sandbox.quiet(format, &[sql]).success();
        assert!(!run.stdout.contains("\\n"), "{format}: {}", run.stdout);
        let lines = run.stdout_lines();
        assert!(lines.contains(&"logical_plan:"), "{format}: {}", run.stdout);
        assert!(
            lines.contains(&"physical_plan:"),
            "{format}: {}",
            run.stdout
        );
        assert!(lines.len() > 4, "{format}: {}", run.stdout);
    }
    let csv = sandbox.quiet("csv", &[sql]).success();
    assert!(csv.stdout.starts_with("plan_type,plan\n"), "{}", csv.stdout);
    let tree = sandbox
        .run(&["-q", "-c", "EXPLAIN FORMAT TREE SELECT 1"])
        .success();
    assert!(tree.stdout.contains("┌"), "{}", tree.stdout);
}

/// A table wider than `COLUMNS` elides middle columns and says so.
#[test]
fn wide_table_elides_columns() {
    let sandbox = Sandbox::new();
    let columns: Vec<String> = (1..=30).map(|i| format!("{i} AS column_{i}")).collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let mut command = sandbox.command(&["-q", "-c", &sql]);
    command.env("COLUMNS", "60");
    let output = command.output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[..5].iter().all(|l| l.chars().count() <= 60),
        "{stdout}"
    );
    let header = cells(lines[1]);
    assert_eq!(header.first(), Some(&"column_1"), "{stdout}");
    assert_eq!(header.last(), Some(&"column_30"), "{stdout}");
    assert!(header.contains(&"…"), "{stdout}");
    let shown = header.len() - 1;
    assert_eq!(
        lines[5],
        format!("30 columns ({shown} shown, \\format vertical or --format vertical shows all)")
    );
}

/// Rows after the first 1,000 never break the table's border: when they
/// need wider columns, a new header starts a wider table.
#[test]
fn long_tables_stay_aligned() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&[
            "-q",
            "-c",
            "SET datafusion.execution.batch_size = 100",
            "-c",
            "SELECT x, repeat('w', CAST(x / 100 AS INT)) AS word FROM generate_series(1, 1500) t(x) ORDER BY x",
        ])
        .success();
    let mut border = 0;
    let mut borders = 0;
    for line in run.stdout.lines() {
        if line.starts_with('+') {
            border = line.chars().count();
            borders += 1;
        } else {
            assert_eq!(line.chars().count(), border, "{line}");
        }
    }
    assert!(borders > 3, "the table never widened");
    assert_eq!(
        run.stdout.lines().filter(|l| l.starts_with("| ")).count(),
        1500 + borders / 3
    );
}

/// `\df` shows each signature's argument types and a one-line description.
#[test]
fn meta_list_functions_shows_argument_types() {
    let run = Sandbox::new()
        .run_stdin(&["-q", "--format", "csv"], "\\df regexp_like\n")
        .success();
    assert_eq!(
        run.stdout,
        "name,kind,arguments,description\n\
         regexp_like,SCALAR,\"(String, String) | (String, String, String)\",\
         \"Returns true if a regular expression has at least one match in a string, false otherwise.\"\n"
    );
}

/// Zero and negative values in the config are refused the same way for
/// every kind of value and every section, naming the key: exit 2, nothing
/// runs.
#[test]
fn config_refuses_zero_and_negative_values_naming_the_key() {
    let sandbox = Sandbox::new();
    for (text, expected) in [
        (
            "[net]\ntimeout_seconds = 0\n",
            "[net] timeout_seconds must be a positive number of seconds, not 0",
        ),
        (
            "[net]\nmax_concurrent = 0\n",
            "[net] max_concurrent must be at least 1, not 0",
        ),
        (
            "[udf]\ntimeout_seconds = 0\n",
            "[udf] timeout_seconds must be a positive number of seconds, not 0",
        ),
        (
            "target_partitions = -2\n",
            "target_partitions in the config must be at least 1, not -2",
        ),
        (
            "memory_limit = 0\n",
            "memory_limit in the config must be a positive size",
        ),
    ] {
        sandbox.write("bad.toml", text);
        let run = sandbox
            .run(&["--config", "bad.toml", "-c", "SELECT 1"])
            .exit(2);
        assert_eq!(run.stdout, "", "{text}");
        assert!(
            run.stderr.starts_with(&format!("wasql: {expected}")),
            "{text}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

// ---------------------------------------------------------------------------
// Introspection: the wasql schema
// ---------------------------------------------------------------------------

/// A sandbox whose `udfs` directory holds copies of the built example
/// modules `names` (from `udfs/dist`, made by `bash udfs/build.sh`); returns
/// it with the directory's absolute path.
fn sandbox_with_udfs(names: &[&str]) -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("udfs/dist");
    let dir = sandbox.path("udfs");
    fs::create_dir_all(&dir).unwrap();
    for name in names {
        let file = format!("{name}.wasm");
        let from = dist.join(&file);
        assert!(
            from.is_file(),
            "{} is missing: run `bash udfs/build.sh` first",
            from.display()
        );
        fs::copy(&from, dir.join(&file)).unwrap();
    }
    (sandbox, dir.display().to_string())
}

/// The hex sha256 of the file at `path`.
fn file_sha256(path: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The JSON rows of each statement of a `--format json` run.
fn json_rows(run: &Run) -> Vec<Vec<Value>> {
    serde_json::Deserializer::from_str(&run.stdout)
        .into_iter::<Value>()
        .map(|value| match value {
            Ok(Value::Array(rows)) => rows,
            other => panic!("expected rows, got {other:?} in {run:#?}"),
        })
        .collect()
}

/// `wasql.functions` lists every WASM function loaded from a UDF directory
/// with its kind, signature, module, path, module sha256 (the file's real
/// digest) and description; `wasql.modules` lists the modules.
#[test]
fn wasql_functions_and_modules_list_the_loaded_udfs() {
    let (sandbox, udfs) = sandbox_with_udfs(&["slugify", "stats", "tables"]);
    let run = sandbox
        .run(&[
            "--udfs",
            &udfs,
            "-q",
            "--format",
            "json",
            "-c",
            "SELECT name, kind, signature, module, path, sha256, description \
             FROM wasql.functions ORDER BY name",
            "-c",
            "SELECT name, path, sha256, size, functions, memory_bytes, call_timeout_seconds \
             FROM wasql.modules ORDER BY name",
        ])
        .success();
    let results = json_rows(&run);
    assert_eq!(results.len(), 2, "{run:#?}");
    let path = |module: &str| format!("{udfs}/{module}.wasm");
    let expected = [
        (
            "geo_mean",
            "aggregate",
            "geo_mean(Float64) -> Float64",
            "stats",
        ),
        (
            "sessionize",
            "table (per partition)",
            "sessionize(Int64, Timestamp(µs), Int64) -> \
          TABLE(user_id Int64, session_id Int32, start Timestamp(µs), end Timestamp(µs), events Int32)",
            "tables",
        ),
        ("slugify", "scalar", "slugify(Utf8) -> Utf8", "slugify"),
        (
            "tokenize",
            "table",
            "tokenize(Utf8) -> TABLE(token Utf8, pos Int32)",
            "tables",
        ),
    ];
    let functions = &results[0];
    assert_eq!(functions.len(), expected.len(), "{functions:#?}");
    for (row, (name, kind, signature, module)) in functions.iter().zip(expected) {
        assert_eq!(row["name"], name, "{row}");
        assert_eq!(row["kind"], kind, "{row}");
        assert_eq!(row["signature"], signature, "{row}");
        assert_eq!(row["module"], module, "{row}");
        assert_eq!(row["path"], path(module), "{row}");
        assert_eq!(row["sha256"], file_sha256(&path(module)), "{row}");
    }
    let geo_mean = &functions[0]["description"];
    assert!(
        geo_mean
            .as_str()
            .is_some_and(|d| d.contains("Geometric mean")),
        "{geo_mean}"
    );
    let modules = &results[1];
    assert_eq!(modules.len(), 3, "{modules:#?}");
    for (row, (name, functions)) in
        modules
            .iter()
            .zip([("slugify", 1), ("stats", 1), ("tables", 2)])
    {
        let file = path(name);
        assert_eq!(row["name"], name, "{row}");
        assert_eq!(row["path"], file, "{row}");
        assert_eq!(row["sha256"], file_sha256(&file), "{row}");
        assert_eq!(row["size"], fs::metadata(&file).unwrap().len(), "{row}");
        assert_eq!(row["functions"], functions, "{row}");
        assert_eq!(row["memory_bytes"], 256 << 20, "{row}");
        assert_eq!(row["call_timeout_seconds"], 10.0, "{row}");
    }
}

/// `\udf list` is a query over `wasql.functions`: the same functions, in
/// the same order, with the same signatures, paths and sha256 (prefix).
#[test]
fn udf_list_shows_what_wasql_functions_holds() {
    let (sandbox, udfs) = sandbox_with_udfs(&["slugify", "stats", "tables"]);
    let run = sandbox
        .run(&[
            "--udfs",
            &udfs,
            "-q",
            "--format",
            "json",
            "-c",
            "\\udf list",
            "-c",
            "SELECT name, signature, path, sha256 FROM wasql.functions",
        ])
        .success();
    let results = json_rows(&run);
    assert_eq!(results.len(), 2, "{run:#?}");
    let (listed, table) = (&results[0], &results[1]);
    assert_eq!(listed.len(), 4, "{listed:#?}");
    assert_eq!(listed.len(), table.len(), "{run:#?}");
    for (shown, row) in listed.iter().zip(table) {
        assert_eq!(shown["function"], row["name"], "{shown} {row}");
        assert_eq!(shown["signature"], row["signature"], "{shown} {row}");
        assert_eq!(shown["module"], row["path"], "{shown} {row}");
        let prefix = shown["sha256"].as_str().unwrap();
        assert!(
            prefix.len() == 16 && row["sha256"].as_str().unwrap().starts_with(prefix),
            "{shown} {row}"
        );
    }
}

/// A function made by `CREATE FUNCTION` is listed under its SQL name (not
/// the module's other functions), and is gone after `DROP FUNCTION`.
#[test]
fn wasql_functions_follows_create_and_drop_function() {
    let (sandbox, udfs) = sandbox_with_udfs(&["slugify", "tables"]);
    let run = sandbox
        .run(&[
            "-q",
            "--format",
            "json",
            "-c",
            &format!("CREATE FUNCTION slug() LANGUAGE wasm AS '{udfs}/slugify.wasm#slugify'"),
            "-c",
            &format!("CREATE FUNCTION words() LANGUAGE wasm AS '{udfs}/tables.wasm#tokenize'"),
            "-c",
            "SELECT name, kind, signature, module FROM wasql.functions ORDER BY name",
            "-c",
            "DROP FUNCTION slug",
            "-c",
            "SELECT name FROM wasql.functions",
        ])
        .success();
    let results = json_rows(&run);
    assert_eq!(
        results,
        vec![
            vec![
                json!({"name": "slug", "kind": "scalar", "signature": "slug(Utf8) -> Utf8", "module": "slugify"}),
                json!({"name": "words", "kind": "table",
                       "signature": "words(Utf8) -> TABLE(token Utf8, pos Int32)", "module": "tables"}),
            ],
            vec![json!({"name": "words"})],
        ],
        "{run:#?}"
    );
}

/// `wasql.net_rules` shows each `[[net.allow]]` rule with its secret by
/// name and header; the secret's value appears nowhere, not in `\net`.
#[test]
fn wasql_net_rules_show_secret_names_never_values() {
    const SECRET: &str = "s3cr3t-value-never-shown";
    let sandbox = Sandbox::new().env("WASQL_TEST_SECRET", SECRET);
    let config = sandbox.write(
        "wasql.toml",
        "[net]\n\
         [[net.allow]]\nurl = \"https://api.example.com:8443/v1\"\nmethods = [\"get\", \"POST\"]\n\
         modules = [\"fetch\"]\nsecret = \"token\"\nsecret_header = \"X-Key\"\n\
         secret_format = \"Key {}\"\n\
         [[net.allow]]\nurl = \"http://*.internal.test\"\naddresses = [\"10.0.0.0/8\"]\n\
         [net.secrets.token]\nenv = \"WASQL_TEST_SECRET\"\n",
    );
    let run = |args: &[&str]| {
        let run = sandbox
            .run(&[&["--config", config.to_str().unwrap()], args].concat())
            .success();
        assert!(
            !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
            "{run:#?}"
        );
        run
    };
    let rules = json_rows(&run(&[
        "-q",
        "--format",
        "json",
        "-c",
        "SELECT * FROM wasql.net_rules",
    ]));
    let stdout = run(&["-c", "\\net"]).stdout;
    assert_eq!(
        Value::Array(rules.concat()),
        json!([
            {"rule": "allow[1] https://api.example.com:8443/v1", "scheme": "https",
             "host": "api.example.com", "port": 8443, "path": "/v1",
             "methods": ["GET", "POST"], "modules": ["fetch"], "functions": [],
             "addresses": [], "secret": "token", "secret_header": "X-Key"},
            {"rule": "allow[2] http://*.internal.test", "scheme": "http",
             "host": "*.internal.test", "port": 80, "path": "/",
             "methods": ["GET", "HEAD"], "modules": [], "functions": [],
             "addresses": ["10.0.0.0/8"], "secret": null, "secret_header": null},
        ]),
    );
    assert!(stdout.contains("Secrets (names only): token"), "{stdout}");
    assert!(stdout.contains("X-Key (secret)"), "{stdout}");
    assert!(
        stdout.contains("modules: fetch; functions: any"),
        "{stdout}"
    );
}

/// The new tables of the `wasql` schema are read-only like `net_log`.
#[test]
fn the_wasql_tables_are_read_only() {
    let sandbox = Sandbox::new();
    for table in ["functions", "modules", "net_rules"] {
        for statement in [
            format!("INSERT INTO wasql.{table} SELECT * FROM wasql.{table}"),
            format!("DELETE FROM wasql.{table}"),
            format!("DROP TABLE wasql.{table}"),
            format!("CREATE OR REPLACE TABLE wasql.{table} AS SELECT 1 AS n"),
            format!("CREATE OR REPLACE VIEW wasql.{table} AS SELECT 1 AS n"),
        ] {
            let run = sandbox
                .run(&[
                    "-q",
                    "--format",
                    "csv",
                    "--continue-on-error",
                    "-c",
                    &statement,
                    "-c",
                    &format!("SELECT count(*) AS n FROM wasql.{table}"),
                ])
                .exit(1);
            assert_eq!(run.stderr_lines().len(), 1, "{statement}: {run:#?}");
            assert!(
                run.stderr.contains(
                    "the wasql schema is read-only: it holds wasql's own tables \
                     (functions, modules, net_log, net_rules)"
                ),
                "{statement}: {run:#?}"
            );
            assert_eq!(run.stdout, "n\n0\n", "{statement}: {run:#?}");
        }
    }
}
