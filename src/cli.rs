//! Command-line shapes (clap derive) and their conversion into domain values. No behaviour
//! lives here beyond validation: secrets have no flag, and an endpoint is checked for
//! loopback-only plain HTTP when it is parsed.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Audit who still depends on an API Gateway VPC grant before you remove it.
#[derive(Debug, Parser)]
#[command(name = "grantguard", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Account, region and endpoint, given before the subcommand (`grantguard --region ID
    /// audit`); [`Cli::try_parse_checked`] merges in those given after it.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Output and logging.
    #[command(flatten)]
    pub output: OutputArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Which flags the user gave (set by [`Cli::try_parse_checked`]; empty when the `Cli` is
    /// built another way).
    #[arg(skip)]
    pub given: Given,
}

impl Cli {
    /// Parses `std::env::args_os()` like `Cli::try_parse`, and also records which flags the
    /// user gave and how (clap's value source), for `settings` to name each value's source.
    pub fn try_parse_checked() -> Result<Cli, clap::Error> {
        Self::try_parse_checked_from(std::env::args_os())
    }

    /// [`Cli::try_parse_checked`] from the given arguments.
    pub fn try_parse_checked_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut matches = Cli::command().try_get_matches_from(args)?;
        let mut given = Given::default();
        let mut level = Some(&matches);
        while let Some(current) = level {
            for id in current.ids() {
                match current.value_source(id.as_str()) {
                    Some(clap::parser::ValueSource::CommandLine) => {
                        given.record(id.as_str(), GivenBy::CommandLine)
                    }
                    Some(clap::parser::ValueSource::EnvVariable) => {
                        given.record(id.as_str(), GivenBy::Env)
                    }
                    _ => {}
                }
            }
            level = current.subcommand().map(|(_, sub)| sub);
        }
        let name = matches.subcommand_name().unwrap_or_default().to_owned();
        let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
        if let Command::Audit(audit) = &cli.command {
            if audit.compact && audit.format != ReportFormat::Json {
                return Err(Cli::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--compact lays out the JSON report: add --format json",
                ));
            }
        }
        cli.given = given;
        match cli.command.account() {
            Some(after) => cli.account = after.clone().or(cli.account),
            None => {
                if let Some(flag) = cli.account.first_given() {
                    let message = format!(
                        "{flag} does not apply to `grantguard {name}`: it reads no account"
                    );
                    return Err(
                        Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message)
                    );
                }
            }
        }
        Ok(cli)
    }
}

/// How a flag's value reached clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GivenBy {
    /// Typed on the command line.
    CommandLine,
    /// Read from the flag's environment variable (`env = "…"`).
    Env,
}

/// The flags the user gave, by clap argument id, and how; a flag left at its default is absent.
#[derive(Debug, Clone, Default)]
pub struct Given(std::collections::BTreeMap<String, GivenBy>);

impl Given {
    /// How the flag with clap id `id` was given, if it was.
    pub fn of(&self, id: &str) -> Option<GivenBy> {
        self.0.get(id).copied()
    }

    /// Records that the flag with clap id `id` was given `by`.
    pub fn record(&mut self, id: &str, by: GivenBy) {
        self.0.insert(id.to_owned(), by);
    }
}

/// Where to connect and as whom. Secrets come only from the environment or a profile file.
/// Only the commands that read the account take these flags, before or after their name; the
/// variables are read where the settings are resolved (`settings`), so that a flag given on
/// either side wins over them.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Account options")]
pub struct AccountArgs {
    /// aliyun CLI profile to take credentials from (~/.aliyun/config.json)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region id; audit and scan also take a list (ID,ID) or `all` [env: ALIBABA_CLOUD_REGION_ID]
    #[arg(long, value_name = "ID")]
    pub region: Option<String>,
    /// API endpoint; plain http:// only to loopback [env: GRANTGUARD_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Configuration file [default: ./grantguard.json when present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl AccountArgs {
    /// These flags, each taken from `before` where not given here.
    pub fn or(self, before: AccountArgs) -> AccountArgs {
        AccountArgs {
            profile: self.profile.or(before.profile),
            region: self.region.or(before.region),
            endpoint: self.endpoint.or(before.endpoint),
            config: self.config.or(before.config),
        }
    }

