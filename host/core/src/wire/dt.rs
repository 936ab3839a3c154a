//! The per-hop data transfer (DT) header.

use super::WireError;
use super::field::Reader;
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

/// Byte offsets of the DT header fields (see `docs/PROTOCOL.md`).
mod offset {
    use core::ops::Range;
    pub(super) const DST: Range<usize> = 0..4;
    pub(super) const SRC: Range<usize> = 4..8;
    pub(super) const EID: Range<usize> = 8..12;
    pub(super) const CUBE: usize = 12;
    pub(super) const TTL: usize = 13;
    pub(super) const ECN: usize = 14;
}

impl DtHeader {
    /// Parse a header from the front of `buf`; returns it and the payload after it.
    ///
    /// Fails with [`WireError::Truncated`] if `buf` is shorter than [`DT_HEADER_LEN`] and
    /// with [`WireError::InvalidField`]`("cube")` if the cube byte is not a [`QosCube`].
    pub fn parse(buf: &[u8]) -> Result<(DtHeader, &[u8]), WireError> {
        let mut r = Reader::new(buf);
        let dst = Address(r.u32()?);
        let src = Address(r.u32()?);
        let eid = Eid(r.u32()?);
        let cube = QosCube::from_u8(r.u8()?).ok_or(WireError::InvalidField("cube"))?;
        let ttl = r.u8()?;
        let ecn = r.u8()?;
        Ok((
            DtHeader {
                dst,
                src,
                eid,
                cube,
                ttl,
                ecn,
            },
            r.rest(),
        ))
    }

    /// Append the 15 header bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The header as a fixed 15-byte array (what [`DtHeader::emit`] appends).
    pub fn to_bytes(&self) -> [u8; DT_HEADER_LEN] {
        let mut out = [0u8; DT_HEADER_LEN];
        out[offset::DST].copy_from_slice(&self.dst.0.to_be_bytes());
        out[offset::SRC].copy_from_slice(&self.src.0.to_be_bytes());
        out[offset::EID].copy_from_slice(&self.eid.0.to_be_bytes());
        out[offset::CUBE] = self.cube as u8;
        out[offset::TTL] = self.ttl;
        out[offset::ECN] = self.ecn;
        out
    }
}

