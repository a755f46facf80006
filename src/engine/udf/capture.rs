//! Captured guest stdout/stderr: the last [`CAPTURE_BYTES`] bytes of each,
//! shared by all instances of a module, shown with errors and by `\udf log`.
//! Writes never fail, so a chatty guest never breaks because of its output.

use std::sync::{Arc, Mutex};

/// How much of each stream is kept.
pub const CAPTURE_BYTES: usize = 64 * 1024;

/// A bounded buffer keeping the most recent output.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    inner: Arc<Mutex<Stream>>,
}

#[derive(Debug, Default)]
struct Stream {
    /// The most recent bytes.
    kept: Vec<u8>,
    /// Bytes written since the start.
    written: u64,
}

impl Captured {
    fn lock(&self) -> std::sync::MutexGuard<'_, Stream> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends output, dropping the oldest beyond the bound.
    pub fn push(&self, bytes: &[u8]) {
        let mut stream = self.lock();
        stream.written += bytes.len() as u64;
        stream.kept.extend_from_slice(bytes);
        if stream.kept.len() > CAPTURE_BYTES {
            let excess = stream.kept.len() - CAPTURE_BYTES;
            stream.kept.drain(..excess);
        }
    }

    /// Everything kept, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock().kept).into_owned()
    }

    /// How many bytes have been written so far: a mark for [`Self::tail_since`].
    pub fn position(&self) -> u64 {
        self.lock().written
    }

    /// The last `lines` lines written after `position`, for error messages.
    pub fn tail_since(&self, position: u64, lines: usize) -> String {
        let stream = self.lock();
        let new = usize::try_from(stream.written.saturating_sub(position))
            .unwrap_or(usize::MAX)
            .min(stream.kept.len());
        let text = String::from_utf8_lossy(&stream.kept[stream.kept.len() - new..]);
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
        assert_eq!(captured.tail_since(0, 2), "line 19998\nline 19999");
        let mark = captured.position();
        assert_eq!(captured.tail_since(mark, 2), "", "nothing new");
        captured.push(b"panicked at x\n");
        assert_eq!(captured.tail_since(mark, 2), "panicked at x");
    }
}
