//! `wasql executor`: Ballista's executor, which runs the tasks of jobs with
//! its own engine: WASM modules shipped by digest run under this process's
//! `[udf]` limits, `http_get` and fetching UDFs under its `[net]` policy,
//! and object stores come from its config profiles and environment.

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use wasql_engine::{Engine, EngineSettings};

use crate::codec::{LogicalCodec, PhysicalCodec, Shipping};

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `HOST:PORT`.
    pub scheduler: (String, u16),
    /// The address to listen on.
    pub bind_host: String,
    /// The Arrow Flight port (results and shuffle data); the task port is
    /// the next one.
    pub port: u16,
    /// Where shuffle files go.
    pub work_dir: PathBuf,
    /// Tasks run at once.
    pub concurrent_tasks: usize,
}

/// Runs an executor until it is stopped (Ctrl-C, SIGTERM) or fails.
pub async fn run(options: &ExecutorOptions, settings: &EngineSettings) -> Result<()> {
    crate::start_logging();
    let engine = Engine::new(settings)?;
    let modules = crate::modules(&engine);
    std::fs::create_dir_all(&options.work_dir).map_err(|e| {
        DataFusionError::Execution(format!(
            "cannot create the work directory '{}': {e}",
            options.work_dir.display()
        ))
    })?;
    let work_dir = options.work_dir.display().to_string();
    let mut functions = BallistaFunctionRegistry::default();
    for (name, udf) in engine.context().state().scalar_functions() {
        functions
            .scalar_functions
            .entry(name.clone())
            .or_insert_with(|| Arc::clone(udf));
    }
    let stores = Arc::clone(&engine.context().runtime_env().object_store_registry);
    let temp = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: Some(options.bind_host.clone()),
        port: options.port,
        grpc_port: options.port.saturating_add(1),
        scheduler_host: options.scheduler.0.clone(),
        scheduler_port: options.scheduler.1,
        scheduler_connect_timeout_seconds: 10,
        vcores: options.concurrent_tasks,
        work_dir: Some(work_dir),
        executor_heartbeat_interval_seconds: 1,
        grpc_max_decoding_message_size: crate::MAX_MESSAGE_BYTES,
        grpc_max_encoding_message_size: crate::MAX_MESSAGE_BYTES,
        memory_pool_size: settings.memory_limit.map(|limit| limit as u64),
        override_function_registry: Some(Arc::new(functions)),
        override_runtime_producer: Some(Arc::new(move |_| {
            RuntimeEnvBuilder::new()
                .with_object_store_registry(Arc::clone(&stores))
                .with_temp_file_path(temp.clone())
                .build_arc()
        })),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(Arc::clone(&modules)))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(modules, Shipping::Inline))),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| crate::ballista_error("executor", e))
}
