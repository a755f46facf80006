//! Scalar WebAssembly UDFs: the example modules' functions, every ABI type round-tripping through `types`, and many batches and partitions.
//!
//! Driven through the `wasql` binary the way a user drives it (`--udfs DIR`,
//! `\\udf` meta-commands, `CREATE FUNCTION`, config files); the modules come
//! from `udfs/dist` (built by `bash udfs/build.sh`) and the helpers from
//! `tests/common`.

mod common;
use common::encode::*;
use common::udf::*;
use common::*;

// ---------------------------------------------------------------------------
// haversine_km
// ---------------------------------------------------------------------------

/// haversine_km over every pair of cities equals the SQL formula.
#[test]
fn haversine_matches_the_formula_in_sql_over_all_city_pairs() {
    let sandbox = Sandbox::with(&["haversine"]);
    sandbox.add_cities();
    let rows = sandbox.rows(&format!(
        "SELECT count(*) AS pairs, max(abs(d - f)) AS max_diff, max(d) AS longest \
         FROM (SELECT haversine_km(a.lat, a.lon, b.lat, b.lon) AS d, {} AS f \
               FROM 'cities.csv' a CROSS JOIN 'cities.csv' b)",
        haversine_sql("a.lat", "a.lon", "b.lat", "b.lon")
    ));
    assert_eq!(rows[0]["pairs"], 64, "{rows:?}");
    let max_diff = float(&rows[0]["max_diff"]);
    assert!(max_diff < 1e-9, "max difference {max_diff} km");
    // Lisbon-Warsaw is the longest pair, about 2760 km.
    let longest = float(&rows[0]["longest"]);
    assert!((2700.0..2800.0).contains(&longest), "{longest}");
}

/// A known distance: Paris-Berlin is about 877.46 km; zero to itself;
/// symmetric.
#[test]
fn haversine_known_values() {
    let sandbox = Sandbox::with(&["haversine"]);
    sandbox.add_cities();
    let rows = sandbox.rows(
        "SELECT haversine_km(p.lat, p.lon, b.lat, b.lon) AS there, \
                haversine_km(b.lat, b.lon, p.lat, p.lon) AS back, \
                haversine_km(p.lat, p.lon, p.lat, p.lon) AS zero, \
                haversine_km(48.8566, 2.3522, 52.52, 13.405) AS literal \
         FROM 'cities.csv' p, 'cities.csv' b WHERE p.name = 'Paris' AND b.name = 'Berlin'",
    );
    assert_eq!(rows.len(), 1);
    let there = float(&rows[0]["there"]);
    assert!((there - 877.46).abs() < 0.01, "Paris-Berlin {there} km");
    assert_eq!(float(&rows[0]["back"]), there);
    assert_eq!(float(&rows[0]["literal"]), there);
    assert_eq!(float(&rows[0]["zero"]), 0.0);
}

/// A constant argument is used for every row of a column.
#[test]
fn haversine_with_constant_and_column_arguments() {
    let sandbox = Sandbox::with(&["haversine"]);
    sandbox.add_cities();
    let rows = sandbox.rows(&format!(
        "SELECT name, haversine_km(lat, lon, 48.8566, 2.3522) AS d, {} AS f \
         FROM 'cities.csv' ORDER BY name",
        haversine_sql("lat", "lon", "48.8566", "2.3522")
    ));
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let (d, f) = (float(&row["d"]), float(&row["f"]));
        assert!((d - f).abs() < 1e-9, "{row}");
        assert_eq!(d == 0.0, row["name"] == "Paris", "{row}");
    }
}

// ---------------------------------------------------------------------------
// slugify
// ---------------------------------------------------------------------------

