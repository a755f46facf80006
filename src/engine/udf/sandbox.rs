//! The sandbox guests run in: one wasmtime engine for the process, with an
//! epoch ticker for per-call deadlines; per-instance resource caps (see
//! `limiter`); WASI with empty args and environment, no files, no sockets,
//! and captured output. Idle instances are pooled per module and reused
//! across batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use std::time::Instant;

use datafusion::execution::memory_pool::{MemoryPool, UnboundedMemoryPool};
use wasmtime::{
    Config, Engine, ExternType, Func, Instance, InstancePre, Linker, Memory, Module, Store, Trap,
};

use wasql_abi::export;

use super::capture::Captured;
use super::error::CallError;
use super::exports::{self, Alloc, Export, Free, Release, Typed};
use super::fetch::HasNet;
use super::limiter::{GuestLimiter, LimitExceeded};
use super::linker;
use super::wasi::{self, HasWasi, WasiState};
use crate::net::{Caller, Net};

/// How often the deadline clock ticks.
const TICK: Duration = Duration::from_millis(10);

/// Resource limits for a module's instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory cap per instance, in bytes (all its memories together
    /// are also reserved from the session's memory pool).
    pub memory_bytes: usize,
    /// Most elements of any one table of an instance.
    pub table_elements: usize,
    /// Most tables an instance may define.
    pub tables: usize,
    /// Most linear memories an instance may define.
    pub memories: usize,
    /// Wall-time deadline per call.
    pub call_timeout: Duration,
    /// Largest serialized state of one aggregate group, in bytes.
    pub state_bytes: usize,
}

/// The limits of every module: defaults, and overrides by module name (the
/// file name without `.wasm`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitPolicy {
    /// The limits of modules without an override.
    pub default: Limits,
    /// Limits by module name (the file name without `.wasm`).
    pub modules: std::collections::BTreeMap<String, Limits>,
}

impl LimitPolicy {
    /// The limits for the module at `path`.
    pub fn for_module(&self, path: &std::path::Path) -> Limits {
        path.file_stem()
            .and_then(|stem| self.modules.get(stem.to_string_lossy().as_ref()))
            .copied()
            .unwrap_or(self.default)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            tables: 4,
            memories: 1,
            call_timeout: Duration::from_secs(10),
            state_bytes: 1 << 20,
        }
    }
}

/// The process-wide wasmtime engine and WASI linker.
pub struct Runtime {
    pub engine: Engine,
    linker: Linker<GuestState>,
}

/// The runtime, created (and its deadline clock started) on first use.
pub fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let mut config = Config::new();
            config.epoch_interruption(true);
            let engine = Engine::new(&config).map_err(|e| format!("cannot start wasmtime: {e}"))?;
            let linker = linker::build(&engine)?;
            let ticker = engine.weak();
            std::thread::Builder::new()
                .name("wasql-udf-deadline".into())
                .spawn(move || {
                    while let Some(engine) = ticker.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(TICK);
                    }
                })
                .map_err(|e| format!("cannot start the deadline clock: {e}"))?;
            Ok(Runtime { engine, linker })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What a store holds for its guest.
pub struct GuestState {
    wasi: WasiState,
    limiter: GuestLimiter,
    /// The session's network, for `wasql.http_fetch`.
    pub net: Arc<Net>,
    /// The module and function being called, as the network policy sees it.
    pub caller: Caller,
    /// The per-call deadline, and how the current call has spent it.
    pub deadline: CallClock,
}

/// A call's compute time: wall time since it started, less the time spent
/// waiting on the network in host calls.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    pub timeout: Duration,
    started: Instant,
    waited: Duration,
}

impl CallClock {
    fn new(timeout: Duration) -> Self {
        CallClock {
            timeout,
            started: Instant::now(),
            waited: Duration::ZERO,
        }
    }

    /// Counts `wait` as network time; returns the epoch ticks of compute
    /// time left, or `None` when the deadline has passed.
    pub fn after_wait(&mut self, wait: Duration) -> Option<u64> {
        self.waited += wait;
        let computed = self.started.elapsed().saturating_sub(self.waited);
        let left = self
            .timeout
            .checked_sub(computed)
            .filter(|d| !d.is_zero())?;
        Some(deadline_ticks(left))
    }
}

