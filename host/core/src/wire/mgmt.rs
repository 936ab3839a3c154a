//! Layer management messages (the payload of DT PDUs for endpoint id 0).
//!
//! # Encoding
//!
//! Byte 0 is the type code ([`MgmtType`]); the message's fields follow in declaration order,
//! big-endian, with no padding and no trailing bytes:
//!
//! - [`Address`], [`Eid`] and `u32` fields: 4 bytes; `u64`: 8; `u16`: 2; `u8`: 1.
//! - [`EnrollResult`], [`FlowResult`]: 1 byte; unknown values are
//!   [`WireError::InvalidField`].
//! - [`NameHash`]: a `u8` length (4..=32, else `InvalidField("name hash length")`), then the
//!   hash bytes.
//! - strings: a `u8` byte length, then UTF-8 (invalid UTF-8 is `InvalidField("string")`).
//!   [`MgmtMsg::emit`] truncates a string longer than 255 bytes to its longest prefix of at
//!   most 255 bytes that ends on a character boundary.
//! - every `Vec`: a `u16` item count, then the items. [`MgmtMsg::emit`] writes only the
//!   first 65535 items of a longer vector (callers split large sets into several messages).
//! - [`QosSpec`] (30 bytes): delay_ms u32, bandwidth_bps u64, availability u8, loss_ppm u32,
//!   ber u32, in_order u8 (0 or 1, else `InvalidField("in_order")`), max_gap_ms u32,
//!   timeout_ms u32.
//! - [`LayerConfig`]: layer_name (string), hash_len u8 (4..=32, else
//!   `InvalidField("hash_len")`), default_ttl u8, then lsa_refresh, lsa_max_age,
//!   lsa_min_interval, spf_delay, spf_hold, hello_interval, dead_interval, dir_refresh and
//!   flow_keepalive as `u32` milliseconds (sub-millisecond parts are dropped; durations
//!   above `u32::MAX` ms are written as `u32::MAX`), dht_replicas u8, routing_policy
//!   (string).
//! - [`Lsa`]: origin u32, seqno u64, lifetime_s u16, links (vec of [`LsaLink`]: neighbor
//!   u32, cost u32).
//! - [`LsaRef`]: origin u32, seqno u64. [`DirEntry`]: name hash, address u32, key
//!   (32 bytes), lifetime_s u16. [`DirTarget`]: address u32, key (32 bytes).
//! - keys, nonces and MACs: their bytes, fixed length (32, 16 and 32), no length prefix.
//!
//! Emitting never validates: a value whose fields are out of range (a `hash_len` of 2, say)
//! is written verbatim and rejected by the receiver's [`MgmtMsg::parse`]. Byte diagrams and
//! test vectors for every message are in `docs/PROTOCOL.md`.

use std::time::Duration;

use super::WireError;
use super::field::Reader;
use crate::name::{MAX_HASH_LEN, MIN_HASH_LEN};
use crate::{Address, Eid, LayerConfig, NameHash, QosSpec};

/// Management message type codes (first byte of every management message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MgmtType {
    /// [`MgmtMsg::EnrollRequest`]
    EnrollRequest = 0x01,
    /// [`MgmtMsg::EnrollResponse`]
    EnrollResponse = 0x02,
    /// [`MgmtMsg::AdjRequest`]
    AdjRequest = 0x03,
    /// [`MgmtMsg::AdjAccept`]
    AdjAccept = 0x04,
    /// [`MgmtMsg::Keepalive`]
    Keepalive = 0x05,
    /// [`MgmtMsg::EnrollChallenge`]
    EnrollChallenge = 0x06,
    /// [`MgmtMsg::EnrollProof`]
    EnrollProof = 0x07,
    /// [`MgmtMsg::Lsu`]
    Lsu = 0x10,
    /// [`MgmtMsg::LsaAck`]
    LsaAck = 0x11,
    /// [`MgmtMsg::DirPut`]
    DirPut = 0x20,
    /// [`MgmtMsg::DirDel`]
    DirDel = 0x21,
    /// [`MgmtMsg::DirGet`]
    DirGet = 0x22,
    /// [`MgmtMsg::DirReply`]
    DirReply = 0x23,
    /// [`MgmtMsg::FlowReq`]
    FlowReq = 0x30,
    /// [`MgmtMsg::FlowReply`]
    FlowReply = 0x31,
    /// [`MgmtMsg::FlowUpdate`]
    FlowUpdate = 0x32,
    /// [`MgmtMsg::FlowDealloc`]
    FlowDealloc = 0x33,
}

impl MgmtType {
    /// The type with code `v`, if any.
    pub fn from_u8(v: u8) -> Option<MgmtType> {
        Some(match v {
            0x01 => MgmtType::EnrollRequest,
            0x02 => MgmtType::EnrollResponse,
            0x03 => MgmtType::AdjRequest,
            0x04 => MgmtType::AdjAccept,
            0x05 => MgmtType::Keepalive,
            0x06 => MgmtType::EnrollChallenge,
            0x07 => MgmtType::EnrollProof,
            0x10 => MgmtType::Lsu,
            0x11 => MgmtType::LsaAck,
            0x20 => MgmtType::DirPut,
            0x21 => MgmtType::DirDel,
            0x22 => MgmtType::DirGet,
            0x23 => MgmtType::DirReply,
            0x30 => MgmtType::FlowReq,
            0x31 => MgmtType::FlowReply,
            0x32 => MgmtType::FlowUpdate,
            0x33 => MgmtType::FlowDealloc,
            _ => return None,
        })
    }
}

/// Outcome of an enrollment request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EnrollResult {
    /// Enrolled: the response carries an address and the layer configuration.
    Ok = 0,
    /// The member refused (policy).
    Denied = 1,
    /// The member could not find a free address.
    NoAddress = 2,
    /// The member is not enrolled itself.
    NotEnrolled = 3,
}

impl EnrollResult {
    /// The result with wire value `v`, if any.
    pub fn from_u8(v: u8) -> Option<EnrollResult> {
        Some(match v {
            0 => EnrollResult::Ok,
            1 => EnrollResult::Denied,
            2 => EnrollResult::NoAddress,
            3 => EnrollResult::NotEnrolled,
            _ => return None,
        })
    }
}

/// Outcome of a flow allocation request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FlowResult {
    /// Allocated.
    Ok = 0,
    /// No process accepts flows for that name at this IPCP.
    NoSuchName = 1,
    /// The accepting side refused.
    Denied = 2,
    /// The responder is out of endpoint ids or memory.
    NoResources = 3,
}