/// slugify on literals, including non-ASCII, empty and NULL input.
#[test]
fn slugify_literals() {
    let sandbox = Sandbox::with(&["slugify"]);
    let rows = sandbox.rows(
        "SELECT slugify('Hello, World!') AS a, slugify('--A  b--') AS b, \
                slugify('Ünïcödé 123') AS c, slugify('') AS d, \
                slugify(NULL) AS e, slugify(CAST(NULL AS VARCHAR)) AS f",
    );
    assert_eq!(
        rows,
        vec![serde_json::json!({
            "a": "hello-world", "b": "a-b", "c": "n-c-d-123", "d": "", "e": null, "f": null
        })]
    );
}

/// slugify over a column with NULLs, in one batch, equals the same built
/// with SQL built-ins.
#[test]
fn slugify_over_a_column() {
    let sandbox = Sandbox::with(&["slugify"]);
    sandbox.add_cities();
    let rows = sandbox.rows(
        "SELECT slugify(name || ' (' || country || ')') AS slug, \
                lower(name) || '-' || lower(country) AS expected \
         FROM 'cities.csv' ORDER BY name",
    );
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0]["slug"], "amsterdam-nl");
    for row in &rows {
        assert_eq!(row["slug"], row["expected"], "{row}");
    }

    let rows = sandbox.rows(
        "SELECT i, slugify(s) AS slug FROM (VALUES (1, 'Ab Cd'), (2, NULL), (3, '¡¡X!!'), \
         (4, ''), (5, 'Déjà vu 2')) t(i, s) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "slug"),
        strings(&[Some("ab-cd"), None, Some("x"), Some(""), Some("d-j-vu-2")])
    );
}

// ---------------------------------------------------------------------------
// png_edge_color
// ---------------------------------------------------------------------------

/// The mean border colour of RGB, RGBA and grey PNGs made in the test.
#[test]
fn png_edge_color_of_encoded_images() {
    let sandbox = Sandbox::with(&["png_edge_color"]);
    // 4x3 RGB: ten distinct border pixels; the two inside pixels are far
    // off so that counting them would show.
    let rgb = Image::new(2, 4, 3, |x, y| {
        if y == 1 && (x == 1 || x == 2) {
            vec![255, 255, 255]
        } else {
            vec![
                (20 + 37 * x + 11 * y) as u8,
                (200 - 17 * x - 29 * y) as u8,
                (5 + 40 * x * y) as u8,
            ]
        }
    });
    // 3x3 RGBA with assorted alpha (ignored); a black centre.
    let rgba = Image::new(6, 3, 3, |x, y| {
        if (x, y) == (1, 1) {
            vec![0, 0, 0, 255]
        } else {
            vec![(60 * x + 7) as u8, (90 * y + 3) as u8, 250, (x * 100) as u8]
        }
    });
    // 5x4 grey.
    let grey = Image::new(0, 5, 4, |x, y| {
        vec![if (1..4).contains(&x) && (1..3).contains(&y) {
            0
        } else {
            (13 * x + 51 * y) as u8
        }]
    });
    // 1x1: the single pixel is the border.
    let single = Image::new(2, 1, 1, |_, _| vec![1, 128, 254]);
    let images = [&rgb, &rgba, &grey, &single];
    let expected: Vec<String> = images.iter().map(|i| i.expected_edge_color()).collect();
    // The images must tell a correct implementation from wrong ones.
    assert_ne!(expected[0], "#000000");
    assert!(expected.iter().all(|c| c.len() == 7));

    let values: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("({i}, decode('{}', 'hex'))", hex(&image.png())))
        .chain([format!("({}, NULL)", images.len())])
        .collect();
    let rows = sandbox.rows(&format!(
        "SELECT i, png_edge_color(png) AS color FROM (VALUES {}) t(i, png) ORDER BY i",
        values.join(", ")
    ));
    let mut want: Vec<Option<&str>> = expected.iter().map(|c| Some(c.as_str())).collect();
    want.push(None);
    assert_eq!(column(&rows, "color"), strings(&want));
}

