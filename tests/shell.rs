//! The interactive shell, driven through a real pseudo-terminal the way a
//! person types into it.

use std::path::Path;

mod common;
use common::pty::{Quit, quit, run, spawn_shell, start_shell, start_shell_with};

#[test]
fn multi_line_statements_meta_commands_and_errors() {
    let home = tempfile::tempdir().unwrap();
    let mut shell = start_shell(home.path());

    // A statement spans lines until its semicolon, under a continuation
    // prompt aligned with the first.
    shell.send_line("SELECT 40 +").unwrap();
    shell.exp_string("   ...> ").expect("continuation prompt");
    let out = run(&mut shell, "  2 AS answer;", "1 row in");
    assert!(
        out.contains("| answer |") && out.contains("|     42 |"),
        "{out}"
    );

    run(
        &mut shell,
        "CREATE TABLE birds AS VALUES ('wren', 10), ('owl', 300);",
        "OK in",
    );
    let out = run(&mut shell, "\\d", "1 row in");
    assert!(out.contains("| public | birds | BASE TABLE |"), "{out}");
    let out = run(&mut shell, "\\d birds", "2 rows in");
    assert!(out.contains("column1") && out.contains("Utf8"), "{out}");
    let out = run(&mut shell, "\\df sqrt", "row");
    assert!(out.contains("| sqrt "), "{out}");

    // A bad statement prints one error and the shell goes on.
    run(
        &mut shell,
        "SELEC 1;",
        "Error: syntax error: Expected: an SQL statement, found: SELEC",
    );
    run(
        &mut shell,
        "SELECT nope FROM birds;",
        "Error: Schema error: No field named nope",
    );

    run(&mut shell, "\\timing off", "Timing is off.");
    run(&mut shell, "\\format csv", "Output format is csv.");
    let out = run(
        &mut shell,
        "SELECT column1 AS bird FROM birds ORDER BY column2;",
        "2 rows.",
    );
    assert!(out.contains("bird\r\nwren\r\nowl\r\n"), "{out}");

    run(&mut shell, "\\nope", "unknown meta-command '\\nope'");
    run(&mut shell, "\\?", "\\timing [on|off]");

    quit(shell, Quit::Command);

    // History lives in the data directory, not the working directory.
    let history = std::fs::read_to_string(home.path().join("data/wasql/history")).unwrap();
    assert!(history.contains("SELECT 40 +"), "{history}");
    assert!(history.contains("\\df sqrt"), "{history}");
}

#[test]
fn ctrl_c_cancels_the_query_and_ctrl_d_exits() {
    let home = tempfile::tempdir().unwrap();
    let mut shell = start_shell(home.path());

    // Long enough to still be running when Ctrl-C arrives.
    shell
        .send_line("SELECT count(*) FROM generate_series(1, 20000000000) t(x) WHERE x % 7 = 3;")
        .unwrap();
    // After a second the terminal shows progress.
    shell.exp_string("rows read").unwrap();
    shell.send_control('c').unwrap();
    shell.exp_string("Query cancelled.").unwrap();
    shell.exp_string("wasql> ").unwrap();

    // The shell is still usable.
    let out = run(&mut shell, "SELECT 6 * 7 AS product;", "1 row in");
    assert!(out.contains("|      42 |"), "{out}");

    // Ctrl-C at the prompt clears the line; Ctrl-D exits.
    shell.send("SELECT 'abandoned'").unwrap();
    shell.send_control('c').unwrap();
    shell.exp_string("wasql> ").unwrap();
    quit(shell, Quit::CtrlD);
}

#[test]
fn tab_completes_tables_and_keywords() {
    let home = tempfile::tempdir().unwrap();
    let mut shell = start_shell(home.path());
    run(
        &mut shell,
        "CREATE TABLE penguin_counts AS VALUES (1), (2), (3);",
        "OK in",
    );

    // `penguin_c<TAB>` completes to the table name; `coun<TAB>` is ambiguous
    // (count, ...), so type the function in full.
    shell.send("SELECT count(*) AS n FROM penguin_c").unwrap();
    shell.send("\t").unwrap();
    let out = run(&mut shell, ";", "1 row in");
    assert!(
        out.contains("penguin_counts") && out.contains("| 3 |"),
        "{out}"
    );

    // Keywords complete in the case they were started in.
    shell.send("selec").unwrap();
    shell.send("\t").unwrap();
    let out = run(&mut shell, " 'done' AS status;", "1 row in");
    assert!(out.contains("| done   |"), "{out}");
    quit(shell, Quit::CtrlD);
}

