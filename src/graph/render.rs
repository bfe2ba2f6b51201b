//! Renders the dependency graph as Graphviz DOT or Mermaid text, whole or only the part that
//! reaches a selection's grants. In: a [`Graph`], an optional [`Selection`] and a [`Look`]
//! (each grant's verdict, for its colour; whether to draw grants nothing uses). Out: text.
//! Names are the labels, ids the tooltips (DOT; Mermaid has no plain tooltip). Links the
//! service's usage index lists but the walk did not find (GG106) are dashed; grants holding
//! the same tuple (GG305) are joined by a dotted line. The order is
//! stable (nodes sorted by a key made of ids, edges by their ends), so two runs over the same
//! account print the same bytes. It never writes anywhere itself.

use super::{describe_reference, Edge, Graph, Node};
use crate::inventory::VpcAccessId;
use crate::selection::Selection;
use petgraph::graph::NodeIndex;
use petgraph::visit::{EdgeRef, Reversed, Walker};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// A text format for the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// A grant's verdict as the picture colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    /// Something depends on it.
    Blocked,
    /// Nobody can tell.
    Unknown,
    /// Safe, with warnings.
    Warned,
    /// Safe and clean.
    Safe,
}

impl Shade {
    /// The verdict's word in a grant's label, so the picture reads without colour too.
    fn word(self) -> &'static str {
        match self {
            Shade::Blocked => "blocked",
            Shade::Unknown => "unknown",
            Shade::Warned => "safe, warnings",
            Shade::Safe => "safe",
        }
    }

    /// Fill and border colours.
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            Shade::Blocked => ("#f6b1b1", "#b22222"),
            Shade::Unknown => ("#f7cf8b", "#c46a00"),
            Shade::Warned => ("#fbf0a0", "#9a8400"),
            Shade::Safe => ("#bfe8bf", "#2e7d32"),
        }
    }
}

/// What to draw besides the graph's own nodes and edges.
#[derive(Debug, Clone, Default)]
pub struct Look {
    /// Each audited grant's verdict; a grant not in it is drawn without colour.
    pub shades: HashMap<VpcAccessId, Shade>,
    /// Draw everything: safe grants nothing routes through and APIs that reach no grant too
    /// (without a selection they are left out, as noise; a grant whose verdict is not safe is
    /// always drawn, users or not).
    pub all: bool,
}

/// Renders `graph` in `format`; with a selection, only its grants and what routes to them.
pub fn render(
    graph: &Graph,
    format: GraphFormat,
    selection: Option<&Selection>,
    look: &Look,
) -> String {
    let view = View::new(graph, selection, look);
    match format {
        GraphFormat::Dot => view.dot(),
        GraphFormat::Mermaid => view.mermaid(),
    }
}

/// One node as drawn.
struct Drawn {
    /// Stable key (ids), for the order and DOT's node names.
    key: String,
    /// What the picture says: names.
    label: String,
    /// What hovering says: ids.
    tooltip: String,
    /// Which shape.
    class: Class,
    /// The colour of a grant's verdict.
    shade: Option<Shade>,
}

/// The kinds of node, by shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Grant,
    Api,
    /// An API only the service's usage index names (GG106).
    Indexed,
    Backend,
    Dangling,
}

/// One edge as drawn, between positions in the node list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    from: usize,
    to: usize,
    label: String,
    /// What the line stands for.
    kind: LineKind,
}

/// The kinds of line, by stroke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LineKind {
    /// A dependency the walk read: solid.
    Walked,
    /// A use only the service's usage index lists (GG106): dashed.
    Indexed,
    /// Two grants that hold the same tuple (GG305): dotted, no arrowhead.
    SameTuple,
}

struct View {
    nodes: Vec<Drawn>,
    edges: Vec<Line>,
}

/// Label of an index link: the service lists the user, the walk did not find it.
const INDEX_LINK: &str = "listed by the usage index, not found by the walk";

