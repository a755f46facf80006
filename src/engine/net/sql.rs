//! The network in SQL: `http_get(url [, headers])` and its bytes and
//! response forms, under the same policy, cache and audit as UDFs. (The
//! `wasql.net_log` and `wasql.net_rules` tables are in the `wasql` schema.)

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryBuilder, Int32Builder, StringArray, StringBuilder, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use super::{Caller, Net, Request, Response};
use crate::error::{NetError, NetFailure};

/// What an `http_get` function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    /// The body as text; a non-2xx status is an error.
    Text,
    /// The body as bytes; a non-2xx status is an error.
    Bytes,
    /// `{status, headers, body}` whatever the status.
    Response,
}

/// `http_get`, `http_get_bytes` or `http_get_response`.
#[derive(Debug)]
struct HttpGet {
    name: &'static str,
    output: Output,
    net: Arc<Net>,
    signature: Signature,
}

impl HttpGet {
    /// A query error of this function.
    fn error(&self, failure: NetFailure) -> DataFusionError {
        NetError {
            function: self.name.to_string(),
            failure,
        }
        .into()
    }
}

impl PartialEq for HttpGet {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.net, &other.net)
    }
}

impl Eq for HttpGet {}

impl std::hash::Hash for HttpGet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The SQL functions of the network, for `net`.
pub fn http_functions(net: &Arc<Net>) -> Vec<ScalarUDF> {
    [
        ("http_get", Output::Text),
        ("http_get_bytes", Output::Bytes),
        ("http_get_response", Output::Response),
    ]
    .into_iter()
    .map(|(name, output)| {
        ScalarUDF::new_from_impl(HttpGet {
            name,
            output,
            net: Arc::clone(net),
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8]),
                ],
                Volatility::Volatile,
            ),
        })
    })
    .collect()
}

fn response_fields() -> Fields {
    Fields::from(vec![
        Field::new("status", DataType::Int32, true),
        Field::new("headers", DataType::Utf8, true),
        Field::new("body", DataType::Binary, true),
    ])
}

/// `Name: value` lines as header pairs.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(NetError {
                function: "http_get".into(),
                failure: NetFailure::Argument(format!("header line '{line}' is not 'Name: value'")),
            }
            .into()),
        })
        .collect()
}

impl ScalarUDFImpl for HttpGet {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.output {
            Output::Text => DataType::Utf8,
            Output::Bytes => DataType::Binary,
            Output::Response => DataType::Struct(response_fields()),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let nrows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|arg| arg.to_array(nrows))
            .collect::<Result<Vec<_>>>()?;
        let column = |i: usize| -> Option<&StringArray> {
            arrays
                .get(i)
                .and_then(|a| a.as_any().downcast_ref::<StringArray>())
        };
        let (Some(urls), headers) = (column(0), column(1)) else {
            return Err(self.error(NetFailure::Argument("the URL must be text".into())));
        };
        // One request per distinct non-null row, all sent at once; the
        // first row of each request names it in errors.
        let mut requests = Vec::new();
        let mut index_of: HashMap<Request, usize> = HashMap::new();
        let mut first_row = Vec::new();
        let mut row_request = Vec::with_capacity(nrows);
        for row in 0..nrows {
            if urls.is_null(row) {
                row_request.push(None);
                continue;
            }
            let headers = match headers {
                Some(h) if h.is_valid(row) => parse_headers(h.value(row))?,
                _ => Vec::new(),
            };
            let request = Request::get(urls.value(row), headers);
            let index = match index_of.get(&request) {
                Some(&index) => index,
                None => {
                    index_of.insert(request.clone(), requests.len());
                    requests.push(request);
                    first_row.push(row);
                    requests.len() - 1
                }
            };
            row_request.push(Some(index));
        }
        let caller = Caller {
            module: None,
            function: self.name.to_string(),
        };
        let outcomes = self.net.fetch_blocking(&caller, requests);
        let response = |index: usize| -> Result<&Response> {
            match &outcomes[index] {
                Ok(response) => Ok(response),
                Err(e) => Err(self.error(NetFailure::Request(e.clone()))),
            }
        };
        let success = |index: usize| -> Result<&Response> {
            let r = response(index)?;
            if (200..300).contains(&r.status) {
                Ok(r)
            } else {
                let shown = url::Url::parse(urls.value(first_row[index]))
                    .map(|u| self.net.policy().redact_url(&u))
                    .unwrap_or_default();
                Err(self.error(NetFailure::Status {
                    request: format!("GET {shown}"),
                    status: r.status,
                }))
            }
        };
        let result: ArrayRef = match self.output {
            Output::Text => {
                let mut out = StringBuilder::new();
                for index in &row_request {
                    match index {
                        None => out.append_null(),
                        Some(i) => out.append_value(String::from_utf8_lossy(&success(*i)?.body)),
                    }
                }
                Arc::new(out.finish())
            }
            Output::Bytes => {
                let mut out = BinaryBuilder::new();
                for index in &row_request {
                    match index {
                        None => out.append_null(),
                        Some(i) => out.append_value(&success(*i)?.body),
                    }
                }
                Arc::new(out.finish())
            }
            Output::Response => {
                let (mut status, mut headers, mut body) = (
                    Int32Builder::new(),
                    StringBuilder::new(),
                    BinaryBuilder::new(),
                );
                for index in &row_request {
                    match index {
                        None => {
                            status.append_null();
                            headers.append_null();
                            body.append_null();
                        }
                        Some(i) => {
                            let r = response(*i)?;
                            status.append_value(i32::from(r.status));
                            let lines: Vec<String> =
                                r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
                            headers.append_value(lines.join("\n"));
                            body.append_value(&r.body);
                        }
                    }
                }
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(status.finish()),
                    Arc::new(headers.finish()),
                    Arc::new(body.finish()),
                ];
                let nulls = urls.nulls().cloned();
                Arc::new(StructArray::try_new(response_fields(), columns, nulls)?)
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}
