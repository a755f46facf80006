//! SQL forms of WASM table functions (udfs/ABI.md §9):
//!
//! - `SELECT * FROM f('a b c')`: constant arguments, through DataFusion's
//!   table functions;
//! - `FROM t CROSS JOIN LATERAL f(t.x) AS u` (or `JOIN ... ON true`,
//!   `LEFT JOIN ... ON true`): DataFusion plans the call with outer
//!   references; an analyzer rule turns the join into an [`ApplyNode`] over
//!   `t`;
//! - `FROM t, TABLE(f(t.x) OVER (PARTITION BY t.k ORDER BY t.ts)) AS u`: a
//!   relation planner plans the `TABLE(...)` factor as a [`PartitionCall`],
//!   which the same rule turns into a per-partition [`ApplyNode`] over `t`.
//!
//! The extension planner makes [`ApplyExec`]s of the nodes. [`TableCall`],
//! [`ApplyNode`] and [`ApplyExec`] show their parts and are made from them,
//! so that a codec can carry them in plans (the cluster's does).

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::compute::{SortOptions, can_cast_types};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, DFSchema, DFSchemaRef, DataFusionError, Result, ScalarValue};
use datafusion::datasource::{TableType, provider_as_source, source_as_provider};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{
    Expr, ExprSchemable, Extension, JoinType, LogicalPlan, LogicalPlanBuilder, SortExpr,
    UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercionRewriter;
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::expressions::Column as PhysicalColumn;
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use datafusion::sql::sqlparser::ast::{
    self as sql, FunctionArg, FunctionArgExpr, FunctionArguments, TableFactor, WindowType,
};

mod exec;

use crate::udf::{ArrowType, WasmTableFunction};
pub use exec::{ApplyExec, ApplyMode};
use exec::{explain_apply, texts};

/// The session's WASM table functions by SQL name, for the relation
/// planner (DataFusion's catalog of table functions gives no way back to
/// them).
#[derive(Debug, Default, Clone)]
pub struct TableFunctions(Arc<RwLock<HashMap<String, Arc<WasmTableFunction>>>>);

impl TableFunctions {
    /// Registers `function` under `name`.
    pub fn insert(&self, name: &str, function: Arc<WasmTableFunction>) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), function);
    }

    fn get(&self, name: &str) -> Option<Arc<WasmTableFunction>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

/// A WASM table function as DataFusion's table function.
#[derive(Debug)]
pub struct WasmTableUdtf {
    /// The function called.
    pub function: Arc<WasmTableFunction>,
}

impl TableFunctionImpl for WasmTableUdtf {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        Ok(table_call(&self.function, args.exprs().to_vec())?)
    }
}

/// A call of the per-row function `function` with `args` (constants, or
/// outer references to an earlier `FROM` item).
fn table_call(function: &Arc<WasmTableFunction>, args: Vec<Expr>) -> Result<Arc<TableCall>> {
    if function.partitioned() {
        return Err(DataFusionError::Plan(format!(
            "{0} works on whole partitions: call it as \
             FROM t, TABLE({0}(t.a, ...) OVER (PARTITION BY t.k ORDER BY t.ts))",
            function.name()
        )));
    }
    let types = args
        .iter()
        .map(|e| e.get_type(&DFSchema::empty()))
        .collect::<Result<Vec<_>>>()?;
    check_arguments(function, &types)?;
    Ok(Arc::new(TableCall {
        function: Arc::clone(function),
        args,
        schema: Arc::new(Schema::new(function.fields())),
    }))
}

/// Whether values of SQL type `from` can be passed as `to`: the same kind
/// of value (text, bytes, numbers, times, booleans), castable.
fn passes_as(from: &DataType, to: &DataType) -> bool {
    fn kind(t: &DataType) -> u8 {
        match t {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => 1,
            DataType::Binary | DataType::BinaryView | DataType::LargeBinary => 2,
            DataType::Boolean => 3,
            t if t.is_numeric() => 4,
            t if t.is_temporal() => 5,
            _ => 0,
        }
    }
    from == to || *from == DataType::Null || (kind(from) == kind(to) && can_cast_types(from, to))
}

