//! Parses the command line, runs it, and maps the outcome to the exit code contract:
//! 0 all safe / done, 1 blocked or unknown / refused, 2 could not do the job.

use grantguard::cli::Cli;
use grantguard::Outcome;
use std::process::ExitCode;

fn main() -> ExitCode {
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
        Err(error) => {
            eprintln!("{:?}", miette::Report::new(error));
            ExitCode::from(2)
        }
    }
}
