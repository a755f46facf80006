//! The `wasql` binary: runs [`wasql::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
    wasql::main()
}
