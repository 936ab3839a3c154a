//! Fuzz the control protocol's decoders: arbitrary bytes never panic them, and a request
//! that decodes encodes again into a message that decodes to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouro_control::{Info, Reply, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = Request::decode(data) {
        let again = Request::decode(&req.encode()).expect("a request's encoding decodes");
        assert_eq!(again, req);
    }
    if let Ok(reply) = Reply::<Info>::decode(data) {
        // An untagged document may read back as another variant of the same fields (an
        // empty list), so only decoding is asserted.
        assert!(Reply::<Info>::decode(&reply.encode()).is_ok());
    }
});
