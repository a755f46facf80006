//! Functions that read the web through the host (`wasql_udf::http`, the
//! import `wasql.http_fetch` of udfs/ABI.md). They ask for any host
//! (`net:*`); the operator's `[net]` rules decide what each may reach.
//!
//! All are `volatile`: what a URL returns changes over time, and a volatile
//! function is never evaluated while the query is planned. Identical
//! requests within one query are still answered once, from the host's cache.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use wasql_udf::http::{self, Request, Response};
use wasql_udf::{ArrayData, ArrayView, PrimitiveBuilder, StringBuilder, udf};

/// The result of a GET of `url`, or why there is none, naming the URL.
fn response(url: &str, result: Result<Response, http::Error>) -> Result<Response, String> {
    result.map_err(|e| format!("GET {url} failed: {e}"))
}

/// The response of a GET of `url` if it is a 2xx.
fn success(url: &str, result: Result<Response, http::Error>) -> Result<Response, String> {
    let response = response(url, result)?;
    if response.is_success() {
        Ok(response)
    } else {
        Err(format!("GET {url} returned {}", response.status))
    }
}

/// Row `row` of a utf8 argument (a constant's only row for every row);
/// `None` when null.
fn str_at<'v>(view: &'v ArrayView<'_>, row: usize) -> Option<&'v str> {
    let i = if view.is_scalar() { 0 } else { row };
    view.is_valid(i).then(|| view.str_value(i))
}

/// The body of the URL (a GET); an error if it fails, is not a 2xx or is
/// not UTF-8.
#[udf(volatility = "volatile", capabilities = ["net:*"])]
pub fn fetch_text(url: &str) -> Result<String, String> {
    let response = success(url, http::get(url))?;
    match String::from_utf8(response.body) {
        Ok(text) => Ok(text),
        Err(e) => Err(format!(
            "GET {url}: the body is not UTF-8: {}",
            e.utf8_error()
        )),
    }
}

/// The HTTP status of a GET of the URL; an error if there is no response.
#[udf(volatility = "volatile", capabilities = ["net:*"])]
pub fn fetch_status(url: &str) -> Result<i32, String> {
    response(url, http::get(url)).map(|r| i32::from(r.status))
}

/// What the function sees of a GET of the URL, as JSON: status, headers
/// and body.
///
/// `{"body":"...","headers":{"name":"value",...},"status":200}`: header
/// names in lowercase, repeated headers joined with ", ", the body as text
/// (invalid UTF-8 replaced). Any status is returned; an error only if there
/// is no response.
#[udf(volatility = "volatile", capabilities = ["net:*"])]
pub fn fetch_seen(url: &str) -> Result<String, String> {
    response(url, http::get(url)).map(|r| seen_json(&r))
}

/// [`fetch_seen`]'s JSON of a response.
fn seen_json(response: &Response) -> String {
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        let name = name.to_ascii_lowercase();
        match headers.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let mut object = Map::new();
    object.insert("status".into(), response.status.into());
    object.insert("headers".into(), Value::Object(headers));
    object.insert(
        "body".into(),
        String::from_utf8_lossy(&response.body).into_owned().into(),
    );
    Value::Object(object).to_string()
}

/// The HTTP status of a GET of each URL, all the batch's requests sent at
/// once.
///
/// One `fetch_all` for the whole batch, so the host runs the requests
/// concurrently. A null URL gives null; a request without a response fails
/// the call with the first such error.
#[udf(
    batch,
    args = ["utf8"],
    returns = "int32",
    volatility = "volatile",
    capabilities = ["net:*"]
)]
pub fn fetch_status_all(args: &[ArrayView], nrows: usize) -> Result<ArrayData, String> {
    let [urls] = args else {
        return Err(format!("expected 1 argument, got {}", args.len()));
    };
    // One request per non-null row (a constant: one for all rows).
    let rows: Vec<(usize, &str)> = (0..urls.len())
        .filter_map(|i| str_at(urls, i).map(|url| (i, url)))
        .collect();
    let requests: Vec<Request> = rows.iter().map(|(_, url)| Request::get(*url)).collect();
    let mut statuses: Vec<Option<i32>> = vec![None; urls.len()];
    for ((i, url), result) in rows.into_iter().zip(http::fetch_all(&requests)) {
        statuses[i] = Some(i32::from(response(url, result)?.status));
    }
    let mut out = PrimitiveBuilder::<i32>::with_capacity(nrows);
    for row in 0..nrows {
        out.push_option(statuses[if urls.is_scalar() { 0 } else { row }]);
    }
    Ok(out.finish())
}

