//! Captured guest stdout/stderr: the last [`CAPTURE_BYTES`] bytes of each,
//! shared by all instances of a module, shown with errors and by `\udf log`.
//! Writes never fail, so a chatty guest never breaks because of its output.

use std::sync::{Arc, Mutex};

/// How much of each stream is kept.
pub const CAPTURE_BYTES: usize = 64 * 1024;

/// A bounded buffer keeping the most recent output.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// Appends output, dropping the oldest beyond the bound.
    pub fn push(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.extend_from_slice(bytes);
        if buffer.len() > CAPTURE_BYTES {
            let excess = buffer.len() - CAPTURE_BYTES;
            buffer.drain(..excess);
        }
    }

    /// Everything kept, as text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// The last `lines` lines, for error messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = self.text();
        let kept: Vec<&str> = text.lines().rev().take(lines).collect();
        kept.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_most_recent_bytes() {
        let captured = Captured::default();
        for i in 0..20_000 {
            captured.push(format!("line {i}\n").as_bytes());
        }
        let text = captured.text();
        assert!(text.len() <= CAPTURE_BYTES);
        assert!(text.ends_with("line 19999\n"));
        assert_eq!(captured.tail(2), "line 19998\nline 19999");
    }
}
