//! The static X25519 identity of an IPCP and the proofs of possession built on it.
//!
//! A peer that presents a public key must show it holds the private key: it sends a MAC
//! over the message transcript, keyed by a key derived (BLAKE3 `derive_key`, one context
//! per use) from the X25519 shared secret of its private key and the verifier's public
//! key. Only the holder of either private key can compute it. Freshness comes from the
//! transcript: the member's challenge nonce in enrollment, and in flow allocation the
//! requester's nonce, which the destination remembers for [`crate::ipcp::REPLAY_WINDOW`].
//! See docs/PROTOCOL.md ("Keys and proofs").

use x25519_dalek::{PublicKey, StaticSecret};

/// Length of a public key, a MAC and a derived key.
pub const KEY_LEN: usize = 32;
/// Length of a nonce.
pub const NONCE_LEN: usize = 16;

/// BLAKE3 `derive_key` context of the enrollment proof key.
const ENROLL_CONTEXT: &str = "ouro 2026-11 enrollment proof of possession v1";
/// BLAKE3 `derive_key` context of the flow request proof key.
const FLOW_CONTEXT: &str = "ouro 2026-11 flow request proof of possession v1";
/// BLAKE3 `derive_key` context of the nonce generator key.
const NONCE_CONTEXT: &str = "ouro 2026-11 nonce generator v1";
/// BLAKE3 `derive_key` context of a secret derived from a simulator seed.
const SEED_CONTEXT: &str = "ouro 2026-11 identity from a simulator seed v1";

/// What a proof is for: each use has its own derived key, so a MAC made for one cannot be
/// presented as the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofUse {
    /// The enrollee's answer to the member's challenge.
    Enrollment,
    /// The requester's proof in a flow request.
    Flow,
}

/// Why a proof was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The peer's public key is a low-order point: the shared secret is not contributory.
    #[error("peer key is a low-order point")]
    WeakKey,
    /// The MAC does not match the transcript (forged key, tampered or replayed message).
    #[error("proof of possession does not verify")]
    BadMac,
}

/// A static X25519 key pair plus a private nonce generator.
#[derive(Clone)]
pub struct Identity {
    secret: StaticSecret,
    public: [u8; KEY_LEN],
    nonce_key: [u8; KEY_LEN],
    nonce_counter: u64,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("public", &hex(&self.public))
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The identity with private key `secret` (clamped as X25519 requires). `nonce_salt`
    /// makes the nonces differ between runs that load the same key: pass fresh random
    /// bytes in a real node (nonces must never repeat for a key), a seed in a simulation.
    pub fn from_secret(secret: [u8; KEY_LEN], nonce_salt: [u8; KEY_LEN]) -> Identity {
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret).to_bytes();
        let mut material = Vec::with_capacity(2 * KEY_LEN);
        material.extend_from_slice(secret.as_bytes());
        material.extend_from_slice(&nonce_salt);
        Identity {
            secret,
            public,
            nonce_key: blake3::derive_key(NONCE_CONTEXT, &material),
            nonce_counter: 0,
        }
    }

    /// A deterministic identity for the simulator and tests: derived from `seed` and the
    /// IPCP's `name`. Not secret — never use it where an attacker may know the seed.
    pub fn from_seed(seed: u64, name: &str) -> Identity {
        let mut material = seed.to_be_bytes().to_vec();
        material.extend_from_slice(name.as_bytes());
        let secret = blake3::derive_key(SEED_CONTEXT, &material);
        Identity::from_secret(secret, secret)
    }

    /// The public key.
    pub fn public(&self) -> [u8; KEY_LEN] {
        self.public
    }

    /// The private key bytes (for saving to a key file).
    pub fn secret_bytes(&self) -> [u8; KEY_LEN] {
        self.secret.to_bytes()
    }

    /// A fresh nonce: never repeats for this identity within a run, unpredictable without
    /// the private key.
    pub fn nonce(&mut self) -> [u8; NONCE_LEN] {
        self.nonce_counter = self.nonce_counter.wrapping_add(1);
        let h = blake3::keyed_hash(&self.nonce_key, &self.nonce_counter.to_be_bytes());
        let mut out = [0; NONCE_LEN];
        out.copy_from_slice(&h.as_bytes()[..NONCE_LEN]);
        out
    }

    /// The proof key shared with `peer` for `usage`.
    fn proof_key(&self, peer: &[u8; KEY_LEN], usage: ProofUse) -> Result<[u8; 32], ProofError> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(*peer));
        if !shared.was_contributory() {
            return Err(ProofError::WeakKey);
        }
        let context = match usage {
            ProofUse::Enrollment => ENROLL_CONTEXT,
            ProofUse::Flow => FLOW_CONTEXT,
        };
        Ok(blake3::derive_key(context, shared.as_bytes()))
    }

    /// The MAC proving to `peer` that we hold our private key, over `transcript`.
    pub fn prove(
        &self,
        peer: &[u8; KEY_LEN],
        usage: ProofUse,
        transcript: &[u8],
    ) -> Result<[u8; KEY_LEN], ProofError> {
        let key = self.proof_key(peer, usage)?;
        Ok(*blake3::keyed_hash(&key, transcript).as_bytes())
    }

    /// Check that `mac` over `transcript` was made by the holder of `peer`'s private key
    /// (constant-time comparison).
    pub fn verify(
        &self,
        peer: &[u8; KEY_LEN],
        usage: ProofUse,
        transcript: &[u8],
        mac: &[u8; KEY_LEN],
    ) -> Result<(), ProofError> {
        let key = self.proof_key(peer, usage)?;
        if blake3::keyed_hash(&key, transcript) == blake3::Hash::from_bytes(*mac) {
            Ok(())
        } else {
            Err(ProofError::BadMac)
        }
    }
}

