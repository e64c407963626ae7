//! Layered AEAD on fixed-size cells (whitepaper "Cryptographic Packet
//! Sketch": at hop i, decrypt the outer header with K_i, verify expiry and
//! replay window, learn only the next hop and the next ciphertext).
//!
//! A body is `[slot | rest of routing header | payload]`. A hop:
//! 1. opens its slot with ChaCha20-Poly1305 under its slot key (nonce in the
//!    slot, associated data = session handle and direction);
//! 2. moves the rest of the routing header forward, zeroes the freed slot at
//!    its end, and XORs one ChaCha20 keystream (same nonce, stream key) over
//!    the whole body: this peels its layer off the header and the payload and
//!    turns the freed slot into pseudo-random filler.
//!
//! The body keeps its size and shape at every hop, so a cell's bytes reveal
//! neither its position nor how many layers remain. [`wrap`] is the exact
//! inverse of [`peel`] for the parts that matter, which is how an initiator
//! builds a cell from the innermost layer outwards.
//!
//! Header integrity is checked at every hop. Payload integrity is end to end:
//! the endpoint opens a second AEAD (its end-to-end key, the slot's nonce)
//! over the payload, so a modified payload is refused where it is read.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::OnionError;
use super::cell::{
    BODY_LEN, Body, NONCE_LEN, PAYLOAD_LEN, ROUTING_LEN, SLOT_LEN, SLOT_PLAIN_LEN, TAG_LEN,
};
use super::header::SlotHeader;

/// Key material per session from the ntor handshake: three 32-byte keys per
/// direction and a 4-byte session handle.
pub const KEY_MATERIAL_LEN: usize = 6 * 32 + 4;

/// Circuit ids and session handles chosen on the relay side keep the high
/// bit clear; those chosen by a node's own initiator engine set it.
pub const RELAY_ID_MASK: u32 = 0x7fff_ffff;
/// The bit that marks initiator-chosen circuit ids and reply handles.
pub const CLIENT_ID_BIT: u32 = 0x8000_0000;

/// Bytes of end-to-end plaintext a forward payload carries.
pub const SEALED_PAYLOAD_LEN: usize = PAYLOAD_LEN - TAG_LEN;

/// Which way a layer is used; part of every layer's associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the circuit's initiator towards its end.
    Forward = 1,
    /// Back towards the initiator (reply blocks).
    Backward = 2,
    /// The initiator's own layer at the end of a reply block.
    Receive = 3,
}

/// The three keys of one direction. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DirKeys {
    slot: [u8; 32],
    stream: [u8; 32],
    e2e: [u8; 32],
}

impl core::fmt::Debug for DirKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DirKeys(<redacted>)")
    }
}

impl DirKeys {
    /// Fresh random keys (an initiator's own receive layer).
    pub fn random(rng: &mut impl CryptoRng) -> Self {
        let mut k = DirKeys {
            slot: [0; 32],
            stream: [0; 32],
            e2e: [0; 32],
        };
        rng.fill_bytes(&mut k.slot);
        rng.fill_bytes(&mut k.stream);
        rng.fill_bytes(&mut k.e2e);
        k
    }

    fn from_slice(m: &[u8]) -> Self {
        let mut k = DirKeys {
            slot: [0; 32],
            stream: [0; 32],
            e2e: [0; 32],
        };
        k.slot.copy_from_slice(&m[..32]);
        k.stream.copy_from_slice(&m[32..64]);
        k.e2e.copy_from_slice(&m[64..96]);
        k
    }
}

/// A session's keys, shared by the initiator and one hop.
#[derive(Clone, Debug)]
pub struct HopKeys {
    /// Forward direction.
    pub fwd: DirKeys,
    /// Backward direction.
    pub bwd: DirKeys,
    /// The hop's session handle, derived from the same material so that only
    /// the two ends know it.
    pub handle: u32,
}

