//! The UDF sandbox against hostile modules: scalar, aggregate and table functions that spin, balloon, trap, lie about offsets or flood stderr fail alone, with one line naming the function and module.
//!
//! Driven through the `wasql` binary the way a user drives it (`--udfs DIR`,
//! `\\udf` meta-commands, `CREATE FUNCTION`, config files); the modules come
//! from `udfs/dist` (built by `bash udfs/build.sh`) and the helpers from
//! `tests/common`.

use std::fs;
use std::time::Duration;

mod common;
use common::udf::*;
use common::*;

// ---------------------------------------------------------------------------
// The sandbox: hostile modules
// ---------------------------------------------------------------------------

/// Runs `call` from hostile module `name` as the first statement of a script
/// (with `--continue-on-error`, 1 s deadline, 64 MiB memory), followed by an
/// ordinary query and a call of a good UDF. Asserts that only the first
/// fails, with one stderr line naming the function, the module and every
/// one of `causes`. With `recovers`, the same function is called again on
/// NULL input, which a fresh instance answers.
#[track_caller]
fn assert_contained(name: &str, call: &str, causes: &[&str], recovers: bool) -> Run {
    let module = format!("hostile/{name}");
    let sandbox = Sandbox::with(&[&module, "slugify"]);
    let config = sandbox.tight_limits();
    let mut script = format!(
        "SELECT {call} AS r FROM (SELECT x, 'v' || x AS s FROM generate_series(1, 3) t(x));\n\
         SELECT 40 + 2 AS v;\n\
         SELECT slugify('Still Works') AS s;\n"
    );
    let mut expected = "v\n42\ns\nstill-works\n".to_string();
    if recovers {
        script.push_str(&format!(
            "SELECT {name}(CAST(NULL AS BIGINT)) IS NULL AS again;\n"
        ));
        expected.push_str("again\ntrue\n");
    }
    let run = sandbox.run_script(&config, &script).exit(1);
    let mut parts = vec![
        "<stdin>:1:".to_string(),
        guest_failure(name, &sandbox.module_path(&module)),
    ];
    parts.extend(causes.iter().map(|c| c.to_string()));
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    run.one_error_line(&parts);
    assert_eq!(run.stdout, expected, "{run:#?}");
    run
}

/// An endless loop is stopped at the deadline, quickly.
#[test]
fn hostile_spin_times_out() {
    let run = assert_contained("spin", "spin(x)", &["timed out", "1.0 s"], true);
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
}

/// `[udf.modules.NAME]` limits override the `[udf]` defaults for that
/// module only.
#[test]
fn per_module_limits_override_the_defaults() {
    let sandbox = Sandbox::with(&["hostile/spin", "hostile/balloon"]);
    let config = sandbox.write(
        "limits.toml",
        "[udf]\ntimeout_seconds = 30\nmemory_limit = \"64M\"\n\
         [udf.modules.spin]\ntimeout_seconds = 0.5\n\
         [udf.modules.balloon]\nmemory_limit = \"32M\"\n",
    );
    let config = config.to_str().unwrap();
    let udfs = sandbox.udfs_arg();
    let run = |sql: &str| sandbox.run(&["--config", config, "--udfs", &udfs, "-q", "-c", sql]);
    let spin = run("SELECT spin(x) FROM generate_series(1, 2) t(x)").exit(1);
    spin.one_error_line(&[
        &guest_failure("spin", &sandbox.module_path("hostile/spin")),
        "timed out after 0.5 s",
    ]);
    assert!(
        spin.elapsed < Duration::from_secs(8),
        "took {:?}",
        spin.elapsed
    );
    let balloon = run("SELECT balloon(x) FROM generate_series(1, 2) t(x)").exit(1);
    balloon.one_error_line(&[
        &guest_failure("balloon", &sandbox.module_path("hostile/balloon")),
        "memory limit of 32 MiB",
    ]);
}

/// Endless allocation stops at the memory cap.
#[test]
fn hostile_balloon_hits_the_memory_limit() {
    assert_contained("balloon", "balloon(x)", &["memory limit", "64 MiB"], true);
}

/// A guest panic fails the query with the panic message.
#[test]
fn hostile_boom_panic_is_reported() {
    assert_contained("boom", "boom(x)", &["boom at row 0"], true);
}

/// Unbounded recursion is a trap, not a crash of wasql.
#[test]
fn hostile_deep_recursion_is_contained() {
    let run = assert_contained("deep", "deep(x)", &[], true);
    let line = run.stderr.to_lowercase();
    assert!(
        line.contains("stack overflow") || line.contains("out of bounds"),
        "{run:#?}"
    );
}

/// String offsets past the guest's memory are refused.
#[test]
fn hostile_bad_offsets_are_refused() {
    assert_contained("bad_offsets", "bad_offsets(s)", &["invalid result"], false);
}

