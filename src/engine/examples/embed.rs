//! Embedding wasql: SQL that calls WebAssembly functions loaded from a
//! directory, in fifteen lines. `cargo run --example embed -- udfs/dist`

use wasql_engine::datafusion::arrow::util::pretty::pretty_format_batches;
use wasql_engine::datafusion::error::Result;
use wasql_engine::{Engine, EngineSettings};

/// Runs `sql` with the functions of the modules in `udf_dir`; returns the
/// result as a text table.
pub async fn run(udf_dir: &str, sql: &str) -> Result<String> {
    let engine = Engine::new(&EngineSettings::default())?;
    engine.load_udf_dir(udf_dir.as_ref())?;
    let batches = engine.prepare(sql).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}

#[tokio::main]
async fn main() -> Result<()> {
    let udf_dir = std::env::args().nth(1).unwrap_or("udfs/dist".into());
    let table = run(&udf_dir, "SELECT slugify('Hi, World!') AS s").await?;
    println!("{table}");
    Ok(())
}