impl HopKeys {
    /// Splits ntor key material ([`KEY_MATERIAL_LEN`] bytes).
    pub fn from_material(m: &[u8]) -> Result<Self, OnionError> {
        if m.len() != KEY_MATERIAL_LEN {
            return Err(OnionError::HandshakeFailed {
                reason: "key material length",
            });
        }
        Ok(HopKeys {
            fwd: DirKeys::from_slice(&m[..96]),
            bwd: DirKeys::from_slice(&m[96..192]),
            // Relay-side handles have the high bit clear; a node's own reply
            // handles have it set, so one node's two engines never collide.
            handle: u32::from_be_bytes([m[192], m[193], m[194], m[195]]) & RELAY_ID_MASK,
        })
    }

    /// The keys for `dir`.
    pub fn dir(&self, dir: Direction) -> &DirKeys {
        match dir {
            Direction::Forward => &self.fwd,
            Direction::Backward | Direction::Receive => &self.bwd,
        }
    }
}

/// Associated data of a layer: the session handle and the direction.
pub fn layer_ad(handle: u32, dir: Direction) -> [u8; 5] {
    let h = handle.to_be_bytes();
    [h[0], h[1], h[2], h[3], dir as u8]
}

fn aead(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&(*key).into())
}

fn keystream(key: &[u8; 32], nonce: &[u8; NONCE_LEN], buf: &mut [u8]) {
    let mut c = ChaCha20::new(&(*key).into(), &(*nonce).into());
    c.apply_keystream(buf);
}

/// Opens the first slot of `body`: checks its tag and parses the header.
pub fn open_slot(
    keys: &DirKeys,
    ad: &[u8],
    body: &Body,
) -> Result<([u8; NONCE_LEN], SlotHeader), OnionError> {
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&body[..NONCE_LEN]);
    let mut plain = [0u8; SLOT_PLAIN_LEN];
    plain.copy_from_slice(&body[NONCE_LEN..NONCE_LEN + SLOT_PLAIN_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&body[NONCE_LEN + SLOT_PLAIN_LEN..SLOT_LEN]);
    aead(&keys.slot)
        .decrypt_inout_detached(&nonce.into(), ad, (&mut plain[..]).into(), &tag.into())
        .map_err(|_| OnionError::BadMac { layer: "slot" })?;
    Ok((nonce, SlotHeader::decode(&plain)?))
}

/// Peels this hop's layer (after [`open_slot`] succeeded).
pub fn peel(keys: &DirKeys, nonce: &[u8; NONCE_LEN], body: &mut Body) {
    body.copy_within(SLOT_LEN..ROUTING_LEN, 0);
    body[ROUTING_LEN - SLOT_LEN..ROUTING_LEN].fill(0);
    keystream(&keys.stream, nonce, &mut body[..]);
}

/// Seals one slot: `nonce || AEAD(header) || tag`.
pub fn seal_slot(
    keys: &DirKeys,
    nonce: [u8; NONCE_LEN],
    ad: &[u8],
    header: &SlotHeader,
) -> Result<[u8; SLOT_LEN], OnionError> {
    let mut plain = header.encode();
    let tag = aead(&keys.slot)
        .encrypt_inout_detached(&nonce.into(), ad, (&mut plain[..]).into())
        .map_err(|_| OnionError::BadMac { layer: "slot seal" })?;
    let mut out = [0u8; SLOT_LEN];
    out[..NONCE_LEN].copy_from_slice(&nonce);
    out[NONCE_LEN..NONCE_LEN + SLOT_PLAIN_LEN].copy_from_slice(&plain);
    out[NONCE_LEN + SLOT_PLAIN_LEN..].copy_from_slice(&tag);
    Ok(out)
}

