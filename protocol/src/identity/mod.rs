//! Node identities and onion keys (whitepaper "Peer Discovery (DHT)":
//! `NodeID = H(pubkey)`; "Adversary and Network Assumptions": public keys are
//! long-lived enough for routing but can rotate).
//!
//! - An Ed25519 identity key; `NodeId = SHA-256(identity public key)`.
//! - An X25519 onion key per [`Epoch`], certified by the identity key. Keys
//!   rotate every epoch; the previous epoch's key is still accepted for a
//!   configurable grace period, then forgotten (erased).
//! - An identity proof of work ([`pow`]), checked wherever a node is admitted.

mod error;
pub mod pow;

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey as OnionPublicKey, StaticSecret};
use zeroize::Zeroize;

pub use error::IdentityError;
pub use pow::IdentityProof;

use crate::fidelity::{CryptoFidelity, elided_signature, elided_verify};
use crate::time::{Duration, Instant};

/// A node's identifier: SHA-256 of its Ed25519 identity public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    /// `SHA-256(identity public key)`.
    pub fn from_identity_key(key: &[u8; 32]) -> Self {
        NodeId(Sha256::digest(key).into())
    }

    /// The 20-byte relay ID used in the ntor handshake (the first 20 bytes;
    /// Tor's ntor takes a 20-byte identity digest).
    pub fn ntor_id(&self) -> [u8; 20] {
        let mut id = [0u8; 20];
        id.copy_from_slice(&self.0[..20]);
        id
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

/// What a peer presents to be admitted: its identity key and proof of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaim {
    /// Ed25519 identity public key.
    pub identity_key: [u8; 32],
    /// Proof of work over that key.
    pub proof: IdentityProof,
}

impl IdentityClaim {
    /// The claimed node id.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_identity_key(&self.identity_key)
    }

    /// Admission check: the key parses and the work reaches `difficulty`.
    pub fn verify(&self, difficulty: u32) -> Result<NodeId, IdentityError> {
        self.verify_at(difficulty, CryptoFidelity::Full)
    }

    /// As [`IdentityClaim::verify`]; under `ElideCrypto` the key is not
    /// parsed (see [`crate::fidelity`]).
    fn verify_at(
        &self,
        difficulty: u32,
        fidelity: CryptoFidelity,
    ) -> Result<NodeId, IdentityError> {
        if fidelity.is_full() {
            VerifyingKey::from_bytes(&self.identity_key)
                .map_err(|_| IdentityError::InvalidIdentityKey)?;
        }
        pow::verify(&self.identity_key, &self.proof, difficulty)?;
        Ok(self.node_id())
    }

    /// Admission check for both puzzles (cheap: two hashes and a key parse).
    pub fn verify_params(&self, params: &IdentityParams) -> Result<NodeId, IdentityError> {
        let id = self.verify_at(params.pow_difficulty, params.fidelity)?;
        let got = puzzle_bits(&id);
        if got < params.puzzle_c1 {
            return Err(IdentityError::PuzzleUnsolved {
                got,
                required: params.puzzle_c1,
            });
        }
        Ok(id)
    }
}

/// Leading zero bits of `SHA-256(node id)`: the S/Kademlia static crypto
/// puzzle. Requiring `c1` of them makes each usable identity cost `2^c1` key
/// generations in expectation.
pub fn puzzle_bits(id: &NodeId) -> u32 {
    pow::leading_zero_bits(&Sha256::digest(id.0))
}

/// What minting an identity cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCost {
    /// Ed25519 key pairs generated to satisfy the static puzzle.
    pub keygens: u64,
    /// SHA-256 evaluations spent on the proof of work.
    pub pow_hashes: u64,
}

/// How hard identities must be to mint, and how their signatures are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityParams {
    /// Static puzzle: leading zero bits of `SHA-256(node id)` (S/Kademlia c1).
    pub puzzle_c1: u32,
    /// Proof-of-work difficulty over the identity key (S/Kademlia's dynamic
    /// puzzle plays this role).
    pub pow_difficulty: u32,
    /// Which implementation signs and checks identities (issue 21's
    /// `fidelity`; omitted from serialized forms when `Full`).
    #[serde(default, skip_serializing_if = "CryptoFidelity::is_full")]
    pub fidelity: CryptoFidelity,
}

/// A node's long-term identity: signing key, node id and proof of work.
pub struct Identity {
    signing: SigningKey,
    fidelity: CryptoFidelity,
    id: NodeId,
    claim: IdentityClaim,
    /// What minting it cost.
    pub cost: IdentityCost,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("signing", &"<redacted>")
            .finish()
    }
}

