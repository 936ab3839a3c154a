//! Framing: one control message is one JSON document in one `SOCK_SEQPACKET` message of at
//! most [`MAX_CONTROL`] bytes. The socket keeps message boundaries, so there is no length
//! prefix or delimiter: encoding is `serde_json` of the value, decoding parses the whole
//! socket message and nothing else.

use crate::{Reply, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest control message (a request, or a reply such as a big status document).
pub const MAX_CONTROL: usize = 1 << 20;

/// A control message that could not be decoded (not JSON, or not a message of the
/// protocol); it says where and why.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DecodeError(#[from] serde_json::Error);

/// Encode a value as one control message. The protocol's types always encode (their maps
/// have string keys); anything else that cannot encodes as nothing, which the peer reads as
/// malformed.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Decode one control message (never panics, whatever the bytes).
pub fn decode<T: DeserializeOwned>(msg: &[u8]) -> Result<T, DecodeError> {
    Ok(serde_json::from_slice(msg)?)
}

impl Request {
    /// Encode for the wire.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decode a request received from a client.
    pub fn decode(msg: &[u8]) -> Result<Request, DecodeError> {
        decode(msg)
    }
}

impl<I: Serialize + DeserializeOwned> Reply<I> {
    /// Encode for the wire.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decode a reply from the daemon, reading an [`Reply::Info`]'s document as `I`.
    pub fn decode(msg: &[u8]) -> Result<Reply<I>, DecodeError> {
        decode(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Info};
    use proptest::prelude::*;

    #[test]
    fn the_documented_messages_are_byte_for_byte() {
        // The examples of docs/FLOW-IPC.md.
        let req = Request::IpcpEnroll {
            name: "b.net".into(),
            layer: "net".into(),
            via: Some("127.0.0.1:7101".into()),
            over: Some("udp".into()),
        };
        let wire = br#"{"op":"ipcp_enroll","name":"b.net","layer":"net","via":"127.0.0.1:7101","over":"udp"}"#;
        assert_eq!(req.encode(), wire);
        assert_eq!(Request::decode(wire).expect("decodes"), req);
        assert_eq!(Reply::<Info>::Ok.encode(), br#"{"reply":"ok"}"#);
        let err = Reply::<Info>::Error {
            kind: ErrorKind::BadRequest,
            message: "no IPCP `b.net`".into(),
        };
        let wire = br#"{"reply":"error","kind":"bad_request","message":"no IPCP `b.net`"}"#;
        assert_eq!(err.encode(), wire);
        assert_eq!(Reply::<Info>::decode(wire).expect("decodes"), err);
        let flow = Reply::<Info>::Flow {
            flow: 7,
            layer: "net".into(),
        };
        assert_eq!(flow.encode(), br#"{"reply":"flow","flow":7,"layer":"net"}"#);
    }

    #[test]
    fn unknown_ops_and_garbage_are_errors() {
        assert!(Request::decode(br#"{"op":"reboot"}"#).is_err());
        assert!(Request::decode(b"").is_err());
        assert!(Reply::<Info>::decode(br#"{"reply":"ok"} trailing"#).is_err());
        let e = Request::decode(br#"{"op":"alloc","name":"x"}"#).expect_err("incomplete");
        assert!(e.to_string().contains("missing field"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Arbitrary bytes never panic the decoders.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Request::decode(&msg);
            let _ = Reply::<Info>::decode(&msg);
        }

        /// Nor does text that looks like a control message, nested as deep as it likes.
        #[test]
        fn decoding_json_like_text_never_panics(
            op in "(alloc|listen|status|ipcp_create|fault|policy_load|list_flows)",
            body in r#"[{}\[\]",:a-z0-9.\-]{0,200}"#,
            depth in 0usize..300,
        ) {
            let msg = format!(r#"{}{{"op":"{op}",{body}}}{}"#, "[".repeat(depth), "]".repeat(depth));
            let _ = Request::decode(msg.as_bytes());
            let reply = msg.replacen("\"op\"", "\"reply\"", 1);
            let _ = Reply::<Info>::decode(reply.as_bytes());
        }
    }
}
