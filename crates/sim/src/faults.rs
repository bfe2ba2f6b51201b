//! Injected faults: latency, a QPS cap, random throttling and 5xx answers from a seeded RNG,
//! forced error codes per action and scope, and corrupted bodies. In: [`Faults`] (from the
//! fixture's `"faults"` object and/or [`super::SimOptions`]). Out: a decision per request.
//! Randomness comes only from the seed, so a run with the same seed and the same request
//! order answers the same way. It never decides anything about signatures.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

/// The fault settings. Every key is optional; the fixture's and the options' are merged,
/// the options winning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Delay before every answer, in milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Requests per second accepted; more → 400 `Throttling.User`.
    #[serde(default)]
    pub qps: Option<u32>,
    /// Share (0–1) of requests answered 400 `Throttling.User` at random.
    #[serde(default)]
    pub throttle_rate: Option<f64>,
    /// Share (0–1) of requests answered 503 `ServiceUnavailable` at random.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Seed of the random faults (default 0).
    #[serde(default)]
    pub seed: Option<u64>,
    /// At most this many random faults in a row for one call (the same action and parameters);
    /// its next attempt then goes through.
    #[serde(default)]
    pub max_consecutive_faults: Option<u32>,
    /// Forced errors, `ACTION[:SCOPE_ID]=CODE`.
    #[serde(default)]
    pub fail: Vec<FailRule>,
    /// Corrupted answers, `ACTION[:ID]=truncated-json|malformed-json|html|wrong-type`.
    #[serde(default)]
    pub corrupt: Vec<CorruptRule>,
    /// Shift of the emulator's clock in seconds (positive = the server is ahead).
    #[serde(default)]
    pub clock_offset_secs: Option<i64>,
    /// After this many authenticated calls carrying an STS token, every token is refused as
    /// `InvalidSecurityToken.Expired` (a token that expires mid-run).
    #[serde(default)]
    pub sts_expire_after: Option<u64>,
    /// Oversized 200 answers, `ACTION[:ID]=SIZE` (with Content-Length) or `SIZE,chunked`.
    #[serde(default)]
    pub oversize: Vec<OversizeRule>,
    /// Connections reset (TCP RST) after the head and 512 body bytes, `ACTION[:ID]=always|N`
    /// (the first N matching requests only).
    #[serde(default)]
    pub reset: Vec<ResetRule>,
    /// Slow answers (slowloris), `ACTION[:ID]=INTERVAL`: the head goes out at once, then the
    /// body one byte per INTERVAL (`2s`, `50ms`, or a number of milliseconds).
    #[serde(default)]
    pub slowloris: Vec<SlowRule>,
    /// Requests accepted and never answered (a hung server), `ACTION[:ID]=always|N`. The
    /// request is not served: a hung mutation changes nothing.
    #[serde(default)]
    pub hang: Vec<CountRule>,
    /// Requests received but not served, their connection dropped (RST) with no answer,
    /// `ACTION[:ID]=always|N`: for a mutation, the change was never applied.
    #[serde(default)]
    pub drop_before_apply: Vec<CountRule>,
    /// Requests served (a mutation is applied), then their connection dropped (RST) with no
    /// answer, `ACTION[:ID]=always|N`.
    #[serde(default)]
    pub apply_then_drop: Vec<CountRule>,
    /// APIs whose update by a ModifyVpcAccessAndUpdateApis task ends `FAILED`: API id or name,
    /// optionally `@STAGE`, mapped to the `ErrorMsg` DescribeUpdateVpcInfoTask reports.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub update_fail: std::collections::BTreeMap<String, String>,
    /// DescribeUpdateVpcInfoTask answers `RUNNING` for every API forever, and nothing is updated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub update_never_finishes: bool,
}