#[test]
fn tab_after_multi_byte_characters() {
    let home = tempfile::tempdir().unwrap();
    let mut shell = start_shell(home.path());
    run(&mut shell, "CREATE TABLE prices AS VALUES (3);", "OK in");

    // `×` and an emoji are not letters: the word to complete starts after
    // them, several bytes on. Ctrl-U clears the line for the next one (a
    // Ctrl-C at the prompt would drop the keys rustyline read ahead).
    for typed in ["SELECT 2×pr", "SELECT 😀", "SELECT '😀' ||😀colu"] {
        shell.send(typed).unwrap();
        shell.send("\t").unwrap();
        shell.send_control('u').unwrap();
    }
    let out = run(
        &mut shell,
        "SELECT '×😀' AS s, column1 FROM prices;",
        "1 row in",
    );
    // rexpect hands back each byte of the terminal's output as one char.
    let shown: String = "×😀".bytes().map(char::from).collect();
    assert!(out.contains(&shown) && out.contains(" 3 |"), "{out}");
    quit(shell, Quit::CtrlD);
}

#[test]
fn lines_typed_while_a_query_runs_all_run_in_order() {
    let home = tempfile::tempdir().unwrap();
    let mut shell = start_shell(home.path());

    // The markers are built by the queries: the terminal echoes what is
    // typed, and only the results may match.
    shell
        .send_line(
            "SELECT 'fir' || 'st' AS x, count(*) AS n \
             FROM generate_series(1, 30000000) t(v) WHERE v % 7 = 3;",
        )
        .unwrap();
    shell.exp_string("rows read").unwrap();
    shell.send_line("SELECT 'sec' || 'ond' AS x;").unwrap();
    shell.send_line("SELECT 'thi' || 'rd' AS x;").unwrap();
    for marker in ["| first |", "| second |", "| third |"] {
        let out = shell
            .exp_string(marker)
            .unwrap_or_else(|e| panic!("waiting for {marker:?}: {e}"));
        assert!(!out.contains("panicked"), "{out}");
    }
    shell.exp_string("wasql> ").unwrap();
    quit(shell, Quit::CtrlD);
}

/// `-f FILE -i` runs the script, then stays in the shell with its tables.
#[test]
fn interactive_after_scripts() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("setup.sql"),
        "CREATE TABLE seeded AS VALUES (41);\n\\set step 1\n",
    )
    .unwrap();
    let mut shell = start_shell_with(home.path(), &["-f", "setup.sql", "-i"]);
    let out = run(
        &mut shell,
        "SELECT column1 + $step AS answer FROM seeded;",
        "1 row in",
    );
    assert!(out.contains("|     42 |"), "{out}");
    quit(shell, Quit::Command);
}

/// The default init file runs before the prompt; its errors are reported
/// with FILE:LINE and the shell starts anyway.
#[test]
fn init_file_errors_do_not_stop_the_shell() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config").join("wasql");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("init.sql"),
        "CREATE TABLE from_init AS VALUES (5);\nSELEC 1;\n",
    )
    .unwrap();
    let mut shell = spawn_shell(home.path(), &[]);
    shell
        .exp_string("init.sql:2:1: syntax error")
        .expect("init error");
    shell.exp_string("wasql> ").expect("first prompt");
    let out = run(
        &mut shell,
        "SELECT column1 AS n FROM from_init;",
        "1 row in",
    );
    assert!(out.contains("| 5 |"), "{out}");
    quit(shell, Quit::CtrlD);
}

#[test]
fn quoted_paths_and_psql_spellings() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("my file.sql"),
        "SELECT 'from a' || ' spaced script' AS src;\n",
    )
    .unwrap();
    let mut shell = start_shell(home.path());

    let out = run(&mut shell, "\\i 'my file.sql'", "1 row in");
    assert!(out.contains("| from a spaced script |"), "{out}");
    run(
        &mut shell,
        "\\i \"no such.sql\"",
        "no such.sql: cannot read script",
    );

    run(&mut shell, "CREATE TABLE gulls AS VALUES (1);", "OK in");
    let out = run(&mut shell, "\\dt", "1 row in");
    assert!(out.contains("| public | gulls | BASE TABLE |"), "{out}");
    run(&mut shell, "\\dt nope*", "0 rows in");

    run(&mut shell, "\\maxrows 5", "Rows shown: 5 (table output).");
    run(&mut shell, "\\x", "Expanded display is on.");
    let out = run(&mut shell, "SELECT 7 AS seven;", "1 row in");
    assert!(out.contains("seven | 7"), "{out}");
    run(&mut shell, "\\x off", "Expanded display is off.");
    run(&mut shell, "\\pset format csv", "Output format is csv.");
    let out = run(&mut shell, "SELECT 'a' || 'b' AS ab;", "1 row in");
    assert!(out.contains("ab\r\nab\r\n"), "{out}");
    run(&mut shell, "\\?", "\\pset format NAME");
    quit(shell, Quit::CtrlD);
}

