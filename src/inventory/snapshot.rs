//! Inventory ⇄ snapshot file. `scan --output` writes one atomically (a temporary file in the
//! same folder, fsync'd, then renamed), so a crash never leaves half a snapshot behind;
//! `audit --inventory` reads one back. A snapshot whose schema tag is not ours is refused before
//! anything else is read, and a damaged one is reported at the line and column it breaks.

use super::model::{
    ApiDraft, ApiIdentity, ApiRef, Backend, Deployment, Gap, Grant, Group, HistoricalVersion,
    IndexedUse, Inventory, RegionId, SCHEMA,
};
use miette::{SourceOffset, SourceSpan};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

mod reader;

/// A snapshot that could not be written or read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SnapshotError {
    /// The file could not be read or written.
    #[error("cannot {verb} snapshot {path}: {source}")]
    #[diagnostic(code(grantguard::snapshot::io))]
    Io {
        /// "read" or "write".
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a grantguard inventory of a schema we know.
    #[error("{path} has schema {found:?}, this grantguard reads {SCHEMA:?}")]
    #[diagnostic(
        code(grantguard::snapshot::schema),
        help("take a new snapshot with `grantguard scan --output FILE`, or use the grantguard version that wrote this one")
    )]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema tag found (or a description of its absence).
        found: String,
    },
    /// The file is not valid JSON or does not have the inventory's shape.
    #[error("{path} is not a valid inventory at {position}: {message}")]
    #[diagnostic(
        code(grantguard::snapshot::malformed),
        help("the snapshot is damaged or was edited; take a new one with `grantguard scan --output FILE`")
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the field path.
        message: String,
        /// Where, in words (line, column, byte).
        position: String,
        /// The file, shown as a short window around the error (never the file).
        #[source_code]
        source_code: crate::excerpt::Clipped,
        /// Where.
        #[label("here")]
        at: SourceSpan,
    },
}

/// Writes `inventory` to `path` atomically, or straight through when `path` is something
/// other than a regular file (a FIFO, `/dev/null`): renamed over, it would be replaced.
pub fn save(inventory: &Inventory, path: &Path) -> Result<(), SnapshotError> {
    let io = |source| SnapshotError::Io {
        verb: "write",
        path: path.to_owned(),
        source,
    };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        return write_compact(inventory, file).map_err(io);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile_in(&dir, path).map_err(io)?;
    let result = (|| {
        write_compact(inventory, &mut tmp.1)?;
        tmp.1.sync_all()?;
        std::fs::rename(&tmp.0, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp.0);
    }
    result.map_err(io)
}

/// The snapshot's bytes. Compact: a snapshot is for machines (`jq .` shows it to people), and
/// whitespace would be a third of a large one.
fn write_compact(inventory: &Inventory, to: impl std::io::Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, to);
    serde_json::to_writer(&mut out, inventory).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let stem = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("inventory");
    let tmp = dir.join(format!(".{stem}.{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    Ok((tmp, file))
}

/// Reads a snapshot, refusing unknown schemas and reporting damage where it is.
///
/// The file is read as it streams in, its large sections parsed on every core a batch at a
/// time ([`reader`]), so its text is never held whole beside the inventory. Only a snapshot
/// that this fast path does not take (a damaged one, or one whose fields were reordered by
/// hand) is read whole and parsed again, carefully, to name the schema it has or to point at
/// the line and column where it breaks.
pub fn load(path: &Path) -> Result<Inventory, SnapshotError> {
    // A pipe (`--inventory <(…)`) can be read once only: the careful reader must have it whole.
    let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if regular {
        if let Some(inventory) = reader::read(path) {
            return Ok(inventory);
        }
    }
    let io = |source| SnapshotError::Io {
        verb: "read",
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {at})"),
        ))
    })?;
    parse(&text, path)
}

/// The schema tag, refused the moment it is read (it is the first field `save` writes), so a
/// newer snapshot stops the parse before anything else of it is built.
struct SchemaTag;

impl<'de> Deserialize<'de> for SchemaTag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tag = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        if tag == SCHEMA {
            Ok(SchemaTag)
        } else {
            // The error path re-reads the file and reports the tag by name.
            Err(serde::de::Error::custom("another schema"))
        }
    }
}

/// Where a record's API identity sits in the snapshot's `apis` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiIndex(pub u32);