    /// The first of these flags that was given, as the user spells it.
    fn first_given(&self) -> Option<&'static str> {
        [
            (self.profile.is_some(), "--profile"),
            (self.region.is_some(), "--region"),
            (self.endpoint.is_some(), "--endpoint"),
            (self.config.is_some(), "--config"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

/// How much to print, and how.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output options")]
pub struct OutputArgs {
    /// More log output on stderr (-v, -vv, -vvv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar and no log output
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// Colour policy; `auto` means a terminal without NO_COLOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk the account and write an inventory snapshot
    #[command(
        after_help = "Examples:\n  grantguard --region cn-hangzhou scan --output inventory.json\n  grantguard --region cn-hangzhou,cn-shanghai scan --output inv.json   # one file per region\n  grantguard audit --inventory inventory.json     # audit it later, offline"
    )]
    Scan(ScanArgs),
    /// Report who still depends on each grant (dry run; nothing is changed)
    #[command(
        after_help = "Examples:\n  grantguard --region cn-hangzhou audit                          # every grant\n  grantguard --region cn-hangzhou audit --name orders-slb-80     # one grant\n  grantguard --region cn-hangzhou audit --format sarif -o grantguard.sarif\n  grantguard audit --inventory inventory.json --format json      # a snapshot, offline\n  grantguard --region cn-hangzhou audit --cache .grantguard-cache # re-read only what changed"
    )]
    Audit(AuditArgs),
    /// Print the dependency graph from grants to what routes through them
    #[command(
        after_help = "Grants are coloured by verdict (red blocked, orange unknown, yellow safe with warnings,\ngreen safe); dashed links are users only the service's usage index lists (GG106).\n\nExamples:\n  grantguard --region cn-hangzhou graph --format mermaid --name orders-slb-80\n  grantguard graph --inventory inventory.json -o grants.dot     # DOT for Graphviz\n  grantguard graph --inventory inventory.json --all | dot -Tpng -o grants.png"
    )]
    Graph(GraphArgs),
    /// List the rule catalog, or explain one rule
    Rules(RulesArgs),
    /// Run the local CloudAPI emulator
    #[command(
        after_help = "Examples:\n  grantguard sim serve --demo                  # the demo's account; line 2 is what to export\n  grantguard sim serve --fixture account.json --listen 127.0.0.1:8080\n  grantguard sim generate --grants 100 -o big.json"
    )]
    Sim(SimArgs),
    /// Audit a bundled example account on a local emulator (no credentials needed)
    Demo(DemoArgs),
    /// Remove one grant, only when nothing depends on it (journaled, restorable)
    #[command(
        after_help = "Examples:\n  grantguard --region cn-hangzhou remove --name legacy-unused-443 --dry-run\n  grantguard --region cn-hangzhou remove --name legacy-unused-443\n  grantguard --region cn-hangzhou remove --name orders-ecs-8080 --accept-warnings\n  grantguard --region cn-hangzhou remove --all-safe --max 5 --yes --format json\n  grantguard restore    # undo the last removal"
    )]
    Remove(RemoveArgs),
    /// Move a grant and every user of it to a new target in place (journaled, verified, restorable)
    #[command(
        after_help = "The grant is named by --name or --vpc-access-id; --instance-id, --port and --vpc-id give the NEW target.\n\nExamples:\n  grantguard repoint --name orders-slb-80 --instance-id lb-new --port 80 --dry-run\n  grantguard repoint --name orders-slb-80 --instance-id lb-new --port 80\n  grantguard repoint --name orders-slb-80 --instance-id i-new --port 8080 --yes --format json\n  grantguard restore --id 20250101T120000Z-3fa2c1   # move it back"
    )]
    Repoint(RepointArgs),
    /// Re-create a removed grant (or move a repointed one back) from the journal
    #[command(
        after_help = "Examples:\n  grantguard restore                        # the last removal\n  grantguard journal                        # list the entries and their ids\n  grantguard restore --id 20250101T120000Z-3fa2c1"
    )]
    Restore(RestoreArgs),
    /// List the removal journal; reconcile unfinished entries with the live account
    Journal(JournalArgs),
    /// Print the least-privilege RAM policy document grantguard needs
    Policy(PolicyArgs),
    /// Show which credentials, region and endpoint would be used (never the secret)
    #[command(
        after_help = "Lists the credential chain's steps in order and which one was used (docs/credentials.md).\n\nExamples:\n  grantguard whoami\n  grantguard whoami --format json | jq .source"
    )]
    Whoami(WhoamiArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    Man,
}