impl Identity {
    /// A fresh identity whose proof of work reaches `difficulty` (no static puzzle).
    pub fn generate(rng: &mut impl CryptoRng, difficulty: u32) -> Self {
        Self::generate_with(
            rng,
            IdentityParams {
                puzzle_c1: 0,
                pow_difficulty: difficulty,
                fidelity: CryptoFidelity::Full,
            },
        )
    }

    /// A fresh identity meeting both puzzles of `params`.
    pub fn generate_with(rng: &mut impl CryptoRng, params: IdentityParams) -> Self {
        let mut keygens = 0u64;
        let signing = loop {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let signing = SigningKey::from_bytes(&seed);
            seed.zeroize();
            keygens += 1;
            let id = NodeId::from_identity_key(&signing.verifying_key().to_bytes());
            if puzzle_bits(&id) >= params.puzzle_c1 {
                break signing;
            }
        };
        let identity_key = signing.verifying_key().to_bytes();
        let (proof, pow_hashes) = pow::solve(&identity_key, params.pow_difficulty, rng.next_u64());
        Identity {
            id: NodeId::from_identity_key(&identity_key),
            claim: IdentityClaim {
                identity_key,
                proof,
            },
            signing,
            fidelity: params.fidelity,
            cost: IdentityCost {
                keygens,
                pow_hashes,
            },
        }
    }

    /// **Adversarial.** An identity whose node id shares its first `bits`
    /// bits with `target` (it lies within distance 2^(256−bits) of it),
    /// meeting both puzzles of `params`: the S/Kademlia attacker grinding
    /// ids near a key. Costs about 2^(bits + c1) key generations, all
    /// counted in [`IdentityCost::keygens`] (the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_grind_near(
        rng: &mut impl CryptoRng,
        params: IdentityParams,
        target: &[u8; 32],
        bits: u32,
    ) -> Self {
        let mut spent = 0u64;
        loop {
            let mut one = Self::generate_with(
                rng,
                IdentityParams {
                    pow_difficulty: 0,
                    ..params
                },
            );
            spent += one.cost.keygens;
            let mut x = one.id.0;
            for (b, t) in x.iter_mut().zip(target) {
                *b ^= t;
            }
            if pow::leading_zero_bits(&x) >= bits {
                let (proof, pow_hashes) = pow::solve(
                    &one.claim.identity_key,
                    params.pow_difficulty,
                    rng.next_u64(),
                );
                one.claim.proof = proof;
                one.cost = IdentityCost {
                    keygens: spent,
                    pow_hashes,
                };
                return one;
            }
        }
    }

    /// The node id.
    pub fn node_id(&self) -> NodeId {
        self.id
    }

    /// The public claim (key and proof of work) peers verify on admission.
    pub fn claim(&self) -> IdentityClaim {
        self.claim
    }

    /// Signs `message` with the identity key (at the identity's fidelity).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        match self.fidelity {
            CryptoFidelity::Full => self.signing.sign(message).to_bytes(),
            CryptoFidelity::ElideCrypto => elided_signature(&self.claim.identity_key, message),
        }
    }

    /// The fidelity its signatures are made at.
    pub fn fidelity(&self) -> CryptoFidelity {
        self.fidelity
    }
}

/// Verifies an identity signature at `fidelity`.
pub fn verify_signature(
    fidelity: CryptoFidelity,
    identity_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
    what: &'static str,
) -> Result<(), IdentityError> {
    if fidelity == CryptoFidelity::ElideCrypto {
        return elided_verify(identity_key, message, signature)
            .then_some(())
            .ok_or(IdentityError::InvalidSignature { what });
    }
    let key =
        VerifyingKey::from_bytes(identity_key).map_err(|_| IdentityError::InvalidIdentityKey)?;
    key.verify(message, &Signature::from_bytes(signature))
        .map_err(|_| IdentityError::InvalidSignature { what })
}

/// A key epoch: `floor(now / epoch_length)` (whitepaper: advertisements are
/// "tied to rotating epoch keys").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Epoch(pub u64);

/// Maps instants to epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochClock {
    /// Length of one epoch.
    pub length: Duration,
}

impl Default for EpochClock {
    /// Six-hour epochs (whitepaper "Route Construction": onion keys and
    /// adverts rotate per epoch).
    fn default() -> Self {
        EpochClock {
            length: Duration::from_secs(6 * 3_600),
        }
    }
}

impl EpochClock {
    /// The epoch containing `now`.
    pub fn epoch_at(&self, now: Instant) -> Epoch {
        Epoch(now.as_nanos() / self.length.as_nanos().max(1))
    }

    /// When `epoch` starts.
    pub fn start_of(&self, epoch: Epoch) -> Instant {
        Instant::from_nanos(epoch.0.saturating_mul(self.length.as_nanos()))
    }
}

/// Domain separator for onion key certificates.
const ONION_CERT_DOMAIN: &[u8] = b"peer2prompt/onion-key/v1";

