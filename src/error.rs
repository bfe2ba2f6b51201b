//! `Error`: the tool could not do its job (exit 2). Findings and gaps are not errors; they
//! are data in the report. Every stage returns its own error type; this enum only gathers
//! them so `main.rs` can render one miette diagnostic.

use std::path::PathBuf;

/// Why grantguard could not do what was asked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// No credentials, or a profile that cannot be used.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
    /// An endpoint that is not allowed (plain HTTP off loopback, …).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Endpoint(#[from] crate::client::EndpointError),
    /// The client could not be built, or a call that had to succeed failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Call(#[from] Box<crate::client::CallError>),
    /// The walk could not list anything, or was stopped by the service.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Walk(#[from] crate::inventory::walk::WalkError),
    /// A snapshot could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Snapshot(#[from] crate::inventory::snapshot::SnapshotError),
    /// A `--terraform` input cannot be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Terraform(#[from] crate::terraform::TerraformError),
    /// The configuration file is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The emulator behind `demo` and `sim serve` refused its fixture or could not start.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Emulator(#[from] EmulatorError),
    /// No region from the flag, the environment or the profile.
    #[error("no region given")]
    #[diagnostic(
        code(grantguard::region::missing),
        help("pass --region ID (e.g. --region cn-hangzhou) or set ALIBABA_CLOUD_REGION_ID")
    )]
    MissingRegion,
    /// `rules explain` of an id that is not in the catalog.
    #[error("no rule {id:?} in the catalog")]
    #[diagnostic(code(grantguard::rules::unknown), help("known rules: {known}"))]
    UnknownRule {
        /// What was asked for.
        id: String,
        /// The catalog's ids.
        known: String,
    },
    /// An output file could not be written, or stdout was closed.
    #[error("cannot write {what}")]
    #[diagnostic(code(grantguard::output))]
    Output {
        /// The file, or "standard output".
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `--region` names another region than the snapshot given with `--inventory`.
    #[error("{path} is a snapshot of region {snapshot}, not of --region {given}")]
    #[diagnostic(
        code(grantguard::snapshot::region),
        help("leave --region out to audit the snapshot's own region, or take a snapshot of {given} with `grantguard --region {given} scan --output FILE`")
    )]
    SnapshotRegion {
        /// The snapshot file.
        path: String,
        /// Its region.
        snapshot: String,
        /// The region given with --region.
        given: String,
    },
    /// `sim serve --listen` names an address beyond loopback without saying so.
    #[error("sim serve would listen on {addr}, which other machines can reach")]
    #[diagnostic(
        code(grantguard::sim::listen),
        help("listen on 127.0.0.1 or [::1], or pass --listen-beyond-loopback if this is what you want")
    )]
    ListenBeyondLoopback {
        /// The address.
        addr: std::net::SocketAddr,
    },
    /// `--output` names a path that cannot be written; found before any call is made.
    #[error("cannot write --output {path}: {reason}")]
    #[diagnostic(
        code(grantguard::output::unusable),
        help("choose another --output path; nothing was read from the account yet")
    )]
    OutputUnusable {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A sim fault rule given on the command line does not parse.
    #[error("invalid --{flag} rule {rule:?}: {message}")]
    #[diagnostic(
        code(grantguard::sim::rule),
        help("write ACTION[:ID]=VALUE, e.g. DescribeApis:GROUP_ID=Forbidden.RAM")
    )]
    FaultRule {
        /// The flag without its dashes: `fail`, `corrupt`, `hang`, …
        flag: &'static str,
        /// The rule as given.
        rule: String,
        /// Why it does not parse.
        message: String,
    },
    /// A removal, restore or journal command could not do its job.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Removal(#[from] crate::removal::RemovalError),
    /// `--region` named several regions where one is needed, or `all` could not be expanded.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Regions(#[from] crate::regions::RegionsError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    #[diagnostic(code(grantguard::runtime))]
    Runtime(#[source] std::io::Error),
}

impl Error {
    /// An output error for `path` (or stdout when `None`).
    pub fn output(path: Option<&PathBuf>, source: std::io::Error) -> Error {
        let what = path.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
        Error::Output { what, source }
    }
}

/// An error of the emulator (`demo`, `sim serve`), kept as its diagnostic: the tool's error
/// type names no type of the emulator's crate, which stays behind those two commands.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct EmulatorError(Box<dyn miette::Diagnostic + Send + Sync + 'static>);

impl EmulatorError {
    /// Wraps any of the emulator's diagnostics.
    pub fn new(error: impl miette::Diagnostic + Send + Sync + 'static) -> EmulatorError {
        EmulatorError(Box::new(error))
    }
}

impl miette::Diagnostic for EmulatorError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.0.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.0.diagnostic_source()
    }
}
