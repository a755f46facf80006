//! `COPY ... TO` that survives the trip to the scheduler.
//!
//! DataFusion's protobuf writes a `COPY`'s format without the statement's
//! `OPTIONS` (a delimiter, a compression): the scheduler would write with
//! the defaults. Before a plan is sent, the options go into the format
//! itself, which travels with them; wasql's aliases (`.ndjson`, `.tsv`)
//! become their formats with the alias's defaults
//! ([`wasql_engine::without_format_aliases`]).

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::csv::{CsvFormat, CsvFormatFactory};
use datafusion::datasource::file_format::json::{JsonFormat, JsonFormatFactory};
use datafusion::datasource::file_format::parquet::{ParquetFormat, ParquetFormatFactory};
use datafusion::datasource::file_format::{DefaultFileType, FileFormatFactory};
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::dml::CopyTo;

/// `plan`, a `COPY`, with its options inside its format; other plans as
/// they are.
pub fn portable(plan: LogicalPlan, state: &dyn Session) -> Result<LogicalPlan> {
    let copy = match wasql_engine::without_format_aliases(plan) {
        LogicalPlan::Copy(copy) => copy,
        other => return Ok(other),
    };
    let Some(factory) = copy
        .file_type
        .as_any()
        .downcast_ref::<DefaultFileType>()
        .map(|file_type| Arc::clone(file_type.as_format_factory()))
    else {
        return Ok(LogicalPlan::Copy(copy));
    };
    let format = factory.create(state, &copy.options)?;
    let with_options: Arc<dyn FileFormatFactory> =
        if let Some(csv) = format.downcast_ref::<CsvFormat>() {
            Arc::new(CsvFormatFactory::new_with_options(csv.options().clone()))
        } else if let Some(json) = format.downcast_ref::<JsonFormat>() {
            Arc::new(JsonFormatFactory::new_with_options(json.options().clone()))
        } else if let Some(parquet) = format.downcast_ref::<ParquetFormat>() {
            Arc::new(ParquetFormatFactory::new_with_options(
                parquet.options().clone(),
            ))
        } else if format.downcast_ref::<ArrowFormat>().is_some() {
            return Err(DataFusionError::Plan(
                "COPY: Arrow IPC files cannot be written on a cluster yet (DataFusion's \
                 plans cannot carry their writer): write Parquet (STORED AS PARQUET), or \
                 run without --cluster"
                    .into(),
            ));
        } else {
            factory
        };
    Ok(LogicalPlan::Copy(CopyTo::new(
        copy.input,
        copy.output_url,
        copy.partition_by,
        Arc::new(DefaultFileType::new(with_options)),
        copy.options,
    )))
}