/// The snapshot as written: each distinct API identity once, in `apis`, and the records
/// pointing at it by position. A 100,000-API account has about six records per API, so this
/// keeps the file (and the inventory read back from it) a fraction of the size.
#[derive(Serialize)]
struct FileOut<'a> {
    schema: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    taken_at: OffsetDateTime,
    region: &'a RegionId,
    grants: &'a [Grant],
    groups: &'a [Group],
    apis: Vec<&'a ApiIdentity>,
    drafts: Indexed<'a, ApiDraft>,
    deployments: Indexed<'a, Deployment>,
    history: Indexed<'a, HistoricalVersion>,
    backends: &'a [Backend],
    index: &'a [IndexedUse],
    gaps: &'a [Gap],
}

/// Records written with their API as an index; each is converted as it is written, so the
/// whole section is never held twice.
struct Indexed<'a, T> {
    records: &'a [T],
    table: &'a HashMap<&'a ApiIdentity, ApiIndex>,
}

/// A record type whose API identity the snapshot writes as an index.
trait Record: Sized {
    /// The same record pointing at its API by index.
    type Indexed: Serialize;
    /// Its identity.
    fn api(&self) -> &ApiIdentity;
    /// A copy pointing at `index`.
    fn indexed(&self, index: ApiIndex) -> Self::Indexed;
}

/// The three record types differ only in their other fields, which `with_api` carries over.
macro_rules! record {
    ($($record:ident),*) => {$(
        impl Record for $record {
            type Indexed = $record<ApiIndex>;
            fn api(&self) -> &ApiIdentity {
                &self.api
            }
            fn indexed(&self, index: ApiIndex) -> $record<ApiIndex> {
                self.clone().with_api(index)
            }
        }

        impl Linkable for $record<ApiIndex> {
            type Linked = $record;
            fn api_index(&self) -> ApiIndex {
                self.api
            }
            fn link(self, api: ApiRef) -> $record {
                self.with_api(api)
            }
        }
    )*};
}

/// A record as a snapshot holds it, pointing at its API identity by position in `apis`.
trait Linkable: Sized {
    /// The same record holding its shared identity.
    type Linked;
    /// Where its identity is in `apis`.
    fn api_index(&self) -> ApiIndex;
    /// The record holding `api`.
    fn link(self, api: ApiRef) -> Self::Linked;
}

record!(ApiDraft, Deployment, HistoricalVersion);

impl<T: Record> Serialize for Indexed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.records.iter().map(|r| r.indexed(self.table[r.api()])))
    }
}

impl Serialize for Inventory {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Equal identities are written once, whether or not they share memory.
        let mut table: HashMap<&ApiIdentity, ApiIndex> = HashMap::new();
        let mut apis = Vec::new();
        let identities = (self.drafts.iter().map(|r| &*r.api))
            .chain(self.deployments.iter().map(|r| &*r.api))
            .chain(self.history.iter().map(|r| &*r.api));
        for api in identities {
            table.entry(api).or_insert_with(|| {
                apis.push(api);
                ApiIndex(u32::try_from(apis.len() - 1).expect("fewer than 4 billion APIs"))
            });
        }
        FileOut {
            schema: SCHEMA,
            taken_at: self.taken_at,
            region: &self.region,
            grants: &self.grants,
            groups: &self.groups,
            apis,
            drafts: Indexed {
                records: &self.drafts,
                table: &table,
            },
            deployments: Indexed {
                records: &self.deployments,
                table: &table,
            },
            history: Indexed {
                records: &self.history,
                table: &table,
            },
            backends: &self.backends,
            index: &self.index,
            gaps: &self.gaps,
        }
        .serialize(serializer)
    }
}

/// The snapshot as read, its schema checked while streaming.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[allow(dead_code)] // Only its check matters.
    schema: SchemaTag,
    #[serde(with = "time::serde::rfc3339")]
    taken_at: OffsetDateTime,
    region: RegionId,
    grants: Vec<Grant>,
    groups: Vec<Group>,
    apis: Vec<ApiIdentity>,
    drafts: Vec<ApiDraft<ApiIndex>>,
    deployments: Vec<Deployment<ApiIndex>>,
    history: Vec<HistoricalVersion<ApiIndex>>,
    backends: Vec<Backend>,
    index: Vec<IndexedUse>,
    gaps: Vec<Gap>,
}