impl Faults {
    /// `self` with every key `over` sets taken from `over`; rule lists are concatenated.
    pub fn merged(mut self, over: &Faults) -> Faults {
        self.latency_ms = over.latency_ms.or(self.latency_ms);
        self.qps = over.qps.or(self.qps);
        self.throttle_rate = over.throttle_rate.or(self.throttle_rate);
        self.error_rate = over.error_rate.or(self.error_rate);
        self.seed = over.seed.or(self.seed);
        self.max_consecutive_faults = over.max_consecutive_faults.or(self.max_consecutive_faults);
        self.fail.extend(over.fail.iter().cloned());
        self.corrupt.extend(over.corrupt.iter().cloned());
        self.clock_offset_secs = over.clock_offset_secs.or(self.clock_offset_secs);
        self.sts_expire_after = over.sts_expire_after.or(self.sts_expire_after);
        self.oversize.extend(over.oversize.iter().cloned());
        self.reset.extend(over.reset.iter().cloned());
        self.slowloris.extend(over.slowloris.iter().cloned());
        self.hang.extend(over.hang.iter().cloned());
        self.drop_before_apply
            .extend(over.drop_before_apply.iter().cloned());
        self.apply_then_drop
            .extend(over.apply_then_drop.iter().cloned());
        self.update_fail.extend(over.update_fail.clone());
        self.update_never_finishes |= over.update_never_finishes;
        self
    }
}

/// A rule spelled `ACTION[:SCOPE_ID]=VALUE` could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
#[error("invalid fault rule {rule:?}: {why}")]
#[diagnostic(
    code(grantguard::sim::fault_rule),
    help("write ACTION=CODE or ACTION:SCOPE_ID=CODE, e.g. DescribeApis:GROUP_B=Forbidden.RAM")
)]
pub struct RuleError {
    /// The rule as written.
    pub rule: String,
    /// What is wrong.
    pub why: String,
}

fn split_rule(s: &str) -> Result<(String, Option<String>, String), RuleError> {
    let err = |why: &str| RuleError {
        rule: s.to_owned(),
        why: why.to_owned(),
    };
    let (lhs, value) = s.split_once('=').ok_or_else(|| err("missing '='"))?;
    let (action, scope) = match lhs.split_once(':') {
        Some((a, id)) => (a, Some(id.trim().to_owned())),
        None => (lhs, None),
    };
    let action = action.trim();
    if action.is_empty() || !action.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(err("the action must be a CloudAPI action name"));
    }
    if scope.as_deref() == Some("") {
        return Err(err("empty scope id after ':'"));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(err("empty value after '='"));
    }
    Ok((action.to_owned(), scope, value.to_owned()))
}

/// A forced error: requests for `action` (and, if given, mentioning `scope` as GroupId, ApiId,
/// BackendId or VpcName) are answered with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailRule {
    /// Action name.
    pub action: String,
    /// GroupId, ApiId, BackendId or VpcName the request must carry.
    pub scope: Option<String>,
    /// Error code to answer.
    pub code: String,
}

impl FailRule {
    /// HTTP status that fits the code: 403 for permission codes, 404 for not-found codes,
    /// 503/500 for server-side codes, 400 otherwise (throttling included, docs/cloudapi-notes.md §5).
    pub fn status(&self) -> u16 {
        status_for_code(&self.code)
    }
}

/// The HTTP status the real service uses (or most plausibly uses) for an error code.
pub fn status_for_code(code: &str) -> u16 {
    if code.starts_with("Forbidden") || code == "NoPermission" {
        403
    } else if code.contains("NotFound") || code.starts_with("NotFound") {
        404
    } else if code == "ServiceUnavailable" {
        503
    } else if code.starts_with("Internal") || code == "UnknownError" {
        500
    } else {
        400
    }
}

impl FromStr for FailRule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (action, scope, code) = split_rule(s)?;
        Ok(FailRule {
            action,
            scope,
            code,
        })
    }
}

impl fmt::Display for FailRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Some(s) => write!(f, "{}:{}={}", self.action, s, self.code),
            None => write!(f, "{}={}", self.action, self.code),
        }
    }
}

