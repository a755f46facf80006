//! Aggregate and table functions in WebAssembly: their results in every calling form, and the wrong uses wasql refuses.
//!
//! Driven through the `wasql` binary the way a user drives it (`--udfs DIR`,
//! `\\udf` meta-commands, `CREATE FUNCTION`, config files); the modules come
//! from `udfs/dist` (built by `bash udfs/build.sh`) and the helpers from
//! `tests/common`.

use serde_json::Value;

mod common;
use common::udf::*;
use common::*;

// ---------------------------------------------------------------------------
// Aggregate and table functions: results
// ---------------------------------------------------------------------------

/// geo_mean: NULLs, zeros and negatives ignored; NULL for no rows; GROUP
/// BY with ORDER BY on the result; a window; DISTINCT; FILTER.
#[test]
fn geo_mean_results() {
    let sandbox = Sandbox::with(&["stats"]);
    let results = results_of(
        &sandbox,
        &[
            "SELECT geo_mean(x) AS g FROM (VALUES (2.0), (8.0), (NULL), (-1.0), (0.0)) t(x)",
            "SELECT geo_mean(x) AS g, count(*) AS n FROM (VALUES (1.0)) t(x) WHERE x > 5",
            "SELECT geo_mean(CAST(NULL AS DOUBLE)) AS g",
            "SELECT k, geo_mean(x) AS g FROM (VALUES ('a', 2.0), ('a', 8.0), ('b', NULL), \
             ('c', 3.0), ('c', -3.0), ('c', 12.0), ('d', 1.0), ('d', 10.0), ('d', 100.0)) t(k, x) \
             GROUP BY k ORDER BY g DESC NULLS LAST",
            "SELECT k, i, geo_mean(x) OVER (PARTITION BY k ORDER BY i) AS g \
             FROM (VALUES ('a', 1, 2.0), ('a', 2, 8.0), ('a', 3, NULL), ('a', 4, 0.5), \
                          ('b', 1, NULL), ('b', 2, 9.0)) t(k, i, x) ORDER BY k, i",
            "SELECT geo_mean(DISTINCT x) AS d, geo_mean(x) AS a \
             FROM (VALUES (2.0), (2.0), (2.0), (16.0)) t(x)",
            "SELECT k, geo_mean(DISTINCT x) AS d FROM (VALUES ('a', 2.0), ('a', 2.0), ('a', 8.0), \
             ('b', 3.0), ('b', 3.0)) t(k, x) GROUP BY k ORDER BY k",
            "SELECT geo_mean(x) FILTER (WHERE x > 1) AS f FROM (VALUES (0.25), (4.0), (9.0)) t(x)",
            "SELECT k, geo_mean(x) FILTER (WHERE x > 1) AS f \
             FROM (VALUES ('a', 0.25), ('a', 4.0), ('a', 9.0), ('b', 0.5)) t(k, x) \
             GROUP BY k ORDER BY k",
        ],
    );
    use serde_json::json;
    let want: [Vec<Value>; 9] = [
        vec![json!({"g": 4.0})],
        vec![json!({"g": null, "n": 0})],
        vec![json!({"g": null})],
        vec![
            json!({"k": "d", "g": 10.0}),
            json!({"k": "c", "g": 6.0}),
            json!({"k": "a", "g": 4.0}),
            json!({"k": "b", "g": null}),
        ],
        vec![
            json!({"k": "a", "i": 1, "g": 2.0}),
            json!({"k": "a", "i": 2, "g": 4.0}),
            json!({"k": "a", "i": 3, "g": 4.0}),
            json!({"k": "a", "i": 4, "g": 2.0}),
            json!({"k": "b", "i": 1, "g": null}),
            json!({"k": "b", "i": 2, "g": 9.0}),
        ],
        // sqrt(2 * 16) and (2 * 2 * 2 * 16)^(1/4)
        vec![json!({"d": 32f64.sqrt(), "a": 128f64.powf(0.25)})],
        vec![json!({"k": "a", "d": 4.0}), json!({"k": "b", "d": 3.0})],
        vec![json!({"f": 6.0})],
        vec![json!({"k": "a", "f": 6.0}), json!({"k": "b", "f": null})],
    ];
    for (index, (got, want)) in results.iter().zip(&want).enumerate() {
        assert_rows(&format!("query {}", index + 1), got, want);
    }
}

