//! Cluster benchmark: the same work on the embedded engine and on a cluster
//! on this machine (a scheduler and two executors, separate `wasql`
//! processes on 127.0.0.1, two tasks at once each), in one run:
//!
//! - the 22 TPC-H queries, per query and in total (scale factor
//!   `$WASQL_TPCH_SF`, default 1; the data of `benches/tpch.rs`);
//! - a UDF-heavy query over `lineitem`: a scalar WASM UDF (`price_net`) and
//!   a grouped WASM aggregate (`geo_mean`);
//! - the first call of a module the executors have never seen, small
//!   (carried in the plan) and 17 MB (fetched from the scheduler's depot),
//!   against the same query again.
//!
//! ```text
//! cargo bench --bench cluster
//! WASQL_TPCH_SF=0.1 cargo bench --bench cluster    # quick check
//! ```
//!
//! Both sides are wasql sessions in this process (`Engine::new` and
//! `wasql_cluster::client::connect`), run the way the CLI runs statements,
//! alternately (each first in every other round): medians, and the median
//! of the rounds' cluster/embedded ratios.

#[path = "common/mod.rs"]
mod bench;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "common/tpch_data.rs"]
mod tpch_data;

use std::time::{Duration, Instant};

use datafusion::error::Result;
use datafusion::physical_plan::common::collect;
use datafusion::prelude::ParquetReadOptions;
use tokio::runtime::Runtime;
use wasql_engine::{Engine, EngineSettings};

use common::Sandbox;
use common::cluster::Cluster;

/// Rounds per TPC-H query, and for the UDF query.
const TPCH_ROUNDS: usize = 5;
const UDF_ROUNDS: usize = 11;

const UDF_QUERY: &str = "SELECT l_returnflag, l_linestatus, \
     sum(price_net(CAST(l_extendedprice AS DOUBLE), CAST(l_discount AS DOUBLE), CAST(l_tax AS DOUBLE))) AS net, \
     geo_mean(CAST(l_quantity AS DOUBLE)) AS g \
     FROM lineitem GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus";

/// Runs every statement of `statements`; the time it took.
fn time(rt: &Runtime, engine: &Engine, statements: &[&str]) -> Duration {
    let start = Instant::now();
    rt.block_on(async {
        for sql in statements {
            let query = engine.prepare(sql).await.expect("plan");
            collect(query.execute().expect("execute"))
                .await
                .expect("run");
        }
    });
    start.elapsed()
}

