//! A WASM aggregate as a DataFusion aggregate UDF (udfs/ABI.md §8).
//!
//! With `GROUP BY`, each DataFusion `GroupsAccumulator` owns a guest
//! instance and one guest accumulator in it, and calls it once per batch
//! with every row's group number. Without `GROUP BY`, for `DISTINCT` and in
//! windows, DataFusion asks for one `Accumulator` per group (or window
//! partition), possibly many: those keep their group's state as bytes on the
//! host and run it through a short-lived one-group guest accumulator on the
//! thread's pooled instance.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, ListArray, new_empty_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{filter, nullif, prep_null_mask_filter};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{AggregateOrderSensitivity, format_state_name};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature,
};

use super::abi;
use super::describe::{ArrowType, FunctionSpec, WasmType};
use super::error::CallError;
use super::exports::{
    AggregateDrop, AggregateEmit, AggregateExports, AggregateMerge, AggregateNew, AggregateUpdate,
};
use super::module::WasmModule;
use super::sandbox::GuestInstance;
use super::scalar::{documentation, exact_signature, to_type};

/// An aggregate function of a WASM module.
#[derive(Debug)]
pub struct WasmAggregateUdf {
    aggregate: Arc<Aggregate>,
    signature: Signature,
    documentation: OnceLock<Documentation>,
}

impl WasmAggregateUdf {
    /// The module the function comes from.
    pub fn module(&self) -> &Arc<WasmModule> {
        &self.aggregate.module
    }

    /// The function's description, named as SQL calls it.
    pub fn spec(&self) -> &FunctionSpec {
        &self.aggregate.spec
    }
}

/// What every accumulator of one aggregate function needs.
#[derive(Debug)]
struct Aggregate {
    module: Arc<WasmModule>,
    spec: FunctionSpec,
    returns: WasmType,
    /// The module's own name for the function (network rules match it).
    declared_name: String,
    /// The names of `E_new` ... `E_drop`.
    exports: AggregateExports,
}

/// Which array `E_state` / `E_finish` write.
#[derive(Clone, Copy)]
enum Emit {
    States,
    Results,
}

impl Aggregate {
    /// The query error for a failed call; `since` marks the guest's stderr
    /// before it.
    fn fail(&self, error: CallError, since: u64) -> DataFusionError {
        self.module.error(&self.spec.name, error, since)
    }

    fn create(&self, instance: &mut GuestInstance) -> Result<i32, CallError> {
        let new = instance
            .export::<AggregateNew>(&self.exports.new)
            .map_err(CallError::Host)?;
        instance.arm_deadline();
        match new.call(&mut instance.store, ()) {
            Ok(0) => Err(CallError::Guest(
                "the guest could not create an accumulator (out of memory)".into(),
            )),
            Ok(handle) => Ok(handle),
            Err(e) => Err(instance.explain(&e)),
        }
    }

    /// `E_update`: folds `args` (already of the ABI types) into `groups`.
    fn update(
        &self,
        instance: &mut GuestInstance,
        handle: i32,
        args: &[ArrayRef],
        groups: &[u32],
        ngroups: u32,
    ) -> Result<(), CallError> {
        let update = instance
            .export::<AggregateUpdate>(&self.exports.update)
            .map_err(CallError::Host)?;
        let frame = abi::place(instance, args, &[groups], 0)?;
        let call = update.call(
            &mut instance.store,
            (
                handle,
                frame.args_at as i32,
                args.len() as i32,
                groups.len() as i32,
                frame.extras_at[0] as i32,
                ngroups as i32,
                frame.err_at as i32,
            ),
        );
        abi::finish(instance, &frame, call, |_| Ok(()))
    }

    /// `E_merge`: folds serialized states into `groups`.
    fn merge(
        &self,
        instance: &mut GuestInstance,
        handle: i32,
        states: &ArrayRef,
        groups: &[u32],
        ngroups: u32,
    ) -> Result<(), CallError> {
        let merge = instance
            .export::<AggregateMerge>(&self.exports.merge)
            .map_err(CallError::Host)?;
        let frame = abi::place(instance, std::slice::from_ref(states), &[groups], 0)?;
        let call = merge.call(
            &mut instance.store,
            (
                handle,
                frame.args_at as i32,
                groups.len() as i32,
                frame.extras_at[0] as i32,
                ngroups as i32,
                frame.err_at as i32,
            ),
        );
        abi::finish(instance, &frame, call, |_| Ok(()))
    }