impl FileIn {
    /// The inventory, each record pointing at its shared identity; an index outside `apis`
    /// is refused with the record that holds it.
    fn into_inventory(self) -> Result<Inventory, String> {
        let apis: Vec<ApiRef> = self.apis.into_iter().map(ApiRef::new).collect();
        let (mut drafts, mut deployments, mut history) = (Vec::new(), Vec::new(), Vec::new());
        relink(self.drafts, "drafts", &apis, &mut drafts)?;
        relink(self.deployments, "deployments", &apis, &mut deployments)?;
        relink(self.history, "history", &apis, &mut history)?;
        Ok(Inventory {
            schema: SCHEMA.to_owned(),
            taken_at: self.taken_at,
            region: self.region,
            grants: self.grants,
            groups: self.groups,
            drafts,
            deployments,
            history,
            backends: self.backends,
            index: self.index,
            gaps: self.gaps,
        })
    }
}

/// Appends `records` of `section` to `into`, each pointing at its shared identity; an index
/// outside `apis` is refused with the record that holds it (counted from the section's start,
/// which is where `into` ends).
fn relink<R: Linkable>(
    records: Vec<R>,
    section: &str,
    apis: &[ApiRef],
    into: &mut Vec<R::Linked>,
) -> Result<(), String> {
    into.reserve(records.len());
    for record in records {
        let index = record.api_index();
        let api = apis.get(index.0 as usize).cloned().ok_or_else(|| {
            format!(
                "{section}[{}].api is {}, but apis has {} entries",
                into.len(),
                index.0,
                apis.len()
            )
        })?;
        into.push(record.link(api));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Inventory {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FileIn::deserialize(deserializer)?
            .into_inventory()
            .map_err(serde::de::Error::custom)
    }
}

/// Parses snapshot text; `path` only names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Inventory, SnapshotError> {
    let malformed = |message: String, line: usize, column: usize| {
        let offset = SourceOffset::from_location(text, line.max(1), column.max(1)).offset();
        SnapshotError::Malformed {
            path: path.to_owned(),
            message: crate::excerpt::printable(&message, 300),
            position: crate::excerpt::position(text, offset),
            source_code: crate::excerpt::Clipped::new(&path.display().to_string(), text),
            at: SourceSpan::new(offset.into(), usize::from(offset < text.len())),
        }
    };
    // The schema tag is checked first, so a newer snapshot is refused for what it is rather
    // than for the first field this version does not know. Only the tag is kept from this
    // pass (the rest is skipped without being built), so a snapshot of a large account is not
    // held twice in memory.
    #[derive(serde::Deserialize)]
    struct Tag {
        #[serde(default)]
        schema: Option<serde_json::Value>,
    }
    let tag: Tag =
        serde_json::from_str(text).map_err(|e| malformed(e.to_string(), e.line(), e.column()))?;
    match tag.schema.as_ref().and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(SnapshotError::Schema {
                path: path.to_owned(),
                found: other.to_owned(),
            })
        }
        None => {
            return Err(SnapshotError::Schema {
                path: path.to_owned(),
                found: "no schema field".to_owned(),
            })
        }
    }
    // The fast path; only a damaged snapshot pays for tracking the field path.
    if let Ok(inventory) = serde_json::from_str(text) {
        return Ok(inventory);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let (line, column) = (e.inner().line(), e.inner().column());
        malformed(format!("at {}: {}", e.path(), e.inner()), line, column)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::model::*;

    fn sample() -> Inventory {
        let mut inv = Inventory::new(RegionId::from("cn-hangzhou"));
        inv.grants.push(Grant {
            id: VpcAccessId::from("va-1"),
            name: "orders".into(),
            key: GrantKey {
                vpc_id: "vpc-1".into(),
                instance_id: "i-1".into(),
                port: 80,
            },
            description: String::new(),
            vpc_target_host_name: String::new(),
            created_time: String::new(),
        });
        inv
    }

    #[test]
    fn a_saved_snapshot_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.json");
        let inv = sample();
        save(&inv, &path).unwrap();
        assert_eq!(load(&path).unwrap(), inv);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    fn with_records(mut inv: Inventory) -> Inventory {
        let api = |name: &str| ApiIdentity {
            group_id: "g-1".into(),
            group_name: "orders".into(),
            api_id: "api-1".into(),
            api_name: name.into(),
            method: "GET".into(),
            path: "/orders".into(),
        };
        let route = Route::Other;
        inv.drafts.push(ApiDraft {
            api: ApiRef::new(api("getOrder")),
            modified_time: String::new(),
            route: route.clone(),
        });
        for stage in [Stage::Release, Stage::Test] {
            inv.deployments.push(Deployment {
                api: ApiRef::new(api("getOrder")),
                stage,
                deployed_time: String::new(),
                effective_version: None,
                route: route.clone(),
            });
        }
        // Deployed under its old name: a different identity, kept as it was.
        inv.history.push(HistoricalVersion {
            api: ApiRef::new(api("getOrderOld")),
            stage: Stage::Release,
            version: "v0".into(),
            online: false,
            deployed_time: String::new(),
            route,
        });
        inv
    }

    #[test]
    fn each_identity_is_written_once_and_shared_when_read_back() {
        let inv = with_records(sample());
        let text = serde_json::to_string(&inv).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["apis"].as_array().unwrap().len(), 2, "{text}");
        assert_eq!(value["deployments"][1]["api"], 0);
        assert_eq!(value["history"][0]["api"], 1);
        let back = parse(&text, Path::new("snap.json")).unwrap();
        assert_eq!(back, inv);
        assert!(ApiRef::ptr_eq(
            &back.drafts[0].api,
            &back.deployments[1].api
        ));
        assert!(!ApiRef::ptr_eq(&back.drafts[0].api, &back.history[0].api));
    }

    #[test]
    fn equal_identities_built_apart_become_one_shared_value() {
        let mut inv = with_records(sample());
        assert!(!ApiRef::ptr_eq(&inv.drafts[0].api, &inv.deployments[0].api));
        let before = inv.clone();
        inv.share_identities();
        assert_eq!(inv, before, "only the sharing changes");
        assert!(ApiRef::ptr_eq(&inv.drafts[0].api, &inv.deployments[0].api));
        assert!(ApiRef::ptr_eq(&inv.drafts[0].api, &inv.deployments[1].api));
        assert!(!ApiRef::ptr_eq(&inv.drafts[0].api, &inv.history[0].api));
    }

    #[test]
    fn a_record_pointing_past_the_api_table_is_refused_by_name() {
        let text = serde_json::to_string(&with_records(sample()))
            .unwrap()
            .replace(r#""api":1,"#, r#""api":7,"#);
        let err = parse(&text, Path::new("snap.json")).unwrap_err();
        assert!(
            err.to_string()
                .contains("history[0].api is 7, but apis has 2 entries"),
            "{err}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused_by_name() {
        let text = serde_json::to_string(&sample())
            .unwrap()
            .replace(SCHEMA, "grantguard.inventory/v9");
        let err = parse(&text, Path::new("snap.json")).unwrap_err();
        assert!(
            matches!(&err, SnapshotError::Schema { found, .. } if found == "grantguard.inventory/v9")
        );
        assert!(err.to_string().contains("grantguard.inventory/v9"));
    }

    #[test]
    fn a_truncated_snapshot_is_reported_with_its_position() {
        let text = serde_json::to_string_pretty(&sample()).unwrap();
        let cut = &text[..text.len() / 2];
        let err = parse(cut, Path::new("snap.json")).unwrap_err();
        assert!(matches!(err, SnapshotError::Malformed { .. }), "{err:?}");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let text = serde_json::to_string(&sample()).unwrap().replacen(
            "\"grants\"",
            "\"grantz\":1,\"grants\"",
            1,
        );
        let err = parse(&text, Path::new("snap.json")).unwrap_err();
        assert!(err.to_string().contains("grantz"), "{err}");
    }

    #[test]
    fn load_refuses_a_file_that_is_not_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.bin");
        std::fs::write(&path, b"{\"schema\": \"\xff\xfe\"}").unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            matches!(&err, SnapshotError::Io { .. }) && err.to_string().contains("not UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn load_refuses_a_newer_schema_file_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json");
        let text = serde_json::to_string_pretty(&sample())
            .unwrap()
            .replace(SCHEMA, "grantguard.inventory/v9");
        std::fs::write(&path, text).unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            matches!(&err, SnapshotError::Schema { found, .. } if found == "grantguard.inventory/v9"),
            "{err:?}"
        );
    }

    #[test]
    fn load_reports_a_damaged_file_at_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json");
        let text = serde_json::to_string_pretty(&sample()).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            matches!(&err, SnapshotError::Malformed { position, .. } if position.contains("byte") && !position.contains("(byte 0)")),
            "{err:?}"
        );
        let missing = load(&dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, SnapshotError::Io { .. }), "{missing:?}");
    }

    /// The rich test account grown past several of the reader's batches, with names that
    /// need escapes and a gap.
    fn large_account() -> Inventory {
        use crate::inventory::testing::{api, deployment, gap, rich_account, vpc_by_name};
        let mut inv = rich_account();
        inv.gaps.push(gap(Some("apv-2")));
        for n in 0..25_000 {
            let name = format!("get\"{n}\\ü}}]");
            let route = if n % 3 == 0 {
                vpc_by_name("orders-vpc")
            } else {
                Route::Other
            };
            let stage = Stage::ALL[n % 3];
            inv.deployments.push(deployment(
                api(&format!("api-{n}"), &name, "GET", "/{x}[y]"),
                stage,
                route,
            ));
        }
        inv
    }

    #[test]
    fn the_streaming_reader_and_the_careful_one_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.json");
        let inv = large_account();
        save(&inv, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.len() > 3 << 20,
            "the account spans several batches: {}",
            text.len()
        );
        let streamed = reader::read(&path).expect("the fast path takes a snapshot save wrote");
        assert_eq!(streamed, inv);
        assert_eq!(parse(&text, &path).unwrap(), inv);
        // Whitespace anywhere JSON allows it.
        let pretty = serde_json::to_string_pretty(&inv).unwrap();
        std::fs::write(&path, pretty).unwrap();
        assert_eq!(reader::read(&path).expect("pretty"), inv);
    }

    #[test]
    fn a_snapshot_with_its_fields_in_another_order_loads_the_careful_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.json");
        let inv = large_account();
        let value = serde_json::to_value(&inv).unwrap();
        // The records before the identities they point at.
        let order = [
            "schema",
            "deployments",
            "taken_at",
            "region",
            "grants",
            "groups",
            "apis",
            "drafts",
            "history",
            "backends",
            "index",
            "gaps",
        ];
        let fields: Vec<String> = order
            .iter()
            .map(|k| format!("{:?}:{}", k, value[k]))
            .collect();
        std::fs::write(&path, format!("{{{}}}", fields.join(","))).unwrap();
        assert_eq!(reader::read(&path), None, "the fast path leaves it");
        assert_eq!(load(&path).unwrap(), inv);
    }

    #[test]
    fn the_streaming_reader_leaves_every_oddity_to_the_careful_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.json");
        let text = serde_json::to_string(&sample()).unwrap();
        for (what, odd) in [
            (
                "a field twice",
                text.replacen("\"gaps\":[]", "\"gaps\":[],\"gaps\":[]", 1),
            ),
            ("an unknown field", text.replacen("{", "{\"extra\":1,", 1)),
            ("a missing field", text.replacen(",\"gaps\":[]", "", 1)),
            ("text after the object", format!("{text} x")),
            ("a truncated file", text[..text.len() - 2].to_owned()),
            (
                "another schema",
                text.replace(SCHEMA, "grantguard.inventory/v9"),
            ),
        ] {
            assert_ne!(odd, text, "{what}: the test changed the text");
            std::fs::write(&path, &odd).unwrap();
            assert_eq!(reader::read(&path), None, "{what}");
            assert!(
                load(&path).is_err(),
                "{what}: refused, with the careful reader's words"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_damaged_snapshot_through_a_pipe_is_reported_where_it_breaks() {
        // Regression: the fast path read the pipe and left nothing for the careful reader,
        // which then reported an empty file at byte 0.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("snap.pipe");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path and a mode; no memory is shared.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let text = serde_json::to_string_pretty(&sample()).unwrap();
        let half = text[..text.len() / 2].to_owned();
        let writer = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::write(fifo, half).unwrap()
        });
        let err = load(&fifo).unwrap_err();
        writer.join().unwrap();
        assert!(
            matches!(&err, SnapshotError::Malformed { position, .. } if !position.contains("(byte 0)")),
            "{err:?}"
        );
    }
}
