//! docs/fault-model.md P3: the parsers of untrusted input never panic, whatever the bytes: the service's
//! error envelope and every response model (through the client's own `decode`), the journal
//! reader, the aliyun credentials profile file, the emulator's fixture format, the inventory
//! snapshot, the config file, the `--cache` file and the `--terraform` readers (state JSON and
//! `.tf` files, rendered as a diagnostic too). Inputs are arbitrary bytes, arbitrary JSON trees
//! built from the vendor's key names (so the lenient number/bool and list-wrapper paths are
//! reached), valid documents cut or corrupted at a random offset, and the fuzz targets'
//! committed seeds (`fuzz/seeds/TARGET`, replayed on the stable toolchain; the targets
//! themselves need nightly: scripts/fuzz.sh). A damaged file's error, rendered as the binary
//! prints it, stays short.

use grantguard::client::transport::decode;
use grantguard::config::Config;
use grantguard::inventory::{cache, snapshot, RegionId};
use grantguard::removal::journal;
use grantguard::rules::Catalog;
use grantguard_sim::Fixture;
use grantguard_wire::models::*;
use proptest::prelude::*;
use serde_json::Value;

/// Key names the response models read, so random trees exercise real fields.
const KEYS: &[&str] = &[
    "RequestId",
    "Code",
    "Message",
    "HostId",
    "Recommend",
    "TotalCount",
    "PageSize",
    "PageNumber",
    "VpcAccessAttributes",
    "VpcAccessAttribute",
    "VpcAccessId",
    "Name",
    "VpcId",
    "InstanceId",
    "Port",
    "Description",
    "VpcTargetHostName",
    "ApiSummarys",
    "ApiSummary",
    "ApiId",
    "ApiName",
    "GroupId",
    "GroupName",
    "DeployedInfos",
    "DeployedInfo",
    "StageName",
    "EffectiveVersion",
    "DeployedStatus",
    "ServiceConfig",
    "VpcConfig",
    "VpcEnable",
    "ServiceProtocol",
    "ServiceAddress",
    "Apis",
    "Api",
    "ApiHisItems",
    "ApiHisItem",
    "HistoryVersion",
    "Status",
    "DeployedTime",
    "ModifiedTime",
    "CreatedTime",
    "ApiGroupAttributes",
    "ApiGroupAttribute",
    "StageItems",
    "StageInfo",
    "BackendInfoList",
    "BackendInfo",
    "BackendId",
    "BackendName",
    "BackendType",
    "BackendConfig",
    "BackendModels",
    "BackendModel",
    "StageModeId",
    "Tag",
    "TagList",
    "Items",
    "Regions",
    "Region",
    "RegionId",
    "ApiVpcAccessInfos",
    "ApiVpcAccessInfo",
    "ServiceVpcEnable",
    "Mode",
    "BackendEnable",
];

fn json_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9 .:-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("80"),
            Just("TRUE"),
            Just("false"),
            Just(""),
            Just("-1"),
            Just("1e99")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// `decode` of every response model; a failure must be an `Err`, never a panic.
fn decode_every_model(bytes: &[u8]) {
    macro_rules! each {
        ($($t:ty),* $(,)?) => {
            $( let _ = decode::<$t>(stringify!($t), bytes, None); )*
        };
    }
    each!(
        ErrorBody,
        DescribeRegionsResponse,
        DescribeApiGroupsResponse,
        DescribeApiGroupResponse,
        DescribeApisResponse,
        ApiDefinition,
        DescribeDeployedApisResponse,
        ApiHistoriesResponse,
        DescribeApisByVpcAccessResponse,
        DescribeVpcAccessesResponse,
        SetVpcAccessResponse,
        RemoveVpcAccessResponse,
        OperationResponse,
        DescribeAbolishApiTaskResponse,
        DescribeUpdateVpcInfoTaskResponse,
        DescribeBackendListResponse,
        DescribeBackendInfoResponse,
        DescribeApisByBackendResponse,
    );
    let _ = serde_json::from_slice::<ErrorBody>(bytes);
}

/// `text` cut at `cut` and with the byte at `flip` replaced by `with`.
fn damaged(text: &[u8], cut: usize, flip: usize, with: u8) -> Vec<u8> {
    let mut bytes = text[..cut % (text.len() + 1)].to_vec();
    if !bytes.is_empty() {
        let at = flip % bytes.len();
        bytes[at] = with;
    }
    bytes
}

fn fixture_text() -> &'static str {
    include_str!("fixtures/basic-account.json")
}