impl FlowResult {
    /// The result with wire value `v`, if any.
    pub fn from_u8(v: u8) -> Option<FlowResult> {
        Some(match v {
            0 => FlowResult::Ok,
            1 => FlowResult::NoSuchName,
            2 => FlowResult::Denied,
            3 => FlowResult::NoResources,
            _ => return None,
        })
    }
}

/// One link in a link-state advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LsaLink {
    /// The neighbour at the other end.
    pub neighbor: Address,
    /// Cost of the link from the origin to the neighbour (>= 1).
    pub cost: u32,
}

/// A link-state advertisement: one IPCP's adjacencies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lsa {
    /// The IPCP that originated it.
    pub origin: Address,
    /// Sequence number; higher is newer.
    pub seqno: u64,
    /// Remaining lifetime in seconds; 0 flushes the advertisement.
    pub lifetime_s: u16,
    /// The origin's adjacencies.
    pub links: Vec<LsaLink>,
}

/// Names one version of an advertisement (in acknowledgements).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LsaRef {
    /// Originator.
    pub origin: Address,
    /// Sequence number.
    pub seqno: u64,
}

/// One directory registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirEntry {
    /// The registered name.
    pub name: NameHash,
    /// The IPCP where it is registered.
    pub address: Address,
    /// That IPCP's static X25519 public key (requesters prove their own key to it).
    pub key: [u8; 32],
    /// Seconds the entry stays valid without a refresh.
    pub lifetime_s: u16,
}

/// Where a name is registered, as a lookup answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirTarget {
    /// The IPCP's address.
    pub address: Address,
    /// Its static X25519 public key.
    pub key: [u8; 32],
}

/// A parsed layer management message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MgmtMsg {
    /// Enrollee → member: please enroll me.
    EnrollRequest {
        /// Hash (32 bytes) of the enrollee's IPCP name.
        ipcp: NameHash,
        /// The enrollee's static X25519 public key (proved in [`MgmtMsg::EnrollProof`]).
        key: [u8; 32],
    },
    /// Member → enrollee: prove you hold the key you presented.
    EnrollChallenge {
        /// The member's static X25519 public key.
        key: [u8; 32],
        /// A fresh nonce.
        nonce: [u8; 16],
    },
    /// Enrollee → member: the proof of possession (see docs/PROTOCOL.md).
    EnrollProof {
        /// BLAKE3 keyed hash of the request and the challenge, keyed by the enrollment
        /// proof key derived from the X25519 shared secret.
        mac: [u8; 32],
    },
    /// Member → enrollee: the outcome, the assigned address and the layer configuration.
    EnrollResponse {
        /// Outcome.
        result: EnrollResult,
        /// Assigned address (0 unless `result` is Ok).
        address: Address,
        /// The layer configuration.
        config: LayerConfig,
    },
    /// Ask a neighbour to form an adjacency over this N-1 flow.
    AdjRequest {
        /// The sender's address.
        address: Address,
        /// Hash of the sender's IPCP name.
        ipcp: NameHash,
        /// Cost the sender advertises for the link; a receiver with no cost of its own for
        /// the port adopts it (links are symmetric unless both ends set a cost).
        cost: u32,
    },
    /// Accept an adjacency.
    AdjAccept {
        /// The sender's address.
        address: Address,
    },
    /// Keepalive: eid 0 for an adjacency (neighbour-scoped), else for that flow endpoint.
    Keepalive {
        /// Target endpoint at the receiver (0: the adjacency itself).
        eid: Eid,
    },
    /// Link-state update: one or more advertisements (flooded).
    Lsu {
        /// The advertisements.
        lsas: Vec<Lsa>,
    },
    /// Acknowledges advertisements received in an [`MgmtMsg::Lsu`] (flooding is reliable:
    /// unacknowledged advertisements are sent again).
    LsaAck {
        /// The advertisement versions received.
        acks: Vec<LsaRef>,
    },
    /// Store registrations (sent to the replicas responsible for each name).
    DirPut {
        /// The registrations.
        entries: Vec<DirEntry>,
    },
    /// Remove a registration.
    DirDel {
        /// The name.
        name: NameHash,
        /// The address to remove for it.
        address: Address,
    },
    /// Look up a name.
    DirGet {
        /// Query id, echoed in the reply.
        query: u32,
        /// The name.
        name: NameHash,
    },
    /// Answer to a lookup (no addresses: unknown).
    DirReply {
        /// Query id of the request.
        query: u32,
        /// The name.
        name: NameHash,
        /// Where it is registered: addresses and their keys.
        targets: Vec<DirTarget>,
    },
    /// Flow allocation request, sent to the IPCP where the name is registered.
    FlowReq {
        /// The requester's endpoint id.
        src_eid: Eid,
        /// The destination name.
        name: NameHash,
        /// Requested QoS.
        qos: QosSpec,
        /// The requester's static X25519 public key.
        key: [u8; 32],
        /// A fresh nonce (the destination refuses one it has seen recently).
        nonce: [u8; 16],
        /// Proof of possession of `key`: BLAKE3 keyed hash of the source and destination
        /// addresses and this message with `mac` zeroed, keyed by the flow proof key
        /// derived from the X25519 shared secret with the destination's key.
        mac: [u8; 32],
    },
    /// Flow allocation reply.
    FlowReply {
        /// The requester's endpoint id (echoed from the request).
        src_eid: Eid,
        /// The responder's endpoint id (0 on failure).
        dst_eid: Eid,
        /// Outcome.
        result: FlowResult,
    },
    /// Congestion feedback from a flow's receiver to its sender.
    FlowUpdate {
        /// The receiver-of-this-message's endpoint id.
        eid: Eid,
        /// Explicit congestion echo: the highest ECN value seen recently.
        ece: u16,
    },
    /// Deallocate a flow.
    FlowDealloc {
        /// The receiver-of-this-message's endpoint id.
        eid: Eid,
    },
}

/// Longest string a message carries, in bytes (its length is one byte).
pub const MAX_STR_LEN: usize = u8::MAX as usize;
/// Most items a vector in a message carries (its count is two bytes).
pub const MAX_VEC_LEN: usize = u16::MAX as usize;