/// An X25519 onion key for one epoch, signed by the node's identity key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnionKeyCert {
    /// Ed25519 identity public key of the certifying node.
    pub identity_key: [u8; 32],
    /// Epoch the onion key belongs to.
    pub epoch: Epoch,
    /// The X25519 onion public key.
    pub onion_key: [u8; 32],
    /// Ed25519 signature over domain, identity key, epoch and onion key.
    #[serde(with = "serde_sig")]
    pub signature: [u8; 64],
}

mod serde_sig {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(sig))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

impl OnionKeyCert {
    fn signed_bytes(identity_key: &[u8; 32], epoch: Epoch, onion_key: &[u8; 32]) -> Vec<u8> {
        let mut m = Vec::with_capacity(ONION_CERT_DOMAIN.len() + 72);
        m.extend_from_slice(ONION_CERT_DOMAIN);
        m.extend_from_slice(identity_key);
        m.extend_from_slice(&epoch.0.to_be_bytes());
        m.extend_from_slice(onion_key);
        m
    }

    /// Checks the signature (at `fidelity`), and that the certificate is for
    /// `now_epoch` or, if `accept_previous`, the epoch before.
    pub fn verify(
        &self,
        now_epoch: Epoch,
        accept_previous: bool,
        fidelity: CryptoFidelity,
    ) -> Result<(), IdentityError> {
        verify_signature(
            fidelity,
            &self.identity_key,
            &Self::signed_bytes(&self.identity_key, self.epoch, &self.onion_key),
            &self.signature,
            "onion key certificate",
        )?;
        let ok = self.epoch == now_epoch
            || (accept_previous && self.epoch.0.checked_add(1) == Some(now_epoch.0));
        if !ok {
            return Err(IdentityError::WrongEpoch {
                cert: self.epoch,
                now: now_epoch,
            });
        }
        Ok(())
    }

    /// The node id of the certifying identity.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_identity_key(&self.identity_key)
    }
}

/// One epoch's onion secret and its certificate.
pub struct EpochOnionKey {
    /// The secret (erased on drop).
    pub secret: StaticSecret,
    /// The signed public part.
    pub cert: OnionKeyCert,
}

impl fmt::Debug for EpochOnionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochOnionKey")
            .field("epoch", &self.cert.epoch)
            .finish()
    }
}

/// A node's onion keys: the current epoch's, and the previous epoch's during
/// the grace period after a rotation.
#[derive(Debug)]
pub struct OnionKeyring {
    clock: EpochClock,
    grace: Duration,
    current: EpochOnionKey,
    previous: Option<EpochOnionKey>,
}

