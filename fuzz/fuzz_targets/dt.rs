//! Fuzz the data transfer header: parsing arbitrary bytes never panics, and whatever parses
//! re-emits to the same bytes and re-parses to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouro_core::wire::{DtHeader, DtPacket};

fuzz_target!(|data: &[u8]| {
    let parsed = DtHeader::parse(data);
    let checked = DtPacket::new_checked(data);
    assert_eq!(parsed.is_ok(), checked.is_ok());
    if let (Ok((header, payload)), Ok(packet)) = (parsed, checked) {
        assert_eq!(packet.header(), header);
        assert_eq!(packet.payload(), payload);
        let mut out = Vec::new();
        header.emit(&mut out);
        out.extend_from_slice(payload);
        assert_eq!(out, data);
        let (again, again_payload) = DtHeader::parse(&out).expect("re-parse of emitted header");
        assert_eq!(again, header);
        assert_eq!(again_payload, payload);
    }
});
