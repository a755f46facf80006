//! What the WASM benchmarks share: TPC-H `lineitem` in memory, running a
//! query the way the CLI does, and alternating rounds for ratios.

// Each benchmark binary compiles this module and uses a part of it.
#![allow(dead_code)]

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
use wasql_engine::Engine;

/// Alternating rounds behind a summary's ratios.
pub const ROUNDS: usize = 21;

/// `$WASQL_TPCH_SF`, default 1.
pub fn scale_factor() -> f64 {
    std::env::var("WASQL_TPCH_SF")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// `udfs/dist` of this checkout, which must hold `modules` (file names).
pub fn udf_dist(modules: &[&str]) -> PathBuf {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("udfs/dist");
    for module in modules {
        assert!(
            dist.join(module).exists(),
            "run `bash udfs/build.sh` first: {} has no {module}",
            dist.display()
        );
    }
    dist
}

/// `lineitem` at scale factor `sf` as `li` (p, d, t, c: extended price,
/// discount, tax as DOUBLE, comment as VARCHAR; rf, ls: return flag and
/// line status as VARCHAR; ok: order key) in every engine — the same
/// arrays, so that native and UDF versions read exactly the same data.
pub fn lineitem(rt: &Runtime, engines: &[&Engine], sf: f64) -> datafusion::error::Result<()> {
    let batches = LineItemArrow::new(LineItemGenerator::new(sf, 1, 1))
        .with_batch_size(8192)
        .collect::<Result<Vec<RecordBatch>, _>>()?;
    let raw = MemTable::try_new(batches[0].schema(), vec![batches])?;
    let ctx = engines[0].context();
    ctx.register_table("lineitem_raw", Arc::new(raw))?;
    let table: Arc<MemTable> = rt.block_on(async {
        let frame = ctx
            .sql(
                "SELECT CAST(l_extendedprice AS DOUBLE) AS p, CAST(l_discount AS DOUBLE) AS d, \
                 CAST(l_tax AS DOUBLE) AS t, arrow_cast(l_comment, 'Utf8') AS c, \
                 arrow_cast(l_returnflag, 'Utf8') AS rf, arrow_cast(l_linestatus, 'Utf8') AS ls, \
                 l_orderkey AS ok FROM lineitem_raw",
            )
            .await?;
        let schema = frame.schema().inner().clone();
        let partitions = frame.collect_partitioned().await?;
        Ok::<_, datafusion::error::DataFusionError>(Arc::new(MemTable::try_new(
            schema, partitions,
        )?))
    })?;
    ctx.deregister_table("lineitem_raw")?;
    for engine in engines {
        engine.context().register_table("li", table.clone())?;
    }
    Ok(())
}

/// An engine with the UDF modules `modules` of `udfs/dist` and `lineitem`
/// at scale factor `sf` (see [`lineitem`]); says how long loading took.
pub fn engine_with_lineitem(
    rt: &Runtime,
    modules: &[&str],
    sf: f64,
) -> datafusion::error::Result<Engine> {
    let engine = Engine::new(&wasql_engine::EngineSettings::default())?;
    engine.load_udf_dir(&udf_dist(modules))?;
    let started = Instant::now();
    lineitem(rt, &[&engine], sf)?;
    eprintln!(
        "lineitem SF{sf} in memory in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(engine)
}

/// Runs `sql` the way the CLI does and returns its only value as text.
pub async fn run(engine: &Engine, sql: &str) -> String {
    let query = engine.prepare(sql).await.expect("plan");
    let batches = collect(query.execute().expect("execute"))
        .await
        .expect("run");
    datafusion::arrow::util::display::array_value_to_string(batches[0].column(0), 0).expect("value")
}

pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `a` and `b` run alternately for [`ROUNDS`] rounds; see [`alternate_for`].
pub fn alternate(
    rt: &Runtime,
    a: (&Engine, &str),
    b: (&Engine, &str),
) -> (Duration, Duration, f64) {
    alternate_for(ROUNDS, rt, a, b)
}

/// `a` and `b` run alternately (each first in every other round), so that a
/// slow spell of this shared machine slows both: their median times and the
/// median of the rounds' b/a ratios.
pub fn alternate_for(
    rounds: usize,
    rt: &Runtime,
    a: (&Engine, &str),
    b: (&Engine, &str),
) -> (Duration, Duration, f64) {
    let time = |(engine, sql): (&Engine, &str)| {
        let start = Instant::now();
        rt.block_on(run(engine, sql));
        start.elapsed()
    };
    let (mut times_a, mut times_b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = time(a);
            (x, time(b))
        } else {
            let y = time(b);
            (time(a), y)
        };
        times_a.push(x);
        times_b.push(y);
        ratios.push(y.as_secs_f64() / x.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    (
        median(&mut times_a),
        median(&mut times_b),
        ratios[ratios.len() / 2],
    )
}

/// A query done natively and with a UDF: (name, native SQL, UDF SQL).
pub type Pair = (&'static str, &'static str, &'static str);

/// Measures each pair with criterion, then runs it in alternating rounds;
/// returns (name, native median, UDF median, median UDF/native ratio) for
/// the pairs a name filter on the command line kept.
pub fn compare(
    rt: &Runtime,
    engine: &Engine,
    pairs: &[Pair],
) -> Vec<(&'static str, Duration, Duration, f64)> {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut results = Vec::new();
    for &(name, native, udf) in pairs {
        let mut measured = [false, false];
        let mut group = criterion.benchmark_group(name);
        for (side, sql) in [native, udf].into_iter().enumerate() {
            let label = if side == 0 { "native" } else { "udf" };
            group.bench_function(label, |b| {
                b.iter_custom(|iterations| {
                    measured[side] = true;
                    let start = Instant::now();
                    for _ in 0..iterations {
                        rt.block_on(run(engine, sql));
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();
        // A pair left out by a name filter on the command line was not run.
        if measured.contains(&false) {
            continue;
        }
        let (native_time, udf_time, ratio) = alternate(rt, (engine, native), (engine, udf));
        results.push((name, native_time, udf_time, ratio));
    }
    results
}

/// Prints [`compare`]'s results as a table.
pub fn print_ratios(title: &str, results: &[(&str, Duration, Duration, f64)]) {
    println!("\n{title}, {ROUNDS} alternating rounds, medians:");
    println!(
        "{:<36} {:>10} {:>10} {:>7}",
        "query", "native", "udf", "ratio"
    );
    for (name, native, udf, ratio) in results {
        println!(
            "{name:<36} {:>8.1}ms {:>8.1}ms {ratio:>6.2}x",
            native.as_secs_f64() * 1e3,
            udf.as_secs_f64() * 1e3,
        );
    }
}