fn check_arguments(function: &WasmTableFunction, types: &[DataType]) -> Result<()> {
    let wanted: Vec<DataType> = function.spec().args.iter().map(|t| t.sql_type()).collect();
    let fits = types.len() == wanted.len()
        && types
            .iter()
            .zip(&wanted)
            .all(|(from, to)| passes_as(from, to));
    if fits {
        return Ok(());
    }
    let list = |types: &[DataType]| {
        types
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(DataFusionError::Plan(format!(
        "{} takes ({}), not ({})",
        function.name(),
        list(&wanted),
        list(types)
    )))
}

/// A call of a per-row table function in `FROM`. With constant arguments
/// it is a table of its own; with references to an earlier `FROM` item
/// (`LATERAL`), [`LateralTableFunctions`] rewrites the join around it.
#[derive(Debug)]
pub struct TableCall {
    function: Arc<WasmTableFunction>,
    args: Vec<Expr>,
    schema: SchemaRef,
}

impl TableCall {
    /// The call `function(args)`, its arguments checked.
    pub fn new(function: &Arc<WasmTableFunction>, args: Vec<Expr>) -> Result<TableCall> {
        Arc::into_inner(table_call(function, args)?)
            .ok_or_else(|| DataFusionError::Internal("a new table call is shared".into()))
    }

    /// The function called.
    pub fn function(&self) -> &Arc<WasmTableFunction> {
        &self.function
    }

    /// Its arguments.
    pub fn args(&self) -> &[Expr] {
        &self.args
    }

    fn is_lateral(&self) -> bool {
        self.args.iter().any(|arg| {
            arg.exists(|e| Ok(matches!(e, Expr::OuterReferenceColumn(..))))
                .unwrap_or(false)
        })
    }
}

#[async_trait]
impl TableProvider for TableCall {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.is_lateral() {
            return Err(DataFusionError::Plan(format!(
                "{0}(...) refers to columns of another table: join it as \
                 CROSS JOIN LATERAL {0}(t.col) AS u, or LEFT JOIN LATERAL {0}(t.col) AS u ON true",
                self.function.name()
            )));
        }
        let args = self
            .args
            .iter()
            .map(|arg| state.create_physical_expr(arg.clone(), &DFSchema::empty()))
            .collect::<Result<Vec<_>>>()?;
        let one_row = Arc::new(PlaceholderRowExec::new(Arc::new(Schema::empty())));
        let apply: Arc<dyn ExecutionPlan> = Arc::new(ApplyExec::new(
            one_row,
            Arc::clone(&self.function),
            args,
            ApplyMode::PerRow {
                keep_unmatched: false,
            },
            Arc::clone(&self.schema),
        ));
        match projection {
            None => Ok(apply),
            Some(columns) => {
                let exprs = columns.iter().map(|&index| {
                    let name = self.schema.field(index).name();
                    (
                        Arc::new(PhysicalColumn::new(name, index)) as Arc<dyn PhysicalExpr>,
                        name.clone(),
                    )
                });
                Ok(Arc::new(ProjectionExec::try_new(exprs, apply)?))
            }
        }
    }
}

/// The function behind a node, compared by name (plans are compared and
/// hashed).
#[derive(Debug, Clone)]
struct FunctionRef(Arc<WasmTableFunction>);

impl PartialEq for FunctionRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl Eq for FunctionRef {}

impl Hash for FunctionRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name().hash(state);
    }
}

impl PartialOrd for FunctionRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.0.name().partial_cmp(other.0.name())
    }
}

/// `TABLE(f(args) OVER (PARTITION BY ... ORDER BY ...))` as planned from
/// SQL, before [`LateralTableFunctions`] gives it the rows of the `FROM`
/// item before it. Its columns are unresolved until then, so it shows no
/// expressions to DataFusion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PartitionCall {
    function: FunctionRef,
    args: Vec<Expr>,
    keys: Vec<Column>,
    order: Vec<SortExpr>,
    schema: DFSchemaRef,
}

impl PartialOrd for PartitionCall {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.function.partial_cmp(&other.function)
    }
}

impl UserDefinedLogicalNodeCore for PartitionCall {
    fn name(&self) -> &str {
        "WasmPartitionCall"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WasmPartitionCall: {}", self.function.0.name())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, _inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(self.clone())
    }
}

