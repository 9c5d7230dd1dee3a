//! The `kafka-harness` binary: parses the command line and maps outcomes to exit codes.

mod cli;

use std::process::ExitCode;

/// mimalloc, not glibc's malloc: a send's small allocations are made on the sending thread
/// and freed on the client's delivery thread, which glibc's arenas pay for in consolidation
/// (about 15 % of the sending thread's time at 100 B records). The crate's `override`
/// feature makes it librdkafka's `malloc` too: a send's message and stamp header (four C
/// allocations) cost glibc's `_int_malloc` 5 % of the sending thread and `_int_free` most
/// of the delivery thread.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
