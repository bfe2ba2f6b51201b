//! A result written to the path a user named with `--output`. In: the path and what to write.
//! Out: the file, whole and on disk before the command exits when it is a regular file, so a
//! pipeline step that reads it next finds all of it. `/dev/null` and a FIFO (`-o >(jq …)`) get
//! the same bytes without the fsync, which they refuse with EINVAL.

use std::io::{self, Write};
use std::path::Path;

/// Creates (or truncates) `path`, writes through `write` into a large buffer, flushes, and
/// fsyncs when `path` is a regular file.
pub fn write_to(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = Flushing::new(std::fs::File::create(path)?);
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out)?;
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?.file;
    if file.metadata()?.is_file() {
        file.sync_all()?;
    }
    Ok(())
}

/// How much is written before the kernel is asked to start writing it to disk.
#[cfg(target_os = "linux")]
const WRITEBACK_EVERY: u64 = 8 << 20;

/// A file whose written bytes the kernel starts writing to disk every few megabytes, while
/// the rest is still being produced, so the closing fsync waits only for the last stretch: a
/// large JSON report is 179 MB, and its fsync alone took 60 ms.
struct Flushing {
    file: std::fs::File,
    written: u64,
    /// Where the stretch not yet handed to the kernel begins (only Linux has the call).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    started: u64,
}

impl Flushing {
    fn new(file: std::fs::File) -> Self {
        Self {
            file,
            written: 0,
            started: 0,
        }
    }
}

impl Write for Flushing {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.file.write(bytes)?;
        self.written += n as u64;
        #[cfg(target_os = "linux")]
        if self.written - self.started >= WRITEBACK_EVERY {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid descriptor and a range of it; the call only starts writeback
            // (it neither waits nor changes the file). It fails on what is not a regular
            // file, which is then simply written without it.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    self.started as libc::off64_t,
                    (self.written - self.started) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
