//! The sandbox's resource limits, as a user meets them: a guest that grows a
//! table or its memory without end, or declares more than the limits allow,
//! fails within the call (or at registration) with one line naming the
//! limit; the wasql process stays small; the next statement runs. Guest
//! memory is reserved from the session's memory pool, so `--memory-limit`
//! bounds concurrent UDF queries too.
//!
//! The hostile modules are `udfs/hostile/balloon` (Rust, built by
//! `bash udfs/build.sh`) and the WebAssembly text in `udfs/hostile/wat/`,
//! assembled here.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::physical_plan::common::collect;
use wasql_engine::{Engine, EngineSettings};

mod common;
use common::Sandbox;

/// A sandbox whose UDF directory holds the modules `wat` (names of
/// `udfs/hostile/wat/` files, assembled) and `built` (names of
/// `udfs/dist/hostile/` modules).
fn udf_dir(wat: &[&str], built: &[&str]) -> Sandbox {
    let sandbox = Sandbox::new();
    for name in wat {
        sandbox.add_wat(name);
    }
    for name in built {
        sandbox.add_module(&format!("hostile/{name}"));
    }
    sandbox
}

/// What one run of the wasql binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident memory of the process (its own `ru_maxrss`), in bytes.
    peak_rss: usize,
    elapsed: Duration,
}

/// Runs wasql with `config` and the sandbox's UDF directory on the
/// statements `sql` (each a `-c`, continuing past errors), then one more
/// that must still work.
fn run(sandbox: &Sandbox, config: &str, sql: &[&str]) -> Run {
    let config_file = sandbox.write("config.toml", config).display().to_string();
    let udfs = sandbox.udfs_arg();
    let mut args = vec!["--config", &config_file, "--udfs", &udfs];
    args.extend(["--memory-limit", "256M", "--continue-on-error", "-q"]);
    for statement in sql {
        args.extend(["-c", statement]);
    }
    args.extend(["-c", "SELECT 'still here' AS after"]);
    let started = Instant::now();
    let mut child = sandbox.command(&args).spawn().expect("start wasql");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).expect("read output");
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let (code, peak_rss) = wait_with_peak_rss(child);
    let run = Run {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        peak_rss,
        elapsed: started.elapsed(),
    };
    assert!(
        !common::host_panicked(&run.stderr),
        "wasql {args:?} panicked:\n{}",
        run.stderr
    );
    run
}

/// Runs hostile `sql` as [`run`] does and checks what every bomb must
/// leave: exit status 1, the statement after it still runs, and wasql's
/// peak resident memory under 256 MiB (shown as `what`).
fn bomb(what: &str, sandbox: &Sandbox, config: &str, sql: &[&str]) -> Run {
    let run = run(sandbox, config, sql);
    let peak = run.peak_rss;
    eprintln!("{what}: peak RSS {} MiB, {:?}", peak / MIB, run.elapsed);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("still here"), "{}", run.stdout);
    assert!(peak < 256 * MIB, "peak {} MiB", peak / MIB);
    run
}

/// Waits for `child` (`wait4`, which also reports the peak resident memory
/// of that one process): its exit code and peak RSS in bytes.
fn wait_with_peak_rss(child: std::process::Child) -> (i32, usize) {
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unwaited child; `status` and `usage` are valid
    // for writes for the whole call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    // The child is reaped: dropping `child` does not wait or kill.
    drop(child);
    assert!(libc::WIFEXITED(status), "wasql was killed: status {status}");
    let kib = usize::try_from(usage.ru_maxrss).expect("ru_maxrss");
    (libc::WEXITSTATUS(status), kib << 10)
}

const MIB: usize = 1 << 20;

