//! Single-use reply blocks (whitepaper "Return Path").
//!
//! The client precomputes a routing header for a return path: the reverse of
//! its session, or independent return relays it built a circuit through. Each
//! return hop's layer is sealed under the backward key it shares with the
//! client and carries a random replay tag, so the block works once: a second
//! use is refused by the first return hop. The exit seals its reply payload
//! under its own backward end-to-end key (from the forward handshake), puts it
//! behind the header and sends the cell to the first return hop; it learns
//! that hop's address and handle, nothing more of the route. Each return hop
//! peels one layer; the last one delivers to the client or to a mailbox. The
//! client's own final layer, sealed with a key only it holds, says which
//! reply block came back.

use std::net::SocketAddr;

use rand_core::CryptoRng;

use super::OnionError;
use super::cell::{Body, Cell, Command, NONCE_LEN, PAYLOAD_LEN, ROUTING_LEN, SLOT_LEN};
use super::header::{NextHop, SlotCmd, SlotHeader};
use super::layer::{
    DirKeys, Direction, HopKeys, layer_ad, open_sealed, seal_into, seal_slot, wrap_routing,
    xor_payload_layer,
};
use crate::net::{ADDR_LEN, decode_addr, encode_addr};
use crate::time::Instant;

/// Encoded size of a [`Surb`].
pub const SURB_LEN: usize = ADDR_LEN + 4 + ROUTING_LEN;

/// Plaintext bytes a reply cell carries (payload less nonce and tag).
pub const REPLY_CAPACITY: usize = PAYLOAD_LEN - NONCE_LEN - super::cell::TAG_LEN;

/// What the exit is given: where to send, and the precomputed header.
#[derive(Clone, PartialEq, Eq)]
pub struct Surb {
    /// The first return hop (or the client, for an empty return path).
    pub first_hop: SocketAddr,
    /// Its session handle.
    pub first_handle: u32,
    /// The routing header as the first return hop receives it.
    pub header: Box<[u8; ROUTING_LEN]>,
}

impl core::fmt::Debug for Surb {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Surb")
            .field("first_hop", &self.first_hop)
            .finish_non_exhaustive()
    }
}

impl Surb {
    /// Wire form, [`SURB_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SURB_LEN);
        out.extend_from_slice(&encode_addr(self.first_hop));
        out.extend_from_slice(&self.first_handle.to_be_bytes());
        out.extend_from_slice(&self.header[..]);
        out
    }

    /// Parses the wire form.
    pub fn decode(b: &[u8]) -> Result<Self, OnionError> {
        let bad = |reason| OnionError::Malformed {
            what: "reply block",
            reason,
        };
        if b.len() != SURB_LEN {
            return Err(bad("length"));
        }
        let first_hop = decode_addr(b).ok_or(bad("address family"))?;
        let h = &b[ADDR_LEN..ADDR_LEN + 4];
        let first_handle = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let mut header = Box::new([0u8; ROUTING_LEN]);
        header.copy_from_slice(&b[ADDR_LEN + 4..]);
        Ok(Surb {
            first_hop,
            first_handle,
            header,
        })
    }
}

/// A return hop as the client knows it.
#[derive(Clone, Copy, Debug)]
pub struct ReturnHop<'a> {
    /// Keys shared with that hop.
    pub keys: &'a HopKeys,
    /// Its address.
    pub addr: SocketAddr,
}

/// Where the last return hop puts the cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Straight to the client.
    Direct {
        /// The client's address.
        addr: SocketAddr,
    },
    /// Into this mailbox at the last return hop, until the client polls.
    Mailbox([u8; 16]),
}

/// What the client keeps to read the reply that comes back.
#[derive(Clone, Debug)]
pub struct SurbSecrets {
    /// Identifies the block in the client's own final layer.
    pub id: u64,
    /// Each return hop's backward keys and nonce, to undo their payload layers.
    pub layers: Vec<(DirKeys, [u8; NONCE_LEN])>,
    /// When the block stops working.
    pub expiry: Instant,
}