/// A non-PNG input fails the query, naming the function and the module.
#[test]
fn png_edge_color_of_a_non_png_fails() {
    let sandbox = Sandbox::with(&["png_edge_color"]);
    let module = sandbox.module_path("png_edge_color");
    for input in ["deadbeef", "89504e470d0a1a0a0000"] {
        let run = sandbox
            .query(
                "csv",
                &[&format!(
                    "SELECT png_edge_color(decode('{input}', 'hex')) AS color"
                )],
            )
            .exit(1);
        run.one_error_line(&[&guest_failure("png_edge_color", &module), "not a valid PNG"]);
        assert_eq!(run.stdout, "");
    }
}

// ---------------------------------------------------------------------------
// The C example: luhn_valid, card_mask, digit_count
// ---------------------------------------------------------------------------

/// luhn_valid on known valid and invalid numbers, and NULL.
#[test]
fn luhn_valid_in_c() {
    let sandbox = Sandbox::with(&["luhn_c"]);
    let rows = sandbox.rows(
        "SELECT i, luhn_valid(s) AS ok FROM (VALUES (1, '4539 3195 0343 6467'), \
         (2, '8273 1232 7352 0569'), (3, '79927398713'), (4, '1234-5678'), (5, NULL), \
         (6, ''), (7, '4111111111111111')) t(i, s) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "ok"),
        serde_json::json!([true, false, true, false, null, false, true])
            .as_array()
            .unwrap()
            .clone()
    );
    let rows = sandbox.rows("SELECT luhn_valid('79927398713') AS a, luhn_valid(NULL) AS b");
    assert_eq!(rows, vec![serde_json::json!({"a": true, "b": null})]);
}

/// card_mask and digit_count, NULL in giving NULL out.
#[test]
fn card_mask_and_digit_count_in_c() {
    let sandbox = Sandbox::with(&["luhn_c"]);
    let rows = sandbox.rows(
        "SELECT i, card_mask(s) AS masked, digit_count(s) AS digits FROM (VALUES \
         (1, '4539 3195 0343 6467'), (2, '123'), (3, 'é 1234 5678'), (4, NULL), (5, '')) \
         t(i, s) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "masked"),
        strings(&[
            Some("**** **** **** 6467"),
            Some("123"),
            Some("é **** 5678"),
            None,
            Some("")
        ])
    );
    assert_eq!(
        column(&rows, "digits"),
        serde_json::json!([16, 3, 8, null, 0])
            .as_array()
            .unwrap()
            .clone()
    );
}

// ---------------------------------------------------------------------------
// Types: the `types` module
// ---------------------------------------------------------------------------

/// The query checking that `function` returns each of `values` (SQL
/// expressions, cast to `arrow_type`) unchanged: per row the result as
/// text, whether it is the input, and its type.
fn echo_query(function: &str, arrow_type: &str, values: &[&str]) -> String {
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, arrow_cast({v}, '{arrow_type}'))"))
        .collect();
    format!(
        "SELECT CAST(r AS VARCHAR) AS text, r IS NOT DISTINCT FROM v AS same, \
                arrow_typeof(r) AS type \
         FROM (SELECT i, v, {function}(v) AS r FROM (VALUES {}) t(i, v)) ORDER BY i",
        rows.join(", ")
    )
}

