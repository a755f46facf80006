use std::process::ExitCode;

fn main() -> ExitCode {
    wasql::main()
}
