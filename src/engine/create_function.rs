//! Registering WASM functions: [`WasmFunctions::register`] is the one path,
//! taken by the functions of a UDF directory (`Engine::register`) and by
//! `CREATE FUNCTION name(args) RETURNS type LANGUAGE wasm AS 'module.wasm#function'`,
//! which registers one function of a module through DataFusion's
//! `FunctionFactory`. Declared types must match the module's description;
//! `name()` without argument types takes them from the module.

use std::path::Path;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::{FunctionFactory, RegisterFunction, SessionState};
use datafusion::logical_expr::{CreateFunction, Expr};

use super::apply::{TableFunctions, WasmTableUdtf};
use crate::udf::{
    ArrowType, FunctionKind, FunctionSpec, UdfRegistry, WasmFunction, WasmModule, WasmUdf,
};

/// The WASM functions of a session: which module and description each SQL
/// name runs (for `wasql.functions`), and the table functions by name (for
/// the planner).
#[derive(Debug, Clone, Default)]
pub struct WasmFunctions {
    table_functions: TableFunctions,
    /// In registration order; a later function of the same name and kind
    /// replaces an earlier one, as in DataFusion.
    registered: Arc<RwLock<Vec<Registered>>>,
}

/// A registered function and the module it runs in.
type Registered = (Arc<WasmModule>, FunctionSpec);

impl WasmFunctions {
    /// Records `function` under its SQL name and returns what DataFusion
    /// registers.
    pub fn register(&self, function: WasmFunction) -> RegisterFunction {
        let WasmFunction { module, spec, udf } = function;
        let family = |spec: &FunctionSpec| std::mem::discriminant(&spec.kind);
        {
            let mut registered = self.registered.write().unwrap_or_else(|e| e.into_inner());
            registered.retain(|(_, f)| f.name != spec.name || family(f) != family(&spec));
            registered.push((module, spec.clone()));
        }
        match udf {
            WasmUdf::Scalar(udf) => RegisterFunction::Scalar(Arc::new(udf)),
            WasmUdf::Aggregate(udaf) => RegisterFunction::Aggregate(Arc::new(udaf)),
            WasmUdf::Table(function) => {
                self.table_functions
                    .insert(&spec.name, Arc::clone(&function));
                RegisterFunction::Table(spec.name, Arc::new(WasmTableUdtf { function }))
            }
        }
    }

    /// The table functions by SQL name.
    pub fn table_functions(&self) -> &TableFunctions {
        &self.table_functions
    }

    /// The functions `session` still has (`DROP FUNCTION` removes them),
    /// each with its module, in registration order.
    pub fn listed(&self, session: &dyn Session) -> Vec<Registered> {
        let tables = session
            .as_any()
            .downcast_ref::<SessionState>()
            .map(|state| state.table_functions());
        let known = |spec: &FunctionSpec| match spec.kind {
            FunctionKind::Scalar { .. } => session.scalar_functions().contains_key(&spec.name),
            FunctionKind::Aggregate { .. } => {
                session.aggregate_functions().contains_key(&spec.name)
            }
            FunctionKind::Table { .. } => tables.is_none_or(|t| t.contains_key(&spec.name)),
        };
        self.registered
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, spec)| known(spec))
            .cloned()
            .collect()
    }
}

/// Creates WASM functions from `CREATE FUNCTION ... LANGUAGE wasm`.
#[derive(Debug)]
pub struct WasmFunctionFactory {
    pub udfs: Arc<UdfRegistry>,
    pub functions: WasmFunctions,
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
        let function = self
            .udfs
            .load_function(Path::new(path), selector, &statement.name)?;
        // Declared types, when given, must be the module's own.
        let spec = &function.spec;
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
        Ok(self.functions.register(function))
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