impl View {
    fn new(graph: &Graph, selection: Option<&Selection>, look: &Look) -> View {
        let inner = &graph.graph;
        // Users only the index names (GG106), by the grant they would use: (grant node, the
        // (API, stage) key and label of the user).
        let mut indexed: Vec<(NodeIndex, String, String, String)> = Vec::new();
        for grant in graph.grants() {
            let Some(&node) = graph.grants.get(&grant.id) else {
                continue;
            };
            for entry in graph.index_uses(grant) {
                let (Some(api), Some(stage)) = (&entry.user.api, entry.user.stage) else {
                    continue;
                };
                if !entry.found_by_walk {
                    let key = format!("deployment:{}@{}", api.api_id, stage);
                    let tooltip = format!("API {} in group {}", api.api_id, api.group_id);
                    indexed.push((node, key, format!("{api} @ {stage}"), tooltip));
                }
            }
        }
        let has_users = |index: NodeIndex| {
            inner
                .neighbors_directed(index, petgraph::Direction::Incoming)
                .next()
                .is_some()
                || indexed.iter().any(|(grant, ..)| *grant == index)
        };
        let reaching = |start: NodeIndex| {
            petgraph::visit::Dfs::new(Reversed(inner), start).iter(Reversed(inner))
        };
        let keep: BTreeSet<NodeIndex> = match selection {
            Some(selection) => selection
                .grants()
                .filter_map(|grant| graph.grants.get(&grant.id))
                .flat_map(|&start| reaching(start))
                .collect(),
            None if look.all => inner.node_indices().collect(),
            // Whatever reaches a grant that has users or is not safe, or a missing grant.
            None => inner
                .node_indices()
                .filter(|&index| match &inner[index] {
                    Node::Grant(g) => {
                        has_users(index)
                            || look.shades.get(&g.id).is_some_and(|s| *s != Shade::Safe)
                    }
                    Node::Dangling(_) => true,
                    _ => false,
                })
                .flat_map(reaching)
                .collect(),
        };
        let mut nodes: Vec<(Drawn, Option<NodeIndex>)> = keep
            .iter()
            .map(|&index| (describe(&inner[index], look), Some(index)))
            .collect();
        for (grant, key, label, tooltip) in &indexed {
            let known = nodes.iter().any(|(n, _)| n.key == *key);
            if keep.contains(grant) && !known {
                let drawn = Drawn {
                    key: key.clone(),
                    label: label.clone(),
                    tooltip: tooltip.clone(),
                    class: Class::Indexed,
                    shade: None,
                };
                nodes.push((drawn, None));
            }
        }
        nodes.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        let positions: HashMap<NodeIndex, usize> = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n.1?, i)))
            .collect();
        let by_key: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.0.key.as_str(), i))
            .collect();
        let position = |index: NodeIndex| positions.get(&index).copied();
        let mut edges: Vec<Line> = inner
            .edge_references()
            .filter_map(|edge| {
                Some(Line {
                    from: position(edge.source())?,
                    to: position(edge.target())?,
                    label: edge_label(edge.weight()),
                    kind: LineKind::Walked,
                })
            })
            .collect();
        for (grant, key, ..) in &indexed {
            if let (Some(&from), Some(to)) = (by_key.get(key.as_str()), position(*grant)) {
                edges.push(Line {
                    from,
                    to,
                    label: INDEX_LINK.to_owned(),
                    kind: LineKind::Indexed,
                });
            }
        }
        for grant in graph.grants() {
            let Some(from) = graph.grants.get(&grant.id).and_then(|&n| position(n)) else {
                continue;
            };
            for other in graph.grants_sharing_tuple(grant) {
                let to = graph.grants.get(&other.id).and_then(|&n| position(n));
                // Once per pair.
                if let Some(to) = to.filter(|&to| from < to) {
                    edges.push(Line {
                        from,
                        to,
                        label: "same tuple".to_owned(),
                        kind: LineKind::SameTuple,
                    });
                }
            }
        }
        edges.sort();
        edges.dedup();
        View {
            nodes: nodes.into_iter().map(|(drawn, _)| drawn).collect(),
            edges,
        }
    }

    fn dot(&self) -> String {
        let mut out = String::from(
            "digraph grantguard {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        for node in &self.nodes {
            let mut style = match node.class {
                Class::Grant => "shape=box, style=\"bold\"".to_owned(),
                Class::Dangling => "shape=box, style=\"dashed\"".to_owned(),
                Class::Indexed => "shape=ellipse, style=\"dashed\"".to_owned(),
                Class::Backend => "shape=component".to_owned(),
                Class::Api => "shape=ellipse".to_owned(),
            };
            if let Some(shade) = node.shade {
                let (fill, border) = shade.colours();
                style = format!(
                    "shape=box, style=\"bold,filled\", fillcolor=\"{fill}\", color=\"{border}\""
                );
            }
            let _ = writeln!(
                out,
                "  {} [label={}, tooltip={}, {style}];",
                quote(&node.key),
                quote(&node.label),
                quote(&node.tooltip)
            );
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}{}];",
                quote(&self.nodes[edge.from].key),
                quote(&self.nodes[edge.to].key),
                quote(&edge.label),
                match edge.kind {
                    LineKind::Walked => "",
                    LineKind::Indexed => ", style=dashed",
                    LineKind::SameTuple => ", style=dotted, dir=none",
                }
            );
        }
        out.push_str("}\n");
        out
    }

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (position, node) in self.nodes.iter().enumerate() {
            let text = node.label.replace('"', "#quot;");
            let _ = match node.class {
                Class::Grant => writeln!(out, "  n{position}[[\"{text}\"]]"),
                Class::Dangling => writeln!(out, "  n{position}>\"{text}\"]"),
                Class::Backend => writeln!(out, "  n{position}[/\"{text}\"/]"),
                Class::Api | Class::Indexed => writeln!(out, "  n{position}(\"{text}\")"),
            };
        }
        for edge in &self.edges {
            let arrow = match edge.kind {
                LineKind::Walked => "-->",
                LineKind::Indexed => "-.->",
                LineKind::SameTuple => "-.-",
            };
            let _ = writeln!(
                out,
                "  n{} {arrow}|\"{}\"| n{}",
                edge.from,
                edge.label.replace('"', "#quot;"),
                edge.to
            );
        }
        let shades = [Shade::Blocked, Shade::Unknown, Shade::Warned, Shade::Safe];
        for shade in shades {
            let members: Vec<String> = (self.nodes.iter().enumerate())
                .filter(|(_, n)| n.shade == Some(shade))
                .map(|(position, _)| format!("n{position}"))
                .collect();
            if members.is_empty() {
                continue;
            }
            let (fill, border) = shade.colours();
            let class = shade.word().replace(", ", "_");
            let _ = writeln!(out, "  classDef {class} fill:{fill},stroke:{border}");
            let _ = writeln!(out, "  class {} {class}", members.join(","));
        }
        let dashed: Vec<String> = (self.nodes.iter().enumerate())
            .filter(|(_, n)| matches!(n.class, Class::Indexed | Class::Dangling))
            .map(|(position, _)| format!("n{position}"))
            .collect();
        if !dashed.is_empty() {
            let _ = writeln!(out, "  classDef unseen stroke-dasharray:5 5");
            let _ = writeln!(out, "  class {} unseen", dashed.join(","));
        }
        out
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A node as drawn: its names as the label, its ids as the tooltip; a grant coloured by
/// its verdict in `look`.
fn describe(node: &Node, look: &Look) -> Drawn {
    let drawn = |key: String, label: String, tooltip: String, class| Drawn {
        key,
        label,
        tooltip,
        class,
        shade: None,
    };
    let api_tooltip = |api: &crate::inventory::ApiIdentity| {
        format!("API {} in group {}", api.api_id, api.group_id)
    };
    match node {
        Node::Grant(g) => {
            let shade = look.shades.get(&g.id).copied();
            let label = match shade {
                Some(shade) => format!("{} ({})", g.name, shade.word()),
                None => g.name.clone(),
            };
            Drawn {
                shade,
                ..drawn(
                    format!("grant:{}", g.id),
                    label,
                    format!("grant {} {}", g.id, g.key),
                    Class::Grant,
                )
            }
        }
        Node::Deployment(d) => drawn(
            format!("deployment:{}@{}", d.api.api_id, d.stage),
            format!("{} @ {}", d.api, d.stage),
            api_tooltip(&d.api),
            Class::Api,
        ),
        Node::Draft(d) => drawn(
            format!("draft:{}", d.api.api_id),
            format!("{} [draft]", d.api),
            api_tooltip(&d.api),
            Class::Api,
        ),
        Node::History(h) => drawn(
            format!("history:{}@{}#{}", h.api.api_id, h.stage, h.version),
            format!("{} version {} @ {}", h.api, h.version, h.stage),
            api_tooltip(&h.api),
            Class::Api,
        ),
        Node::BackendModel(m) => drawn(
            format!("backend:{}@{}", m.backend_id, m.stage),
            format!("backend {} @ {}", m.backend_name, m.stage),
            format!("backend {}", m.backend_id),
            Class::Backend,
        ),
        Node::Dangling(r) => drawn(
            format!("dangling:{}", describe_reference(r)),
            format!("missing grant ({})", describe_reference(r)),
            "no grant has these keys".to_owned(),
            Class::Dangling,
        ),
    }
}