/// The labels of a configuration: code to label (`None`: a JSON null).
type Labels = BTreeMap<String, Option<String>>;

/// Reads the configuration at `url` from its response: a JSON object
/// mapping codes to labels. Numbers and booleans are labels as written.
fn parse_labels(url: &str, result: Result<Response, http::Error>) -> Result<Labels, String> {
    let response = success(url, result)?;
    let value: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("GET {url}: the configuration is not JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err(format!(
            "GET {url}: the configuration is not a JSON object of code to label"
        ));
    };
    object
        .into_iter()
        .map(|(code, label)| {
            let label = match label {
                Value::Null => None,
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Array(_) | Value::Object(_) => {
                    return Err(format!("GET {url}: the label of {code:?} is not a string"));
                }
            };
            Ok((code, label))
        })
        .collect()
}

/// The label of each code in the configuration at the row's URL: null for
/// a null code or URL, or a code the configuration does not list.
fn label_rows(
    codes: &ArrayView<'_>,
    urls: &ArrayView<'_>,
    nrows: usize,
    configs: &BTreeMap<&str, Labels>,
) -> ArrayData {
    let mut out = StringBuilder::with_capacity(nrows, 8 * nrows);
    for row in 0..nrows {
        let label = str_at(codes, row)
            .zip(str_at(urls, row))
            .and_then(|(code, url)| configs.get(url)?.get(code)?.as_deref());
        out.push_option(label);
    }
    out.finish()
}

