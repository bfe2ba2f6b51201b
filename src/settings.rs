//! Flags + `grantguard.json` + environment → [`Settings`]: every setting's value and where it
//! came from, decided once per run. In: the parsed flags ([`Flags`], with clap's record of
//! which ones the user gave), the config file's text read once ([`ConfigFile`]) and an
//! environment lookup. Out: [`Settings`], each value a [`Setting`] naming its [`Source`].
//! Precedence is flag, then its environment variable, then the config file, then the built-in
//! default. Nothing after this module reads the config file or a setting's variable again.
//!
//! Two parts of the target are decided later, with the credentials, in `account`: the region
//! when nothing here names one (the profile's `region_id`), and the endpoint when a region has
//! its own variable (`GRANTGUARD_ENDPOINT_<REGION>`), because both depend on what the
//! credential chain finds.

use crate::cli::{AccountArgs, CallArgs, Given, GivenBy, MinSeverity, Qps, WalkArgs};
use crate::config::{Config, ConfigError};
use crate::regions;
use crate::rules::Catalog;
use crate::Error;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The rate when nothing else says (`--qps`): discover the quota.
pub const DEFAULT_QPS: Qps = Qps::Auto;
/// Where `--qps auto` starts, in requests per second: a fifth of the 50 QPS the service
/// documents for its write actions (docs/performance.md).
pub const PROBE_START_QPS: f64 = 10.0;
/// The ceiling of `--qps auto` when nothing else says (`--max-qps`): half of that documented
/// 50 QPS, so an audit leaves at least half of a quota of that size to the account's other
/// callers (docs/performance.md).
pub const DEFAULT_MAX_QPS: f64 = 25.0;
/// Requests in flight when nothing else says (`--concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Attempts per call for transient failures (`--max-attempts`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Attempts per call answered with throttling (`--max-throttled-attempts`).
pub const DEFAULT_MAX_THROTTLED_ATTEMPTS: u32 = 8;
/// Largest response accepted, 16 MiB (`--max-response-bytes`).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// Historical versions per API and stage to check (`--history-depth`).
pub const DEFAULT_HISTORY_DEPTH: usize = 3;
/// Longest wait for a connection (`--connect-timeout`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest silence while reading an answer (`--idle-timeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one attempt may take (`--attempt-timeout`).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The variable that overrides the endpoint when `--endpoint` is not given.
pub const ENDPOINT_VAR: &str = "GRANTGUARD_ENDPOINT";

/// The region variables the aliyun CLI reads, first non-empty wins (docs/cloudapi-notes.md §6.1).
pub const REGION_VARS: [&str; 3] = [
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABACLOUD_REGION_ID",
    "ALICLOUD_REGION_ID",
];

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A flag on the command line, e.g. `--region`.
    Flag(&'static str),
    /// An environment variable, by name.
    Env(String),
    /// The config file.
    ConfigFile,
    /// grantguard's built-in default.
    Default,
}

impl fmt::Display for Source {
    /// As `whoami` shows it: `--region`, `ALIBABA_CLOUD_REGION_ID`, `config file`, `default`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => f.write_str(flag),
            Source::Env(var) => f.write_str(var),
            Source::ConfigFile => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One setting's value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Setting<T> {
    fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// The flags a command was given, as clap parsed them.
#[derive(Debug, Clone, Copy)]
pub struct Flags<'a> {
    /// `--profile`, `--region`, `--endpoint`, `--config`.
    pub account: &'a AccountArgs,
    /// Walk tuning, for the commands that walk the account.
    pub walk: Option<&'a WalkArgs>,
    /// Call tuning, for the commands that call the account without a walk (a walk's is in
    /// `walk`).
    pub call: Option<&'a CallArgs>,
    /// `audit --min-severity`.
    pub min_severity: Option<MinSeverity>,
    /// Which flags the user gave on the command line or through their variable.
    pub given: &'a Given,
}

/// The config file's text, read once: `--config FILE`, else `./grantguard.json` when present.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The path as given, for error messages.
    pub origin: String,
    /// The whole file.
    pub text: String,
}