    /// `E_state` or `E_finish` of the first `n` groups, which the guest
    /// then removes. States are checked against the size cap; results come
    /// back as their SQL type.
    fn emit(
        &self,
        instance: &mut GuestInstance,
        handle: i32,
        what: Emit,
        n: usize,
    ) -> Result<ArrayRef, CallError> {
        let (export, ty) = match what {
            Emit::States => (&self.exports.state, WasmType::Binary),
            Emit::Results => (&self.exports.finish, self.returns),
        };
        let emit = instance
            .export::<AggregateEmit>(export)
            .map_err(CallError::Host)?;
        let frame = abi::place(instance, &[], &[], 1)?;
        let call = emit.call(
            &mut instance.store,
            (handle, n as i32, frame.out_at as i32, frame.err_at as i32),
        );
        let array = abi::finish(instance, &frame, call, |instance| {
            abi::read_array(instance, frame.out(0), Some(n), ty)
        })?;
        match what {
            Emit::States => {
                self.check_state_sizes(instance, &array)?;
                Ok(array)
            }
            Emit::Results => to_type(array, &self.returns.sql_type())
                .map_err(|e| CallError::Refused(e.to_string())),
        }
    }

    fn check_state_sizes(
        &self,
        instance: &GuestInstance,
        states: &ArrayRef,
    ) -> Result<(), CallError> {
        let cap = instance.limits().state_bytes;
        let offsets = states.as_binary::<i32>().value_offsets();
        match offsets
            .windows(2)
            .position(|w| (w[1] - w[0]) as usize > cap)
        {
            None => Ok(()),
            Some(group) => Err(CallError::Refused(format!(
                "the state of group {group} is {} bytes, over the cap of {cap} bytes \
                 (raise max_state_size in [udf] of the config)",
                offsets[group + 1] - offsets[group]
            ))),
        }
    }

    fn destroy(&self, instance: &mut GuestInstance, handle: i32) -> Result<(), CallError> {
        let drop = instance
            .export::<AggregateDrop>(&self.exports.drop)
            .map_err(CallError::Host)?;
        instance.arm_deadline();
        drop.call(&mut instance.store, handle)
            .map_err(|e| instance.explain(&e))
    }

    /// Runs `op` on a fresh one-group accumulator holding `state` (none:
    /// empty) on this thread's instance, then drops the accumulator.
    fn one_group<T>(
        &self,
        state: Option<&[u8]>,
        op: impl FnOnce(&mut GuestInstance, i32) -> Result<T, CallError>,
    ) -> Result<T> {
        self.module
            .with_instance(&self.spec, &self.declared_name, |instance| {
                let handle = self.create(instance)?;
                let states: ArrayRef = Arc::new(BinaryArray::from(vec![state]));
                let result = self
                    .merge(instance, handle, &states, &[0], 1)
                    .and_then(|()| op(instance, handle));
                let dropped = self.destroy(instance, handle);
                let value = result?;
                dropped.map(|()| value)
            })
    }

    /// The arguments as the ABI types.
    fn abi_args(&self, values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        values
            .iter()
            .zip(&self.spec.args)
            .map(|(array, ty)| to_type(Arc::clone(array), &ty.data_type()))
            .collect()
    }

    /// Folds `values` into a one-group state and returns the new state.
    fn fold(&self, state: Option<&[u8]>, values: &[ArrayRef]) -> Result<Vec<u8>> {
        let args = self.abi_args(values)?;
        let rows = args.first().map_or(0, |a| a.len());
        self.one_group(state, |instance, handle| {
            self.update(instance, handle, &args, &vec![0; rows], 1)?;
            let states = self.emit(instance, handle, Emit::States, 1)?;
            Ok(states.as_binary::<i32>().value(0).to_vec())
        })
    }

    /// The result of a one-group state.
    fn result(&self, state: Option<&[u8]>) -> Result<ScalarValue> {
        let array = self.one_group(state, |instance, handle| {
            self.emit(instance, handle, Emit::Results, 1)
        })?;
        ScalarValue::try_from_array(&array, 0)
    }
}