impl OnionKeyring {
    /// A keyring for the epoch containing `now`.
    pub fn new(
        identity: &Identity,
        clock: EpochClock,
        grace: Duration,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> Self {
        let current = Self::make(identity, clock.epoch_at(now), rng);
        OnionKeyring {
            clock,
            grace,
            current,
            previous: None,
        }
    }

    fn make(identity: &Identity, epoch: Epoch, rng: &mut impl CryptoRng) -> EpochOnionKey {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let secret = StaticSecret::from(bytes);
        bytes.zeroize();
        let onion_key = OnionPublicKey::from(&secret).to_bytes();
        let identity_key = identity.claim().identity_key;
        let signature = identity.sign(&OnionKeyCert::signed_bytes(
            &identity_key,
            epoch,
            &onion_key,
        ));
        EpochOnionKey {
            secret,
            cert: OnionKeyCert {
                identity_key,
                epoch,
                onion_key,
                signature,
            },
        }
    }

    /// Rotates if `now` is in a later epoch, and erases the previous key once
    /// its grace period is over. Returns true if a new key was made.
    pub fn maintain(
        &mut self,
        identity: &Identity,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> bool {
        let epoch = self.clock.epoch_at(now);
        let mut rotated = false;
        if epoch > self.current.cert.epoch {
            let fresh = Self::make(identity, epoch, rng);
            let old = core::mem::replace(&mut self.current, fresh);
            self.previous = Some(old);
            rotated = true;
        }
        let grace_over = now > self.clock.start_of(self.current.cert.epoch) + self.grace;
        if grace_over {
            self.previous = None;
        }
        rotated
    }

    /// The current certificate (published in adverts).
    pub fn current_cert(&self) -> &OnionKeyCert {
        &self.current.cert
    }

    /// The secret for onion public key `key`, if it is current, or previous
    /// and within the grace period at `now`.
    pub fn secret_for(&self, key: &[u8; 32], now: Instant) -> Option<&StaticSecret> {
        if self.current.cert.onion_key == *key {
            return Some(&self.current.secret);
        }
        let prev = self.previous.as_ref()?;
        let in_grace = now <= self.clock.start_of(self.current.cert.epoch) + self.grace;
        (prev.cert.onion_key == *key && in_grace).then_some(&prev.secret)
    }

    /// The epoch clock.
    pub fn clock(&self) -> EpochClock {
        self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "adversary")]
    fn ground_ids_share_the_target_prefix_and_count_every_keygen() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;
        let params = IdentityParams {
            puzzle_c1: 1,
            pow_difficulty: 4,
            fidelity: CryptoFidelity::Full,
        };
        let target = [0xA5; 32];
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let id = Identity::dangerous_grind_near(&mut rng, params, &target, 8);
        assert_eq!(id.node_id().0[0], 0xA5, "first 8 bits ground");
        assert!(
            id.claim().verify_params(&params).is_ok(),
            "both puzzles met"
        );
        // 2^(8+1) key generations in expectation; far fewer is implausible.
        assert!(id.cost.keygens >= 16, "{} keygens", id.cost.keygens);
    }
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(11)
    }

    #[test]
    fn node_id_is_sha256_of_the_identity_key() {
        let id = Identity::generate(&mut rng(), 4);
        let key = id.claim().identity_key;
        assert_eq!(id.node_id().0, <[u8; 32]>::from(Sha256::digest(key)));
        assert_eq!(id.claim().verify(4).unwrap(), id.node_id());
        assert!(matches!(
            id.claim().verify(30),
            Err(IdentityError::InsufficientWork { .. })
        ));
    }

    #[test]
    fn the_static_puzzle_costs_keygens_and_is_checked() {
        let mut r = rng();
        let params = IdentityParams {
            puzzle_c1: 6,
            pow_difficulty: 6,
            fidelity: CryptoFidelity::Full,
        };
        let ids: Vec<Identity> = (0..40)
            .map(|_| Identity::generate_with(&mut r, params))
            .collect();
        for id in &ids {
            assert!(puzzle_bits(&id.node_id()) >= 6);
            id.claim().verify_params(&params).unwrap();
        }
        // Mean key generations ~ 2^6 = 64 (standard error ~10 over 40 draws).
        let mean = ids.iter().map(|i| i.cost.keygens).sum::<u64>() as f64 / 40.0;
        assert!((mean - 64.0).abs() < 35.0, "mean keygens {mean}");
        let plain = Identity::generate(&mut r, 0);
        let strict = IdentityParams {
            puzzle_c1: 40,
            pow_difficulty: 0,
            fidelity: CryptoFidelity::Full,
        };
        assert!(matches!(
            plain.claim().verify_params(&strict),
            Err(IdentityError::PuzzleUnsolved { .. })
        ));
    }

    #[test]
    fn onion_key_certificates_verify_and_reject_tampering() {
        let mut r = rng();
        let id = Identity::generate(&mut r, 2);
        let clock = EpochClock {
            length: Duration::from_secs(3600),
        };
        let ring = OnionKeyring::new(&id, clock, Duration::from_secs(600), Instant::ZERO, &mut r);
        let cert = *ring.current_cert();
        cert.verify(Epoch(0), false, CryptoFidelity::Full).unwrap();
        let mut forged = cert;
        forged.onion_key[0] ^= 1;
        assert_eq!(
            forged.verify(Epoch(0), false, CryptoFidelity::Full),
            Err(IdentityError::InvalidSignature {
                what: "onion key certificate"
            })
        );
        assert!(matches!(
            cert.verify(Epoch(2), true, CryptoFidelity::Full),
            Err(IdentityError::WrongEpoch { .. })
        ));
        cert.verify(Epoch(1), true, CryptoFidelity::Full).unwrap();
    }

    #[test]
    fn old_onion_key_is_accepted_only_within_grace() {
        let mut r = rng();
        let id = Identity::generate(&mut r, 2);
        let clock = EpochClock {
            length: Duration::from_secs(3600),
        };
        let grace = Duration::from_secs(600);
        let mut ring = OnionKeyring::new(&id, clock, grace, Instant::ZERO, &mut r);
        let old = ring.current_cert().onion_key;
        let t1 = Instant::ZERO + Duration::from_secs(3600 + 10);
        assert!(ring.maintain(&id, t1, &mut r));
        let new = ring.current_cert().onion_key;
        assert_ne!(old, new);
        assert!(ring.secret_for(&old, t1).is_some(), "old key within grace");
        assert!(ring.secret_for(&new, t1).is_some());
        let t2 = Instant::ZERO + Duration::from_secs(3600 + 601);
        assert!(ring.secret_for(&old, t2).is_none(), "old key after grace");
        ring.maintain(&id, t2, &mut r);
        assert!(ring.secret_for(&old, t1).is_none(), "erased after grace");
    }
}
