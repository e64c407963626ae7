//! Signed, short-lived advertisements (whitepaper "Peer Discovery (DHT)":
//! "Capability advertisements are stored under keys derived from capability
//! descriptors. Advertisements are short-lived, tied to rotating epoch keys,
//! and expose only commitments").
//!
//! An advert names a role, an address, the epoch's certified onion key and an
//! expiry, and commits to the node's detailed capabilities with a salted hash;
//! the identity key signs it all. It is stored under
//! `SHA-256(domain || descriptor || epoch || shard)`, where the descriptor is a
//! coarse public class ("relay", "ghost", ...). Storing nodes and fetching
//! clients run the same [`Advert::validate`].

use std::net::SocketAddr;

use sha2::{Digest, Sha256};

use super::DhtError;
use super::id::Key;
use super::wire::{Reader, Writer};
use crate::identity::{
    Epoch, EpochClock, Identity, IdentityClaim, IdentityParams, IdentityProof, NodeId,
    OnionKeyCert, verify_signature,
};
use crate::time::{Duration, Instant};

/// Domain separator for advert signatures.
const SIGN_DOMAIN: &[u8] = b"peer2prompt/advert/v1";
/// Domain separator for advert storage keys.
const KEY_DOMAIN: &[u8] = b"peer2prompt/advert-key/v1";
/// Domain separator for capability commitments.
const CAPS_DOMAIN: &[u8] = b"peer2prompt/capabilities/v1";
/// Longest descriptor, in bytes.
pub const MAX_DESCRIPTOR: usize = 32;

/// A node's role in the network (whitepaper "Roles").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Forwards onion cells.
    Relay,
    /// Serves inference through provider API keys.
    Ghost,
    /// Serves open models on its own hardware.
    Gpu,
    /// Issues and redeems ecash.
    Mint,
}

impl Role {
    fn code(self) -> u8 {
        match self {
            Role::Relay => 1,
            Role::Ghost => 2,
            Role::Gpu => 3,
            Role::Mint => 4,
        }
    }

    fn from_code(c: u8) -> Result<Self, DhtError> {
        Ok(match c {
            1 => Role::Relay,
            2 => Role::Ghost,
            3 => Role::Gpu,
            4 => Role::Mint,
            _ => {
                return Err(DhtError::Malformed {
                    what: "advert",
                    reason: "unknown role",
                });
            }
        })
    }

    /// The public descriptor adverts of this role are stored under.
    pub fn descriptor(self) -> &'static str {
        match self {
            Role::Relay => "relay",
            Role::Ghost => "ghost",
            Role::Gpu => "gpu",
            Role::Mint => "mint",
        }
    }
}

/// The storage key of adverts for `descriptor` in `epoch`, shard `shard`.
pub fn advert_key(descriptor: &str, epoch: Epoch, shard: u16) -> Key {
    Sha256::new()
        .chain_update(KEY_DOMAIN)
        .chain_update([descriptor.len() as u8])
        .chain_update(descriptor.as_bytes())
        .chain_update(epoch.0.to_be_bytes())
        .chain_update(shard.to_be_bytes())
        .finalize()
        .into()
}

/// The shard a node stores its advert in: a fixed function of its id, so each
/// node lands in one shard and a crawler must walk every shard to enumerate.
pub fn shard_of(id: &NodeId, shards: u16) -> u16 {
    u16::from_be_bytes([id.0[30], id.0[31]]) % shards.max(1)
}

/// `SHA-256(domain || salt || capabilities)`: binds the detailed capabilities
/// without revealing them; the salt stops confirmation-by-guessing.
pub fn commit_capabilities(salt: &[u8; 16], capabilities: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(CAPS_DOMAIN)
        .chain_update(salt)
        .chain_update(capabilities)
        .finalize()
        .into()
}

/// An advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// The advertiser's identity key and proof of work.
    pub claim: IdentityClaim,
    /// Its role.
    pub role: Role,
    /// The coarse public descriptor it is stored under.
    pub descriptor: String,
    /// Which shard of the descriptor's key.
    pub shard: u16,
    /// Where to reach it.
    pub addr: SocketAddr,
    /// Declared operator family (for route diversity), if any.
    pub family: Option<u64>,
    /// Advertised bandwidth, bytes per second.
    pub bandwidth: u64,
    /// The epoch's onion key, certified by the identity key.
    pub onion: OnionKeyCert,
    /// Commitment to the detailed capabilities.
    pub capabilities: [u8; 32],
    /// Refused after this instant.
    pub expiry: Instant,
    /// Identity signature over everything above.
    pub signature: [u8; 64],
}