impl WasmAggregateUdf {
    /// The aggregate function `spec` of `module`, which returns `returns`.
    pub fn new(module: Arc<WasmModule>, spec: FunctionSpec, returns: WasmType) -> Self {
        let signature = exact_signature(&spec);
        let exports = AggregateExports::new(&spec.export);
        WasmAggregateUdf {
            aggregate: Arc::new(Aggregate {
                declared_name: module.declared_name(&spec),
                module,
                spec,
                returns,
                exports,
            }),
            signature,
            documentation: OnceLock::new(),
        }
    }
}

impl PartialEq for WasmAggregateUdf {
    fn eq(&self, other: &Self) -> bool {
        self.aggregate.module.id == other.aggregate.module.id
            && self.aggregate.spec.name == other.aggregate.spec.name
    }
}

impl Eq for WasmAggregateUdf {}

impl std::hash::Hash for WasmAggregateUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.aggregate.module.id.hash(state);
        self.aggregate.spec.name.hash(state);
    }
}

impl AggregateUDFImpl for WasmAggregateUdf {
    fn name(&self) -> &str {
        &self.aggregate.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.aggregate.returns.sql_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let aggregate = Arc::clone(&self.aggregate);
        if args.is_distinct {
            let fields: Vec<SortField> = aggregate
                .spec
                .args
                .iter()
                .map(|t| SortField::new(t.data_type()))
                .collect();
            Ok(Box::new(DistinctAccumulator {
                converter: RowConverter::new(fields)?,
                seen: HashSet::new(),
                aggregate,
            }))
        } else {
            Ok(Box::new(OneGroup {
                aggregate,
                state: None,
            }))
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let name = format_state_name(args.name, "state");
        let ty = if args.is_distinct {
            DataType::List(Arc::new(Field::new_list_field(DataType::Binary, true)))
        } else {
            DataType::Binary
        };
        Ok(vec![Arc::new(Field::new(name, ty, true))])
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups::new(Arc::clone(&self.aggregate))?))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(
            self.documentation
                .get_or_init(|| documentation(&self.aggregate.module, &self.aggregate.spec)),
        )
    }
}

/// Group numbers for the guest.
fn group_numbers(indices: impl Iterator<Item = usize>, total: usize) -> Result<(Vec<u32>, u32)> {
    let total = u32::try_from(total).map_err(|_| {
        DataFusionError::Execution(format!("{total} groups are too many for a WASM aggregate"))
    })?;
    Ok((indices.map(|g| g as u32).collect(), total))
}

/// The argument values and group numbers of the rows `opt_filter` keeps (a
/// null filter value drops the row), and the guest's group count.
fn kept_rows(
    values: &[ArrayRef],
    group_indices: &[usize],
    opt_filter: Option<&BooleanArray>,
    total_num_groups: usize,
) -> Result<(Vec<ArrayRef>, Vec<u32>, u32)> {
    match opt_filter {
        None => {
            let (groups, total) = group_numbers(group_indices.iter().copied(), total_num_groups)?;
            Ok((values.to_vec(), groups, total))
        }
        Some(mask) => {
            let values = values
                .iter()
                .map(|v| filter(v, mask))
                .collect::<std::result::Result<_, _>>()?;
            let kept = group_indices
                .iter()
                .enumerate()
                .filter(|(row, _)| mask.is_valid(*row) && mask.value(*row))
                .map(|(_, g)| *g);
            let (groups, total) = group_numbers(kept, total_num_groups)?;
            Ok((values, groups, total))
        }
    }
}

/// The groups of one `GROUP BY` aggregation: a guest accumulator on an
/// instance of its own.
struct Groups {
    aggregate: Arc<Aggregate>,
    /// The instance and the accumulator's handle; `None` after a trap.
    guest: Option<(GuestInstance, i32)>,
    /// How many groups the guest holds.
    groups: usize,
}

impl Groups {
    fn new(aggregate: Arc<Aggregate>) -> Result<Self> {
        let since = aggregate.module.output.stderr.position();
        let mut instance = aggregate
            .module
            .instance(&aggregate.declared_name)
            .map_err(|e| aggregate.fail(e, since))?;
        let handle = aggregate
            .create(&mut instance)
            .map_err(|e| aggregate.fail(e, since))?;
        Ok(Groups {
            aggregate,
            guest: Some((instance, handle)),
            groups: 0,
        })
    }

