//! Scheduler `strict-priority`: serve queues in cube order (cube 0 first), each as far as
//! the budget allows, before any packet of a later cube. Parameter `reverse` (boolean):
//! serve the highest cube first instead.
#![forbid(unsafe_code)]

use ouro_policy_sdk::scheduler::host::{self, ParamValue};
use ouro_policy_sdk::scheduler::{Guest, Plan, QueueState, Take, export};

struct Policy;

impl Guest for Policy {
    fn schedule(budget: u32, mut queues: Vec<QueueState>) -> Plan {
        let reverse = matches!(host::param("reverse"), Some(ParamValue::Boolean(true)));
        queues.sort_by_key(|q| (q.cube, q.id));
        if reverse {
            queues.reverse();
        }
        let mut left = budget;
        let mut takes = Vec::new();
        for q in queues {
            if left == 0 {
                break;
            }
            let n = q.packets.min(left);
            if n > 0 {
                takes.push(Take {
                    queue: q.id,
                    packets: n,
                });
                left -= n;
            }
        }
        Plan {
            takes,
            actions: Vec::new(),
        }
    }
}

export!(Policy);
