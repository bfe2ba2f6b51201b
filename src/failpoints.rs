//! Named crash points for the crash tests (docs/fault-model.md R8 K1–K5, R12's forced panic). In: the
//! `FAILPOINTS` environment variable, read once at start-up, e.g.
//! `FAILPOINTS=remove::before_journal=return`. Out: at a point configured `return`, the process
//! aborts on the spot, as if killed; `panic`, `sleep(ms)` and `pause` do what the `fail` crate
//! says. Without the `failpoints` cargo feature every point compiles to nothing: a normal
//! build never reads `FAILPOINTS` and can never crash here.

/// Points in the removal, in the order a removal passes them.
pub mod names {
    /// K1: the removal is decided, the `pending` record not yet written.
    pub const BEFORE_JOURNAL: &str = "remove::before_journal";
    /// K2: the `pending` record is fsync'd, nothing sent yet.
    pub const AFTER_JOURNAL_FSYNC: &str = "remove::after_journal_fsync";
    /// K3/K4/K5: the service answered (or the call failed, e.g. its connection dropped), the
    /// outcome not yet journaled.
    pub const AFTER_RESPONSE: &str = "remove::after_response";
    /// A journal record's write fails as on a full disk (`ENOSPC`), nothing written.
    pub const JOURNAL_WRITE: &str = "journal::write";
    /// A journal record is written but its fsync fails (`EIO`), as a failing disk does.
    pub const JOURNAL_FSYNC: &str = "journal::fsync";
}

/// Keeps the `FAILPOINTS` configuration alive for the run; drop it at exit.
#[cfg(feature = "failpoints")]
pub struct Scenario(#[allow(dead_code)] fail::FailScenario<'static>);

/// Keeps the `FAILPOINTS` configuration alive for the run (nothing without the feature).
#[cfg(not(feature = "failpoints"))]
pub struct Scenario;

/// Reads `FAILPOINTS` (only with the `failpoints` feature).
pub fn setup() -> Scenario {
    #[cfg(feature = "failpoints")]
    {
        Scenario(fail::FailScenario::setup())
    }
    #[cfg(not(feature = "failpoints"))]
    {
        Scenario
    }
}

/// Passes the point `name`: aborts the process when it is configured `return`. A configured
/// point first says so on stderr (`failpoint NAME reached`), so a crash test can send SIGKILL
/// to a process that is `pause`d there, knowing exactly where it stands.
#[cfg(feature = "failpoints")]
pub fn point(name: &str) {
    if fail::list()
        .iter()
        .any(|(configured, _)| configured == name)
    {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "failpoint {name} reached");
        let _ = err.flush();
    }
    if fail::eval(name, |_| ()).is_some() {
        // A crash, not an exit: no destructor, no flush, no outcome written.
        std::process::abort();
    }
}

/// An I/O point: when `name` is configured `return`, the I/O step it stands for fails with
/// `errno` instead of running (the journal's write and fsync, so a test reaches the code that
/// handles a full or failing disk without needing one). Says so on stderr like [`point`].
#[cfg(feature = "failpoints")]
pub fn io_point(name: &str, errno: i32) -> std::io::Result<()> {
    match fail::eval(name, |_| ()) {
        Some(()) => {
            eprintln!("failpoint {name} reached");
            Err(std::io::Error::from_raw_os_error(errno))
        }
        None => Ok(()),
    }
}

/// An I/O point (always `Ok` without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn io_point(_name: &str, _errno: i32) -> std::io::Result<()> {
    Ok(())
}

/// Passes the point `name` (nothing without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn point(_name: &str) {}
