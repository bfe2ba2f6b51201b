//! Every credential source and profile mode against the emulator's STS and ECS metadata
//! endpoints: RamRoleArn, ChainableRamRoleArn, EcsRamRole (profile and chain step), expiry
//! and refresh, unsupported modes, and `whoami` through the real binary.

mod common;
use common::*;
use grantguard::client::{Client, ClientConfig, Endpoint};
use grantguard::credentials::{self, CredentialsError, Provider, Source};
use grantguard_wire::actions;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

const ROLE: &str = "acs:ram::1234567890:role/grantguard-audit";

/// A temp HOME with an aliyun config whose profiles use the fixture's key as source.
fn home_with_profiles(sim: &TestSim) -> Home {
    let (id, secret, _) = credential(sim);
    let config = serde_json::json!({
        "current": "role",
        "profiles": [
            {"name": "ak", "mode": "AK", "access_key_id": id, "access_key_secret": secret, "region_id": "cn-hangzhou"},
            {"name": "role", "mode": "RamRoleArn", "access_key_id": id, "access_key_secret": secret,
             "ram_role_arn": ROLE, "ram_session_name": "audit-session", "expired_seconds": 900, "region_id": "cn-hangzhou"},
            {"name": "chain", "mode": "ChainableRamRoleArn", "source_profile": "role", "ram_role_arn": ROLE},
            {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "EcsAuditRole"},
            {"name": "loop-a", "mode": "ChainableRamRoleArn", "source_profile": "loop-b", "ram_role_arn": ROLE},
            {"name": "loop-b", "mode": "ChainableRamRoleArn", "source_profile": "loop-a", "ram_role_arn": ROLE},
            {"name": "sso", "mode": "CloudSSO"}
        ]
    });
    let home = Home::new();
    let dir = home.path().join(".aliyun");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    home
}

fn env_for(sim: &TestSim, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("GRANTGUARD_STS_ENDPOINT".into(), sim.url());
    env.insert("GRANTGUARD_ECS_METADATA_ENDPOINT".into(), sim.url());
    env
}

async fn chain(
    profile: Option<&str>,
    env: &HashMap<String, String>,
    home: &Home,
) -> Result<credentials::Resolved, CredentialsError> {
    let lookup = |name: &str| env.get(name).cloned();
    credentials::resolve_chain(profile, &lookup, Some(home.path())).await
}