impl Command {
    /// The account flags given after the subcommand's name, for the commands that read the
    /// account; `None` for those that do not (they take no account flag at all).
    pub fn account(&self) -> Option<&AccountArgs> {
        match self {
            Command::Scan(args) => Some(&args.account),
            Command::Audit(args) => Some(&args.account),
            Command::Graph(args) => Some(&args.account),
            Command::Remove(args) => Some(&args.account),
            Command::Repoint(args) => Some(&args.account),
            Command::Restore(args) => Some(&args.account),
            Command::Journal(args) => Some(&args.account),
            Command::Whoami(args) => Some(&args.account),
            Command::Rules(_)
            | Command::Sim(_)
            | Command::Demo(_)
            | Command::Policy(_)
            | Command::Completions(_)
            | Command::Man => None,
        }
    }
}

/// Which grant(s): a tuple, a name, or an id. Without one, every grant in the region.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectorArgs {
    /// VPC id of the grant (with --instance-id and --port)
    #[arg(long, value_name = "ID", requires_all = ["instance_id", "port"], conflicts_with_all = ["name", "vpc_access_id"])]
    pub vpc_id: Option<String>,
    /// Instance id of the grant (with --vpc-id and --port)
    #[arg(long, value_name = "ID", requires_all = ["vpc_id", "port"])]
    pub instance_id: Option<String>,
    /// Port of the grant (with --vpc-id and --instance-id)
    #[arg(long, value_name = "PORT", requires_all = ["vpc_id", "instance_id"])]
    pub port: Option<u16>,
    /// Grant name
    #[arg(long, value_name = "NAME", conflicts_with = "vpc_access_id")]
    pub name: Option<String>,
    /// Grant id (VpcAccessId)
    #[arg(long, value_name = "ID")]
    pub vpc_access_id: Option<String>,
}

/// `--qps`: a pinned rate, or `auto` to discover the account's quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Qps {
    /// Start polite and grow while answers are clean, up to `--max-qps`.
    Auto,
    /// Requests per second at most (adapting down on throttling); 0 = no limit.
    Fixed(f64),
}

impl std::str::FromStr for Qps {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Ok(Qps::Auto);
        }
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(Qps::Fixed(n)),
            _ => Err(format!(
                "`{text}` is not `auto` or a number of requests per second (0 or more)"
            )),
        }
    }
}

impl std::fmt::Display for Qps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Qps::Auto => f.write_str("auto"),
            Qps::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Qps {
    /// `"auto"` or a number, as `grantguard.json`'s `qps` is written.
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Word(String),
        }
        match Written::deserialize(de)? {
            Written::Number(n) => Ok(Qps::Fixed(n)),
            Written::Word(word) => word.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A ceiling in requests per second: a finite number above 0.
pub fn parse_max_qps(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a number of requests per second above 0"
        )),
    }
}

