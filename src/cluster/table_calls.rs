//! How WASM table functions travel in plans: a call with constant
//! arguments (`FROM f('a b')`, a table), a function applied to rows
//! (`LATERAL`, `TABLE(f(...) OVER (...))`: a logical node, then an
//! operator), each as its function's reference ([`WasmFunctionRef`]) and
//! its arguments, keys and order as DataFusion's own protobuf
//! expressions.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::{Column, DFSchema, DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, SortExpr, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::expressions::Column as PhysicalColumn;
use datafusion::physical_plan::projection::EmbeddedProjection;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::logical_plan::from_proto::{parse_exprs, parse_sorts};
use datafusion_proto::logical_plan::to_proto::{serialize_exprs, serialize_sorts};
use datafusion_proto::physical_plan::from_proto::parse_physical_sort_exprs;
use datafusion_proto::physical_plan::to_proto::serialize_physical_sort_exprs;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use prost::Message;
use wasql_engine::apply::{ApplyExec, ApplyMode, ApplyNode, NodeMode, TableCall};
use wasql_engine::udf::WasmTableFunction;

use crate::codec::{Modules, Shipping, WasmFunctionRef};

/// What starts a [`TableCall`] in a plan.
pub const TABLE_CALL: &[u8] = b"wasql-table-call:";
/// What starts an [`ApplyNode`] in a plan.
pub const APPLY_NODE: &[u8] = b"wasql-apply-node:";
/// What starts an [`ApplyExec`] in a plan.
pub const APPLY_EXEC: &[u8] = b"wasql-apply-exec:";

/// `FROM f(constants)`.
#[derive(Clone, PartialEq, Message)]
struct TableCallMessage {
    #[prost(message, optional, tag = "1")]
    function: Option<WasmFunctionRef>,
    #[prost(message, repeated, tag = "2")]
    args: Vec<protobuf::LogicalExprNode>,
}

/// A function applied to rows, logically.
#[derive(Clone, PartialEq, Message)]
struct ApplyNodeMessage {
    #[prost(message, optional, tag = "1")]
    function: Option<WasmFunctionRef>,
    #[prost(message, repeated, tag = "2")]
    args: Vec<protobuf::LogicalExprNode>,
    /// Per row: keep a row that produced nothing (`LEFT JOIN LATERAL`).
    #[prost(bool, tag = "3")]
    keep_unmatched: bool,
    /// Per partition, by `keys` in `order`; else per row.
    #[prost(bool, tag = "4")]
    per_partition: bool,
    /// The partition keys, columns.
    #[prost(message, repeated, tag = "5")]
    keys: Vec<protobuf::LogicalExprNode>,
    #[prost(message, repeated, tag = "6")]
    order: Vec<protobuf::SortExprNode>,
    #[prost(message, optional, tag = "7")]
    schema: Option<protobuf::DfSchema>,
}

/// A function applied to rows, physically.
#[derive(Clone, PartialEq, Message)]
struct ApplyExecMessage {
    #[prost(message, optional, tag = "1")]
    function: Option<WasmFunctionRef>,
    #[prost(message, repeated, tag = "2")]
    args: Vec<protobuf::PhysicalExprNode>,
    #[prost(bool, tag = "3")]
    keep_unmatched: bool,
    #[prost(bool, tag = "4")]
    per_partition: bool,
    /// The partition keys' indices in the input.
    #[prost(uint32, repeated, tag = "5")]
    keys: Vec<u32>,
    #[prost(message, repeated, tag = "6")]
    order: Vec<protobuf::PhysicalSortExprNode>,
    /// The input's columns, then the function's.
    #[prost(message, optional, tag = "7")]
    full_schema: Option<protobuf::Schema>,
    /// The columns produced, when not all.
    #[prost(message, optional, tag = "8")]
    projection: Option<Projection>,
}

#[derive(Clone, PartialEq, Message)]
struct Projection {
    #[prost(uint32, repeated, tag = "1")]
    columns: Vec<u32>,
}