/// One echo case: function, Arrow type, inputs, their expected text.
type EchoCase<'a> = (&'a str, &'a str, &'a [&'a str], &'a [Option<&'a str>]);

/// Runs every case in one wasql and checks the round trips.
#[track_caller]
fn assert_echoes(sandbox: &Sandbox, cases: &[EchoCase]) {
    let queries: Vec<String> = cases
        .iter()
        .map(|(function, arrow_type, values, _)| echo_query(function, arrow_type, values))
        .collect();
    let sqls: Vec<&str> = queries.iter().map(String::as_str).collect();
    let run = sandbox.query("json", &sqls).success();
    let results = json_results(&run.stdout);
    assert_eq!(results.len(), cases.len(), "{run:#?}");
    for ((function, arrow_type, _, texts), rows) in cases.iter().zip(&results) {
        assert_eq!(column(rows, "text"), strings(texts), "{function}");
        for row in rows {
            assert_eq!(row["same"], true, "{function}: {row}");
            assert_eq!(row["type"], *arrow_type, "{function}: {row}");
        }
    }
}

/// Signed and unsigned integers of every width, extremes and NULL.
#[test]
fn types_integers_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_i8",
                "Int8",
                &["-128", "127", "NULL", "0"],
                &[Some("-128"), Some("127"), None, Some("0")],
            ),
            (
                "echo_i16",
                "Int16",
                &["-32768", "32767", "NULL"],
                &[Some("-32768"), Some("32767"), None],
            ),
            (
                "echo_i32",
                "Int32",
                &["-2147483648", "2147483647", "NULL"],
                &[Some("-2147483648"), Some("2147483647"), None],
            ),
            (
                "echo_i64",
                "Int64",
                &["-9223372036854775808", "9223372036854775807", "NULL", "-1"],
                &[
                    Some("-9223372036854775808"),
                    Some("9223372036854775807"),
                    None,
                    Some("-1"),
                ],
            ),
            (
                "echo_u8",
                "UInt8",
                &["0", "255", "NULL"],
                &[Some("0"), Some("255"), None],
            ),
            (
                "echo_u16",
                "UInt16",
                &["0", "65535", "NULL"],
                &[Some("0"), Some("65535"), None],
            ),
            (
                "echo_u32",
                "UInt32",
                &["0", "4294967295", "NULL"],
                &[Some("0"), Some("4294967295"), None],
            ),
            (
                "echo_u64",
                "UInt64",
                &["18446744073709551615", "NULL", "0"],
                &[Some("18446744073709551615"), None, Some("0")],
            ),
        ],
    );
}

/// Floats: NaN, infinities, -0.0, extremes, subnormals and NULL.
#[test]
fn types_floats_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_f64",
                "Float64",
                &[
                    "'NaN'",
                    "'inf'",
                    "'-inf'",
                    "NULL",
                    "-0.0",
                    "1.7976931348623157e308",
                    "5e-324",
                    "0.1",
                ],
                &[
                    Some("NaN"),
                    Some("inf"),
                    Some("-inf"),
                    None,
                    Some("-0.0"),
                    Some("1.7976931348623157e308"),
                    Some("5e-324"),
                    Some("0.1"),
                ],
            ),
            (
                "echo_f32",
                "Float32",
                &["'NaN'", "'-inf'", "3.4028235e38", "-0.0", "1e-45", "NULL"],
                &[
                    Some("NaN"),
                    Some("-inf"),
                    Some("3.4028235e38"),
                    Some("-0.0"),
                    Some("1e-45"),
                    None,
                ],
            ),
        ],
    );
}

/// Booleans, unicode strings and binary with zero bytes, empty values and
/// NULL.
#[test]
fn types_bool_strings_and_binary_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_bool",
                "Boolean",
                &["true", "NULL", "false"],
                &[Some("true"), None, Some("false")],
            ),
            (
                "echo_utf8",
                "Utf8",
                &["'ünïcödé ✓ 日本語 🦀'", "''", "NULL", "'a,b\"c'"],
                &[Some("ünïcödé ✓ 日本語 🦀"), Some(""), None, Some("a,b\"c")],
            ),
        ],
    );
    let rows = sandbox.rows(
        "SELECT encode(r, 'hex') AS text, r IS NOT DISTINCT FROM v AS same, \
                arrow_typeof(r) AS type \
         FROM (SELECT i, v, echo_binary(v) AS r FROM (VALUES (1, decode('00ff0000', 'hex')), \
               (2, decode('', 'hex')), (3, NULL), (4, decode('000102fffe', 'hex'))) t(i, v)) \
         ORDER BY i",
    );
    assert_eq!(
        column(&rows, "text"),
        strings(&[Some("00ff0000"), Some(""), None, Some("000102fffe")])
    );
    assert!(
        rows.iter()
            .all(|r| r["same"] == true && r["type"] == "Binary")
    );
}