/// Builds the body a hop must receive so that, after it opens `header` and
/// peels, it holds `next` (up to the filler in the last routing slot).
pub fn wrap(
    keys: &DirKeys,
    nonce: [u8; NONCE_LEN],
    ad: &[u8],
    header: &SlotHeader,
    next: &Body,
) -> Result<Box<Body>, OnionError> {
    let mut v = Box::new(*next);
    keystream(&keys.stream, &nonce, &mut v[..]);
    let mut out = Box::new([0u8; BODY_LEN]);
    out[..SLOT_LEN].copy_from_slice(&seal_slot(keys, nonce, ad, header)?);
    out[SLOT_LEN..ROUTING_LEN].copy_from_slice(&v[..ROUTING_LEN - SLOT_LEN]);
    out[ROUTING_LEN..].copy_from_slice(&v[ROUTING_LEN..]);
    Ok(out)
}

/// [`wrap`] for the routing header alone (reply blocks, whose payload is
/// written later by their user).
pub fn wrap_routing(
    keys: &DirKeys,
    nonce: [u8; NONCE_LEN],
    ad: &[u8],
    header: &SlotHeader,
    next: &[u8; ROUTING_LEN],
) -> Result<[u8; ROUTING_LEN], OnionError> {
    let mut v = *next;
    keystream(&keys.stream, &nonce, &mut v[..]);
    let mut out = [0u8; ROUTING_LEN];
    out[..SLOT_LEN].copy_from_slice(&seal_slot(keys, nonce, ad, header)?);
    out[SLOT_LEN..].copy_from_slice(&v[..ROUTING_LEN - SLOT_LEN]);
    Ok(out)
}

/// XORs the payload region with `keys`' keystream for `nonce`, exactly as a
/// hop's [`peel`] does to it. Undoes the reply-block hops' layers.
pub fn xor_payload_layer(keys: &DirKeys, nonce: &[u8; NONCE_LEN], payload: &mut [u8]) {
    let mut c = ChaCha20::new(&keys.stream.into(), &(*nonce).into());
    // The payload starts at byte ROUTING_LEN of the hop's keystream.
    c.seek(ROUTING_LEN as u64);
    c.apply_keystream(payload);
}

/// Seals `plain` end to end into `out` (`tag || ciphertext`, zero-padded to
/// `out.len()`), under `keys`' end-to-end key.
pub fn seal_into(
    keys: &DirKeys,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    plain: &[u8],
    out: &mut [u8],
) -> Result<(), OnionError> {
    let capacity = out.len().saturating_sub(TAG_LEN);
    if plain.len() > capacity {
        return Err(OnionError::PayloadTooLarge {
            size: plain.len(),
            capacity,
        });
    }
    out.fill(0);
    out[TAG_LEN..TAG_LEN + plain.len()].copy_from_slice(plain);
    let tag = aead(&keys.e2e)
        .encrypt_inout_detached(&(*nonce).into(), ad, (&mut out[TAG_LEN..]).into())
        .map_err(|_| OnionError::BadMac {
            layer: "payload seal",
        })?;
    out[..TAG_LEN].copy_from_slice(&tag);
    Ok(())
}

