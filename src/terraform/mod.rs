//! Terraform → what code declares about grants and APIs, read offline. In: the paths given
//! with `--terraform` (a state file of format version 4, `terraform show -json` output, or a
//! folder of `.tf` files read recursively with the local modules it calls), or the same as
//! text for the demo. Out: a [`Terraform`] value: the grants (`alicloud_api_gateway_vpc_access`)
//! and APIs (`alicloud_api_gateway_api`) it declares, each with its resource address and the
//! file and line it comes from, and the expressions that could not be resolved.
//!
//! It never runs terraform, never reads the network and never guesses: a value that is not a
//! literal, a module input given as a literal, a literal `for_each` key, or a reference to a
//! declared grant's `name` is recorded as [`Unresolved`] (docs/terraform.md).

mod hcl;
mod state;

use crate::inventory::Grant;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use hcl::read_configuration;
pub use state::read_state;

/// Where a declaration is written: a file (as the user named it, `/`-separated) and, for
/// configuration, the 1-based line of its `resource` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceLine {
    /// The file, relative to the working directory when it lies below it.
    pub file: String,
    /// The line, when known (configuration); a state file's resources have none.
    pub line: Option<u32>,
}

impl fmt::Display for SourceLine {
    /// `main.tf:42`, or the bare file name when there is no line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// Where Terraform says something: a recorded state or a configuration to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A configuration (`.tf` files): what the next apply makes true.
    Configuration,
    /// A state: what Terraform believes it created.
    State,
}

/// A grant's (VpcId, InstanceId, Port) as Terraform writes it; a part it could not resolve
/// is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredTuple {
    /// `vpc_id`.
    pub vpc_id: Option<String>,
    /// `instance_id`.
    pub instance_id: Option<String>,
    /// `port`.
    pub port: Option<u16>,
}

impl DeclaredTuple {
    /// True when every part is known.
    pub fn is_complete(&self) -> bool {
        self.key().is_some()
    }

    /// `(vpc_id, instance_id, port)`, when every part is known: the key a grant's tuple is
    /// looked up by.
    pub fn key(&self) -> Option<(&str, &str, u16)> {
        Some((
            self.vpc_id.as_deref()?,
            self.instance_id.as_deref()?,
            self.port?,
        ))
    }

    /// True when every part is known and equals `grant`'s.
    pub fn equals(&self, grant: &Grant) -> bool {
        self.vpc_id.as_deref() == Some(grant.key.vpc_id.as_str())
            && self.instance_id.as_deref() == Some(grant.key.instance_id.as_str())
            && self.port == Some(grant.key.port)
    }
}

impl fmt::Display for DeclaredTuple {
    /// `vpc/instance:port`, `?` for an unknown part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = self.port.map(|p| p.to_string());
        write!(
            f,
            "{}/{}:{}",
            self.vpc_id.as_deref().unwrap_or("?"),
            self.instance_id.as_deref().unwrap_or("?"),
            port.as_deref().unwrap_or("?")
        )
    }
}

/// One `alicloud_api_gateway_vpc_access` instance Terraform declares or recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredGrant {
    /// State or configuration.
    pub origin: Origin,
    /// Resource address, module path and instance key included:
    /// `module.edge.alicloud_api_gateway_vpc_access.this["orders"]`.
    pub address: String,
    /// Where it is written.
    pub source: SourceLine,
    /// `name`, when resolved.
    pub name: Option<String>,
    /// The tuple.
    pub tuple: DeclaredTuple,
}

/// How a declared grant names an account grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantMatch {
    /// The names are equal.
    pub by_name: bool,
    /// The full tuples are equal.
    pub by_tuple: bool,
}

impl DeclaredGrant {
    /// Whether this declaration is about `grant`: by name, or by the full tuple. The
    /// provider's own id is `name:vpc_id:instance_id:port`, so these are its keys too.
    pub fn matches(&self, grant: &Grant) -> Option<GrantMatch> {
        let by_name = self.name.as_deref() == Some(grant.name.as_str());
        let by_tuple = self.tuple.equals(grant);
        (by_name || by_tuple).then_some(GrantMatch { by_name, by_tuple })
    }
}