/// Walk tuning shared by every command that walks the account (scan, audit, graph, remove).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Walk options")]
pub struct WalkArgs {
    /// Requests per second: `auto` finds the quota up to --max-qps; N pins it; 0 = no limit
    #[arg(
        long,
        default_value = "auto",
        env = "GRANTGUARD_QPS",
        value_name = "N|auto"
    )]
    pub qps: Qps,
    /// Highest rate `--qps auto` may reach [default: 25, or max_qps from the config file]
    #[arg(long, value_name = "N", value_parser = parse_max_qps)]
    pub max_qps: Option<f64>,
    /// Requests in flight at most
    #[arg(
        long,
        default_value_t = 4,
        env = "GRANTGUARD_CONCURRENCY",
        value_name = "N"
    )]
    pub concurrency: usize,
    /// Historical versions per API and stage to check (rollback targets)
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub history_depth: usize,
    /// Attempts, timeouts and sizes of each call.
    #[command(flatten)]
    pub call: CallArgs,
}

/// How each call is tried: for every command that calls the account, including restore and
/// journal, which make a few calls and so take no walk tuning.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Connection options")]
pub struct CallArgs {
    /// Attempts per call for transient failures
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_attempts: u32,
    /// Attempts per call answered with throttling (`Throttling*`, 429)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_throttled_attempts: u32,
    /// Largest response accepted, e.g. 16MiB
    #[arg(long, default_value = "16MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_response_bytes: u64,
    /// Longest wait for a connection, e.g. 5s [default: 5s, or connect_timeout from the config file]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Longest silence while reading an answer [default: 10s, or idle_timeout from the config file]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Longest one attempt may take, whole answer included [default: 30s, or attempt_timeout from the config file]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub attempt_timeout: Option<std::time::Duration>,
}

/// `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Where to write the snapshot
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Walk tuning.
    #[command(flatten)]
    pub walk: WalkArgs,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people: findings with their dependency paths and fixes.
    Human,
    /// The grantguard.report/v1 contract.
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Which grant(s).
    #[command(flatten)]
    pub selector: SelectorArgs,
    /// Audit a saved snapshot instead of the live account (no network call)
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// With --format json: the report on one line, without indentation (same fields)
    #[arg(long)]
    pub compact: bool,
    /// Write the report to a file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Lowest unsuppressed finding severity that fails the run (exit 1); blocked or unknown
    /// grants always do [default: deny, or min_severity from the config file]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_severity: Option<MinSeverity>,
    /// Reuse definitions from the last audit kept in DIR when the live listings prove them
    /// unchanged, and keep this audit there (incremental re-audit)
    #[arg(long, value_name = "DIR", conflicts_with = "inventory")]
    pub cache: Option<PathBuf>,
    /// Terraform state file, `terraform show -json` output, or folder of .tf files, read
    /// offline; repeatable [default: terraform from the config file]
    #[arg(long, value_name = "PATH")]
    pub terraform: Vec<PathBuf>,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Walk tuning.
    #[command(flatten)]
    pub walk: WalkArgs,
}

/// `--min-severity`: which findings fail CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MinSeverity {
    /// Only deny findings (and blocked/unknown grants) fail.
    Deny,
    /// Warn findings fail too.
    Warn,
    /// Any finding fails.
    Info,
}

/// `policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Add the removal, restore and repoint actions (RemoveVpcAccess, SetVpcAccess, …)
    #[arg(long)]
    pub with_removal: bool,
}

/// `whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: WhoamiFormat,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
}

/// `whoami` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhoamiFormat {
    /// Aligned text for people.
    Human,
    /// The grantguard.whoami/v1 document.
    Json,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Graph formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Only the part reachable from these grant(s).
    #[command(flatten)]
    pub selector: SelectorArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Use a saved snapshot instead of the live account
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Write the graph to a file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also draw the safe grants nothing routes through, and APIs that reach no grant
    #[arg(long)]
    pub all: bool,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Walk tuning.
    #[command(flatten)]
    pub walk: WalkArgs,
}

/// `rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Explain one rule.
    #[command(subcommand)]
    pub command: Option<RulesCommand>,
}

/// `rules explain`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print what a rule finds, why it matters and what to do
    Explain {
        /// Rule id, e.g. GG101
        id: String,
    },
}