/// How a corrupted answer is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// 200 promising the full Content-Length, then the connection drops halfway.
    TruncatedJson,
    /// 200 `text/html` page instead of JSON.
    Html,
    /// Well-formed JSON with a value of the wrong type (a number replaced by a word).
    WrongType,
    /// 200 with a complete, honestly sized body that is the JSON cut off halfway: it arrives
    /// whole but does not parse (unlike `TruncatedJson`, whose connection drops).
    MalformedJson,
}

/// A corrupted answer for `action` (and, if given, the request mentioning `scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptRule {
    /// Action name.
    pub action: String,
    /// GroupId, ApiId, BackendId or VpcName the request must carry.
    pub scope: Option<String>,
    /// What to do to the body.
    pub corruption: Corruption,
}

impl FromStr for CorruptRule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (action, scope, value) = split_rule(s)?;
        let corruption =
            match value.as_str() {
                "truncated-json" => Corruption::TruncatedJson,
                "html" => Corruption::Html,
                "wrong-type" => Corruption::WrongType,
                "malformed-json" => Corruption::MalformedJson,
                _ => return Err(RuleError {
                    rule: s.to_owned(),
                    why:
                        "the corruption must be truncated-json, malformed-json, html or wrong-type"
                            .into(),
                }),
            };
        Ok(CorruptRule {
            action,
            scope,
            corruption,
        })
    }
}

impl fmt::Display for CorruptRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match self.corruption {
            Corruption::TruncatedJson => "truncated-json",
            Corruption::Html => "html",
            Corruption::WrongType => "wrong-type",
            Corruption::MalformedJson => "malformed-json",
        };
        match &self.scope {
            Some(s) => write!(f, "{}:{}={}", self.action, s, value),
            None => write!(f, "{}={}", self.action, value),
        }
    }
}

/// An oversized 200 answer for `action` (and, if given, the request mentioning `scope`):
/// a well-formed JSON object padded to `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizeRule {
    /// Action name.
    pub action: String,
    /// GroupId, ApiId, BackendId or VpcName the request must carry.
    pub scope: Option<String>,
    /// Body size in bytes.
    pub bytes: u64,
    /// Sent chunked, without Content-Length (the client only learns the size by reading).
    pub chunked: bool,
}

/// `50MiB`, `512KiB`, `1000` (bytes); `KiB`/`MiB`/`GiB` and `KB`/`MB`/`GB` are 1024-based.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

fn format_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => b.to_string(),
    }
}

impl FromStr for OversizeRule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (action, scope, value) = split_rule(s)?;
        let (size, chunked) = match value.split_once(',') {
            Some((size, "chunked")) => (size, true),
            Some(_) => {
                return Err(RuleError {
                    rule: s.to_owned(),
                    why: "the only option after the size is ',chunked'".into(),
                })
            }
            None => (value.as_str(), false),
        };
        let bytes = parse_size(size).ok_or_else(|| RuleError {
            rule: s.to_owned(),
            why: "the size must look like 50MiB, 512KiB or 1000".into(),
        })?;
        Ok(OversizeRule {
            action,
            scope,
            bytes,
            chunked,
        })
    }
}

impl fmt::Display for OversizeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = format!(
            "{}{}",
            format_size(self.bytes),
            if self.chunked { ",chunked" } else { "" }
        );
        match &self.scope {
            Some(s) => write!(f, "{}:{}={}", self.action, s, value),
            None => write!(f, "{}={}", self.action, value),
        }
    }
}

/// A fault for `action` (and, if given, the request mentioning `scope`) that applies to the
/// first `n` matching requests (`first: Some(n)`, a transient fault) or to every one (`None`):
/// `reset`, `hang`, `drop_before_apply` and `apply_then_drop` rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRule {
    /// Action name.
    pub action: String,
    /// GroupId, ApiId, BackendId or VpcName the request must carry.
    pub scope: Option<String>,
    /// How many matching requests to hit; `None` = all.
    pub first: Option<u32>,
}