/// One `alicloud_api_gateway_api` instance that routes through a grant by name
/// (`http_vpc_service_config { name = … }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredApi {
    /// State or configuration.
    pub origin: Origin,
    /// Resource address.
    pub address: String,
    /// Where it is written.
    pub source: SourceLine,
    /// `name`, when resolved.
    pub name: Option<String>,
    /// The grant name of `http_vpc_service_config`, resolved.
    pub grant_name: String,
    /// `stage_names`: where Terraform publishes it. Empty: a definition only.
    pub stages: Vec<String>,
}

/// A value grantguard could not read without guessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The resource address.
    pub address: String,
    /// The attribute, e.g. `name` or `http_vpc_service_config.name`.
    pub attribute: String,
    /// The expression as written.
    pub expression: String,
    /// Where it is written.
    pub source: SourceLine,
}

/// Everything the `--terraform` inputs declare, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terraform {
    /// Declared or recorded grants.
    pub grants: Vec<DeclaredGrant>,
    /// Declared or recorded APIs that route through a grant by name.
    pub apis: Vec<DeclaredApi>,
    /// Values that could not be resolved.
    pub unresolved: Vec<Unresolved>,
}

impl Terraform {
    /// Adds what `other` declares.
    pub fn extend(&mut self, other: Terraform) {
        self.grants.extend(other.grants);
        self.apis.extend(other.apis);
        self.unresolved.extend(other.unresolved);
    }

    /// The declarations about `grant` (see [`TerraformIndex::grants_declaring`]).
    pub fn grants_declaring<'t>(&'t self, grant: &Grant) -> Vec<(&'t DeclaredGrant, GrantMatch)> {
        self.index().grants_declaring(grant)
    }

    /// The declarations indexed by grant name and tuple, and the APIs by grant name, so that
    /// asking for each of thousands of grants is not a scan of every declaration each time.
    pub fn index(&self) -> TerraformIndex<'_> {
        let mut index = TerraformIndex {
            grants: &self.grants,
            by_name: Default::default(),
            by_tuple: Default::default(),
            apis: Default::default(),
        };
        for (position, declared) in self.grants.iter().enumerate() {
            if let Some(name) = &declared.name {
                index.by_name.entry(name).or_default().push(position);
            }
            if let Some(key) = declared.tuple.key() {
                index.by_tuple.entry(key).or_default().push(position);
            }
        }
        for api in self.apis.iter().filter(|a| !a.stages.is_empty()) {
            index.apis.entry(&api.grant_name).or_default().push(api);
        }
        index
    }
}

/// [`Terraform`]'s declarations by key (see [`Terraform::index`]).
#[derive(Debug, Clone)]
pub struct TerraformIndex<'t> {
    grants: &'t [DeclaredGrant],
    /// Positions in `grants` per name and per full tuple.
    by_name: rustc_hash::FxHashMap<&'t str, Vec<usize>>,
    by_tuple: rustc_hash::FxHashMap<(&'t str, &'t str, u16), Vec<usize>>,
    apis: rustc_hash::FxHashMap<&'t str, Vec<&'t DeclaredApi>>,
}

impl<'t> TerraformIndex<'t> {
    /// The declarations about `grant`, by name or full tuple: configuration first, then in
    /// input order.
    pub fn grants_declaring(&self, grant: &Grant) -> Vec<(&'t DeclaredGrant, GrantMatch)> {
        let by_name = self.by_name.get(grant.name.as_str());
        let by_tuple = self.by_tuple.get(&tuple_of(grant));
        let mut positions: Vec<usize> = by_name
            .into_iter()
            .chain(by_tuple)
            .flatten()
            .copied()
            .collect();
        positions.sort_unstable();
        positions.dedup();
        let mut found: Vec<(&DeclaredGrant, GrantMatch)> = positions
            .into_iter()
            .filter_map(|p| {
                let declared = &self.grants[p];
                declared.matches(grant).map(|how| (declared, how))
            })
            .collect();
        // Stable: input order among the same origin.
        found.sort_by_key(|(d, _)| d.origin);
        found
    }