/// How an [`ApplyNode`] feeds its input to the function.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub enum NodeMode {
    /// Every input row on its own; see [`ApplyMode::PerRow`].
    PerRow {
        /// Keep, once with null function columns, a row that produced none.
        keep_unmatched: bool,
    },
    /// Whole partitions; see [`ApplyMode::PerPartition`].
    PerPartition {
        /// The partition key columns.
        keys: Vec<Column>,
        /// The order of the rows within a partition.
        order: Vec<SortExpr>,
    },
}

/// A table function applied to the rows of `input`: `input`'s columns,
/// then the function's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApplyNode {
    input: LogicalPlan,
    function: FunctionRef,
    args: Vec<Expr>,
    mode: NodeMode,
    schema: DFSchemaRef,
}

impl ApplyNode {
    /// `function(args)` applied to `input` as `mode` says; `schema` is
    /// `input`'s columns followed by the function's.
    pub fn new(
        input: LogicalPlan,
        function: Arc<WasmTableFunction>,
        args: Vec<Expr>,
        mode: NodeMode,
        schema: DFSchemaRef,
    ) -> ApplyNode {
        ApplyNode {
            input,
            function: FunctionRef(function),
            args,
            mode,
            schema,
        }
    }

    /// The function applied.
    pub fn function(&self) -> &Arc<WasmTableFunction> {
        &self.function.0
    }

    /// Its arguments, over `input`'s columns.
    pub fn args(&self) -> &[Expr] {
        &self.args
    }

    /// How it is fed.
    pub fn mode(&self) -> &NodeMode {
        &self.mode
    }
}

impl PartialOrd for ApplyNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.function.partial_cmp(&other.function)
    }
}

impl UserDefinedLogicalNodeCore for ApplyNode {
    fn name(&self) -> &str {
        "WasmApply"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        let mut exprs = self.args.clone();
        if let NodeMode::PerPartition { keys, order } = &self.mode {
            exprs.extend(keys.iter().cloned().map(Expr::Column));
            exprs.extend(order.iter().map(|s| s.expr.clone()));
        }
        exprs
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WasmApply: ")?;
        let (partition, keep_unmatched) = match &self.mode {
            NodeMode::PerRow { keep_unmatched } => (None, *keep_unmatched),
            NodeMode::PerPartition { keys, order } => (Some((texts(keys), texts(order))), false),
        };
        explain_apply(
            f,
            self.function.0.name(),
            &texts(&self.args),
            partition,
            keep_unmatched,
        )
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let [input] = <[LogicalPlan; 1]>::try_from(inputs)
            .map_err(|_| DataFusionError::Internal("WasmApply takes one input".into()))?;
        let mut exprs = exprs.into_iter();
        let args: Vec<Expr> = exprs.by_ref().take(self.args.len()).collect();
        let mode = match &self.mode {
            NodeMode::PerRow { .. } => self.mode.clone(),
            NodeMode::PerPartition { keys, order } => {
                let keys = exprs
                    .by_ref()
                    .take(keys.len())
                    .map(|e| match e {
                        Expr::Column(column) => Ok(column),
                        other => Err(DataFusionError::Internal(format!(
                            "WasmApply: partition key {other} is not a column"
                        ))),
                    })
                    .collect::<Result<_>>()?;
                let order = order
                    .iter()
                    .zip(exprs)
                    .map(|(sort, expr)| SortExpr::new(expr, sort.asc, sort.nulls_first))
                    .collect();
                NodeMode::PerPartition { keys, order }
            }
        };
        Ok(ApplyNode {
            input,
            function: self.function.clone(),
            args,
            mode,
            schema: Arc::clone(&self.schema),
        })
    }
}

/// Turns joins with a lateral table function call into [`ApplyNode`]s.
#[derive(Debug)]
pub struct LateralTableFunctions;

/// The call on the right of a join, under any aliases.
enum RightCall {
    Lateral(Arc<WasmTableFunction>, Vec<Expr>),
    Partition(PartitionCall),
}

fn right_call(plan: &LogicalPlan) -> Option<RightCall> {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => right_call(&alias.input),
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let call = provider.downcast_ref::<TableCall>()?;
            call.is_lateral()
                .then(|| RightCall::Lateral(Arc::clone(&call.function), call.args.clone()))
        }
        LogicalPlan::Extension(extension) => extension
            .node
            .as_any()
            .downcast_ref::<PartitionCall>()
            .map(|call| RightCall::Partition(call.clone())),
        _ => None,
    }
}