    fn run<T>(
        &mut self,
        op: impl FnOnce(&Aggregate, &mut GuestInstance, i32) -> Result<T, CallError>,
    ) -> Result<T> {
        let Some((instance, handle)) = self.guest.as_mut() else {
            return Err(DataFusionError::Execution(format!(
                "function {}: the accumulator failed earlier",
                self.aggregate.spec.name
            )));
        };
        let since = self.aggregate.module.output.stderr.position();
        let result = op(&self.aggregate, instance, *handle);
        result.map_err(|error| {
            if error.breaks_instance() {
                self.guest = None;
            }
            self.aggregate.fail(error, since)
        })
    }

    fn emit(&mut self, what: Emit, emit_to: EmitTo) -> Result<ArrayRef> {
        let n = match emit_to {
            EmitTo::All => self.groups,
            EmitTo::First(n) => n.min(self.groups),
        };
        if n == 0 {
            let ty = match what {
                Emit::States => DataType::Binary,
                Emit::Results => self.aggregate.returns.sql_type(),
            };
            return Ok(new_empty_array(&ty));
        }
        let array =
            self.run(|aggregate, instance, handle| aggregate.emit(instance, handle, what, n))?;
        self.groups -= n;
        Ok(array)
    }
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let (values, groups, total) =
            kept_rows(values, group_indices, opt_filter, total_num_groups)?;
        let args = self.aggregate.abi_args(&values)?;
        self.run(|aggregate, instance, handle| {
            aggregate.update(instance, handle, &args, &groups, total)
        })?;
        self.groups = total_num_groups;
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let (groups, total) = group_numbers(group_indices.iter().copied(), total_num_groups)?;
        self.run(|aggregate, instance, handle| {
            aggregate.merge(instance, handle, &values[0], &groups, total)
        })?;
        self.groups = total_num_groups;
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(Emit::Results, emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(Emit::States, emit_to)?])
    }

    /// Each row as a state of its own (DataFusion's skipping of partial
    /// aggregation when it does not reduce the rows); rows `opt_filter`
    /// drops get a null state, which merging skips.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let aggregate = &self.aggregate;
        let args = aggregate.abi_args(values)?;
        let rows = args.first().map_or(0, |a| a.len());
        if rows == 0 {
            return Ok(vec![new_empty_array(&DataType::Binary)]);
        }
        let (groups, total) = group_numbers(0..rows, rows)?;
        let states = aggregate.module.with_instance(
            &aggregate.spec,
            &aggregate.declared_name,
            |instance| {
                let handle = aggregate.create(instance)?;
                let result = aggregate
                    .update(instance, handle, &args, &groups, total)
                    .and_then(|()| aggregate.emit(instance, handle, Emit::States, rows));
                let dropped = aggregate.destroy(instance, handle);
                let states = result?;
                dropped.map(|()| states)
            },
        )?;
        match opt_filter {
            None => Ok(vec![states]),
            Some(mask) => {
                let dropped = not(&prep_null_mask_filter(mask))?;
                Ok(vec![nullif(&states, &dropped)?])
            }
        }
    }

    fn size(&self) -> usize {
        self.guest.as_ref().map_or(0, |(instance, _)| {
            instance.memory.data_size(&instance.store)
        })
    }
}

impl Drop for Groups {
    fn drop(&mut self) {
        if let Some((mut instance, handle)) = self.guest.take() {
            let dropped = self.aggregate.destroy(&mut instance, handle);
            self.aggregate
                .module
                .release(instance, &dropped.as_ref().map(|_| ()));
        }
    }
}