fn random_nonce(rng: &mut impl CryptoRng) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut n);
    n
}

/// Builds a reply block over `hops` (`hops[0]` receives from the exit) that
/// ends at the client's layer, sealed with `client_keys` under
/// `client_handle`. An empty `hops` means the exit sends straight to the
/// client (only sensible when the exit is the client's neighbour).
pub fn build(
    hops: &[ReturnHop<'_>],
    client_keys: &DirKeys,
    client_handle: u32,
    client_addr: SocketAddr,
    delivery: Delivery,
    expiry: Instant,
    rng: &mut impl CryptoRng,
) -> Result<(Surb, SurbSecrets), OnionError> {
    if hops.len() + 1 > super::cell::MAX_HOPS {
        return Err(OnionError::InvalidPath {
            reason: "reply path longer than the routing header",
        });
    }
    let id = rng.next_u64();
    // What the client receives: its own layer first, random garbage after.
    let mut routing = [0u8; ROUTING_LEN];
    rng.fill_bytes(&mut routing[SLOT_LEN..]);
    let own = SlotHeader {
        cmd: SlotCmd::Deliver,
        surb: true,
        seq: id,
        expiry,
        next: NextHop::None,
    };
    routing[..SLOT_LEN].copy_from_slice(&seal_slot(
        client_keys,
        random_nonce(rng),
        &layer_ad(client_handle, Direction::Receive),
        &own,
    )?);
    let mut layers = Vec::with_capacity(hops.len());
    for (i, hop) in hops.iter().enumerate().rev() {
        let next = if i + 1 == hops.len() {
            match delivery {
                Delivery::Direct { addr } => NextHop::Node {
                    addr,
                    handle: client_handle,
                },
                Delivery::Mailbox(id) => NextHop::Mailbox {
                    id,
                    handle: client_handle,
                },
            }
        } else {
            NextHop::Node {
                addr: hops[i + 1].addr,
                handle: hops[i + 1].keys.handle,
            }
        };
        let header = SlotHeader {
            cmd: SlotCmd::Route,
            surb: true,
            seq: rng.next_u64(),
            expiry,
            next,
        };
        let nonce = random_nonce(rng);
        routing = wrap_routing(
            &hop.keys.bwd,
            nonce,
            &layer_ad(hop.keys.handle, Direction::Backward),
            &header,
            &routing,
        )?;
        layers.push((hop.keys.bwd.clone(), nonce));
    }
    let (first_hop, first_handle) = match hops.first() {
        Some(h) => (h.addr, h.keys.handle),
        None => (client_addr, client_handle),
    };
    Ok((
        Surb {
            first_hop,
            first_handle,
            header: Box::new(routing),
        },
        SurbSecrets { id, layers, expiry },
    ))
}

/// The exit seals `plain` behind `surb` with its session's backward keys and
/// returns the cell to send to `surb.first_hop`.
pub fn seal_reply(
    surb: &Surb,
    sealer: &HopKeys,
    plain: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<Cell, OnionError> {
    let mut cell = Cell::new(surb.first_handle, Command::Surb);
    cell.body[..ROUTING_LEN].copy_from_slice(&surb.header[..]);
    let nonce = random_nonce(rng);
    let payload = &mut cell.body[ROUTING_LEN..];
    payload[..NONCE_LEN].copy_from_slice(&nonce);
    seal_into(
        &sealer.bwd,
        &nonce,
        &layer_ad(sealer.handle, Direction::Backward),
        plain,
        &mut payload[NONCE_LEN..],
    )?;
    Ok(cell)
}

/// The client reads a reply: undoes each return hop's payload layer and opens
/// the exit's seal. `body` is the cell body as the client received it.
pub fn open_reply(
    secrets: &SurbSecrets,
    sealer: &HopKeys,
    body: &Body,
) -> Result<Vec<u8>, OnionError> {
    let mut payload = [0u8; PAYLOAD_LEN];
    payload.copy_from_slice(&body[ROUTING_LEN..]);
    for (keys, nonce) in &secrets.layers {
        xor_payload_layer(keys, nonce, &mut payload);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&payload[..NONCE_LEN]);
    open_sealed(
        &sealer.bwd,
        &nonce,
        &layer_ad(sealer.handle, Direction::Backward),
        &payload[NONCE_LEN..],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onion::layer::{KEY_MATERIAL_LEN, open_slot, peel};
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    fn keys(rng: &mut ChaCha20Rng) -> HopKeys {
        let mut m = [0u8; KEY_MATERIAL_LEN];
        rng.fill_bytes(&mut m);
        HopKeys::from_material(&m).unwrap()
    }

    #[test]
    fn reply_travels_three_return_hops_to_the_client() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let hops: Vec<HopKeys> = (0..3).map(|_| keys(&mut rng)).collect();
        let exit = keys(&mut rng);
        let addrs: Vec<SocketAddr> = (1..=3)
            .map(|i| SocketAddr::from(([10, 0, 0, i], 9)))
            .collect();
        let client_addr = SocketAddr::from(([10, 9, 9, 9], 9));
        let client_keys = DirKeys::random(&mut rng);
        let ret: Vec<ReturnHop<'_>> = hops
            .iter()
            .zip(&addrs)
            .map(|(k, a)| ReturnHop { keys: k, addr: *a })
            .collect();
        let (surb, secrets) = build(
            &ret,
            &client_keys,
            77,
            client_addr,
            Delivery::Direct { addr: client_addr },
            Instant::MAX,
            &mut rng,
        )
        .unwrap();
        let surb = Surb::decode(&surb.encode()).unwrap();
        let cell = seal_reply(&surb, &exit, b"the answer", &mut rng).unwrap();
        assert_eq!(cell.encode().len(), crate::onion::cell::CELL_LEN);
        let mut body = cell.body;
        let mut to = (surb.first_hop, surb.first_handle);
        for (i, k) in hops.iter().enumerate() {
            assert_eq!(to, (addrs[i], k.handle), "hop {i} learns only the next hop");
            let (nonce, h) =
                open_slot(&k.bwd, &layer_ad(k.handle, Direction::Backward), &body).unwrap();
            assert_eq!(h.cmd, SlotCmd::Route);
            assert!(h.surb);
            peel(&k.bwd, &nonce, &mut body);
            to = match h.next {
                NextHop::Node { addr, handle } => (addr, handle),
                other => panic!("unexpected next hop {other:?}"),
            };
        }
        assert_eq!(to, (client_addr, 77));
        let (_, own) = open_slot(&client_keys, &layer_ad(77, Direction::Receive), &body).unwrap();
        assert_eq!(own.seq, secrets.id);
        let plain = open_reply(&secrets, &exit, &body).unwrap();
        assert_eq!(&plain[..10], b"the answer");
    }

    #[test]
    fn a_reply_sealed_by_another_exit_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let hop = keys(&mut rng);
        let exit = keys(&mut rng);
        let impostor = keys(&mut rng);
        let ck = DirKeys::random(&mut rng);
        let a = SocketAddr::from(([10, 0, 0, 1], 1));
        let (surb, secrets) = build(
            &[ReturnHop {
                keys: &hop,
                addr: a,
            }],
            &ck,
            1,
            a,
            Delivery::Direct { addr: a },
            Instant::MAX,
            &mut rng,
        )
        .unwrap();
        let cell = seal_reply(&surb, &impostor, b"x", &mut rng).unwrap();
        let mut body = cell.body;
        let (n, _) =
            open_slot(&hop.bwd, &layer_ad(hop.handle, Direction::Backward), &body).unwrap();
        peel(&hop.bwd, &n, &mut body);
        assert_eq!(
            open_reply(&secrets, &exit, &body).unwrap_err(),
            OnionError::BadMac { layer: "payload" }
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..SURB_LEN + 3)) {
            let _ = Surb::decode(&bytes);
        }
    }
}
