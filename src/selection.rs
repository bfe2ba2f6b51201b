//! Which grants an audit looks at. In: an optional [`Selector`] from the command line and the
//! inventory's grants. Out: a [`Selection`] — every grant when there is no selector, the one
//! grant the selector names, or nothing plus the reason (no match: GG301; several: GG302).
//! Resolving never fails and never guesses: an ambiguous selector selects nothing.

use crate::inventory::{Grant, GrantKey, VpcAccessId};
use std::fmt;

/// How the operator named a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `--vpc-id V --instance-id I --port P`.
    Key(GrantKey),
    /// `--name NAME`.
    Name(String),
    /// `--vpc-access-id ID`.
    Id(VpcAccessId),
}

impl Selector {
    /// True when `grant` is the one this selector names.
    pub fn matches(&self, grant: &Grant) -> bool {
        match self {
            Selector::Key(key) => grant.key == *key,
            Selector::Name(name) => grant.name == *name,
            Selector::Id(id) => grant.id == *id,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Key(key) => write!(
                f,
                "--vpc-id {} --instance-id {} --port {}",
                key.vpc_id, key.instance_id, key.port
            ),
            Selector::Name(name) => write!(f, "--name {name}"),
            Selector::Id(id) => write!(f, "--vpc-access-id {id}"),
        }
    }
}

/// Why a selector selected nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No grant matches (GG301).
    NoSuchGrant(Selector),
    /// More than one grant matches (GG302); every candidate is kept.
    Ambiguous(Selector, Vec<Grant>),
}

/// The grants an audit covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    grants: Vec<Grant>,
    unresolved: Option<Unresolved>,
    everything: bool,
}

impl Selection {
    /// Every grant in `grants`.
    pub fn all(grants: &[Grant]) -> Selection {
        Selection {
            grants: grants.to_vec(),
            unresolved: None,
            everything: true,
        }
    }

    /// Resolves `selector` against `grants`; without a selector every grant is selected.
    pub fn resolve(selector: Option<&Selector>, grants: &[Grant]) -> Selection {
        let Some(selector) = selector else {
            return Selection::all(grants);
        };
        let matching: Vec<Grant> = grants
            .iter()
            .filter(|g| selector.matches(g))
            .cloned()
            .collect();
        let (grants, unresolved) = match matching.len() {
            0 => (Vec::new(), Some(Unresolved::NoSuchGrant(selector.clone()))),
            1 => (matching, None),
            _ => (
                Vec::new(),
                Some(Unresolved::Ambiguous(selector.clone(), matching)),
            ),
        };
        Selection {
            grants,
            unresolved,
            everything: false,
        }
    }

    /// The selected grants.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.grants.iter()
    }

    /// The selection cut into at most `n` shares of consecutive grants, to judge them in
    /// parallel. Every share keeps `is_everything`; only the first keeps what the selector
    /// left unresolved, so a finding about it is made once.
    pub fn split(&self, n: usize) -> Vec<Selection> {
        let size = self.grants.len().div_ceil(n.max(1)).max(1);
        let mut shares: Vec<Selection> = (self.grants.chunks(size))
            .map(|grants| Selection {
                grants: grants.to_vec(),
                unresolved: None,
                everything: self.everything,
            })
            .collect();
        match shares.first_mut() {
            Some(first) => first.unresolved = self.unresolved.clone(),
            None => shares.push(self.clone()),
        }
        shares
    }

    /// True when `grant` is selected.
    pub fn contains(&self, grant: &Grant) -> bool {
        self.grants.iter().any(|g| g.id == grant.id)
    }

    /// Why the selector selected nothing, if it did.
    pub fn unresolved(&self) -> Option<&Unresolved> {
        self.unresolved.as_ref()
    }

    /// True when no selector was given (the whole region is audited).
    pub fn is_everything(&self) -> bool {
        self.everything
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, name: &str, port: u16) -> Grant {
        Grant {
            id: id.into(),
            name: name.into(),
            key: GrantKey {
                vpc_id: "vpc-1".into(),
                instance_id: "i-1".into(),
                port,
            },
            description: String::new(),
            vpc_target_host_name: String::new(),
            created_time: String::new(),
        }
    }

    #[test]
    fn no_selector_selects_every_grant() {
        let grants = [grant("a", "one", 80), grant("b", "two", 81)];
        let selection = Selection::resolve(None, &grants);
        assert_eq!(selection.grants().count(), 2);
        assert!(selection.unresolved().is_none());
        assert!(selection.is_everything());
    }

    #[test]
    fn each_selector_kind_finds_its_grant() {
        let grants = [grant("a", "one", 80), grant("b", "two", 81)];
        for selector in [
            Selector::Name("two".into()),
            Selector::Id("b".into()),
            Selector::Key(grants[1].key.clone()),
        ] {
            let selection = Selection::resolve(Some(&selector), &grants);
            let ids: Vec<_> = selection.grants().map(|g| g.id.as_str()).collect();
            assert_eq!(ids, ["b"], "{selector}");
        }
    }

    #[test]
    fn unknown_selector_is_no_such_grant() {
        let grants = [grant("a", "one", 80)];
        let selector = Selector::Name("nope".into());
        let selection = Selection::resolve(Some(&selector), &grants);
        assert_eq!(selection.grants().count(), 0);
        assert_eq!(
            selection.unresolved(),
            Some(&Unresolved::NoSuchGrant(selector))
        );
    }

    #[test]
    fn a_name_on_two_grants_is_ambiguous_and_selects_nothing() {
        let grants = [grant("a", "one", 80), grant("b", "one", 81)];
        let selector = Selector::Name("one".into());
        let selection = Selection::resolve(Some(&selector), &grants);
        assert_eq!(selection.grants().count(), 0);
        match selection.unresolved() {
            Some(Unresolved::Ambiguous(_, candidates)) => assert_eq!(candidates.len(), 2),
            other => panic!("expected ambiguous, got {other:?}"),
        }
    }
}
