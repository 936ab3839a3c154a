//! Test policy: returns a forwarding loop. Every node routes every destination through its
//! neighbour with the highest address, so two neighbours that are each other's highest
//! neighbour bounce packets between them; the host's downstream check must reject it.
#![forbid(unsafe_code)]

use ouro_policy_sdk::graph::Graph;
use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, export};
use ouro_policy_sdk::table::FlatTable;

struct Policy;

impl Guest for Policy {
    fn compute(own: u32, topology: Topology) -> Result<RoutingOutput, String> {
        let graph = Graph::from_topology(&topology).map_err(|e| e.to_string())?;
        let mut table = FlatTable::default();
        let Some(src) = graph.index_of(own) else {
            return Ok(table.into());
        };
        let (nbrs, _) = graph.row(src);
        let Some(&last) = nbrs.last() else {
            return Ok(table.into());
        };
        let via = graph.addresses()[last as usize];
        for &dst in graph.addresses() {
            if dst != own {
                table.push(dst, &[via], 0);
            }
        }
        Ok(table.into())
    }
}

export!(Policy);