#[test]
fn tab_completes_commands_and_paths() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("bird_script.sql"),
        "SELECT 'ta' || 'b1' AS t;\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("my file.sql"),
        "SELECT 'ta' || 'b2' AS t;\n",
    )
    .unwrap();
    std::fs::create_dir(home.path().join("sub dir")).unwrap();
    std::fs::write(
        home.path().join("sub dir/inner.sql"),
        "SELECT 'ta' || 'b3' AS t;\n",
    )
    .unwrap();
    let mut shell = start_shell(home.path());

    // `\` commands complete at the start of the line; twice Tab lists them.
    shell.send("\\timi").unwrap();
    shell.send("\t").unwrap();
    run(&mut shell, " off", "Timing is off.");
    shell.send("\\").unwrap();
    shell.send("\t").unwrap();
    shell.send("\t").unwrap();
    shell.flush().unwrap();
    shell
        .exp_string("\\maxrows")
        .expect("the commands are listed");
    // (Not Ctrl-C: rustyline drops keys it has read ahead when interrupted.)
    run(&mut shell, "timing on", "Timing is on.");

    // An unquoted path after \i.
    shell.send("\\i bird_s").unwrap();
    shell.send("\t").unwrap();
    run(&mut shell, "", "| tab1 |");
    // A file inside quotes gets its closing quote; a directory keeps the
    // quote open.
    shell.send("\\i 'my f").unwrap();
    shell.send("\t").unwrap();
    run(&mut shell, "", "| tab2 |");
    shell.send("\\i \"sub").unwrap();
    shell.send("\t").unwrap();
    shell.send("inn").unwrap();
    shell.send("\t").unwrap();
    run(&mut shell, "", "| tab3 |");
    quit(shell, Quit::CtrlD);
}

#[test]
fn ctrl_c_stops_a_udf_load() {
    let home = tempfile::tempdir().unwrap();
    // Many modules, none compiled yet (the cache is under HOME).
    let modules = home.path().join("modules");
    std::fs::create_dir(&modules).unwrap();
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("udfs/dist");
    for entry in std::fs::read_dir(dist).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wasm") {
            std::fs::copy(&path, modules.join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut shell = start_shell(home.path());

    shell.send_line("\\udf load modules").unwrap();
    shell
        .exp_string("compiling ")
        .expect("a slow compile is announced");
    shell.send_control('c').unwrap();
    shell.exp_string("Cancelled.").unwrap();
    shell.exp_string("wasql> ").unwrap();
    // Nothing was loaded, and the shell goes on.
    run(&mut shell, "\\udf list", "0 rows in");
    let out = run(&mut shell, "SELECT 6 * 7 AS product;", "1 row in");
    assert!(out.contains("|      42 |"), "{out}");
    quit(shell, Quit::CtrlD);
}

#[test]
fn progress_shows_percent_of_a_parquet_scan() {
    let home = tempfile::tempdir().unwrap();
    let mut shell = start_shell(home.path());
    run(
        &mut shell,
        "COPY (SELECT v, CAST(v * 2654435761 % 1000000007 AS VARCHAR) AS s \
         FROM range(1000000) t(v)) TO 'big.parquet';",
        "1 row in",
    );
    // A regular expression over every row: the scan goes at its pace.
    shell
        .send_line(
            "SELECT 'sl' || 'ow' AS x, count(*) AS n FROM 'big.parquet' \
             WHERE regexp_like(repeat(s, 40), '^([0-4]+[5-9])*[0-4]*$');",
        )
        .unwrap();
    shell
        .exp_regex(r"rows read \(\d+%")
        .expect("progress in percent");
    shell.exp_string("| slow |").unwrap();
    shell.exp_string("wasql> ").unwrap();
    quit(shell, Quit::CtrlD);
}
