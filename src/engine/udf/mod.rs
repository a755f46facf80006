//! User-defined functions as sandboxed WebAssembly modules.
//!
//! A module describes its functions in a custom section (udfs/ABI.md); the
//! host compiles it (or loads cached code), and each function becomes a
//! DataFusion scalar or aggregate UDF, or a table function, that calls the
//! guest once per batch.

mod abi;
mod aggregate;
mod cache;
mod capture;
mod describe;
mod error;
mod exports;
mod fetch;
mod limiter;
mod linker;
mod module;
mod sandbox;
mod scalar;
mod table;
mod wasi;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::execution::memory_pool::MemoryPool;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

use crate::net::Net;

pub use aggregate::WasmAggregateUdf;
pub use describe::{ArrowType, FunctionKind, FunctionSpec, WasmType};
pub use error::{CallError, NameOwner, UdfError};
pub use limiter::LimitExceeded;
pub use module::{WasmModule, sha256_hex};
pub use sandbox::{LimitPolicy, Limits};
pub use scalar::WasmScalarUdf;
pub use table::{TableOutput, WasmTableFunction};

/// A function of a module under its SQL name, ready to register with
/// DataFusion.
pub struct WasmFunction {
    /// The module it comes from.
    pub module: Arc<WasmModule>,
    /// Its description, named as SQL calls it.
    pub spec: FunctionSpec,
    /// What DataFusion runs.
    pub udf: WasmUdf,
}

/// A WASM function as DataFusion sees it.
pub enum WasmUdf {
    /// A scalar function.
    Scalar(ScalarUDF),
    /// An aggregate function.
    Aggregate(AggregateUDF),
    /// A table function.
    Table(Arc<WasmTableFunction>),
}

impl WasmFunction {
    /// The function `spec` of `module`.
    pub fn new(module: &Arc<WasmModule>, spec: FunctionSpec) -> WasmFunction {
        let owner = Arc::clone(module);
        let udf = match spec.kind.clone() {
            FunctionKind::Scalar { returns } => WasmUdf::Scalar(ScalarUDF::new_from_impl(
                WasmScalarUdf::new(owner, spec.clone(), returns),
            )),
            FunctionKind::Aggregate { returns } => WasmUdf::Aggregate(AggregateUDF::new_from_impl(
                WasmAggregateUdf::new(owner, spec.clone(), returns),
            )),
            FunctionKind::Table {
                columns,
                partitioned,
            } => WasmUdf::Table(Arc::new(WasmTableFunction::new(
                owner,
                spec.clone(),
                columns,
                partitioned,
            ))),
        };
        WasmFunction {
            module: Arc::clone(module),
            spec,
            udf,
        }
    }
}

/// The modules of a session and which function comes from which module.
#[derive(Debug)]
pub struct UdfRegistry {
    modules: Mutex<Vec<Arc<WasmModule>>>,
    limits: LimitPolicy,
    session: module::Session,
}

impl UdfRegistry {
    /// An empty registry whose modules get `limits`, fetch through `net`
    /// and reserve their instances' memory from `pool`.
    pub fn new(limits: LimitPolicy, net: Arc<Net>, pool: Arc<dyn MemoryPool>) -> Self {
        UdfRegistry {
            modules: Mutex::default(),
            limits,
            session: module::Session { net, pool },
        }
    }

    /// Every loaded module, in load order.
    pub fn modules(&self) -> Vec<Arc<WasmModule>> {
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Loads every `*.wasm` file in `dir` (sorted by name) and returns the
    /// functions to register. `taken` says whether a function name is already
    /// used by something else. Nothing is registered if any module fails, or
    /// if `cancel` is set before the last one is loaded.
    pub fn load_dir(
        &self,
        dir: &Path,
        taken: &dyn Fn(&str) -> bool,
        cancel: &AtomicBool,
    ) -> Result<Vec<WasmFunction>, UdfError> {
        let entries = std::fs::read_dir(dir).map_err(|e| UdfError::Directory {
            dir: dir.to_path_buf(),
            cause: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        paths.sort();
        self.load_files(&paths, taken, cancel)
    }

    /// Loads one function from the module at `path` under the SQL name
    /// `sql_name`, for `CREATE FUNCTION`. `selector` names the function in
    /// the module (its name or export); without it the module must describe
    /// a function called `sql_name`, or exactly one function.
    pub fn load_function(
        &self,
        path: &Path,
        selector: Option<&str>,
        sql_name: &str,
    ) -> Result<WasmFunction, UdfError> {
        let never = AtomicBool::new(false);
        let module = module::load(path, self.limits.for_module(path), &self.session, &never)?;
        let wanted = selector.unwrap_or(sql_name);
        let found = module
            .functions
            .iter()
            .find(|f| f.name == wanted || f.export == wanted)
            .or(match (selector, module.functions.as_slice()) {
                (None, [only]) => Some(only),
                _ => None,
            })
            .ok_or_else(|| UdfError::NoSuchFunction {
                module: path.to_path_buf(),
                wanted: wanted.to_string(),
                offered: module.functions.iter().map(|f| f.name.clone()).collect(),
            })?;
        let spec = FunctionSpec {
            name: sql_name.to_string(),
            ..found.clone()
        };
        let function = WasmFunction::new(&module, spec);
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(module);
        Ok(function)
    }

    /// The module whose bytes have the hex sha256 `digest`, if one is
    /// loaded or was shipped here before: its compiled code is reused.
    pub fn by_digest(&self, digest: &str) -> Option<Arc<WasmModule>> {
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|module| module.sha256 == digest)
            .cloned()
    }

    /// Loads a module from `bytes` that another process sent, named `path`
    /// (where that process loaded it from), under this registry's limits;
    /// it is kept for [`UdfRegistry::by_digest`]. The caller checks the
    /// digest it was promised against the module's `sha256`.
    pub fn load_shipped(&self, path: &Path, bytes: Vec<u8>) -> Result<Arc<WasmModule>, UdfError> {
        let module = module::load_bytes(path, bytes, self.limits.for_module(path), &self.session)?;
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&module));
        Ok(module)
    }

    /// Loads the given module files; see [`UdfRegistry::load_dir`].
    pub fn load_files(
        &self,
        paths: &[PathBuf],
        taken: &dyn Fn(&str) -> bool,
        cancel: &AtomicBool,
    ) -> Result<Vec<WasmFunction>, UdfError> {
        let mut loaded = Vec::new();
        let mut owners: BTreeMap<String, PathBuf> = BTreeMap::new();
        for module in self.modules() {
            for function in &module.functions {
                owners.insert(function.name.clone(), module.path.clone());
            }
        }
        for path in paths {
            if cancel.load(Ordering::Relaxed) {
                return Err(UdfError::Cancelled);
            }
            let module = module::load(path, self.limits.for_module(path), &self.session, cancel)?;
            for function in &module.functions {
                let owner = match owners.get(&function.name) {
                    Some(other) => Some(NameOwner::Module(other.clone())),
                    None => taken(&function.name).then_some(NameOwner::BuiltIn),
                };
                if let Some(owner) = owner {
                    return Err(UdfError::NameTaken {
                        module: path.clone(),
                        function: function.name.clone(),
                        owner,
                    });
                }
                owners.insert(function.name.clone(), path.clone());
            }
            loaded.push(module);
        }
        let udfs = loaded
            .iter()
            .flat_map(|module| {
                module
                    .functions
                    .iter()
                    .map(move |spec| WasmFunction::new(module, spec.clone()))
            })
            .collect();
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(loaded);
        Ok(udfs)
    }
}
