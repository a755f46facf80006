//! A progress line on the terminal for queries that run longer than a second:
//! elapsed time, rows read and bytes scanned, read from the running plan's
//! metrics; with percent done and time left when the scans know their row
//! counts (Parquet metadata). It is never drawn over keys typed ahead: see
//! [`TypeAhead`].

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

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
    /// Restores the terminal's line mode when dropped.
    _typeahead: Option<TypeAhead>,
}

impl Progress {
    /// Starts showing progress for `plan` after [`DELAY`] if `enabled`.
    pub fn start(plan: Arc<dyn ExecutionPlan>, enabled: bool) -> Progress {
        let state = Arc::new(Mutex::new(LineState::default()));
        let typeahead = enabled.then(TypeAhead::watch).flatten();
        let watching = typeahead.is_some();
        let task = enabled.then(|| {
            let state = Arc::clone(&state);
            let started = Instant::now();
            tokio::spawn(async move {
                tokio::time::sleep(DELAY).await;
                let expected = expected_rows(plan.as_ref());
                loop {
                    let (rows, bytes) = totals(plan.as_ref());
                    {
                        let mut line = state.lock().unwrap_or_else(|e| e.into_inner());
                        if line.stopped {
                            return;
                        }
                        let mut stderr = std::io::stderr().lock();
                        if watching && TypeAhead::pending() {
                            // Leave what was typed where it is echoed, and
                            // let results start on a line of their own.
                            if line.visible {
                                let _ = writeln!(stderr);
                            }
                            line.stopped = true;
                            line.visible = false;
                            return;
                        }
                        let elapsed = started.elapsed();
                        let _ = write!(
                            stderr,
                            "\r\x1b[2K{:.1} s · {} rows read{} · {} scanned",
                            elapsed.as_secs_f64(),
                            rows,
                            expected
                                .map_or(String::new(), |total| done_and_left(rows, total, elapsed)),
                            human_bytes(bytes)
                        );
                        let _ = stderr.flush();
                        line.visible = true;
                    }
                    tokio::time::sleep(TICK).await;
                }
            })
        });
        Progress {
            state,
            task,
            _typeahead: typeahead,
        }
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

/// Rows the plan's leaves will read, when every leaf knows (exactly or
/// as an estimate, e.g. from Parquet metadata).
fn expected_rows(plan: &dyn ExecutionPlan) -> Option<usize> {
    let children = plan.children();
    if children.is_empty() {
        let statistics = StatisticsContext::new()
            .compute(plan, &StatisticsArgs::new())
            .ok()?;
        return statistics.num_rows.get_value().copied();
    }
    children
        .iter()
        .map(|child| expected_rows(child.as_ref()))
        .sum::<Option<usize>>()
        .filter(|&total| total > 0)
}

/// ` (42%, ~3 s left)`: how far the scans are, and the time left at the
/// rate so far.
fn done_and_left(rows: usize, total: usize, elapsed: Duration) -> String {
    let fraction = (rows as f64 / total as f64).min(1.0);
    let percent = (fraction * 100.0).floor();
    if rows == 0 || fraction >= 1.0 {
        return format!(" ({percent}%)");
    }
    let left = elapsed.as_secs_f64() * (1.0 - fraction) / fraction;
    format!(" ({percent}%, ~{left:.0} s left)")
}

/// While a query runs nobody reads the terminal: keys typed ahead wait for
/// the next prompt, echoed where the cursor is. This turns off line
/// buffering (not echo, not Ctrl-C) so that the first such key is seen, and
/// puts the terminal back when dropped.
struct TypeAhead {
    saved: libc::termios,
}

impl TypeAhead {
    /// Starts watching standard input, if it is a terminal wasql has in the
    /// foreground (from the background, changing it would stop wasql).
    fn watch() -> Option<TypeAhead> {
        // SAFETY: plain queries of the process group and of fd 0.
        let foreground = unsafe { libc::tcgetpgrp(libc::STDIN_FILENO) == libc::getpgrp() };
        if !std::io::stdin().is_terminal() || !foreground {
            return None;
        }
        // SAFETY: termios is plain data, filled in by tcgetattr before use.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 is open (a terminal) and `saved` is a valid termios.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return None;
        }
        let mut raw = saved;
        raw.c_lflag &= !libc::ICANON;
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: as above; TCSANOW keeps any keys already typed.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } != 0 {
            return None;
        }
        Some(TypeAhead { saved })
    }

    /// True when a key is waiting on standard input.
    fn pending() -> bool {
        let mut fd = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, and a zero timeout: poll never blocks.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready > 0 && fd.revents & libc::POLLIN != 0
    }
}

impl Drop for TypeAhead {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `watch` on the same fd.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }
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
    use super::*;

    #[test]
    fn bytes_are_readable() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn percent_and_time_left() {
        let second = Duration::from_secs(1);
        assert_eq!(done_and_left(0, 100, second), " (0%)");
        assert_eq!(done_and_left(25, 100, second), " (25%, ~3 s left)");
        assert_eq!(done_and_left(150, 100, second), " (100%)");
    }
}
