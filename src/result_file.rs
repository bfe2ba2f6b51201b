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
    let file = std::fs::File::create(path)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out)?;
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    if file.metadata()?.is_file() {
        file.sync_all()?;
    }
    Ok(())
}
