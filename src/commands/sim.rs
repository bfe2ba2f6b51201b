//! `grantguard sim serve` and `sim generate`: the emulator from the command line.

use crate::error::EmulatorError;
use crate::output::emit;
use crate::{cli, inventory, Error, Outcome};
use grantguard_sim as sim;
use std::io::Write;

pub(crate) async fn sim_command(args: cli::SimArgs) -> Result<Outcome, Error> {
    let args = match args.command {
        cli::SimCommand::Serve(args) => args,
        cli::SimCommand::Generate(args) => return sim_generate_command(args),
    };
    if !args.listen.ip().is_loopback() && !args.listen_beyond_loopback {
        return Err(Error::ListenBeyondLoopback { addr: args.listen });
    }
    let fixture = match &args.fixture {
        Some(path) => sim::Fixture::from_path(path).map_err(EmulatorError::new)?,
        None => sim::Fixture::from_json(crate::demo::DEMO_FIXTURE).map_err(EmulatorError::new)?,
    };
    let credential = fixture.credentials.first().cloned();
    let region = fixture.region.clone();
    let faults = sim::Faults {
        latency_ms: args.latency_ms,
        qps: args.qps,
        throttle_rate: args.throttle_rate,
        error_rate: args.error_rate,
        seed: args.seed,
        max_consecutive_faults: args.max_consecutive_faults,
        clock_offset_secs: args.clock_offset,
        sts_expire_after: args.sts_expire_after,
        fail: fault_rules("fail", &args.fail)?,
        corrupt: fault_rules("corrupt", &args.corrupt)?,
        oversize: fault_rules("oversize", &args.oversize)?,
        reset: fault_rules("reset", &args.reset)?,
        slowloris: fault_rules("slowloris", &args.slowloris)?,
        hang: fault_rules("hang", &args.hang)?,
        drop_before_apply: fault_rules("drop-before-apply", &args.drop_before_apply)?,
        apply_then_drop: fault_rules("apply-then-drop", &args.apply_then_drop)?,
        // The ModifyVpcAccessAndUpdateApis task faults are set in the fixture's "faults".
        update_fail: Default::default(),
        update_never_finishes: false,
    };
    let options = sim::SimOptions {
        faults,
        log_path: args.log.clone(),
        ..sim::SimOptions::default()
    };
    let serve = sim::serve(fixture, options, args.listen, |addr| {
        let mut out = std::io::stdout().lock();
        // Tests and scripts read this first line to find the port.
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = writeln!(out, "{}", exports(credential.as_ref(), &region, addr));
        let _ = out.flush();
    });
    tokio::select! {
        result = serve => result.map_err(EmulatorError::new)?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Outcome::Clear)
}

/// The second line of `sim serve`: the shell line that points grantguard at this emulator with
/// the fixture's first credential (the emulator's own test keys, never a key from its
/// environment), or, for a fixture without one, where the emulator takes keys from instead.
fn exports(
    credential: Option<&sim::FixtureCredential>,
    region: &str,
    addr: std::net::SocketAddr,
) -> String {
    let Some(credential) = credential else {
        return "# the fixture has no credentials: the emulator accepts the \
                ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET of its own environment"
            .to_owned();
    };
    let mut vars = vec![
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            credential.access_key_id.as_str(),
        ),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            credential.access_key_secret.as_str(),
        ),
    ];
    if let Some(token) = &credential.security_token {
        vars.push(("ALIBABA_CLOUD_SECURITY_TOKEN", token));
    }
    let endpoint = format!("http://{addr}/");
    vars.push(("ALIBABA_CLOUD_REGION_ID", region));
    vars.push(("GRANTGUARD_ENDPOINT", &endpoint));
    let assignments: Vec<String> = vars
        .iter()
        .map(|(name, value)| format!("{name}={}", shell_word(value)))
        .collect();
    format!("export {}", assignments.join(" "))
}

/// `value` as one POSIX shell word: bare when it holds only safe characters, else single-quoted.
fn shell_word(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-:/@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Parses the `--FLAG ACTION[:ID]=VALUE` rules of `sim serve`.
pub(crate) fn fault_rules<T>(flag: &'static str, rules: &[String]) -> Result<Vec<T>, Error>
where
    T: std::str::FromStr<Err = sim::faults::RuleError>,
{
    rules
        .iter()
        .map(|rule| {
            rule.parse()
                .map_err(|e: sim::faults::RuleError| Error::FaultRule {
                    flag,
                    rule: rule.clone(),
                    message: e.to_string(),
                })
        })
        .collect()
}

/// `sim generate`: a synthetic fixture (or, hidden, the snapshot a walk of it would read).
pub(crate) fn sim_generate_command(args: cli::SimGenerateArgs) -> Result<Outcome, Error> {
    let options = sim::generate::GenerateOptions {
        groups: args.groups,
        apis_per_group: args.apis_per_group,
        stages: usize::from(args.stages),
        grants: args.grants,
        vpc_share: args.vpc_share,
        seed: args.seed,
    };
    if args.snapshot {
        let inventory = super::sim_snapshot::inventory(&options);
        return match &args.output {
            Some(path) => {
                inventory::snapshot::save(&inventory, path)?;
                Ok(Outcome::Clear)
            }
            None => {
                emit(None, |out| {
                    serde_json::to_writer_pretty(&mut *out, &inventory)
                        .map_err(std::io::Error::other)?;
                    out.write_all(b"\n")
                })?;
                Ok(Outcome::Clear)
            }
        };
    }
    let text = sim::generate::fixture_json(&options);
    emit(args.output.as_ref(), |out| out.write_all(text.as_bytes()))?;
    Ok(Outcome::Clear)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_line_quotes_what_the_shell_would_split_and_names_the_endpoint() {
        let credential = sim::FixtureCredential {
            access_key_id: "LTAI5tKey".into(),
            access_key_secret: "it's a $ecret".into(),
            security_token: None,
        };
        let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let line = exports(Some(&credential), "cn-hangzhou", addr);
        assert_eq!(
            line,
            "export ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5tKey \
             ALIBABA_CLOUD_ACCESS_KEY_SECRET='it'\\''s a $ecret' \
             ALIBABA_CLOUD_REGION_ID=cn-hangzhou GRANTGUARD_ENDPOINT=http://127.0.0.1:8080/"
        );
        let none = exports(None, "cn-hangzhou", addr);
        assert!(none.starts_with("# ") && !none.contains("export"), "{none}");
    }
}
