//! The host functions a guest may import, in one wasmtime [`Linker`]: WASI
//! ([`wasi`]) and `wasql.http_fetch` ([`fetch`]). Each reaches the store's
//! state through a trait of its own ([`HasWasi`], [`HasNet`]) that the
//! sandbox's `GuestState` implements, so neither depends on the sandbox:
//! `sandbox` -> `linker` -> `wasi`, `fetch`, without a cycle.

use wasmtime::{Engine, Linker};

use super::fetch::{self, HasNet};
use super::wasi::{self, HasWasi};

/// A linker for `engine` defining wasql's WASI and `wasql.http_fetch`.
pub fn build<T: HasWasi + HasNet + 'static>(engine: &Engine) -> Result<Linker<T>, String> {
    let mut linker = Linker::new(engine);
    wasi::add_to_linker(&mut linker).map_err(|e| format!("cannot set up WASI: {e}"))?;
    fetch::add_to_linker(&mut linker)
        .map_err(|e| format!("cannot set up the network import: {e}"))?;
    Ok(linker)
}
