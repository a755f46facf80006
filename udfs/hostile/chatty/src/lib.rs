//! Hostile-ish: `chatty(BIGINT) -> BIGINT` writes to stdout and stderr (which
//! the host captures), then returns its argument.

use std::io::Write;
use wasql_udf::udf;

/// Prints a line per row to stdout and to stderr, returns x.
#[udf(volatility = "volatile")]
pub fn chatty(x: i64) -> i64 {
    println!("chatty stdout: {x}");
    eprintln!("chatty stderr: {x}");
    let _ = std::io::stdout().flush();
    x
}
