//! The default credentials chain through the binary and the emulator (docs/credentials.md):
//! the credentials ini file's types, the OIDC role step (AssumeRoleWithOIDC, its refresh
//! reading the token file again), the environment step's names, the credentials URI, a broken
//! step stopping the chain with a message naming it, and `whoami --format json`.

mod common;
use base64::Engine as _;
use common::*;
use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::{self, Outcome, Provider, Source, Step};
use grantguard_wire::actions;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const ROLE: &str = "acs:ram::1234567890:role/grantguard-audit";
const PROVIDER: &str = "acs:ram::1234567890:oidc-provider/ack-rrsa";
const ECS_ROLE: &str = "EcsAuditRole";

/// An OIDC token for `subject`, expiring `lifetime_s` from now (unsigned: the emulator checks
/// the claims only).
fn jwt(subject: &str, lifetime_s: i64) -> String {
    let part = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        part(
            serde_json::json!({"iss": "https://oidc.example.test", "sub": subject,
            "aud": "sts.aliyuncs.com", "iat": now, "exp": now + lifetime_s})
        )
    )
}

/// A diagnostic as one line: miette wraps to the terminal and draws a border.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn write(home: &Home, relative: &str, text: &str) -> PathBuf {
    let path = home.path().join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// `~/.alibabacloud/credentials.ini` with one section per type, the fixture's key as source.
fn home_with_ini(sim: &TestSim) -> Home {
    let (id, secret, _) = credential(sim);
    let home = Home::new();
    let token = write(&home, "token", &jwt("system:serviceaccount:audit:gg", 3600));
    write(
        &home,
        ".alibabacloud/credentials.ini",
        &format!(
            "[default]\ntype = access_key\naccess_key_id = {id}\naccess_key_secret = {secret}\n\n\
             [sts]\ntype = sts\naccess_key_id = STS.fixedIniKey\naccess_key_secret = s\nsecurity_token = t # a comment\n\n\
             [role]\ntype = ram_role_arn\naccess_key_id = {id}\naccess_key_secret = {secret}\nrole_arn = {ROLE}\nrole_session_name = ini-audit\n\n\
             [ecs]\ntype = ecs_ram_role\nrole_name = {ECS_ROLE}\n\n\
             [oidc]\ntype = oidc_role_arn\nrole_arn = {ROLE}\noidc_provider_arn = {PROVIDER}\noidc_token_file_path = {}\n\n\
             [rsa]\ntype = rsa_key_pair\npublic_key_id = x\n\n\
             [half]\ntype = access_key\naccess_key_id = {id}\n",
            token.display()
        ),
    );
    home
}

/// The binary with the emulator as API, STS and metadata endpoint, and the ECS step on.
fn chain_cmd(sim: &TestSim, home: &Home) -> assert_cmd::Command {
    let mut cmd = bare(home);
    cmd.env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .env("GRANTGUARD_STS_ENDPOINT", sim.url())
        .env("GRANTGUARD_ECS_METADATA_ENDPOINT", sim.url());
    cmd
}

