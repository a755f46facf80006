//! A WASM function as a DataFusion scalar UDF: one guest call per batch, on a
//! pooled instance of the executor thread.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::TimeUnit;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
};

use super::abi::{self, CallError};
use super::describe::{FunctionSpec, WasmType};
use super::module::WasmModule;
use super::sandbox::{self, GuestInstance};

/// The SQL type of an ABI type: timestamps cross the ABI in microseconds but
/// are nanoseconds in SQL, like DataFusion's own; everything else is the same.
fn sql_type(abi: WasmType) -> DataType {
    match abi {
        WasmType::TimestampMicros => DataType::Timestamp(TimeUnit::Nanosecond, None),
        WasmType::TimestampMicrosUtc => {
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        }
        other => other.data_type(),
    }
}

/// Casts between the SQL and the ABI representations where they differ.
fn to_abi_type(array: ArrayRef, wanted: &DataType) -> Result<ArrayRef> {
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
    /// The name the module gives the function (a `CREATE FUNCTION` alias
    /// aside): what network rules match.
    declared_name: String,
    signature: Signature,
    documentation: OnceLock<Documentation>,
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
    /// The function `spec` of `module`.
    pub fn new(module: Arc<WasmModule>, spec: FunctionSpec) -> Self {
        let exact: Vec<DataType> = spec.args.iter().map(|t| sql_type(*t)).collect();
        let type_signature = if exact.is_empty() {
            TypeSignature::Nullary
        } else {
            TypeSignature::Exact(exact)
        };
        let signature = Signature::new(type_signature, spec.volatility.into());
        let declared_name = module
            .functions
            .iter()
            .find(|f| f.export == spec.export)
            .map_or_else(|| spec.name.clone(), |f| f.name.clone());
        WasmScalarUdf {
            module,
            spec,
            declared_name,
            signature,
            documentation: OnceLock::new(),
        }
    }

    fn fail(&self, cause: &str) -> DataFusionError {
        let mut message = format!(
            "function {} (module {}): {cause}",
            self.spec.name,
            self.module.path.display()
        );
        // The guest's own hint about RUST_BACKTRACE cannot apply: its
        // environment is empty.
        let stderr = self
            .module
            .output
            .stderr
            .tail(4)
            .lines()
            .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join("\n");
        if !stderr.is_empty() {
            message.push_str(&format!(" [guest stderr: {}]", stderr.replace('\n', " | ")));
        }
        DataFusionError::Execution(message)
    }

    fn call(&self, args: &[ArrayRef], nrows: usize) -> Result<ArrayRef> {
        let module = &self.module;
        let mut instance = match sandbox::take_pooled(module.id) {
            Some(instance) => instance,
            None => GuestInstance::new(
                &module.prepared,
                module.limits,
                &module.output,
                Arc::clone(&module.net),
                &module.name(),
            )
            .map_err(|e| self.fail(&e))?,
        };
        instance.set_function(&self.declared_name);
        match abi::call_scalar(
            &mut instance,
            &self.spec.export,
            args,
            nrows,
            self.spec.returns,
        ) {
            Ok(result) => {
                sandbox::put_back(module.id, instance);
                Ok(result)
            }
            Err(CallError::Failed(cause)) => {
                sandbox::put_back(module.id, instance);
                Err(self.fail(&cause))
            }
            // A trapped instance may be in any state: drop it.
            Err(CallError::Broken(cause)) => Err(self.fail(&cause)),
        }
    }
}

impl ScalarUDFImpl for WasmScalarUdf {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(sql_type(self.spec.returns))
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
                to_abi_type(array, &abi.data_type())
            })
            .collect::<Result<Vec<_>>>()?;
        let returns = sql_type(self.spec.returns);
        if nrows == 0 {
            let empty = datafusion::arrow::array::new_empty_array(&returns);
            return Ok(ColumnarValue::Array(empty));
        }
        let result = self.call(&arrays, nrows)?;
        Ok(ColumnarValue::Array(to_abi_type(result, &returns)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.documentation.get_or_init(|| {
            let description = format!(
                "{} [WASM module {}, sha256 {}]",
                self.spec.doc.as_deref().unwrap_or("WASM scalar function"),
                self.module.path.display(),
                &self.module.sha256[..16]
            );
            Documentation::builder(
                datafusion::logical_expr::DocSection {
                    include: true,
                    label: "WASM Functions",
                    description: None,
                },
                description,
                self.spec.signature(),
            )
            .build()
        }))
    }
}