fn reference(function: &WasmTableFunction, shipping: &Shipping) -> Option<WasmFunctionRef> {
    Some(WasmFunctionRef::new(
        function.module(),
        function.spec(),
        shipping,
    ))
}

fn function(
    modules: &Modules,
    reference: Option<&WasmFunctionRef>,
) -> Result<Arc<WasmTableFunction>> {
    let reference = reference.ok_or_else(|| missing("its function"))?;
    modules.table(reference)
}

fn missing(what: &str) -> DataFusionError {
    DataFusionError::Plan(format!(
        "a WASM table function call in the plan lacks {what}"
    ))
}

fn decode_error(what: &str, e: prost::DecodeError) -> DataFusionError {
    DataFusionError::Plan(format!("{what} in the plan: {e}"))
}

fn encode(message: &impl Message, prefix: &[u8], buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(prefix);
    message
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding a WASM table function call: {e}")))
}

/// Writes `call` into the plan.
pub fn encode_table_call(
    call: &TableCall,
    codec: &dyn LogicalExtensionCodec,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let message = TableCallMessage {
        function: reference(call.function(), &Shipping::Inline),
        args: serialize_exprs(call.args(), codec)?,
    };
    encode(&message, TABLE_CALL, buf)
}

/// Reads a [`TableCall`] written by [`encode_table_call`] (without its prefix).
pub fn decode_table_call(
    bytes: &[u8],
    modules: &Modules,
    ctx: &TaskContext,
    codec: &dyn LogicalExtensionCodec,
) -> Result<TableCall> {
    let message =
        TableCallMessage::decode(bytes).map_err(|e| decode_error("a table function call", e))?;
    let function = function(modules, message.function.as_ref())?;
    TableCall::new(&function, parse_exprs(&message.args, ctx, codec)?)
}

/// Writes `node` into the plan (its input travels beside it).
pub fn encode_apply_node(
    node: &ApplyNode,
    codec: &dyn LogicalExtensionCodec,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let (keep_unmatched, keys, order) = match node.mode() {
        NodeMode::PerRow { keep_unmatched } => (*keep_unmatched, Vec::new(), Vec::new()),
        NodeMode::PerPartition { keys, order } => {
            let keys: Vec<Expr> = keys.iter().cloned().map(Expr::Column).collect();
            (
                false,
                serialize_exprs(&keys, codec)?,
                serialize_sorts(order, codec)?,
            )
        }
    };
    let message = ApplyNodeMessage {
        function: reference(node.function(), &Shipping::Inline),
        args: serialize_exprs(node.args(), codec)?,
        keep_unmatched,
        per_partition: matches!(node.mode(), NodeMode::PerPartition { .. }),
        keys,
        order,
        schema: Some(node.schema().try_into()?),
    };
    encode(&message, APPLY_NODE, buf)
}

/// Reads an [`ApplyNode`] written by [`encode_apply_node`] (without its
/// prefix) over `inputs`.
pub fn decode_apply_node(
    bytes: &[u8],
    inputs: &[LogicalPlan],
    modules: &Modules,
    ctx: &TaskContext,
    codec: &dyn LogicalExtensionCodec,
) -> Result<Extension> {
    let message =
        ApplyNodeMessage::decode(bytes).map_err(|e| decode_error("a table function apply", e))?;
    let [input] = inputs else {
        return Err(missing("its one input"));
    };
    let mode = if message.per_partition {
        let keys = parse_exprs(&message.keys, ctx, codec)?
            .into_iter()
            .map(|key| match key {
                Expr::Column(column) => Ok(column),
                other => Err(DataFusionError::Plan(format!(
                    "a partition key in the plan is not a column: {other}"
                ))),
            })
            .collect::<Result<Vec<Column>>>()?;
        let order: Vec<SortExpr> = parse_sorts(&message.order, ctx, codec)?;
        NodeMode::PerPartition { keys, order }
    } else {
        NodeMode::PerRow {
            keep_unmatched: message.keep_unmatched,
        }
    };
    let schema: DFSchema = message
        .schema
        .as_ref()
        .ok_or_else(|| missing("its schema"))?
        .try_into()?;
    let node = ApplyNode::new(
        input.clone(),
        function(modules, message.function.as_ref())?,
        parse_exprs(&message.args, ctx, codec)?,
        mode,
        Arc::new(schema),
    );
    Ok(Extension {
        node: Arc::new(node),
    })
}

