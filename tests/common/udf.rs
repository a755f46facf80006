//! What the UDF tests (`tests/udf_*.rs`) share beyond the sandbox: JSON
//! value helpers, the wording of guest failures, and the drivers of the
//! aggregate and table function tests.

use serde_json::Value;

use super::encode::{NOTHING, ONE, TinyModule, tiny_function};
use super::{Run, Sandbox, json_results};

/// A JSON value as f64.
#[track_caller]
pub fn float(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// `Some(text)` as JSON strings, `None` as null.
pub fn strings(values: &[Option<&str>]) -> Vec<Value> {
    values
        .iter()
        .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
        .collect()
}

/// The function-and-module prefix of every guest failure.
pub fn guest_failure(function: &str, module: &str) -> String {
    format!("function {function} (module {module})")
}

/// Whether two JSON values are equal, numbers within a relative 1e-12.
pub fn json_close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * y.abs().max(1.0)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_close(v, w))
        }
        _ => a == b,
    }
}

/// Asserts that `got` are exactly the rows `want`, in order, numbers
/// within a relative 1e-12 (a geometric mean goes through `ln` and `exp`).
#[track_caller]
pub fn assert_rows(what: &str, got: &[Value], want: &[Value]) {
    assert!(
        json_close(&Value::Array(got.to_vec()), &Value::Array(want.to_vec())),
        "{what}:\ngot  {}\nwant {}",
        Value::Array(got.to_vec()),
        Value::Array(want.to_vec())
    );
}

/// Runs `sqls` (one `-c` each) in one wasql, all of which must succeed,
/// and returns the rows of each one but the `CREATE` statements.
#[track_caller]
pub fn results_of(sandbox: &Sandbox, sqls: &[&str]) -> Vec<Vec<Value>> {
    let run = sandbox.query("json", sqls).success();
    assert_eq!(run.stderr, "", "{run:#?}");
    let results = json_results(&run.stdout);
    let queries = sqls.iter().filter(|s| !s.starts_with("CREATE")).count();
    assert_eq!(results.len(), queries, "{run:#?}");
    results
}

/// Ordinary statements run after failing ones (they need the `weighted_c`
/// and `tables` modules), and what they print as CSV.
pub const STILL_WORKS: &str = "SELECT 40 + 2 AS v;\n\
     SELECT weighted_avg(v, w) AS a FROM (VALUES (1.0, 1.0), (4.0, 3.0)) t(v, w);\n\
     SELECT token FROM tokenize('Still works') ORDER BY pos;\n";
pub const STILL_WORKS_OUTPUT: &str = "v\n42\na\n3.25\ntoken\nstill\nworks\n";

/// Runs the `failing` statements, then [`STILL_WORKS`], as one script in
/// one wasql (`--continue-on-error`, config `config`). Asserts that
/// statement `i` fails with one stderr line, at `<stdin>:i:`, containing
/// every one of its parts, and that the ordinary statements after them
/// print what they should.
#[track_caller]
pub fn assert_failures_contained(
    sandbox: &Sandbox,
    config: &str,
    failing: &[(String, Vec<String>)],
) -> Run {
    let mut script = String::new();
    for (sql, _) in failing {
        assert!(!sql.contains('\n'), "one line per statement: {sql}");
        script.push_str(sql);
        script.push_str(";\n");
    }
    script.push_str(STILL_WORKS);
    let run = sandbox.run_script(config, &script).exit(1);
    let lines = run.error_lines();
    assert_eq!(
        lines.len(),
        failing.len(),
        "one error line per failing statement: {run:#?}"
    );
    for (index, ((sql, parts), line)) in failing.iter().zip(&lines).enumerate() {
        let at = format!("<stdin>:{}:", index + 1);
        assert!(line.contains(&at), "{sql}\nerror not at {at}: {line}");
        for part in parts {
            assert!(
                line.contains(part.as_str()),
                "{sql}\nerror lacks {part:?}: {line}"
            );
        }
    }
    assert_eq!(run.stdout, STILL_WORKS_OUTPUT, "{run:#?}");
    run
}

/// How an aggregate is called, which decides how wasql drives the guest
/// (udfs/ABI.md §8).
#[derive(Clone, Copy, Debug)]
pub enum AggForm {
    /// `GROUP BY`: a `GroupsAccumulator` over one guest accumulator.
    GroupBy,
    /// No `GROUP BY`: one group, its state kept on the host.
    OneGroup,
    /// `agg(DISTINCT x)`.
    Distinct,
    /// `agg(x) OVER (PARTITION BY k ORDER BY x)`.
    Window,
}

