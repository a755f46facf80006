//! A job stopped by its client stops on the cluster.
//!
//! Ballista's client leaves a job running when its caller stops reading
//! (Ctrl-C, `--timeout`, a failed script): the executors go on with its
//! tasks. [`CancelOnDrop`] wraps the client's plan and, when its stream is
//! dropped before the end, asks the scheduler to cancel the job. A job that
//! fails reports the cause its task met ([`job_error::cause`]).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::CancelJobParams;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion_proto::protobuf::LogicalPlanNode;
use futures::Stream;

use crate::job_error;

/// The client's side of a job: `inner` runs it; a stream dropped before
/// its end cancels it.
#[derive(Debug)]
pub struct CancelOnDrop {
    inner: Arc<dyn ExecutionPlan>,
    scheduler_url: String,
}

impl CancelOnDrop {
    /// `plan`, cancelled on the scheduler at `scheduler_url` when dropped
    /// early, if it is a job (Ballista's distributed query); else `plan`.
    pub fn wrap(plan: Arc<dyn ExecutionPlan>, scheduler_url: &str) -> Arc<dyn ExecutionPlan> {
        if plan
            .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
            .is_none()
        {
            return plan;
        }
        Arc::new(CancelOnDrop {
            inner: plan,
            scheduler_url: scheduler_url.to_string(),
        })
    }
}

impl DisplayAs for CancelOnDrop {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.fmt_as(t, f)
    }
}

impl ExecutionPlan for CancelOnDrop {
    fn name(&self) -> &str {
        "CancelOnDrop"
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(CancelOnDrop {
            inner: children.remove(0),
            scheduler_url: self.scheduler_url.clone(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let stream = self.inner.execute(partition, context)?;
        Ok(Box::pin(Guarded {
            stream,
            job: Arc::clone(&self.inner),
            scheduler_url: self.scheduler_url.clone(),
            finished: false,
        }))
    }
}

/// The job's rows; dropped unfinished, it cancels the job.
struct Guarded {
    stream: SendableRecordBatchStream,
    job: Arc<dyn ExecutionPlan>,
    scheduler_url: String,
    finished: bool,
}

impl Stream for Guarded {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.stream.as_mut().poll_next(cx);
        match next {
            Poll::Ready(None) => self.finished = true,
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                return Poll::Ready(Some(Err(job_error::cause(e))));
            }
            _ => {}
        }
        next
    }
}

impl RecordBatchStream for Guarded {
    fn schema(&self) -> SchemaRef {
        self.stream.schema()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let job_id = self
            .job
            .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
            .and_then(|job| job.job_id());
        let Some(job_id) = job_id else {
            return;
        };
        // On a thread of its own, waited for: the client may be about to
        // exit (a failed script), and its runtime with it.
        let url = self.scheduler_url.clone();
        let cancel = std::thread::spawn(move || cancel_job(url, job_id.to_string()));
        let _ = cancel.join();
    }
}

/// The longest a cancellation waits for the scheduler.
const CANCEL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks the scheduler at `url` to cancel `job_id`; failures are logged.
fn cancel_job(url: String, job_id: String) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async move {
        let cancel = async {
            let mut scheduler = SchedulerGrpcClient::connect(url).await?;
            scheduler.cancel_job(CancelJobParams { job_id }).await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        };
        match tokio::time::timeout(CANCEL_TIMEOUT, cancel).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("cancelling the job: {e}"),
            Err(_) => log::warn!("cancelling the job: no answer from the scheduler"),
        }
    });
}
