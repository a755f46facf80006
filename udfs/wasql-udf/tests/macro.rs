//! `#[udf]` expansions run on the host: the generated row loops (null
//! propagation, constants, Option and Result) and the description lines.

use wasql_udf::{
    ArrayData, ArrayView, Bitmap, DataType, Date32, PrimitiveBuilder, StringBuilder, udf,
};

/// Adds two numbers.
#[udf]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[udf(name = "coalesce_zero", volatility = "stable", capabilities = ["net:example.com", "x\"y"])]
fn coalesce(a: Option<i64>) -> i64 {
    a.unwrap_or(0)
}

#[udf]
fn parse(s: &str) -> Result<Option<i64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|e| format!("bad {s:?}: {e}"))
}

#[udf(doc = "First word")]
fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or("")
}

#[udf]
fn shout(s: String, excited: bool) -> String {
    if excited { s.to_uppercase() + "!" } else { s }
}

#[udf]
fn next_day(d: Date32) -> Date32 {
    Date32(d.0 + 1)
}

#[udf]
fn answer() -> i32 {
    42
}

#[udf(batch, args = ["float64", "float64"], returns = "float64", volatility = "volatile")]
fn scale(args: &[ArrayView], nrows: usize) -> Result<ArrayData, String> {
    let x = args[0].values::<f64>();
    let k = &args[1];
    if !k.is_scalar() {
        return Err("k must be a constant".into());
    }
    let k = k.values::<f64>()[0];
    let mut out = Vec::with_capacity(nrows);
    out.extend(x.iter().map(|v| v * k));
    Ok(ArrayData::primitive(
        out,
        args[0].validity().map(|v| v.to_bitmap()),
    ))
}

fn section(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn ints(values: &[i64], valid: Option<&[bool]>) -> ArrayData {
    let mut b = PrimitiveBuilder::<i64>::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        if valid.is_some_and(|m| !m[i]) {
            b.push_null();
        } else {
            b.push(v);
        }
    }
    b.finish()
}

fn strings(values: &[Option<&str>]) -> ArrayData {
    let mut b = StringBuilder::with_capacity(values.len(), 0);
    for v in values {
        b.push_option(*v);
    }
    b.finish()
}

fn read_ints(data: &ArrayData) -> Vec<Option<i64>> {
    let view = data.view();
    (0..view.len())
        .map(|i| view.is_valid(i).then(|| view.values::<i64>()[i]))
        .collect()
}

#[test]
fn descriptions() {
    assert_eq!(
        section(&__WASQL_UDF_SECTION_add),
        "{\"abi\":1,\"name\":\"add\",\"kind\":\"scalar\",\"export\":\"wasql_udf_add\",\
         \"args\":[\"int64\",\"int64\"],\"returns\":\"int64\",\"volatility\":\"immutable\",\
         \"capabilities\":[],\"doc\":\"Adds two numbers.\"}\n"
    );
    assert_eq!(
        section(&__WASQL_UDF_SECTION_coalesce),
        "{\"abi\":1,\"name\":\"coalesce_zero\",\"kind\":\"scalar\",\"export\":\"wasql_udf_coalesce_zero\",\
         \"args\":[\"int64\"],\"returns\":\"int64\",\"volatility\":\"stable\",\
         \"capabilities\":[\"net:example.com\",\"x\\\"y\"]}\n"
    );
    assert!(section(&__WASQL_UDF_SECTION_first_word).contains(
        "\"args\":[\"utf8\"],\"returns\":\"utf8\",\"volatility\":\"immutable\",\"capabilities\":[],\"doc\":\"First word\"}"
    ));
    assert!(section(&__WASQL_UDF_SECTION_shout).contains("\"args\":[\"utf8\",\"boolean\"]"));
    assert!(
        section(&__WASQL_UDF_SECTION_next_day)
            .contains("\"args\":[\"date32\"],\"returns\":\"date32\"")
    );
    assert!(section(&__WASQL_UDF_SECTION_answer).contains("\"args\":[],\"returns\":\"int32\""));
    assert!(section(&__WASQL_UDF_SECTION_scale).contains(
        "\"args\":[\"float64\",\"float64\"],\"returns\":\"float64\",\"volatility\":\"volatile\""
    ));
}