/// A buffer pointer outside the guest's memory is refused.
#[test]
fn hostile_bad_pointer_is_refused() {
    assert_contained("bad_pointer", "bad_pointer(x)", &["invalid result"], false);
}

/// Strings that are not UTF-8 are refused.
#[test]
fn hostile_bad_utf8_is_refused() {
    assert_contained(
        "bad_utf8",
        "bad_utf8(s)",
        &["invalid result", "value 0 is not valid UTF-8"],
        false,
    );
}

/// A result with the wrong number of rows is refused.
#[test]
fn hostile_bad_length_is_refused() {
    assert_contained(
        "bad_length",
        "bad_length(x)",
        &["invalid result", "length is 8, expected 3"],
        false,
    );
}

/// The guest can read no file, no environment variable and open no socket.
#[test]
fn hostile_sneaky_is_refused_files_env_and_sockets() {
    let sandbox = Sandbox::with(&["hostile/sneaky"]);
    let secret = sandbox.write("secret.txt", "TOP-SECRET-CONTENTS\n");
    // Something to connect to, where that is possible.
    let _listener = std::net::TcpListener::bind("127.0.0.1:80").ok();
    let config = sandbox.tight_limits();
    let sql = format!(
        "SELECT sneaky(p) AS r FROM (VALUES ('{}'), ('secret.txt'), ('/etc/hostname')) t(p)",
        secret.display()
    );
    let run = sandbox
        .run(&[
            "--config",
            &config,
            "--udfs",
            &sandbox.udfs_arg(),
            "-q",
            "--format",
            "json",
            "-c",
            &sql,
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let r = row["r"].as_str().unwrap();
        assert!(r.starts_with("file: error "), "{r}");
        assert!(r.contains("; env: none; "), "{r}");
        assert!(r.contains("; tcp: error "), "{r}");
        assert!(!r.contains("SECRET") && !r.contains("connected"), "{r}");
    }
    assert_eq!(run.stderr, "");
}

/// What a guest prints is captured (not mixed into wasql's output) and shown
/// by `\udf log`.
#[test]
fn hostile_chatty_output_is_captured_for_udf_log() {
    let sandbox = Sandbox::with(&["hostile/chatty", "slugify"]);
    let run = sandbox
        .query(
            "csv",
            &[
                "SELECT chatty(x) AS r FROM generate_series(1, 3) t(x) ORDER BY r",
                "\\udf log chatty",
            ],
        )
        .success();
    assert_eq!(run.stderr, "", "{run:#?}");
    let (result, log) = run.stdout.split_at("r\n1\n2\n3\n".len());
    assert_eq!(result, "r\n1\n2\n3\n", "{run:#?}");
    for n in 1..=3 {
        assert!(log.contains(&format!("chatty stdout: {n}\n")), "{log}");
        assert!(log.contains(&format!("chatty stderr: {n}\n")), "{log}");
    }
    assert!(
        log.contains(&sandbox.module_path("hostile/chatty")),
        "{log}"
    );
    // Another module's log does not have chatty's lines.
    let run = sandbox.query("csv", &["\\udf log slugify"]).success();
    assert!(!run.stdout.contains("chatty"), "{run:#?}");
}

/// Asserts that `text` has no control character but newlines and tabs: no
/// C0 (ESC, NUL, BEL, CR, ...), no DEL, no C1.
#[track_caller]
fn assert_printable(what: &str, text: &str) {
    let controls: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(
        controls.is_empty(),
        "{what} has control characters {controls:?}: {text:?}"
    );
}

/// A guest's error messages and output, full of escape sequences and other
/// control characters, reach the terminal and the `-o` file escaped; a 64
/// KiB error message is cut to 4 KiB with a note; the session goes on.
#[test]
fn hostile_garbler_text_is_escaped_and_capped() {
    let sandbox = Sandbox::with(&["hostile/garbler"]);
    let module = sandbox.module_path("hostile/garbler");
    let out = sandbox.work().join("out.txt");
    let run = sandbox
        .run_stdin(
            &[
                "--udfs",
                &sandbox.udfs_arg(),
                "-q",
                "--format",
                "csv",
                "--continue-on-error",
                "-o",
                out.to_str().unwrap(),
            ],
            "SELECT garble_error(x) AS r FROM generate_series(1, 1) t(x);\n\
             SELECT garble_long(x) AS r FROM generate_series(1, 1) t(x);\n\
             SELECT garble_output(x) AS r FROM generate_series(1, 1) t(x);\n\
             SELECT 40 + 2 AS v;\n\
             \\udf log garbler\n",
        )
        .exit(1);
    assert_printable("stderr", &run.stderr);
    assert_eq!(run.stdout, "", "results and the log went to -o: {run:#?}");
    let lines = run.error_lines();
    assert_eq!(lines.len(), 3, "one line per failed statement: {run:#?}");
    let nasty = "title\\x1b]0;pwned\\x07 clear\\x1b[2J nul\\x00 csi\\u{9b}31m del\\x7f \
                 bell\\x07 nl\\n cr\\r tab\\t end";

    let error = lines[0];
    assert!(error.starts_with("<stdin>:1: "), "{error}");
    assert!(
        error.contains(&guest_failure("garble_error", &module)),
        "{error}"
    );
    assert!(error.contains(&format!("garbled 1: {nasty}")), "{error}");

    let long = lines[1];
    assert!(long.starts_with("<stdin>:2: "), "{long}");
    assert!(long.contains("long 1:é\\x1bé\\x1b"), "{long}");
    let size = long
        .rsplit_once(" … (cut: the guest's message was ")
        .and_then(|(_, note)| note.strip_suffix(" bytes)"))
        .and_then(|n| n.parse::<usize>().ok());
    assert!(size.is_some_and(|n| n > 65_000), "{long}");
    assert!(!long.contains("THE END"));
    assert!(long.len() <= 4608, "{} bytes", long.len());

    let panic = lines[2];
    assert!(panic.starts_with("<stdin>:3: "), "{panic}");
    assert!(panic.contains("[guest stderr: "), "{panic}");
    assert!(
        panic.contains("panic 1: title\\x1b]0;pwned\\x07"),
        "{panic}"
    );
    assert!(panic.contains("\\x1b[7m\\x1b[7m"), "{panic}");
    assert!(
        panic.len() <= 2048,
        "a short stderr tail: {} bytes",
        panic.len()
    );

    let written = fs::read_to_string(&out).unwrap();
    assert_printable("the -o file", &written);
    let log = written
        .strip_prefix("v\n42\n")
        .unwrap_or_else(|| panic!("the next statement ran: {written:?}"));
    assert!(
        log.starts_with(&format!("-- {module} stdout:\nstdout 1: ")),
        "{log}"
    );
    // Lines and tabs are kept, every other control is escaped.
    let shown = nasty.replace("\\n", "\n").replace("\\t", "\t");
    assert!(log.contains(&format!("stdout 1: {shown}\n")), "{log}");
    assert!(log.contains(&format!("stderr 1: {shown}\n")), "{log}");
    assert!(
        log.contains(&format!("panic 1: {shown}\\x1b[7m\\x1b[7m")),
        "{log}"
    );
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: hostile modules
// ---------------------------------------------------------------------------

/// An aggregate whose `E_update` never returns is stopped at the deadline,
/// with and without `GROUP BY`, with DISTINCT and in a window.
#[test]
fn hostile_aggregate_spin_times_out() {
    use AggForm::*;
    let run = assert_hostile_aggregate(
        "hostile_agg_spin",
        3,
        &[GroupBy, OneGroup, Distinct, Window],
        &["timed out after 1.0 s"],
    );
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
}

/// An aggregate keeping 1 MiB per row stops at the memory cap, whether
/// its groups live in a `GroupsAccumulator` or one group's update gets 200
/// rows at once.
#[test]
fn hostile_aggregate_balloon_hits_the_memory_limit() {
    use AggForm::*;
    assert_hostile_aggregate(
        "hostile_agg_balloon",
        200,
        &[GroupBy, OneGroup],
        &["memory limit of 64 MiB"],
    );
}

/// A panic in `E_finish` fails the query with the guest's panic message.
#[test]
fn hostile_aggregate_panic_in_finish_is_reported() {
    use AggForm::*;
    assert_hostile_aggregate(
        "hostile_agg_panic",
        3,
        &[GroupBy, OneGroup, Distinct, Window],
        &["hostile_agg_panic: finish after"],
    );
}

/// An error shows what the guest wrote to stderr during the failing call,
/// not what an earlier failure of the same module wrote.
#[test]
fn errors_show_only_the_guest_output_of_their_own_call() {
    use AggForm::*;
    let sandbox = Sandbox::with(&["hostile/agg_abuse", "weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let module = sandbox.module_path("hostile/agg_abuse");
    let call = |function: &str, cause: &str| {
        (
            aggregate_call(function, GroupBy, 3),
            vec![guest_failure(function, &module), cause.to_string()],
        )
    };
    let run = assert_failures_contained(
        &sandbox,
        &config,
        &[
            call("hostile_agg_panic", "finish after"),
            call("bad_agg_state_offsets", "invalid result"),
        ],
    );
    let later = run
        .stderr
        .lines()
        .find(|line| line.contains("function bad_agg_state_offsets"))
        .expect("the second error");
    assert!(!later.contains("panicked"), "{later}");
}

/// A state array whose offsets run outside guest memory is an invalid
/// result, in every path that asks for states.
#[test]
fn hostile_aggregate_invalid_state_array_is_refused() {
    use AggForm::*;
    assert_hostile_aggregate(
        "bad_agg_state_offsets",
        3,
        &[GroupBy, OneGroup, Window],
        &["invalid result", "outside guest memory"],
    );
}

/// A 2 MiB state is over the default 1 MiB cap: the error gives the size,
/// the cap and the setting to raise. Raising `max_state_size` in `[udf]`,
/// or for the module alone, lets the same queries through.
#[test]
fn hostile_aggregate_oversized_state_hits_the_cap_until_raised() {
    use AggForm::*;
    let forms = [GroupBy, OneGroup, Window];
    assert_hostile_aggregate(
        "hostile_agg_big_state",
        3,
        &forms,
        &["2097152 bytes", "cap of 1048576 bytes", "max_state_size"],
    );

    let sandbox = Sandbox::with(&["hostile/agg_abuse"]);
    let queries: Vec<String> = forms
        .iter()
        .map(|&form| aggregate_call("hostile_agg_big_state", form, 3))
        .collect();
    for (file, text) in [
        ("raised.toml", "[udf]\nmax_state_size = \"4M\"\n"),
        (
            "module.toml",
            "[udf]\nmax_state_size = \"1M\"\n[udf.modules.agg_abuse]\nmax_state_size = \"3M\"\n",
        ),
    ] {
        let config = sandbox.write(file, text);
        let udfs = sandbox.udfs_arg();
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            "--udfs",
            &udfs,
            "-q",
            "--format",
            "json",
        ];
        for query in &queries {
            args.extend(["-c", query.as_str()]);
        }
        let run = sandbox.run(&args).success();
        let results = json_results(&run.stdout);
        assert_eq!(
            results.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 1, 3],
            "{file}: {run:#?}"
        );
        // The hostile guest counts the bytes of the states it merged.
        for row in results.iter().flatten() {
            let r = float(&row["r"]);
            assert!(r > 0.0 && r % 2097152.0 == 0.0, "{file}: {row}");
        }
    }

    // A cap below a state's size is named in bytes too.
    let config = sandbox.write("small.toml", "[udf]\nmax_state_size = \"1K\"\n");
    let run = sandbox
        .run(&[
            "--config",
            config.to_str().unwrap(),
            "--udfs",
            &sandbox.udfs_arg(),
            "-q",
            "-c",
            &aggregate_call("hostile_agg_big_state", OneGroup, 3),
        ])
        .exit(1);
    run.one_error_line(&["cap of 1024 bytes", "max_state_size"]);
}

/// A part number equal to the number of parts is refused.
#[test]
fn hostile_table_part_number_out_of_range_is_refused() {
    assert_hostile_table(
        "bad_table_part_range",
        &[
            (
                "SELECT * FROM {f}('x')",
                &["output row 0 belongs to part 1, but the call had 1"],
            ),
            (
                &format!("SELECT d.id, t.token FROM {DOCS} CROSS JOIN LATERAL {{f}}(d.body) AS t"),
                &["belongs to part 3, but the call had 3"],
            ),
        ],
    );
}

/// Part numbers that decrease are refused.
#[test]
fn hostile_table_decreasing_part_numbers_are_refused() {
    assert_hostile_table(
        "bad_table_part_order",
        &[
            (
                &format!("SELECT d.id, t.token FROM {DOCS} CROSS JOIN LATERAL {{f}}(d.body) AS t"),
                &["part numbers decrease at output row 1 (1 after 2)"],
            ),
            (
                &format!(
                    "SELECT d.id, t.token FROM {DOCS} LEFT JOIN LATERAL {{f}}(d.body) AS t ON true"
                ),
                &["part numbers decrease"],
            ),
        ],
    );
}

/// A column longer than the part numbers is refused.
#[test]
fn hostile_table_columns_of_different_lengths_are_refused() {
    assert_hostile_table(
        "bad_table_ragged",
        &[
            (
                "SELECT * FROM {f}('x')",
                &["column token: length is 2, expected 1"],
            ),
            (
                &format!("SELECT d.id, t.token FROM {DOCS} CROSS JOIN LATERAL {{f}}(d.body) AS t"),
                &["column token: length is 4, expected 3"],
            ),
        ],
    );
}

/// A text column that is not UTF-8 is refused.
#[test]
fn hostile_table_invalid_utf8_is_refused() {
    assert_hostile_table(
        "bad_table_utf8",
        &[
            (
                "SELECT * FROM {f}('x')",
                &["column token: value 0 is not valid UTF-8"],
            ),
            (
                &format!(
                    "SELECT d.id, t.token FROM {DOCS} LEFT JOIN LATERAL {{f}}(d.body) AS t ON true"
                ),
                &["column token: value 0 is not valid UTF-8"],
            ),
        ],
    );
}
