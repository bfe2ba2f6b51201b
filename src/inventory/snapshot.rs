//! Inventory ⇄ snapshot file. `scan --output` writes one atomically (a temporary file in the
//! same folder, fsync'd, then renamed), so a crash never leaves half a snapshot behind;
//! `audit --inventory` reads one back. A snapshot whose schema tag is not ours is refused before
//! anything else is read, and a damaged one is reported at the line and column it breaks.

use super::model::{Inventory, SCHEMA};
use miette::{NamedSource, SourceOffset, SourceSpan};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    #[error("{path} is not a valid inventory: {message}")]
    #[diagnostic(
        code(grantguard::snapshot::malformed),
        help("the snapshot is damaged or was edited; take a new one with `grantguard scan --output FILE`")
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the field path.
        message: String,
        /// The file's text.
        #[source_code]
        source_code: NamedSource<String>,
        /// Where.
        #[label("here")]
        at: SourceSpan,
    },
}

/// Writes `inventory` to `path` atomically.
pub fn save(inventory: &Inventory, path: &Path) -> Result<(), SnapshotError> {
    let io = |source| SnapshotError::Io {
        verb: "write",
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile_in(&dir, path).map_err(io)?;
    let result = (|| {
        serde_json::to_writer_pretty(&mut tmp.1, inventory).map_err(std::io::Error::other)?;
        tmp.1.write_all(b"\n")?;
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
/// The file is parsed as it streams in, so a large snapshot is never held as text next to
/// the inventory built from it. Only a snapshot that fails to parse is read again as text,
/// to name the schema it has or to point at the line and column where it breaks.
pub fn load(path: &Path) -> Result<Inventory, SnapshotError> {
    let io = |source| SnapshotError::Io {
        verb: "read",
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    match serde_json::from_reader::<_, Checked>(reader) {
        Ok(checked) => Ok(checked.into_inventory()),
        Err(error) if error.is_io() => Err(io(std::io::Error::other(error))),
        Err(_) => {
            let text = std::fs::read_to_string(path).map_err(io)?;
            parse(&text, path)
        }
    }
}

/// The schema tag, refused the moment it is read (it is the first field `save` writes), so a
/// newer snapshot stops the streaming parse before anything else of it is built.
struct SchemaTag;

impl<'de> serde::Deserialize<'de> for SchemaTag {
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

/// [`Inventory`] with its schema checked while streaming; the other fields move over as
/// they are.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Checked {
    #[allow(dead_code)] // Only its check matters.
    schema: SchemaTag,
    #[serde(with = "time::serde::rfc3339")]
    taken_at: time::OffsetDateTime,
    region: super::model::RegionId,
    grants: Vec<super::model::Grant>,
    groups: Vec<super::model::Group>,
    drafts: Vec<super::model::ApiDraft>,
    deployments: Vec<super::model::Deployment>,
    history: Vec<super::model::HistoricalVersion>,
    backends: Vec<super::model::Backend>,
    index: Vec<super::model::IndexedUse>,
    gaps: Vec<super::model::Gap>,
}

impl Checked {
    fn into_inventory(self) -> Inventory {
        Inventory {
            schema: SCHEMA.to_owned(),
            taken_at: self.taken_at,
            region: self.region,
            grants: self.grants,
            groups: self.groups,
            drafts: self.drafts,
            deployments: self.deployments,
            history: self.history,
            backends: self.backends,
            index: self.index,
            gaps: self.gaps,
        }
    }
}

/// Parses snapshot text; `path` only names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Inventory, SnapshotError> {
    let malformed = |message: String, line: usize, column: usize| SnapshotError::Malformed {
        path: path.to_owned(),
        message,
        source_code: NamedSource::new(path.display().to_string(), text.to_owned()),
        at: SourceSpan::new(
            SourceOffset::from_location(text, line.max(1), column.max(1)),
            1,
        ),
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
            matches!(&err, SnapshotError::Malformed { at, .. } if at.offset() > 0),
            "{err:?}"
        );
        let missing = load(&dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, SnapshotError::Io { .. }), "{missing:?}");
    }
}
