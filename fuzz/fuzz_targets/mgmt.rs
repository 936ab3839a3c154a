//! Fuzz the layer management messages: parsing arbitrary bytes never panics, and whatever
//! parses re-emits (exactly `buffer_len` bytes, identical to the input: the encoding is
//! canonical) and re-parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouro_core::wire::MgmtMsg;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = MgmtMsg::parse(data) {
        let mut out = Vec::new();
        msg.emit(&mut out);
        assert_eq!(out.len(), msg.buffer_len());
        assert_eq!(out, data);
        assert_eq!(MgmtMsg::parse(&out), Ok(msg));
    }
});
