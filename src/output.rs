//! Where a command's text goes and how it looks: the log subscriber on stderr, the progress
//! spinner, colour, and writing a result to a file or stdout. In: the output flags. Out:
//! bytes on stdout, stderr or in a file. It never decides what a result says, only where it
//! lands.

use crate::cli::{ColorChoice, OutputArgs, ReportFormat};
use crate::report::{Format, RenderOptions};
use crate::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Installs the log subscriber on stderr: `-q` errors only, then warn, info, debug, trace per
/// `-v`; `RUST_LOG` wins when set.
pub fn init_logging(output: &OutputArgs) {
    let default = match (output.quiet, output.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("grantguard={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

/// A spinner counting calls on stderr, only for people watching a terminal.
pub fn progress(output: &OutputArgs, what: &str) -> Option<ProgressBar> {
    if output.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {pos} calls, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// The width a report for people wraps at: the terminal's when stdout is one; `None` (one
/// line per paragraph) for a pipe or a file, where a reader's tools want whole lines.
pub fn report_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(&stdout).map(|(terminal_size::Width(w), _)| usize::from(w))
}

/// How to render a report for people: colour and the terminal's width when it goes to stdout,
/// neither when it goes to a file.
pub fn render_options(color: ColorChoice, to_stdout: bool) -> RenderOptions {
    RenderOptions {
        color: to_stdout && use_color(color),
        width: report_width().filter(|_| to_stdout),
        ..RenderOptions::default()
    }
}

/// Whether stdout gets colour: `auto` means a terminal without NO_COLOR.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

/// The renderer's format for `--format`.
pub fn format_of(format: ReportFormat) -> Format {
    match format {
        ReportFormat::Human => Format::Human,
        ReportFormat::Json => Format::Json,
        ReportFormat::Sarif => Format::Sarif,
    }
}

/// Writes through `write` to `path` ([`crate::result_file`]), or to stdout.
pub fn emit(
    path: Option<&PathBuf>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let result = match path {
        Some(path) => crate::result_file::write_to(path, write),
        None => {
            let mut out = std::io::stdout().lock();
            write(&mut out).and_then(|()| out.flush())
        }
    };
    result.map_err(|source| Error::output(path, source))
}

/// Checks, before any work starts, that `path` can be written as an `--output` file: it is
/// not a folder, its folder exists and takes a new file, and an existing file opens for
/// writing. A typo found here costs nothing; found after a walk, it costs the walk.
pub fn check_writable(path: &std::path::Path) -> Result<(), Error> {
    let unusable = |reason: String| Error::OutputUnusable {
        path: path.display().to_string(),
        reason,
    };
    if path.is_dir() {
        return Err(unusable("it is a folder".into()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(unusable(format!(
            "the folder {} does not exist",
            dir.display()
        )));
    }
    if let Ok(metadata) = std::fs::metadata(path) {
        if !metadata.is_file() {
            // A FIFO or a device is opened once, to write the result: a probe would hand a
            // FIFO's reader an empty stream, and then leave the real write waiting for
            // a reader that has gone.
            return Ok(());
        }
        return std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|e| unusable(e.to_string()));
    }
    let probe = dir.join(format!(".grantguard-output-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(unusable(format!(
            "no file can be created in {}: {e}",
            dir.display()
        ))),
    }
}