/// Writes `exec` into the plan (its input travels beside it); modules as
/// `shipping` says.
pub fn encode_apply_exec(
    exec: &ApplyExec,
    shipping: &Shipping,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let (keep_unmatched, keys, order) = match exec.mode() {
        ApplyMode::PerRow { keep_unmatched } => (*keep_unmatched, Vec::new(), Vec::new()),
        ApplyMode::PerPartition { keys, order } => (
            false,
            keys.iter().map(|key| key.index() as u32).collect(),
            serialize_physical_sort_exprs(order.iter().cloned(), codec, converter)?,
        ),
    };
    let message = ApplyExecMessage {
        function: reference(exec.function(), shipping),
        args: exec
            .args()
            .iter()
            .map(|arg| converter.physical_expr_to_proto(arg, codec))
            .collect::<Result<_>>()?,
        keep_unmatched,
        per_partition: matches!(exec.mode(), ApplyMode::PerPartition { .. }),
        keys,
        order,
        full_schema: Some(exec.full_schema().as_ref().try_into()?),
        projection: exec.projection().map(|columns| Projection {
            columns: columns.iter().map(|&c| c as u32).collect(),
        }),
    };
    encode(&message, APPLY_EXEC, buf)
}

/// Reads an [`ApplyExec`] written by [`encode_apply_exec`] (without its
/// prefix) over `inputs`.
pub fn decode_apply_exec(
    bytes: &[u8],
    inputs: &[Arc<dyn ExecutionPlan>],
    modules: &Modules,
    ctx: &TaskContext,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Arc<dyn ExecutionPlan>> {
    let message =
        ApplyExecMessage::decode(bytes).map_err(|e| decode_error("a table function apply", e))?;
    let [input] = inputs else {
        return Err(missing("its one input"));
    };
    let input_schema = input.schema();
    let decode_ctx = PhysicalPlanDecodeContext::new(ctx, codec);
    let args = message
        .args
        .iter()
        .map(|arg| converter.proto_to_physical_expr(arg, &input_schema, &decode_ctx))
        .collect::<Result<Vec<Arc<dyn PhysicalExpr>>>>()?;
    let mode = if message.per_partition {
        let keys = message
            .keys
            .iter()
            .map(|&index| {
                let field = input_schema
                    .fields()
                    .get(index as usize)
                    .ok_or_else(|| missing("a partition key in its input"))?;
                Ok(Arc::new(PhysicalColumn::new(field.name(), index as usize)))
            })
            .collect::<Result<_>>()?;
        let order: Vec<PhysicalSortExpr> =
            parse_physical_sort_exprs(&message.order, &decode_ctx, &input_schema, converter)?;
        ApplyMode::PerPartition { keys, order }
    } else {
        ApplyMode::PerRow {
            keep_unmatched: message.keep_unmatched,
        }
    };
    let full_schema: SchemaRef = Arc::new(Schema::try_from(
        message
            .full_schema
            .as_ref()
            .ok_or_else(|| missing("its schema"))?,
    )?);
    let exec = ApplyExec::new(
        Arc::clone(input),
        function(modules, message.function.as_ref())?,
        args,
        mode,
        full_schema,
    );
    let exec = match message.projection {
        None => exec,
        Some(projection) => exec.with_projection(Some(
            projection.columns.iter().map(|&c| c as usize).collect(),
        ))?,
    };
    Ok(Arc::new(exec))
}