/// The writing half of a field: append it, and say how many bytes that takes.
///
/// `write` must append exactly `wire_len` bytes; every message is a sequence of fields, so
/// [`MgmtMsg::buffer_len`] is one plus the sum of its fields' lengths.
trait Put {
    /// Append the field to `out`.
    fn write(&self, out: &mut Vec<u8>);
    /// Bytes `write` appends.
    fn wire_len(&self) -> usize;
}

/// One encodable field: [`Put`] plus how to read it back.
trait Field: Put + Sized {
    /// Read the field from `r`.
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError>;
}

/// Read one field of an inferred type.
fn read<T: Field>(r: &mut Reader<'_>) -> Result<T, WireError> {
    T::read(r)
}

/// Integers: big-endian, fixed width.
macro_rules! int_field {
    ($($t:ty => $read:ident),*) => {$(
        impl Field for $t {
            fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
                r.$read()
            }
        }

        impl Put for $t {
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn wire_len(&self) -> usize {
                size_of::<$t>()
            }
        }
    )*};
}
int_field!(u8 => u8, u16 => u16, u32 => u32, u64 => u64);

impl Field for Address {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Address(r.u32()?))
    }
}

impl Put for Address {
    fn write(&self, out: &mut Vec<u8>) {
        self.0.write(out);
    }
    fn wire_len(&self) -> usize {
        4
    }
}

impl Field for Eid {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Eid(r.u32()?))
    }
}

impl Put for Eid {
    fn write(&self, out: &mut Vec<u8>) {
        self.0.write(out);
    }
    fn wire_len(&self) -> usize {
        4
    }
}

impl Field for bool {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::InvalidField("in_order")),
        }
    }
}

impl Put for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn wire_len(&self) -> usize {
        1
    }
}

impl Field for EnrollResult {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        EnrollResult::from_u8(r.u8()?).ok_or(WireError::InvalidField("enroll result"))
    }
}

impl Put for EnrollResult {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn wire_len(&self) -> usize {
        1
    }
}

impl Field for FlowResult {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        FlowResult::from_u8(r.u8()?).ok_or(WireError::InvalidField("flow result"))
    }
}

impl Put for FlowResult {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn wire_len(&self) -> usize {
        1
    }
}

/// Name hash: `u8` length (4..=32) + bytes.
impl Field for NameHash {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = usize::from(r.u8()?);
        if !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&len) {
            return Err(WireError::InvalidField("name hash length"));
        }
        NameHash::from_bytes(r.bytes(len)?).ok_or(WireError::InvalidField("name hash length"))
    }
}

impl Put for NameHash {
    fn write(&self, out: &mut Vec<u8>) {
        // A NameHash always holds 4..=32 bytes, so the length fits in a u8.
        let bytes = self.as_bytes();
        out.push(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(bytes);
    }
    fn wire_len(&self) -> usize {
        1 + self.len()
    }
}

/// The part of `s` that is emitted: its longest prefix of at most [`MAX_STR_LEN`] bytes that
/// ends on a character boundary.
fn wire_str(s: &str) -> &str {
    s.get(..s.floor_char_boundary(MAX_STR_LEN))
        .unwrap_or_default()
}

/// String: `u8` byte length + UTF-8, truncated by [`wire_str`].
impl Field for String {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = usize::from(r.u8()?);
        let bytes = r.bytes(len)?;
        let s = core::str::from_utf8(bytes).map_err(|_| WireError::InvalidField("string"))?;
        Ok(s.to_owned())
    }
}

impl Put for String {
    fn write(&self, out: &mut Vec<u8>) {
        let s = wire_str(self);
        out.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(s.as_bytes());
    }
    fn wire_len(&self) -> usize {
        1 + wire_str(self).len()
    }
}

/// The items of `v` that are emitted: the first [`MAX_VEC_LEN`].
fn wire_items<T>(v: &[T]) -> &[T] {
    v.get(..v.len().min(MAX_VEC_LEN)).unwrap_or_default()
}

/// Vector: `u16` count + items, truncated by [`wire_items`].
impl<T: Field> Field for Vec<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = usize::from(r.u16()?);
        // Every item takes at least one byte: never reserve more than the input could hold.
        let mut v = Vec::with_capacity(n.min(r.remaining()));
        for _ in 0..n {
            v.push(T::read(r)?);
        }
        Ok(v)
    }
}

impl<T: Put> Put for Vec<T> {
    fn write(&self, out: &mut Vec<u8>) {
        let items = wire_items(self);
        out.extend_from_slice(&u16::try_from(items.len()).unwrap_or(u16::MAX).to_be_bytes());
        for item in items {
            item.write(out);
        }
    }
    fn wire_len(&self) -> usize {
        2 + wire_items(self).iter().map(Put::wire_len).sum::<usize>()
    }
}

/// Duration: `u32` milliseconds; sub-millisecond parts dropped, saturating at `u32::MAX`.
impl Field for Duration {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Duration::from_millis(u64::from(r.u32()?)))
    }
}

impl Put for Duration {
    fn write(&self, out: &mut Vec<u8>) {
        u32::try_from(self.as_millis())
            .unwrap_or(u32::MAX)
            .write(out);
    }
    fn wire_len(&self) -> usize {
        4
    }
}

/// Length of an encoded [`QosSpec`].
pub const QOS_SPEC_LEN: usize = 30;

impl Field for QosSpec {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(QosSpec {
            delay_ms: read(r)?,
            bandwidth_bps: read(r)?,
            availability: read(r)?,
            loss_ppm: read(r)?,
            ber: read(r)?,
            in_order: read(r)?,
            max_gap_ms: read(r)?,
            timeout_ms: read(r)?,
        })
    }
}

impl Put for QosSpec {
    fn write(&self, out: &mut Vec<u8>) {
        self.delay_ms.write(out);
        self.bandwidth_bps.write(out);
        self.availability.write(out);
        self.loss_ppm.write(out);
        self.ber.write(out);
        self.in_order.write(out);
        self.max_gap_ms.write(out);
        self.timeout_ms.write(out);
    }
    fn wire_len(&self) -> usize {
        QOS_SPEC_LEN
    }
}