/// The label of a code in the online configuration at config_url (a JSON
/// object of code to label); null when the code is not there.
///
/// Each distinct URL of the batch is fetched once (all of them in one
/// `fetch_all`); a failed fetch or a configuration that is not a JSON object
/// fails the call, naming the URL.
#[udf(
    batch,
    args = ["utf8", "utf8"],
    returns = "utf8",
    volatility = "volatile",
    capabilities = ["net:*"]
)]
pub fn label(args: &[ArrayView], nrows: usize) -> Result<ArrayData, String> {
    let [codes, urls] = args else {
        return Err(format!("expected 2 arguments, got {}", args.len()));
    };
    let mut distinct: Vec<&str> = Vec::new();
    for i in 0..urls.len() {
        if let Some(url) = str_at(urls, i)
            && !distinct.contains(&url)
        {
            distinct.push(url);
        }
    }
    let requests: Vec<Request> = distinct.iter().map(|url| Request::get(*url)).collect();
    let configs = distinct
        .iter()
        .zip(http::fetch_all(&requests))
        .map(|(url, result)| Ok((*url, parse_labels(url, result)?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(label_rows(codes, urls, nrows, &configs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(status: u16, body: &str) -> Result<Response, http::Error> {
        Ok(Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        })
    }

    /// An `http::Error` as a failed request gives (outside wasql, every
    /// request fails).
    fn failed() -> Result<Response, http::Error> {
        Err(http::get("https://config.example/").unwrap_err())
    }

    fn strings(values: &[Option<&str>]) -> ArrayData {
        let mut b = StringBuilder::with_capacity(values.len(), 0);
        for v in values {
            b.push_option(*v);
        }
        b.finish()
    }

    fn rows(data: &ArrayData) -> Vec<Option<String>> {
        let view = data.view();
        (0..view.len())
            .map(|i| view.is_valid(i).then(|| view.str_value(i).to_string()))
            .collect()
    }

    #[test]
    fn labels_parse() {
        let labels = parse_labels(
            "u",
            ok(200, r#"{"A":"Alpha","B":"Beta","N":null,"7":7,"T":true}"#),
        )
        .unwrap();
        assert_eq!(labels["A"].as_deref(), Some("Alpha"));
        assert_eq!(labels["B"].as_deref(), Some("Beta"));
        assert_eq!(labels["N"], None);
        assert_eq!(labels["7"].as_deref(), Some("7"));
        assert_eq!(labels["T"].as_deref(), Some("true"));
        assert_eq!(parse_labels("u", ok(200, "{}")).unwrap().len(), 0);
    }

    #[test]
    fn label_errors_name_the_url() {
        let u = "https://config.example/labels.json";
        for (result, expected) in [
            (ok(404, "{}"), format!("GET {u} returned 404")),
            (
                ok(200, "[1,2]"),
                format!("GET {u}: the configuration is not a JSON object of code to label"),
            ),
            (
                ok(200, r#"{"A":["x"]}"#),
                format!("GET {u}: the label of \"A\" is not a string"),
            ),
            (
                failed(),
                format!("GET {u} failed: network access is only available inside wasql"),
            ),
        ] {
            assert_eq!(parse_labels(u, result).unwrap_err(), expected);
        }
        let not_json = parse_labels(u, ok(200, "<html>")).unwrap_err();
        assert!(
            not_json.starts_with(&format!("GET {u}: the configuration is not JSON")),
            "{not_json}"
        );
    }

    #[test]
    fn rows_get_their_labels() {
        let configs: BTreeMap<&str, Labels> = BTreeMap::from([
            (
                "u1",
                parse_labels("u1", ok(200, r#"{"A":"Alpha","B":"Beta","N":null}"#)).unwrap(),
            ),
            ("u2", parse_labels("u2", ok(200, r#"{"A":"Ah"}"#)).unwrap()),
        ]);
        let codes = strings(&[Some("A"), Some("B"), None, Some("Z"), Some("N"), Some("A")]);
        let urls = strings(&[
            Some("u1"),
            Some("u1"),
            Some("u1"),
            Some("u1"),
            Some("u1"),
            Some("u2"),
        ]);
        let out = label_rows(&codes.view(), &urls.view(), 6, &configs);
        assert_eq!(
            rows(&out),
            [Some("Alpha"), Some("Beta"), None, None, None, Some("Ah")]
                .map(|s| s.map(String::from))
        );

        // A constant URL (one row for the whole batch) and a null URL.
        let constant = strings(&[Some("u2")]);
        let out = label_rows(&codes.view(), &constant.view(), 6, &configs);
        assert_eq!(rows(&out)[0].as_deref(), Some("Ah"));
        assert_eq!(rows(&out)[1], None);
        let null = strings(&[None]);
        let out = label_rows(&codes.view(), &null.view(), 6, &configs);
        assert_eq!(rows(&out), vec![None; 6]);
    }

    #[test]
    fn seen_json_shows_status_headers_and_body() {
        let response = Response {
            status: 418,
            headers: vec![
                ("x-a".into(), "1".into()),
                ("Set-Cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: b"tea \xff".to_vec(),
        };
        let value: Value = serde_json::from_str(&seen_json(&response)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "status": 418,
                "headers": {"x-a": "1", "set-cookie": "a=1, b=2"},
                "body": "tea \u{fffd}",
            })
        );
    }

    #[test]
    fn outside_wasql_the_functions_fail_naming_the_url() {
        let u = "https://example.com/";
        let expected = format!("GET {u} failed: network access is only available inside wasql");
        assert_eq!(fetch_text(u).unwrap_err(), expected);
        assert_eq!(fetch_status(u).unwrap_err(), expected);
        assert_eq!(fetch_seen(u).unwrap_err(), expected);

        let urls = strings(&[Some(u), None]);
        let views = [urls.view()];
        assert_eq!(
            __wasql_udf_body_fetch_status_all(&views, 2).unwrap_err(),
            expected
        );
        // No URL at all: nothing to fetch, every row null.
        let nulls = strings(&[None, None]);
        let out = __wasql_udf_body_fetch_status_all(&[nulls.view()], 2).unwrap();
        assert_eq!(out.null_count(), 2);

        let codes = strings(&[Some("A"), Some("B")]);
        let views = [codes.view(), urls.view()];
        assert_eq!(__wasql_udf_body_label(&views, 2).unwrap_err(), expected);
        let views = [codes.view(), nulls.view()];
        let out = __wasql_udf_body_label(&views, 2).unwrap();
        assert_eq!(rows(&out), [None, None]);
    }
}
