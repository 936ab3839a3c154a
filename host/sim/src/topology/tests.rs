use super::*;

fn load(text: &str, weight: Option<&str>) -> Result<Graph, TopologyError> {
    Graph::from_json_str(text, weight)
}

const TRIANGLE: &str = r#"{
  "directed": false, "multigraph": false, "graph": {},
  "nodes": [{"id": 0}, {"id": 1}, {"id": "c"}],
  "links": [
    {"source": 0, "target": 1, "weight": 2.6},
    {"source": 1, "target": "c"},
    {"source": "c", "target": 0, "weight": 0.2}
  ]
}"#;

#[test]
fn loads_networkx_node_link() {
    let g = load(TRIANGLE, Some("weight")).expect("valid");
    assert_eq!(g.nodes(), ["0", "1", "c"]);
    assert_eq!(g.edge_count(), 3);
    assert_eq!(
        g.edges()[0],
        Edge {
            a: 0,
            b: 1,
            cost: 3
        }
    );
    assert_eq!(
        g.edges()[1],
        Edge {
            a: 1,
            b: 2,
            cost: 1
        },
        "missing attribute costs 1"
    );
    assert_eq!(
        g.edges()[2],
        Edge {
            a: 0,
            b: 2,
            cost: 1
        },
        "rounds to at least 1"
    );
    assert_eq!(g.index_of("c"), Some(2));
    assert_eq!(g.index_of("2"), None);
}

#[test]
fn without_weight_every_link_costs_one() {
    let g = load(TRIANGLE, None).expect("valid");
    assert!(g.edges().iter().all(|e| e.cost == 1));
}

#[test]
fn accepts_edges_key_and_directed_graphs() {
    let text = r#"{"directed": true, "nodes": [{"id": "a"}, {"id": "b"}],
                  "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}]}"#;
    let g = load(text, None).expect("valid");
    assert_eq!(
        g.edges(),
        [Edge {
            a: 0,
            b: 1,
            cost: 1
        }]
    );
}

#[test]
fn ignores_self_loops_and_keeps_lowest_duplicate() {
    let text = r#"{"nodes": [{"id": 1}, {"id": 2}],
                  "links": [{"source": 1, "target": 1},
                            {"source": 1, "target": 2, "w": 7},
                            {"source": 2, "target": 1, "w": 4},
                            {"source": 1, "target": 2, "w": 9}]}"#;
    let g = load(text, Some("w")).expect("valid");
    assert_eq!(
        g.edges(),
        [Edge {
            a: 0,
            b: 1,
            cost: 4
        }]
    );
}

#[test]
fn huge_weight_clamps() {
    let text =
        r#"{"nodes": [{"id": 1}, {"id": 2}], "links": [{"source": 1, "target": 2, "w": 1e30}]}"#;
    assert_eq!(
        load(text, Some("w")).expect("valid").edges()[0].cost,
        u32::MAX
    );
}

#[test]
fn graph_without_links_is_fine() {
    let g = load(r#"{"nodes": [{"id": 1}, {"id": 2}]}"#, None).expect("valid");
    assert_eq!((g.node_count(), g.edge_count()), (2, 0));
    assert_eq!(g.components().len(), 2);
}

#[test]
fn reports_bad_json_position() {
    let err = load("{\n  \"nodes\": [,]\n}", None).expect_err("invalid");
    match err {
        TopologyError::Json { line, column, .. } => assert_eq!((line, column), (2, 13)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err_text("{\n  \"nodes\": [,]\n}").contains('\n'));
}

fn err_text(text: &str) -> String {
    load(text, Some("weight")).expect_err("invalid").to_string()
}

#[test]
fn reports_structural_errors() {
    assert!(matches!(load("[]", None), Err(TopologyError::NotAnObject)));
    assert!(matches!(
        load(r#"{"links": []}"#, None),
        Err(TopologyError::MissingNodes)
    ));
    assert!(matches!(
        load(r#"{"nodes": 3}"#, None),
        Err(TopologyError::MissingNodes)
    ));
    assert!(matches!(
        load(r#"{"nodes": [{}]}"#, None),
        Err(TopologyError::BadNodeId { index: 0 })
    ));
    assert!(matches!(
        load(r#"{"nodes": [{"id": 1}, {"id": 1}]}"#, None),
        Err(TopologyError::DuplicateNode { .. })
    ));
    assert!(matches!(
        load(r#"{"nodes": [{"id": 1}], "links": {}}"#, None),
        Err(TopologyError::LinksNotArray { key: "links" })
    ));
    assert!(matches!(
        load(r#"{"nodes": [{"id": 1}], "links": [{"target": 1}]}"#, None),
        Err(TopologyError::BadEndpoint {
            index: 0,
            field: "source"
        })
    ));
}

#[test]
fn reports_unknown_node() {
    let text = r#"{"nodes": [{"id": 1}], "links": [{"source": 1, "target": 9}]}"#;
    match load(text, None) {
        Err(TopologyError::UnknownNode { index: 0, id }) => assert_eq!(id, "9"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err_text(text).contains("\"9\""));
}

#[test]
fn reports_non_numeric_and_bad_weights() {
    let text = r#"{"nodes": [{"id": "a"}, {"id": "b"}], "links": [{"source": "a", "target": "b", "weight": "x"}]}"#;
    let msg = err_text(text);
    assert!(
        msg.contains("\"a\"") && msg.contains("\"b\"") && msg.contains("weight"),
        "{msg}"
    );
    assert!(
        load(text, None).is_ok(),
        "weight attribute unused without --weight"
    );
    let text = r#"{"nodes": [{"id": "a"}, {"id": "b"}], "links": [{"source": "a", "target": "b", "weight": -1}]}"#;
    assert!(matches!(
        load(text, Some("weight")),
        Err(TopologyError::BadWeight { .. })
    ));
    let text = r#"{"nodes": [{"id": "a"}, {"id": "b"}], "links": [{"source": "a", "target": "b", "weight": 0}]}"#;
    assert!(matches!(
        load(text, Some("weight")),
        Err(TopologyError::BadWeight { .. })
    ));
}

#[test]
fn reports_missing_file() {
    let err = Graph::load(Path::new("/nonexistent/ouro/topology.json"), None).expect_err("missing");
    assert!(matches!(err, TopologyError::NotFound { .. }));
    assert!(err.to_string().contains("/nonexistent/ouro/topology.json"));
}

#[test]
fn finds_components() {
    let g = Graph::from_parts(
        (0..6).map(|i| i.to_string()),
        [(0, 1, 1), (1, 2, 1), (3, 4, 1), (4, 4, 1), (0, 9, 1)],
    );
    assert_eq!(g.components(), vec![vec![0, 1, 2], vec![3, 4], vec![5]]);
    let without_first = components_where(&g, |e| e != 0);
    assert_eq!(
        without_first,
        vec![vec![0], vec![1, 2], vec![3, 4], vec![5]]
    );
    assert_eq!(g.edges()[0].other(0), 1);
    assert_eq!(g.adjacency()[1], vec![(0, 0), (1, 2)]);
}