impl ConfigFile {
    /// Reads the file `--config` names, else `./grantguard.json` when it exists; `None` when
    /// neither applies.
    pub fn read(flag: Option<&Path>) -> Result<Option<ConfigFile>, ConfigError> {
        let path = match flag {
            Some(path) => path,
            None => {
                let default = Path::new("grantguard.json");
                if !default.exists() {
                    return Ok(None);
                }
                default
            }
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Some(ConfigFile {
            origin: path.display().to_string(),
            text,
        }))
    }
}

/// Every setting of a run, each with its source.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The audit's configuration (severities, suppressions, inventory age) from the config
    /// file, or the defaults.
    pub config: Config,
    /// The aliyun CLI profile to take credentials from, when one is named.
    pub profile: Option<Setting<String>>,
    /// The one region a client connects to. `None` leaves it to the credentials' profile.
    pub region: Option<Setting<String>>,
    /// The endpoint URL, when one is given.
    pub endpoint: Option<Setting<String>>,
    /// Requests per second at most (0 means no limit), or `auto`.
    pub qps: Setting<Qps>,
    /// The highest rate `auto` may reach.
    pub max_qps: Setting<f64>,
    /// Requests in flight at most.
    pub concurrency: Setting<usize>,
    /// Longest wait for a connection.
    pub connect_timeout: Setting<Duration>,
    /// Longest silence while reading an answer.
    pub idle_timeout: Setting<Duration>,
    /// Longest one attempt may take.
    pub attempt_timeout: Setting<Duration>,
    /// Lowest unsuppressed finding severity that fails the run.
    pub min_severity: Setting<MinSeverity>,
    /// Attempts per call for transient failures.
    pub max_attempts: u32,
    /// Attempts per call answered with throttling.
    pub max_throttled_attempts: u32,
    /// Largest response accepted, in bytes.
    pub max_response_bytes: u64,
    /// Historical versions per API and stage to check.
    pub history_depth: usize,
}

impl Settings {
    /// Reads the config file once and resolves every setting against the process
    /// environment.
    pub fn load(flags: &Flags<'_>, catalog: &Catalog) -> Result<Settings, Error> {
        let file = ConfigFile::read(flags.account.config.as_deref())?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Settings::resolve(flags, file.as_ref(), &env, catalog)
    }

    /// Decides each setting: the flag (or the variable clap read for it), then the
    /// environment, then the config file, then the default. `env` answers only non-blank
    /// values.
    pub fn resolve(
        flags: &Flags<'_>,
        file: Option<&ConfigFile>,
        env: &dyn Fn(&str) -> Option<String>,
        catalog: &Catalog,
    ) -> Result<Settings, Error> {
        let config = match file {
            Some(file) => Config::parse(&file.text, &file.origin, catalog.docs())?,
            None => Config::default(),
        };
        let account = flags.account;
        let defaults = &config.defaults;
        let given = |id: &str, flag: &'static str, var: &str| match flags.given.of(id) {
            Some(GivenBy::CommandLine) => Some(Source::Flag(flag)),
            Some(GivenBy::Env) => Some(Source::Env(var.to_owned())),
            None => None,
        };

        let profile = (account
            .profile
            .clone()
            .map(|p| Setting::new(p, Source::Flag("--profile"))))
        .or_else(|| (defaults.profile.clone()).map(|p| Setting::new(p, Source::ConfigFile)));

        // A list or `all` names the regions audit and scan read (they call
        // `regions::wanted` themselves, and only on a live walk); the one region a client
        // starts from is then the one the environment or the config file names.
        let one_region = matches!(regions::wanted(account.region.as_deref()), Ok(None));
        let region_flag = account.region.clone().filter(|_| one_region);
        let region = (region_flag.map(|r| Setting::new(r, Source::Flag("--region"))))
            .or_else(|| {
                REGION_VARS.iter().find_map(|var| {
                    env(var).map(|r| Setting::new(r, Source::Env((*var).to_owned())))
                })
            })
            .or_else(|| (defaults.region.clone()).map(|r| Setting::new(r, Source::ConfigFile)));

        let endpoint = (account.endpoint.clone())
            .map(|url| Setting::new(url, Source::Flag("--endpoint")))
            .or_else(|| {
                env(ENDPOINT_VAR).map(|url| Setting::new(url, Source::Env(ENDPOINT_VAR.into())))
            });