fn whoami_json(cmd: &mut assert_cmd::Command) -> (serde_json::Value, String) {
    let out = cmd.args(["whoami", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (json(&out), stderr(&out))
}

/// Runs `whoami`, which must refuse (exit 2); its error as one line.
fn refused(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.arg("whoami").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    flat(&stderr(&out))
}

fn calls(sim: &TestSim, action: &str) -> Vec<grantguard_sim::CallRecord> {
    sim.log()
        .into_iter()
        .filter(|r| r.action == action)
        .collect()
}

#[test]
fn each_ini_type_through_the_binary() {
    let sim = start("basic-account.json");
    let home = home_with_ini(&sim);
    let (id, _, _) = credential(&sim);
    let masked = format!("****{}", &id[id.len() - 4..]);

    let (doc, err) = whoami_json(&mut chain_cmd(&sim, &home));
    assert_eq!(doc["source"]["step"], "credentials_file");
    assert_eq!(doc["access_key_id"], masked.as_str());
    assert_eq!(doc["security_token"], false);
    assert_no_secret(&sim, &[&doc.to_string(), &err]);
    assert!(sim.log().is_empty(), "an access_key section calls nothing");

    let (doc, _) = whoami_json(chain_cmd(&sim, &home).env("ALIBABA_CLOUD_PROFILE", "sts"));
    assert_eq!(doc["access_key_id"], "****iKey");
    assert_eq!(
        doc["security_token"], true,
        "the ` # comment` is not part of it"
    );

    let (doc, _) = whoami_json(chain_cmd(&sim, &home).env("ALIBABA_CLOUD_PROFILE", "role"));
    assert!(
        doc["source"]["description"]
            .as_str()
            .unwrap()
            .contains(&format!("(ram_role_arn {ROLE})")),
        "{doc}"
    );
    let assumed = calls(&sim, "AssumeRole");
    assert_eq!(assumed.len(), 1);
    assert_eq!(assumed[0].access_key_id.as_deref(), Some(id.as_str()));

    sim.set_ecs_role(Some(ECS_ROLE));
    let (doc, _) = whoami_json(chain_cmd(&sim, &home).env("ALIBABA_CLOUD_PROFILE", "ecs"));
    assert_eq!(doc["source"]["step"], "credentials_file");
    assert!(!calls(&sim, "ecs-metadata").is_empty());
    let err = refused(
        chain_cmd(&sim, &home)
            .env("ALIBABA_CLOUD_PROFILE", "ecs")
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
    );
    assert!(err.contains("ALIBABA_CLOUD_ECS_METADATA_DISABLED=true turns off"));

    let (doc, _) = whoami_json(chain_cmd(&sim, &home).env("ALIBABA_CLOUD_PROFILE", "oidc"));
    assert_eq!(doc["security_token"], true);
    assert_eq!(sim.oidc_subjects(), ["system:serviceaccount:audit:gg"]);

    for (section, expected) in [
        (
            "rsa",
            "has type rsa_key_pair, which grantguard does not support",
        ),
        ("half", "(type access_key) has no access_key_secret"),
    ] {
        let err = refused(chain_cmd(&sim, &home).env("ALIBABA_CLOUD_PROFILE", section));
        assert!(
            err.contains("credentials step 4 (credentials file)"),
            "{err}"
        );
        assert!(err.contains(expected), "{err}");
        assert_no_secret(&sim, &[&err]);
    }
}

#[test]
fn a_damaged_credentials_file_is_named_with_its_line_and_never_quoted() {
    let sim = start("basic-account.json");
    let home = Home::new();
    for (text, expected) in [
        (
            "[default\ntype = access_key\naccess_key_secret = TOPSECRET\n",
            "the file ends inside a section header at line 4, column 1",
        ),
        (
            "[default]\ntype = access_key\naccess_key_secret = TOPSECRET\n[default]\n",
            "section [default] appears more than once",
        ),
        (
            "[default]\ntype = access_key\naccess_key_secret = TOPSECRET\nACCESS_KEY_SECRET = x\n",
            "key `access_key_secret` of section [default] appears more than once",
        ),
    ] {
        write(&home, ".alibabacloud/credentials.ini", text);
        let err = refused(&mut chain_cmd(&sim, &home));
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
    }
}

/// Regression (issue 14): with an ini file and an instance role, grantguard signed as the
/// role; a broken section must stop the chain rather than fall through to it.
#[test]
fn the_ini_file_comes_before_the_instance_role_and_a_broken_section_stops_the_chain() {
    let sim = start("basic-account.json");
    let home = home_with_ini(&sim);
    sim.set_ecs_role(Some(ECS_ROLE));
    let (doc, _) = whoami_json(&mut chain_cmd(&sim, &home));
    assert_eq!(doc["source"]["step"], "credentials_file");
    assert!(calls(&sim, "ecs-metadata").is_empty());

    let err = refused(chain_cmd(&sim, &home).env("ALIBABA_CLOUD_PROFILE", "rsa"));
    for part in [
        "credentials step 4 (credentials file) is configured but failed",
        "supported types: access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn",
        "to skip this step, remove the section",
        "--profile NAME bypasses the chain",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(
        calls(&sim, "ecs-metadata").is_empty(),
        "stopped before the role"
    );

    // Without the file the chain reaches the role.
    std::fs::remove_file(home.path().join(".alibabacloud/credentials.ini")).unwrap();
    let (doc, _) = whoami_json(&mut chain_cmd(&sim, &home));
    assert_eq!(doc["source"]["step"], "ecs_ram_role");
    let steps: Vec<_> = doc["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["step"].as_str().unwrap(), a["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("environment", "skipped"),
            ("oidc_role", "skipped"),
            ("cli_profile", "skipped"),
            ("credentials_file", "skipped"),
            ("ecs_ram_role", "used"),
        ]
    );
}

/// Regression (issue 14): generic and older names formed the environment step and beat a
/// configured source; families were mixed.
#[test]
fn the_environment_step_reads_only_the_official_names() {
    let sim = start("basic-account.json");
    let home = home_with_ini(&sim);
    let (id, _, _) = credential(&sim);
    let (doc, err) = whoami_json(
        chain_cmd(&sim, &home)
            .env("ALICLOUD_ACCESS_KEY_ID", "LTAIalicloud0001")
            .env("ALICLOUD_ACCESS_KEY_SECRET", "alicloud-secret")
            .env("SECURITY_TOKEN", "stray-token"),
    );
    assert_eq!(doc["source"]["step"], "credentials_file");
    assert_eq!(doc["access_key_id"], format!("****{}", &id[id.len() - 4..]));
    assert_eq!(
        doc["security_token"], false,
        "the stray token is not attached"
    );
    assert_eq!(
        doc["ignored_variables"],
        serde_json::json!([
            "ALICLOUD_ACCESS_KEY_ID",
            "ALICLOUD_ACCESS_KEY_SECRET",
            "SECURITY_TOKEN"
        ])
    );
    let text = format!("{doc} {err}");
    assert!(!text.contains("alicloud-secret") && !text.contains("stray-token"));

    let err = refused(
        chain_cmd(&sim, &home)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIhalf0001")
            .env("ALICLOUD_ACCESS_KEY_SECRET", "alicloud-secret"),
    );
    assert!(
        err.contains("credentials step 1 (environment) is configured but failed: ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"),
        "{err}"
    );
    assert!(!err.contains("alicloud-secret"));
}

fn oidc_env(sim: &TestSim, token_file: &Path) -> HashMap<String, String> {
    [
        ("ALIBABA_CLOUD_ROLE_ARN", ROLE.to_owned()),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", PROVIDER.to_owned()),
        (
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("ALIBABA_CLOUD_ROLE_SESSION_NAME", "pod-session".to_owned()),
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".to_owned()),
        ("GRANTGUARD_STS_ENDPOINT", sim.url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The platform rotates the projected token: a refresh must send the file's new content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_role_refreshes_before_expiry_reading_the_token_file_again() {
    let sim = start("basic-account.json");
    let home = Home::new();
    let token_file = write(&home, "token", &jwt("pod-a", 3600));
    let env = oidc_env(&sim, &token_file);
    let lookup = |name: &str| env.get(name).cloned();
    let resolved = credentials::resolve_chain(None, &lookup, Some(home.path()))
        .await
        .unwrap();
    assert!(matches!(
        &resolved.source,
        Source::OidcRole { role_arn, .. } if role_arn == ROLE
    ));
    assert_eq!(resolved.trace[1].step, Step::OidcRole);
    assert_eq!(resolved.trace[1].outcome, Outcome::Used);
    let sent = calls(&sim, "AssumeRoleWithOIDC");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST", "the token travels in the form body");
    assert_eq!(sent[0].access_key_id, None, "unsigned");
    assert_eq!(sim.oidc_subjects(), ["pod-a"]);

    write(&home, "token", &jwt("pod-b", 3600));
    let refresher = resolved.refresher.clone().unwrap();
    let expires = resolved.expires_at.unwrap();
    let fresh = refresher
        .current_at(expires - time::Duration::seconds(30))
        .await;
    assert_ne!(
        fresh.access_key_id, resolved.credentials.access_key_id,
        "refreshed"
    );
    assert_eq!(sim.oidc_subjects(), ["pod-a", "pod-b"]);

    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).unwrap());
    config.qps = 0.0;
    config.max_attempts = 1;
    let client = Client::with_provider(config, Provider::Refreshing(refresher)).unwrap();
    client
        .pages(actions::DescribeVpcAccesses::default())
        .await
        .unwrap();
    assert_eq!(
        sim.log().pop().unwrap().access_key_id,
        Some(fresh.access_key_id)
    );
}

#[test]
fn a_failing_oidc_step_stops_the_chain_and_says_how_to_skip_it() {
    let sim = start("basic-account.json");
    let home = home_with_ini(&sim);
    let expired = jwt("pod-old", -60);
    let token_file = write(&home, "expired-token", &expired);
    let mut cases = vec![
        (
            token_file.clone(),
            "AuthenticationFail.OIDCToken.Expired".to_owned(),
        ),
        (
            home.path().join("no-such-token"),
            "cannot read the OIDC token file".to_owned(),
        ),
    ];
    let garbled = write(&home, "garbled-token", "not-a-jwt");
    cases.push((garbled, "AuthenticationFail.OIDCToken.Invalid".to_owned()));
    for (file, expected) in cases {
        let mut cmd = chain_cmd(&sim, &home);
        for (k, v) in oidc_env(&sim, &file) {
            cmd.env(k, v);
        }
        let err = refused(&mut cmd);
        assert!(
            err.contains("credentials step 2 (OIDC role) is configured but failed"),
            "{err}"
        );
        assert!(err.contains(&expected), "{expected}: {err}");
        assert!(
            err.contains("unset ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
            "{err}"
        );
        assert!(!err.contains(&expired), "the token is never shown");
    }

    // Two of the three variables: a half-configured step, not a skipped one.
    let err = refused(
        chain_cmd(&sim, &home)
            .env("ALIBABA_CLOUD_ROLE_ARN", ROLE)
            .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token_file),
    );
    assert!(err.contains("ALIBABA_CLOUD_OIDC_PROVIDER_ARN not"));
}

#[test]
fn the_credentials_uri_is_the_last_step_and_plain_http_only_to_loopback() {
    let sim = start("basic-account.json");
    let home = Home::new();
    sim.set_ecs_role(Some(ECS_ROLE));
    // The emulator's metadata answer has the shape a credentials URI answers with.
    let uri = format!(
        "{}latest/meta-data/ram/security-credentials/{ECS_ROLE}",
        sim.url()
    );
    let (doc, _) = whoami_json(
        chain_cmd(&sim, &home)
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .env("ALIBABA_CLOUD_CREDENTIALS_URI", &uri),
    );
    assert_eq!(doc["source"]["step"], "credentials_uri");
    assert_eq!(doc["security_token"], true);

    let err = refused(
        chain_cmd(&sim, &home)
            .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
            .env(
                "ALIBABA_CLOUD_CREDENTIALS_URI",
                "http://credentials.example.com/x",
            ),
    );
    assert!(
        err.contains("credentials step 6 (credentials URI)"),
        "{err}"
    );
    assert!(err.contains("unset ALIBABA_CLOUD_CREDENTIALS_URI"), "{err}");
}

#[test]
fn whoami_lists_every_step_tried_and_where_region_and_endpoint_came_from() {
    let sim = start("basic-account.json");
    let home = home_with_ini(&sim);
    let out = chain_cmd(&sim, &home)
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .arg("whoami")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "  1. skipped environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set",
        "  3. skipped aliyun CLI profile: no aliyun CLI config file",
        "  4. used    credentials file: section [default] of",
        "region:       cn-hangzhou (from ALIBABA_CLOUD_REGION_ID)",
        "(from GRANTGUARD_ENDPOINT)",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert_no_secret(&sim, &[&text, &stderr(&out)]);

    let (doc, _) = whoami_json(&mut chain_cmd(&sim, &home));
    assert_eq!(doc["schema"], "grantguard.whoami/v1");
    assert_eq!(doc["region"]["from"], "ALIBABA_CLOUD_REGION_ID");
    assert_eq!(doc["endpoint"]["from"], "GRANTGUARD_ENDPOINT");
    assert_eq!(doc["endpoint"]["value"], sim.url());
    assert_eq!(doc["chain"].as_array().unwrap().len(), 4);

    // Nothing anywhere: every step's reason, in order, in the error.
    let empty = Home::new();
    let out = bare(&empty)
        .env("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        .env("ALICLOUD_ACCESS_KEY_ID", "LTAIold")
        .args(["whoami", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = flat(&stderr(&out));
    assert!(err.contains("6. credentials URI:"), "{err}");
    assert!(
        err.contains("ALICLOUD_ACCESS_KEY_ID set but not read"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}
