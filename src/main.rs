use std::process::ExitCode;

fn main() -> ExitCode {
    wasql::cli::main()
}