fn edge_label(edge: &Edge) -> String {
    match edge {
        Edge::UsesBackend => "uses backend".to_owned(),
        Edge::NearName { dormant } => {
            let mut label = "may route through (name differs in case or whitespace)".to_owned();
            if *dormant {
                label.push_str(", dormant");
            }
            label
        }
        Edge::RoutesThrough(m) => {
            let mut label = if m.keys().is_empty() {
                "routes through (no grant)".to_owned()
            } else {
                format!("routes through (by {})", m.keys())
            };
            if m.mismatch {
                label.push_str(", keys disagree");
            }
            if m.dormant {
                label.push_str(", dormant");
            }
            label
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::Selector;

    /// The report tests' account, leaked so the graph that borrows it can be returned.
    fn graph() -> Graph<'static> {
        crate::graph::build(Box::leak(Box::new(
            crate::inventory::testing::rich_account(),
        )))
    }

    #[test]
    fn the_dot_snapshot() {
        insta::assert_snapshot!(render(&graph(), GraphFormat::Dot, None, &Look::default()));
    }

    #[test]
    fn the_mermaid_snapshot() {
        insta::assert_snapshot!(render(
            &graph(),
            GraphFormat::Mermaid,
            None,
            &Look::default()
        ));
    }

    #[test]
    fn a_selection_keeps_only_what_reaches_its_grant() {
        let graph = graph();
        let selection =
            Selection::resolve(Some(&Selector::Name("payments-vpc".into())), graph.grants());
        let dot = render(&graph, GraphFormat::Dot, Some(&selection), &Look::default());
        assert!(dot.contains("grant:apv-2"));
        assert!(dot.contains("deployment:api-2@RELEASE"));
        assert!(!dot.contains("grant:apv-1"));
        assert!(!dot.contains("api-1"));
        insta::assert_snapshot!(dot);
    }

    #[test]
    fn the_order_does_not_depend_on_the_inventory_order() {
        let mut inventory = crate::inventory::testing::rich_account();
        let first = render(
            &crate::graph::build(&inventory),
            GraphFormat::Mermaid,
            None,
            &Look::default(),
        );
        inventory.grants.reverse();
        inventory.drafts.reverse();
        let second = render(
            &crate::graph::build(&inventory),
            GraphFormat::Mermaid,
            None,
            &Look::default(),
        );
        assert_eq!(first, second);
    }
}
