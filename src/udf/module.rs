//! Loading a module: read it, check what it imports and exports, read its
//! self-description, and compile it — or load the compiled code from the
//! on-disk cache, keyed by the module's sha256 and the wasmtime version.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmparser::{Parser, Payload, TypeRef};
use wasmtime::ExternType;

use datafusion::common::DataFusionError;
use datafusion::execution::memory_pool::MemoryPool;

use super::abi::CallError;
use super::describe::{self, FunctionSpec};
use super::exports;
use super::sandbox::{self, GuestInstance, GuestState, Limits, Output};
use crate::net::Net;

/// Bumped when the compiled-code format may change: part of the cache key.
const ENGINE_TAG: &str = "wasmtime-48";

/// A loaded module and the functions it offers.
pub struct WasmModule {
    /// Unique in this process; keys the instance pools.
    pub id: u64,
    pub path: PathBuf,
    /// Hex sha256 of the module's bytes.
    pub sha256: String,
    pub functions: Vec<FunctionSpec>,
    pub limits: Limits,
    pub output: Output,
    /// The session's network, for the module's `wasql.http_fetch` calls.
    pub net: Arc<Net>,
    /// The session's memory pool, which instances reserve their memory from.
    pub pool: Arc<dyn MemoryPool>,
    pub(super) prepared: wasmtime::InstancePre<GuestState>,
}

impl WasmModule {
    /// The module's name: its file name without `.wasm`.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    }

    /// The name the module itself gives the function implemented by
    /// `export` (whatever name SQL registered it under): what network rules
    /// match.
    pub fn declared_name(&self, spec: &FunctionSpec) -> String {
        self.functions
            .iter()
            .find(|f| f.export == spec.export)
            .map_or_else(|| spec.name.clone(), |f| f.name.clone())
    }

    /// An instance for calls of the function `declared_name`: an idle one,
    /// or a new one.
    pub fn instance(&self, declared_name: &str) -> Result<GuestInstance, String> {
        let mut instance = match sandbox::take_pooled(self.id) {
            Some(instance) => instance,
            None => GuestInstance::new(
                &self.prepared,
                self.limits,
                &self.pool,
                &self.output,
                Arc::clone(&self.net),
                &self.name(),
            )?,
        };
        instance.set_function(declared_name);
        Ok(instance)
    }

    /// Gives an instance back after its calls: to the idle pool, unless
    /// a call broke it.
    pub fn release(&self, instance: GuestInstance, outcome: &Result<(), &CallError>) {
        if !matches!(outcome, Err(CallError::Broken(_))) {
            sandbox::put_back(self.id, instance);
        }
    }

    /// Runs `calls` on an instance for the function `spec` (SQL name) whose
    /// module name is `declared_name`.
    pub fn with_instance<T>(
        &self,
        spec: &FunctionSpec,
        declared_name: &str,
        calls: impl FnOnce(&mut GuestInstance) -> Result<T, CallError>,
    ) -> datafusion::common::Result<T> {
        let since = self.output.stderr.position();
        let mut instance = self
            .instance(declared_name)
            .map_err(|e| self.error(&spec.name, &e, since))?;
        let result = calls(&mut instance);
        self.release(instance, &result.as_ref().map(|_| ()));
        result.map_err(|e| self.error(&spec.name, e.cause(), since))
    }