/// `statements` on both sides for `rounds` alternating rounds: the median
/// times (embedded, cluster) and the median cluster/embedded ratio.
fn both(
    rounds: usize,
    rt: &Runtime,
    sides: [&Engine; 2],
    statements: &[&str],
) -> (Duration, Duration, f64) {
    let (mut times, mut ratios) = ([Vec::new(), Vec::new()], Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut took = [Duration::ZERO; 2];
        for side in order {
            took[side] = time(rt, sides[side], statements);
            times[side].push(took[side]);
        }
        ratios.push(took[1].as_secs_f64() / took[0].as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let [mut embedded, mut cluster] = times;
    (
        bench::median(&mut embedded),
        bench::median(&mut cluster),
        ratios[ratios.len() / 2],
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<()> {
    let sf = bench::scale_factor();
    let dir = tpch_data::data_dir(sf);
    tpch_data::generate(&dir, sf)?;
    let rt = Runtime::new()?;

    let sandbox = Sandbox::new();
    let udfs = sandbox.udfs();
    // The modules loaded at the start; `slugify` and a 17 MB copy of it are
    // first called when their shipping is measured.
    for module in ["numeric", "stats", "slugify"] {
        sandbox.add_module(module);
    }
    let mut big = std::fs::read(common::modules::module_file("slugify"))?;
    let mut padding = common::encode::wasm_vec(b"padding");
    padding.extend(vec![0x5a; 17 << 20]);
    big.extend(common::encode::wasm_section(0, &padding));
    let big_path = sandbox.write("big/big.wasm", &big);

    let cluster = Cluster::start(&sandbox, "");
    let settings = EngineSettings::default();
    let embedded = Engine::new(&settings)?;
    let on_cluster = rt.block_on(wasql_cluster::client::connect(&cluster.url, &settings))?;
    let sides = [&embedded, &on_cluster];
    for engine in sides {
        engine.load_udf_dir(&udfs)?;
        rt.block_on(async {
            for table in tpch_data::TABLES {
                let path = dir.join(format!("{table}.parquet"));
                let path = path.to_str().expect("data directory is not UTF-8");
                engine
                    .context()
                    .register_parquet(table, path, ParquetReadOptions::default())
                    .await?;
            }
            let create = format!(
                "CREATE FUNCTION big_slugify(VARCHAR) RETURNS VARCHAR LANGUAGE wasm AS '{}#slugify'",
                big_path.display()
            );
            collect(engine.prepare(&create).await?.execute()?).await?;
            Ok::<_, datafusion::error::DataFusionError>(())
        })?;
    }

    // The first call of a module on the cluster, then the same again.
    let mut shipping = Vec::new();
    for (name, function) in [
        ("slugify, 0.1 MB, in the plan", "slugify"),
        ("17 MB, from the depot", "big_slugify"),
    ] {
        let sql = format!("SELECT count(DISTINCT {function}(n_name)) FROM nation");
        let statements = [sql.as_str()];
        let first = time(&rt, &on_cluster, &statements);
        let mut again: Vec<Duration> = (0..5)
            .map(|_| time(&rt, &on_cluster, &statements))
            .collect();
        shipping.push((name, first, bench::median(&mut again)));
    }

    let queries: Vec<String> = (1..=22)
        .map(|q| {
            let path = format!("{}/benches/tpch/q{q}.sql", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .collect();
    let mut tpch = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        let statements = tpch_data::statements(query);
        let result = both(TPCH_ROUNDS, &rt, sides, &statements);
        eprintln!(
            "q{}: {:.0} ms embedded, {:.0} ms cluster",
            i + 1,
            ms(result.0),
            ms(result.1)
        );
        tpch.push(result);
    }
    let udf = both(UDF_ROUNDS, &rt, sides, &[UDF_QUERY]);

    println!(
        "\nTPC-H SF{sf}, embedded vs cluster (scheduler + 2 executors, 2 tasks each) on this machine, {TPCH_ROUNDS} alternating rounds, medians:"
    );
    println!(
        "{:<8} {:>12} {:>12} {:>7}",
        "query", "embedded", "cluster", "ratio"
    );
    let (mut total_embedded, mut total_cluster) = (Duration::ZERO, Duration::ZERO);
    for (i, (embedded, cluster, ratio)) in tpch.iter().enumerate() {
        println!(
            "q{:<7} {:>10.1}ms {:>10.1}ms {ratio:>6.2}x",
            i + 1,
            ms(*embedded),
            ms(*cluster)
        );
        total_embedded += *embedded;
        total_cluster += *cluster;
    }
    println!(
        "{:<8} {:>10.1}ms {:>10.1}ms {:>6.2}x",
        "TOTAL",
        ms(total_embedded),
        ms(total_cluster),
        total_cluster.as_secs_f64() / total_embedded.as_secs_f64()
    );
    println!(
        "\nUDF query (price_net + geo_mean over lineitem), {UDF_ROUNDS} alternating rounds, medians:"
    );
    println!(
        "embedded {:.1} ms, cluster {:.1} ms, ratio {:.2}x",
        ms(udf.0),
        ms(udf.1),
        udf.2
    );
    println!(
        "\nFirst call of a module the executors never saw, vs the same query again (median of 5):"
    );
    for (name, first, again) in shipping {
        println!(
            "{name:<32} first {:.1} ms, again {:.1} ms: shipping cost {:.1} ms",
            ms(first),
            ms(again),
            ms(first) - ms(again)
        );
    }
    Ok(())
}
