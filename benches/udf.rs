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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::common::collect;
use tokio::runtime::Runtime;
use tpchgen::generators::LineItemGenerator;
use tpchgen_arrow::LineItemArrow;
use wasql::engine::{Engine, EngineSettings};

const SAMPLE_SIZE: usize = 10;
/// Alternating native/UDF rounds behind the summary's ratios.
const ROUNDS: usize = 21;

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

fn scale_factor() -> f64 {
    std::env::var("WASQL_TPCH_SF")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn udf_dist() -> PathBuf {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("udfs/dist");
    assert!(
        dist.join("numeric.wasm").exists(),
        "run `bash udfs/build.sh` first: {} has no numeric.wasm",
        dist.display()
    );
    dist
}

/// `lineitem` as (p, d, t, c): extended price, discount, tax, comment.
fn lineitem(rt: &Runtime, engine: &Engine, sf: f64) -> datafusion::error::Result<()> {
    let batches = LineItemArrow::new(LineItemGenerator::new(sf, 1, 1))
        .with_batch_size(8192)
        .collect::<Result<Vec<RecordBatch>, _>>()?;
    let raw = MemTable::try_new(batches[0].schema(), vec![batches])?;
    let ctx = engine.context();
    ctx.register_table("lineitem_raw", Arc::new(raw))?;
    rt.block_on(async {
        let frame = ctx
            .sql(
                "SELECT CAST(l_extendedprice AS DOUBLE) AS p, CAST(l_discount AS DOUBLE) AS d, \
                 CAST(l_tax AS DOUBLE) AS t, arrow_cast(l_comment, 'Utf8') AS c FROM lineitem_raw",
            )
            .await?;
        let schema = frame.schema().inner().clone();
        let partitions = frame.collect_partitioned().await?;
        ctx.register_table("li", Arc::new(MemTable::try_new(schema, partitions)?))?;
        ctx.deregister_table("lineitem_raw")?;
        Ok(())
    })
}

/// Runs `sql` the way the CLI does and returns its only value as text.
async fn run(engine: &Engine, sql: &str) -> String {
    let query = engine.prepare(sql).await.expect("plan");
    let batches = collect(query.execute().expect("execute"))
        .await
        .expect("run");
    datafusion::arrow::util::display::array_value_to_string(batches[0].column(0), 0).expect("value")
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> datafusion::error::Result<()> {
    let sf = scale_factor();
    let rt = Runtime::new()?;
    let dist = udf_dist();
    let engine = Engine::new(&EngineSettings::default())?;
    engine.load_udf_dir(&dist)?;
    let started = Instant::now();
    lineitem(&rt, &engine, sf)?;
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
        // The summary: native and UDF run alternately (each first in every
        // other round), so that a slow spell of this shared machine slows
        // both; the ratio is the median of the rounds' ratios.
        let (mut natives, mut udfs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let time = |sql| {
                let start = Instant::now();
                rt.block_on(run(&engine, sql));
                start.elapsed()
            };
            let (n, u) = if round % 2 == 0 {
                let n = time(native);
                (n, time(udf))
            } else {
                let u = time(udf);
                (time(native), u)
            };
            natives.push(n);
            udfs.push(u);
            ratios.push(u.as_secs_f64() / n.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        results.push((
            name,
            median(&mut natives),
            median(&mut udfs),
            ratios[ratios.len() / 2],
        ));
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