/// Resolves `column` against `schema`, naming the function when it is not
/// there.
fn resolve(column: &Column, schema: &DFSchema, function: &str) -> Result<Column> {
    let (qualifier, field) = schema.qualified_field_from_column(column).map_err(|_| {
        DataFusionError::Plan(format!(
            "{function}: no column {column} in the FROM item before TABLE(...)"
        ))
    })?;
    Ok(Column::from((qualifier, field)))
}

fn rewrite_join(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Join(join) = &plan else {
        return Ok(Transformed::no(plan));
    };
    let Some(call) = right_call(&join.right) else {
        return Ok(Transformed::no(plan));
    };
    let name = match &call {
        RightCall::Lateral(function, _) => function.name().to_string(),
        RightCall::Partition(call) => call.function.0.name().to_string(),
    };
    let name = name.as_str();
    let on_true = join.on.is_empty()
        && join
            .filter
            .as_ref()
            .is_none_or(|f| matches!(f, Expr::Literal(ScalarValue::Boolean(Some(true)), _)));
    let keep_unmatched = match (join.join_type, &call) {
        (JoinType::Inner, _) if on_true => false,
        (JoinType::Left, RightCall::Lateral(..)) if on_true => true,
        _ => {
            return Err(DataFusionError::Plan(format!(
                "{name}(...) can be joined only with CROSS JOIN, JOIN ... ON true{}",
                if matches!(call, RightCall::Lateral(..)) {
                    " or LEFT JOIN ... ON true"
                } else {
                    ""
                }
            )));
        }
    };
    let input = join.left.as_ref().clone();
    // The call's expressions were planned apart from `input`: DataFusion's
    // type coercion has not seen them (it ran before this rule).
    let coerced = |e: Expr| {
        e.rewrite(&mut TypeCoercionRewriter::new(input.schema()))
            .data()
    };
    let node = match call {
        RightCall::Lateral(function, args) => {
            let args = args
                .iter()
                .map(|arg| {
                    arg.clone()
                        .transform(|e| match e {
                            Expr::OuterReferenceColumn(_, column) => {
                                Ok(Transformed::yes(Expr::Column(column)))
                            }
                            other => Ok(Transformed::no(other)),
                        })
                        .data()
                        .and_then(coerced)
                })
                .collect::<Result<Vec<_>>>()?;
            ApplyNode {
                input,
                function: FunctionRef(function),
                args,
                mode: NodeMode::PerRow { keep_unmatched },
                schema: Arc::clone(&join.schema),
            }
        }
        RightCall::Partition(call) => {
            let schema = input.schema();
            let in_input = |e: Expr| -> Result<Expr> {
                e.transform(|e| match e {
                    Expr::Column(column) => Ok(Transformed::yes(Expr::Column(resolve(
                        &column, schema, name,
                    )?))),
                    other => Ok(Transformed::no(other)),
                })
                .data()
                .and_then(coerced)
            };
            let args = call
                .args
                .iter()
                .cloned()
                .map(in_input)
                .collect::<Result<Vec<_>>>()?;
            let types = args
                .iter()
                .map(|arg| arg.get_type(schema))
                .collect::<Result<Vec<_>>>()?;
            check_arguments(&call.function.0, &types)?;
            let keys = call
                .keys
                .iter()
                .map(|k| resolve(k, schema, name))
                .collect::<Result<Vec<_>>>()?;
            let order = call
                .order
                .iter()
                .map(|s| {
                    Ok(SortExpr::new(
                        in_input(s.expr.clone())?,
                        s.asc,
                        s.nulls_first,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            // The input's non-key columns are null in the output.
            let fields = join.schema.iter().map(|(qualifier, field)| {
                (
                    qualifier.cloned(),
                    Arc::new(field.as_ref().clone().with_nullable(true)),
                )
            });
            let schema =
                DFSchema::new_with_metadata(fields.collect(), join.schema.metadata().clone())?;
            ApplyNode {
                input,
                function: call.function,
                args,
                mode: NodeMode::PerPartition { keys, order },
                schema: Arc::new(schema),
            }
        }
    };
    Ok(Transformed::yes(LogicalPlan::Extension(Extension {
        node: Arc::new(node),
    })))
}

impl AnalyzerRule for LateralTableFunctions {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(rewrite_join).data()
    }

    fn name(&self) -> &str {
        "wasql_lateral_table_functions"
    }
}

/// Plans `LATERAL f(t.x)` and `TABLE(f(...) OVER (PARTITION BY ... ORDER BY
/// ...))` for WASM table functions.
#[derive(Debug)]
pub struct PartitionedTableFunctions {
    /// The session's table functions, by SQL name.
    pub functions: TableFunctions,
}

/// A column, from an identifier; `None` for anything else.
fn column_of(expr: &sql::Expr, context: &dyn RelationPlannerContext) -> Option<Column> {
    match expr {
        sql::Expr::Identifier(ident) => Some(Column::new_unqualified(
            context.normalize_ident(ident.clone()),
        )),
        sql::Expr::CompoundIdentifier(idents) if idents.len() >= 2 => {
            let mut names: Vec<String> = idents
                .iter()
                .map(|i| context.normalize_ident(i.clone()))
                .collect();
            let name = names.pop()?;
            Some(Column::new(Some(names.join(".")), name))
        }
        _ => None,
    }
}

impl RelationPlanner for PartitionedTableFunctions {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        if let TableFactor::Function {
            lateral: true,
            name,
            args,
            alias,
            ..
        } = &relation
            && let Some(function) = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .and_then(|i| self.functions.get(&context.normalize_ident(i.clone())))
        {
            // Columns of earlier FROM items become outer references (the
            // planner has them as the outer query's schema).
            let args = args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => {
                        context.sql_to_expr(expr.clone(), &DFSchema::empty())
                    }
                    other => Err(DataFusionError::Plan(format!(
                        "{}: unsupported argument {other}",
                        function.name()
                    ))),
                })
                .collect::<Result<Vec<_>>>()?;
            let call = table_call(&function, args)?;
            let plan = LogicalPlanBuilder::scan(function.name(), provider_as_source(call), None)?
                .build()?;
            return Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
                plan,
                alias.clone(),
            ))));
        }
        let TableFactor::TableFunction {
            expr: sql::Expr::Function(call),
            alias,
        } = &relation
        else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let name = call
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|ident| context.normalize_ident(ident.clone()));
        let Some(function) = name
            .as_deref()
            .and_then(|name| self.functions.get(name))
            .filter(|f| f.partitioned())
        else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let name = function.name().to_string();
        let usage = || {
            DataFusionError::Plan(format!(
                "{name}: write TABLE({name}(t.a, ...) OVER (PARTITION BY t.k ORDER BY t.ts)); \
                 arguments, PARTITION BY and ORDER BY are columns of the FROM item before it, or constants"
            ))
        };
        let Some(WindowType::WindowSpec(window)) = &call.over else {
            return Err(usage());
        };
        // Columns stay unresolved until the rows they come from are known.
        let to_expr = |expr: &sql::Expr, context: &mut dyn RelationPlannerContext| match column_of(
            expr, context,
        ) {
            Some(column) => Ok(Expr::Column(column)),
            None => context
                .sql_to_expr(expr.clone(), &DFSchema::empty())
                .map_err(|_| usage()),
        };
        let FunctionArguments::List(list) = &call.args else {
            return Err(usage());
        };
        let args = list
            .args
            .iter()
            .map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => to_expr(expr, context),
                _ => Err(usage()),
            })
            .collect::<Result<Vec<_>>>()?;
        let keys = window
            .partition_by
            .iter()
            .map(|e| column_of(e, context).ok_or_else(usage))
            .collect::<Result<Vec<_>>>()?;
        let order = window
            .order_by
            .iter()
            .map(|o| {
                let asc = o.options.asc.unwrap_or(true);
                Ok(SortExpr::new(
                    to_expr(&o.expr, context)?,
                    asc,
                    o.options.nulls_first.unwrap_or(!asc),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if args.len() != function.spec().args.len() {
            return Err(DataFusionError::Plan(format!(
                "{name} takes {} arguments, not {}",
                function.spec().args.len(),
                args.len()
            )));
        }
        let schema =
            DFSchema::try_from_qualified_schema(name.as_str(), &Schema::new(function.fields()))?;
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(PartitionCall {
                function: FunctionRef(function),
                args,
                keys,
                order,
                schema: Arc::new(schema),
            }),
        });
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}

/// Plans [`ApplyNode`]s as [`ApplyExec`]s.
#[derive(Debug)]
struct ApplyPlanner;

#[async_trait]
impl ExtensionPlanner for ApplyPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if let Some(call) = node.as_any().downcast_ref::<PartitionCall>() {
            let name = call.function.0.name();
            return Err(DataFusionError::Plan(format!(
                "{name} needs the rows it partitions: write FROM t, TABLE({name}(t.a, ...) OVER (PARTITION BY t.k ORDER BY t.ts))"
            )));
        }
        let Some(apply) = node.as_any().downcast_ref::<ApplyNode>() else {
            return Ok(None);
        };
        let input_schema = logical_inputs[0].schema();
        let physical =
            |expr: &Expr| planner.create_physical_expr(expr, input_schema, session, planning_ctx);
        let args = apply
            .args
            .iter()
            .map(physical)
            .collect::<Result<Vec<_>>>()?;
        let mode = match &apply.mode {
            NodeMode::PerRow { keep_unmatched } => ApplyMode::PerRow {
                keep_unmatched: *keep_unmatched,
            },
            NodeMode::PerPartition { keys, order } => ApplyMode::PerPartition {
                keys: keys
                    .iter()
                    .map(|k| {
                        Ok(Arc::new(PhysicalColumn::new(
                            &k.name,
                            input_schema.index_of_column(k)?,
                        )))
                    })
                    .collect::<Result<_>>()?,
                order: order
                    .iter()
                    .map(|s| {
                        Ok(PhysicalSortExpr::new(
                            physical(&s.expr)?,
                            SortOptions::new(!s.asc, s.nulls_first),
                        ))
                    })
                    .collect::<Result<_>>()?,
            },
        };
        let schema: SchemaRef = Arc::new(apply.schema.as_arrow().clone());
        Ok(Some(Arc::new(ApplyExec::new(
            Arc::clone(&physical_inputs[0]),
            Arc::clone(&apply.function.0),
            args,
            mode,
            schema,
        ))))
    }
}

