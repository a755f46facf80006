//! `wasql scheduler`: Ballista's scheduler, which plans each job physically
//! with wasql's planner (table functions, file tables, object stores) and
//! decodes and encodes plans with wasql's codecs.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::optimizer::ballista_default_optimizer_rules;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::common::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionConfig;
use wasql_engine::{Engine, EngineSettings};

use crate::codec::{LogicalCodec, PhysicalCodec, Shipping};
use crate::depot;

/// How long an executor may stay silent before its tasks are run elsewhere.
pub const EXECUTOR_TIMEOUT_SECONDS: u64 = 10;

/// Where a scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Ballista's gRPC service: clients and executors.
    pub bind: SocketAddr,
    /// The module depot ([`crate::depot`]); port 0 takes any free port.
    pub depot: SocketAddr,
}

/// Runs a scheduler until it fails.
pub async fn run(options: &SchedulerOptions, settings: &EngineSettings) -> Result<()> {
    crate::start_logging();
    let bind = options.bind;
    let engine = Engine::new(settings)?;
    let modules = crate::modules(&engine);
    let depot = depot::serve(options.depot, Arc::clone(engine.udf_registry())).await?;
    log::info!("module depot at {depot}");
    let base = engine.context().state();
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(Arc::clone(&modules)))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(
            modules,
            Shipping::Depot(depot),
        ))),
        override_session_builder: Some(Arc::new(move |config: SessionConfig| {
            Ok(SessionStateBuilder::new_from_existing(base.clone())
                .with_config(config)
                .with_optimizer_rules(ballista_default_optimizer_rules())
                .build())
        })),
        grpc_server_max_decoding_message_size: crate::MAX_MESSAGE_BYTES,
        grpc_server_max_encoding_message_size: crate::MAX_MESSAGE_BYTES,
        grpc_client_max_message_size: crate::MAX_MESSAGE_BYTES,
        executor_timeout_seconds: EXECUTOR_TIMEOUT_SECONDS,
        expire_dead_executor_interval_seconds: 1,
        no_executors_grace_period_seconds: EXECUTOR_TIMEOUT_SECONDS,
        ..SchedulerConfig::default()
    };
    let config = Arc::new(config);
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| crate::ballista_error("scheduler", e))?;
    start_server(cluster, bind, config)
        .await
        .map_err(|e| crate::ballista_error("scheduler", e))
}
