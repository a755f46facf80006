//! The physical operator that runs a WASM table function over its input,
//! per row or per partition (udfs/ABI.md §9): made by the extension planner
//! of the `apply` module from an `ApplyNode`.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array, new_null_array,
};
use datafusion::arrow::compute::{concat_batches, partition, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{
    EquivalenceProperties, LexRequirement, OrderingRequirements, Partitioning, PhysicalExpr,
    PhysicalSortExpr, PhysicalSortRequirement,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::projection::{
    EmbeddedProjection, ProjectionExec, try_embed_projection,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties, apply_expression_roots,
};
use futures::{StreamExt, stream};

use crate::udf::WasmTableFunction;

/// How an [`ApplyExec`] feeds its input to the function.
#[derive(Debug, Clone)]
pub enum ApplyMode {
    /// Every input row on its own (§9.1); the output keeps the input's
    /// columns, repeated for each row the input row produced. With
    /// `keep_unmatched` (`LEFT JOIN LATERAL`), a row that produced nothing
    /// is kept once, with nulls for the function's columns.
    PerRow {
        /// Keep, once with null function columns, a row that produced none.
        keep_unmatched: bool,
    },
    /// Whole partitions of rows with equal `keys`, sorted by `order`
    /// (§9.2); the input's columns in the output are the partition's key
    /// values, and nulls for the others.
    PerPartition {
        /// The partition key columns.
        keys: Vec<Arc<Column>>,
        /// The order of the rows within a partition.
        order: Vec<PhysicalSortExpr>,
    },
}

/// Runs a WASM table function over its input: the input's columns, then
/// the function's — or those of them a projection keeps.
#[derive(Debug)]
pub struct ApplyExec {
    input: Arc<dyn ExecutionPlan>,
    function: Arc<WasmTableFunction>,
    args: Vec<Arc<dyn PhysicalExpr>>,
    mode: ApplyMode,
    /// The input's columns, then the function's.
    full_schema: SchemaRef,
    /// The columns of `full_schema` produced; `None`: all.
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl ApplyExec {
    /// `function(args)` over `input`; `schema` is the input's columns
    /// followed by the function's.
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        function: Arc<WasmTableFunction>,
        args: Vec<Arc<dyn PhysicalExpr>>,
        mode: ApplyMode,
        schema: SchemaRef,
    ) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            match mode {
                ApplyMode::PerRow { .. } => EmissionType::Incremental,
                ApplyMode::PerPartition { .. } => EmissionType::Both,
            },
            Boundedness::Bounded,
        );
        ApplyExec {
            input,
            function,
            args,
            mode,
            full_schema: schema,
            projection: None,
            properties: Arc::new(properties),
        }
    }

    /// The function applied.
    pub fn function(&self) -> &Arc<WasmTableFunction> {
        &self.function
    }

    /// Its arguments, over the input's columns.
    pub fn args(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.args
    }

    /// How it is fed.
    pub fn mode(&self) -> &ApplyMode {
        &self.mode
    }

    /// The input's columns, then the function's.
    pub fn full_schema(&self) -> &SchemaRef {
        &self.full_schema
    }

    /// The columns of [`ApplyExec::full_schema`] it produces; `None`: all.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }

    /// The columns produced, as indices into the input's and the function's.
    fn columns(&self) -> Vec<usize> {
        self.projection
            .clone()
            .unwrap_or_else(|| (0..self.full_schema.fields().len()).collect())
    }
}

impl EmbeddedProjection for ApplyExec {
    fn with_projection(&self, projection: Option<Vec<usize>>) -> Result<Self> {
        let mut exec = ApplyExec::new(
            Arc::clone(&self.input),
            Arc::clone(&self.function),
            self.args.clone(),
            self.mode.clone(),
            Arc::clone(&self.full_schema),
        );
        // Compose with this node's own projection.
        let columns = self.columns();
        let projection = projection.map(|p| p.iter().map(|&i| columns[i]).collect::<Vec<_>>());
        if let Some(kept) = &projection {
            let schema = Arc::new(self.full_schema.project(kept)?);
            let mut properties = exec.properties.as_ref().clone();
            properties.eq_properties = EquivalenceProperties::new(schema);
            exec.properties = Arc::new(properties);
        }
        exec.projection = projection;
        Ok(exec)
    }
}