/// A call of aggregate `function` in `form` over the DOUBLEs 1..=`rows`.
pub fn aggregate_call(function: &str, form: AggForm, rows: u32) -> String {
    let from = format!(
        "FROM (SELECT CAST(x AS DOUBLE) AS x, x % 2 AS k FROM generate_series(1, {rows}) t(x))"
    );
    match form {
        AggForm::GroupBy => format!("SELECT k, {function}(x) AS r {from} GROUP BY k ORDER BY k"),
        AggForm::OneGroup => format!("SELECT {function}(x) AS r {from}"),
        AggForm::Distinct => format!("SELECT {function}(DISTINCT x) AS r {from}"),
        AggForm::Window => {
            format!("SELECT {function}(x) OVER (PARTITION BY k ORDER BY x) AS r {from}")
        }
    }
}

/// Calls hostile aggregate `function` (module `hostile/agg_abuse`) over
/// `rows` rows in each of `forms`, in one wasql with 1 s deadlines and 64
/// MiB of memory; each call must fail naming the function, the module and
/// every one of `causes`, and wasql then runs ordinary queries.
#[track_caller]
pub fn assert_hostile_aggregate(
    function: &str,
    rows: u32,
    forms: &[AggForm],
    causes: &[&str],
) -> Run {
    let sandbox = Sandbox::with(&["hostile/agg_abuse", "weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let failure = guest_failure(function, &sandbox.module_path("hostile/agg_abuse"));
    let failing: Vec<(String, Vec<String>)> = forms
        .iter()
        .map(|&form| {
            let mut parts = vec![failure.clone()];
            parts.extend(causes.iter().map(|c| c.to_string()));
            (aggregate_call(function, form, rows), parts)
        })
        .collect();
    assert_failures_contained(&sandbox, &config, &failing)
}

/// Calls hostile table function `function` (module `hostile/table_abuse`)
/// in each of `calls` (`{f}` stands for the function); each must fail naming
/// the function, the module, "invalid result" and every one of its causes.
#[track_caller]
pub fn assert_hostile_table(function: &str, calls: &[(&str, &[&str])]) {
    let sandbox = Sandbox::with(&["hostile/table_abuse", "weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let failure = guest_failure(function, &sandbox.module_path("hostile/table_abuse"));
    let failing: Vec<(String, Vec<String>)> = calls
        .iter()
        .map(|(call, causes)| {
            let mut parts = vec![failure.clone(), "invalid result".to_string()];
            parts.extend(causes.iter().map(|c| c.to_string()));
            (call.replace("{f}", function), parts)
        })
        .collect();
    assert_failures_contained(&sandbox, &config, &failing);
}

/// Three documents for the table functions, each row its own part.
pub const DOCS: &str = "(VALUES (1, 'a b'), (2, 'c'), (3, 'd')) d(id, body)";

/// A minimal ABI v1 module describing one aggregate `name(float64) ->
/// float64` with exports `tiny_agg_new` ... `tiny_agg_drop`, leaving out
/// the one ending in `omit`. Every call but `E_new` and `E_drop` fails
/// without a message.
pub fn tiny_aggregate(name: &str, omit: Option<&str>) -> TinyModule {
    let all = [
        ("_new", 0, 1, ONE),
        ("_update", 7, 1, ONE),
        ("_merge", 6, 1, ONE),
        ("_state", 4, 1, ONE),
        ("_finish", 4, 1, ONE),
        ("_drop", 1, 0, NOTHING),
    ];
    let functions = all
        .into_iter()
        .filter(|(suffix, ..)| omit != Some(*suffix))
        .map(|(suffix, params, results, body)| {
            tiny_function(&format!("tiny_agg{suffix}"), params, results, body)
        })
        .collect();
    TinyModule::new(
        functions,
        format!(
            "{{\"abi\":1,\"name\":\"{name}\",\"kind\":\"aggregate\",\"export\":\"tiny_agg\",\"args\":[\"float64\"],\"returns\":\"float64\"}}\n"
        ),
    )
}

/// [`tiny_aggregate`] in the binary format.
pub fn tiny_aggregate_module(name: &str, omit: Option<&str>) -> Vec<u8> {
    tiny_aggregate(name, omit).assemble()
}

/// The haversine formula in SQL built-ins, R = 6371.0088 km.
pub fn haversine_sql(lat1: &str, lon1: &str, lat2: &str, lon2: &str) -> String {
    format!(
        "2 * 6371.0088 * asin(least(1.0, sqrt(\
           power(sin((radians({lat2}) - radians({lat1})) / 2), 2) \
           + cos(radians({lat1})) * cos(radians({lat2})) \
             * power(sin(radians({lon2} - {lon1}) / 2), 2))))"
    )
}
