//! WASM scalar UDFs against the same logic in SQL built-ins, on TPC-H
//! `lineitem`, in the same run; and the cost of loading a module.
//!
//! ```text
//! bash udfs/build.sh && cargo bench --bench udf
//! WASQL_TPCH_SF=0.1 cargo bench --bench udf      # quick check
//! ```
//!
//! `lineitem` (scale factor `$WASQL_TPCH_SF`, default 1) is generated in
//! memory with `tpchgen-arrow` and registered as a table of the columns the
//! queries use, as DOUBLE and VARCHAR (Utf8), so that native and UDF
//! versions read exactly the same arrays. Criterion measures each query; the
//! summary then runs each pair in alternating rounds and prints the median
//! times and the median of the rounds' UDF/native ratios.

use std::time::{Duration, Instant};

use criterion::Criterion;
use tokio::runtime::Runtime;
use wasql::engine::{Engine, EngineSettings};

mod common;
use common::{ROUNDS, alternate, lineitem, median, run, scale_factor, udf_dist};

const SAMPLE_SIZE: usize = 10;
/// (name, native SQL, UDF SQL): the same result both ways.
const PAIRS: [(&str, &str, &str); 4] = [
    (
        "numeric map (scalar form)",
        "SELECT sum(p * (1 - d) * (1 + t)) FROM li",
        "SELECT sum(price_net(p, d, t)) FROM li",
    ),
    (
        "numeric map (batch form)",
        "SELECT sum(p * (1 - d) * (1 + t)) FROM li",
        "SELECT sum(price_net_batch(p, d, t)) FROM li",
    ),
    (
        "string map (scalar form)",
        "SELECT sum(length(upper(c))) FROM li",
        "SELECT sum(length(upper_ascii(c))) FROM li",
    ),
    (
        "string map (batch form)",
        "SELECT sum(length(upper(c))) FROM li",
        "SELECT sum(length(upper_ascii_batch(c))) FROM li",
    ),
];

fn main() -> datafusion::error::Result<()> {
    let sf = scale_factor();
    let rt = Runtime::new()?;
    let dist = udf_dist(&["numeric.wasm"]);
    let engine = Engine::new(&EngineSettings::default())?;
    engine.load_udf_dir(&dist)?;
    let started = Instant::now();
    lineitem(&rt, &[&engine], sf)?;
    eprintln!(
        "lineitem SF{sf} in memory in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Same answers both ways (up to float rounding of the sums).
    for (name, native, udf) in PAIRS {
        let (a, b) = rt.block_on(async { (run(&engine, native).await, run(&engine, udf).await) });
        let (x, y): (f64, f64) = (a.parse().expect("number"), b.parse().expect("number"));
        assert!(
            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            "{name}: native {a}, UDF {b}"
        );
    }

    let mut criterion = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut results = Vec::new();
    for (name, native, udf) in PAIRS {
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut group = criterion.benchmark_group(name);
        for (side, sql) in [native, udf].into_iter().enumerate() {
            let label = if side == 0 { "native" } else { "udf" };
            group.bench_function(label, |b| {
                b.iter_custom(|iterations| {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        rt.block_on(run(&engine, sql));
                    }
                    let elapsed = start.elapsed();
                    times[side].push(elapsed / iterations.max(1) as u32);
                    elapsed
                })
            });
        }
        group.finish();
        // A pair left out by a name filter on the command line has no samples.
        if times.iter().any(Vec::is_empty) {
            continue;
        }
        // The summary, from alternating rounds.
        let (native_time, udf_time, ratio) = alternate(&rt, (&engine, native), (&engine, udf));
        results.push((name, native_time, udf_time, ratio));
    }

    // Module load: first compile (empty cache) and a cached load.
    let cache = tempfile::tempdir()?;
    // SAFETY: no other thread reads or writes the environment meanwhile (the
    // runtime's workers are idle between queries).
    unsafe { std::env::set_var("XDG_CACHE_HOME", cache.path()) };
    let mut loads = Vec::new();
    for module in [
        "numeric",
        "slugify",
        "haversine",
        "png_edge_color",
        "luhn_c",
    ] {
        let dir = tempfile::tempdir()?;
        std::fs::copy(
            dist.join(format!("{module}.wasm")),
            dir.path().join("m.wasm"),
        )?;
        let time_load = || -> datafusion::error::Result<Duration> {
            let engine = Engine::new(&EngineSettings::default())?;
            let start = Instant::now();
            engine.load_udf_dir(dir.path())?;
            Ok(start.elapsed())
        };
        let first = time_load()?;
        let mut cached: Vec<Duration> = (0..9).map(|_| time_load()).collect::<Result<_, _>>()?;
        loads.push((module, first, median(&mut cached)));
    }

    let rows = rt.block_on(run(&engine, "SELECT count(*) FROM li"));
    println!(
        "\nWASM UDF vs native on lineitem SF{sf} ({rows} rows), {ROUNDS} alternating rounds, medians:"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>7}",
        "query", "native", "udf", "ratio"
    );
    for (name, native, udf, ratio) in &results {
        println!(
            "{name:<28} {:>8.1}ms {:>8.1}ms {ratio:>6.2}x",
            native.as_secs_f64() * 1e3,
            udf.as_secs_f64() * 1e3,
        );
    }
    println!("\nModule load: first (compile) and cached (median of 9):");
    for (module, first, cached) in &loads {
        println!(
            "{module:<16} first {:>8.1} ms   cached {:>6.2} ms",
            first.as_secs_f64() * 1e3,
            cached.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