/// The error lines of `stderr` (one per failed statement).
fn errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn table_growth_is_refused_before_anything_is_allocated() {
    let run = bomb(
        "table bombs",
        &udf_dir(&["tables"], &[]),
        "[udf]\nmemory_limit = \"64M\"\n",
        &["SELECT table_bomb(1)", "SELECT table_creep(1)"],
    );
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 2, "one line per failed statement: {errors:?}");
    assert!(
        errors[0].contains("function table_bomb")
            && errors[0].contains("table limit of 100000 elements exceeded")
            && errors[0].contains("to 2147483648 elements")
            && errors[0].contains("max_table_elements"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("function table_creep")
            && errors[1].contains("table limit of 100000 elements exceeded"),
        "{}",
        errors[1]
    );
    // Neither waited for the 10 s call deadline.
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn a_refused_memory_grow_returns_minus_one_and_a_later_trap_names_the_limit() {
    let run = bomb(
        "memory bomb",
        &udf_dir(&[], &["balloon"]),
        "[udf]\nmemory_limit = \"64M\"\n",
        &[
            // 64 MiB more than the cap: refused, the guest goes on.
            "SELECT grow_probe(1024) AS refused",
            "SELECT grow_probe(1) > 0 AS granted",
            // Rust's allocator aborts when the grow is refused.
            "SELECT balloon(1)",
        ],
    );
    let cells: Vec<&str> = run
        .stdout
        .lines()
        .map(|line| line.trim_matches(|c| c == '|' || c == ' '))
        .collect();
    let after = |header: &str| cells.iter().skip_while(|c| **c != header).nth(2).copied();
    assert_eq!(after("refused"), Some("-1"), "{}", run.stdout);
    assert_eq!(after("granted"), Some("true"), "{}", run.stdout);
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("function balloon")
            && errors[0].contains("memory limit of 64 MiB exceeded")
            && errors[0].contains("memory_limit in [udf]"),
        "{}",
        errors[0]
    );
}

#[test]
fn modules_declaring_more_than_the_limits_are_refused_at_registration() {
    for (module, expected) in [
        (
            "big_table",
            "starts with 50000000 elements, over the limit of 100000",
        ),
        (
            "many_tables",
            "defines 5 tables, over the limit of 4 (max_tables",
        ),
        ("two_memories", "over the memory limit of 256 MiB"),
        (
            "big_memory",
            "starts at 4096 MiB, over the memory limit of 256 MiB",
        ),
    ] {
        let dir = udf_dir(&[module], &[]);
        let run = run(&dir, "", &[]);
        assert_eq!(run.code, 2, "{module}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{module}.wasm")) && run.stderr.contains(expected),
            "{module}: {}",
            run.stderr
        );
    }
    // Within its own limits a second memory is still one too many.
    let dir = udf_dir(&["two_memories"], &[]);
    let run = run(&dir, "[udf]\nmemory_limit = \"2G\"\n", &[]);
    assert!(
        run.stderr
            .contains("defines 2 memories, over the limit of 1 (max_memories"),
        "{}",
        run.stderr
    );
}

#[test]
fn limit_keys_are_validated() {
    let dir = udf_dir(&[], &[]);
    for (config, expected) in [
        (
            "[udf]\nmax_tables = 0\n",
            "[udf] max_tables must be at least 1, not 0",
        ),
        (
            "[udf.modules.m]\nmax_table_elements = 0\n",
            "[udf.modules.m] max_table_elements must be at least 1",
        ),
        ("[udf]\nmax_tabels = 3\n", "max_tabels"),
    ] {
        let run = run(&dir, config, &[]);
        assert_eq!(run.code, 2, "{config}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{config}: {}", run.stderr);
    }
}

/// One row, one BIGINT column: the value of `sql`, or its error.
async fn value(engine: &Engine, sql: &str) -> Result<Option<i64>, String> {
    let query = engine.prepare(sql).await.map_err(|e| e.to_string())?;
    let batches = collect(query.execute().map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    let column = batches[0].column(0);
    let values = column
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("BIGINT");
    Ok((!values.is_null(0)).then(|| values.value(0)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn guest_memory_counts_against_the_session_memory_limit() {
    let dir = udf_dir(&[], &["balloon"]);
    let engine = Arc::new(
        Engine::new(&EngineSettings {
            memory_limit: Some(48 * MIB),
            ..EngineSettings::default()
        })
        .expect("engine"),
    );
    engine.load_udf_dir(&dir.udfs()).expect("load balloon");
    // Eight queries at once, each holding 16 MiB of guest memory for 300 ms:
    // 128 MiB would be needed, 48 MiB is allowed.
    let queries: Vec<_> = (0..8)
        .map(|_| {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move { value(&engine, "SELECT hold(16)").await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for query in queries {
        outcomes.push(query.await.expect("query task"));
    }
    let succeeded = outcomes.iter().filter(|o| *o == &Ok(Some(16))).count();
    let refused: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(succeeded >= 1, "{outcomes:?}");
    assert!(
        !refused.is_empty(),
        "all eight fitted in 48 MiB: {outcomes:?}"
    );
    for error in &refused {
        assert!(
            error.contains("function hold")
                && error.contains("the query memory limit was reached")
                && error.contains("--memory-limit"),
            "{error}"
        );
    }
    let pool = &engine.context().runtime_env().memory_pool;
    assert!(pool.reserved() <= 48 * MIB, "{} reserved", pool.reserved());
    // Idle instances give their memory back when a new query needs it.
    assert_eq!(value(&engine, "SELECT hold(40)").await, Ok(Some(40)));
}