impl HasWasi for GuestState {
    fn wasi(&mut self) -> &mut WasiState {
        &mut self.wasi
    }
}

impl HasNet for GuestState {
    fn net(&self) -> &Arc<Net> {
        &self.net
    }

    fn caller(&self) -> &Caller {
        &self.caller
    }

    fn after_wait(&mut self, wait: Duration) -> Option<u64> {
        self.deadline.after_wait(wait)
    }
}

impl GuestState {
    /// The state of a store for `module_name`'s guests.
    fn new(
        limits: Limits,
        pool: &Arc<dyn MemoryPool>,
        output: &Output,
        net: Arc<Net>,
        module_name: &str,
    ) -> GuestState {
        GuestState {
            wasi: WasiState {
                stdout: output.stdout.clone(),
                stderr: output.stderr.clone(),
                started: Instant::now(),
            },
            limiter: GuestLimiter::new(limits, pool, module_name),
            net,
            caller: Caller {
                module: Some(module_name.to_string()),
                function: String::new(),
            },
            deadline: CallClock::new(limits.call_timeout),
        }
    }
}

/// Links `module` against wasql's WASI and `wasql.http_fetch` ahead of
/// instantiation; fails if it imports something wasql does not provide, or
/// a function wasql provides with another type. `net` is the session's
/// network (the check looks at the host functions in a store of its own).
pub fn prepare(module: &Module, net: Arc<Net>) -> Result<InstancePre<GuestState>, String> {
    let runtime = runtime()?;
    let mut linker = runtime.linker.clone();
    wasi::add_unimplemented(&mut linker, module).map_err(|e| format!("cannot link: {e}"))?;
    let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
    let state = GuestState::new(Limits::default(), &pool, &Output::default(), net, "");
    let mut store = Store::new(&runtime.engine, state);
    for import in module.imports() {
        let (ExternType::Func(wanted), Some(provided)) =
            (import.ty(), linker.get_by_import(&mut store, &import))
        else {
            continue;
        };
        let ExternType::Func(provided) = provided.ty(&store) else {
            continue;
        };
        if !provided.matches(&wanted) {
            let section = if import.module() == wasi::MODULE {
                "§1.1"
            } else {
                "§7"
            };
            return Err(format!(
                "it imports '{}::{}' as {}, but wasql provides {} (udfs/ABI.md {section})",
                import.module(),
                import.name(),
                exports::show_type(&wanted),
                exports::show_type(&provided),
            ));
        }
    }
    linker
        .instantiate_pre(module)
        .map_err(|e| format!("cannot link: {e:#}"))
}

/// Where a module's guests write their stdout and stderr.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: Captured,
    pub stderr: Captured,
}

/// A live instance of a module, ready for calls.
pub struct GuestInstance {
    pub store: Store<GuestState>,
    pub memory: Memory,
    pub alloc: Typed<Alloc>,
    pub free: Typed<Free>,
    pub release: Typed<Release>,
    /// The argument block kept from call to call: its guest address and
    /// size (udfs/ABI.md §3 lets the host reuse it).
    pub arg_block: Option<(u32, usize)>,
    instance: Instance,
    exports: HashMap<String, Func>,
    limits: Limits,
}

