//! Loading a module: read it, check what it imports and exports, read its
//! self-description, and compile it — or load the compiled code from the
//! on-disk cache ([`CodeCache`]), keyed by the module's sha256 and the
//! wasmtime version.

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

use super::cache::CodeCache;
use super::describe::{self, FunctionSpec};
use super::error::{CallError, UdfError};
use super::exports;
use super::sandbox::{self, GuestInstance, GuestState, Limits, Output};
use crate::net::Net;

/// Bumped when the compiled-code format may change (wasmtime's, or the
/// cache's: `v2` entries start with a digest): part of the cache key.
const ENGINE_TAG: &str = "wasmtime-48-v2";

/// A loaded module and the functions it offers.
pub struct WasmModule {
    /// Unique in this process; keys the instance pools.
    pub id: u64,
    /// The module file's path.
    pub path: PathBuf,
    /// Hex sha256 of the module's bytes.
    pub sha256: String,
    /// The module file's size in bytes.
    pub size: u64,
    /// The module's bytes as loaded (what a cluster ships to executors
    /// that lack them): a file changed on disk later changes nothing.
    pub bytes: Arc<[u8]>,
    /// The functions the module offers.
    pub functions: Vec<FunctionSpec>,
    /// The sandbox limits of the module's instances.
    pub limits: Limits,
    /// Where the module's guests write their stdout and stderr.
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
    pub fn instance(&self, declared_name: &str) -> Result<GuestInstance, CallError> {
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
        if !outcome.is_err_and(|e| e.breaks_instance()) {
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
            .map_err(|e| self.error(&spec.name, e, since))?;
        let result = calls(&mut instance);
        self.release(instance, &result.as_ref().map(|_| ()));
        result.map_err(|e| self.error(&spec.name, e, since))
    }

    /// A query error about the function `function` of this module, with the
    /// last lines the guest wrote to stderr after `since` (a position of
    /// the captured stderr, taken before the failing calls).
    pub fn error(&self, function: &str, error: CallError, since: u64) -> DataFusionError {
        UdfError::Call {
            function: function.to_string(),
            module: self.path.clone(),
            error: Box::new(error),
            stderr: stderr_tail(&self.output.stderr.tail_since(since, TAIL_LINES)),
        }
        .into()
    }
}

/// Lines of the guest's stderr shown with an error.
const TAIL_LINES: usize = 4;
/// Longest stderr line shown with an error, in bytes as shown.
const TAIL_LINE_BYTES: usize = 256;

/// The guest's last stderr lines as shown in an error: on one line joined
/// by ` | `, control characters escaped, each line cut to
/// [`TAIL_LINE_BYTES`] (marked `…`).
fn stderr_tail(tail: &str) -> String {
    tail.lines()
        // The guest's own hint about RUST_BACKTRACE cannot apply: its
        // environment is empty.
        .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
        .map(
            |line| match crate::text::escape_control_within(line, TAIL_LINE_BYTES) {
                (shown, true) => shown.into_owned(),
                (shown, false) => format!("{shown}…"),
            },
        )
        .collect::<Vec<_>>()
        .join(" | ")
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
    if !matches!(
        module.get_export(wasql_abi::export::MEMORY),
        Some(ExternType::Memory(_))
    ) {
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

/// The error of a compile stopped by its cancel flag; [`load`] reports it
/// as [`UdfError::Cancelled`].
const CANCELLED: &str = "cancelled";

/// How long a compile runs before the terminal is told about it.
const ANNOUNCE_AFTER: Duration = Duration::from_secs(1);

/// Compiles `bytes`, or loads the compiled code from `cache`. The compile
/// runs on its own thread so that `cancel` can abandon it (it finishes in
/// the background and still fills the cache); one that takes long is
/// announced on a terminal.
fn compile(
    bytes: Arc<[u8]>,
    sha256: &str,
    path: &Path,
    cache: Option<CodeCache>,
    cancel: &AtomicBool,
) -> Result<wasmtime::Module, String> {
    let engine = sandbox::runtime()?.engine.clone();
    let entry = format!("{sha256}-{ENGINE_TAG}");
    if let Some(code) = cache.as_ref().and_then(|cache| cache.get(&entry)) {
        // SAFETY: `Module::deserialize` runs whatever machine code `code`
        // holds, so it must be what `Module::serialize` wrote for this
        // module. `CodeCache::get` returns an entry only if the cache
        // directory and the file are owned by this user and writable by no
        // one else (no other account wrote it), and if the SHA-256 digest
        // stored with it matches its name (this module's sha256 and this
        // engine tag) and its bytes (not torn, corrupted or swapped); the
        // bytes checked are the bytes loaded, read once into memory.
        // wasmtime itself refuses code of another engine version or
        // configuration, and then we compile. The trust boundary is the
        // user's account: a process of the same user could write a valid
        // entry, as it could replace this binary.
        if let Ok(module) = unsafe { wasmtime::Module::deserialize(&engine, &code) } {
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
            if let (Some(cache), Ok(module)) = (&cache, &module)
                && let Ok(serialized) = module.serialize()
            {
                // Best effort: a cache that cannot be written only costs time.
                let _ = cache.put(&entry, &serialized);
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

/// The session a module is loaded into: its network and its memory pool.
#[derive(Debug, Clone)]
pub struct Session {
    pub net: Arc<Net>,
    pub pool: Arc<dyn MemoryPool>,
}

/// Loads the module at `path` into `session`. A set `cancel` abandons the
/// compile.
pub fn load(
    path: &Path,
    limits: Limits,
    session: &Session,
    cancel: &AtomicBool,
) -> Result<Arc<WasmModule>, UdfError> {
    std::fs::read(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|bytes| load_checked(path, bytes, limits, session, cancel))
        .map_err(|cause| {
            if cancel.load(Ordering::Relaxed) {
                UdfError::Cancelled
            } else {
                UdfError::Load {
                    module: path.to_path_buf(),
                    cause,
                }
            }
        })
}

/// Loads a module from `bytes`, named `path` (its file, or where a client
/// loaded it from), into `session`.
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    limits: Limits,
    session: &Session,
) -> Result<Arc<WasmModule>, UdfError> {
    load_checked(path, bytes, limits, session, &AtomicBool::new(false)).map_err(|cause| {
        UdfError::Load {
            module: path.to_path_buf(),
            cause,
        }
    })
}

/// [`load`], with errors that say what is wrong without the path.
fn load_checked(
    path: &Path,
    bytes: Vec<u8>,
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
    let sha256 = sha256_hex(&bytes);
    let size = bytes.len() as u64;
    let description = inspect(&bytes)?;
    super::limiter::check_declared(&bytes, &limits)?;
    if description.trim().is_empty() {
        return Err(format!(
            "it has no {} section describing its functions (see udfs/ABI.md)",
            describe::SECTION
        ));
    }
    let functions = describe::parse_description(&description)?;
    let bytes: Arc<[u8]> = bytes.into();
    let compiled = compile(Arc::clone(&bytes), &sha256, path, CodeCache::user(), cancel)?;
    check_exports(&compiled, &functions)?;
    let prepared = sandbox::prepare(&compiled, Arc::clone(&session.net))?;
    Ok(Arc::new(WasmModule {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        path: path.to_path_buf(),
        sha256,
        size,
        bytes,
        functions,
        limits,
        output: Output::default(),
        net: Arc::clone(&session.net),
        pool: Arc::clone(&session.pool),
        prepared,
    }))
}

/// The sha256 of `bytes` in hex: what names a module (its `sha256`), in
/// the compiled-code cache and in the plans a cluster sends.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

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
    fn stderr_tails_are_escaped_short_and_on_one_line() {
        let tail = format!(
            "{}\nthread panicked at src/lib.rs:1:1:\nbad \u{1b}]0;title\u{7}\t\u{9b}\r\n\
             note: run with `RUST_BACKTRACE=1` to see a backtrace",
            "x".repeat(10_000)
        );
        let shown = stderr_tail(&tail);
        assert_eq!(
            shown,
            format!(
                "{}… | thread panicked at src/lib.rs:1:1: | bad \\x1b]0;title\\x07\\t\\u{{9b}}",
                "x".repeat(TAIL_LINE_BYTES)
            )
        );
        assert_eq!(stderr_tail(""), "");
    }

    /// `(module (func (export "f") (result i32) i32.const 42))`.
    const ANSWER: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
        0x03, 0x02, 0x01, 0x00, // one function of type 0
        0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f"
        0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // i32.const 42
    ];

    /// Compiles [`ANSWER`] through `cache` and calls its `f`.
    fn compile_and_call(cache: &CodeCache) -> i32 {
        let module = compile(
            ANSWER.into(),
            "answer",
            Path::new("answer.wasm"),
            Some(cache.clone()),
            &AtomicBool::new(false),
        )
        .expect("compiled");
        let mut store = wasmtime::Store::new(module.engine(), ());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiated");
        let f = instance
            .get_typed_func::<(), i32>(&mut store, "f")
            .expect("f");
        f.call(&mut store, ()).expect("called")
    }

    /// A cache entry whose code was changed, or that others may write, is
    /// not loaded: the module is compiled again, works, and the entry is
    /// replaced by a private, valid one.
    #[cfg(unix)]
    #[test]
    fn untrusted_cache_entries_are_recompiled() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let cache = CodeCache::open(root.path().join("modules")).unwrap();
        let entry = root
            .path()
            .join("modules")
            .join(format!("answer-{ENGINE_TAG}.cwasm"));
        let name = format!("answer-{ENGINE_TAG}");
        assert_eq!(compile_and_call(&cache), 42);
        let valid = std::fs::read(&entry).expect("the entry written");
        assert!(cache.get(&name).is_some());

        // Code changed after the digest: a byte in the middle flipped.
        let mut tampered = valid;
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0xff;
        std::fs::write(&entry, &tampered).unwrap();
        assert!(cache.get(&name).is_none());
        assert_eq!(compile_and_call(&cache), 42);
        assert!(cache.get(&name).is_some(), "replaced by a valid entry");

        // A valid entry that anyone may write.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(cache.get(&name).is_none());
        assert_eq!(compile_and_call(&cache), 42);
        assert!(cache.get(&name).is_some());
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "replaced by a private entry");
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
    }

    /// An import of a generated module, of kind 0 (function), 1 (table),
    /// 2 (memory) or 3 (global).
    #[derive(Debug, Clone)]
    struct Import {
        module: String,
        name: String,
        kind: u8,
    }

    /// A module as a guest toolchain could write it: one function type,
    /// `imports`, `functions` empty functions, function exports `exports`,
    /// and custom sections (`(n, name, data)`: before known section `n`).
    #[derive(Debug, Clone)]
    struct Parts {
        imports: Vec<Import>,
        functions: usize,
        exports: Vec<String>,
        customs: Vec<(usize, String, Vec<u8>)>,
    }

    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn name(text: &str, out: &mut Vec<u8>) {
        leb(text.len(), out);
        out.extend_from_slice(text.as_bytes());
    }

    impl Parts {
        fn bytes(&self) -> Vec<u8> {
            let mut imports = Vec::new();
            leb(self.imports.len(), &mut imports);
            for import in &self.imports {
                name(&import.module, &mut imports);
                name(&import.name, &mut imports);
                imports.extend_from_slice(match import.kind {
                    0 => &[0x00, 0x00][..],         // function of type 0
                    1 => &[0x01, 0x70, 0x00, 0x00], // funcref table, min 0
                    2 => &[0x02, 0x00, 0x01],       // memory, min 1 page
                    _ => &[0x03, 0x7f, 0x00],       // immutable i32 global
                });
            }
            let mut functions = Vec::new();
            leb(self.functions, &mut functions);
            functions.resize(functions.len() + self.functions, 0);
            let mut exports = Vec::new();
            leb(self.exports.len(), &mut exports);
            for (index, export) in self.exports.iter().enumerate() {
                name(export, &mut exports);
                exports.push(0x00);
                leb(index, &mut exports);
            }
            let mut code = Vec::new();
            leb(self.functions, &mut code);
            for _ in 0..self.functions {
                code.extend_from_slice(&[0x02, 0x00, 0x0b]); // no locals, end
            }
            let known = [
                (1, vec![0x01, 0x60, 0x00, 0x00]), // () -> ()
                (2, imports),
                (3, functions),
                (7, exports),
                (10, code),
            ];
            let mut bytes = b"\0asm\x01\0\0\0".to_vec();
            let mut section = |id: u8, body: &[u8]| {
                bytes.push(id);
                leb(body.len(), &mut bytes);
                bytes.extend_from_slice(body);
            };
            for position in 0..=known.len() {
                for (_, custom, data) in self.customs.iter().filter(|c| c.0 == position) {
                    let mut body = Vec::new();
                    name(custom, &mut body);
                    body.extend_from_slice(data);
                    section(0, &body);
                }
                if let Some((id, body)) = known.get(position) {
                    section(*id, body);
                }
            }
            bytes
        }

        /// What `inspect` must find: the description and the exported
        /// functions, or nothing when an import or a description section
        /// must be refused.
        /// The description `inspect` must read: every `wasql.udfs` section's
        /// bytes joined in file order; `None` where it must refuse.
        fn expected(&self) -> Option<String> {
            let allowed = |i: &Import| {
                i.kind == 0
                    && (i.module == "wasi_snapshot_preview1"
                        || (i.module == "wasql" && i.name == "http_fetch"))
            };
            if !self.imports.iter().all(allowed) {
                return None;
            }
            let mut customs = self.customs.clone();
            customs.sort_by_key(|c| c.0); // stable: file order
            let description: Vec<u8> = customs
                .iter()
                .filter(|c| c.1 == describe::SECTION)
                .flat_map(|c| c.2.iter().copied())
                .collect();
            String::from_utf8(description).ok()
        }
    }

    const SLUGIFY: &str = r#"{"abi":1,"name":"slugify","kind":"scalar","export":"wasql_udf_slugify","args":["utf8"],"returns":"utf8"}"#;

    fn parts() -> impl Strategy<Value = Parts> {
        let import = (
            prop_oneof![
                3 => select(vec!["wasi_snapshot_preview1", "wasql", "env", ""]).prop_map(String::from),
                1 => ".{0,6}",
            ],
            prop_oneof![
                3 => select(vec!["fd_write", "http_fetch", "proc_exit", "memory"]).prop_map(String::from),
                1 => ".{0,6}",
            ],
            prop_oneof![6 => Just(0u8), 1 => 1u8..4],
        )
            .prop_map(|(module, name, kind)| Import { module, name, kind });
        let export = prop_oneof![
            select(vec![
                "wasql_alloc",
                "wasql_free",
                "wasql_release",
                "wasql_udf_slugify"
            ])
            .prop_map(String::from),
            ".{0,10}",
        ];
        let data = prop_oneof![
            Just(SLUGIFY.as_bytes().to_vec()),
            Just(format!("{SLUGIFY}\n").into_bytes()),
            ".{0,20}".prop_map(String::into_bytes),
            vec(any::<u8>(), 0..20),
        ];
        let custom = (
            0usize..6,
            prop_oneof![
                3 => Just(describe::SECTION.to_string()),
                1 => select(vec!["name", "producers", "wasql.udf", "WASQL.UDFS", ""]).prop_map(String::from),
            ],
            data,
        );
        (vec(import, 0..4), vec(export, 0..5), vec(custom, 0..4)).prop_map(
            |(imports, exports, customs)| Parts {
                imports,
                functions: exports.len(),
                exports,
                customs,
            },
        )
    }

    proptest! {
        #![proptest_config(crate::fuzz::config(1000))]

        /// Modules of every shape of import, export and custom section are
        /// read exactly: allowed imports only, the description sections'
        /// bytes joined in file order.
        #[test]
        fn fuzz_inspect_reads_modules(parts in parts()) {
            let found = inspect(&parts.bytes());
            match parts.expected() {
                Some(expected) => prop_assert_eq!(found, Ok(expected)),
                None => prop_assert!(found.is_err(), "{:?}", found),
            }
        }

        /// Damaged modules (and random bytes after a wasm header) never
        /// panic the loader's inspection or the description parser after it.
        #[test]
        fn fuzz_inspect_survives_damaged_modules(
            bytes in prop_oneof![
                3 => crate::fuzz::mutated(parts().prop_map(|p| p.bytes())),
                1 => vec(any::<u8>(), 0..64).prop_map(|tail| [&b"\0asm\x01\0\0\0"[..], &tail].concat()),
            ],
        ) {
            if let Ok(description) = inspect(&bytes) {
                let _ = describe::parse_description(&description);
            }
        }
    }
}
