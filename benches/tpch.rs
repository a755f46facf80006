//! TPC-H benchmark: the 22 queries through wasql's session set-up and through
//! a plain, default DataFusion [`SessionContext`], in the same run.
//!
//! ```text
//! cargo bench --bench tpch                       # scale factor 1
//! WASQL_TPCH_SF=0.1 cargo bench --bench tpch     # quick check
//! cargo bench --bench tpch -- 'q1$'              # criterion filter
//! ```
//!
//! Data is generated once with `tpchgen-arrow` into one Parquet file per table
//! in `$WASQL_TPCH_DIR`, else `$HOME/.cache/wasql/tpch-sf<SF>/`, and reused
//! after that. Both sides read the same files.
//!
//! - wasql side: [`Engine::new`] with default settings, then every statement
//!   runs as the CLI runs it: [`Engine::prepare`], `Query::execute`, drain.
//! - plain side: [`SessionContext::new`], then `ctx.sql(..).collect()`.
//!
//! Each query is checked first: both sides must return the same, non-zero
//! number of rows. Criterion then measures `wasql/qN` and `plain/qN` back to
//! back for each query (alternating which goes first) so both see the same
//! machine noise. At the end a summary table prints the median time of each
//! query on each side, and the TOTAL (sum of medians) with the ratio
//! wasql/plain.

#[path = "common/tpch_data.rs"]
mod tpch_data;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::Result;
use datafusion::physical_plan::common::collect;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use tokio::runtime::Runtime;
use wasql_engine::{Engine, EngineSettings};

/// Samples per benchmark; the summary uses the last `SAMPLE_SIZE` samples of
/// each benchmark (criterion's warm-up runs come before them).
const SAMPLE_SIZE: usize = 10;
const WARM_UP_TIME: Duration = Duration::from_secs(1);
const MEASUREMENT_TIME: Duration = Duration::from_secs(5);

/// The 22 TPC-H queries with the validation substitution parameters.
/// Statements are separated by `;` (only Q15 has more than one).
const QUERIES: [&str; 22] = [
    include_str!("tpch/q1.sql"),
    include_str!("tpch/q2.sql"),
    include_str!("tpch/q3.sql"),
    include_str!("tpch/q4.sql"),
    include_str!("tpch/q5.sql"),
    include_str!("tpch/q6.sql"),
    include_str!("tpch/q7.sql"),
    include_str!("tpch/q8.sql"),
    include_str!("tpch/q9.sql"),
    include_str!("tpch/q10.sql"),
    include_str!("tpch/q11.sql"),
    include_str!("tpch/q12.sql"),
    include_str!("tpch/q13.sql"),
    include_str!("tpch/q14.sql"),
    include_str!("tpch/q15.sql"),
    include_str!("tpch/q16.sql"),
    include_str!("tpch/q17.sql"),
    include_str!("tpch/q18.sql"),
    include_str!("tpch/q19.sql"),
    include_str!("tpch/q20.sql"),
    include_str!("tpch/q21.sql"),
    include_str!("tpch/q22.sql"),
];

/// Which session runs a query.
#[derive(Clone, Copy)]
enum Side {
    Wasql = 0,
    Plain = 1,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Wasql => "wasql",
            Side::Plain => "plain",
        }
    }
}

/// The two sessions, with the TPC-H tables registered on both.
struct Sessions {
    wasql: Engine,
    plain: SessionContext,
}

impl Sessions {
    async fn new(dir: &Path) -> Result<Sessions> {
        let wasql = Engine::new(&EngineSettings::default())?;
        let plain = SessionContext::new();
        for ctx in [wasql.context(), &plain] {
            for table in tpch_data::TABLES {
                let path = dir.join(format!("{table}.parquet"));
                let path = path.to_str().expect("data directory is not UTF-8");
                ctx.register_parquet(table, path, ParquetReadOptions::default())
                    .await?;
            }
        }
        Ok(Sessions { wasql, plain })
    }

    /// Runs the statements of one query on one side and returns all rows.
    async fn run(&self, side: Side, statements: &[&str]) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        for sql in statements {
            match side {
                Side::Wasql => {
                    let query = self.wasql.prepare(sql).await?;
                    batches.extend(collect(query.execute()?).await?);
                }
                Side::Plain => batches.extend(self.plain.sql(sql).await?.collect().await?),
            }
        }
        Ok(batches)
    }
}

/// The scale factor: `$WASQL_TPCH_SF`, default 1.
fn scale_factor() -> f64 {
    match std::env::var("WASQL_TPCH_SF") {
        Ok(sf) => sf.parse().expect("WASQL_TPCH_SF must be a number"),
        Err(_) => 1.0,
    }
}

