//! Fuzz the unicast IPCP with hostile neighbours: a bootstrapped member with two N-1 ports
//! receives a stream of PDUs and timer expiries chosen by the fuzzer. It must never panic,
//! and every route it installs must point at an up adjacency.
//!
//! Input format: a sequence of records `op u8 | len u16 | bytes[len]`; op bit 0 picks the port,
//! op bit 1 advances the clock by `len` milliseconds and runs the timers instead of
//! delivering the bytes. Valid management messages are reachable because the fuzzer learns
//! the DT header and message layouts from the seed corpus and comparisons.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouro_core::routing::NativeSpf;
use ouro_core::time::Instant;
use ouro_core::{Ipcp, LayerConfig, PortId};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::ZERO;
    let mut ipcp =
        Ipcp::bootstrap("fuzz", LayerConfig::named("fuzz"), Box::new(NativeSpf::default()), now, 7);
    ipcp.connect(now, PortId(1), 1);
    ipcp.connect(now, PortId(2), 5);
    let _ = ipcp.register(now, "victim");
    let mut rest = data;
    while rest.len() >= 3 {
        let op = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let port = PortId(1 + u32::from(op & 1));
        if op & 2 != 0 {
            now += Duration::from_millis(len as u64);
            ipcp.handle_timeout(now);
        } else {
            let take = len.min(rest.len());
            ipcp.handle_pdu(now, port, rest[..take].to_vec());
            rest = &rest[take..];
        }
        while ipcp.poll_transmit().is_some() {}
        while ipcp.poll_event().is_some() {}
    }
    let up: Vec<PortId> = ipcp.neighbors().into_iter().map(|(p, _)| p).collect();
    for (_, entry) in ipcp.fib().iter() {
        for (_, port) in &entry.next_hops {
            assert!(up.contains(port), "route through {port}, not an up adjacency");
        }
    }
});