/// Dates and timestamps with and without a UTC zone.
#[test]
fn types_dates_and_timestamps_round_trip() {
    let sandbox = Sandbox::with(&["types"]);
    assert_echoes(
        &sandbox,
        &[
            (
                "echo_date32",
                "Date32",
                &[
                    "DATE '1970-01-01'",
                    "DATE '0001-01-01'",
                    "DATE '9999-12-31'",
                    "NULL",
                    "DATE '1969-12-31'",
                ],
                &[
                    Some("1970-01-01"),
                    Some("0001-01-01"),
                    Some("9999-12-31"),
                    None,
                    Some("1969-12-31"),
                ],
            ),
            (
                "echo_ts",
                "Timestamp(ns)",
                &[
                    "'2024-02-29T12:34:56.789012'",
                    "'1900-01-01T00:00:00.000001'",
                    "NULL",
                ],
                &[
                    Some("2024-02-29T12:34:56.789012"),
                    Some("1900-01-01T00:00:00.000001"),
                    None,
                ],
            ),
            (
                "echo_tsz",
                "Timestamp(ns, \"UTC\")",
                &[
                    "'2024-02-29T12:34:56.789012Z'",
                    "NULL",
                    "'1969-12-31T23:59:59Z'",
                ],
                &[
                    Some("2024-02-29T12:34:56.789012Z"),
                    None,
                    Some("1969-12-31T23:59:59Z"),
                ],
            ),
        ],
    );
}

/// Literal arguments: alone (folded at planning) and as a constant beside a
/// column (one value for every row of the batch).
#[test]
fn types_literal_arguments() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT echo_i64(42) AS a, echo_utf8('ü') AS b, echo_bool(true) AS c, \
                echo_f64(2.5) AS d, echo_date32(DATE '2024-02-29') AS e",
    );
    assert_eq!(
        rows,
        vec![serde_json::json!({"a": 42, "b": "ü", "c": true, "d": 2.5, "e": "2024-02-29"})]
    );
    let rows = sandbox.rows(
        "SELECT CAST(add_days(d, CAST(10 AS INT)) AS VARCHAR) AS later, \
                CAST(add_days(DATE '2024-01-01', n) AS VARCHAR) AS from_new_year \
         FROM (VALUES (1, DATE '2024-02-25', CAST(0 AS INT)), (2, NULL, CAST(-1 AS INT)), \
               (3, DATE '1999-12-31', NULL)) t(i, d, n) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "later"),
        strings(&[Some("2024-03-06"), None, Some("2000-01-10")])
    );
    assert_eq!(
        column(&rows, "from_new_year"),
        strings(&[Some("2024-01-01"), Some("2023-12-31"), None])
    );
}

/// DataFusion coerces arguments to the declared types: INT and SMALLINT
/// columns widen, INT becomes DOUBLE, string views and large strings arrive
/// as utf8, a timestamp in another zone arrives in UTC.
#[test]
fn types_arguments_are_coerced() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT echo_i64(x) AS wide, arrow_typeof(echo_i64(x)) AS wide_type, \
                echo_i32(s) AS small, echo_f64(x) AS float, \
                echo_utf8(arrow_cast(t, 'Utf8View')) AS view, \
                echo_utf8(arrow_cast(t, 'LargeUtf8')) AS large \
         FROM (VALUES (1, CAST(-7 AS INT), CAST(300 AS SMALLINT), 'ünï'), \
               (2, CAST(NULL AS INT), CAST(NULL AS SMALLINT), NULL)) v(i, x, s, t) ORDER BY i",
    );
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"wide": -7, "wide_type": "Int64", "small": 300, "float": -7.0,
                               "view": "ünï", "large": "ünï"}),
            serde_json::json!({"wide": null, "wide_type": "Int64", "small": null, "float": null,
                               "view": null, "large": null}),
        ]
    );
    let rows = sandbox.rows(
        "SELECT CAST(echo_tsz(arrow_cast(TIMESTAMP '2024-01-02 03:04:05', \
                'Timestamp(Microsecond, Some(\"+02:00\"))')) AS VARCHAR) AS utc",
    );
    assert_eq!(rows[0]["utc"], "2024-01-02T01:04:05Z");
}

