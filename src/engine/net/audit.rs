//! The audit trail: one record per attempted request, allowed or refused,
//! kept in memory for `SELECT * FROM wasql.net_log` and optionally appended
//! to a JSON-lines file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Serialize;

/// Records kept in memory; older ones are dropped first.
const KEEP: usize = 100_000;

/// Longest URL or error kept in a record.
const MAX_TEXT: usize = 2048;

fn truncate(text: &mut String) {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
}

/// What happened to one request.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
    /// The query that made the request.
    pub query_id: u64,
    /// The caller's module; `None` for a SQL function.
    pub module: Option<String>,
    /// The calling function.
    pub function: String,
    /// The HTTP method, in uppercase.
    pub method: String,
    /// Redacted: no credentials, no secret values.
    pub url: String,
    /// `allowed` or `refused`.
    pub decision: &'static str,
    /// The rule that allowed the request; `None` when no rule did.
    pub rule: Option<String>,
    /// The HTTP status; `None` when there was no response.
    pub status: Option<i32>,
    /// The response body's size in bytes; `None` when there was no response.
    pub bytes: Option<i64>,
    /// How long the request took, in milliseconds.
    pub duration_ms: f64,
    /// Answered from the cache (or by an identical request of the query).
    pub cache_hit: bool,
    /// Why the request failed or was refused; `None` on success.
    pub error: Option<String>,
}

impl AuditRecord {
    /// The current time in the record's unit.
    pub fn now_us() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_micros() as i64
    }
}

/// The trail.
#[derive(Debug)]
pub struct Audit {
    records: Mutex<VecDeque<AuditRecord>>,
    file: Option<Mutex<File>>,
}

impl Audit {
    /// A trail, also written to `file` if given.
    pub fn new(file: Option<&Path>) -> Result<Audit, String> {
        let file = match file {
            None => None,
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        format!("net.audit_file: cannot open '{}': {e}", path.display())
                    })?,
            )),
        };
        Ok(Audit {
            records: Mutex::new(VecDeque::new()),
            file,
        })
    }

    /// Adds a record (URL and error cut to [`MAX_TEXT`] bytes).
    pub fn record(&self, mut record: AuditRecord) {
        truncate(&mut record.url);
        if let Some(error) = &mut record.error {
            truncate(error);
        }
        if let Some(file) = &self.file
            && let Ok(line) = serde_json::to_string(&record)
        {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            // The in-memory trail stays complete even if the file fails.
            let _ = writeln!(file, "{line}");
        }
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() == KEEP {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The records so far, oldest first.
    pub fn snapshot(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The schema of `wasql.net_log`.
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("query_id", DataType::UInt64, false),
            Field::new("module", DataType::Utf8, true),
            Field::new("function", DataType::Utf8, false),
            Field::new("method", DataType::Utf8, false),
            Field::new("url", DataType::Utf8, false),
            Field::new("decision", DataType::Utf8, false),
            Field::new("rule", DataType::Utf8, true),
            Field::new("status", DataType::Int32, true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("duration_ms", DataType::Float64, false),
            Field::new("cache_hit", DataType::Boolean, false),
            Field::new("error", DataType::Utf8, true),
        ]))
    }

    /// The records as one batch of [`Audit::schema`].
    pub fn to_batch(&self) -> datafusion::error::Result<RecordBatch> {
        let records = self.snapshot();
        let strings = |f: fn(&AuditRecord) -> Option<&str>| -> ArrayRef {
            Arc::new(records.iter().map(f).collect::<StringArray>())
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampMicrosecondArray::from(
                    records.iter().map(|r| r.time_us).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(records.iter().map(|r| r.query_id).collect::<UInt64Array>()),
            strings(|r| r.module.as_deref()),
            strings(|r| Some(&r.function)),
            strings(|r| Some(&r.method)),
            strings(|r| Some(&r.url)),
            strings(|r| Some(r.decision)),
            strings(|r| r.rule.as_deref()),
            Arc::new(records.iter().map(|r| r.status).collect::<Int32Array>()),
            Arc::new(records.iter().map(|r| r.bytes).collect::<Int64Array>()),
            Arc::new(
                records
                    .iter()
                    .map(|r| r.duration_ms)
                    .collect::<Float64Array>(),
            ),
            Arc::new(
                records
                    .iter()
                    .map(|r| Some(r.cache_hit))
                    .collect::<BooleanArray>(),
            ),
            strings(|r| r.error.as_deref()),
        ];
        Ok(RecordBatch::try_new(Self::schema(), columns)?)
    }
}