/// How EXPLAIN shows an apply, logical or physical: `f(args) per row`
/// (`, left` when unmatched rows are kept) or `f(args) PARTITION BY keys
/// ORDER BY order`.
pub fn explain_apply(
    f: &mut fmt::Formatter,
    call: &str,
    args: &[String],
    partition: Option<(Vec<String>, Vec<String>)>,
    keep_unmatched: bool,
) -> fmt::Result {
    write!(f, "{call}({})", args.join(", "))?;
    match partition {
        None => write!(f, " per row{}", if keep_unmatched { ", left" } else { "" }),
        Some((keys, order)) => write!(
            f,
            " PARTITION BY {} ORDER BY {}",
            keys.join(", "),
            order.join(", ")
        ),
    }
}

/// Each item's text.
pub fn texts<T: fmt::Display>(items: &[T]) -> Vec<String> {
    items.iter().map(T::to_string).collect()
}

impl DisplayAs for ApplyExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WasmApplyExec: ")?;
        let (partition, keep_unmatched) = match &self.mode {
            ApplyMode::PerRow { keep_unmatched } => (None, *keep_unmatched),
            ApplyMode::PerPartition { keys, order } => (Some((texts(keys), texts(order))), false),
        };
        explain_apply(
            f,
            self.function.name(),
            &texts(&self.args),
            partition,
            keep_unmatched,
        )?;
        match &self.projection {
            Some(projection) => write!(f, " projection={projection:?}"),
            None => Ok(()),
        }
    }
}

impl ExecutionPlan for ApplyExec {
    fn name(&self) -> &str {
        "WasmApplyExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        apply_expression_roots(self.args.iter(), f)
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        match &self.mode {
            ApplyMode::PerPartition { keys, .. } if !keys.is_empty() => {
                vec![Distribution::KeyPartitioned(
                    keys.iter()
                        .map(|k| Arc::clone(k) as Arc<dyn PhysicalExpr>)
                        .collect(),
                )]
            }
            ApplyMode::PerPartition { .. } => vec![Distribution::SinglePartition],
            ApplyMode::PerRow { .. } => vec![Distribution::UnspecifiedDistribution],
        }
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        match &self.mode {
            ApplyMode::PerPartition { keys, order } => {
                let requirement = keys
                    .iter()
                    .map(|k| PhysicalSortRequirement::new(Arc::clone(k) as _, None))
                    .chain(order.iter().cloned().map(PhysicalSortRequirement::from));
                vec![LexRequirement::new(requirement).map(OrderingRequirements::new)]
            }
            ApplyMode::PerRow { .. } => vec![None],
        }
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("WasmApplyExec takes one input".into()))?;
        let exec = ApplyExec::new(
            input,
            Arc::clone(&self.function),
            self.args.clone(),
            self.mode.clone(),
            Arc::clone(&self.full_schema),
        );
        Ok(Arc::new(EmbeddedProjection::with_projection(
            &exec,
            self.projection.clone(),
        )?))
    }

    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExec,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        try_embed_projection(projection, self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let run = Arc::new(Apply {
            function: Arc::clone(&self.function),
            args: self.args.clone(),
            inputs: self.input.schema().fields().len(),
            columns: self.columns(),
            schema: Arc::clone(&schema),
        });
        let output: SendableRecordBatchStream = match &self.mode {
            ApplyMode::PerRow { keep_unmatched } => {
                let keep = *keep_unmatched;
                Box::pin(RecordBatchStreamAdapter::new(
                    schema,
                    input.map(move |batch| run.per_row(&batch?, keep)),
                ))
            }
            ApplyMode::PerPartition { keys, .. } => {
                let partitions = Partitions {
                    run,
                    keys: keys.iter().map(|k| k.index()).collect(),
                    pending: Vec::new(),
                };
                Box::pin(RecordBatchStreamAdapter::new(
                    schema,
                    partitions.stream(input),
                ))
            }
        };
        Ok(output)
    }
}