/// One group whose state lives on the host between calls: no `GROUP BY`,
/// and windows.
#[derive(Debug)]
struct OneGroup {
    aggregate: Arc<Aggregate>,
    /// The guest's serialized state; `None` while empty.
    state: Option<Vec<u8>>,
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if values.first().is_some_and(|v| !v.is_empty()) {
            self.state = Some(self.aggregate.fold(self.state.as_deref(), values)?);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let states = &states[0];
        if states.is_empty() {
            return Ok(());
        }
        let aggregate = &self.aggregate;
        let merged = aggregate.one_group(self.state.as_deref(), |instance, handle| {
            aggregate.merge(instance, handle, states, &vec![0; states.len()], 1)?;
            let state = aggregate.emit(instance, handle, Emit::States, 1)?;
            Ok(state.as_binary::<i32>().value(0).to_vec())
        })?;
        self.state = Some(merged);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(self.state.clone())])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.aggregate.result(self.state.as_deref())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.state.as_ref().map_or(0, Vec::capacity)
    }
}

/// `agg(DISTINCT ...)`: the distinct argument tuples, kept on the host (as
/// Arrow row bytes) and folded into the guest when the result is asked for.
#[derive(Debug)]
struct DistinctAccumulator {
    aggregate: Arc<Aggregate>,
    converter: RowConverter,
    seen: HashSet<OwnedRow>,
}

impl Accumulator for DistinctAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let args = self.aggregate.abi_args(values)?;
        let rows = self.converter.convert_columns(&args)?;
        self.seen.extend(rows.iter().map(|row| row.owned()));
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let parser = self.converter.parser();
        for list in states[0].as_list::<i32>().iter().flatten() {
            for bytes in list.as_binary::<i32>().iter().flatten() {
                self.seen.insert(parser.parse(bytes).owned());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let rows = BinaryArray::from_iter_values(self.seen.iter().map(|r| r.row().data()));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Binary, true)),
            OffsetBuffer::from_lengths([rows.len()]),
            Arc::new(rows),
            None,
        );
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.seen.is_empty() {
            return self.aggregate.result(None);
        }
        let args = self
            .converter
            .convert_rows(self.seen.iter().map(|r| r.row()))?;
        let aggregate = &self.aggregate;
        let array = aggregate.one_group(None, |instance, handle| {
            aggregate.update(instance, handle, &args, &vec![0; self.seen.len()], 1)?;
            aggregate.emit(instance, handle, Emit::Results, 1)
        })?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .seen
                .iter()
                .map(|r| r.row().data().len() + std::mem::size_of::<OwnedRow>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Float64Array;

    use super::*;

    #[test]
    fn group_numbers_keep_the_order_and_the_total() {
        let (groups, total) = group_numbers([2, 0, 2, 1].into_iter(), 3).unwrap();
        assert_eq!(groups, [2, 0, 2, 1]);
        assert_eq!(total, 3);
        let (groups, total) = group_numbers(std::iter::empty(), 0).unwrap();
        assert!(groups.is_empty());
        assert_eq!(total, 0);
    }

    #[test]
    fn more_groups_than_a_guest_can_number_are_an_error() {
        let too_many = u32::MAX as usize + 1;
        let error = group_numbers([0].into_iter(), too_many).unwrap_err();
        assert!(
            error.to_string().contains(&format!(
                "{too_many} groups are too many for a WASM aggregate"
            )),
            "{error}"
        );
        // The largest count a u32 holds is still fine.
        let (_, total) = group_numbers([0].into_iter(), u32::MAX as usize).unwrap();
        assert_eq!(total, u32::MAX);
    }

    fn doubles(values: &[f64]) -> Vec<ArrayRef> {
        vec![Arc::new(Float64Array::from(values.to_vec()))]
    }

    #[test]
    fn without_a_filter_every_row_is_kept() {
        let values = doubles(&[1.0, 2.0, 3.0]);
        let (kept, groups, total) = kept_rows(&values, &[1, 0, 1], None, 2).unwrap();
        assert_eq!(kept[0].len(), 3);
        assert_eq!(groups, [1, 0, 1]);
        assert_eq!(total, 2);
    }

    #[test]
    fn a_filter_drops_false_and_null_rows_from_values_and_groups() {
        let values = doubles(&[1.0, 2.0, 3.0, 4.0]);
        let mask = BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]);
        let (kept, groups, total) = kept_rows(&values, &[0, 1, 2, 3], Some(&mask), 5).unwrap();
        let kept = kept[0].as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(kept.values().as_ref(), [1.0, 4.0]);
        assert_eq!(groups, [0, 3]);
        // The guest still numbers every group of the aggregation.
        assert_eq!(total, 5);
    }
}
