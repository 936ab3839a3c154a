//! Topologies: an undirected graph with integer link costs, loaded from networkx node-link
//! JSON (what `networkx.node_link_data` writes).
//!
//! Node ids are kept as strings (a JSON number `3` becomes `"3"`). Self-loops are ignored,
//! duplicate edges keep the lowest cost and directed graphs are read as undirected.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file does not exist.
    #[error("topology file not found: {path}")]
    NotFound {
        /// The path given.
        path: String,
    },
    /// The file exists but could not be read.
    #[error("cannot read topology file {path}: {source}")]
    Unreadable {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error (1-based).
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// The document is not a JSON object.
    #[error("topology must be a JSON object (networkx node-link format)")]
    NotAnObject,
    /// No `nodes` array.
    #[error("topology has no \"nodes\" array")]
    MissingNodes,
    /// `links`/`edges` is present but not an array.
    #[error("topology \"{key}\" is not an array")]
    LinksNotArray {
        /// `links` or `edges`.
        key: &'static str,
    },
    /// A node entry without a usable `id`.
    #[error("node #{index} has no \"id\" (a number or a string)")]
    BadNodeId {
        /// Position of the node in the `nodes` array.
        index: usize,
    },
    /// Two nodes with the same id.
    #[error("duplicate node id {id:?}")]
    DuplicateNode {
        /// The id.
        id: String,
    },
    /// A link without a usable `source` or `target`.
    #[error("link #{index} has no \"{field}\" (a number or a string)")]
    BadEndpoint {
        /// Position of the link in the array.
        index: usize,
        /// `source` or `target`.
        field: &'static str,
    },
    /// A link refers to a node that is not in `nodes`.
    #[error("link #{index} refers to unknown node {id:?}")]
    UnknownNode {
        /// Position of the link in the array.
        index: usize,
        /// The unknown id.
        id: String,
    },
    /// The weight attribute of a link is not a number.
    #[error("link {from:?} - {to:?}: weight attribute {attr:?} is not a number")]
    NonNumericWeight {
        /// Source node id.
        from: String,
        /// Target node id.
        to: String,
        /// The attribute name.
        attr: String,
    },
    /// The weight attribute of a link is a number but not a usable cost (must be > 0).
    #[error("link {from:?} - {to:?}: weight attribute {attr:?} must be > 0, got {value}")]
    BadWeight {
        /// Source node id.
        from: String,
        /// Target node id.
        to: String,
        /// The attribute name.
        attr: String,
        /// The value found.
        value: f64,
    },
}

/// An undirected link between two nodes (by index), with its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// One end (the lower index).
    pub a: usize,
    /// The other end (the higher index).
    pub b: usize,
    /// Link cost (at least 1).
    pub cost: u32,
}

impl Edge {
    /// The direction a packet from end `node` travels in.
    pub fn direction_from(&self, node: usize) -> crate::link::Direction {
        if node == self.a {
            crate::link::Direction::AToB
        } else {
            crate::link::Direction::BToA
        }
    }

    /// The end that is not `node` (`node` must be an end).
    pub fn other(&self, node: usize) -> usize {
        if node == self.a { self.b } else { self.a }
    }
}

/// An undirected graph: nodes with string ids (in file order) and costed edges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    nodes: Vec<String>,
    edges: Vec<Edge>,
    index: BTreeMap<String, usize>,
}

impl Graph {
    /// Build a graph from node ids and edges `(a, b, cost)` between node indices.
    ///
    /// Self-loops and edges with an out-of-range end are ignored, duplicates keep the lowest
    /// cost, a cost of 0 becomes 1; a repeated node id keeps its first index.
    pub fn from_parts(
        nodes: impl IntoIterator<Item = String>,
        edges: impl IntoIterator<Item = (usize, usize, u32)>,
    ) -> Graph {
        let mut g = Graph::default();
        for id in nodes {
            g.add_node(id);
        }
        let mut seen = BTreeMap::new();
        for (a, b, cost) in edges {
            if a < g.nodes.len() && b < g.nodes.len() {
                g.add_edge(&mut seen, a, b, cost);
            }
        }
        g
    }