#[test]
fn nulls_propagate_and_constants_broadcast() {
    let a = ints(&[1, 2, 3], Some(&[true, false, true]));
    let b = ints(&[10], None);
    let views = [a.view(), b.view()];
    let result = __wasql_udf_body_add(&views, 3).unwrap();
    assert_eq!(read_ints(&result), [Some(11), None, Some(13)]);

    // Dense path.
    let a = ints(&[1, 2, 3], None);
    let b = ints(&[5, 6, 7], None);
    let views = [a.view(), b.view()];
    let result = __wasql_udf_body_add(&views, 3).unwrap();
    assert_eq!(read_ints(&result), [Some(6), Some(8), Some(10)]);
    assert!(result.validity_buffer().is_none());

    // A null constant makes every row null.
    let b = ints(&[0], Some(&[false]));
    let views = [a.view(), b.view()];
    let result = __wasql_udf_body_add(&views, 3).unwrap();
    assert_eq!(read_ints(&result), [None, None, None]);
}

#[test]
fn option_arguments_see_nulls() {
    let a = ints(&[1, 2], Some(&[false, true]));
    let result = __wasql_udf_body_coalesce(&[a.view()], 2).unwrap();
    assert_eq!(read_ints(&result), [Some(0), Some(2)]);
}

#[test]
fn results_and_errors() {
    let s = strings(&[Some("12"), None, Some(""), Some("-4")]);
    let result = __wasql_udf_body_parse(&[s.view()], 4).unwrap();
    assert_eq!(read_ints(&result), [Some(12), None, None, Some(-4)]);

    let s = strings(&[Some("12"), Some("x1")]);
    let err = __wasql_udf_body_parse(&[s.view()], 2).unwrap_err();
    assert_eq!(err, "bad \"x1\": invalid digit found in string");
}

#[test]
fn strings_in_and_out() {
    let s = strings(&[Some("hello world"), None, Some("")]);
    let result = __wasql_udf_body_first_word(&[s.view()], 3).unwrap();
    let view = result.view();
    assert_eq!(view.data_type(), DataType::Utf8);
    assert_eq!(view.str_value(0), "hello");
    assert!(view.is_null(1));
    assert_eq!(view.str_value(2), "");

    let flags = Bitmap::from_iter([true]);
    let excited = ArrayView::from_booleans(flags.as_ref(), None);
    let s = strings(&[Some("hi"), Some("yo")]);
    let result = __wasql_udf_body_shout(&[s.view(), excited], 2).unwrap();
    assert_eq!(result.view().str_value(1), "YO!");
}

#[test]
fn dates_and_nullary() {
    let days = [Date32(0), Date32(-1)];
    let result = __wasql_udf_body_next_day(&[ArrayView::from_values(&days, None)], 2).unwrap();
    assert_eq!(result.view().values::<Date32>(), &[Date32(1), Date32(0)]);
    let result = __wasql_udf_body_answer(&[], 3).unwrap();
    assert_eq!(result.view().values::<i32>(), &[42, 42, 42]);
}

#[test]
fn wrong_arguments_are_errors() {
    let a = ints(&[1, 2], None);
    let err = __wasql_udf_body_add(&[a.view()], 2).unwrap_err();
    assert!(err.contains("called with 1 arguments"), "{err}");
    let err = __wasql_udf_body_add(&[a.view(), a.view()], 3).unwrap_err();
    assert!(err.contains("2 rows in a batch of 3"), "{err}");
    let s = strings(&[Some("x"), Some("y")]);
    let err = __wasql_udf_body_add(&[a.view(), s.view()], 2).unwrap_err();
    assert!(err.starts_with("argument 2"), "{err}");
}

#[test]
fn batch_form() {
    let x = [1.0, 2.0, 4.0];
    let k = [0.5];
    let result = __wasql_udf_body_scale(
        &[
            ArrayView::from_values(&x, None),
            ArrayView::from_values(&k, None),
        ],
        3,
    )
    .unwrap();
    assert_eq!(result.view().values::<f64>(), &[0.5, 1.0, 2.0]);
    let err = __wasql_udf_body_scale(
        &[
            ArrayView::from_values(&x, None),
            ArrayView::from_values(&x, None),
        ],
        3,
    )
    .unwrap_err();
    assert_eq!(err, "k must be a constant");
}

/// A doc comment
/// over two lines.
///
/// Not this paragraph.
#[udf]
fn documented(x: bool) -> bool {
    !x
}

#[test]
fn doc_is_the_first_paragraph() {
    let line = section(&__WASQL_UDF_SECTION_documented);
    assert!(
        line.ends_with(",\"doc\":\"A doc comment over two lines.\"}\n"),
        "{line}"
    );
}