/// Opens a region sealed by [`seal_into`]; returns the zero-padded plaintext.
pub fn open_sealed(
    keys: &DirKeys,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, OnionError> {
    if sealed.len() < TAG_LEN {
        return Err(OnionError::Malformed {
            what: "sealed payload",
            reason: "shorter than a tag",
        });
    }
    let mut plain = sealed[TAG_LEN..].to_vec();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&sealed[..TAG_LEN]);
    aead(&keys.e2e)
        .decrypt_inout_detached(&(*nonce).into(), ad, (&mut plain[..]).into(), &tag.into())
        .map_err(|_| OnionError::BadMac { layer: "payload" })?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onion::header::{NextHop, SlotCmd};
    use crate::time::Instant;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    fn header(cmd: SlotCmd, seq: u64) -> SlotHeader {
        SlotHeader {
            cmd,
            surb: false,
            seq,
            expiry: Instant::MAX,
            next: NextHop::None,
        }
    }

    fn keys(rng: &mut ChaCha20Rng) -> HopKeys {
        let mut m = [0u8; KEY_MATERIAL_LEN];
        rng.fill_bytes(&mut m);
        HopKeys::from_material(&m).unwrap()
    }

    /// Builds a three-layer cell and peels it hop by hop.
    #[test]
    fn wrap_and_peel_are_inverse_through_three_hops() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let hops: Vec<HopKeys> = (0..3).map(|_| keys(&mut rng)).collect();
        let nonces: Vec<[u8; 12]> = (0..3)
            .map(|_| {
                let mut n = [0u8; 12];
                rng.fill_bytes(&mut n);
                n
            })
            .collect();
        let message = b"who asked is not what was asked";
        let ad_last = layer_ad(hops[2].handle, Direction::Forward);
        // Innermost: what the endpoint holds after peeling.
        let mut inner = Box::new([0u8; BODY_LEN]);
        rng.fill_bytes(&mut inner[..ROUTING_LEN]);
        seal_into(
            &hops[2].fwd,
            &nonces[2],
            &ad_last,
            message,
            &mut inner[ROUTING_LEN..],
        )
        .unwrap();
        let mut body = inner;
        let cmds = [SlotCmd::Forward, SlotCmd::Forward, SlotCmd::Deliver];
        for i in (0..3).rev() {
            let ad = layer_ad(hops[i].handle, Direction::Forward);
            body = wrap(&hops[i].fwd, nonces[i], &ad, &header(cmds[i], 7), &body).unwrap();
        }
        let mut seen = Vec::new();
        for i in 0..3 {
            seen.push(body.to_vec());
            let ad = layer_ad(hops[i].handle, Direction::Forward);
            // Another hop's key cannot open this layer.
            let wrong = &hops[(i + 1) % 3].fwd;
            assert_eq!(
                open_slot(wrong, &ad, &body).unwrap_err(),
                OnionError::BadMac { layer: "slot" }
            );
            let (nonce, h) = open_slot(&hops[i].fwd, &ad, &body).unwrap();
            assert_eq!(h.cmd, cmds[i]);
            peel(&hops[i].fwd, &nonce, &mut body);
            if i == 2 {
                let plain = open_sealed(&hops[2].fwd, &nonce, &ad, &body[ROUTING_LEN..]).unwrap();
                assert_eq!(&plain[..message.len()], message);
                assert!(plain[message.len()..].iter().all(|b| *b == 0));
            }
        }
        // The bytes on consecutive links share nothing recognisable.
        for w in seen.windows(2) {
            let same = w[0].iter().zip(&w[1]).filter(|(a, b)| a == b).count();
            assert!(same < BODY_LEN / 64, "{same} equal bytes between links");
        }
    }

    #[test]
    fn tampering_anywhere_is_detected() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let k = keys(&mut rng);
        let ad = layer_ad(k.handle, Direction::Forward);
        let nonce = [9u8; 12];
        let mut inner = Box::new([0u8; BODY_LEN]);
        seal_into(&k.fwd, &nonce, &ad, b"x", &mut inner[ROUTING_LEN..]).unwrap();
        let body = wrap(&k.fwd, nonce, &ad, &header(SlotCmd::Deliver, 1), &inner).unwrap();
        // Header tampering fails at this hop.
        let mut h = body.clone();
        h[20] ^= 1;
        assert!(open_slot(&k.fwd, &ad, &h).is_err());
        // Payload tampering passes the slot but fails the end-to-end seal.
        let mut p = body.clone();
        p[ROUTING_LEN + 100] ^= 1;
        let (n, _) = open_slot(&k.fwd, &ad, &p).unwrap();
        peel(&k.fwd, &n, &mut p);
        assert_eq!(
            open_sealed(&k.fwd, &n, &ad, &p[ROUTING_LEN..]).unwrap_err(),
            OnionError::BadMac { layer: "payload" }
        );
        // Wrong direction (associated data) fails.
        let back = layer_ad(k.handle, Direction::Backward);
        assert!(open_slot(&k.fwd, &back, &body).is_err());
    }
}
