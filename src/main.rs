//! Parses the command line, runs it, and maps the outcome to the exit code contract:
//! 0 all safe / done, 1 blocked or unknown / refused, 2 could not do the job.

use grantguard::cli::Cli;
use grantguard::Outcome;
use std::process::ExitCode;

/// mimalloc: an audit of a large account is millions of small allocations (identities,
/// messages, paths), which it serves about a fifth faster than the system allocator, and
/// from per-thread heaps without contention when grants are judged on several cores.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `include/mimalloc.h` (the bindings do not name it;
/// Cargo.lock pins the version).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Return freed memory to the system at once rather than after a second: the snapshot's
    // text is freed as the audit builds its report, and peak memory is one of our promises.
    // SAFETY: sets a process-wide integer option; no allocation or pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    let cli = match Cli::try_parse_checked() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    // Only with `--features failpoints`: the crash points named in FAILPOINTS.
    let _failpoints = grantguard::failpoints::setup();
    match grantguard::run(cli) {
        Ok(Outcome::Clear) => ExitCode::SUCCESS,
        Ok(Outcome::Held) => ExitCode::from(1),
        // `grantguard audit | head -1`: the reader has all it wanted. End quietly, with the
        // status a process killed by SIGPIPE reports, as other Unix tools do.
        Err(error) if is_closed_pipe(&error) => ExitCode::from(128 + 13),
        Err(error) => {
            eprintln!("{:?}", miette::Report::new(error));
            ExitCode::from(2)
        }
    }
}

/// Whether `error` (or anything in its chain of causes) is a write to a closed pipe.
fn is_closed_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        current = e.source();
    }
    false
}