/// Runs every query once on each side: both must succeed and return the same
/// non-zero number of rows. Warns if the printed results differ.
fn check(rt: &Runtime, sessions: &Sessions, queries: &[Vec<&str>]) {
    for (i, statements) in queries.iter().enumerate() {
        let q = i + 1;
        let wasql = rt.block_on(sessions.run(Side::Wasql, statements));
        let plain = rt.block_on(sessions.run(Side::Plain, statements));
        let (wasql, plain) = match (wasql, plain) {
            (Ok(wasql), Ok(plain)) => (wasql, plain),
            (wasql, plain) => panic!(
                "q{q} failed: wasql {:?}, plain {:?}",
                wasql.err(),
                plain.err()
            ),
        };
        let rows = |batches: &[RecordBatch]| batches.iter().map(RecordBatch::num_rows).sum();
        let (wasql_rows, plain_rows): (usize, usize) = (rows(&wasql), rows(&plain));
        assert!(
            wasql_rows > 0 && wasql_rows == plain_rows,
            "q{q}: wasql returned {wasql_rows} rows, plain {plain_rows}"
        );
        let text = |batches: &[RecordBatch]| pretty_format_batches(batches).unwrap().to_string();
        if text(&wasql) != text(&plain) {
            eprintln!("warning: q{q}: wasql and plain return different values");
        }
        eprintln!("q{q}: {wasql_rows} rows");
    }
}

/// The median and the minimum of the last `SAMPLE_SIZE` per-iteration
/// times, if there are any.
fn median_and_min(samples: &[Duration]) -> Option<(Duration, Duration)> {
    let mut last = samples[samples.len().saturating_sub(SAMPLE_SIZE)..].to_vec();
    last.sort();
    let n = last.len();
    let median = match n {
        0 => return None,
        n if n % 2 == 1 => last[n / 2],
        n => (last[n / 2 - 1] + last[n / 2]) / 2,
    };
    Some((median, last[0]))
}

/// Prints per-query medians and the TOTAL (sum of medians) with the ratio
/// wasql/plain. The sum of per-query minimums follows as a cross-check that
/// is less sensitive to other load on the machine.
fn summary(sf: f64, samples: &[[Vec<Duration>; 2]]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let row = |name: &str, wasql: Duration, plain: Duration| {
        let (wasql, plain) = (ms(wasql), ms(plain));
        println!(
            "{name:<10} {wasql:>10.1} {plain:>10.1} {:>8.3}",
            wasql / plain
        );
    };
    println!();
    println!("TPC-H SF{sf}: median per query, wasql session vs plain DataFusion SessionContext");
    println!(
        "{:<10} {:>10} {:>10} {:>8}",
        "query", "wasql ms", "plain ms", "ratio"
    );
    let mut median_total = [Duration::ZERO; 2];
    let mut min_total = [Duration::ZERO; 2];
    for (i, [wasql, plain]) in samples.iter().enumerate() {
        let (Some(wasql), Some(plain)) = (median_and_min(wasql), median_and_min(plain)) else {
            continue;
        };
        row(&format!("q{}", i + 1), wasql.0, plain.0);
        median_total = [median_total[0] + wasql.0, median_total[1] + plain.0];
        min_total = [min_total[0] + wasql.1, min_total[1] + plain.1];
    }
    row("TOTAL", median_total[0], median_total[1]);
    row("TOTAL min", min_total[0], min_total[1]);
}

fn main() -> Result<()> {
    let sf = scale_factor();
    let dir = tpch_data::data_dir(sf);
    tpch_data::generate(&dir, sf)?;

    let rt = Runtime::new()?;
    let sessions = rt.block_on(Sessions::new(&dir))?;
    let queries: Vec<Vec<&str>> = QUERIES.iter().map(|q| tpch_data::statements(q)).collect();
    check(&rt, &sessions, &queries);

    let mut criterion = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(WARM_UP_TIME)
        .measurement_time(MEASUREMENT_TIME)
        .configure_from_args();
    let mut group = criterion.benchmark_group("tpch");
    group.sampling_mode(SamplingMode::Flat);

    // Per query, per side: the time of one run in each criterion call.
    let mut samples: Vec<[Vec<Duration>; 2]> = vec![Default::default(); QUERIES.len()];
    for (i, statements) in queries.iter().enumerate() {
        let sides = if i % 2 == 0 {
            [Side::Wasql, Side::Plain]
        } else {
            [Side::Plain, Side::Wasql]
        };
        for side in sides {
            let recorded = &mut samples[i][side as usize];
            group.bench_function(format!("{}/q{}", side.name(), i + 1), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        rt.block_on(sessions.run(side, statements))
                            .expect("query failed");
                    }
                    let elapsed = start.elapsed();
                    recorded.push(elapsed.div_f64(iters as f64));
                    elapsed
                })
            });
        }
    }
    group.finish();
    criterion.final_summary();

    summary(sf, &samples);
    Ok(())
}
