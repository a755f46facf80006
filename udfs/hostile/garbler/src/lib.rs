//! Hostile: text meant to take over the terminal that shows it. Every
//! function writes or fails with escape sequences (window title, clear
//! screen, colours), NUL, BEL, DEL and C1 controls, which the host must show
//! escaped:
//!
//! * `garble_error(BIGINT) -> BIGINT` fails with such a message;
//! * `garble_long(BIGINT) -> BIGINT` fails with a 64 KiB message, which the
//!   host must cut;
//! * `garble_output(BIGINT) -> BIGINT` writes such lines to stdout and
//!   stderr, then panics with such a message, followed by 4 KiB of "reverse
//!   video" escapes on the same line.

use std::io::Write;
use wasql_udf::udf;

/// Window title, clear screen, NUL, C1 CSI, DEL, BEL and line breaks.
const NASTY: &str =
    "title\x1b]0;pwned\x07 clear\x1b[2J nul\0 csi\u{9b}31m del\x7f bell\x07 nl\n cr\r tab\t end";

/// Fails with [`NASTY`] in its message.
#[udf(volatility = "volatile")]
pub fn garble_error(x: i64) -> Result<i64, String> {
    Err(format!("garbled {x}: {NASTY}"))
}

/// Fails with a 64 KiB message: `long:`, then `é` and ESC over and over,
/// then `THE END`.
#[udf(volatility = "volatile")]
pub fn garble_long(x: i64) -> Result<i64, String> {
    let mut message = format!("long {x}:");
    while message.len() < 64 * 1024 - 16 {
        message.push_str("é\x1b");
    }
    message.push_str("THE END");
    Err(message)
}

/// Writes [`NASTY`] to stdout and stderr, then panics with [`NASTY`] and a
/// 4 KiB run of escapes.
#[udf(volatility = "volatile")]
pub fn garble_output(x: i64) -> i64 {
    println!("stdout {x}: {NASTY}");
    eprintln!("stderr {x}: {NASTY}");
    let _ = std::io::stdout().flush();
    panic!("panic {x}: {NASTY}{}", "\x1b[7m".repeat(1024));
}
