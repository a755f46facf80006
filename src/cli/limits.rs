//! Time limits: per statement (`--timeout`, `timeout` in the config,
//! `\timeout`) and for a whole run of scripts (`--max-run-time`). A statement
//! past its limit is dropped mid-stream, the way Ctrl-C cancels it, and the
//! error names the limit and where it was set.

use std::future::Future;
use std::time::{Duration, Instant};

use wasql_engine::config::Seconds;

/// A time limit and the setting it came from, e.g. `--timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub duration: Duration,
    /// Where the limit was set, as the user would write it.
    pub origin: &'static str,
}

impl Limit {
    /// `seconds` as a limit set by `origin`; zero, negative and non-finite
    /// values are refused, naming `origin`.
    pub fn new(seconds: f64, origin: &'static str) -> Result<Limit, String> {
        Seconds::from(seconds)
            .positive(origin)
            .map(|duration| Limit { duration, origin })
            .map_err(|e| e.to_string())
    }

    /// The limit in seconds, as people write it (`2 s`, `0.5 s`).
    pub fn seconds(&self) -> String {
        format!("{} s", self.duration.as_secs_f64())
    }
}

/// A whole run's limit and when it ends.
#[derive(Debug, Clone, Copy)]
pub struct RunLimit {
    limit: Limit,
    ends: Instant,
}

impl RunLimit {
    /// Starts the clock on `limit`.
    pub fn start(limit: Limit) -> RunLimit {
        RunLimit {
            limit,
            ends: Instant::now() + limit.duration,
        }
    }

    /// True once the run's time is up.
    pub fn is_over(&self) -> bool {
        Instant::now() >= self.ends
    }

    /// The error that stops the run.
    pub fn message(&self) -> String {
        format!(
            "run stopped after {} ({})",
            self.limit.seconds(),
            self.limit.origin
        )
    }
}

/// How a limited statement ended early.
#[derive(Debug, PartialEq, Eq)]
pub enum Expired {
    /// The statement's own limit: the message says which.
    Statement(String),
    /// The run's limit: the run stops; the message says which.
    Run(String),
}

/// Runs `work` within the statement's `timeout` and what is left of the
/// `run`; dropping `work` at the limit cancels the statement.
pub async fn within<T>(
    timeout: Option<Limit>,
    run: Option<RunLimit>,
    work: impl Future<Output = T>,
) -> Result<T, Expired> {
    let statement = timeout.map(|limit| {
        let message = format!(
            "statement timed out after {} ({})",
            limit.seconds(),
            limit.origin
        );
        (Instant::now() + limit.duration, Expired::Statement(message))
    });
    let run = run.map(|run| (run.ends, Expired::Run(run.message())));
    let first = match (statement, run) {
        (Some(statement), Some(run)) => Some(if statement.0 < run.0 { statement } else { run }),
        (statement, run) => statement.or(run),
    };
    let Some((ends, expired)) = first else {
        return Ok(work.await);
    };
    if Instant::now() >= ends {
        return Err(expired);
    }
    tokio::time::timeout_at(ends.into(), work)
        .await
        .map_err(|_| expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_must_be_positive() {
        assert_eq!(
            Limit::new(0.0, "--timeout").unwrap_err(),
            "--timeout must be a positive number of seconds, not 0"
        );
        assert!(Limit::new(-1.0, "--timeout").is_err());
        assert!(Limit::new(f64::NAN, "--timeout").is_err());
        assert_eq!(Limit::new(2.0, "--timeout").unwrap().seconds(), "2 s");
        assert_eq!(Limit::new(0.5, "--timeout").unwrap().seconds(), "0.5 s");
    }
}