impl GuestInstance {
    /// Instantiates a prepared module under `limits`, its memory reserved
    /// from `pool`, its output going to `output`, its network requests to
    /// `net` as `module_name`'s.
    pub fn new(
        module: &InstancePre<GuestState>,
        limits: Limits,
        pool: &Arc<dyn MemoryPool>,
        output: &Output,
        net: Arc<Net>,
        module_name: &str,
    ) -> Result<GuestInstance, CallError> {
        let runtime = runtime().map_err(CallError::Host)?;
        let mut store = Store::new(
            &runtime.engine,
            GuestState::new(limits, pool, output, net, module_name),
        );
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks(limits.call_timeout));
        let instance = module
            .instantiate(&mut store)
            .map_err(|e| CallError::during("cannot instantiate", describe_trap(&e, &store)))?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())
                .map_err(|e| CallError::during("_initialize failed", describe_trap(&e, &store)))?;
        }
        let memory = instance
            .get_memory(&mut store, export::MEMORY)
            .ok_or_else(|| {
                CallError::Host(format!(
                    "the module exports no memory named '{}'",
                    export::MEMORY
                ))
            })?;
        let alloc = typed_export::<Alloc>(&instance, &mut store, export::ALLOC)?;
        let free = typed_export::<Free>(&instance, &mut store, export::FREE)?;
        let release = typed_export::<Release>(&instance, &mut store, export::RELEASE)?;
        Ok(GuestInstance {
            store,
            memory,
            alloc,
            free,
            release,
            arg_block: None,
            instance,
            exports: HashMap::new(),
            limits,
        })
    }

    /// The function exported as `name`, an export of kind `E`.
    pub fn export<E: Export>(&mut self, name: &str) -> Result<Typed<E>, String> {
        let func = match self.exports.get(name) {
            Some(func) => *func,
            None => {
                let func = self
                    .instance
                    .get_func(&mut self.store, name)
                    .ok_or_else(|| format!("the module does not export '{name}'"))?;
                self.exports.insert(name.to_string(), func);
                func
            }
        };
        func.typed(&self.store)
            .map_err(|e| format!("export '{name}' has the wrong signature: {e}"))
    }

    /// Names the function the next calls are for (network policy, audit).
    pub fn set_function(&mut self, name: &str) {
        let caller = &mut self.store.data_mut().caller;
        if caller.function != name {
            caller.function = name.to_string();
        }
    }

    /// Starts the deadline for the next call (and forgets the limits an
    /// earlier call ran into).
    pub fn arm_deadline(&mut self) {
        let state = self.store.data_mut();
        state.deadline = CallClock::new(self.limits.call_timeout);
        state.limiter.clear_refusal();
        self.store
            .set_epoch_deadline(deadline_ticks(self.limits.call_timeout));
    }

    /// The limits the instance runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Why a call failed, from the error wasmtime returned.
    pub fn explain(&self, error: &wasmtime::Error) -> CallError {
        describe_trap(error, &self.store)
    }
}

/// The function `instance` exports as `name`, with the signature of `E`.
fn typed_export<E: Export>(
    instance: &Instance,
    store: &mut Store<GuestState>,
    name: &str,
) -> Result<Typed<E>, CallError> {
    let func = instance
        .get_func(&mut *store, name)
        .ok_or_else(|| CallError::Host(format!("the module does not export '{name}'")))?;
    func.typed(&*store)
        .map_err(|e| CallError::Host(format!("{name} has the wrong signature: {e}")))
}

fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / TICK.as_millis()).max(1) as u64
}

/// What a failed call ran into: a limit the guest ran into is named, even
/// when the guest trapped only after a refused `memory.grow`.
fn describe_trap(error: &wasmtime::Error, store: &Store<GuestState>) -> CallError {
    if let Some(exceeded) = error.downcast_ref::<LimitExceeded>() {
        return CallError::Limit(exceeded.clone());
    }
    let trap = match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return CallError::Timeout(store.data().deadline.timeout),
        Some(Trap::StackOverflow) => "stack overflow".to_string(),
        Some(Trap::MemoryOutOfBounds) => {
            "trapped: out of bounds memory access (a guest stack overflow looks like this too)"
                .to_string()
        }
        Some(trap) => format!("trapped: {trap}"),
        None => error.root_cause().to_string(),
    };
    CallError::Trap {
        trap,
        after: store.data().limiter.refusal().cloned(),
    }
}

/// Idle instances, by module id: taken for a call, given back after it.
static IDLE: Mutex<Vec<(u64, GuestInstance)>> = Mutex::new(Vec::new());

fn idle() -> std::sync::MutexGuard<'static, Vec<(u64, GuestInstance)>> {
    IDLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes an idle instance of module `id`, if any.
pub fn take_pooled(id: u64) -> Option<GuestInstance> {
    let mut idle = idle();
    let at = idle.iter().rposition(|(module, _)| *module == id)?;
    Some(idle.swap_remove(at).1)
}

/// Returns an instance to the pool after a successful call.
pub fn put_back(id: u64, instance: GuestInstance) {
    idle().push((id, instance));
}

/// Drops every idle instance, giving its memory back to its session's pool.
pub fn evict_idle() {
    let evicted = std::mem::take(&mut *idle());
    drop(evicted);
}