/// A checked view over a buffer holding a DT PDU: read and rewrite fields in place.
///
/// [`DtPacket::new_checked`] verifies the length and the cube once, so the getters and
/// setters below cannot fail afterwards. They still never index unchecked: should the
/// buffer shrink behind the view (an unusual `AsRef` impl), reads yield zeros and writes are
/// ignored rather than panicking.
#[derive(Debug)]
pub struct DtPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DtPacket<T> {
    /// Wrap `buffer`, checking it is long enough and its cube is valid.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        DtHeader::parse(buffer.as_ref())?;
        Ok(DtPacket { buffer })
    }
    /// `N` bytes at `range`, or zeros if the buffer is too short (cannot happen once checked).
    fn field<const N: usize>(&self, range: core::ops::Range<usize>) -> [u8; N] {
        self.buffer
            .as_ref()
            .get(range)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .unwrap_or([0; N])
    }
    /// The byte at `at`, or 0 if the buffer is too short (cannot happen once checked).
    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }
    /// Destination address.
    pub fn dst(&self) -> Address {
        Address(u32::from_be_bytes(self.field(offset::DST)))
    }
    /// Source address.
    pub fn src(&self) -> Address {
        Address(u32::from_be_bytes(self.field(offset::SRC)))
    }
    /// Endpoint id.
    pub fn eid(&self) -> Eid {
        Eid(u32::from_be_bytes(self.field(offset::EID)))
    }
    /// QoS cube.
    pub fn cube(&self) -> QosCube {
        QosCube::from_u8(self.byte(offset::CUBE)).unwrap_or(QosCube::Raw)
    }
    /// TTL.
    pub fn ttl(&self) -> u8 {
        self.byte(offset::TTL)
    }
    /// ECN value.
    pub fn ecn(&self) -> u8 {
        self.byte(offset::ECN)
    }
    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(DT_HEADER_LEN..).unwrap_or(&[])
    }
    /// The whole parsed header.
    pub fn header(&self) -> DtHeader {
        DtHeader {
            dst: self.dst(),
            src: self.src(),
            eid: self.eid(),
            cube: self.cube(),
            ttl: self.ttl(),
            ecn: self.ecn(),
        }
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DtPacket<T> {
    /// Write `v` at `at` (ignored if the buffer is too short, which cannot happen once checked).
    fn set_byte(&mut self, at: usize, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(at) {
            *b = v;
        }
    }
    /// Rewrite the TTL in place.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.set_byte(offset::TTL, ttl);
    }
    /// Rewrite the ECN value in place.
    pub fn set_ecn(&mut self, ecn: u8) {
        self.set_byte(offset::ECN, ecn);
    }
    /// Mark the PDU as having met congestion: raise its ECN value to at least 1. True if
    /// it was 0 (newly marked).
    pub fn mark_congested(&mut self) -> bool {
        if self.ecn() != 0 {
            return false;
        }
        self.set_ecn(1);
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::test_util::{hex, unhex};
    use proptest::prelude::*;

    /// The DT header test vector of `docs/PROTOCOL.md`.
    pub(crate) const VECTOR_HEX: &str = "0a0b0c0d 01020304 00000007 02 3c 05";

    fn vector() -> DtHeader {
        DtHeader {
            dst: Address(0x0a0b_0c0d),
            src: Address(0x0102_0304),
            eid: Eid(7),
            cube: QosCube::Video,
            ttl: 60,
            ecn: 5,
        }
    }

    #[test]
    fn header_vector() {
        let mut out = Vec::new();
        vector().emit(&mut out);
        assert_eq!(out.len(), DT_HEADER_LEN);
        assert_eq!(hex(&out), hex(&unhex(VECTOR_HEX)));
        assert_eq!(vector().to_bytes().as_slice(), out.as_slice());

        let mut pdu = unhex(VECTOR_HEX);
        pdu.extend_from_slice(b"hello");
        let (header, payload) = DtHeader::parse(&pdu).expect("vector parses");
        assert_eq!(header, vector());
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn parse_errors() {
        let pdu = unhex(VECTOR_HEX);
        assert_eq!(
            DtHeader::parse(&pdu[..14]),
            Err(WireError::Truncated {
                needed: 15,
                had: 14
            })
        );
        assert!(matches!(
            DtHeader::parse(&[]),
            Err(WireError::Truncated { had: 0, .. })
        ));
        let mut bad = pdu.clone();
        bad[12] = 5;
        assert_eq!(DtHeader::parse(&bad), Err(WireError::InvalidField("cube")));
        assert_eq!(
            DtPacket::new_checked(&bad[..]).err(),
            Some(WireError::InvalidField("cube"))
        );
        assert!(DtPacket::new_checked(&pdu[..10]).is_err());
    }

    #[test]
    fn packet_view_reads_and_rewrites_in_place() {
        let mut pdu = unhex(VECTOR_HEX);
        pdu.extend_from_slice(b"data");
        let mut pkt = DtPacket::new_checked(&mut pdu[..]).expect("valid pdu");
        assert_eq!(pkt.header(), vector());
        assert_eq!(pkt.dst(), Address(0x0a0b_0c0d));
        assert_eq!(pkt.src(), Address(0x0102_0304));
        assert_eq!(pkt.eid(), Eid(7));
        assert_eq!(pkt.cube(), QosCube::Video);
        assert_eq!((pkt.ttl(), pkt.ecn()), (60, 5));
        assert_eq!(pkt.payload(), b"data");
        pkt.set_ttl(59);
        pkt.set_ecn(200);
        assert_eq!((pkt.ttl(), pkt.ecn()), (59, 200));
        let _ = pkt.into_inner();
        assert_eq!(hex(&pdu[13..15]), "3bc8");
        assert_eq!(&pdu[15..], b"data");
    }

    #[test]
    fn marking_congestion_raises_a_zero_ecn_only() {
        let mut pdu = unhex(VECTOR_HEX);
        let mut pkt = DtPacket::new_checked(&mut pdu[..]).expect("valid pdu");
        assert!(!pkt.mark_congested(), "already 5: left as it is");
        assert_eq!(pkt.ecn(), 5);
        pkt.set_ecn(0);
        assert!(pkt.mark_congested());
        assert!(!pkt.mark_congested(), "marked once");
        assert_eq!(pkt.ecn(), 1);
    }

    /// Any header.
    pub(crate) fn arb_header() -> impl Strategy<Value = DtHeader> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            0u8..QosCube::COUNT as u8,
            any::<u8>(),
            any::<u8>(),
        )
            .prop_map(|(dst, src, eid, cube, ttl, ecn)| DtHeader {
                dst: Address(dst),
                src: Address(src),
                eid: Eid(eid),
                cube: QosCube::from_u8(cube).unwrap_or(QosCube::Raw),
                ttl,
                ecn,
            })
    }

    proptest! {
        #[test]
        fn header_round_trips(h in arb_header(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut pdu = Vec::new();
            h.emit(&mut pdu);
            prop_assert_eq!(pdu.len(), DT_HEADER_LEN);
            pdu.extend_from_slice(&payload);
            let (parsed, rest) = DtHeader::parse(&pdu)?;
            prop_assert_eq!(parsed, h);
            prop_assert_eq!(rest, &payload[..]);
            let pkt = DtPacket::new_checked(&pdu[..])?;
            prop_assert_eq!(pkt.header(), h);
            prop_assert_eq!(pkt.payload(), &payload[..]);
        }

        #[test]
        fn parse_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..2048)) {
            match DtHeader::parse(&buf) {
                Ok((h, payload)) => {
                    // A successful parse re-emits to exactly the input.
                    let mut out = Vec::new();
                    h.emit(&mut out);
                    out.extend_from_slice(payload);
                    prop_assert_eq!(&out, &buf);
                    let pkt = DtPacket::new_checked(&buf[..])?;
                    prop_assert_eq!(pkt.header(), h);
                }
                Err(_) => prop_assert!(DtPacket::new_checked(&buf[..]).is_err()),
            }
        }

        #[test]
        fn mutations_are_rejected_or_consistent(h in arb_header(), at in 0usize..DT_HEADER_LEN, flip in 1u8..=255) {
            let pdu = h.to_bytes();
            for len in 0..DT_HEADER_LEN {
                let truncated = DtHeader::parse(&pdu[..len]);
                let is_truncated = matches!(truncated, Err(WireError::Truncated { .. }));
                prop_assert!(is_truncated);
            }
            let mut flipped = pdu;
            flipped[at] ^= flip;
            if let Ok((parsed, rest)) = DtHeader::parse(&flipped) {
                prop_assert!(rest.is_empty());
                prop_assert_eq!(parsed.to_bytes(), flipped);
                prop_assert_ne!(parsed, h);
            }
        }
    }
}