/// add_days with INT arguments: nulls propagate, and an overflow is the
/// guest's error.
#[test]
fn add_days_adds_days() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT CAST(add_days(d, n) AS VARCHAR) AS day FROM (VALUES \
         (1, DATE '2024-02-28', CAST(1 AS INT)), (2, DATE '2023-02-28', CAST(1 AS INT)), \
         (3, DATE '1970-01-01', CAST(-1 AS INT)), (4, NULL, CAST(5 AS INT)), \
         (5, DATE '2000-01-01', CAST(NULL AS INT)), (6, DATE '2000-01-01', CAST(366 AS INT))) \
         t(i, d, n) ORDER BY i",
    );
    assert_eq!(
        column(&rows, "day"),
        strings(&[
            Some("2024-02-29"),
            Some("2023-03-01"),
            Some("1969-12-31"),
            None,
            None,
            Some("2001-01-01"),
        ])
    );
    let run = sandbox
        .query(
            "csv",
            &["SELECT add_days(arrow_cast(2147483647, 'Date32'), CAST(1 AS INT)) AS d"],
        )
        .exit(1);
    run.one_error_line(&[
        &guest_failure("add_days", &sandbox.module_path("types")),
        "date out of range",
    ]);
}

/// Coercion is DataFusion's, as for built-ins: it never narrows, so an
/// integer literal (BIGINT) needs a cast for an `int32` argument, and the
/// error without one names the function and the accepted types
/// (udfs/ABI.md §5).
#[test]
fn int32_arguments_take_a_cast_literal() {
    let sandbox = Sandbox::with(&["types"]);
    let rows =
        sandbox.rows("SELECT CAST(add_days(DATE '2024-02-28', CAST(1 AS INT)) AS VARCHAR) AS day");
    assert_eq!(rows[0]["day"], "2024-02-29");
    let run = sandbox
        .query("csv", &["SELECT add_days(DATE '2024-02-28', 1)"])
        .exit(1);
    run.one_error_line(&["add_days", "Date32, Int32"]);
}

/// A `timestamp_us` function (SQL TIMESTAMP, udfs/ABI.md §5) takes a SQL
/// TIMESTAMP value, which DataFusion holds in nanoseconds.
#[test]
fn timestamp_functions_accept_sql_timestamps() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT CAST(echo_ts(TIMESTAMP '2024-01-02 03:04:05.123456') AS VARCHAR) AS t, \
                CAST(echo_tsz(TIMESTAMP '2024-01-02 03:04:05.123456') AS VARCHAR) AS tz",
    );
    assert_eq!(
        rows,
        vec![serde_json::json!({"t": "2024-01-02T03:04:05.123456",
                                "tz": "2024-01-02T03:04:05.123456Z"})]
    );
}

