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

use tokio::runtime::Runtime;
use wasql_engine::{Engine, EngineSettings};

mod common;
use common::{
    Pair, compare, engine_with_lineitem, median, print_ratios, run, scale_factor, udf_dist,
};

/// The same result both ways.
const PAIRS: [Pair; 4] = [
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
    let engine = engine_with_lineitem(&rt, &["numeric.wasm"], sf)?;

    // Same answers both ways (up to float rounding of the sums).
    for (name, native, udf) in PAIRS {
        let (a, b) = rt.block_on(async { (run(&engine, native).await, run(&engine, udf).await) });
        let (x, y): (f64, f64) = (a.parse().expect("number"), b.parse().expect("number"));
        assert!(
            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            "{name}: native {a}, UDF {b}"
        );
    }

    let results = compare(&rt, &engine, &PAIRS);

    // Module load: first compile (empty cache) and a cached load.
    let cache = tempfile::tempdir()?;
    // SAFETY: no other thread reads or writes the environment meanwhile (the
    // runtime's workers are idle between queries).
    unsafe { std::env::set_var("XDG_CACHE_HOME", cache.path()) };
    let dist = udf_dist(&[]);
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
    print_ratios(
        &format!("WASM UDF vs native on lineitem SF{sf} ({rows} rows)"),
        &results,
    );
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
