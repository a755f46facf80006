//! A progress line on the terminal for queries that run longer than a second:
//! elapsed time, rows read and bytes scanned, read from the running plan's
//! metrics.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::physical_plan::ExecutionPlan;

/// How long a query runs before progress appears.
const DELAY: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(250);

#[derive(Default)]
struct LineState {
    stopped: bool,
    visible: bool,
}

/// Shows progress on stderr until stopped or dropped.
pub struct Progress {
    state: Arc<Mutex<LineState>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing progress for `plan` after [`DELAY`] if `enabled`.
    pub fn start(plan: Arc<dyn ExecutionPlan>, enabled: bool) -> Progress {
        let state = Arc::new(Mutex::new(LineState::default()));
        let task = enabled.then(|| {
            let state = Arc::clone(&state);
            let started = Instant::now();
            tokio::spawn(async move {
                tokio::time::sleep(DELAY).await;
                loop {
                    let (rows, bytes) = totals(plan.as_ref());
                    {
                        let mut line = state.lock().unwrap_or_else(|e| e.into_inner());
                        if line.stopped {
                            return;
                        }
                        let mut stderr = std::io::stderr().lock();
                        let _ = write!(
                            stderr,
                            "\r\x1b[2K{:.1} s · {} rows read · {} scanned",
                            started.elapsed().as_secs_f64(),
                            rows,
                            human_bytes(bytes)
                        );
                        let _ = stderr.flush();
                        line.visible = true;
                    }
                    tokio::time::sleep(TICK).await;
                }
            })
        });
        Progress { state, task }
    }

    /// Removes the progress line for good, e.g. before results print on the
    /// same terminal.
    pub fn stop(&self) {
        let mut line = self.state.lock().unwrap_or_else(|e| e.into_inner());
        line.stopped = true;
        if line.visible {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
            line.visible = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Rows produced by the plan's leaves (the scans) and bytes scanned.
fn totals(plan: &dyn ExecutionPlan) -> (usize, usize) {
    let metrics = plan.metrics();
    let bytes = metrics
        .as_ref()
        .and_then(|m| m.sum_by_name("bytes_scanned"))
        .map_or(0, |v| v.as_usize());
    let children = plan.children();
    if children.is_empty() {
        let rows = metrics.and_then(|m| m.output_rows()).unwrap_or(0);
        return (rows, bytes);
    }
    children.iter().fold((0, bytes), |(rows, bytes), child| {
        let (r, b) = totals(child.as_ref());
        (rows + r, bytes + b)
    })
}

/// `1536` -> `1.5 KiB`.
pub fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_are_readable() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
