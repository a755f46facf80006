//! wasql on an Apache DataFusion Ballista cluster.
//!
//! One binary plays every role: `wasql scheduler` ([`scheduler::run`]),
//! `wasql executor` ([`executor::run`]) and the client, `wasql --cluster
//! df://HOST:PORT` ([`client::connect`]), which is the usual [`Engine`]
//! whose queries run on the cluster. Each role is an [`Engine`] of its own,
//! made from its own config: an executor runs WASM functions under its
//! own `[udf]` limits and `[net]` policy, whatever the client's are.
//!
//! WASM functions cross in plans through wasql's codecs ([`codec`]) by
//! name, signature and the module's sha256; a receiver that lacks the
//! module takes its bytes from the plan, or from the scheduler's module
//! depot ([`depot`]) when it is large.
//!
//! [`Engine`]: wasql_engine::Engine

mod cancel;
pub mod client;
pub mod codec;
mod copy;
mod deep_globs;
pub mod depot;
mod empty;
pub mod executor;
mod job_error;
mod keys;
mod names;
pub mod scheduler;
mod series;
mod table_calls;

use std::sync::Arc;

use datafusion::common::DataFusionError;
use wasql_engine::Engine;

use codec::Modules;

/// The largest gRPC message a role sends or takes: the client's plans
/// carry the bytes of the modules they call to the scheduler, a module may
/// be tens of MB, and in-memory tables travel in plans too (Ballista's
/// default is 16 MiB).
const MAX_MESSAGE_BYTES: u32 = 256 << 20;

/// Prints Ballista's warnings and errors on stderr (more with `RUST_LOG`,
/// e.g. `RUST_LOG=info`): what an operator of a scheduler or an executor
/// reads.
fn start_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
}

/// The modules of `engine`'s registry, for decoding plans.
fn modules(engine: &Engine) -> Arc<Modules> {
    Modules::new(Arc::clone(engine.udf_registry()))
}

/// A Ballista error as a DataFusion one.
fn ballista_error(role: &str, error: ballista_core::error::BallistaError) -> DataFusionError {
    DataFusionError::Execution(format!("{role}: {error}"))
}
