//! The `kafka-harness` binary: parses the command line and maps outcomes to exit codes.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