/// Lower-case hex of `bytes` (keys in logs, status and configuration).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse exactly 32 bytes of hex (64 digits, either case).
pub fn parse_key_hex(s: &str) -> Option<[u8; KEY_LEN]> {
    let s = s.trim();
    if s.len() != 2 * KEY_LEN || !s.is_ascii() {
        return None;
    }
    let mut out = [0; KEY_LEN];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::test_util::unhex;

    /// docs/PROTOCOL.md section 6: the flow proof of RFC 7748's Alice for Bob over
    /// `00000001 00000002` and the `FlowReq` vector with its MAC zeroed.
    pub(crate) const FLOW_PROOF_VECTOR_HEX: &str =
        "b4d33ed4851bceec547e5bc3ad3e02a1ff586008f3932c45c70f212f42195f65";

    #[test]
    fn flow_proof_vector() {
        let alice =
            parse_key_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .expect("hex");
        let bob = parse_key_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
            .expect("hex");
        let (alice, bob) = (
            Identity::from_secret(alice, [0; 32]),
            Identity::from_secret(bob, [0; 32]),
        );
        let mut t = unhex("00000001 00000002");
        let req = unhex(
            "30 00000010 04 deadbeef 00000032 00000000000186a0 05 00000064 00000001 00 00000032 0001d4c0 1111111111111111111111111111111111111111111111111111111111111111 55555555555555555555555555555555 0000000000000000000000000000000000000000000000000000000000000000",
        );
        t.extend_from_slice(&req);
        let mac = alice
            .prove(&bob.public(), ProofUse::Flow, &t)
            .expect("contributory");
        assert_eq!(hex(&mac), FLOW_PROOF_VECTOR_HEX);
        assert_eq!(
            bob.verify(&alice.public(), ProofUse::Flow, &t, &mac),
            Ok(())
        );
    }

    fn pair() -> (Identity, Identity) {
        (Identity::from_seed(1, "a"), Identity::from_seed(1, "b"))
    }

    #[test]
    fn proof_verifies_at_the_peer() {
        let (a, b) = pair();
        let mac = a.prove(&b.public(), ProofUse::Flow, b"transcript");
        let mac = mac.expect("contributory");
        assert_eq!(
            b.verify(&a.public(), ProofUse::Flow, b"transcript", &mac),
            Ok(())
        );
    }

    #[test]
    fn forged_key_tampered_transcript_and_wrong_use_fail() {
        let (a, b) = pair();
        let mallory = Identity::from_seed(2, "m");
        // Mallory claims a's key but only has her own private key.
        let forged = mallory
            .prove(&b.public(), ProofUse::Flow, b"t")
            .expect("contributory");
        assert_eq!(
            b.verify(&a.public(), ProofUse::Flow, b"t", &forged),
            Err(ProofError::BadMac)
        );
        let mac = a
            .prove(&b.public(), ProofUse::Flow, b"t")
            .expect("contributory");
        assert_eq!(
            b.verify(&a.public(), ProofUse::Flow, b"u", &mac),
            Err(ProofError::BadMac)
        );
        assert_eq!(
            b.verify(&a.public(), ProofUse::Enrollment, b"t", &mac),
            Err(ProofError::BadMac)
        );
    }

    #[test]
    fn low_order_keys_are_refused() {
        let (a, _) = pair();
        assert_eq!(
            a.prove(&[0; 32], ProofUse::Flow, b"t"),
            Err(ProofError::WeakKey)
        );
        assert_eq!(
            a.verify(&[0; 32], ProofUse::Flow, b"t", &[0; 32]),
            Err(ProofError::WeakKey)
        );
    }

    #[test]
    fn seeded_identities_are_reproducible_and_distinct() {
        assert_eq!(
            Identity::from_seed(1, "a").public(),
            Identity::from_seed(1, "a").public()
        );
        assert_ne!(
            Identity::from_seed(1, "a").public(),
            Identity::from_seed(2, "a").public()
        );
        let mut a = Identity::from_seed(1, "a");
        assert_ne!(a.nonce(), a.nonce());
        let salted = Identity::from_secret(a.secret_bytes(), [9; 32]);
        assert_eq!(salted.public(), a.public());
    }

    #[test]
    fn rfc7748_public_key_vector() {
        // RFC 7748 section 6.1, Alice.
        let secret =
            parse_key_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .expect("hex");
        let id = Identity::from_secret(secret, [0; 32]);
        assert_eq!(
            hex(&id.public()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let k = [0xab; 32];
        assert_eq!(parse_key_hex(&hex(&k)), Some(k));
        assert_eq!(parse_key_hex(&hex(&k).to_uppercase()), Some(k));
        assert_eq!(parse_key_hex("ab"), None);
        assert_eq!(parse_key_hex(&"zz".repeat(32)), None);
        assert_eq!(parse_key_hex(&"é".repeat(32)), None);
    }
}