        let walk = flags.walk;
        let call = walk.map(|w| &w.call).or(flags.call);
        let qps = match (walk, given("qps", "--qps", "GRANTGUARD_QPS")) {
            (Some(walk), Some(source)) => Setting::new(walk.qps, source),
            _ => match defaults.qps {
                Some(qps) => Setting::new(qps, Source::ConfigFile),
                None => Setting::new(walk.map_or(DEFAULT_QPS, |w| w.qps), Source::Default),
            },
        };
        let max_qps = match (walk.and_then(|w| w.max_qps), defaults.max_qps) {
            (Some(n), _) => Setting::new(n, Source::Flag("--max-qps")),
            (None, Some(n)) => Setting::new(n, Source::ConfigFile),
            (None, None) => Setting::new(DEFAULT_MAX_QPS, Source::Default),
        };
        let concurrency = match (
            walk,
            given("concurrency", "--concurrency", "GRANTGUARD_CONCURRENCY"),
        ) {
            (Some(walk), Some(source)) => Setting::new(walk.concurrency, source),
            _ => Setting::new(
                walk.map_or(DEFAULT_CONCURRENCY, |w| w.concurrency),
                Source::Default,
            ),
        };
        let timeout = |flag: Option<Duration>,
                       name: &'static str,
                       file: Option<Duration>,
                       default| match (flag, file) {
            (Some(value), _) => Setting::new(value, Source::Flag(name)),
            (None, Some(value)) => Setting::new(value, Source::ConfigFile),
            (None, None) => Setting::new(default, Source::Default),
        };
        let connect_timeout = timeout(
            call.and_then(|c| c.connect_timeout),
            "--connect-timeout",
            defaults.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
        );
        let idle_timeout = timeout(
            call.and_then(|c| c.idle_timeout),
            "--idle-timeout",
            defaults.idle_timeout,
            DEFAULT_IDLE_TIMEOUT,
        );
        let attempt_timeout = timeout(
            call.and_then(|c| c.attempt_timeout),
            "--attempt-timeout",
            defaults.attempt_timeout,
            DEFAULT_ATTEMPT_TIMEOUT,
        );
        let min_severity = match (flags.min_severity, defaults.min_severity) {
            (Some(level), _) => Setting::new(level, Source::Flag("--min-severity")),
            (None, Some(level)) => Setting::new(level, Source::ConfigFile),
            (None, None) => Setting::new(MinSeverity::Deny, Source::Default),
        };

