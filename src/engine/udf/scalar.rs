//! A WASM function as a DataFusion scalar UDF: one guest call per batch, on a
//! pooled instance of the executor thread.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
};

use super::abi;
use super::describe::{ArrowType, FunctionSpec, WasmType};
use super::module::WasmModule;

/// Casts between the SQL and the ABI representations where they differ.
pub fn to_type(array: ArrayRef, wanted: &DataType) -> Result<ArrayRef> {
    if array.data_type() == wanted {
        Ok(array)
    } else {
        Ok(cast(&array, wanted)?)
    }
}

/// One function of a WASM module.
#[derive(Debug)]
pub struct WasmScalarUdf {
    module: Arc<WasmModule>,
    spec: FunctionSpec,
    returns: WasmType,
    /// The name the module gives the function (a `CREATE FUNCTION` alias
    /// aside): what network rules match.
    declared_name: String,
    signature: Signature,
    documentation: OnceLock<Documentation>,
}

impl WasmScalarUdf {
    /// The module the function comes from.
    pub fn module(&self) -> &Arc<WasmModule> {
        &self.module
    }

    /// The function's description, named as SQL calls it.
    pub fn spec(&self) -> &FunctionSpec {
        &self.spec
    }
}

impl PartialEq for WasmScalarUdf {
    fn eq(&self, other: &Self) -> bool {
        self.module.id == other.module.id && self.spec.name == other.spec.name
    }
}

impl Eq for WasmScalarUdf {}

impl std::hash::Hash for WasmScalarUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.module.id.hash(state);
        self.spec.name.hash(state);
    }
}

impl WasmScalarUdf {
    /// The scalar function `spec` of `module`, which returns `returns`.
    pub fn new(module: Arc<WasmModule>, spec: FunctionSpec, returns: WasmType) -> Self {
        let signature = exact_signature(&spec);
        let declared_name = module.declared_name(&spec);
        WasmScalarUdf {
            module,
            spec,
            returns,
            declared_name,
            signature,
            documentation: OnceLock::new(),
        }
    }

    fn call(&self, args: &[ArrayRef], nrows: usize) -> Result<ArrayRef> {
        self.module
            .with_instance(&self.spec, &self.declared_name, |instance| {
                abi::call_scalar(instance, &self.spec.export, args, nrows, self.returns)
            })
    }
}

/// The SQL signature of a function: exactly its ABI argument types, as SQL
/// types (DataFusion coerces arguments to them).
pub fn exact_signature(spec: &FunctionSpec) -> Signature {
    let exact: Vec<DataType> = spec.args.iter().map(|t| t.sql_type()).collect();
    let type_signature = if exact.is_empty() {
        TypeSignature::Nullary
    } else {
        TypeSignature::Exact(exact)
    };
    Signature::new(type_signature, spec.volatility)
}

/// `\df`'s description of a WASM function: its doc line, module and sha256.
pub fn documentation(module: &WasmModule, spec: &FunctionSpec) -> Documentation {
    let description = format!(
        "{} [WASM module {}, sha256 {}]",
        spec.doc
            .clone()
            .unwrap_or_else(|| format!("WASM {} function", spec.kind.label())),
        module.path.display(),
        &module.sha256[..16]
    );
    Documentation::builder(
        datafusion::logical_expr::DocSection {
            include: true,
            label: "WASM Functions",
            description: None,
        },
        description,
        spec.signature(),
    )
    .build()
}

impl ScalarUDFImpl for WasmScalarUdf {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.sql_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let nrows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .zip(&self.spec.args)
            .map(|(arg, abi)| {
                let array = match arg {
                    ColumnarValue::Array(array) => Arc::clone(array),
                    ColumnarValue::Scalar(value) => value.to_array_of_size(1)?,
                };
                to_type(array, &abi.data_type())
            })
            .collect::<Result<Vec<_>>>()?;
        let returns = self.returns.sql_type();
        if nrows == 0 {
            let empty = datafusion::arrow::array::new_empty_array(&returns);
            return Ok(ColumnarValue::Array(empty));
        }
        let result = self.call(&arrays, nrows)?;
        Ok(ColumnarValue::Array(to_type(result, &returns)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(
            self.documentation
                .get_or_init(|| documentation(&self.module, &self.spec)),
        )
    }
}
