//! The per-hop data transfer (DT) header.

use super::WireError;
use crate::{Address, Eid, QosCube};

/// Length of the DT header in bytes.
pub const DT_HEADER_LEN: usize = 15;

/// Parsed data transfer header: dst(4) src(4) eid(4) cube(1) ttl(1) ecn(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtHeader {
    /// Destination IPCP address.
    pub dst: Address,
    /// Source IPCP address.
    pub src: Address,
    /// Destination endpoint id (0: layer management).
    pub eid: Eid,
    /// QoS cube (selects the queue at every hop).
    pub cube: QosCube,
    /// Hops left; a relay drops a PDU it would forward with TTL 0 after decrementing.
    pub ttl: u8,
    /// Congestion experienced, 0 (none) to 255, raised by congested relays.
    pub ecn: u8,
}

impl DtHeader {
    /// Parse a header from the front of `buf`; returns it and the payload after it.
    pub fn parse(buf: &[u8]) -> Result<(DtHeader, &[u8]), WireError> {
        let _ = buf;
        todo!("wire helper")
    }

    /// Append the 15 header bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!("wire helper")
    }
}

/// A checked view over a buffer holding a DT PDU: read and rewrite fields in place.
#[derive(Debug)]
pub struct DtPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DtPacket<T> {
    /// Wrap `buffer`, checking it is long enough and its cube is valid.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let _ = &buffer;
        todo!("wire helper")
    }
    /// Destination address.
    pub fn dst(&self) -> Address {
        todo!("wire helper")
    }
    /// Source address.
    pub fn src(&self) -> Address {
        todo!("wire helper")
    }
    /// Endpoint id.
    pub fn eid(&self) -> Eid {
        todo!("wire helper")
    }
    /// QoS cube.
    pub fn cube(&self) -> QosCube {
        todo!("wire helper")
    }
    /// TTL.
    pub fn ttl(&self) -> u8 {
        todo!("wire helper")
    }
    /// ECN value.
    pub fn ecn(&self) -> u8 {
        todo!("wire helper")
    }
    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        todo!("wire helper")
    }
    /// The whole parsed header.
    pub fn header(&self) -> DtHeader {
        todo!("wire helper")
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DtPacket<T> {
    /// Rewrite the TTL in place.
    pub fn set_ttl(&mut self, ttl: u8) {
        let _ = ttl;
        todo!("wire helper")
    }
    /// Rewrite the ECN value in place.
    pub fn set_ecn(&mut self, ecn: u8) {
        let _ = ecn;
        todo!("wire helper")
    }
}