    /// Load a node-link JSON file; `weight` names the attribute holding link costs.
    pub fn load(path: &Path, weight: Option<&str>) -> Result<Graph, TopologyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TopologyError::NotFound {
                    path: shown.clone(),
                }
            } else {
                TopologyError::Unreadable {
                    path: shown.clone(),
                    source,
                }
            }
        })?;
        Graph::from_json_str(&text, weight)
    }

    /// Parse node-link JSON text; `weight` names the attribute holding link costs.
    pub fn from_json_str(text: &str, weight: Option<&str>) -> Result<Graph, TopologyError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| TopologyError::Json {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        let obj = doc.as_object().ok_or(TopologyError::NotAnObject)?;
        let nodes = obj
            .get("nodes")
            .and_then(Value::as_array)
            .ok_or(TopologyError::MissingNodes)?;
        let mut g = Graph::default();
        for (index, node) in nodes.iter().enumerate() {
            let id = node
                .get("id")
                .and_then(id_string)
                .ok_or(TopologyError::BadNodeId { index })?;
            if g.index.contains_key(&id) {
                return Err(TopologyError::DuplicateNode { id });
            }
            g.add_node(id);
        }
        let mut seen = BTreeMap::new();
        for (index, link) in links(obj)?.iter().enumerate() {
            let end = |field: &'static str| -> Result<(String, usize), TopologyError> {
                let id = link
                    .get(field)
                    .and_then(id_string)
                    .ok_or(TopologyError::BadEndpoint { index, field })?;
                match g.index.get(&id) {
                    Some(&i) => Ok((id, i)),
                    None => Err(TopologyError::UnknownNode { index, id }),
                }
            };
            let (source, a) = end("source")?;
            let (target, b) = end("target")?;
            let cost = match weight {
                Some(attr) => link_cost(link.get(attr), attr, &source, &target)?,
                None => 1,
            };
            g.add_edge(&mut seen, a, b, cost);
        }
        Ok(g)
    }

    fn add_node(&mut self, id: String) {
        if !self.index.contains_key(&id) {
            self.index.insert(id.clone(), self.nodes.len());
            self.nodes.push(id);
        }
    }

    fn add_edge(
        &mut self,
        seen: &mut BTreeMap<(usize, usize), usize>,
        a: usize,
        b: usize,
        cost: u32,
    ) {
        if a == b {
            return;
        }
        let (a, b) = (a.min(b), a.max(b));
        let cost = cost.max(1);
        match seen.get(&(a, b)) {
            Some(&i) => self.edges[i].cost = self.edges[i].cost.min(cost),
            None => {
                seen.insert((a, b), self.edges.len());
                self.edges.push(Edge { a, b, cost });
            }
        }
    }

    /// Node ids, in file order (a node's index is its position here).
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Edges, in file order of first appearance.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of (deduplicated, undirected) edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The index of the node called `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// For every node, its incident edges as `(edge index, neighbour index)`, in edge order.
    pub fn adjacency(&self) -> Vec<Vec<(usize, usize)>> {
        let mut adj = vec![Vec::new(); self.nodes.len()];
        for (e, edge) in self.edges.iter().enumerate() {
            adj[edge.a].push((e, edge.b));
            adj[edge.b].push((e, edge.a));
        }
        adj
    }

    /// Connected components, each sorted by node index, ordered by their smallest index.
    pub fn components(&self) -> Vec<Vec<usize>> {
        components_where(self, |_| true)
    }
}

/// Connected components of `g` using only the edges for which `edge_up(edge index)` holds;
/// each sorted, ordered by smallest node index.
pub fn components_where(g: &Graph, edge_up: impl Fn(usize) -> bool) -> Vec<Vec<usize>> {
    let adj = g.adjacency();
    let mut comp = vec![usize::MAX; g.node_count()];
    let mut out = Vec::new();
    for start in 0..g.node_count() {
        if comp[start] != usize::MAX {
            continue;
        }
        let id = out.len();
        let mut members = vec![start];
        comp[start] = id;
        let mut i = 0;
        while i < members.len() {
            let n = members[i];
            i += 1;
            for &(e, m) in &adj[n] {
                if comp[m] == usize::MAX && edge_up(e) {
                    comp[m] = id;
                    members.push(m);
                }
            }
        }
        members.sort_unstable();
        out.push(members);
    }
    out
}

/// The `links` (or `edges`) array; absent means no links.
fn links(obj: &Map<String, Value>) -> Result<&[Value], TopologyError> {
    for key in ["links", "edges"] {
        if let Some(v) = obj.get(key) {
            return v
                .as_array()
                .map(Vec::as_slice)
                .ok_or(TopologyError::LinksNotArray { key });
        }
    }
    Ok(&[])
}

/// A node id as a string: numbers as written, strings as they are.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The cost of a link from its weight attribute (absent or null: 1).
fn link_cost(
    v: Option<&Value>,
    attr: &str,
    source: &str,
    target: &str,
) -> Result<u32, TopologyError> {
    let value = match v {
        None | Some(Value::Null) => return Ok(1),
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
    };
    let Some(value) = value else {
        return Err(TopologyError::NonNumericWeight {
            from: source.to_string(),
            to: target.to_string(),
            attr: attr.to_string(),
        });
    };
    if !value.is_finite() || value <= 0.0 {
        return Err(TopologyError::BadWeight {
            from: source.to_string(),
            to: target.to_string(),
            attr: attr.to_string(),
            value,
        });
    }
    // `as` saturates at u32::MAX for large values.
    Ok((value.round() as u32).max(1))
}

/// serde_json appends " at line L column C"; we report those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests;