    /// The APIs published to at least one stage through a grant named `name`, each resource
    /// once (configuration before state): a `for_each` resource in the configuration and its
    /// instances in the state are one resource.
    pub fn apis_publishing_through(&self, name: &str) -> Vec<&'t DeclaredApi> {
        let mut found: Vec<&DeclaredApi> = self.apis.get(name).cloned().unwrap_or_default();
        found.sort_by_key(|a| a.origin);
        let mut seen = std::collections::BTreeSet::new();
        found.retain(|a| seen.insert((resource_of(&a.address), a.name.clone())));
        found
    }
}

/// An account grant's tuple as [`DeclaredTuple::key`] writes it.
pub fn tuple_of(grant: &Grant) -> (&str, &str, u16) {
    (
        grant.key.vpc_id.as_str(),
        grant.key.instance_id.as_str(),
        grant.key.port,
    )
}

/// A resource address without instance keys: `module.a["x"].t.n["k"]` → `module.a.t.n`.
pub fn resource_of(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in address.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted && depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A `--terraform` input that cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TerraformError {
    /// The path could not be read.
    #[error("cannot read Terraform input {path}")]
    #[diagnostic(
        code(grantguard::terraform::unreadable),
        help("--terraform takes a state file, `terraform show -json` output, or a folder of .tf files")
    )]
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A folder with no `.tf` file and no `terraform.tfstate` in it.
    #[error("{path} holds no Terraform files")]
    #[diagnostic(
        code(grantguard::terraform::empty_folder),
        help("name the folder of the root module (the one with the .tf files), or a state file")
    )]
    NoTerraformFiles {
        /// The folder.
        path: String,
    },
    /// One `.tf` file instead of its folder.
    #[error("{path} is one .tf file; --terraform takes the folder that holds it")]
    #[diagnostic(
        code(grantguard::terraform::tf_file),
        help("every .tf file of a folder belongs to one module, and modules are read through their calls: pass the folder, e.g. --terraform {folder}")
    )]
    TfFile {
        /// The file.
        path: String,
        /// Its folder.
        folder: String,
    },
    /// A `.tf` file that does not parse.
    #[error("{file} is not valid HCL: {message}")]
    #[diagnostic(
        code(grantguard::terraform::syntax),
        help("`terraform validate` in that folder shows the same mistake; grantguard reads the files as they are")
    )]
    Syntax {
        /// The file.
        file: String,
        /// What the parser said.
        message: String,
        /// The file's text.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("here ({position})")]
        at: miette::SourceSpan,
        /// The position in words.
        position: String,
    },
    /// A file that is not JSON, or JSON that is not a state.
    #[error("{file} is not a Terraform state: {message}")]
    #[diagnostic(
        code(grantguard::terraform::not_state),
        help("give a state file (`terraform state pull > state.json`), `terraform show -json` output, or a folder of .tf files")
    )]
    NotState {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
        /// The file's text.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("here ({position})")]
        at: miette::SourceSpan,
        /// The position in words.
        position: String,
    },
    /// A state of another format version than 4, or `show -json` output of another major
    /// format version than 1.
    #[error("{file} is state format version {found}; grantguard reads {wanted}")]
    #[diagnostic(
        code(grantguard::terraform::state_version),
        help("Terraform 0.12 and later write version 4; `terraform show -json` prints format_version 1.x. Upgrade the state with a current terraform, or give the .tf folder instead")
    )]
    StateVersion {
        /// The file.
        file: String,
        /// The version it has.
        found: String,
        /// The version read.
        wanted: &'static str,
        /// The file's text.
        #[source_code]
        src: Arc<crate::excerpt::Clipped>,
        /// Where.
        #[label("this version")]
        at: miette::SourceSpan,
    },
}

impl TerraformError {
    /// An error at byte `offset` of `text`, built by `make` from the clipped source, the span
    /// and the position in words.
    fn at(
        file: &str,
        text: &str,
        offset: usize,
        make: impl FnOnce(Arc<crate::excerpt::Clipped>, miette::SourceSpan, String) -> TerraformError,
    ) -> TerraformError {
        let offset = offset.min(text.len());
        make(
            Arc::new(crate::excerpt::Clipped::new(file, text)),
            miette::SourceSpan::from((offset, 0)),
            crate::excerpt::position(text, offset),
        )
    }
}