/// `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// What the emulator should do.
    #[command(subcommand)]
    pub command: SimCommand,
}

/// `sim` subcommands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a fixture (or the demo) account on loopback; prints its address, then what to export
    Serve(Box<SimServeArgs>),
    /// Write a deterministic synthetic account fixture (for benchmarks and scale tests)
    Generate(SimGenerateArgs),
}

/// `sim generate`.
#[derive(Debug, Args)]
pub struct SimGenerateArgs {
    /// API groups
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub groups: usize,
    /// APIs in each group
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub apis_per_group: usize,
    /// Stages APIs are deployed to (1 = RELEASE, 2 = + PRE, 3 = + TEST)
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub stages: u8,
    /// VPC access authorizations (grants)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub grants: usize,
    /// Share of APIs that route to a grant, directly or through a backend service (0..1)
    #[arg(long, default_value_t = 0.3, value_name = "SHARE")]
    pub vpc_share: f64,
    /// Seed of every random choice (same seed, same bytes)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// Where to write the fixture [default: stdout]
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the inventory snapshot a complete walk of the account would read, instead of
    /// the fixture (for offline benchmarks at sizes the emulator cannot serve quickly)
    #[arg(long, hide = true)]
    pub snapshot: bool,
}

/// `sim serve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("account").required(true).args(["fixture", "demo"])))]
pub struct SimServeArgs {
    /// Account fixture (JSON; see docs/fixture-format.md)
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,
    /// Serve the example account `grantguard demo` audits (built into the binary)
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on (loopback only, unless --listen-beyond-loopback)
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Allow a --listen address other machines can reach (the emulator accepts its fixture's test credentials from anyone)
    #[arg(long)]
    pub listen_beyond_loopback: bool,
    /// Added latency per request, in milliseconds
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Requests per second before answering Throttling.User
    #[arg(long, value_name = "N")]
    pub qps: Option<u32>,
    /// Share of requests answered 503 ServiceUnavailable (0..1)
    #[arg(long, value_name = "RATE")]
    pub error_rate: Option<f64>,
    /// Share of requests answered Throttling.User (0..1)
    #[arg(long, value_name = "RATE")]
    pub throttle_rate: Option<f64>,
    /// Longest run of injected faults for one client
    #[arg(long, value_name = "N")]
    pub max_consecutive_faults: Option<u32>,
    /// Seed for injected faults
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Force an error: ACTION[:ID]=CODE (repeatable)
    #[arg(long, value_name = "RULE")]
    pub fail: Vec<String>,
    /// Corrupt answers: ACTION[:ID]=truncated-json|malformed-json|html|wrong-type (repeatable)
    #[arg(long, value_name = "RULE")]
    pub corrupt: Vec<String>,
    /// Answer with a body this large: ACTION[:ID]=SIZE[,chunked], e.g. DescribeApis=50MiB (repeatable)
    #[arg(long, value_name = "RULE")]
    pub oversize: Vec<String>,
    /// Reset the connection (TCP RST) mid-body: ACTION[:ID]=once|always|N (repeatable)
    #[arg(long, value_name = "RULE")]
    pub reset: Vec<String>,
    /// Send the head, then the body one byte per INTERVAL: ACTION[:ID]=INTERVAL, e.g. 2s (repeatable)
    #[arg(long, value_name = "RULE")]
    pub slowloris: Vec<String>,
    /// Accept the request and never answer: ACTION[:ID]=once|always|N (repeatable)
    #[arg(long, value_name = "RULE")]
    pub hang: Vec<String>,
    /// Receive the request, do not apply it, drop the connection: ACTION[:ID]=once|always|N (repeatable)
    #[arg(long, value_name = "RULE")]
    pub drop_before_apply: Vec<String>,
    /// Apply the request, then drop the connection unanswered: ACTION[:ID]=once|always|N (repeatable)
    #[arg(long, value_name = "RULE")]
    pub apply_then_drop: Vec<String>,
    /// Expire STS tokens after this many token-bearing calls
    #[arg(long, value_name = "N")]
    pub sts_expire_after: Option<u64>,
    /// Pretend the server clock is this many seconds ahead (negative: behind)
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub clock_offset: Option<i64>,
    /// Append one JSON line per call to this file
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Report format
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Instead of the audit, repoint the account's blocked grant orders-slb-80 to a new
    /// target and show each live user verified there
    #[arg(long, conflicts_with = "format")]
    pub repoint: bool,
}

/// Formats of `remove`'s result (the report formats that make sense for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RemovalFormat {
    /// For people: the plan, the refusal or the outcome, and the undo command.
    Human,
    /// The grantguard.removal/v1 contract.
    Json,
}

