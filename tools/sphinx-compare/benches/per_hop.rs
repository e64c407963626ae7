//! One hop processing one packet: Peer2Prompt's layered-AEAD cell (forward,
//! and reply block) next to a Sphinx packet from nymtech's `sphinx-packet`,
//! measured in the same process on the same machine.
//!
//! What each does per hop:
//! - `compare/p2p_relay_cell`: open a ChaCha20-Poly1305 slot with the session
//!   key, check expiry and replay window, one ChaCha20 pass over the 2043-byte
//!   body (session keys come from the ntor handshake at circuit build);
//! - `compare/p2p_surb_hop`: the same for a reply-block cell;
//! - `compare/sphinx_process_hop`: one X25519 with the node's static key,
//!   header MAC and decryption, LIONESS over the payload (no session state);
//! - `compare/p2p_ntor_server`: the per-session public-key cost a Peer2Prompt
//!   hop pays once per circuit instead of once per packet.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use peer2prompt::onion::cell::{BODY_LEN, Cell, Command, ROUTING_LEN};
use peer2prompt::onion::header::{NextHop, SlotCmd, SlotHeader};
use peer2prompt::onion::layer::{
    Direction, HopKeys, KEY_MATERIAL_LEN, layer_ad, open_slot, peel, wrap,
};
use peer2prompt::onion::ntor::{self, NtorClient};
use peer2prompt::onion::replay::ReplayWindow;
use peer2prompt::time::Instant;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sphinx_packet::SphinxPacket;
use sphinx_packet::constants::{
    DESTINATION_ADDRESS_LENGTH, IDENTIFIER_LENGTH, NODE_ADDRESS_LENGTH,
};
use sphinx_packet::header::delays;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use x25519_dalek::{PublicKey, StaticSecret};

fn p2p(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut m = [0u8; KEY_MATERIAL_LEN];
    rng.fill_bytes(&mut m);
    let keys = HopKeys::from_material(&m).unwrap();
    let ad = layer_ad(keys.handle, Direction::Forward);
    let mut seq = 0u64;
    let mut window = ReplayWindow::default();
    c.bench_function("compare/p2p_relay_cell", |b| {
        b.iter_batched(
            || {
                seq += 1;
                let header = SlotHeader {
                    cmd: SlotCmd::Forward,
                    surb: false,
                    seq,
                    expiry: Instant::MAX,
                    next: NextHop::None,
                };
                let mut nonce = [0u8; 12];
                rng.fill_bytes(&mut nonce);
                let body =
                    wrap(&keys.fwd, nonce, &ad, &header, &Box::new([7u8; BODY_LEN])).unwrap();
                Cell {
                    id: 1,
                    cmd: Command::Relay,
                    body,
                }
                .encode()
            },
            |wire| {
                let mut cell = Cell::decode(&wire).unwrap();
                let (nonce, h) = open_slot(&keys.fwd, &ad, &cell.body).unwrap();
                assert!(Instant::ZERO <= h.expiry);
                window.check_and_insert(h.seq).unwrap();
                peel(&keys.fwd, &nonce, &mut cell.body);
                cell.encode()
            },
            BatchSize::SmallInput,
        )
    });
    let bad = layer_ad(keys.handle, Direction::Backward);
    let mut tag = 0u64;
    c.bench_function("compare/p2p_surb_hop", |b| {
        b.iter_batched(
            || {
                tag += 1;
                let header = SlotHeader {
                    cmd: SlotCmd::Route,
                    surb: true,
                    seq: tag,
                    expiry: Instant::MAX,
                    next: NextHop::None,
                };
                let body = wrap(
                    &keys.bwd,
                    [tag as u8; 12],
                    &bad,
                    &header,
                    &Box::new([7u8; BODY_LEN]),
                )
                .unwrap();
                Cell {
                    id: 1,
                    cmd: Command::Surb,
                    body,
                }
                .encode()
            },
            |wire| {
                let mut cell = Cell::decode(&wire).unwrap();
                let (nonce, _) = open_slot(&keys.bwd, &bad, &cell.body).unwrap();
                peel(&keys.bwd, &nonce, &mut cell.body);
                black_box(&cell.body[ROUTING_LEN..]);
                cell.encode()
            },
            BatchSize::SmallInput,
        )
    });
    let b_key = StaticSecret::from([9u8; 32]);
    let big_b = PublicKey::from(&b_key).to_bytes();
    let (_, skin) = NtorClient::new([1; 20], big_b, &mut rng);
    c.bench_function("compare/p2p_ntor_server", |b| {
        b.iter(|| {
            ntor::server_respond(
                &[1; 20],
                &b_key,
                black_box(&skin),
                KEY_MATERIAL_LEN,
                &mut rng,
            )
            .unwrap()
        })
    });
}

fn sphinx(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut key = || {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        let sk = StaticSecret::from(k);
        let pk = PublicKey::from(&sk);
        (sk, pk)
    };
    let (sk1, pk1) = key();
    let (_, pk2) = key();
    let (_, pk3) = key();
    let route = [
        Node::new(
            NodeAddressBytes::from_bytes([5u8; NODE_ADDRESS_LENGTH]),
            pk1,
        ),
        Node::new(
            NodeAddressBytes::from_bytes([4u8; NODE_ADDRESS_LENGTH]),
            pk2,
        ),
        Node::new(
            NodeAddressBytes::from_bytes([2u8; NODE_ADDRESS_LENGTH]),
            pk3,
        ),
    ];
    let delays = delays::generate_from_average_duration(route.len(), Duration::from_millis(10));
    let destination = Destination::new(
        DestinationAddressBytes::from_bytes([3u8; DESTINATION_ADDRESS_LENGTH]),
        [4u8; IDENTIFIER_LENGTH],
    );
    let packet = SphinxPacket::new(vec![13u8; 1000], &route, &destination, &delays).unwrap();
    let wire = packet.to_bytes();
    c.bench_function("compare/sphinx_process_hop", |b| {
        b.iter(|| {
            SphinxPacket::from_bytes(black_box(&wire))
                .unwrap()
                .process(&sk1)
                .unwrap()
        })
    });
}

criterion_group!(benches, p2p, sphinx);
criterion_main!(benches);
