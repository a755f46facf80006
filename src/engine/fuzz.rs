//! Settings shared by the property tests that fuzz wasql's boundaries (the
//! guest-result validator, module inspection and description parsing, the
//! statement splitter): one place decides how many cases each runs, and
//! one byte mutator serves every parser fuzzed with mutated inputs.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;

/// A proptest configuration running `default` cases, or `WASQL_FUZZ_CASES`
/// cases when that is set (for long runs). Failures are not persisted to
/// files: a failure found becomes a plain regression test instead.
pub fn config(default: u32) -> Config {
    let cases = match std::env::var("WASQL_FUZZ_CASES") {
        Ok(cases) => cases
            .parse()
            .unwrap_or_else(|_| panic!("WASQL_FUZZ_CASES={cases:?} is not a number of cases")),
        Err(_) => default,
    };
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One edit of a byte string; positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    /// Flips bit `bit % 8` of byte `at`.
    Flip { at: usize, bit: u8 },
    /// Inserts `bytes` before byte `at`.
    Insert { at: usize, bytes: Vec<u8> },
    /// Deletes up to `len` bytes from `at`.
    Delete { at: usize, len: usize },
    /// Inserts a copy of up to `len` bytes from `at` right after them.
    Repeat { at: usize, len: usize },
}

impl Edit {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match self {
            Edit::Flip { at, bit } if len > 0 => bytes[at % len] ^= 1 << (bit % 8),
            Edit::Insert { at, bytes: new } => {
                let at = at % (len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Edit::Delete { at, len: n } if len > 0 => {
                let at = at % len;
                bytes.drain(at..len.min(at + n));
            }
            Edit::Repeat { at, len: n } if len > 0 => {
                let at = at % len;
                let copy = bytes[at..len.min(at + n)].to_vec();
                let end = at + copy.len();
                bytes.splice(end..end, copy);
            }
            _ => {}
        }
    }
}

/// Bytes that mean something to the parsers under test: JSON punctuation
/// and number characters, line ends, NUL, LEB128 continuation bytes, bytes
/// that are never valid UTF-8.
const TELLING: &[u8] = b"{}[]\":,\\ \n\r\t0123456789-+.eE\0\x7f\x80\xbf\xc3\xe2\xf0\xff";

/// `seed` after 1 to 7 random edits.
pub fn mutated(seed: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let inserted = prop_oneof![
        3 => vec(select(TELLING), 1..4),
        1 => vec(any::<u8>(), 1..8),
    ];
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (any::<usize>(), inserted).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 1usize..32).prop_map(|(at, len)| Edit::Repeat { at, len }),
    ];
    (seed, vec(edit, 1..8)).prop_map(|(mut bytes, edits)| {
        for edit in &edits {
            edit.apply(&mut bytes);
        }
        bytes
    })
}