/// Rows for weighted_avg: (k, i, v, w).
const WEIGHTED: &str = "(VALUES ('a', 1, 1.0, 1.0), ('a', 2, 4.0, 3.0), ('a', 3, NULL, 5.0), \
                        ('a', 4, 7.0, NULL), ('b', 1, 5.0, 0.0), ('c', 1, NULL, 1.0), \
                        ('d', 1, 2.0, 0.5), ('d', 2, 4.0, 1.5)) t(k, i, v, w)";

/// weighted_avg (C): rows with a NULL skipped, NULL when the weights sum to
/// 0 or there are no rows; GROUP BY; FILTER; DISTINCT.
#[test]
fn weighted_avg_results() {
    let sandbox = Sandbox::with(&["weighted_c"]);
    let data = WEIGHTED;
    let results = results_of(
        &sandbox,
        &[
            &format!("SELECT weighted_avg(v, w) AS a FROM {data} WHERE k = 'a'"),
            &format!("SELECT k, weighted_avg(v, w) AS a FROM {data} GROUP BY k ORDER BY k"),
            &format!("SELECT weighted_avg(v, w) AS a FROM {data} WHERE k = 'z'"),
            &format!(
                "SELECT k, weighted_avg(v, w) FILTER (WHERE w > 1) AS a FROM {data} \
                 GROUP BY k ORDER BY k"
            ),
            "SELECT weighted_avg(DISTINCT v, w) AS d, weighted_avg(v, w) AS a \
             FROM (VALUES (1.0, 1.0), (1.0, 1.0), (4.0, 3.0)) t(v, w)",
        ],
    );
    use serde_json::json;
    let want: [Vec<Value>; 5] = [
        // (1 + 12) / 4
        vec![json!({"a": 3.25})],
        vec![
            json!({"k": "a", "a": 3.25}),
            json!({"k": "b", "a": null}),
            json!({"k": "c", "a": null}),
            // (1 + 6) / 2
            json!({"k": "d", "a": 3.5}),
        ],
        vec![json!({"a": null})],
        vec![
            json!({"k": "a", "a": 4.0}),
            json!({"k": "b", "a": null}),
            json!({"k": "c", "a": null}),
            json!({"k": "d", "a": 4.0}),
        ],
        // distinct (1, 1), (4, 3): 13 / 4; all: 14 / 5
        vec![json!({"d": 3.25, "a": 2.8})],
    ];
    for (index, (got, want)) in results.iter().zip(&want).enumerate() {
        assert_rows(&format!("query {}", index + 1), got, want);
    }
}

/// weighted_avg in a window `OVER (PARTITION BY k ORDER BY i)`: the value
/// at each row is that of the rows so far, rows with a NULL skipped.
#[test]
fn weighted_avg_in_a_window_skips_rows_with_nulls() {
    let sandbox = Sandbox::with(&["weighted_c"]);
    let results = results_of(
        &sandbox,
        &[&format!(
            "SELECT k, i, weighted_avg(v, w) OVER (PARTITION BY k ORDER BY i) AS a \
             FROM {WEIGHTED} WHERE k IN ('a', 'd') ORDER BY k, i"
        )],
    );
    use serde_json::json;
    assert_rows(
        "window",
        &results[0],
        &[
            json!({"k": "a", "i": 1, "a": 1.0}),
            json!({"k": "a", "i": 2, "a": 3.25}),
            // (NULL, 5) and (7, NULL) add nothing.
            json!({"k": "a", "i": 3, "a": 3.25}),
            json!({"k": "a", "i": 4, "a": 3.25}),
            json!({"k": "d", "i": 1, "a": 2.0}),
            json!({"k": "d", "i": 2, "a": 3.5}),
        ],
    );
}

