//! `CREATE FUNCTION name(args) RETURNS type LANGUAGE wasm AS 'module.wasm#function'`:
//! registers one function of a WASM module through DataFusion's
//! `FunctionFactory`. Declared types must match the module's description;
//! `name()` without argument types takes them from the module.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::{FunctionFactory, RegisterFunction, SessionState};
use datafusion::logical_expr::{CreateFunction, Expr};

use super::apply::{TableFunctions, WasmTableUdtf};
use crate::udf::{ArrowType, FunctionKind, UdfRegistry, WasmFunction};

/// Creates WASM functions from `CREATE FUNCTION ... LANGUAGE wasm`.
#[derive(Debug)]
pub struct WasmFunctionFactory {
    pub udfs: Arc<UdfRegistry>,
    pub table_functions: TableFunctions,
}

#[async_trait]
impl FunctionFactory for WasmFunctionFactory {
    async fn create(
        &self,
        _state: &SessionState,
        statement: CreateFunction,
    ) -> Result<RegisterFunction> {
        let plan_error = |message: String| DataFusionError::Plan(message);
        let language = statement
            .params
            .language
            .as_ref()
            .map(|l| l.value.to_lowercase());
        if language.as_deref() != Some("wasm") {
            return Err(plan_error(format!(
                "CREATE FUNCTION {}: only LANGUAGE wasm is supported",
                statement.name
            )));
        }
        let location = match &statement.params.function_body {
            Some(Expr::Literal(ScalarValue::Utf8(Some(text)), _)) => text.clone(),
            _ => {
                return Err(plan_error(format!(
                    "CREATE FUNCTION {}: give the module as AS 'path/to/module.wasm#function'",
                    statement.name
                )));
            }
        };
        let (path, selector) = match location.rsplit_once('#') {
            Some((path, function)) => (path, Some(function)),
            None => (location.as_str(), None),
        };
        let (udf, spec) = self
            .udfs
            .load_function(Path::new(path), selector, &statement.name)
            .map_err(plan_error)?;
        // Declared types, when given, must be the module's own.
        let described: Vec<_> = spec.args.iter().map(|t| t.data_type()).collect();
        // `name()` with no arguments takes the module's own signature.
        if let Some(args) = statement.args.as_ref().filter(|a| !a.is_empty()) {
            let declared: Vec<_> = args.iter().map(|a| a.data_type.clone()).collect();
            let same = declared.len() == described.len()
                && declared
                    .iter()
                    .zip(&described)
                    .all(|(a, b)| same_type(a, b));
            if !same {
                return Err(plan_error(format!(
                    "CREATE FUNCTION {}: arguments ({}) differ from the module's {}",
                    statement.name,
                    declared
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    spec.signature()
                )));
            }
        }
        if let (
            Some(returns),
            FunctionKind::Scalar { returns: described }
            | FunctionKind::Aggregate { returns: described },
        ) = (&statement.return_type, &spec.kind)
            && !same_type(returns, &described.data_type())
        {
            return Err(plan_error(format!(
                "CREATE FUNCTION {}: RETURNS {returns} differs from the module's {}",
                statement.name,
                spec.signature()
            )));
        }
        Ok(match udf {
            WasmFunction::Scalar(udf) => RegisterFunction::Scalar(Arc::new(udf)),
            WasmFunction::Aggregate(udaf) => RegisterFunction::Aggregate(Arc::new(udaf)),
            WasmFunction::Table(function) => {
                self.table_functions
                    .insert(&statement.name, Arc::clone(&function));
                RegisterFunction::Table(
                    statement.name.clone(),
                    Arc::new(WasmTableUdtf { function }),
                )
            }
        })
    }
}

/// Types equal up to the string and binary representations SQL's `VARCHAR`
/// and `BYTEA` may map to.
fn same_type(a: &DataType, b: &DataType) -> bool {
    fn family(t: &DataType) -> DataType {
        match t {
            DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
            DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
            other => other.clone(),
        }
    }
    family(a) == family(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_representations_are_the_same_type() {
        assert!(same_type(&DataType::Utf8View, &DataType::Utf8));
        assert!(same_type(&DataType::LargeBinary, &DataType::Binary));
        assert!(!same_type(&DataType::Int32, &DataType::Int64));
    }
}