/// A connection reset mid-body (`reset` rules): the head and 512 body bytes go out, then a
/// TCP RST.
pub type ResetRule = CountRule;

impl FromStr for CountRule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (action, scope, value) = split_rule(s)?;
        let first = match value.as_str() {
            "always" => None,
            "once" => Some(1),
            n => Some(n.parse().map_err(|_| RuleError {
                rule: s.to_owned(),
                why: "the value must be always, once or a number of requests".into(),
            })?),
        };
        Ok(ResetRule {
            action,
            scope,
            first,
        })
    }
}

impl fmt::Display for CountRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self
            .first
            .map_or_else(|| "always".to_owned(), |n| n.to_string());
        match &self.scope {
            Some(s) => write!(f, "{}:{}={}", self.action, s, value),
            None => write!(f, "{}={}", self.action, value),
        }
    }
}

/// A slow answer for `action` (and, if given, the request mentioning `scope`): the head at
/// once, then one body byte per `interval` (docs/fault-model.md A3, slowloris).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowRule {
    /// Action name.
    pub action: String,
    /// GroupId, ApiId, BackendId or VpcName the request must carry.
    pub scope: Option<String>,
    /// Pause before each body byte.
    pub interval: std::time::Duration,
}

impl FromStr for SlowRule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (action, scope, value) = split_rule(s)?;
        let interval = match value.parse::<u64>() {
            Ok(ms) => std::time::Duration::from_millis(ms),
            Err(_) => humantime::parse_duration(&value).map_err(|_| RuleError {
                rule: s.to_owned(),
                why: "the interval must look like 2s, 50ms or 2000 (milliseconds)".into(),
            })?,
        };
        if interval.is_zero() {
            return Err(RuleError {
                rule: s.to_owned(),
                why: "the interval must be longer than zero".into(),
            });
        }
        Ok(SlowRule {
            action,
            scope,
            interval,
        })
    }
}

impl fmt::Display for SlowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = format!("{}ms", self.interval.as_millis());
        match &self.scope {
            Some(s) => write!(f, "{}:{}={}", self.action, s, value),
            None => write!(f, "{}={}", self.action, value),
        }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(FailRule);
string_serde!(CorruptRule);
string_serde!(OversizeRule);
string_serde!(CountRule);
string_serde!(SlowRule);

fn matches(action: &str, scope: &Option<String>, req_action: &str, req_scopes: &[&str]) -> bool {
    action == req_action && scope.as_deref().is_none_or(|s| req_scopes.contains(&s))
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve normally.
    Pass,
    /// Answer 400 `Throttling.User` with `x-acs-retry-after: 5`.
    Throttle,
    /// Answer 503 `ServiceUnavailable`.
    Unavailable,
}

/// The mutable part of fault injection: the RNG, the streak counters and the QPS window.
#[derive(Debug)]
pub struct FaultState {
    faults: Faults,
    rng: StdRng,
    /// Random faults in a row, per logical call (the request minus its signature, nonce and
    /// timestamp), so `max_consecutive_faults` bounds the attempts of each call however the
    /// calls of a concurrent client interleave.
    streaks: std::collections::HashMap<String, u32>,
    window_start: Instant,
    window_count: u32,
    /// Matching requests seen per counted rule, by kind and index.
    seen: std::collections::HashMap<(Counted, usize), u32>,
}

/// The kinds of [`CountRule`] lists, for counting matching requests per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    /// `reset`.
    Reset,
    /// `hang`.
    Hang,
    /// `drop_before_apply`.
    DropBeforeApply,
    /// `apply_then_drop`.
    ApplyThenDrop,
}