/// What a running [`ApplyExec`] needs.
struct Apply {
    function: Arc<WasmTableFunction>,
    args: Vec<Arc<dyn PhysicalExpr>>,
    /// How many columns the input has.
    inputs: usize,
    /// The columns to produce: input columns, then the function's.
    columns: Vec<usize>,
    schema: SchemaRef,
}

impl Apply {
    /// The function's arguments for `batch`: columns, or length-1 constants.
    fn arguments(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        self.args
            .iter()
            .map(|arg| match arg.evaluate(batch)? {
                datafusion::logical_expr::ColumnarValue::Array(array) => Ok(array),
                datafusion::logical_expr::ColumnarValue::Scalar(value) => value.to_array_of_size(1),
            })
            .collect()
    }

    /// §9.1: each row of `batch` is a part.
    fn per_row(&self, batch: &RecordBatch, keep_unmatched: bool) -> Result<RecordBatch> {
        let nrows = batch.num_rows();
        if nrows == 0 {
            return self.output(0, &[], |index| {
                Ok(datafusion::arrow::array::new_empty_array(
                    batch.column(index).data_type(),
                ))
            });
        }
        let bounds: Vec<u32> = (0..=nrows as u32).collect();
        let output = self
            .function
            .call(&self.arguments(batch)?, nrows, &bounds)?;
        let (rows, columns) = if keep_unmatched {
            // Every input row, with its outputs or once with nulls.
            let (mut rows, mut outputs) = (Vec::new(), Vec::new());
            let mut next = 0;
            for row in 0..nrows as u32 {
                let start = next;
                while next < output.parts.len() && output.parts[next] == row {
                    rows.push(row);
                    outputs.push(Some(next as u32));
                    next += 1;
                }
                if start == next {
                    rows.push(row);
                    outputs.push(None);
                }
            }
            let outputs = UInt32Array::from(outputs);
            let columns = output
                .columns
                .iter()
                .map(|c| take(c, &outputs, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            (UInt32Array::from(rows), columns)
        } else {
            (UInt32Array::from(output.parts), output.columns)
        };
        self.output(rows.len(), &columns, |index| {
            Ok(take(batch.column(index), &rows, None)?)
        })
    }

    /// An output batch of `nrows` rows: the chosen input columns (made by
    /// `input`) and function columns (`produced`).
    fn output(
        &self,
        nrows: usize,
        produced: &[ArrayRef],
        input: impl Fn(usize) -> Result<ArrayRef>,
    ) -> Result<RecordBatch> {
        let columns = self
            .columns
            .iter()
            .map(|&index| match index.checked_sub(self.inputs) {
                Some(produced_index) => Ok(Arc::clone(&produced[produced_index])),
                None => input(index),
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(nrows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }

    /// §9.2: `batch` holds whole partitions, which start at `starts`.
    fn per_partition(
        &self,
        batch: &RecordBatch,
        starts: &[usize],
        keys: &[usize],
    ) -> Result<RecordBatch> {
        let nrows = batch.num_rows();
        let bounds: Vec<u32> = starts
            .iter()
            .chain(std::iter::once(&nrows))
            .map(|&s| s as u32)
            .collect();
        let output = self
            .function
            .call(&self.arguments(batch)?, nrows, &bounds)?;
        let first_rows =
            UInt32Array::from_iter_values(output.parts.iter().map(|&p| starts[p as usize] as u32));
        self.output(first_rows.len(), &output.columns, |index| {
            let column = batch.column(index);
            Ok(if keys.contains(&index) {
                take(column, &first_rows, None)?
            } else {
                new_null_array(column.data_type(), first_rows.len())
            })
        })
    }
}

/// Cuts sorted input into whole partitions: rows of a partition that may
/// continue in the next batch wait in `pending`.
struct Partitions {
    run: Arc<Apply>,
    /// The key columns' indices in the input.
    keys: Vec<usize>,
    /// Rows of the last partition seen, not known to be complete.
    pending: Vec<RecordBatch>,
}

impl Partitions {
    fn stream(
        self,
        input: SendableRecordBatchStream,
    ) -> impl futures::Stream<Item = Result<RecordBatch>> + Send {
        let schema = input.schema();
        stream::unfold(Some((self, input)), move |state| {
            let schema = Arc::clone(&schema);
            async move {
                let (mut this, mut input) = state?;
                loop {
                    match input.next().await {
                        Some(Ok(batch)) => match this.push(&batch, &schema) {
                            Ok(Some(output)) => return Some((Ok(output), Some((this, input)))),
                            Ok(None) => continue,
                            Err(e) => return Some((Err(e), None)),
                        },
                        Some(Err(e)) => return Some((Err(e), None)),
                        None => {
                            let last = this.flush(&schema);
                            return match last {
                                Ok(Some(output)) => Some((Ok(output), None)),
                                Ok(None) => None,
                                Err(e) => Some((Err(e), None)),
                            };
                        }
                    }
                }
            }
        })
    }

    /// Whether row `a` of `x` and row `b` of `y` have the same keys.
    fn same_keys(&self, x: &RecordBatch, a: usize, y: &RecordBatch, b: usize) -> Result<bool> {
        let pairs = concat_batches(&x.schema(), [&x.slice(a, 1), &y.slice(b, 1)])?;
        let keys: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|&k| Arc::clone(pairs.column(k)))
            .collect();
        Ok(keys.is_empty() || partition(&keys)?.len() == 1)
    }

    /// Takes a batch; runs the function on the partitions it completes.
    fn push(&mut self, batch: &RecordBatch, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let keys: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|&k| Arc::clone(batch.column(k)))
            .collect();
        let ranges: Vec<std::ops::Range<usize>> = if keys.is_empty() {
            std::iter::once(0..batch.num_rows()).collect()
        } else {
            partition(&keys)?.ranges()
        };
        let continues = match self.pending.last() {
            Some(last) => self.same_keys(last, last.num_rows() - 1, batch, 0)?,
            None => false,
        };
        let tail = ranges
            .last()
            .expect("a non-empty batch has a range")
            .clone();
        if ranges.len() == 1 && continues {
            self.pending.push(batch.clone());
            return Ok(None);
        }
        // Complete: the pending partition, and every range but the last.
        let pending_rows: usize = self.pending.iter().map(RecordBatch::num_rows).sum();
        let mut starts = Vec::with_capacity(ranges.len());
        if pending_rows > 0 {
            starts.push(0);
        }
        let skip = usize::from(continues);
        starts.extend(
            ranges[skip..ranges.len() - 1]
                .iter()
                .map(|r| pending_rows + r.start),
        );
        let mut pieces = std::mem::take(&mut self.pending);
        pieces.push(batch.slice(0, tail.start));
        self.pending.push(batch.slice(tail.start, tail.len()));
        if starts.is_empty() {
            return Ok(None);
        }
        let complete = concat_batches(schema, &pieces)?;
        self.run
            .per_partition(&complete, &starts, &self.keys)
            .map(Some)
    }

    /// The input has ended: the pending partition is complete.
    fn flush(&mut self, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let complete = concat_batches(schema, &std::mem::take(&mut self.pending))?;
        self.run
            .per_partition(&complete, &[0], &self.keys)
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, TimeUnit};

    use super::*;
    use crate::EngineSettings;

    /// The `ApplyExec` of `sessionize` (udfs/examples/tables) over
    /// `t(u BIGINT, ts TIMESTAMP)`, partitioned by `u`, as wasql plans it.
    async fn sessionize_apply() -> Arc<dyn ExecutionPlan> {
        let engine = super::super::tests::engine_with_tables(
            &EngineSettings {
                target_partitions: Some(1),
                ..EngineSettings::default()
            },
            vec![
                Field::new("u", DataType::Int64, true),
                Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            ],
        );
        let plan = engine
            .context()
            .sql(
                "SELECT * FROM t, TABLE(sessionize(t.u, t.ts, 3600) \
                 OVER (PARTITION BY t.u ORDER BY t.ts)) AS s",
            )
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        fn find(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
            if plan.is::<ApplyExec>() {
                return Some(Arc::clone(plan));
            }
            plan.children().into_iter().find_map(find)
        }
        find(&plan).expect("an ApplyExec in the plan")
    }

    /// The [`Partitions`] an `ApplyExec` would run for one input stream.
    fn partitions(plan: &Arc<dyn ExecutionPlan>) -> Partitions {
        let exec = plan.downcast_ref::<ApplyExec>().unwrap();
        let ApplyMode::PerPartition { keys, .. } = &exec.mode else {
            panic!("sessionize runs per partition");
        };
        Partitions {
            run: Arc::new(Apply {
                function: Arc::clone(&exec.function),
                args: exec.args.clone(),
                inputs: exec.input.schema().fields().len(),
                columns: exec.columns(),
                schema: exec.schema(),
            }),
            keys: keys.iter().map(|k| k.index()).collect(),
            pending: Vec::new(),
        }
    }

    /// An input batch of the apply with the users `users`, one row each, a
    /// second apart.
    fn batch(schema: &SchemaRef, users: &[i64]) -> RecordBatch {
        let seconds: Int64Array = (0..users.len() as i64).map(|s| s * 1_000_000).collect();
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                "u" => Ok(Arc::new(Int64Array::from(users.to_vec())) as ArrayRef),
                _ => cast(&seconds, field.data_type()),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .unwrap();
        RecordBatch::try_new(Arc::clone(schema), columns).unwrap()
    }

    /// (user, events) of each session in `output`.
    fn sessions(output: Option<RecordBatch>) -> Vec<(i64, i32)> {
        let Some(output) = output else {
            return Vec::new();
        };
        let users = output.column_by_name("user_id").unwrap();
        let events = output.column_by_name("events").unwrap();
        let users = users.as_primitive::<Int64Type>();
        let events = events.as_primitive::<Int32Type>();
        (0..output.num_rows())
            .map(|row| (users.value(row), events.value(row)))
            .collect()
    }

    /// A partition runs once it is complete: when a later batch starts
    /// another key, or at the end of the input; never split at a batch
    /// boundary, and empty batches change nothing.
    #[tokio::test]
    async fn partitions_run_whole_across_batch_boundaries() {
        let plan = sessionize_apply().await;
        let input = plan.children()[0].schema();
        let mut parts = partitions(&plan);
        let mut push = |users: &[i64]| sessions(parts.push(&batch(&input, users), &input).unwrap());
        assert_eq!(push(&[1, 1]), []);
        assert_eq!(push(&[1]), []);
        assert_eq!(push(&[1, 2]), [(1, 4)]);
        assert_eq!(push(&[]), []);
        assert_eq!(push(&[2, 3]), [(2, 2)]);
        assert_eq!(push(&[3]), []);
        assert_eq!(sessions(parts.flush(&input).unwrap()), [(3, 2)]);
        assert_eq!(sessions(parts.flush(&input).unwrap()), []);
    }

    /// A batch holding several whole partitions runs them in one call; its
    /// last partition waits for the next batch.
    #[tokio::test]
    async fn one_batch_completes_several_partitions() {
        let plan = sessionize_apply().await;
        let input = plan.children()[0].schema();
        let mut parts = partitions(&plan);
        let output = parts.push(&batch(&input, &[4, 5, 5, 6]), &input).unwrap();
        assert_eq!(sessions(output), [(4, 1), (5, 2)]);
        let output = parts.push(&batch(&input, &[7, 7]), &input).unwrap();
        assert_eq!(sessions(output), [(6, 1)]);
        assert_eq!(sessions(parts.flush(&input).unwrap()), [(7, 2)]);
    }
}
