//! Ctrl-C (SIGINT) for `scan` and `remove` (docs/fault-model.md A14). In: the signal, once [`install`]
//! has run inside the command's runtime. Out: outside a critical section the process exits 130
//! at once (a scan then writes no snapshot: the snapshot is only ever written whole, at the
//! end); inside one (a removal between its `pending` record and its outcome) the interrupt is
//! noted and the process exits 130 only when the section ends, so the call already sent gets
//! its answer or timeout and its outcome journaled. It must never exit between a removal's
//! send and the journaling of its outcome.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Critical sections open now.
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
/// Whether SIGINT arrived while a critical section was open.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit code after SIGINT (128 + 2, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Handles SIGINT from now on. Call inside a Tokio runtime.
pub fn install() {
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            if CRITICAL.load(Ordering::SeqCst) == 0 {
                eprintln!("interrupted");
                std::process::exit(EXIT_INTERRUPTED);
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!(
                "interrupted: finishing the removal in flight and journaling its outcome first"
            );
        }
    });
}

/// An open critical section: while one lives, SIGINT waits for it to end.
#[must_use = "the section ends when this is dropped"]
pub struct Critical(());

impl Critical {
    /// Opens a critical section.
    pub fn enter() -> Critical {
        CRITICAL.fetch_add(1, Ordering::SeqCst);
        Critical(())
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        let open = CRITICAL.fetch_sub(1, Ordering::SeqCst) - 1;
        if open == 0 && INTERRUPTED.load(Ordering::SeqCst) {
            eprintln!("interrupted: the outcome is journaled; exiting");
            std::process::exit(EXIT_INTERRUPTED);
        }
    }
}
