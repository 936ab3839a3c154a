//! The configuration of a unicast layer.
//!
//! The bootstrap IPCP holds it; every enrollee receives it in the enrollment response, so all
//! members of a layer run with the same settings.

use std::time::Duration;

/// Settings shared by every member of a unicast layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerConfig {
    /// The layer's name.
    pub layer_name: String,
    /// Length in bytes of the name hashes this layer carries (4..=32).
    pub hash_len: u8,
    /// Initial TTL of data transfer PDUs.
    pub default_ttl: u8,
    /// How often an IPCP re-originates its own link-state advertisement.
    pub lsa_refresh: Duration,
    /// An advertisement not refreshed for this long is removed.
    pub lsa_max_age: Duration,
    /// Minimum time between two originations of an IPCP's own advertisement.
    pub lsa_min_interval: Duration,
    /// Delay between a link-state change and the route computation it triggers.
    pub spf_delay: Duration,
    /// Minimum time between two route computations.
    pub spf_hold: Duration,
    /// Adjacency keepalive interval.
    pub hello_interval: Duration,
    /// An adjacency silent for this long is declared down.
    pub dead_interval: Duration,
    /// Directory: number of replicas of each registration.
    pub dht_replicas: u8,
    /// Directory: how often registrations are refreshed (entries live three times longer).
    pub dir_refresh: Duration,
    /// Flow keepalive interval (idle flows send a keepalive this often).
    pub flow_keepalive: Duration,
    /// Name of the routing policy the layer runs.
    pub routing_policy: String,
}

impl LayerConfig {
    /// A layer called `name` with the default settings.
    pub fn named(name: &str) -> Self {
        LayerConfig {
            layer_name: name.to_string(),
            ..LayerConfig::default()
        }
    }
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            layer_name: "default".to_string(),
            hash_len: 16,
            default_ttl: 60,
            lsa_refresh: Duration::from_secs(600),
            lsa_max_age: Duration::from_secs(1800),
            lsa_min_interval: Duration::from_millis(100),
            spf_delay: Duration::from_millis(50),
            spf_hold: Duration::from_millis(200),
            hello_interval: Duration::from_secs(1),
            dead_interval: Duration::from_secs(4),
            dht_replicas: 3,
            dir_refresh: Duration::from_secs(300),
            flow_keepalive: Duration::from_secs(10),
            routing_policy: "native".to_string(),
        }
    }
}