/// The name a path is shown under: relative to `cwd` when below it, `/`-separated, without
/// a leading `./`. SARIF needs repository-relative paths, and CI runs from the checkout.
fn shown(path: &Path, cwd: Option<&Path>) -> String {
    let relative = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    let text = relative
        .components()
        .filter(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::ParentDir
            )
        })
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if relative.has_root() {
        format!("/{text}")
    } else {
        text
    }
}

/// The `.tf` files of one configuration folder: paths relative to the folder
/// (`/`-separated) and their text.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    /// How the folder is shown (`infra`, or `` for the working directory).
    pub shown_as: String,
    /// `(relative path, text)` of every `.tf` file, sorted by path.
    pub files: Vec<(String, String)>,
}

impl Folder {
    /// The shown name of `relative` inside this folder.
    fn shown(&self, relative: &str) -> String {
        if self.shown_as.is_empty() {
            relative.to_owned()
        } else {
            format!("{}/{relative}", self.shown_as)
        }
    }
}

/// Reads every `--terraform` path: a folder's `.tf` files (and a `terraform.tfstate` at its
/// top, the local backend's state), or a state file.
pub fn load(paths: &[PathBuf]) -> Result<Terraform, TerraformError> {
    let cwd = std::env::current_dir().ok();
    let mut terraform = Terraform::default();
    for path in paths {
        let unreadable = |source| TerraformError::Unreadable {
            path: path.display().to_string(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(unreadable)?;
        if metadata.is_dir() {
            let mut folder = Folder {
                shown_as: shown(path, cwd.as_deref()),
                files: Vec::new(),
            };
            collect_tf_files(path, "", &mut folder.files).map_err(unreadable)?;
            folder.files.sort();
            let local_state = path.join("terraform.tfstate");
            let has_state = local_state.is_file();
            if folder.files.is_empty() && !has_state {
                return Err(TerraformError::NoTerraformFiles {
                    path: path.display().to_string(),
                });
            }
            if !folder.files.is_empty() {
                terraform.extend(read_configuration(&folder)?);
            }
            if has_state {
                let text = std::fs::read_to_string(&local_state).map_err(unreadable)?;
                terraform.extend(read_state(&shown(&local_state, cwd.as_deref()), &text)?);
            }
        } else if path.extension().is_some_and(|e| e == "tf") {
            let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
            return Err(TerraformError::TfFile {
                path: path.display().to_string(),
                folder: folder.map_or(".".into(), |f| f.display().to_string()),
            });
        } else {
            let text = std::fs::read_to_string(path).map_err(unreadable)?;
            terraform.extend(read_state(&shown(path, cwd.as_deref()), &text)?);
        }
    }
    Ok(terraform)
}

/// Collects the `.tf` files below `dir`, skipping `.terraform` (downloaded modules and
/// providers, not this configuration) and other hidden folders.
fn collect_tf_files(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, String)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !name.starts_with('.') {
                collect_tf_files(&entry.path(), &relative, files)?;
            }
        } else if name.ends_with(".tf") {
            files.push((relative, std::fs::read_to_string(entry.path())?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_without_instance_keys_is_its_resource() {
        assert_eq!(
            resource_of(r#"module.a["x[1]"].alicloud_api_gateway_vpc_access.this["orders"]"#),
            "module.a.alicloud_api_gateway_vpc_access.this"
        );
        assert_eq!(resource_of("t.n[0]"), "t.n");
    }

    #[test]
    fn paths_are_shown_relative_and_slash_separated() {
        let cwd = Path::new("/repo");
        assert_eq!(
            shown(Path::new("/repo/infra/main.tf"), Some(cwd)),
            "infra/main.tf"
        );
        assert_eq!(shown(Path::new("./infra"), Some(cwd)), "infra");
        assert_eq!(
            shown(Path::new("/elsewhere/s.json"), Some(cwd)),
            "/elsewhere/s.json"
        );
    }
}