impl Field for LayerConfig {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let layer_name = read(r)?;
        let hash_len = r.u8()?;
        if !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&usize::from(hash_len)) {
            return Err(WireError::InvalidField("hash_len"));
        }
        Ok(LayerConfig {
            layer_name,
            hash_len,
            default_ttl: read(r)?,
            lsa_refresh: read(r)?,
            lsa_max_age: read(r)?,
            lsa_min_interval: read(r)?,
            spf_delay: read(r)?,
            spf_hold: read(r)?,
            hello_interval: read(r)?,
            dead_interval: read(r)?,
            dir_refresh: read(r)?,
            flow_keepalive: read(r)?,
            dht_replicas: read(r)?,
            routing_policy: read(r)?,
        })
    }
}

impl Put for LayerConfig {
    fn write(&self, out: &mut Vec<u8>) {
        self.layer_name.write(out);
        self.hash_len.write(out);
        self.default_ttl.write(out);
        self.lsa_refresh.write(out);
        self.lsa_max_age.write(out);
        self.lsa_min_interval.write(out);
        self.spf_delay.write(out);
        self.spf_hold.write(out);
        self.hello_interval.write(out);
        self.dead_interval.write(out);
        self.dir_refresh.write(out);
        self.flow_keepalive.write(out);
        self.dht_replicas.write(out);
        self.routing_policy.write(out);
    }
    fn wire_len(&self) -> usize {
        // Two strings, hash_len + default_ttl + dht_replicas, nine durations.
        self.layer_name.wire_len() + 3 + 9 * 4 + self.routing_policy.wire_len()
    }
}

/// Implements [`Field`] and [`Put`] for a struct encoded as its fields, in the order given
/// (which must be the declaration order documented in `docs/PROTOCOL.md`).
macro_rules! wire_struct {
    ($ty:ident { $($field:ident),+ $(,)? }) => {
        impl Field for $ty {
            fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
                // Struct expression fields are evaluated in the order written.
                Ok($ty { $($field: read(r)?),+ })
            }
        }

        impl Put for $ty {
            fn write(&self, out: &mut Vec<u8>) {
                $(self.$field.write(out);)+
            }
            fn wire_len(&self) -> usize {
                0 $(+ self.$field.wire_len())+
            }
        }
    };
}

wire_struct!(LsaLink { neighbor, cost });
wire_struct!(Lsa {
    origin,
    seqno,
    lifetime_s,
    links
});
wire_struct!(LsaRef { origin, seqno });
wire_struct!(DirEntry {
    name,
    address,
    key,
    lifetime_s
});
wire_struct!(DirTarget { address, key });

/// Fixed-size byte strings (keys, nonces, MACs): the bytes, no length.
impl<const N: usize> Field for [u8; N] {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.array()
    }
}

impl<const N: usize> Put for [u8; N] {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn wire_len(&self) -> usize {
        N
    }
}

impl MgmtMsg {
    /// Parse one whole message (trailing bytes are an error).
    ///
    /// Fails with [`WireError::UnknownType`] for an unknown type code,
    /// [`WireError::Truncated`] if the buffer ends early, [`WireError::InvalidField`] for an
    /// out-of-range field and [`WireError::Trailing`] if bytes are left over.
    pub fn parse(buf: &[u8]) -> Result<MgmtMsg, WireError> {
        let mut reader = Reader::new(buf);
        let r = &mut reader;
        let code = r.u8()?;
        let ty = MgmtType::from_u8(code).ok_or(WireError::UnknownType(code))?;
        let msg = match ty {
            MgmtType::EnrollRequest => MgmtMsg::EnrollRequest {
                ipcp: read(r)?,
                key: read(r)?,
            },
            MgmtType::EnrollChallenge => MgmtMsg::EnrollChallenge {
                key: read(r)?,
                nonce: read(r)?,
            },
            MgmtType::EnrollProof => MgmtMsg::EnrollProof { mac: read(r)? },
            MgmtType::EnrollResponse => MgmtMsg::EnrollResponse {
                result: read(r)?,
                address: read(r)?,
                config: read(r)?,
            },
            MgmtType::AdjRequest => MgmtMsg::AdjRequest {
                address: read(r)?,
                ipcp: read(r)?,
                cost: read(r)?,
            },
            MgmtType::AdjAccept => MgmtMsg::AdjAccept { address: read(r)? },
            MgmtType::Keepalive => MgmtMsg::Keepalive { eid: read(r)? },
            MgmtType::Lsu => MgmtMsg::Lsu { lsas: read(r)? },
            MgmtType::LsaAck => MgmtMsg::LsaAck { acks: read(r)? },
            MgmtType::DirPut => MgmtMsg::DirPut { entries: read(r)? },
            MgmtType::DirDel => MgmtMsg::DirDel {
                name: read(r)?,
                address: read(r)?,
            },
            MgmtType::DirGet => MgmtMsg::DirGet {
                query: read(r)?,
                name: read(r)?,
            },
            MgmtType::DirReply => MgmtMsg::DirReply {
                query: read(r)?,
                name: read(r)?,
                targets: read(r)?,
            },
            MgmtType::FlowReq => MgmtMsg::FlowReq {
                src_eid: read(r)?,
                name: read(r)?,
                qos: read(r)?,
                key: read(r)?,
                nonce: read(r)?,
                mac: read(r)?,
            },
            MgmtType::FlowReply => MgmtMsg::FlowReply {
                src_eid: read(r)?,
                dst_eid: read(r)?,
                result: read(r)?,
            },
            MgmtType::FlowUpdate => MgmtMsg::FlowUpdate {
                eid: read(r)?,
                ece: read(r)?,
            },
            MgmtType::FlowDealloc => MgmtMsg::FlowDealloc { eid: read(r)? },
        };
        reader.finish()?;
        Ok(msg)
    }

