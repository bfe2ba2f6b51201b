//! The incremental re-audit cache behind `audit --cache DIR`. In: a directory and a region.
//! Out: the inventory of the last successful walk of that region (one snapshot file per region,
//! `DIR/<region>.inventory.json`, in the ordinary snapshot format), and a way to replace it.
//!
//! The cache is only ever a hint: the walk reuses an entry only when a live listing proves it
//! unchanged (see `walk::walk_with_cache`). A cache that cannot be read, is damaged, has another
//! schema or another region is ignored with a warning, never trusted in part. It is written
//! atomically (temporary file, fsync, rename), so a crash leaves the previous cache or the new
//! one, never half of one. Removal must never use it.

use super::model::{Inventory, RegionId};
use super::snapshot::{self, SnapshotError};
use std::path::{Path, PathBuf};

/// Which rules turned the vendor's shapes into routes when a cache was written. A cached
/// draft, deployment or version is reused whole, route included, so a cache written before
/// the walk learned to read a shape differently (a VPC flag, a key of the wrong type) could
/// carry a route that is wrong today: bump this with every such change, and older caches are
/// not found (a full walk follows). 2: keyless VPC shapes became gaps.
pub const DERIVATION: u32 = 2;

/// The cache file of `region` in `dir`; characters a file name should not carry become `_`.
pub fn path_for(dir: &Path, region: &RegionId) -> PathBuf {
    let safe: String = region
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.d{DERIVATION}.inventory.json"))
}

/// Why a cache was not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheMiss {
    /// No cache yet: the first audit with this directory.
    #[error("no cache at {0}")]
    Absent(PathBuf),
    /// The file exists but is not a usable inventory of this region.
    #[error("ignoring the cache {path}: {reason}")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The cached inventory of `region`, or why there is none.
pub fn load(dir: &Path, region: &RegionId) -> Result<Inventory, CacheMiss> {
    let path = path_for(dir, region);
    if !path.exists() {
        return Err(CacheMiss::Absent(path));
    }
    let unusable = |reason: String| CacheMiss::Unusable {
        path: path.clone(),
        reason,
    };
    let inventory = snapshot::load(&path).map_err(|e| unusable(e.to_string()))?;
    if &inventory.region != region {
        return Err(unusable(format!(
            "it holds region {}, not {region}",
            inventory.region
        )));
    }
    Ok(inventory)
}

/// The cached inventory of `region`, or `None` after a warning when the cache is unusable.
pub fn load_or_warn(dir: &Path, region: &RegionId) -> Option<Inventory> {
    match load(dir, region) {
        Ok(inventory) => Some(inventory),
        Err(CacheMiss::Absent(path)) => {
            tracing::info!(path = %path.display(), "no cache yet; a full walk follows");
            None
        }
        Err(miss) => {
            tracing::warn!("{miss}; every definition is read live");
            None
        }
    }
}

/// Replaces the cache of the inventory's region atomically, creating `dir` when needed.
pub fn store(dir: &Path, inventory: &Inventory) -> Result<PathBuf, SnapshotError> {
    let path = path_for(dir, &inventory.region);
    std::fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
        verb: "write",
        path: path.clone(),
        source,
    })?;
    snapshot::save(inventory, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> RegionId {
        RegionId::from("cn-hangzhou")
    }

    #[test]
    fn a_stored_cache_reads_back_and_a_missing_one_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(dir.path(), &region()),
            Err(CacheMiss::Absent(_))
        ));
        let inventory = Inventory::new(region());
        let path = store(&dir.path().join("nested"), &inventory).unwrap();
        assert!(path.ends_with(format!("cn-hangzhou.d{DERIVATION}.inventory.json")));
        assert_eq!(
            load(&dir.path().join("nested"), &region()).unwrap(),
            inventory
        );
    }

    #[test]
    fn a_damaged_cache_is_ignored_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = store(dir.path(), &Inventory::new(region())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(matches!(
            load(dir.path(), &region()),
            Err(CacheMiss::Unusable { .. })
        ));
        assert!(load_or_warn(dir.path(), &region()).is_none());
    }

    #[test]
    fn a_cache_of_another_region_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let other = Inventory::new(RegionId::from("cn-shanghai"));
        let path = store(dir.path(), &other).unwrap();
        std::fs::rename(&path, path_for(dir.path(), &region())).unwrap();
        let miss = load(dir.path(), &region()).unwrap_err();
        assert!(miss.to_string().contains("cn-shanghai"), "{miss}");
    }

    #[test]
    fn a_cache_written_before_the_current_derivation_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let older = dir.path().join("cn-hangzhou.inventory.json");
        let inventory = Inventory::new(region());
        store(dir.path(), &inventory).unwrap();
        std::fs::rename(path_for(dir.path(), &region()), &older).unwrap();
        assert!(matches!(
            load(dir.path(), &region()),
            Err(CacheMiss::Absent(_))
        ));
    }

    #[test]
    fn a_region_cannot_escape_the_directory() {
        let path = path_for(Path::new("/c"), &RegionId::from("../../etc/x"));
        assert_eq!(
            path,
            Path::new(&format!("/c/______etc_x.d{DERIVATION}.inventory.json"))
        );
    }
}
