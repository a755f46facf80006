//! Runs the sqllogictest files in `sql/tests/` (the format DataFusion itself
//! uses) against a fresh wasql engine each, the way the CLI runs statements.
//!
//! `cargo test --test sqllogictests [FILTER]` runs the files whose name
//! contains FILTER.
//!
//! Every engine loads the WASM UDFs in `udfs/dist/` (built by
//! `bash udfs/build.sh`), so the files can call `geo_mean`, `tokenize`, ...
//!
//! Then the same files run again on a cluster (a scheduler and two
//! executors, separate `wasql` processes on 127.0.0.1), through sessions
//! made by `wasql_cluster::client::connect`, with the same expected
//! results. [`NOT_YET_ON_A_CLUSTER`] names the files that do not run there
//! yet, and why; they are reported, not counted.

mod common;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::common::collect;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use wasql_engine::{Engine, EngineSettings};

/// A wasql session as a sqllogictest database.
struct WasqlDb {
    engine: Engine,
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating()
        || matches!(
            data_type,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        )
    {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        if text.is_empty() {
                            "(empty)".to_string()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

#[async_trait]
impl AsyncDB for WasqlDb {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let query = self.engine.prepare(sql).await?;
        let schema = query.schema();
        let batches = collect(query.execute()?).await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: schema
                .fields()
                .iter()
                .map(|f| column_type(f.data_type()))
                .collect(),
            rows: rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "wasql"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Files that do not run on a cluster yet, with the reason.
const NOT_YET_ON_A_CLUSTER: &[(&str, &str)] = &[(
    "copy_arrow.slt",
    "COPY to Arrow IPC files: DataFusion's plans cannot carry their writer",
)];

fn test_files(filter: Option<&str>) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sql")
        .join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "slt"))
        .filter(|path| filter.is_none_or(|f| path.to_string_lossy().contains(f)))
        .collect();
    files.sort();
    files
}

#[tokio::main]
async fn main() {
    // The data files are addressed relative to the repository root.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("repository root");
    assert!(
        Path::new("udfs/dist").is_dir(),
        "udfs/dist is missing: run `bash udfs/build.sh` first"
    );
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let files = test_files(filter.as_deref());
    let (mut passed, mut failed) = (0, 0);
    for (mode, cluster) in [("embedded", None), ("cluster", Some(()))] {
        let sandbox = common::Sandbox::new();
        let cluster = cluster.map(|()| common::cluster::Cluster::start(&sandbox, ""));
        let url = cluster.as_ref().map(|c| c.url.clone());
        for file in &files {
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if url.is_some()
                && let Some((_, why)) = NOT_YET_ON_A_CLUSTER.iter().find(|(f, _)| *f == name)
            {
                println!("not run  {name} ({mode}): {why}");
                continue;
            }
            let url = url.clone();
            let mut runner = sqllogictest::Runner::new(move || {
                let url = url.clone();
                async move {
                    let settings = EngineSettings::default();
                    let engine = match &url {
                        Some(url) => wasql_cluster::client::connect(url, &settings).await?,
                        None => Engine::new(&settings)?,
                    };
                    engine.load_udf_dir(Path::new("udfs/dist"))?;
                    Ok(WasqlDb { engine })
                }
            });
            match runner.run_file_async(file).await {
                Ok(()) => {
                    println!("ok       {name} ({mode})");
                    passed += 1;
                }
                Err(e) => {
                    println!("FAILED   {name} ({mode})\n{e}");
                    failed += 1;
                }
            }
        }
    }
    println!("sqllogictest: {passed} passed, {failed} failed");
    if failed > 0 || files.is_empty() {
        std::process::exit(1);
    }
}