impl FaultState {
    /// A fresh state for these settings.
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed.unwrap_or(0));
        FaultState {
            faults,
            rng,
            streaks: std::collections::HashMap::new(),
            window_start: Instant::now(),
            window_count: 0,
            seen: std::collections::HashMap::new(),
        }
    }

    /// The settings in force.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Decides throttling and random errors for the next request, in arrival order.
    pub fn decide(&mut self, now: Instant, call: &str) -> Verdict {
        if let Some(qps) = self.faults.qps {
            if now.duration_since(self.window_start).as_secs_f64() >= 1.0 {
                self.window_start = now;
                self.window_count = 0;
            }
            self.window_count += 1;
            if self.window_count > qps {
                return Verdict::Throttle;
            }
        }
        let throttle = self.faults.throttle_rate.unwrap_or(0.0);
        let error = self.faults.error_rate.unwrap_or(0.0);
        if throttle <= 0.0 && error <= 0.0 {
            return Verdict::Pass;
        }
        // Draw once per request whatever the outcome, so the sequence depends only on the seed
        // and the number of requests.
        let draw: f64 = self.rng.random();
        let verdict = if draw < throttle {
            Verdict::Throttle
        } else if draw < throttle + error {
            Verdict::Unavailable
        } else {
            Verdict::Pass
        };
        let streak = self.streaks.entry(call.to_owned()).or_insert(0);
        if verdict == Verdict::Pass {
            *streak = 0;
            return Verdict::Pass;
        }
        if self
            .faults
            .max_consecutive_faults
            .is_some_and(|max| *streak >= max)
        {
            *streak = 0;
            return Verdict::Pass;
        }
        *streak += 1;
        verdict
    }

    /// The forced error for this request, if a rule matches.
    pub fn forced_error(&self, action: &str, scopes: &[&str]) -> Option<&FailRule> {
        self.faults
            .fail
            .iter()
            .find(|r| matches(&r.action, &r.scope, action, scopes))
    }

    /// The corruption for this request, if a rule matches.
    pub fn corruption(&self, action: &str, scopes: &[&str]) -> Option<Corruption> {
        self.faults
            .corrupt
            .iter()
            .find(|r| matches(&r.action, &r.scope, action, scopes))
            .map(|r| r.corruption)
    }
}

impl FaultState {
    /// The oversize rule for this request, if one matches: (bytes, chunked).
    pub fn oversize(&self, action: &str, scopes: &[&str]) -> Option<(u64, bool)> {
        self.faults
            .oversize
            .iter()
            .find(|r| matches(&r.action, &r.scope, action, scopes))
            .map(|r| (r.bytes, r.chunked))
    }

    /// Whether to reset this request's connection mid-body (counts the request against the
    /// first matching `reset` rule).
    pub fn reset(&mut self, action: &str, scopes: &[&str]) -> bool {
        self.hit(Counted::Reset, action, scopes)
    }

    /// Whether a rule of `kind` applies to this request; counts the request against the first
    /// matching rule of that kind, which applies while its count lasts.
    pub fn hit(&mut self, kind: Counted, action: &str, scopes: &[&str]) -> bool {
        let rules = match kind {
            Counted::Reset => &self.faults.reset,
            Counted::Hang => &self.faults.hang,
            Counted::DropBeforeApply => &self.faults.drop_before_apply,
            Counted::ApplyThenDrop => &self.faults.apply_then_drop,
        };
        let Some(index) = rules
            .iter()
            .position(|r| matches(&r.action, &r.scope, action, scopes))
        else {
            return false;
        };
        let seen = self.seen.entry((kind, index)).or_insert(0);
        *seen += 1;
        rules[index].first.is_none_or(|n| *seen <= n)
    }

    /// The byte interval of the `slowloris` rule for this request, if one matches.
    pub fn slowloris(&self, action: &str, scopes: &[&str]) -> Option<std::time::Duration> {
        self.faults
            .slowloris
            .iter()
            .find(|r| matches(&r.action, &r.scope, action, scopes))
            .map(|r| r.interval)
    }
}