/// weighted_avg over 200,000 rows with NULLs in two partitions, with 97
/// groups, 200,000 groups (partial aggregation skipped) and none, equals
/// sum(v * w) / sum(w) over the rows where both are set.
#[test]
fn weighted_avg_over_many_batches_and_partitions() {
    let sandbox = Sandbox::with(&["weighted_c"]);
    let p = "WITH p AS (SELECT x, x % 97 AS k, \
                 CASE WHEN x % 11 = 0 THEN NULL ELSE (x % 1000) / 10.0 END AS v, \
                 CASE WHEN x % 17 = 0 THEN NULL ELSE CAST(x % 13 AS DOUBLE) END AS w \
             FROM generate_series(1, 200000) t(x)), \
             r AS (SELECT *, CASE WHEN v IS NOT NULL THEN w END AS used_w FROM p)";
    let reference = "CASE WHEN sum(used_w) = 0 THEN NULL ELSE sum(v * w) / sum(used_w) END";
    let compare = |group: &str| {
        format!(
            "{p} SELECT count(*) AS groups, sum(n) AS n, count(a) AS not_null, \
                    max(abs(a - e) / abs(e)) AS max_rel, \
                    count(*) FILTER (WHERE (a IS NULL) <> (e IS NULL)) AS null_mismatch \
             FROM (SELECT {group} count(*) AS n, weighted_avg(v, w) AS a, {reference} AS e \
                   FROM r {})",
            if group.is_empty() {
                String::new()
            } else {
                format!("GROUP BY {}", group.trim_end_matches(", "))
            }
        )
    };
    let queries = [compare("k, "), compare("x, "), compare("")];
    let udfs = sandbox.udfs_arg();
    let mut args = vec![
        "--udfs",
        &udfs,
        "--target-partitions",
        "2",
        "-q",
        "--format",
        "json",
    ];
    for query in &queries {
        args.extend(["-c", query.as_str()]);
    }
    let run = sandbox.run(&args).success();
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), 3, "{run:#?}");
    for ((rows, groups), what) in
        results
            .iter()
            .zip([97, 200000, 1])
            .zip(["97 groups", "200,000 groups", "no GROUP BY"])
    {
        let row = &rows[0];
        assert_eq!(row["groups"], groups, "{what}: {row}");
        assert_eq!(row["n"], 200000, "{what}: {row}");
        assert_eq!(row["null_mismatch"], 0, "{what}: {row}");
        assert!(row["not_null"].as_i64().unwrap() > 0, "{what}: {row}");
        let max_rel = float(&row["max_rel"]);
        assert!(max_rel < 1e-12, "{what}: relative difference {max_rel}");
    }
}

/// tokenize: constant arguments, CROSS JOIN LATERAL (rows producing
/// nothing dropped), LEFT JOIN LATERAL ... ON true (kept with NULLs),
/// Unicode lowercasing, aggregation over the tokens.
#[test]
fn tokenize_results() {
    let sandbox = Sandbox::with(&["tables"]);
    let docs = "(VALUES (1, 'The cat, the HAT'), (2, NULL), (3, ''), (4, 'ÉCOLE d''été'), \
                        (5, '  --  ')) d(id, body)";
    let results = results_of(
        &sandbox,
        &[
            "SELECT * FROM tokenize('a b')",
            "SELECT token, pos FROM tokenize('Hello, World! 42x') ORDER BY pos DESC",
            "SELECT count(*) AS n FROM tokenize(NULL)",
            &format!(
                "SELECT d.id, t.token, t.pos FROM {docs} CROSS JOIN LATERAL tokenize(d.body) AS t \
                 ORDER BY d.id, t.pos"
            ),
            &format!(
                "SELECT d.id, t.token, t.pos FROM {docs} LEFT JOIN LATERAL tokenize(d.body) AS t \
                 ON true ORDER BY d.id, t.pos"
            ),
            &format!(
                "SELECT t.token, count(*) AS n FROM {docs} CROSS JOIN LATERAL tokenize(d.body) t \
                 GROUP BY t.token ORDER BY n DESC, t.token LIMIT 2"
            ),
        ],
    );
    use serde_json::json;
    let cross = vec![
        json!({"id": 1, "token": "the", "pos": 1}),
        json!({"id": 1, "token": "cat", "pos": 2}),
        json!({"id": 1, "token": "the", "pos": 3}),
        json!({"id": 1, "token": "hat", "pos": 4}),
        json!({"id": 4, "token": "école", "pos": 1}),
        json!({"id": 4, "token": "d", "pos": 2}),
        json!({"id": 4, "token": "été", "pos": 3}),
    ];
    let mut left = cross.clone();
    for id in [2, 3, 5] {
        left.push(json!({"id": id, "token": null, "pos": null}));
    }
    left.sort_by_key(|row| row["id"].as_i64());
    let want: [Vec<Value>; 6] = [
        vec![
            json!({"token": "a", "pos": 1}),
            json!({"token": "b", "pos": 2}),
        ],
        vec![
            json!({"token": "42x", "pos": 3}),
            json!({"token": "world", "pos": 2}),
            json!({"token": "hello", "pos": 1}),
        ],
        vec![json!({"n": 0})],
        cross,
        left,
        vec![
            json!({"token": "the", "n": 2}),
            json!({"token": "cat", "n": 1}),
        ],
    ];
    for (index, (got, want)) in results.iter().zip(&want).enumerate() {
        assert_rows(&format!("query {}", index + 1), got, want);
    }
}