/// `remove`.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["vpc_id", "name", "vpc_access_id", "all_safe"])
))]
pub struct RemoveArgs {
    /// Which grant.
    #[command(flatten)]
    pub selector: SelectorArgs,
    /// Remove every grant whose verdict is safe, one at a time
    #[arg(long, conflicts_with_all = ["vpc_id", "name", "vpc_access_id", "plan"])]
    pub all_safe: bool,
    /// With --all-safe: remove at most N grants
    #[arg(long, default_value_t = 10, value_name = "N", requires = "all_safe")]
    pub max: usize,
    /// Run every check and print the exact call(s) that would be made; change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Confirm without typing the grant's name (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Remove a safe grant that still has warnings (a draft, rollback target or backend model; journaled)
    #[arg(long)]
    pub accept_warnings: bool,
    /// Remove even when the verdict is not safe (needs --reason; journaled)
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the override is acceptable (recorded in the journal)
    #[arg(long, value_name = "TEXT", requires = "force")]
    pub reason: Option<String>,
    /// Proceed only if the fresh audit's digest equals this saved `audit --format json` report's
    #[arg(long, value_name = "REPORT.json")]
    pub plan: Option<PathBuf>,
    /// Journal file [default: $XDG_STATE_HOME/grantguard/journal.jsonl]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Use RemoveVpcAccessAndAbolishApis: also unpublish the APIs that use the grant
    #[arg(long)]
    pub abolish_apis: bool,
    /// Result format
    #[arg(long, value_enum, default_value_t = RemovalFormat::Human)]
    pub format: RemovalFormat,
    /// Write the result to a file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Terraform state file, `terraform show -json` output, or folder of .tf files, read
    /// offline; repeatable [default: terraform from the config file]
    #[arg(long, value_name = "PATH")]
    pub terraform: Vec<PathBuf>,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Walk tuning.
    #[command(flatten)]
    pub walk: WalkArgs,
}

/// `repoint`.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("grant")
        .required(true)
        .args(["name", "vpc_access_id"])
))]
pub struct RepointArgs {
    /// Name of the grant to move
    #[arg(long, value_name = "NAME", conflicts_with = "vpc_access_id")]
    pub name: Option<String>,
    /// Id (VpcAccessId) of the grant to move
    #[arg(long, value_name = "ID")]
    pub vpc_access_id: Option<String>,
    /// New target: ECS instance or SLB id
    #[arg(long, value_name = "ID")]
    pub instance_id: String,
    /// New target: port
    #[arg(long, value_name = "PORT")]
    pub port: u16,
    /// New target: VPC id [default: the grant's]
    #[arg(long, value_name = "ID")]
    pub vpc_id: Option<String>,
    /// New target: host header sent to it [default: the grant's]
    #[arg(long, value_name = "HOST")]
    pub target_host_name: Option<String>,
    /// Run every check and print the exact call that would be made; change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Confirm without typing the grant's name (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Repoint even when the audit could not read everything (needs --reason; journaled)
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the override is acceptable (recorded in the journal)
    #[arg(long, value_name = "TEXT", requires = "force")]
    pub reason: Option<String>,
    /// How long to wait for DescribeUpdateVpcInfoTask to report every API final, e.g. 2m
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = parse_timeout)]
    pub task_timeout: std::time::Duration,
    /// Journal file [default: $XDG_STATE_HOME/grantguard/journal.jsonl]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Result format
    #[arg(long, value_enum, default_value_t = RepointFormat::Human)]
    pub format: RepointFormat,
    /// Write the result to a file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Terraform state file, `terraform show -json` output, or folder of .tf files, read
    /// offline; repeatable [default: terraform from the config file]
    #[arg(long, value_name = "PATH")]
    pub terraform: Vec<PathBuf>,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Walk tuning.
    #[command(flatten)]
    pub walk: WalkArgs,
}

