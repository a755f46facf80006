//! WASM table functions (udfs/ABI.md §9): the guest call. The operator
//! that runs one over its input is `crate::apply::exec`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::datatypes::{Field, UInt32Type};
use datafusion::common::Result;

use super::abi;
use super::describe::{ArrowType, FunctionSpec, WasmType};
use super::error::CallError;
use super::exports;
use super::module::WasmModule;
use super::scalar::to_type;

/// A table function of a WASM module.
#[derive(Debug)]
pub struct WasmTableFunction {
    module: Arc<WasmModule>,
    spec: FunctionSpec,
    columns: Vec<(String, WasmType)>,
    partitioned: bool,
    /// The module's own name for the function (network rules match it).
    declared_name: String,
}

/// What a call produced: each output row's part, and the columns.
pub struct TableOutput {
    /// The part (input row or partition) of each output row.
    pub parts: Vec<u32>,
    /// The output columns.
    pub columns: Vec<ArrayRef>,
}

impl WasmTableFunction {
    /// The table function `spec` of `module`, producing `columns`.
    pub fn new(
        module: Arc<WasmModule>,
        spec: FunctionSpec,
        columns: Vec<(String, WasmType)>,
        partitioned: bool,
    ) -> Self {
        WasmTableFunction {
            declared_name: module.declared_name(&spec),
            module,
            spec,
            columns,
            partitioned,
        }
    }

    /// The SQL name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The module it comes from.
    pub fn module(&self) -> &Arc<WasmModule> {
        &self.module
    }

    /// The description the function comes from.
    pub fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    /// Whether it receives whole partitions (§9.2) rather than rows.
    pub fn partitioned(&self) -> bool {
        self.partitioned
    }

    /// The output columns, as SQL fields.
    pub fn fields(&self) -> Vec<Field> {
        self.columns
            .iter()
            .map(|(name, ty)| Field::new(name, ty.sql_type(), true))
            .collect()
    }

    /// Calls the guest on `args` (each `nrows` long, or 1 for a constant),
    /// cut into parts at `bounds`.
    pub fn call(&self, args: &[ArrayRef], nrows: usize, bounds: &[u32]) -> Result<TableOutput> {
        let args = args
            .iter()
            .zip(&self.spec.args)
            .map(|(array, ty)| to_type(Arc::clone(array), &ty.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let nparts = bounds.len() - 1;
        self.module
            .with_instance(&self.spec, &self.declared_name, |instance| {
                let function = instance
                    .export::<exports::Table>(&self.spec.export)
                    .map_err(CallError::Host)?;
                let frame = abi::place(instance, &args, &[bounds], 1 + self.columns.len())?;
                let call = function.call(
                    &mut instance.store,
                    (
                        frame.args_at as i32,
                        args.len() as i32,
                        nrows as i32,
                        frame.extras_at[0] as i32,
                        nparts as i32,
                        frame.out_at as i32,
                        frame.err_at as i32,
                    ),
                );
                abi::finish(instance, &frame, call, |instance| {
                    let parts = abi::read_array(instance, frame.out(0), None, WasmType::UInt32)
                        .map_err(|e| format!("part numbers: {e}"))?;
                    let parts = check_parts(parts.as_primitive::<UInt32Type>(), nparts)?;
                    let columns = self
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(index, (name, ty))| {
                            let array = abi::read_array(
                                instance,
                                frame.out(1 + index),
                                Some(parts.len()),
                                *ty,
                            )
                            .map_err(|e| format!("column {name}: {e}"))?;
                            to_type(array, &ty.sql_type()).map_err(|e| e.to_string())
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    Ok(TableOutput { parts, columns })
                })
            })
    }
}

/// The part numbers must have no nulls, stay below `nparts` and never
/// decrease.
fn check_parts(parts: &UInt32Array, nparts: usize) -> Result<Vec<u32>, String> {
    if parts.null_count() > 0 {
        return Err("the part numbers have nulls".into());
    }
    let values = parts.values();
    if let Some(row) = values.iter().position(|&p| p as usize >= nparts) {
        return Err(format!(
            "output row {row} belongs to part {}, but the call had {nparts}",
            values[row]
        ));
    }
    if let Some(row) = values.windows(2).position(|w| w[1] < w[0]) {
        return Err(format!(
            "part numbers decrease at output row {} ({} after {})",
            row + 1,
            values[row + 1],
            values[row]
        ));
    }
    Ok(values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_parts_accepts_non_decreasing_parts_below_the_count() {
        let parts = UInt32Array::from(vec![0, 0, 1, 3, 3]);
        assert_eq!(check_parts(&parts, 4), Ok(vec![0, 0, 1, 3, 3]));
        let none = UInt32Array::from(Vec::<u32>::new());
        assert_eq!(check_parts(&none, 0), Ok(vec![]));
    }

    #[test]
    fn check_parts_refuses_nulls() {
        let parts = UInt32Array::from(vec![Some(0), None]);
        assert_eq!(
            check_parts(&parts, 2),
            Err("the part numbers have nulls".to_string())
        );
    }

    #[test]
    fn check_parts_refuses_a_part_the_call_did_not_have() {
        let parts = UInt32Array::from(vec![0, 1, 2]);
        assert_eq!(
            check_parts(&parts, 2),
            Err("output row 2 belongs to part 2, but the call had 2".to_string())
        );
    }

    #[test]
    fn check_parts_refuses_decreasing_parts() {
        let parts = UInt32Array::from(vec![0, 1, 1, 0]);
        assert_eq!(
            check_parts(&parts, 2),
            Err("part numbers decrease at output row 3 (0 after 1)".to_string())
        );
    }
}