/// Events of three users, out of order, for sessionize.
const EVENTS: &str = "(VALUES (7, TIMESTAMP '2024-01-01 10:50:00'), (3, TIMESTAMP '2024-01-01 09:00:00'), \
     (7, TIMESTAMP '2024-01-01 10:00:00'), (9, TIMESTAMP '2024-01-01 09:00:00'), \
     (7, TIMESTAMP '2024-01-01 11:30:00'), (3, TIMESTAMP '2024-01-01 08:00:00'), \
     (7, TIMESTAMP '2024-01-01 10:20:00'), (7, TIMESTAMP '2024-01-01 11:21:00')) e(user_id, ts)";

/// sessionize cuts each user's events, whole partitions in time order, at
/// gaps of more than 30 minutes (exactly 30 is no gap); the FROM item's
/// columns are the partition key, NULL for the others.
#[test]
fn sessionize_results() {
    let sandbox = Sandbox::with(&["tables"]);
    let results = results_of(
        &sandbox,
        &[
            &format!(
                "SELECT s.* FROM {EVENTS}, \
                 TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s \
                 ORDER BY s.user_id, s.session_id"
            ),
            &format!(
                "SELECT e.user_id AS u, e.ts, s.session_id, s.events FROM {EVENTS}, \
                 TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s \
                 WHERE s.user_id = 7 ORDER BY s.session_id"
            ),
            // Without PARTITION BY: all rows are one partition.
            &format!(
                "SELECT s.session_id, s.start, s.end, s.events FROM {EVENTS}, \
                 TABLE(sessionize(0, e.ts, 3600) OVER (ORDER BY e.ts)) AS s ORDER BY s.session_id"
            ),
        ],
    );
    use serde_json::json;
    let session = |user: i64, id: i64, start: &str, end: &str, events: i64| {
        json!({"user_id": user, "session_id": id, "start": format!("2024-01-01T{start}"),
               "end": format!("2024-01-01T{end}"), "events": events})
    };
    assert_rows(
        "per user",
        &results[0],
        &[
            session(3, 1, "08:00:00", "08:00:00", 1),
            session(3, 2, "09:00:00", "09:00:00", 1),
            session(7, 1, "10:00:00", "10:50:00", 3),
            session(7, 2, "11:21:00", "11:30:00", 2),
            session(9, 1, "09:00:00", "09:00:00", 1),
        ],
    );
    assert_rows(
        "FROM item columns",
        &results[1],
        &[
            json!({"u": 7, "ts": null, "session_id": 1, "events": 3}),
            json!({"u": 7, "ts": null, "session_id": 2, "events": 2}),
        ],
    );
    assert_rows(
        "one partition",
        &results[2],
        &[json!({"session_id": 1, "start": "2024-01-01T08:00:00",
                 "end": "2024-01-01T11:30:00", "events": 8})],
    );
}