/// Formats of `repoint`'s result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RepointFormat {
    /// For people: the plan, each user's result, the follow-ups and the undo command.
    Human,
    /// The grantguard.repoint/v1 contract.
    Json,
}

/// `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Journal entry to restore [default: the last removal]
    #[arg(long, value_name = "ENTRY")]
    pub id: Option<String>,
    /// Journal file [default: $XDG_STATE_HOME/grantguard/journal.jsonl]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Attempts and timeouts of each call.
    #[command(flatten)]
    pub call: CallArgs,
}

/// `journal`.
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Journal file [default: $XDG_STATE_HOME/grantguard/journal.jsonl]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Account, region and endpoint.
    #[command(flatten)]
    pub account: AccountArgs,
    /// Attempts and timeouts of each call.
    #[command(flatten)]
    pub call: CallArgs,
}

/// Parses a timeout in humantime syntax (`2s`, `500ms`, `1m`); zero is refused, since it
/// would fail every call.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as 2s or 500ms: {e}"))?;
    if duration.is_zero() {
        return Err("a timeout must be longer than zero".into());
    }
    Ok(duration)
}

/// Parses `16MiB`, `512KiB`, `1048576`, `2MB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 16MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}; use KiB, MiB or GiB")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod example_tests {
    use super::*;
    use clap::CommandFactory;

    /// Every example in a subcommand's help parses as the command line it shows.
    #[test]
    fn every_help_example_parses() {
        let command = Cli::command();
        let mut seen = 0;
        for sub in command.get_subcommands() {
            let Some(help) = sub.get_after_help() else {
                continue;
            };
            for line in help.to_string().lines() {
                let Some(example) = line.trim().strip_prefix("grantguard ") else {
                    continue;
                };
                let example = example.split(['#', '|']).next().unwrap();
                let args = std::iter::once("grantguard").chain(example.split_whitespace());
                if let Err(error) = Cli::try_parse_from(args) {
                    panic!("{line:?} does not parse: {error}");
                }
                seen += 1;
            }
        }
        assert!(seen >= 15, "only {seen} examples found");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("12 parsecs").is_err());
    }

    #[test]
    fn timeouts_parse_in_humantime_syntax() {
        use std::time::Duration;
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("soon").is_err());
        let cli = Cli::try_parse_from(["grantguard", "audit", "--attempt-timeout", "2s"]).unwrap();
        let Command::Audit(audit) = cli.command else {
            panic!("audit")
        };
        assert_eq!(
            audit.walk.call.attempt_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(audit.walk.call.idle_timeout, None);
    }

    #[test]
    fn a_secret_flag_does_not_exist() {
        let err = Cli::try_parse_from(["grantguard", "audit", "--access-key-secret", "XSECRETX"])
            .unwrap_err();
        assert!(
            !err.to_string().contains("XSECRETX"),
            "the value is not echoed: {err}"
        );
    }

    #[test]
    fn the_flags_given_are_recorded_and_defaults_are_not() {
        let given = Cli::try_parse_checked_from(["grantguard", "scan", "-o", "x", "--qps", "10"]);
        let given = given.unwrap().given;
        assert_eq!(given.of("qps"), Some(GivenBy::CommandLine));
        assert_eq!(given.of("output"), Some(GivenBy::CommandLine));
        let default = Cli::try_parse_checked_from(["grantguard", "scan", "-o", "x"]);
        assert_eq!(default.unwrap().given.of("qps"), None);
        let before = Cli::try_parse_checked_from(["grantguard", "--region", "r", "whoami"]);
        assert_eq!(
            before.unwrap().given.of("region"),
            Some(GivenBy::CommandLine)
        );
        let other = Cli::try_parse_checked_from(["grantguard", "policy"]).unwrap();
        assert_eq!(other.given.of("qps"), None);
    }

    /// Account flags work before and after the subcommand's name (after wins), and are a usage
    /// error on a command that reads no account.
    #[test]
    fn account_flags_go_on_either_side_of_the_commands_that_read_the_account() {
        let parse = |args: &[&str]| Cli::try_parse_checked_from(args.iter().copied());
        let before = parse(&["grantguard", "--region", "a", "audit"]).unwrap();
        assert_eq!(before.account.region.as_deref(), Some("a"));
        let after = parse(&["grantguard", "--profile", "p", "audit", "--region", "b"]).unwrap();
        assert_eq!(after.account.region.as_deref(), Some("b"));
        assert_eq!(after.account.profile.as_deref(), Some("p"), "merged");
        let both = parse(&["grantguard", "--region", "a", "restore", "--region", "b"]).unwrap();
        assert_eq!(both.account.region.as_deref(), Some("b"));
        for command in ["rules", "man", "policy", "demo"] {
            let error = parse(&["grantguard", "--endpoint", "http://127.0.0.1:1", command])
                .expect_err(command);
            assert!(error.use_stderr(), "{command}: a usage error");
            assert!(
                error.to_string().contains("--endpoint does not apply"),
                "{error}"
            );
            assert!(
                parse(&["grantguard", command, "--region", "a"]).is_err(),
                "{command}"
            );
        }
    }

    /// The walk tuning only on the commands that walk; the call tuning also on restore and
    /// journal; the short flags where users expect them.
    #[test]
    fn each_command_takes_only_the_tuning_that_applies_to_it() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied());
        for walks in ["scan -o x", "audit", "graph", "remove --name n"] {
            let mut args: Vec<&str> = vec!["grantguard"];
            args.extend(walks.split(' '));
            args.extend(["--qps", "2", "--history-depth", "1", "--max-attempts", "2"]);
            assert!(parse(&args).is_ok(), "{walks}");
        }
        for calls in ["restore", "journal"] {
            assert!(parse(&["grantguard", calls, "--attempt-timeout", "2s"]).is_ok());
            assert!(
                parse(&["grantguard", calls, "--qps", "2"]).is_err(),
                "{calls}"
            );
            assert!(parse(&["grantguard", calls, "--concurrency", "2"]).is_err());
        }
        for none in ["rules", "man", "policy", "whoami"] {
            assert!(
                parse(&["grantguard", none, "--max-attempts", "2"]).is_err(),
                "{none}"
            );
        }
        let cli = parse(&["grantguard", "remove", "--name", "n", "-n", "-y"]).unwrap();
        let Command::Remove(remove) = cli.command else {
            panic!("remove")
        };
        assert!(remove.dry_run && remove.yes);
    }

    #[test]
    fn compact_without_the_json_format_is_a_usage_error() {
        let parse =
            |args: &[&str]| Cli::try_parse_checked_from(["grantguard", "audit"].iter().chain(args));
        let error = parse(&["--compact"]).expect_err("human output has no compact form");
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(error.to_string().contains("--format json"), "{error}");
        assert!(parse(&["--compact", "--format", "sarif"]).is_err());
        assert!(parse(&["--compact", "--format", "json"]).is_ok());
    }

    #[test]
    fn a_partial_tuple_selector_is_a_usage_error() {
        assert!(Cli::try_parse_from(["grantguard", "audit", "--vpc-id", "vpc-1"]).is_err());
        assert!(Cli::try_parse_from([
            "grantguard",
            "audit",
            "--vpc-id",
            "v",
            "--instance-id",
            "i",
            "--port",
            "80"
        ])
        .is_ok());
    }
}