/// Replaces the first number in the body with a word (or, with no number, the first string
/// other than `RequestId` with an array), keeping the JSON well-formed but mistyped.
pub fn mistype(value: &mut serde_json::Value) -> bool {
    fn first_number(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(_) => {
                *v = serde_json::Value::String("not-a-number".into());
                true
            }
            serde_json::Value::Array(items) => items.iter_mut().any(first_number),
            serde_json::Value::Object(map) => map.values_mut().any(first_number),
            _ => false,
        }
    }
    fn first_string(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(map) => map.iter_mut().any(|(k, v)| match v {
                serde_json::Value::String(_) if k != "RequestId" => {
                    *v = serde_json::Value::Array(vec![]);
                    true
                }
                _ => first_string(v),
            }),
            serde_json::Value::Array(items) => items.iter_mut().any(first_string),
            _ => false,
        }
    }
    first_number(value) || first_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_print_back() {
        let r: FailRule = "DescribeApis:GROUP_B=Forbidden.RAM".parse().unwrap();
        assert_eq!(r.scope.as_deref(), Some("GROUP_B"));
        assert_eq!(r.status(), 403);
        assert_eq!(r.to_string(), "DescribeApis:GROUP_B=Forbidden.RAM");
        let r: FailRule = "DescribeApi=NotFoundApi".parse().unwrap();
        assert_eq!((r.scope.as_deref(), r.status()), (None, 404));
        let c: CorruptRule = "DescribeApi:API_X=truncated-json".parse().unwrap();
        assert_eq!(c.corruption, Corruption::TruncatedJson);
        let c: CorruptRule = "DescribeApi:API_X=malformed-json".parse().unwrap();
        assert_eq!(c.corruption, Corruption::MalformedJson);
        assert_eq!(c.to_string(), "DescribeApi:API_X=malformed-json");
        assert!("DescribeApi=garbage".parse::<CorruptRule>().is_err());
        assert!("DescribeApi".parse::<FailRule>().is_err());
    }

    #[test]
    fn oversize_and_reset_rules_parse_print_and_count() {
        let o: OversizeRule = "DescribeApis=50MiB".parse().unwrap();
        assert_eq!((o.bytes, o.chunked), (50 << 20, false));
        assert_eq!(o.to_string(), "DescribeApis=50MiB");
        let o: OversizeRule = "DescribeApis:G=2MiB,chunked".parse().unwrap();
        assert_eq!(
            (o.scope.as_deref(), o.bytes, o.chunked),
            (Some("G"), 2 << 20, true)
        );
        assert_eq!(o.to_string(), "DescribeApis:G=2MiB,chunked");
        assert!("DescribeApis=lots".parse::<OversizeRule>().is_err());
        assert!("DescribeApis=1MiB,gzip".parse::<OversizeRule>().is_err());
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));

        let r: ResetRule = "DescribeApi:A=once".parse().unwrap();
        assert_eq!(r.first, Some(1));
        assert_eq!(r.to_string(), "DescribeApi:A=1");
        assert!("DescribeApi=sometimes".parse::<ResetRule>().is_err());
        let mut s = FaultState::new(Faults {
            reset: vec![r, "RemoveVpcAccess=always".parse().unwrap()],
            ..Faults::default()
        });
        assert!(!s.reset("DescribeApi", &["B"]), "another API is not cut");
        assert!(s.reset("DescribeApi", &["A"]), "the first request is cut");
        assert!(!s.reset("DescribeApi", &["A"]), "the retry goes through");
        assert!((0..3).all(|_| s.reset("RemoveVpcAccess", &[])));
        let f: Faults =
            serde_json::from_str(r#"{"oversize":["DescribeApis=1MiB"],"reset":["DescribeApi=always"],"sts_expire_after":5}"#)
                .unwrap();
        assert_eq!(f.sts_expire_after, Some(5));
        assert_eq!(f.oversize.len() + f.reset.len(), 2);
    }

    #[test]
    fn raw_connection_rules_parse_print_and_count_per_kind() {
        let slow: SlowRule = "DescribeApi:A=2s".parse().unwrap();
        assert_eq!(slow.interval, std::time::Duration::from_secs(2));
        assert_eq!(slow.to_string(), "DescribeApi:A=2000ms");
        let slow: SlowRule = "DescribeApi=50".parse().unwrap();
        assert_eq!(slow.interval, std::time::Duration::from_millis(50));
        assert!("DescribeApi=0".parse::<SlowRule>().is_err());
        assert!("DescribeApi=slowly".parse::<SlowRule>().is_err());

        let f: Faults = serde_json::from_str(
            r#"{"slowloris":["DescribeApi:A=2s"],"hang":["DescribeApis=once"],
                "drop_before_apply":["RemoveVpcAccess=always"],"apply_then_drop":["SetVpcAccess=2"]}"#,
        )
        .unwrap();
        let mut s = FaultState::new(f.clone().merged(&Faults::default()));
        assert_eq!(
            s.slowloris("DescribeApi", &["A"]),
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(s.slowloris("DescribeApi", &["B"]), None);
        assert!(s.hit(Counted::Hang, "DescribeApis", &[]));
        assert!(!s.hit(Counted::Hang, "DescribeApis", &[]), "once");
        assert!((0..3).all(|_| s.hit(Counted::DropBeforeApply, "RemoveVpcAccess", &[])));
        assert!(!s.hit(Counted::ApplyThenDrop, "RemoveVpcAccess", &[]));
        assert!(s.hit(Counted::ApplyThenDrop, "SetVpcAccess", &[]));
        assert!(s.hit(Counted::ApplyThenDrop, "SetVpcAccess", &[]));
        assert!(!s.hit(Counted::ApplyThenDrop, "SetVpcAccess", &[]), "2");
        // Rules serialize back to the spelling they were read from.
        assert_eq!(
            serde_json::to_value(&f).unwrap()["apply_then_drop"][0],
            "SetVpcAccess=2"
        );
    }

    #[test]
    fn same_seed_same_faults_and_streaks_are_capped() {
        let faults = Faults {
            throttle_rate: Some(0.5),
            error_rate: Some(0.2),
            seed: Some(7),
            max_consecutive_faults: Some(2),
            ..Faults::default()
        };
        let now = Instant::now();
        let run = |f: &Faults| {
            let mut s = FaultState::new(f.clone());
            (0..200).map(|_| s.decide(now, "call")).collect::<Vec<_>>()
        };
        let a = run(&faults);
        assert_eq!(a, run(&faults));
        assert!(a.contains(&Verdict::Throttle) && a.contains(&Verdict::Unavailable));
        assert!(a.windows(3).all(|w| w.contains(&Verdict::Pass)));
        let other = run(&Faults {
            seed: Some(8),
            ..faults.clone()
        });
        assert_ne!(a, other);
    }

    #[test]
    fn qps_cap_throttles_the_excess_within_a_second() {
        let mut s = FaultState::new(Faults {
            qps: Some(2),
            ..Faults::default()
        });
        let now = Instant::now();
        let got: Vec<_> = (0..4).map(|_| s.decide(now, "call")).collect();
        assert_eq!(
            got,
            [
                Verdict::Pass,
                Verdict::Pass,
                Verdict::Throttle,
                Verdict::Throttle
            ]
        );
    }

    #[test]
    fn mistype_breaks_a_number() {
        let mut v = serde_json::json!({"RequestId": "x", "Items": [{"Port": 80}]});
        assert!(mistype(&mut v));
        assert_eq!(v["Items"][0]["Port"], "not-a-number");
        let mut v = serde_json::json!({"RequestId": "x", "VpcAccessId": "abc"});
        assert!(mistype(&mut v));
        assert!(v["VpcAccessId"].is_array());
    }
}
