//! The WASI preview 1 functions a guest may import, implemented by wasql with
//! no ambient authority: stdout and stderr are captured, arguments and
//! environment are empty, clocks and random numbers work, and there are no
//! files (no preopened directories) and no sockets.
//!
//! wasmtime-wasi's preview 1 drives its host calls through a tokio runtime,
//! which cannot be entered from the tokio worker threads DataFusion runs
//! UDFs on; these functions are plain, synchronous and allocation-free.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Extern, FuncType, Linker, Module, Val, ValType};

use super::capture::Captured;

/// The import module name of WASI preview 1.
pub const MODULE: &str = "wasi_snapshot_preview1";

const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_NOSYS: i32 = 52;

/// What the WASI functions of one store need.
pub struct WasiState {
    pub stdout: Captured,
    pub stderr: Captured,
    pub started: Instant,
}

/// Gives the WASI functions access to their state inside a store's data.
pub trait HasWasi {
    fn wasi(&mut self) -> &mut WasiState;
}

fn memory<T>(caller: &mut Caller<'_, T>) -> Option<wasmtime::Memory> {
    match caller.get_export(wasql_abi::export::MEMORY) {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

/// Writes `bytes` at `ptr` in the caller's memory; false if out of bounds.
fn store_bytes<T>(caller: &mut Caller<'_, T>, ptr: i32, bytes: &[u8]) -> bool {
    memory(caller).is_some_and(|m| m.write(&mut *caller, ptr as u32 as usize, bytes).is_ok())
}

fn store_u32<T>(caller: &mut Caller<'_, T>, ptr: i32, value: u32) -> i32 {
    if store_bytes(caller, ptr, &value.to_le_bytes()) {
        ERRNO_SUCCESS
    } else {
        ERRNO_FAULT
    }
}

/// Adds the implemented WASI functions to `linker`.
pub fn add_to_linker<T: HasWasi + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Caller<'_, T>, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32| -> i32 {
            let target = match fd {
                1 => caller.data_mut().wasi().stdout.clone(),
                2 => caller.data_mut().wasi().stderr.clone(),
                _ => return ERRNO_BADF,
            };
            let Some(memory) = memory(&mut caller) else {
                return ERRNO_FAULT;
            };
            let data = memory.data(&caller);
            let mut total: u32 = 0;
            for i in 0..iovs_len.max(0) as usize {
                let at = iovs as u32 as usize + 8 * i;
                let Some(iov) = data.get(at..at + 8) else {
                    return ERRNO_FAULT;
                };
                let ptr = u32::from_le_bytes(iov[..4].try_into().expect("4 bytes")) as usize;
                let len = u32::from_le_bytes(iov[4..].try_into().expect("4 bytes")) as usize;
                let Some(bytes) = ptr.checked_add(len).and_then(|end| data.get(ptr..end)) else {
                    return ERRNO_FAULT;
                };
                target.push(bytes);
                total = total.saturating_add(len as u32);
            }
            store_u32(&mut caller, nwritten, total)
        },
    )?;
    for sizes in ["args_sizes_get", "environ_sizes_get"] {
        linker.func_wrap(
            MODULE,
            sizes,
            |mut caller: Caller<'_, T>, count: i32, size: i32| -> i32 {
                match store_u32(&mut caller, count, 0) {
                    ERRNO_SUCCESS => store_u32(&mut caller, size, 0),
                    errno => errno,
                }
            },
        )?;
    }
    for name in ["args_get", "environ_get"] {
        linker.func_wrap(MODULE, name, |_: Caller<'_, T>, _: i32, _: i32| -> i32 {
            ERRNO_SUCCESS
        })?;
    }
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Caller<'_, T>, id: i32, _precision: i64, time: i32| -> i32 {
            let nanos = match id {
                0 => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
                1..=3 => caller.data_mut().wasi().started.elapsed().as_nanos() as u64,
                _ => return ERRNO_INVAL,
            };
            if store_bytes(&mut caller, time, &nanos.to_le_bytes()) {
                ERRNO_SUCCESS
            } else {
                ERRNO_FAULT
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_res_get",
        |mut caller: Caller<'_, T>, id: i32, res: i32| -> i32 {
            if !(0..=3).contains(&id) {
                return ERRNO_INVAL;
            }
            if store_bytes(&mut caller, res, &1_000u64.to_le_bytes()) {
                ERRNO_SUCCESS
            } else {
                ERRNO_FAULT
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        "random_get",
        |mut caller: Caller<'_, T>, buf: i32, len: i32| -> i32 {
            let mut bytes = vec![0u8; len.max(0) as usize];
            if getrandom::fill(&mut bytes).is_err() {
                return ERRNO_NOSYS;
            }
            if store_bytes(&mut caller, buf, &bytes) {
                ERRNO_SUCCESS
            } else {
                ERRNO_FAULT
            }
        },
    )?;
    // No preopened directories: libc stops looking at the first EBADF.
    linker.func_wrap(
        MODULE,
        "fd_prestat_get",
        |_: Caller<'_, T>, _: i32, _: i32| -> i32 { ERRNO_BADF },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_get",
        |mut caller: Caller<'_, T>, fd: i32, stat: i32| -> i32 {
            if !(1..=2).contains(&fd) {
                return ERRNO_BADF;
            }
            // filetype character device (2), no flags, rights: fd_write (bit 6).
            let mut fdstat = [0u8; 24];
            fdstat[0] = 2;
            fdstat[8..16].copy_from_slice(&(1u64 << 6).to_le_bytes());
            if store_bytes(&mut caller, stat, &fdstat) {
                ERRNO_SUCCESS
            } else {
                ERRNO_FAULT
            }
        },
    )?;
    linker.func_wrap(MODULE, "sched_yield", |_: Caller<'_, T>| -> i32 {
        ERRNO_SUCCESS
    })?;
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: Caller<'_, T>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::msg(format!(
                "the guest exited with code {code}"
            )))
        },
    )?;
    Ok(())
}

/// The functions [`add_to_linker`] implements.
const IMPLEMENTED: [&str; 12] = [
    "fd_write",
    "args_sizes_get",
    "environ_sizes_get",
    "args_get",
    "environ_get",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "fd_prestat_get",
    "sched_yield",
    "proc_exit",
    "fd_fdstat_get",
];

/// Defines every other WASI function `module` imports to fail with ENOSYS
/// ("not implemented"), so that a guest probing for files or sockets gets an
/// error it can handle rather than a trap.
pub fn add_unimplemented<T: 'static>(
    linker: &mut Linker<T>,
    module: &Module,
) -> wasmtime::Result<()> {
    for import in module.imports() {
        let wasmtime::ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if import.module() == MODULE && !IMPLEMENTED.contains(&import.name()) {
            define_enosys(linker, import.name(), ty)?;
        }
    }
    Ok(())
}

fn define_enosys<T: 'static>(
    linker: &mut Linker<T>,
    name: &str,
    ty: FuncType,
) -> wasmtime::Result<()> {
    let returns_errno =
        ty.results().len() == 1 && matches!(ty.results().next(), Some(ValType::I32));
    let name_owned = name.to_string();
    linker.func_new(MODULE, name, ty, move |_, _, results| {
        if returns_errno {
            results[0] = Val::I32(ERRNO_NOSYS);
            Ok(())
        } else {
            Err(wasmtime::Error::msg(format!(
                "the guest called WASI function {name_owned}, which wasql does not provide"
            )))
        }
    })?;
    Ok(())
}
