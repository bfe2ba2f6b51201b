//! Renders the dependency graph as Graphviz DOT or Mermaid text, whole or only the part that
//! reaches a selection's grants. In: a [`Graph`] and an optional [`Selection`]. Out: text.
//! The order is stable (nodes sorted by a key made of ids, edges by their ends), so two runs
//! over the same account print the same bytes. It never writes anywhere itself.

use super::{describe_reference, Edge, Graph, Node};
use crate::selection::Selection;
use petgraph::graph::NodeIndex;
use petgraph::visit::{EdgeRef, Reversed, Walker};
use std::collections::BTreeSet;
use std::fmt::Write;

/// A text format for the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// Renders `graph` in `format`; with a selection, only its grants and what routes to them.
pub fn render(graph: &Graph, format: GraphFormat, selection: Option<&Selection>) -> String {
    let view = View::new(graph, selection);
    match format {
        GraphFormat::Dot => view.dot(),
        GraphFormat::Mermaid => view.mermaid(),
    }
}

struct View {
    /// (stable key, label, shape class) in key order.
    nodes: Vec<(String, String, &'static str)>,
    /// (from position, to position, label) in order.
    edges: Vec<(usize, usize, String)>,
}

impl View {
    fn new(graph: &Graph, selection: Option<&Selection>) -> View {
        let inner = &graph.graph;
        let keep: BTreeSet<NodeIndex> = match selection {
            None => inner.node_indices().collect(),
            Some(selection) => {
                let mut keep = BTreeSet::new();
                for grant in selection.grants() {
                    if let Some(&start) = graph.grants.get(&grant.id) {
                        // Everything that can reach the grant depends on it.
                        keep.extend(
                            petgraph::visit::Dfs::new(Reversed(inner), start).iter(Reversed(inner)),
                        );
                    }
                }
                keep
            }
        };
        let mut nodes: Vec<(String, String, &'static str, NodeIndex)> = keep
            .iter()
            .map(|&index| {
                let (key, label, class) = describe(&inner[index]);
                (key, label, class, index)
            })
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(&b.0));
        let positions: std::collections::HashMap<NodeIndex, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.3, i)).collect();
        let position = |index: NodeIndex| positions.get(&index).copied();
        let mut edges: Vec<(usize, usize, String)> = inner
            .edge_references()
            .filter_map(|edge| {
                let from = position(edge.source())?;
                let to = position(edge.target())?;
                Some((from, to, edge_label(edge.weight())))
            })
            .collect();
        edges.sort();
        edges.dedup();
        View {
            nodes: nodes.into_iter().map(|(k, l, c, _)| (k, l, c)).collect(),
            edges,
        }
    }

    fn dot(&self) -> String {
        let mut out =
            String::from("digraph grantguard {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        for (key, label, class) in &self.nodes {
            let shape = match *class {
                "grant" => "box, style=bold",
                "dangling" => "box, style=dashed",
                "backend" => "component",
                _ => "ellipse",
            };
            let _ = writeln!(
                out,
                "  {} [label={}, shape={shape}];",
                quote(key),
                quote(label)
            );
        }
        for (from, to, label) in &self.edges {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quote(&self.nodes[*from].0),
                quote(&self.nodes[*to].0),
                quote(label)
            );
        }
        out.push_str("}\n");
        out
    }

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (position, (_, label, class)) in self.nodes.iter().enumerate() {
            let text = label.replace('"', "#quot;");
            let _ = match *class {
                "grant" => writeln!(out, "  n{position}[[\"{text}\"]]"),
                "dangling" => writeln!(out, "  n{position}>\"{text}\"]"),
                "backend" => writeln!(out, "  n{position}[/\"{text}\"/]"),
                _ => writeln!(out, "  n{position}(\"{text}\")"),
            };
        }
        for (from, to, label) in &self.edges {
            let _ = writeln!(
                out,
                "  n{from} -->|\"{}\"| n{to}",
                label.replace('"', "#quot;")
            );
        }
        out
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// (stable key, label, class) of a node.
fn describe(node: &Node) -> (String, String, &'static str) {
    match node {
        Node::Grant(g) => (
            format!("grant:{}", g.id),
            format!("grant {} ({}) {}", g.name, g.id, g.key),
            "grant",
        ),
        Node::Deployment(d) => (
            format!("deployment:{}@{}", d.api.api_id, d.stage),
            format!("{} @ {}", d.api, d.stage),
            "api",
        ),
        Node::Draft(d) => (
            format!("draft:{}", d.api.api_id),
            format!("{} [draft]", d.api),
            "api",
        ),
        Node::History(h) => (
            format!("history:{}@{}#{}", h.api.api_id, h.stage, h.version),
            format!("{} version {} @ {}", h.api, h.version, h.stage),
            "api",
        ),
        Node::BackendModel(m) => (
            format!("backend:{}@{}", m.backend_id, m.stage),
            format!(
                "backend {} ({}) @ {}",
                m.backend_name, m.backend_id, m.stage
            ),
            "backend",
        ),
        Node::Dangling(r) => (
            format!("dangling:{}", describe_reference(r)),
            format!("missing grant ({})", describe_reference(r)),
            "dangling",
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
        insta::assert_snapshot!(render(&graph(), GraphFormat::Dot, None));
    }

    #[test]
    fn the_mermaid_snapshot() {
        insta::assert_snapshot!(render(&graph(), GraphFormat::Mermaid, None));
    }

    #[test]
    fn a_selection_keeps_only_what_reaches_its_grant() {
        let graph = graph();
        let selection =
            Selection::resolve(Some(&Selector::Name("payments-vpc".into())), graph.grants());
        let dot = render(&graph, GraphFormat::Dot, Some(&selection));
        assert!(dot.contains("grant:apv-2"));
        assert!(dot.contains("deployment:api-2@RELEASE"));
        assert!(!dot.contains("grant:apv-1"));
        assert!(!dot.contains("api-1"));
        insta::assert_snapshot!(dot);
    }

    #[test]
    fn the_order_does_not_depend_on_the_inventory_order() {
        let mut inventory = crate::inventory::testing::rich_account();
        let first = render(&crate::graph::build(&inventory), GraphFormat::Mermaid, None);
        inventory.grants.reverse();
        inventory.drafts.reverse();
        let second = render(&crate::graph::build(&inventory), GraphFormat::Mermaid, None);
        assert_eq!(first, second);
    }
}
