//! Fuzz the flow socket's packed-message parser: arbitrary bytes never panic, and whatever
//! parses packs again into the same bytes (a pack of two or more, or a pack of one whose
//! message itself starts with the magic).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouro_flow::pack::{self, Next};

fuzz_target!(|data: &[u8]| {
    // `parse` is only asked about socket messages that start with the magic.
    if !pack::is_packed(data) {
        return;
    }
    let Ok(msgs) = pack::parse(data) else {
        return;
    };
    let msgs: Vec<&[u8]> = msgs.collect();
    let mut out = Vec::new();
    match pack::pack_next(msgs.iter().copied(), &mut out) {
        // Packed again: the same bytes when everything fit in one budget.
        Next::Packed(n) if n == msgs.len() => assert_eq!(out, data),
        Next::Packed(n) => assert!(n >= 1 && n < msgs.len()),
        // A lone message that does not need the magic goes plain.
        Next::Plain => assert!(msgs.len() == 1 || msgs[0].len() > ouro_flow::MAX_MESSAGE),
    }
});
