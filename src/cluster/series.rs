//! How `generate_series(...)` and `range(...)` in `FROM` travel in logical
//! plans. DataFusion's protobuf carries the operator they plan to (a
//! generator of batches), not the table itself: the client writes that
//! operator's description, and the receiver's table plans it again.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::TableType;
use datafusion::functions_table::generate_series::GenerateSeriesTable;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::memory::LazyMemoryExec;
use datafusion_proto::physical_plan::{AsExecutionPlan, DefaultPhysicalExtensionCodec};
use datafusion_proto::protobuf::physical_plan_node::PhysicalPlanType;
use datafusion_proto::protobuf::{GenerateSeriesNode, PhysicalPlanNode};
use prost::Message;

/// What starts a series table in a plan.
pub const SERIES: &[u8] = b"wasql-series:";

/// Rows per batch of a series planned from a plan.
const BATCH_SIZE: usize = 8192;

/// Writes `table` into the plan, as the generator it plans to.
pub fn encode(
    table_ref: &TableReference,
    table: &GenerateSeriesTable,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let exec = LazyMemoryExec::try_new(table.schema(), vec![table.as_generator(BATCH_SIZE)?])?;
    let node = PhysicalPlanNode::try_from_physical_plan(
        Arc::new(exec),
        &DefaultPhysicalExtensionCodec {},
    )?;
    let Some(PhysicalPlanType::GenerateSeries(series)) = node.physical_plan_type else {
        return Err(DataFusionError::Internal(format!(
            "table {table_ref}: a series that does not plan to a series generator"
        )));
    };
    buf.extend_from_slice(SERIES);
    series
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding table {table_ref}: {e}")))
}

/// Reads a series table written by [`encode`] (without its prefix).
pub fn decode(bytes: &[u8], schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let series = GenerateSeriesNode::decode(bytes)
        .map_err(|e| DataFusionError::Plan(format!("a series in the plan: {e}")))?;
    Ok(Arc::new(SeriesTable { schema, series }))
}

/// A series read back from a plan: scanned, it plans the generator again.
#[derive(Debug)]
struct SeriesTable {
    schema: SchemaRef,
    series: GenerateSeriesNode,
}

#[async_trait]
impl TableProvider for SeriesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node = PhysicalPlanNode {
            physical_plan_type: Some(PhysicalPlanType::GenerateSeries(self.series.clone())),
        };
        let decoded =
            node.try_into_physical_plan(&state.task_ctx(), &DefaultPhysicalExtensionCodec {})?;
        let generators = decoded
            .downcast_ref::<LazyMemoryExec>()
            .ok_or_else(|| {
                DataFusionError::Plan("a series in the plan does not plan to a generator".into())
            })?
            .generators()
            .clone();
        Ok(Arc::new(
            LazyMemoryExec::try_new(Arc::clone(&self.schema), generators)?
                .with_projection(projection.cloned()),
        ))
    }
}
