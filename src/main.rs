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
    // Return freed memory to the system after 10 ms (mimalloc's own arenas wait ten times
    // that) rather than at once or after a second: a JSON report's findings are freed as they
    // are written and the next ones reuse the pages at once, while memory nobody reuses goes
    // back before the audit's peak. At 0 every freed page was faulted in afresh (a fifth of the
    // offline audit's time went to the kernel); at mimalloc's default the peak was 30 MB higher.
    // SAFETY: sets a process-wide integer option; no allocation or pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    // No transparent huge pages: the kernel backs each fresh 2 MiB region mimalloc touches
    // with a whole zeroed huge page, so an offline audit of a large account held about 40 MB
    // more than it used; peak memory is one of our promises (docs/performance.md). mimalloc's
    // own switch is read before `main`; this is the same switch one level down.
    // SAFETY: prctl with integer arguments only; it changes how the kernel backs our memory.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
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
