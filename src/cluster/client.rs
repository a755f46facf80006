//! The client: a wasql session whose queries run on a cluster.

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::planner::BallistaQueryPlanner;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::LogicalPlanNode;
use wasql_engine::{Engine, EngineSettings};

use crate::cancel::CancelOnDrop;
use crate::codec::LogicalCodec;
use crate::{copy, empty, keys, names};

/// A session on the cluster whose scheduler is at `url` (`df://HOST:PORT`).
/// Statements are planned here and run there; WASM functions registered
/// in the session travel with the plans that call them.
pub async fn connect(url: &str, settings: &EngineSettings) -> Result<Engine> {
    let address = url.strip_prefix("df://").ok_or_else(|| {
        DataFusionError::Configuration(format!(
            "cluster '{url}': give the scheduler as df://HOST:PORT"
        ))
    })?;
    check_reachable(url, address).await?;
    Engine::with_context(settings, async |state| {
        let mut config = state.config().clone().upgrade_for_ballista();
        // The client polls for its job's status, and so knows the job's id
        // from its submission on: what cancelling it needs.
        config
            .options_mut()
            .set(ballista_core::config::BALLISTA_CLIENT_PULL, "true")?;
        // Ballista 55's adaptive planner loses a job whose executor dies
        // mid-stage ("Can't find active stage to update stage outputs")
        // and the client waits forever; the static planner re-runs the
        // lost tasks (tests/cluster.rs, a killed executor).
        config.options_mut().set(
            ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
            "false",
        )?;
        let config = config
            .with_ballista_grpc_client_max_message_size(crate::MAX_MESSAGE_BYTES as usize)
            .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::sender()))
            .with_ballista_query_planner(Arc::new(ClusterPlanner {
                scheduler_url: scheduler_url(address),
            }));
        let state = SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .build();
        SessionContext::remote_with_state(url, state).await
    })
    .await
}

/// The scheduler's address as Ballista's planner wants it.
fn scheduler_url(address: &str) -> String {
    format!("http://{address}")
}

/// How long the client waits for the scheduler to answer.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Fails fast, naming the address, when nothing listens there.
async fn check_reachable(url: &str, address: &str) -> Result<()> {
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(DataFusionError::Execution(format!(
            "cluster '{url}': no scheduler answers at {address} ({e}): start one with \
             `wasql scheduler --bind {address}`"
        ))),
        Err(_) => Err(DataFusionError::Execution(format!(
            "cluster '{url}': no answer from {address} within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Plans statements for the cluster: Ballista's planner, given plans whose
/// table names and empty relations survive the trip ([`names::portable`],
/// [`empty::portable`]) and whose shuffle keys call no WASM function
/// ([`keys::without_wasm_keys`]), and whose `COPY` carries its options
/// ([`copy::portable`]). Introspection (the
/// `wasql` schema, `information_schema`) is answered by the client itself:
/// it describes the client's session.
#[derive(Debug)]
struct ClusterPlanner {
    scheduler_url: String,
}

#[async_trait::async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if wasql_engine::reads_only_system_tables(logical_plan) {
            return wasql_engine::query_planner()
                .create_physical_plan(logical_plan, session_state)
                .await;
        }
        let plan = copy::portable(logical_plan.clone(), session_state)?;
        let plan = keys::without_wasm_keys(plan)?;
        let plan = names::portable(empty::portable(plan)?)?;
        let config = session_state.config();
        let job = BallistaQueryPlanner::<LogicalPlanNode>::with_extension(
            self.scheduler_url.clone(),
            config.ballista_config(),
            config.ballista_logical_extension_codec(),
        )
        .create_physical_plan(&plan, session_state)
        .await?;
        Ok(CancelOnDrop::wrap(job, &self.scheduler_url))
    }
}