/// DataFusion's physical planner, with [`ApplyPlanner`].
#[derive(Debug)]
pub struct WasqlQueryPlanner;

#[async_trait]
impl QueryPlanner for WasqlQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(ApplyPlanner)])
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use datafusion::arrow::datatypes::{Field, TimeUnit};
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::datasource::MemTable;

    use super::*;
    use crate::{Engine, EngineSettings};

    /// An engine with `settings`, the functions of `udfs/examples/tables`
    /// (`tokenize` per row, `sessionize` per partition) and an empty table
    /// `t` of `fields`.
    pub(super) fn engine_with_tables(settings: &EngineSettings, fields: Vec<Field>) -> Engine {
        let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../udfs/dist/tables.wasm");
        assert!(
            module.is_file(),
            "{} is missing: run `bash udfs/build.sh` first",
            module.display()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&module, dir.path().join("tables.wasm")).unwrap();
        let engine = Engine::new(settings).unwrap();
        engine.load_udf_dir(dir.path()).unwrap();
        let table = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]]).unwrap();
        engine
            .context()
            .register_table("t", Arc::new(table))
            .unwrap();
        engine
    }

    /// [`engine_with_tables`] with the default settings and
    /// `t(id BIGINT, body VARCHAR, ts TIMESTAMP)`.
    fn engine() -> Engine {
        engine_with_tables(
            &EngineSettings::default(),
            vec![
                Field::new("id", DataType::Int64, false),
                Field::new("body", DataType::Utf8, true),
                Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            ],
        )
    }

    /// `sql` planned (not yet analyzed), then rewritten by
    /// [`LateralTableFunctions`] alone.
    async fn rewritten(engine: &Engine, sql: &str) -> Result<LogicalPlan> {
        let plan = engine.context().state().create_logical_plan(sql).await?;
        LateralTableFunctions.analyze(plan, &ConfigOptions::default())
    }

    /// The [`ApplyNode`]s of `plan`, and whether a join is left in it.
    fn applies(plan: &LogicalPlan) -> (Vec<ApplyNode>, bool) {
        let mut nodes = Vec::new();
        let mut joins = false;
        plan.apply_with_subqueries(|node| {
            match node {
                LogicalPlan::Extension(extension) => {
                    if let Some(apply) = extension.node.as_any().downcast_ref::<ApplyNode>() {
                        nodes.push(apply.clone());
                    }
                }
                LogicalPlan::Join(_) => joins = true,
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        (nodes, joins)
    }

    #[tokio::test]
    async fn lateral_joins_become_one_apply_over_the_left_input() {
        let engine = engine();
        for (sql, keep_unmatched) in [
            (
                "SELECT * FROM t CROSS JOIN LATERAL tokenize(t.body) AS u",
                false,
            ),
            (
                "SELECT * FROM t JOIN LATERAL tokenize(t.body) AS u ON true",
                false,
            ),
            (
                "SELECT * FROM t LEFT JOIN LATERAL tokenize(t.body) AS u ON true",
                true,
            ),
        ] {
            let plan = rewritten(&engine, sql).await.unwrap();
            let (nodes, joins) = applies(&plan);
            assert!(!joins, "{sql}: a join is left:\n{plan}");
            let [node] = nodes.as_slice() else {
                panic!("{sql}: one apply expected:\n{plan}");
            };
            assert_eq!(node.function.0.name(), "tokenize", "{sql}");
            assert_eq!(node.mode, NodeMode::PerRow { keep_unmatched }, "{sql}");
            // The outer reference is now a column of the input.
            assert_eq!(
                node.args,
                [Expr::Column(Column::new(Some("t"), "body"))],
                "{sql}"
            );
            assert!(
                node.input.schema().has_column_with_unqualified_name("body"),
                "{sql}"
            );
            // The output is the join's: t's columns, then the function's.
            let names: Vec<&str> = node
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            assert_eq!(names, ["id", "body", "ts", "token", "pos"], "{sql}");
        }
    }

    #[tokio::test]
    async fn other_joins_with_a_lateral_call_are_refused_naming_the_function() {
        let engine = engine();
        let lateral = "tokenize(...) can be joined only with CROSS JOIN, JOIN ... ON true \
                       or LEFT JOIN ... ON true";
        let partitioned = "sessionize(...) can be joined only with CROSS JOIN, JOIN ... ON true";
        for (sql, expected) in [
            (
                "SELECT * FROM t JOIN LATERAL tokenize(t.body) AS u ON u.pos = t.id",
                lateral,
            ),
            (
                "SELECT * FROM t LEFT JOIN LATERAL tokenize(t.body) AS u ON u.token = 'a'",
                lateral,
            ),
            (
                "SELECT * FROM t LEFT JOIN TABLE(sessionize(t.id, t.ts, 60) \
                 OVER (PARTITION BY t.id ORDER BY t.ts)) AS s ON true",
                partitioned,
            ),
        ] {
            let error = rewritten(&engine, sql).await.unwrap_err().to_string();
            assert!(error.contains(expected), "{sql}: {error}");
            if expected == partitioned {
                assert!(!error.contains("LEFT JOIN"), "{sql}: {error}");
            }
        }
    }

    #[tokio::test]
    async fn joins_without_a_table_function_are_left_alone() {
        let engine = engine();
        let sql = "SELECT * FROM t a CROSS JOIN t b";
        let before = engine
            .context()
            .state()
            .create_logical_plan(sql)
            .await
            .unwrap();
        let after = rewritten(&engine, sql).await.unwrap();
        assert_eq!(before, after);
        assert!(applies(&after).1, "the join stays");
    }

    #[tokio::test]
    async fn partition_calls_become_a_per_partition_apply() {
        let engine = engine();
        let plan = rewritten(
            &engine,
            "SELECT * FROM t, TABLE(sessionize(t.id, t.ts, 60) \
             OVER (PARTITION BY t.id ORDER BY t.ts)) AS s",
        )
        .await
        .unwrap();
        let (nodes, joins) = applies(&plan);
        assert!(!joins, "{plan}");
        let [node] = nodes.as_slice() else {
            panic!("one apply expected:\n{plan}");
        };
        assert_eq!(node.function.0.name(), "sessionize");
        let NodeMode::PerPartition { keys, order } = &node.mode else {
            panic!("per partition expected: {:?}", node.mode);
        };
        assert_eq!(keys, &[Column::new(Some("t"), "id")]);
        assert_eq!(order.len(), 1);
        assert_eq!(order[0].expr, Expr::Column(Column::new(Some("t"), "ts")));
        assert!(order[0].asc);
        // The input's non-key columns are null in the output.
        assert!(node.schema.fields().iter().all(|f| f.is_nullable()));
    }
}
