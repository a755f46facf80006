//! How a table over a deep glob (`data/**/*.csv`) travels in plans: its
//! listing table as DataFusion's protobuf writes one, marked so that the
//! receiver's scans descend into subdirectories as the sender's would.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion_proto::logical_plan::{AsLogicalPlan, LogicalExtensionCodec};
use datafusion_proto::protobuf::LogicalPlanNode;
use prost::Message;
use wasql_engine::DeepGlob;

/// What starts a deep glob's table in a plan.
pub const DEEP_GLOB: &[u8] = b"wasql-deep-glob:";

/// Writes `table` into the plan: a scan of its listing table.
pub fn encode(
    table_ref: &TableReference,
    table: &DeepGlob,
    codec: &dyn LogicalExtensionCodec,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let scan = LogicalPlanBuilder::scan(
        table_ref.clone(),
        provider_as_source(Arc::clone(table.inner())),
        None,
    )?
    .build()?;
    let node = LogicalPlanNode::try_from_logical_plan(&scan, codec)?;
    buf.extend_from_slice(DEEP_GLOB);
    node.encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding table {table_ref}: {e}")))
}

/// Reads a table written by [`encode`] (without its prefix).
pub fn decode(
    bytes: &[u8],
    ctx: &TaskContext,
    codec: &dyn LogicalExtensionCodec,
) -> Result<Arc<dyn TableProvider>> {
    let node = LogicalPlanNode::decode(bytes)
        .map_err(|e| DataFusionError::Plan(format!("a deep glob's table in the plan: {e}")))?;
    let LogicalPlan::TableScan(scan) = node.try_into_logical_plan(ctx, codec)? else {
        return Err(DataFusionError::Plan(
            "a deep glob's table in the plan is not a table".into(),
        ));
    };
    Ok(Arc::new(DeepGlob::new(source_as_provider(&scan.source)?)))
}
