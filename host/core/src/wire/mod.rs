//! Wire formats of a unicast layer, in network byte order.
//!
//! Every format comes as a *parsed representation* (a plain Rust value: [`DtHeader`],
//! [`MgmtMsg`]) with `parse` and `emit`, in the style of smoltcp's `Repr`s; the data transfer
//! header also has a *checked view* ([`DtPacket`]) so that relays can read and rewrite TTL
//! and ECN in place without copying the payload. Parsing never panics: any input either
//! parses or yields a [`WireError`]. Byte layouts and test vectors are in `docs/PROTOCOL.md`.
//!
//! Every PDU on an N-1 flow is a data transfer PDU: a [`DtHeader`] followed by a payload.
//! PDUs for endpoint id 0 carry one layer management message ([`MgmtMsg`]).

mod dt;
mod field;
mod mgmt;
#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
pub(crate) use dt::tests::arb_header;
#[cfg(test)]
pub(crate) use mgmt::tests::arb_msg;

pub use dt::{DT_HEADER_LEN, DtHeader, DtPacket};
pub use mgmt::{
    DirEntry, DirTarget, EnrollResult, FlowResult, Lsa, LsaLink, LsaRef, MAX_STR_LEN, MAX_VEC_LEN,
    MgmtMsg, MgmtType, QOS_SPEC_LEN,
};

/// Why a buffer could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer ends before the structure does.
    #[error("truncated: needed {needed} bytes, had {had}")]
    Truncated {
        /// Bytes the structure needs at this point.
        needed: usize,
        /// Bytes available.
        had: usize,
    },
    /// A management message type this implementation does not know.
    #[error("unknown management message type {0:#04x}")]
    UnknownType(u8),
    /// A field holds a value outside its range (named by the string).
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
    /// Bytes left over after a complete message.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
}