/// Two valid journal lines from the crate's own encoder: what the damage starts from.
fn journal_sample() -> Vec<u8> {
    let line = |state| {
        journal::encode(&journal::Record::outcome(
            "entry-1",
            state,
            journal::Detail::default(),
        ))
    };
    format!(
        "{}{}",
        line(journal::State::NotRemoved),
        line(journal::State::Done)
    )
    .into_bytes()
}

/// The aliyun config file at a temp HOME holding `bytes`, resolved for profile `p`.
fn resolve_profile(bytes: &[u8]) {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".aliyun");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("config.json");
    std::fs::write(&file, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let env = |_: &str| None::<String>;
    let _ = grantguard::credentials::resolve(Some("p"), &env, Some(home.path()));
    let _ = grantguard::credentials::resolve(None, &env, Some(home.path()));
}

/// What `main` prints for an error is at most this long, whatever the input.
const SHORT: usize = 4096;

/// `error` as `main` prints it is short.
fn assert_short(error: impl miette::Diagnostic + Send + Sync + 'static) {
    let rendered = format!("{:?}", miette::Report::new(error));
    assert!(
        rendered.len() < SHORT,
        "{} bytes: {rendered}",
        rendered.len()
    );
}

/// A small snapshot `scan` could have written.
fn snapshot_text() -> &'static str {
    include_str!("../fuzz/seeds/snapshot/small.json")
}

/// The snapshot readers on `bytes`: from a file (as `audit --inventory` and the cache read
/// it) and from text; they agree, and an error is short.
fn read_snapshot(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, bytes).unwrap();
    let from_file = snapshot::load(&path);
    let loads = from_file.is_ok();
    if let Err(error) = from_file {
        assert_short(error);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        match snapshot::parse(text, &path) {
            Ok(_) => assert!(loads, "parse and load disagree"),
            Err(error) => {
                assert!(!loads, "parse and load disagree");
                assert_short(error);
            }
        }
    }
}

/// `bytes` as the config file; an error is short.
fn read_config(bytes: &[u8]) {
    let catalog = Catalog::builtin();
    let text = String::from_utf8_lossy(bytes);
    if let Err(error) = Config::parse(&text, "grantguard.json", catalog.docs()) {
        assert_short(error);
    }
}

/// `bytes` as the cn-hangzhou file of a `--cache` directory: used only when it is that
/// region's inventory; otherwise a reason on one short line.
fn read_cache(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let region = RegionId::from("cn-hangzhou".to_owned());
    std::fs::write(cache::path_for(dir.path(), &region), bytes).unwrap();
    match cache::load(dir.path(), &region) {
        Ok(inventory) => assert_eq!(inventory.region, region),
        Err(miss) => {
            let reason = miss.to_string();
            assert!(reason.len() < SHORT && !reason.contains('\n'), "{reason}");
        }
    }
}

