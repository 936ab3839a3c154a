//! Scheduler `drr`: weighted deficit round robin in packets. Each round every backlogged
//! queue earns `weight` packets of credit (parameter `weight-<cube>`, an integer >= 1,
//! default 1) and sends up to its credit; credit left over carries to the next batch while
//! the queue stays backlogged (the instance keeps it between batches). Parameter
//! `ecn-age-ns`: ECN-mark the packets taken from a queue whose head waited longer.
#![forbid(unsafe_code)]

use ouro_policy_sdk::scheduler::host::{self, ParamValue};
use ouro_policy_sdk::scheduler::{Action, Guest, Plan, QueueState, Take, Verdict, export};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Between batches: credit per queue id, and whose turn it is (with whether that queue
/// already received its quantum for this turn).
struct State {
    deficit: BTreeMap<u32, u64>,
    turn: Option<(u32, bool)>,
}

static STATE: Mutex<State> = Mutex::new(State {
    deficit: BTreeMap::new(),
    turn: None,
});

fn weight(cube: u8) -> u64 {
    match host::param(&format!("weight-{cube}")) {
        Some(ParamValue::Integer(w)) if w >= 1 => w as u64,
        _ => 1,
    }
}

fn empty() -> Plan {
    Plan {
        takes: Vec::new(),
        actions: Vec::new(),
    }
}

struct Policy;

impl Guest for Policy {
    fn schedule(budget: u32, mut queues: Vec<QueueState>) -> Plan {
        let Ok(mut state) = STATE.lock() else {
            return empty();
        };
        queues.retain(|q| q.packets > 0);
        queues.sort_by_key(|q| q.id);
        // Forget queues that went idle or away.
        state
            .deficit
            .retain(|id, _| queues.iter().any(|q| q.id == *id));
        if queues.is_empty() {
            state.turn = None;
            return empty();
        }
        let ecn_age = match host::param("ecn-age-ns") {
            Some(ParamValue::Integer(a)) if a > 0 => Some(a as u64),
            _ => None,
        };
        let weights: Vec<u64> = queues.iter().map(|q| weight(q.cube)).collect();
        let mut left: Vec<u32> = queues.iter().map(|q| q.packets).collect();
        let mut taken = vec![0u32; queues.len()];
        let mut budget = budget;
        // Resume where the previous batch stopped.
        let (mut pos, mut resuming) = match state.turn {
            Some((id, started)) => match queues.iter().position(|q| q.id >= id) {
                Some(p) => (p, started && queues[p].id == id),
                None => (0, false),
            },
            None => (0, false),
        };
        while budget > 0 && left.iter().any(|&l| l > 0) {
            let q = &queues[pos];
            let credit = state.deficit.entry(q.id).or_insert(0);
            if !resuming {
                *credit += weights[pos];
            }
            resuming = false;
            let n = (*credit).min(u64::from(left[pos])).min(u64::from(budget)) as u32;
            *credit -= u64::from(n);
            left[pos] -= n;
            taken[pos] += n;
            budget -= n;
            if left[pos] == 0 {
                *credit = 0;
            }
            if budget == 0 && *credit > 0 && left[pos] > 0 {
                // The budget ran out mid-turn: this queue continues next batch.
                state.turn = Some((q.id, true));
                break;
            }
            pos = (pos + 1) % queues.len();
            state.turn = Some((queues[pos].id, false));
        }
        let mut plan = empty();
        for (i, q) in queues.iter().enumerate() {
            if taken[i] == 0 {
                continue;
            }
            plan.takes.push(Take {
                queue: q.id,
                packets: taken[i],
            });
            if ecn_age.is_some_and(|age| q.head_age_ns > age) {
                plan.actions.push(Action {
                    queue: q.id,
                    packets: taken[i],
                    verdict: Verdict::MarkEcn,
                });
            }
        }
        plan
    }
}

export!(Policy);
