//! WASM aggregate and table functions against the same work done with SQL
//! built-ins, on TPC-H `lineitem`, in the same run.
//!
//! ```text
//! bash udfs/build.sh && cargo bench --bench kinds
//! WASQL_TPCH_SF=0.1 cargo bench --bench kinds      # quick check
//! ```
//!
//! `geo_mean` (udfs/examples/stats) against `exp(avg(ln(x)))`, grouped by
//! the two flags (4 groups) and by the order key (1.5M groups at SF1);
//! `tokenize` (udfs/examples/tables) applied to every comment against
//! `unnest` of a split. Criterion measures each query; the summary runs each
//! pair in alternating rounds (see benches/common) and prints the median
//! times and the median of the rounds' UDF/native ratios.

use tokio::runtime::Runtime;
use wasql_engine::Engine;

mod common;
use common::{Pair, compare, engine_with_lineitem, print_ratios, run, scale_factor};

const PAIRS: [Pair; 3] = [
    (
        "geo_mean GROUP BY flags",
        "SELECT sum(g) FROM (SELECT rf, ls, exp(avg(ln(p))) AS g FROM li GROUP BY rf, ls)",
        "SELECT sum(g) FROM (SELECT rf, ls, geo_mean(p) AS g FROM li GROUP BY rf, ls)",
    ),
    (
        "geo_mean GROUP BY order key",
        "SELECT sum(g) FROM (SELECT ok, exp(avg(ln(p))) AS g FROM li GROUP BY ok)",
        "SELECT sum(g) FROM (SELECT ok, geo_mean(p) AS g FROM li GROUP BY ok)",
    ),
    (
        "tokenize, count of tokens",
        "SELECT count(*) FROM (SELECT unnest(string_to_array(c, ' ')) FROM li)",
        "SELECT count(*) FROM li CROSS JOIN LATERAL tokenize(li.c) AS t",
    ),
];

/// Checks that the UDFs answer right: `geo_mean` as `exp(avg(ln(x)))` to
/// rounding, per group; `tokenize`'s token count as splitting the comments
/// (ASCII) on runs of other characters than letters and digits in SQL.
fn check(rt: &Runtime, engine: &Engine) {
    for key in ["rf, ls", "ok"] {
        let worst: f64 = rt
            .block_on(run(
                engine,
                &format!(
                    "SELECT max(abs(a - b) / b) FROM (SELECT {key}, geo_mean(p) AS a, \
                     exp(avg(ln(p))) AS b FROM li GROUP BY {key})"
                ),
            ))
            .parse()
            .expect("number");
        assert!(
            worst < 1e-9,
            "geo_mean GROUP BY {key}: relative error {worst}"
        );
    }
    let reference = "SELECT count(*) FROM (SELECT unnest(string_to_array(\
                     trim(regexp_replace(lower(c), '[^a-z0-9]+', ' ', 'g')), ' ')) AS w FROM li) \
                     WHERE w <> ''";
    let (reference, udf) =
        rt.block_on(async { (run(engine, reference).await, run(engine, PAIRS[2].2).await) });
    assert_eq!(reference, udf, "token counts");
}

fn main() -> datafusion::error::Result<()> {
    let sf = scale_factor();
    let rt = Runtime::new()?;
    let engine = engine_with_lineitem(&rt, &["stats.wasm", "tables.wasm"], sf)?;
    check(&rt, &engine);
    let results = compare(&rt, &engine, &PAIRS);
    let rows = rt.block_on(run(&engine, "SELECT count(*) FROM li"));
    print_ratios(
        &format!("WASM aggregate and table functions vs native on lineitem SF{sf} ({rows} rows)"),
        &results,
    );
    Ok(())
}