    /// Call `f` on every field after the type byte, in wire order. [`MgmtMsg::emit`] and
    /// [`MgmtMsg::buffer_len`] both walk this list, so they cannot disagree.
    fn visit(&self, f: &mut dyn FnMut(&dyn Put)) {
        match self {
            MgmtMsg::EnrollRequest { ipcp, key } => {
                f(ipcp);
                f(key);
            }
            MgmtMsg::EnrollChallenge { key, nonce } => {
                f(key);
                f(nonce);
            }
            MgmtMsg::EnrollProof { mac } => f(mac),
            MgmtMsg::EnrollResponse {
                result,
                address,
                config,
            } => {
                f(result);
                f(address);
                f(config);
            }
            MgmtMsg::AdjRequest {
                address,
                ipcp,
                cost,
            } => {
                f(address);
                f(ipcp);
                f(cost);
            }
            MgmtMsg::AdjAccept { address } => f(address),
            MgmtMsg::Keepalive { eid } => f(eid),
            MgmtMsg::Lsu { lsas } => f(lsas),
            MgmtMsg::LsaAck { acks } => f(acks),
            MgmtMsg::DirPut { entries } => f(entries),
            MgmtMsg::DirDel { name, address } => {
                f(name);
                f(address);
            }
            MgmtMsg::DirGet { query, name } => {
                f(query);
                f(name);
            }
            MgmtMsg::DirReply {
                query,
                name,
                targets,
            } => {
                f(query);
                f(name);
                f(targets);
            }
            MgmtMsg::FlowReq {
                src_eid,
                name,
                qos,
                key,
                nonce,
                mac,
            } => {
                f(src_eid);
                f(name);
                f(qos);
                f(key);
                f(nonce);
                f(mac);
            }
            MgmtMsg::FlowReply {
                src_eid,
                dst_eid,
                result,
            } => {
                f(src_eid);
                f(dst_eid);
                f(result);
            }
            MgmtMsg::FlowUpdate { eid, ece } => {
                f(eid);
                f(ece);
            }
            MgmtMsg::FlowDealloc { eid } => f(eid),
        }
    }

    /// Bytes [`MgmtMsg::emit`] will write.
    pub fn buffer_len(&self) -> usize {
        let mut len = 1;
        self.visit(&mut |p| len += p.wire_len());
        len
    }