/// sessionize skips NULL timestamps in every partition, whichever its place
/// in the input (the function reads the NULLs it is given).
#[test]
fn sessionize_skips_null_timestamps_in_every_partition() {
    let sandbox = Sandbox::with(&["tables"]);
    let results = results_of(
        &sandbox,
        &[
            "SELECT s.* FROM (VALUES (9, TIMESTAMP '2024-01-01 09:00:00'), (9, NULL), (8, NULL), \
             (6, TIMESTAMP '2024-01-01 09:00:00'), (6, NULL), (6, TIMESTAMP '2024-01-01 09:10:00')) \
             e(user_id, ts), \
             TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s \
             ORDER BY s.user_id",
        ],
    );
    use serde_json::json;
    assert_rows(
        "sessions",
        &results[0],
        &[
            json!({"user_id": 6, "session_id": 1, "start": "2024-01-01T09:00:00",
                   "end": "2024-01-01T09:10:00", "events": 2}),
            json!({"user_id": 9, "session_id": 1, "start": "2024-01-01T09:00:00",
                   "end": "2024-01-01T09:00:00", "events": 1}),
        ],
    );
}

/// A scalar UDF given a slice of a batch (here after LIMIT ... OFFSET) sees
/// that slice's NULLs, not the NULLs of the rows before it.
#[test]
fn sliced_arguments_keep_their_nulls() {
    let sandbox = Sandbox::with(&["types"]);
    let results = results_of(
        &sandbox,
        &[
            "SELECT x, echo_i64(x) AS e FROM (SELECT x FROM (VALUES (1), (2), (NULL), (NULL), (5), \
           (NULL)) t(x) LIMIT 4 OFFSET 2)",
        ],
    );
    use serde_json::json;
    assert_rows(
        "echo_i64",
        &results[0],
        &[
            json!({"x": null, "e": null}),
            json!({"x": null, "e": null}),
            json!({"x": 5, "e": 5}),
            json!({"x": null, "e": null}),
        ],
    );
}

// ---------------------------------------------------------------------------
// Aggregate and table functions: wrong uses
// ---------------------------------------------------------------------------

/// Table functions called the wrong way fail with an error saying the
/// right way, and wasql carries on.
#[test]
fn table_functions_called_the_wrong_way_say_how() {
    let sandbox = Sandbox::with(&["weighted_c", "tables"]);
    let config = sandbox.tight_limits();
    let ts = "TIMESTAMP '2024-01-01 10:00:00'";
    let events = format!("(VALUES (7, {ts})) e(user_id, ts)");
    let parts = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    assert_failures_contained(
        &sandbox,
        &config,
        &[
            (
                "SELECT d.id, t.token FROM (VALUES (1, 'The cat'), (2, 'x')) d(id, body) \
                 LEFT JOIN LATERAL tokenize(d.body) t ON d.id > 1"
                    .to_string(),
                parts(&[
                    "tokenize(...) can be joined only with CROSS JOIN",
                    "LEFT JOIN ... ON true",
                ]),
            ),
            (
                format!("SELECT s.* FROM {events}, TABLE(sessionize(e.user_id, e.ts, 1800)) AS s"),
                parts(&[
                    "sessionize: write TABLE(sessionize(",
                    "OVER (PARTITION BY",
                    "ORDER BY",
                ]),
            ),
            (
                format!("SELECT * FROM sessionize(1, {ts}, 1800)"),
                parts(&[
                    "sessionize works on whole partitions",
                    "TABLE(sessionize(",
                    "OVER (PARTITION BY",
                ]),
            ),
            (
                format!(
                    "SELECT s.* FROM {events}, \
                     TABLE(sessionize(e.user_id, e.ts) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s"
                ),
                parts(&["sessionize takes 3 arguments, not 2"]),
            ),
            (
                "SELECT * FROM tokenize(42)".to_string(),
                parts(&["tokenize takes (Utf8), not (Int64)"]),
            ),
        ],
    );
}