/// The unsigned fields of an advert, for [`Advert::sign`].
#[derive(Clone, Copy, Debug)]
pub struct AdvertFields {
    /// What the node does in the network.
    pub role: Role,
    /// Shard count of the descriptor's keys.
    pub shards: u16,
    /// Its socket address.
    pub addr: SocketAddr,
    /// Declared family.
    pub family: Option<u64>,
    /// Bandwidth the relay advertises, bytes per second.
    pub bandwidth: u64,
    /// The epoch's onion key certificate.
    pub onion: OnionKeyCert,
    /// Capability commitment.
    pub capabilities: [u8; 32],
    /// When it stops being valid.
    pub expiry: Instant,
}

/// What validators accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertPolicy {
    /// Identity puzzles an advertiser must have solved.
    pub identity: IdentityParams,
    /// The epoch clock.
    pub epochs: EpochClock,
    /// How long after an epoch ends its adverts are still accepted.
    pub grace: Duration,
}

impl Default for AdvertPolicy {
    /// No identity puzzle, six-hour epochs, adverts accepted ten minutes
    /// past their epoch.
    fn default() -> Self {
        AdvertPolicy {
            identity: IdentityParams::default(),
            epochs: EpochClock::default(),
            grace: Duration::from_secs(600),
        }
    }
}

impl Advert {
    /// Signs `fields` with `identity`.
    pub fn sign(identity: &Identity, fields: AdvertFields) -> Self {
        let id = identity.node_id();
        let mut a = Advert {
            claim: identity.claim(),
            role: fields.role,
            descriptor: fields.role.descriptor().to_owned(),
            shard: shard_of(&id, fields.shards),
            addr: fields.addr,
            family: fields.family,
            bandwidth: fields.bandwidth,
            onion: fields.onion,
            capabilities: fields.capabilities,
            expiry: fields.expiry,
            signature: [0; 64],
        };
        a.signature = identity.sign(&a.signed_bytes());
        a
    }

    /// The advertiser's node id.
    pub fn node(&self) -> NodeId {
        self.claim.node_id()
    }

    /// Whether `other` is by the same node in the same role. Compares the
    /// identity keys, which is the same as comparing node ids (their SHA-256)
    /// without hashing.
    pub fn same_advertiser(&self, other: &Advert) -> bool {
        self.claim.identity_key == other.claim.identity_key && self.role == other.role
    }

    /// The epoch of its onion key.
    pub fn epoch(&self) -> Epoch {
        self.onion.epoch
    }

    /// The key it is stored under.
    pub fn key(&self) -> Key {
        advert_key(&self.descriptor, self.epoch(), self.shard)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(SIGN_DOMAIN);
        self.write_unsigned(&mut w);
        w.into_inner()
    }

    fn write_unsigned(&self, w: &mut Writer) {
        w.bytes(&self.claim.identity_key);
        w.u64(self.claim.proof.nonce);
        w.u8(self.role.code());
        w.u8(self.descriptor.len() as u8);
        w.bytes(self.descriptor.as_bytes());
        w.u16(self.shard);
        w.addr(self.addr);
        match self.family {
            Some(f) => {
                w.u8(1);
                w.u64(f);
            }
            None => w.u8(0),
        }
        w.u64(self.bandwidth);
        w.u64(self.onion.epoch.0);
        w.bytes(&self.onion.onion_key);
        w.bytes(&self.onion.signature);
        w.bytes(&self.capabilities);
        w.u64(self.expiry.as_nanos());
    }

    /// Canonical wire form.
    pub fn encode(&self, w: &mut Writer) {
        self.write_unsigned(w);
        w.bytes(&self.signature);
    }