    /// Append the encoded message to `out`.
    ///
    /// Writes exactly [`MgmtMsg::buffer_len`] bytes. Strings longer than [`MAX_STR_LEN`]
    /// bytes and vectors longer than [`MAX_VEC_LEN`] items are truncated (see the module
    /// documentation); this never panics in release builds.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.reserve(self.buffer_len());
        out.push(self.msg_type() as u8);
        self.visit(&mut |p| p.write(out));
    }

    /// The encoded message in a new vector (a convenience around [`MgmtMsg::emit`]).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }

    /// The message's type code.
    pub fn msg_type(&self) -> MgmtType {
        match self {
            MgmtMsg::EnrollRequest { .. } => MgmtType::EnrollRequest,
            MgmtMsg::EnrollResponse { .. } => MgmtType::EnrollResponse,
            MgmtMsg::EnrollChallenge { .. } => MgmtType::EnrollChallenge,
            MgmtMsg::EnrollProof { .. } => MgmtType::EnrollProof,
            MgmtMsg::AdjRequest { .. } => MgmtType::AdjRequest,
            MgmtMsg::AdjAccept { .. } => MgmtType::AdjAccept,
            MgmtMsg::Keepalive { .. } => MgmtType::Keepalive,
            MgmtMsg::Lsu { .. } => MgmtType::Lsu,
            MgmtMsg::LsaAck { .. } => MgmtType::LsaAck,
            MgmtMsg::DirPut { .. } => MgmtType::DirPut,
            MgmtMsg::DirDel { .. } => MgmtType::DirDel,
            MgmtMsg::DirGet { .. } => MgmtType::DirGet,
            MgmtMsg::DirReply { .. } => MgmtType::DirReply,
            MgmtMsg::FlowReq { .. } => MgmtType::FlowReq,
            MgmtMsg::FlowReply { .. } => MgmtType::FlowReply,
            MgmtMsg::FlowUpdate { .. } => MgmtType::FlowUpdate,
            MgmtMsg::FlowDealloc { .. } => MgmtType::FlowDealloc,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::test_util::{hex, unhex};
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn h4() -> NameHash {
        NameHash::from_bytes(&[0xde, 0xad, 0xbe, 0xef]).expect("valid hash")
    }

    fn h8() -> NameHash {
        NameHash::from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8]).expect("valid hash")
    }

    /// One fixed message of every type, and its encoding as in `docs/PROTOCOL.md`.
    /// The hex blocks that follow a "Vector" line in `docs/PROTOCOL.md`, whitespace removed.
    fn documented_vectors() -> Vec<String> {
        let doc = include_str!("../../../../docs/PROTOCOL.md");
        let mut out = Vec::new();
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            if !line.starts_with("Vector") {
                continue;
            }
            // Skip the rest of the caption and the opening fence, keep the block.
            let mut block = String::new();
            let mut inside = false;
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    if inside {
                        break;
                    }
                    inside = true;
                } else if inside {
                    block.extend(l.chars().filter(|c| !c.is_whitespace()));
                }
            }
            out.push(block);
        }
        out
    }

    #[test]
    fn protocol_doc_carries_exactly_the_tested_vectors() {
        let documented = documented_vectors();
        let mut tested: Vec<String> = vectors()
            .iter()
            .map(|(_, hex)| hex.chars().filter(|c| !c.is_whitespace()).collect())
            .collect();
        tested.push(crate::identity::tests::FLOW_PROOF_VECTOR_HEX.to_string());
        tested.push(
            crate::wire::dt::tests::VECTOR_HEX
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        );
        for v in &tested {
            assert!(
                documented.contains(v),
                "vector {v} is not in docs/PROTOCOL.md"
            );
        }
        for d in &documented {
            assert!(
                tested.contains(d),
                "docs/PROTOCOL.md shows {d}, which no test checks"
            );
        }
    }

    fn vectors() -> Vec<(MgmtMsg, &'static str)> {
        vec![
            (
                MgmtMsg::EnrollRequest {
                    ipcp: h8(),
                    key: [0x11; 32],
                },
                "01 08 0102030405060708 1111111111111111111111111111111111111111111111111111111111111111",
            ),
            (
                MgmtMsg::EnrollChallenge {
                    key: [0x22; 32],
                    nonce: [0x33; 16],
                },
                "06 2222222222222222222222222222222222222222222222222222222222222222 33333333333333333333333333333333",
            ),
            (
                MgmtMsg::EnrollProof { mac: [0x44; 32] },
                "07 4444444444444444444444444444444444444444444444444444444444444444",
            ),
            (
                MgmtMsg::EnrollResponse {
                    result: EnrollResult::Ok,
                    address: Address(42),
                    config: LayerConfig::named("lab"),
                },
                "02 00 0000002a 03 6c6162 10 3c 000927c0 001b7740 00000064 00000032 000000c8 000003e8 00000fa0 000493e0 00002710 03 06 6e6174697665",
            ),
            (
                MgmtMsg::AdjRequest {
                    address: Address(0x0101),
                    ipcp: h4(),
                    cost: 10,
                },
                "03 00000101 04 deadbeef 0000000a",
            ),
            (
                MgmtMsg::AdjAccept {
                    address: Address(0x0202),
                },
                "04 00000202",
            ),
            (MgmtMsg::Keepalive { eid: Eid(0) }, "05 00000000"),
            (
                MgmtMsg::Lsu {
                    lsas: vec![Lsa {
                        origin: Address(1),
                        seqno: 2,
                        lifetime_s: 1800,
                        links: vec![
                            LsaLink {
                                neighbor: Address(2),
                                cost: 10,
                            },
                            LsaLink {
                                neighbor: Address(3),
                                cost: 1,
                            },
                        ],
                    }],
                },
                "10 0001 00000001 0000000000000002 0708 0002 00000002 0000000a 00000003 00000001",
            ),
            (
                MgmtMsg::LsaAck {
                    acks: vec![
                        LsaRef {
                            origin: Address(1),
                            seqno: 5,
                        },
                        LsaRef {
                            origin: Address(2),
                            seqno: 0x0102_0304_0506_0708,
                        },
                    ],
                },
                "11 0002 00000001 0000000000000005 00000002 0102030405060708",
            ),
            (
                MgmtMsg::DirPut {
                    entries: vec![DirEntry {
                        name: h4(),
                        address: Address(7),
                        key: [0x22; 32],
                        lifetime_s: 900,
                    }],
                },
                "20 0001 04 deadbeef 00000007 2222222222222222222222222222222222222222222222222222222222222222 0384",
            ),
            (
                MgmtMsg::DirDel {
                    name: h4(),
                    address: Address(7),
                },
                "21 04 deadbeef 00000007",
            ),
            (
                MgmtMsg::DirGet {
                    query: 0x1234,
                    name: h4(),
                },
                "22 00001234 04 deadbeef",
            ),
            (
                MgmtMsg::DirReply {
                    query: 0x1234,
                    name: h4(),
                    targets: vec![
                        DirTarget {
                            address: Address(7),
                            key: [0x22; 32],
                        },
                        DirTarget {
                            address: Address(8),
                            key: [0x33; 32],
                        },
                    ],
                },
                "23 00001234 04 deadbeef 0002 00000007 2222222222222222222222222222222222222222222222222222222222222222 00000008 3333333333333333333333333333333333333333333333333333333333333333",
            ),
            (
                MgmtMsg::FlowReq {
                    src_eid: Eid(0x10),
                    name: h4(),
                    qos: QosSpec::VOICE,
                    key: [0x11; 32],
                    nonce: [0x55; 16],
                    mac: [0x66; 32],
                },
                "30 00000010 04 deadbeef 00000032 00000000000186a0 05 00000064 00000001 00 00000032 0001d4c0 1111111111111111111111111111111111111111111111111111111111111111 55555555555555555555555555555555 6666666666666666666666666666666666666666666666666666666666666666",
            ),
            (
                MgmtMsg::FlowReply {
                    src_eid: Eid(0x10),
                    dst_eid: Eid(0x20),
                    result: FlowResult::Ok,
                },
                "31 00000010 00000020 00",
            ),
            (
                MgmtMsg::FlowUpdate {
                    eid: Eid(0x20),
                    ece: 0x00ff,
                },
                "32 00000020 00ff",
            ),
            (MgmtMsg::FlowDealloc { eid: Eid(0x20) }, "33 00000020"),
        ]
    }

    #[test]
    fn every_type_has_a_vector() {
        let mut codes: Vec<u8> = vectors().iter().map(|(m, _)| m.msg_type() as u8).collect();
        codes.sort_unstable();
        codes.dedup();
        let known: Vec<u8> = (0..=u8::MAX)
            .filter(|&c| MgmtType::from_u8(c).is_some())
            .collect();
        assert_eq!(codes, known);
        for c in known {
            let ty = MgmtType::from_u8(c).expect("known");
            assert_eq!(ty as u8, c);
        }
    }

    #[test]
    fn message_vectors() {
        for (msg, text) in vectors() {
            let bytes = unhex(text);
            let out = msg.to_vec();
            assert_eq!(out.len(), msg.buffer_len(), "{msg:?}");
            assert_eq!(hex(&out), hex(&bytes), "{msg:?}");
            assert_eq!(bytes.first(), Some(&(msg.msg_type() as u8)));
            assert_eq!(MgmtMsg::parse(&bytes), Ok(msg));
        }
    }

    #[test]
    fn emit_appends() {
        let msg = MgmtMsg::Keepalive { eid: Eid(3) };
        let mut out = vec![0xaa];
        msg.emit(&mut out);
        assert_eq!(hex(&out), "aa0500000003");
    }

    #[test]
    fn parse_errors() {
        use WireError::*;
        let cases: &[(&str, WireError)] = &[
            ("", Truncated { needed: 1, had: 0 }),
            ("00", UnknownType(0)),
            ("ff 00000000", UnknownType(0xff)),
            ("05 000000", Truncated { needed: 5, had: 4 }),
            ("05 00000000 00", Trailing(1)),
            ("01 03 010203", InvalidField("name hash length")),
            ("01 21", InvalidField("name hash length")),
            ("01 08 01020304", Truncated { needed: 10, had: 6 }),
            ("01 04 01020304 11", Truncated { needed: 38, had: 7 }),
            ("07 4444", Truncated { needed: 33, had: 3 }),
            ("31 00000010 00000020 04", InvalidField("flow result")),
            (
                "23 00000001 04 deadbeef 0002 00000001",
                Truncated {
                    needed: 48,
                    had: 16,
                },
            ),
        ];
        for (text, err) in cases {
            assert_eq!(MgmtMsg::parse(&unhex(text)), Err(*err), "{text}");
        }
        // Field-level errors inside larger structures, by patching the vectors.
        let vectors = vectors();
        let enroll = unhex(
            vectors
                .iter()
                .find(|(m, _)| m.msg_type() == MgmtType::EnrollResponse)
                .expect("EnrollResponse vector")
                .1,
        );
        let mut bad = enroll.clone();
        bad[1] = 4; // result
        assert_eq!(MgmtMsg::parse(&bad), Err(InvalidField("enroll result")));
        let mut bad = enroll.clone();
        bad[10] = 3; // hash_len
        assert_eq!(MgmtMsg::parse(&bad), Err(InvalidField("hash_len")));
        let mut bad = enroll.clone();
        bad[10] = 33;
        assert_eq!(MgmtMsg::parse(&bad), Err(InvalidField("hash_len")));
        let mut bad = enroll;
        bad[7] = 0xff; // inside "lab"
        assert_eq!(MgmtMsg::parse(&bad), Err(InvalidField("string")));
        let flow_req = vectors
            .iter()
            .find(|(m, _)| m.msg_type() == MgmtType::FlowReq);
        let mut bad = unhex(flow_req.expect("FlowReq vector").1);
        let in_order = 1 + 4 + 5 + 4 + 8 + 1 + 4 + 4;
        bad[in_order] = 2;
        assert_eq!(MgmtMsg::parse(&bad), Err(InvalidField("in_order")));
        bad[in_order] = 1;
        assert!(MgmtMsg::parse(&bad).is_ok());
    }

    #[test]
    fn result_codes() {
        for v in 0..=u8::MAX {
            if let Some(r) = EnrollResult::from_u8(v) {
                assert_eq!(r as u8, v);
            }
            if let Some(r) = FlowResult::from_u8(v) {
                assert_eq!(r as u8, v);
            }
        }
        assert_eq!(EnrollResult::from_u8(3), Some(EnrollResult::NotEnrolled));
        assert_eq!(EnrollResult::from_u8(4), None);
        assert_eq!(FlowResult::from_u8(3), Some(FlowResult::NoResources));
        assert_eq!(FlowResult::from_u8(4), None);
    }

    #[test]
    fn long_strings_truncate_on_a_char_boundary() {
        // 200 two-byte characters: 400 bytes, cut to 127 characters (254 bytes).
        let config = LayerConfig {
            layer_name: "é".repeat(200),
            routing_policy: "p".repeat(300),
            ..LayerConfig::default()
        };
        let msg = MgmtMsg::EnrollResponse {
            result: EnrollResult::Ok,
            address: Address(1),
            config,
        };
        let out = msg.to_vec();
        assert_eq!(out.len(), msg.buffer_len());
        let Ok(MgmtMsg::EnrollResponse { config, .. }) = MgmtMsg::parse(&out) else {
            panic!("truncated message must parse");
        };
        assert_eq!(config.layer_name, "é".repeat(127));
        assert_eq!(config.routing_policy, "p".repeat(MAX_STR_LEN));
    }

    #[test]
    fn long_vectors_truncate_to_the_first_items() {
        let targets: Vec<DirTarget> = (0..MAX_VEC_LEN as u32 + 10)
            .map(|a| DirTarget {
                address: Address(a),
                key: [a as u8; 32],
            })
            .collect();
        let msg = MgmtMsg::DirReply {
            query: 1,
            name: h4(),
            targets: targets.clone(),
        };
        let out = msg.to_vec();
        assert_eq!(out.len(), msg.buffer_len());
        assert_eq!(out.len(), 1 + 4 + 5 + 2 + MAX_VEC_LEN * 36);
        let parsed = MgmtMsg::parse(&out);
        assert_eq!(
            parsed,
            Ok(MgmtMsg::DirReply {
                query: 1,
                name: h4(),
                targets: targets[..MAX_VEC_LEN].to_vec()
            })
        );
    }

    #[test]
    fn durations_saturate_and_drop_sub_millisecond_parts() {
        let config = LayerConfig {
            lsa_refresh: Duration::from_secs(u64::MAX),
            spf_delay: Duration::from_micros(1500),
            ..LayerConfig::default()
        };
        let msg = MgmtMsg::EnrollResponse {
            result: EnrollResult::Ok,
            address: Address(1),
            config,
        };
        let out = msg.to_vec();
        assert_eq!(out.len(), msg.buffer_len());
        let Ok(MgmtMsg::EnrollResponse { config, .. }) = MgmtMsg::parse(&out) else {
            panic!("message must parse");
        };
        assert_eq!(
            config.lsa_refresh,
            Duration::from_millis(u64::from(u32::MAX))
        );
        assert_eq!(config.spf_delay, Duration::from_millis(1));
    }

    // ---- proptest strategies -------------------------------------------------------------

    fn arb_address() -> impl Strategy<Value = Address> {
        any::<u32>().prop_map(Address)
    }

    fn arb_eid() -> impl Strategy<Value = Eid> {
        any::<u32>().prop_map(Eid)
    }

    fn arb_hash() -> impl Strategy<Value = NameHash> {
        vec(any::<u8>(), MIN_HASH_LEN..=MAX_HASH_LEN)
            .prop_map(|b| NameHash::from_bytes(&b).expect("length in range"))
    }

    /// Strings that fit: at most 60 characters of at most 4 bytes.
    fn arb_string() -> impl Strategy<Value = String> {
        "\\PC{0,60}"
    }

    /// Durations that survive the encoding: whole milliseconds up to `u32::MAX`.
    fn arb_duration() -> impl Strategy<Value = Duration> {
        any::<u32>().prop_map(|ms| Duration::from_millis(u64::from(ms)))
    }

    fn arb_qos() -> impl Strategy<Value = QosSpec> {
        (
            any::<u32>(),
            any::<u64>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(delay_ms, bandwidth_bps, availability, loss_ppm, ber, in_order, gap, timeout)| {
                    QosSpec {
                        delay_ms,
                        bandwidth_bps,
                        availability,
                        loss_ppm,
                        ber,
                        in_order,
                        max_gap_ms: gap,
                        timeout_ms: timeout,
                    }
                },
            )
    }

    fn arb_config() -> impl Strategy<Value = LayerConfig> {
        (
            (
                arb_string(),
                MIN_HASH_LEN as u8..=MAX_HASH_LEN as u8,
                any::<u8>(),
            ),
            vec(arb_duration(), 9),
            (any::<u8>(), arb_string()),
        )
            .prop_map(
                |((layer_name, hash_len, default_ttl), d, (dht_replicas, routing_policy))| {
                    LayerConfig {
                        layer_name,
                        hash_len,
                        default_ttl,
                        lsa_refresh: d[0],
                        lsa_max_age: d[1],
                        lsa_min_interval: d[2],
                        spf_delay: d[3],
                        spf_hold: d[4],
                        hello_interval: d[5],
                        dead_interval: d[6],
                        dir_refresh: d[7],
                        flow_keepalive: d[8],
                        dht_replicas,
                        routing_policy,
                    }
                },
            )
    }

    fn arb_enroll_result() -> impl Strategy<Value = EnrollResult> {
        (0u8..4).prop_map(|v| EnrollResult::from_u8(v).expect("in range"))
    }

    fn arb_flow_result() -> impl Strategy<Value = FlowResult> {
        (0u8..4).prop_map(|v| FlowResult::from_u8(v).expect("in range"))
    }

    fn arb_lsa() -> impl Strategy<Value = Lsa> {
        (
            arb_address(),
            any::<u64>(),
            any::<u16>(),
            vec(
                (arb_address(), any::<u32>())
                    .prop_map(|(neighbor, cost)| LsaLink { neighbor, cost }),
                0..8,
            ),
        )
            .prop_map(|(origin, seqno, lifetime_s, links)| Lsa {
                origin,
                seqno,
                lifetime_s,
                links,
            })
    }

    fn arb_dir_entry() -> impl Strategy<Value = DirEntry> {
        (arb_hash(), arb_address(), any::<[u8; 32]>(), any::<u16>()).prop_map(
            |(name, address, key, lifetime_s)| DirEntry {
                name,
                address,
                key,
                lifetime_s,
            },
        )
    }

    /// Any message of any type.
    pub(crate) fn arb_msg() -> impl Strategy<Value = MgmtMsg> {
        prop_oneof![
            (arb_hash(), any::<[u8; 32]>())
                .prop_map(|(ipcp, key)| MgmtMsg::EnrollRequest { ipcp, key }),
            (any::<[u8; 32]>(), any::<[u8; 16]>())
                .prop_map(|(key, nonce)| MgmtMsg::EnrollChallenge { key, nonce }),
            any::<[u8; 32]>().prop_map(|mac| MgmtMsg::EnrollProof { mac }),
            (arb_enroll_result(), arb_address(), arb_config()).prop_map(
                |(result, address, config)| MgmtMsg::EnrollResponse {
                    result,
                    address,
                    config
                }
            ),
            (arb_address(), arb_hash(), any::<u32>()).prop_map(|(address, ipcp, cost)| {
                MgmtMsg::AdjRequest {
                    address,
                    ipcp,
                    cost,
                }
            }),
            arb_address().prop_map(|address| MgmtMsg::AdjAccept { address }),
            arb_eid().prop_map(|eid| MgmtMsg::Keepalive { eid }),
            vec(arb_lsa(), 0..6).prop_map(|lsas| MgmtMsg::Lsu { lsas }),
            vec(
                (arb_address(), any::<u64>()).prop_map(|(origin, seqno)| LsaRef { origin, seqno }),
                0..20
            )
            .prop_map(|acks| MgmtMsg::LsaAck { acks }),
            vec(arb_dir_entry(), 0..10).prop_map(|entries| MgmtMsg::DirPut { entries }),
            (arb_hash(), arb_address())
                .prop_map(|(name, address)| MgmtMsg::DirDel { name, address }),
            (any::<u32>(), arb_hash()).prop_map(|(query, name)| MgmtMsg::DirGet { query, name }),
            (
                any::<u32>(),
                arb_hash(),
                vec(
                    (arb_address(), any::<[u8; 32]>())
                        .prop_map(|(address, key)| DirTarget { address, key }),
                    0..10
                )
            )
                .prop_map(|(query, name, targets)| MgmtMsg::DirReply {
                    query,
                    name,
                    targets
                }),
            (
                (arb_eid(), arb_hash(), arb_qos()),
                (any::<[u8; 32]>(), any::<[u8; 16]>(), any::<[u8; 32]>())
            )
                .prop_map(|((src_eid, name, qos), (key, nonce, mac))| {
                    MgmtMsg::FlowReq {
                        src_eid,
                        name,
                        qos,
                        key,
                        nonce,
                        mac,
                    }
                }),
            (arb_eid(), arb_eid(), arb_flow_result()).prop_map(|(src_eid, dst_eid, result)| {
                MgmtMsg::FlowReply {
                    src_eid,
                    dst_eid,
                    result,
                }
            }),
            (arb_eid(), any::<u16>()).prop_map(|(eid, ece)| MgmtMsg::FlowUpdate { eid, ece }),
            arb_eid().prop_map(|eid| MgmtMsg::FlowDealloc { eid }),
        ]
    }

    /// If `bytes` parses, the message re-emits to exactly `bytes` (the encoding is canonical).
    fn check_consistent(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(msg) = MgmtMsg::parse(bytes) {
            let out = msg.to_vec();
            prop_assert_eq!(out.len(), msg.buffer_len());
            prop_assert_eq!(&out[..], bytes);
            prop_assert_eq!(MgmtMsg::parse(&out), Ok(msg));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn every_message_round_trips(msg in arb_msg()) {
            let out = msg.to_vec();
            prop_assert_eq!(out.len(), msg.buffer_len());
            prop_assert_eq!(out.first().copied(), Some(msg.msg_type() as u8));
            prop_assert_eq!(MgmtMsg::parse(&out), Ok(msg));
        }

        #[test]
        fn parse_never_panics(buf in vec(any::<u8>(), 0..2048)) {
            check_consistent(&buf)?;
        }

        #[test]
        fn parse_never_panics_on_known_types(code in prop::sample::select(
            (0..=u8::MAX).filter(|&c| MgmtType::from_u8(c).is_some()).collect::<Vec<u8>>()
        ), rest in vec(any::<u8>(), 0..256)) {
            // Arbitrary bodies behind a valid type code reach deeper into the parsers.
            let mut buf = vec![code];
            buf.extend_from_slice(&rest);
            check_consistent(&buf)?;
        }

        #[test]
        fn truncations_are_rejected(msg in arb_msg()) {
            let out = msg.to_vec();
            for len in 0..out.len() {
                let truncated = MgmtMsg::parse(&out[..len]);
                let is_truncated = matches!(truncated, Err(WireError::Truncated { .. }));
                prop_assert!(is_truncated, "{:?} at {}", truncated, len);
            }
            let mut longer = out.clone();
            longer.push(0);
            prop_assert_eq!(MgmtMsg::parse(&longer), Err(WireError::Trailing(1)));
        }

        #[test]
        fn byte_flips_are_rejected_or_consistent(msg in arb_msg(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let mut out = msg.to_vec();
            let i = at.index(out.len());
            if let Some(b) = out.get_mut(i) {
                *b ^= flip;
            }
            check_consistent(&out)?;
        }
    }
}