fn client(sim: &TestSim, provider: Provider) -> Client {
    let mut config = ClientConfig::new(Endpoint::parse(&sim.url()).unwrap());
    config.qps = 0.0;
    config.max_attempts = 1;
    Client::with_provider(config, provider).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ram_role_arn_assumes_the_role_and_the_key_works() {
    let sim = start("basic-account.json");
    let home = home_with_profiles(&sim);
    let env = env_for(&sim, &[]);
    let resolved = chain(Some("role"), &env, &home).await.unwrap();
    assert!(matches!(
        &resolved.source,
        Source::ProfileRole { mode, role, .. } if mode == "RamRoleArn" && role == ROLE
    ));
    assert!(resolved.credentials.access_key_id.starts_with("STS."));
    assert!(resolved.credentials.has_security_token());
    assert!(resolved.expires_at.is_some() && resolved.refresher.is_some());
    let assumed: Vec<_> = sim
        .log()
        .into_iter()
        .filter(|r| r.action == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 1);
    assert_eq!(
        assumed[0].access_key_id.as_deref(),
        Some(sim.credential.access_key_id.as_str()),
        "signed with the profile's own key"
    );
    assert_eq!(assumed[0].method, "GET");
    let grants = client(&sim, resolved.provider())
        .pages(actions::DescribeVpcAccesses::default())
        .await
        .unwrap();
    assert!(!grants.is_empty());
    let last = sim.log().pop().unwrap();
    assert_eq!(
        last.access_key_id,
        Some(resolved.credentials.access_key_id.clone())
    );

    // The current profile is `role`, so the chain without --profile gets there too.
    let resolved = chain(None, &env, &home).await.unwrap();
    assert!(matches!(resolved.source, Source::ProfileRole { ref name, .. } if name == "role"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chainable_role_assumes_twice_with_the_first_role_as_source() {
    let sim = start("basic-account.json");
    let home = home_with_profiles(&sim);
    let resolved = chain(Some("chain"), &env_for(&sim, &[]), &home)
        .await
        .unwrap();
    let assumed: Vec<_> = sim
        .log()
        .into_iter()
        .filter(|r| r.action == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 2);
    assert!(
        assumed[1]
            .access_key_id
            .as_deref()
            .unwrap()
            .starts_with("STS."),
        "the second AssumeRole is signed with the first role's key"
    );
    client(&sim, resolved.provider())
        .pages(actions::DescribeVpcAccesses::default())
        .await
        .unwrap();

    let err = chain(Some("loop-a"), &env_for(&sim, &[]), &home)
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialsError::ProfileCycle { .. }));
    let err = chain(Some("sso"), &env_for(&sim, &[]), &home)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CloudSSO"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_role_from_a_profile_and_as_the_last_step_of_the_chain() {
    let sim = start("basic-account.json");
    let home = home_with_profiles(&sim);
    sim.set_ecs_role(Some("EcsAuditRole"));
    let resolved = chain(Some("ecs"), &env_for(&sim, &[]), &home)
        .await
        .unwrap();
    assert!(resolved.credentials.access_key_id.starts_with("STS."));
    client(&sim, resolved.provider())
        .pages(actions::DescribeVpcAccesses::default())
        .await
        .unwrap();

    // No key, no profile file: the chain ends at the metadata service and discovers the role.
    let empty = Home::new();
    let resolved = chain(None, &env_for(&sim, &[]), &empty).await.unwrap();
    assert_eq!(resolved.source, Source::EcsMetadata { role: None });
    assert!(sim
        .log()
        .iter()
        .any(|r| r.action == "ecs-metadata" && r.method == "PUT"));

    // Disabled, or no role attached: no credentials.
    let disabled = env_for(&sim, &[("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")]);
    assert!(matches!(
        chain(None, &disabled, &empty).await.unwrap_err(),
        CredentialsError::Missing { .. }
    ));
    sim.set_ecs_role(None);
    assert!(matches!(
        chain(None, &env_for(&sim, &[]), &empty).await.unwrap_err(),
        CredentialsError::Missing { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_are_refused_and_refreshed_before_expiry() {
    let sim = start("basic-account.json");
    let home = home_with_profiles(&sim);
    let resolved = chain(Some("role"), &env_for(&sim, &[]), &home)
        .await
        .unwrap();
    let first = resolved.credentials.clone();
    let refresher = resolved.refresher.clone().unwrap();
    let expires = resolved.expires_at.unwrap();

    // Well before expiry the same key is used.
    let now = time::OffsetDateTime::now_utc();
    let same = refresher.current_at(now).await;
    assert_eq!(same.access_key_id, first.access_key_id);
    assert_eq!(refresher.refreshes(), 0);

    // The service refuses the key once it has expired.
    sim.expire_issued();
    let stale = client(&sim, Provider::Static(first.clone()))
        .read(&actions::DescribeApiGroups::default())
        .await
        .unwrap_err();
    assert_eq!(stale.code, "InvalidSecurityToken.Expired");

    // Inside the refresh window a new key is fetched, and it works.
    let fresh = refresher
        .current_at(expires - time::Duration::seconds(30))
        .await;
    assert_ne!(fresh.access_key_id, first.access_key_id);
    assert_eq!(refresher.refreshes(), 1);
    assert_eq!(sim.issued_count(), 2);
    client(&sim, Provider::Refreshing(refresher.clone()))
        .read(&actions::DescribeApiGroups::default())
        .await
        .unwrap();
}

#[test]
fn whoami_with_a_role_profile_shows_the_role_and_expiry_but_no_secret() {
    let sim = start("basic-account.json");
    let home = home_with_profiles(&sim);
    let out = bare(&home)
        .env("GRANTGUARD_ENDPOINT", sim.url())
        .env("GRANTGUARD_STS_ENDPOINT", sim.url())
        .args(["whoami", "--profile", "role"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("(RamRoleArn acs:ram::1234567890:role/grantguard-audit)"),
        "{text}"
    );
    assert!(text.contains("(with STS token)"), "{text}");
    assert!(text.contains("expires:"), "{text}");
    assert!(text.contains("cn-hangzhou (from profile role)"), "{text}");
    assert_no_secret(&sim, &[&text, &stderr(&out)]);
    assert!(
        !text.contains("simsecret") && !text.contains("simtoken"),
        "{text}"
    );

    // The STS override is loopback-only for plain HTTP.
    let out = bare(&home)
        .env("GRANTGUARD_STS_ENDPOINT", "http://sts.example.com/")
        .args(["whoami", "--profile", "role"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("GRANTGUARD_STS_ENDPOINT"),
        "{}",
        stderr(&out)
    );
}

/// The provider chain's AssumeRole goes through the client: a dropped connection is retried,
/// signed afresh (a new nonce), and the chain still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_assume_role_is_retried_and_re_signed_by_the_client() {
    let faults = grantguard_sim::Faults {
        drop_before_apply: vec!["AssumeRole=1".parse().unwrap()],
        ..Default::default()
    };
    let sim = faulted("basic-account.json", faults);
    let home = home_with_profiles(&sim);
    let resolved = chain(Some("role"), &env_for(&sim, &[]), &home)
        .await
        .unwrap();
    assert!(resolved.credentials.access_key_id.starts_with("STS."));
    let assumed: Vec<_> = sim
        .log()
        .into_iter()
        .filter(|r| r.action == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 2, "one dropped, one served");
    assert_eq!(assumed[0].status, 0, "the first got no answer");
    assert_eq!(assumed[1].status, 200);
    assert!(assumed.iter().all(|r| r.method == "GET"));
    assert_ne!(
        assumed[0].nonce, assumed[1].nonce,
        "each attempt is signed afresh"
    );
    assert_eq!(sim.issued_count(), 1);
}

/// A 5xx from STS is retried up to the exchange's limit, then named with its attempts; a
/// refusal (NoPermission) is not retried. Neither message holds the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_failures_are_classified_by_the_client() {
    for (code, attempts) in [("ServiceUnavailable", 3), ("NoPermission", 1)] {
        let faults = grantguard_sim::Faults {
            fail: vec![format!("AssumeRole={code}").parse().unwrap()],
            ..Default::default()
        };
        let sim = faulted("basic-account.json", faults);
        let home = home_with_profiles(&sim);
        let err = chain(Some("role"), &env_for(&sim, &[]), &home)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                CredentialsError::Exchange {
                    service: "STS AssumeRole",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(text.contains(code), "{text}");
        let suffix = if attempts == 1 { "" } else { "s" };
        assert!(
            text.contains(&format!("after {attempts} attempt{suffix}")),
            "{text}"
        );
        let sent = sim
            .log()
            .into_iter()
            .filter(|r| r.action == "AssumeRole")
            .count();
        assert_eq!(sent, attempts, "{code}");
        assert_no_secret(&sim, &[&text, &format!("{err:?}")]);
    }
}