    /// Parses the wire form (no validation beyond syntax).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DhtError> {
        let identity_key = r.array::<32>()?;
        let nonce = r.u64()?;
        let role = Role::from_code(r.u8()?)?;
        let dlen = usize::from(r.u8()?);
        if dlen > MAX_DESCRIPTOR {
            return Err(DhtError::Malformed {
                what: "advert",
                reason: "descriptor too long",
            });
        }
        let descriptor =
            String::from_utf8(r.take(dlen)?.to_vec()).map_err(|_| DhtError::Malformed {
                what: "advert",
                reason: "descriptor is not UTF-8",
            })?;
        let shard = r.u16()?;
        let addr = r.addr()?;
        let family = match r.u8()? {
            0 => None,
            1 => Some(r.u64()?),
            _ => {
                return Err(DhtError::Malformed {
                    what: "advert",
                    reason: "family flag",
                });
            }
        };
        let bandwidth = r.u64()?;
        let epoch = Epoch(r.u64()?);
        let onion_key = r.array::<32>()?;
        let cert_sig = r.array::<64>()?;
        let capabilities = r.array::<32>()?;
        let expiry = Instant::from_nanos(r.u64()?);
        let signature = r.array::<64>()?;
        Ok(Advert {
            claim: IdentityClaim {
                identity_key,
                proof: IdentityProof { nonce },
            },
            role,
            descriptor,
            shard,
            addr,
            family,
            bandwidth,
            onion: OnionKeyCert {
                identity_key,
                epoch,
                onion_key,
                signature: cert_sig,
            },
            capabilities,
            expiry,
            signature,
        })
    }

    /// Full validation, as run by storing nodes and by fetching clients:
    /// identity puzzles, onion-key certificate, epoch (current, or previous
    /// within the grace period), expiry, and the advert signature. Returns the
    /// advertiser's node id.
    pub fn validate(&self, now: Instant, policy: &AdvertPolicy) -> Result<NodeId, DhtError> {
        let id = self.claim.verify_params(&policy.identity)?;
        if now > self.expiry {
            return Err(DhtError::ExpiredAdvert {
                expiry: self.expiry,
                now,
            });
        }
        let current = policy.epochs.epoch_at(now);
        let in_grace = now <= policy.epochs.start_of(current) + policy.grace;
        let epoch_ok = self.epoch() == current
            || (in_grace && self.epoch().0.checked_add(1) == Some(current.0));
        if !epoch_ok {
            return Err(DhtError::WrongEpoch {
                advert: self.epoch(),
                now: current,
            });
        }
        // An advert may not outlive its epoch (plus grace).
        let last = policy
            .epochs
            .start_of(Epoch(self.epoch().0.saturating_add(1)))
            + policy.grace;
        if self.expiry > last {
            return Err(DhtError::WrongEpoch {
                advert: self.epoch(),
                now: current,
            });
        }
        if self.descriptor != self.role.descriptor() {
            return Err(DhtError::Malformed {
                what: "advert",
                reason: "descriptor does not match role",
            });
        }
        if self.onion.identity_key != self.claim.identity_key {
            return Err(DhtError::ForgedAdvert);
        }
        self.onion
            .verify(self.epoch(), false, policy.identity.fidelity)?;
        verify_signature(
            policy.identity.fidelity,
            &self.claim.identity_key,
            &self.signed_bytes(),
            &self.signature,
            "advert",
        )
        .map_err(|_| DhtError::ForgedAdvert)?;
        Ok(id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fidelity::CryptoFidelity;
    use crate::identity::OnionKeyring;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// An identity, its onion keyring and the policy they satisfy.
    pub(crate) fn setup() -> (Identity, OnionKeyring, AdvertPolicy) {
        setup_at(CryptoFidelity::Full)
    }

    /// As [`setup`], signing and checking at `fidelity`.
    fn setup_at(fidelity: CryptoFidelity) -> (Identity, OnionKeyring, AdvertPolicy) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let params = IdentityParams {
            puzzle_c1: 2,
            pow_difficulty: 4,
            fidelity,
        };
        let id = Identity::generate_with(&mut rng, params);
        let epochs = EpochClock {
            length: Duration::from_secs(3600),
        };
        let ring = OnionKeyring::new(
            &id,
            epochs,
            Duration::from_secs(300),
            Instant::ZERO,
            &mut rng,
        );
        (
            id,
            ring,
            AdvertPolicy {
                identity: params,
                epochs,
                grace: Duration::from_secs(300),
            },
        )
    }

    /// A Ghost advert of `id` expiring at `expiry` (so distinct expiries
    /// give distinct adverts and signatures).
    pub(crate) fn advert(id: &Identity, ring: &OnionKeyring, expiry: Instant) -> Advert {
        Advert::sign(
            id,
            AdvertFields {
                role: Role::Ghost,
                shards: 8,
                addr: SocketAddr::from(([10, 1, 2, 3], 443)),
                family: Some(7),
                bandwidth: 1_000_000,
                onion: *ring.current_cert(),
                capabilities: commit_capabilities(&[1; 16], b"gpt-4o 5.00/20.00"),
                expiry,
            },
        )
    }

    #[test]
    fn a_fresh_advert_validates_and_round_trips() {
        let (id, ring, policy) = setup();
        let a = advert(&id, &ring, Instant::ZERO + Duration::from_secs(3600));
        assert_eq!(a.validate(Instant::ZERO, &policy).unwrap(), id.node_id());
        let mut w = Writer::default();
        a.encode(&mut w);
        let bytes = w.into_inner();
        let back = Advert::decode(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.key(), advert_key("ghost", Epoch(0), a.shard));
    }

    #[test]
    fn forged_expired_and_wrong_epoch_adverts_are_refused() {
        refuses_forged_expired_and_wrong_epoch_adverts(CryptoFidelity::Full);
    }

    #[test]
    fn forged_expired_and_wrong_epoch_adverts_are_refused_under_elide_crypto() {
        refuses_forged_expired_and_wrong_epoch_adverts(CryptoFidelity::ElideCrypto);
    }

    #[test]
    fn an_advert_signed_at_one_fidelity_is_refused_at_the_other() {
        let at = |f| {
            let (id, ring, policy) = setup_at(f);
            (
                advert(&id, &ring, Instant::ZERO + Duration::from_secs(3600)),
                policy,
            )
        };
        let (full, full_policy) = at(CryptoFidelity::Full);
        let (elided, elided_policy) = at(CryptoFidelity::ElideCrypto);
        assert_eq!(full.claim, elided.claim, "the same key either way");
        assert!(full.validate(Instant::ZERO, &full_policy).is_ok());
        assert!(elided.validate(Instant::ZERO, &elided_policy).is_ok());
        assert!(full.validate(Instant::ZERO, &elided_policy).is_err());
        assert!(elided.validate(Instant::ZERO, &full_policy).is_err());
    }

    fn refuses_forged_expired_and_wrong_epoch_adverts(fidelity: CryptoFidelity) {
        let (id, ring, policy) = setup_at(fidelity);
        let a = advert(&id, &ring, Instant::ZERO + Duration::from_secs(3600));
        let mut forged = a;
        forged.bandwidth += 1;
        assert_eq!(
            forged.validate(Instant::ZERO, &policy),
            Err(DhtError::ForgedAdvert)
        );
        // Expired.
        let short = advert(&id, &ring, Instant::ZERO + Duration::from_secs(10));
        let later = Instant::ZERO + Duration::from_secs(11);
        assert!(matches!(
            short.validate(later, &policy),
            Err(DhtError::ExpiredAdvert { .. })
        ));
        // An epoch-0 advert is accepted in the grace period of epoch 1, not after.
        let grace = Instant::ZERO + Duration::from_secs(3600 + 200);
        let long = advert(&id, &ring, Instant::ZERO + Duration::from_secs(3600 + 300));
        long.validate(grace, &policy).unwrap();
        let after = Instant::ZERO + Duration::from_secs(3600 + 301);
        assert!(long.validate(after, &policy).is_err());
        // An advert claiming to live past its epoch is refused.
        let greedy = advert(&id, &ring, Instant::ZERO + Duration::from_secs(99_999));
        assert!(matches!(
            greedy.validate(Instant::ZERO, &policy),
            Err(DhtError::WrongEpoch { .. })
        ));
        // An onion key certified by someone else is refused.
        let (other, other_ring, _) = {
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let o = Identity::generate_with(&mut rng, policy.identity);
            let r = OnionKeyring::new(&o, policy.epochs, policy.grace, Instant::ZERO, &mut rng);
            (o, r, ())
        };
        let mut stolen = advert(&id, &ring, Instant::ZERO + Duration::from_secs(3600));
        stolen.onion = *other_ring.current_cert();
        stolen.signature = id.sign(&stolen.signed_bytes());
        assert_eq!(
            stolen.validate(Instant::ZERO, &policy),
            Err(DhtError::ForgedAdvert)
        );
        let _ = other;
    }

    #[test]
    fn ids_without_enough_work_are_refused() {
        let (id, ring, mut policy) = setup();
        let a = advert(&id, &ring, Instant::ZERO + Duration::from_secs(3600));
        policy.identity.pow_difficulty = 40;
        assert!(matches!(
            a.validate(Instant::ZERO, &policy),
            Err(DhtError::Identity(_))
        ));
    }
}