/// `bytes` as a fixture (`sim serve --fixture`); an error is short.
fn read_fixture(bytes: &[u8]) {
    if let Err(error) = Fixture::from_json(&String::from_utf8_lossy(bytes)) {
        assert_short(error);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_and_cache_readers_survive_arbitrary_and_damaged_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cut in any::<usize>(), flip in any::<usize>(), with in any::<u8>(),
    ) {
        read_snapshot(&bytes);
        let text = damaged(snapshot_text().as_bytes(), cut, flip, with);
        read_snapshot(&text);
        read_cache(&text);
    }

    #[test]
    fn config_parser_survives_arbitrary_and_damaged_text(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        cut in any::<usize>(), flip in any::<usize>(), with in any::<u8>(),
    ) {
        read_config(&bytes);
        let full = include_bytes!("../fuzz/seeds/config/full.json");
        read_config(&damaged(full, cut, flip, with));
    }

    #[test]
    fn models_and_error_envelope_survive_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_every_model(&bytes);
    }

    #[test]
    fn models_survive_arbitrary_vendor_shaped_json(tree in json_tree()) {
        decode_every_model(&serde_json::to_vec(&tree).unwrap());
    }

    #[test]
    fn journal_reader_survives_arbitrary_and_damaged_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cut in any::<usize>(), flip in any::<usize>(), with in any::<u8>(),
    ) {
        let contents = journal::parse(&bytes);
        prop_assert!(contents.records.len() <= bytes.iter().filter(|b| **b == b'\n').count());
        let sample = journal_sample();
        let originals = journal::parse(&sample).records;
        let contents = journal::parse(&damaged(&sample, cut, flip, with));
        // A damaged line is never read as a record: whatever is read is an original one.
        prop_assert!(contents.records.len() <= 2);
        for record in &contents.records {
            prop_assert!(originals.contains(record), "a damaged line was read: {record:?}");
        }
    }

    #[test]
    fn profile_file_parser_survives_arbitrary_and_damaged_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        tree in json_tree(),
        cut in any::<usize>(), flip in any::<usize>(), with in any::<u8>(),
    ) {
        resolve_profile(&bytes);
        resolve_profile(&serde_json::to_vec(&serde_json::json!({
            "current": "p", "profiles": [tree]
        })).unwrap());
        let valid = br#"{"current":"p","profiles":[{"name":"p","mode":"AK","access_key_id":"LTAIx","access_key_secret":"y","region_id":"cn-hangzhou"}]}"#;
        resolve_profile(&damaged(valid, cut, flip, with));
    }

    #[test]
    fn fixture_parser_survives_arbitrary_and_damaged_text(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cut in any::<usize>(), flip in any::<usize>(), with in any::<u8>(),
    ) {
        read_fixture(&bytes);
        read_fixture(&damaged(fixture_text().as_bytes(), cut, flip, with));
    }

    #[test]
    fn terraform_readers_survive_arbitrary_and_damaged_text(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cut in any::<usize>(), flip in any::<usize>(), with in any::<u8>(),
    ) {
        let arbitrary = String::from_utf8_lossy(&bytes).into_owned();
        for (tf, state) in [
            (arbitrary.clone(), arbitrary),
            (
                String::from_utf8_lossy(&damaged(TF_SAMPLE.as_bytes(), cut, flip, with)).into_owned(),
                String::from_utf8_lossy(&damaged(grantguard::demo::DEMO_TERRAFORM_STATE.as_bytes(), cut, flip, with)).into_owned(),
            ),
        ] {
            let folder = grantguard::terraform::Folder {
                shown_as: "infra".into(),
                files: vec![("main.tf".into(), tf)],
            };
            if let Err(error) = grantguard::terraform::read_configuration(&folder) {
                let _ = format!("{:?}", miette::Report::new(error));
            }
            if let Err(error) = grantguard::terraform::read_state("s.json", &state) {
                let _ = format!("{:?}", miette::Report::new(error));
            }
        }
    }
}

/// A configuration with every construct the reader resolves.
const TF_SAMPLE: &str = grantguard::demo::DEMO_TERRAFORM[0].1;

#[test]
fn the_undamaged_samples_parse() {
    // The seeds the damage starts from are valid, so the properties above really do cut into
    // working documents.
    assert!(Fixture::from_json(fixture_text()).is_ok());
    assert!(grantguard::demo::demo_terraform().is_ok());
    let contents = journal::parse(&journal_sample());
    assert_eq!((contents.records.len(), contents.damaged.len()), (2, 0));
    // Cut anywhere inside the second line, the first record survives and the second is
    // never read as `done`.
    let sample = journal_sample();
    let first = sample.iter().position(|b| *b == b'\n').unwrap() + 1;
    for cut in first..sample.len() {
        let contents = journal::parse(&sample[..cut]);
        assert_eq!(contents.records.len(), 1, "cut at {cut}");
        assert_eq!(contents.records[0].state, journal::State::NotRemoved);
    }
}

/// The fuzz targets' seeds, and any regression input saved beside them, through the same
/// checks on the stable toolchain: every damaged-file parser the targets cover.
#[test]
fn the_fuzz_seeds_replay_without_a_panic() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    /// A fuzz target's name (its seeds' folder) and the reader it drives.
    type Target = (&'static str, fn(&[u8]));
    let targets: [Target; 5] = [
        ("snapshot", read_snapshot),
        ("cache", read_cache),
        ("config", read_config),
        ("fixture", read_fixture),
        ("journal_line", |bytes| {
            let _ = journal::entries(&journal::parse(bytes).records);
        }),
    ];
    for (target, read) in targets {
        let files: Vec<_> = std::fs::read_dir(seeds.join(target))
            .unwrap_or_else(|e| panic!("fuzz/seeds/{target}: {e}"))
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(files.len() >= 3, "{target}: {} seeds", files.len());
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            read(&bytes);
            // Each seed cut in half, and as one huge single line, too.
            read(&bytes[..bytes.len() / 2]);
            let one_line: Vec<u8> = bytes
                .iter()
                .map(|&b| if b == b'\n' { b' ' } else { b })
                .collect();
            read(&one_line.repeat(8));
        }
    }
    // The seeds really are what they say: the valid ones load.
    read_snapshot(snapshot_text().as_bytes());
    assert!(snapshot::parse(snapshot_text(), std::path::Path::new("s")).is_ok());
    let full = std::str::from_utf8(include_bytes!("../fuzz/seeds/config/full.json")).unwrap();
    assert!(Config::parse(full, "full.json", Catalog::builtin().docs()).is_ok());
}