/// A guest `Result` error fails the query with the guest's message, naming
/// the function and the module; good rows of the same function still work.
#[test]
fn parse_int_error_names_function_and_module() {
    let sandbox = Sandbox::with(&["types"]);
    let rows = sandbox.rows(
        "SELECT parse_int(s) AS n FROM (VALUES (1, '1'), (2, ' -42 '), (3, NULL)) t(i, s) \
         ORDER BY i",
    );
    assert_eq!(
        column(&rows, "n"),
        serde_json::json!([1, -42, null])
            .as_array()
            .unwrap()
            .clone()
    );

    let module = sandbox.module_path("types");
    let run = sandbox
        .query("csv", &["SELECT parse_int('x') AS n"])
        .exit(1);
    run.one_error_line(&[
        &guest_failure("parse_int", &module),
        "cannot parse \"x\" as an integer",
    ]);
    // The same from a column, in the middle of a batch.
    let run = sandbox
        .query(
            "csv",
            &["SELECT parse_int(s) AS n FROM (VALUES ('1'), ('2x'), ('3')) t(s)"],
        )
        .exit(1);
    run.one_error_line(&[
        &guest_failure("parse_int", &module),
        "cannot parse \"2x\" as an integer",
    ]);
}

// ---------------------------------------------------------------------------
// Many batches and partitions
// ---------------------------------------------------------------------------

/// slugify over 200,000 rows (many batches, two partitions) equals the same
/// computed with SQL built-ins, row by row and in total.
#[test]
fn slugify_over_many_batches_and_partitions() {
    let sandbox = Sandbox::with(&["slugify"]);
    let run = sandbox
        .run(&[
            "--udfs",
            &sandbox.udfs_arg(),
            "--target-partitions",
            "2",
            "-q",
            "--format",
            "json",
            "-c",
            "WITH s AS (SELECT 'Item #' || x || ' -- Ünï ' || (x % 7) \
                 || CASE WHEN x % 3 = 0 THEN '!!' ELSE ' Tail' END AS v \
                 FROM generate_series(1, 200000) t(x)), \
             r AS (SELECT slugify(v) AS slug, \
                   lower(btrim(regexp_replace(v, '[^A-Za-z0-9]+', '-', 'g'), '-')) AS expected \
                   FROM s) \
             SELECT count(*) AS n, sum(length(slug)) AS got, sum(length(expected)) AS want, \
                    count(*) FILTER (WHERE slug <> expected) AS different FROM r",
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    assert_eq!(rows[0]["n"], 200000, "{rows:?}");
    assert_eq!(rows[0]["different"], 0, "{rows:?}");
    assert_eq!(rows[0]["got"], rows[0]["want"], "{rows:?}");
    assert!(rows[0]["got"].as_i64().unwrap() > 200000 * 10, "{rows:?}");
}

/// haversine_km over 200,000 rows in two partitions equals the formula.
#[test]
fn haversine_over_many_batches_and_partitions() {
    let sandbox = Sandbox::with(&["haversine"]);
    let sql = format!(
        "WITH p AS (SELECT (x % 1201) / 10.0 - 60.0 AS lat1, (x * 7 % 1201) / 10.0 - 60.0 AS lon1, \
                    (x * 13 % 1201) / 10.0 - 60.0 AS lat2, (x * 31 % 1201) / 10.0 - 60.0 AS lon2 \
                    FROM generate_series(1, 200000) t(x)) \
         SELECT count(*) AS n, count(d) AS not_null, max(abs(d - f)) AS max_diff \
         FROM (SELECT haversine_km(lat1, lon1, lat2, lon2) AS d, {} AS f FROM p)",
        haversine_sql("lat1", "lon1", "lat2", "lon2")
    );
    let run = sandbox
        .run(&[
            "--udfs",
            &sandbox.udfs_arg(),
            "--target-partitions",
            "2",
            "-q",
            "--format",
            "json",
            "-c",
            &sql,
        ])
        .success();
    let rows = json_results(&run.stdout).pop().unwrap();
    assert_eq!(rows[0]["n"], 200000, "{rows:?}");
    assert_eq!(rows[0]["not_null"], 200000, "{rows:?}");
    let max_diff = float(&rows[0]["max_diff"]);
    assert!(max_diff < 1e-9, "max difference {max_diff} km");
}