        Ok(Settings {
            profile,
            region,
            endpoint,
            qps,
            max_qps,
            concurrency,
            connect_timeout,
            idle_timeout,
            attempt_timeout,
            min_severity,
            max_attempts: call.map_or(DEFAULT_MAX_ATTEMPTS, |c| c.max_attempts),
            max_throttled_attempts: call
                .map_or(DEFAULT_MAX_THROTTLED_ATTEMPTS, |c| c.max_throttled_attempts),
            max_response_bytes: call.map_or(DEFAULT_MAX_RESPONSE_BYTES, |c| c.max_response_bytes),
            history_depth: walk.map_or(DEFAULT_HISTORY_DEPTH, |w| w.history_depth),
            config,
        })
    }

    /// The Terraform inputs of a run: the `--terraform` flags when given, else the config
    /// file's `terraform` list.
    pub fn terraform(&self, flags: &[std::path::PathBuf]) -> Setting<Vec<std::path::PathBuf>> {
        match (flags, &self.config.defaults.terraform) {
            ([], paths) if !paths.is_empty() => Setting::new(paths.clone(), Source::ConfigFile),
            ([], _) => Setting::new(Vec::new(), Source::Default),
            (flags, _) => Setting::new(flags.to_vec(), Source::Flag("--terraform")),
        }
    }

    /// What the Terraform inputs of a run declare; nothing without any.
    pub fn load_terraform(
        &self,
        flags: &[std::path::PathBuf],
    ) -> Result<crate::terraform::Terraform, Error> {
        Ok(crate::terraform::load(&self.terraform(flags).value)?)
    }

    /// The same settings for one `region` (a region of `--region ID,ID`, or the fallback
    /// `--region all` asks DescribeRegions through).
    pub fn for_region(&self, region: Setting<String>) -> Settings {
        Settings {
            region: Some(region),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use std::collections::HashMap;

    const CONFIG: &str = r#"{ "region": "cn-beijing", "qps": 3, "min_severity": "warn",
                             "profile": "audit", "idle_timeout": "7s" }"#;

    fn file() -> ConfigFile {
        ConfigFile {
            origin: "grantguard.json".into(),
            text: CONFIG.into(),
        }
    }

    /// Parses `args` as `audit`, with `given` standing in for clap's record of what came from
    /// a variable (clap reads the real process environment, which tests must not change).
    fn settings(args: &[&str], from_env: &[&str], vars: &[(&str, &str)], config: bool) -> Settings {
        let mut cli = Cli::try_parse_checked_from(
            ["grantguard"]
                .iter()
                .chain(args)
                .copied()
                .collect::<Vec<_>>(),
        )
        .expect("parses");
        for id in from_env {
            cli.given.record(id, GivenBy::Env);
        }
        let crate::cli::Command::Audit(audit) = &cli.command else {
            panic!("audit")
        };
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let flags = Flags {
            account: &cli.account,
            walk: Some(&audit.walk),
            call: None,
            min_severity: audit.min_severity,
            given: &cli.given,
        };
        let file = config.then(file);
        Settings::resolve(
            &flags,
            file.as_ref(),
            &|k| vars.get(k).cloned(),
            &Catalog::builtin(),
        )
        .expect("resolves")
    }

    #[test]
    fn qps_comes_from_the_flag_then_its_variable_then_the_config_file_then_the_default() {
        let flag = settings(&["audit", "--qps", "20"], &[], &[], true);
        assert_eq!(
            flag.qps,
            Setting::new(Qps::Fixed(20.0), Source::Flag("--qps"))
        );
        // What clap does with GRANTGUARD_QPS=30: the value in the field, the source recorded.
        let env = settings(&["audit", "--qps", "30"], &["qps"], &[], true);
        assert_eq!(
            env.qps,
            Setting::new(Qps::Fixed(30.0), Source::Env("GRANTGUARD_QPS".into()))
        );
        let config = settings(&["audit"], &[], &[], true);
        assert_eq!(
            config.qps,
            Setting::new(Qps::Fixed(3.0), Source::ConfigFile)
        );
        let default = settings(&["audit"], &[], &[], false);
        assert_eq!(default.qps, Setting::new(DEFAULT_QPS, Source::Default));
    }

    #[test]
    fn qps_auto_and_its_ceiling_come_from_the_flags_then_the_config_file_then_the_defaults() {
        let flag = settings(
            &["audit", "--qps", "auto", "--max-qps", "80"],
            &[],
            &[],
            true,
        );
        assert_eq!(flag.qps, Setting::new(Qps::Auto, Source::Flag("--qps")));
        assert_eq!(flag.max_qps, Setting::new(80.0, Source::Flag("--max-qps")));
        let default = settings(&["audit"], &[], &[], false);
        assert_eq!(default.qps, Setting::new(Qps::Auto, Source::Default));
        assert_eq!(
            default.max_qps,
            Setting::new(DEFAULT_MAX_QPS, Source::Default)
        );
        let file = ConfigFile {
            origin: "grantguard.json".into(),
            text: r#"{"qps": "auto", "max_qps": 40}"#.into(),
        };
        let cli = Cli::try_parse_checked_from(["grantguard", "audit"]).unwrap();
        let crate::cli::Command::Audit(audit) = &cli.command else {
            panic!("audit")
        };
        let flags = Flags {
            account: &cli.account,
            walk: Some(&audit.walk),
            call: None,
            min_severity: None,
            given: &cli.given,
        };
        let s = Settings::resolve(&flags, Some(&file), &|_| None, &Catalog::builtin()).unwrap();
        assert_eq!(s.qps, Setting::new(Qps::Auto, Source::ConfigFile));
        assert_eq!(s.max_qps, Setting::new(40.0, Source::ConfigFile));
        for wrong in [["--qps", "fast"], ["--max-qps", "0"]] {
            let args = ["grantguard", "audit", wrong[0], wrong[1]];
            assert!(Cli::try_parse_checked_from(args).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn region_comes_from_the_flag_then_the_environment_then_the_config_file() {
        let vars = [("ALIBABACLOUD_REGION_ID", "cn-shanghai")];
        let flag = settings(&["audit", "--region", "cn-shenzhen"], &[], &vars, true);
        assert_eq!(
            flag.region,
            Some(Setting::new("cn-shenzhen".into(), Source::Flag("--region")))
        );
        let env = settings(&["audit"], &[], &vars, true);
        assert_eq!(
            env.region,
            Some(Setting::new(
                "cn-shanghai".into(),
                Source::Env("ALIBABACLOUD_REGION_ID".into())
            ))
        );
        let config = settings(&["audit"], &[], &[], true);
        assert_eq!(
            config.region,
            Some(Setting::new("cn-beijing".into(), Source::ConfigFile))
        );
        // No default: the credentials' profile may still name one (decided in `account`).
        assert_eq!(settings(&["audit"], &[], &[], false).region, None);
        // A list names the regions read; the client starts from the environment's.
        let several = settings(&["audit", "--region", "cn-a,cn-b"], &[], &vars, true);
        assert_eq!(env.region, several.region);
    }

    #[test]
    fn min_severity_comes_from_the_flag_then_the_config_file_then_deny() {
        // docs/architecture.md gives --min-severity no variable, so there is no environment step.
        let flag = settings(&["audit", "--min-severity", "info"], &[], &[], true);
        assert_eq!(
            flag.min_severity,
            Setting::new(MinSeverity::Info, Source::Flag("--min-severity"))
        );
        let config = settings(&["audit"], &[], &[], true);
        assert_eq!(
            config.min_severity,
            Setting::new(MinSeverity::Warn, Source::ConfigFile)
        );
        let default = settings(&["audit"], &[], &[], false);
        assert_eq!(
            default.min_severity,
            Setting::new(MinSeverity::Deny, Source::Default)
        );
    }

    #[test]
    fn the_other_settings_record_their_sources_too() {
        let s = settings(&["audit", "--profile", "ops"], &[], &[], true);
        assert_eq!(
            s.profile,
            Some(Setting::new("ops".into(), Source::Flag("--profile")))
        );
        let s = settings(&["audit"], &[], &[], true);
        assert_eq!(
            s.profile,
            Some(Setting::new("audit".into(), Source::ConfigFile))
        );
        assert_eq!(
            s.idle_timeout,
            Setting::new(Duration::from_secs(7), Source::ConfigFile)
        );
        assert_eq!(
            s.connect_timeout,
            Setting::new(DEFAULT_CONNECT_TIMEOUT, Source::Default)
        );
        let s = settings(&["audit", "--idle-timeout", "2s"], &[], &[], true);
        assert_eq!(
            s.idle_timeout,
            Setting::new(Duration::from_secs(2), Source::Flag("--idle-timeout"))
        );
        let s = settings(
            &["audit", "--concurrency", "2"],
            &["concurrency"],
            &[],
            true,
        );
        assert_eq!(
            s.concurrency,
            Setting::new(2, Source::Env("GRANTGUARD_CONCURRENCY".into()))
        );
    }

    #[test]
    fn the_defaults_here_are_the_command_line_defaults() {
        let s = settings(&["audit"], &[], &[], false);
        assert_eq!(s.qps.value, DEFAULT_QPS);
        assert_eq!(s.concurrency.value, DEFAULT_CONCURRENCY);
        assert_eq!(s.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(s.max_throttled_attempts, DEFAULT_MAX_THROTTLED_ATTEMPTS);
        assert_eq!(s.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        assert_eq!(s.history_depth, DEFAULT_HISTORY_DEPTH);
    }

    #[test]
    fn a_config_file_that_does_not_parse_is_an_error_naming_it() {
        let cli = Cli::try_parse_checked_from(["grantguard", "whoami"]).unwrap();
        let flags = Flags {
            account: &cli.account,
            walk: None,
            call: None,
            min_severity: None,
            given: &cli.given,
        };
        let file = ConfigFile {
            origin: "mine.json".into(),
            text: r#"{"qsp": 3}"#.into(),
        };
        let error = Settings::resolve(&flags, Some(&file), &|_| None, &Catalog::builtin())
            .expect_err("unknown key");
        assert!(format!("{error:?}").contains("mine.json"), "{error:?}");
    }
}