    /// A query error about the function `function` of this module, with the
    /// last lines the guest wrote to stderr after `since` (a position of
    /// the captured stderr, taken before the failing calls).
    pub fn error(&self, function: &str, cause: &str, since: u64) -> DataFusionError {
        let mut message = format!(
            "function {function} (module {}): {cause}",
            self.path.display()
        );
        // The guest's own hint about RUST_BACKTRACE cannot apply: its
        // environment is empty.
        let stderr = self
            .output
            .stderr
            .tail_since(since, 4)
            .lines()
            .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join("\n");
        if !stderr.is_empty() {
            message.push_str(&format!(" [guest stderr: {}]", stderr.replace('\n', " | ")));
        }
        DataFusionError::Execution(message)
    }
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// Reads a module's imports and description without compiling it: refuses
/// imports other than WASI's and `wasql.http_fetch`, and returns the
/// `wasql.udfs` sections' bytes concatenated as they are, in file order
/// (udfs/ABI.md §2).
fn inspect(bytes: &[u8]) -> Result<String, String> {
    let mut description = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("not a valid WebAssembly module: {e}"))? {
            Payload::CustomSection(section) if section.name() == describe::SECTION => {
                description.extend_from_slice(section.data());
            }
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|e| format!("bad import section: {e}"))?;
                    let is_function = matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_));
                    let allowed = import.module == super::wasi::MODULE
                        || (import.module == super::fetch::MODULE
                            && import.name == super::fetch::NAME);
                    if !allowed || !is_function {
                        return Err(format!(
                            "it imports '{}::{}': only wasi_snapshot_preview1 functions and wasql::http_fetch may be imported",
                            import.module, import.name
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    String::from_utf8(description)
        .map_err(|_| format!("the {} section is not UTF-8", describe::SECTION))
}

/// Checks that `module` exports its memory as `memory`, the allocator, and
/// every export `functions` name, each with the signature the host calls it
/// with (udfs/ABI.md §1).
fn check_exports(module: &wasmtime::Module, functions: &[FunctionSpec]) -> Result<(), String> {
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        return Err("it exports no memory named 'memory' (udfs/ABI.md §1)".into());
    }
    let allocator = exports::ALLOCATOR.map(|(name, signature)| (name.to_string(), signature));
    let described = functions.iter().flat_map(FunctionSpec::exports);
    for (name, expected) in allocator.into_iter().chain(described) {
        let Some(ExternType::Func(actual)) = module.get_export(&name) else {
            return Err(format!("it does not export the function '{name}'"));
        };
        if !expected.matches(&actual) {
            return Err(format!(
                "export '{name}' has signature {}, expected {expected} (udfs/ABI.md {})",
                exports::show_type(&actual),
                expected.section
            ));
        }
    }
    Ok(())
}

fn cache_dir() -> Option<PathBuf> {
    Some(dirs::cache_dir()?.join("wasql").join("modules"))
}

/// The error of a load stopped by its cancel flag.
pub const CANCELLED: &str = "cancelled";

/// How long a compile runs before the terminal is told about it.
const ANNOUNCE_AFTER: Duration = Duration::from_secs(1);

/// Compiles `bytes`, or loads the compiled code from the cache. The compile
/// runs on its own thread so that `cancel` can abandon it (it finishes in
/// the background and still fills the cache); one that takes long is
/// announced on a terminal.
fn compile(
    bytes: Vec<u8>,
    sha256: &str,
    path: &Path,
    cancel: &AtomicBool,
) -> Result<wasmtime::Module, String> {
    let engine = sandbox::runtime()?.engine.clone();
    let cached = cache_dir().map(|dir| dir.join(format!("{sha256}-{ENGINE_TAG}.cwasm")));
    if let Some(path) = &cached
        && path.exists()
    {
        // SAFETY: the file was written by `Module::serialize` of this same
        // engine version into wasql's own cache directory, under the sha256
        // of its source; wasmtime also checks the engine version and config
        // before it loads anything, and we recompile if it refuses.
        if let Ok(module) = unsafe { wasmtime::Module::deserialize_file(&engine, path) } {
            return Ok(module);
        }
    }
    let size = bytes.len();
    let (done, result) = mpsc::channel();
    std::thread::Builder::new()
        .name("wasql-compile".into())
        .spawn(move || {
            let module = wasmtime::Module::new(&engine, &bytes)
                .map_err(|e| format!("cannot compile: {e:#}"));
            if let (Some(path), Ok(module)) = (&cached, &module)
                && let Ok(serialized) = module.serialize()
            {
                // Best effort: a cache that cannot be written only costs time.
                let _ = write_atomically(path, &serialized);
            }
            // The receiver is gone if the load was cancelled.
            let _ = done.send(module);
        })
        .map_err(|e| format!("cannot start compiling: {e}"))?;
    let started = Instant::now();
    let mut announced = false;
    loop {
        match result.recv_timeout(Duration::from_millis(50)) {
            Ok(module) => {
                if announced {
                    eprint!("\r\x1b[2K");
                }
                return module;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the compiler stopped unexpectedly".into());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if cancel.load(Ordering::Relaxed) {
            if announced {
                eprintln!();
            }
            return Err(CANCELLED.into());
        }
        if !announced && started.elapsed() >= ANNOUNCE_AFTER && std::io::stderr().is_terminal() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            eprint!("compiling {name} ({:.1} MB)…", size as f64 / 1e6);
            announced = true;
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}

/// The session a module is loaded into: its network and its memory pool.
#[derive(Debug, Clone)]
pub struct Session {
    pub net: Arc<Net>,
    pub pool: Arc<dyn MemoryPool>,
}

/// Loads the module at `path` into `session`. Errors say what is wrong
/// without the path; the caller names the module.
/// A set `cancel` abandons the compile.
pub fn load(
    path: &Path,
    limits: Limits,
    session: &Session,
    cancel: &AtomicBool,
) -> Result<Arc<WasmModule>, String> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    if path.file_stem().is_some_and(|stem| stem == "sql") {
        return Err(
            "the module name 'sql' is reserved (network rules use it for the SQL \
                    functions such as http_get): rename the file"
                .into(),
        );
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let description = inspect(&bytes)?;
    super::limiter::check_declared(&bytes, &limits)?;
    if description.trim().is_empty() {
        return Err(format!(
            "it has no {} section describing its functions (see udfs/ABI.md)",
            describe::SECTION
        ));
    }
    let functions = describe::parse_description(&description)?;
    let compiled = compile(bytes, &sha256, path, cancel)?;
    check_exports(&compiled, &functions)?;
    let prepared = sandbox::prepare(&compiled, Arc::clone(&session.net))?;
    Ok(Arc::new(WasmModule {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        path: path.to_path_buf(),
        sha256,
        functions,
        limits,
        output: Output::default(),
        net: Arc::clone(&session.net),
        pool: Arc::clone(&session.pool),
        prepared,
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_garbage_and_foreign_imports() {
        assert!(
            inspect(b"not wasm at all")
                .unwrap_err()
                .contains("not a valid WebAssembly module")
        );
        // (module (import "env" "f" (func)))
        let foreign = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
            0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
            0x02, 0x09, 0x01, 0x03, b'e', b'n', b'v', 0x01, b'f', 0x00, 0x00, // import env.f
        ];
        let err = inspect(&foreign).expect_err("refused");
        assert!(err.contains("imports 'env::f'"), "{err}");
    }

    /// A custom section `wasql.udfs` holding `text` (short enough for
    /// one-byte lengths).
    fn description_section(text: &str) -> Vec<u8> {
        let name = describe::SECTION.as_bytes();
        let mut section = vec![0, (1 + name.len() + text.len()) as u8, name.len() as u8];
        section.extend_from_slice(name);
        section.extend_from_slice(text.as_bytes());
        section
    }

    #[test]
    fn description_sections_are_concatenated_as_they_are() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(description_section(
            r#"{"abi":1,"name":"f","kind":"scalar","#,
        ));
        module.extend(description_section(
            "\"export\":\"f\",\"args\":[],\"returns\":\"int64\"}\n",
        ));
        let description = inspect(&module).expect("inspected");
        let functions = describe::parse_description(&description).expect("one object");
        assert_eq!(functions.len(), 1);
        assert_eq!(functions[0].signature(), "f() -> Int64");
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
    }
}
