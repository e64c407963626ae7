//! Onion benchmarks (`cargo bench -p peer2prompt --bench onion`).
//!
//! Stable ids:
//! - `onion/ntor_client`: the client's whole ntor (create the onionskin, check
//!   the reply, derive keys);
//! - `onion/ntor_server`: the relay's side of ntor;
//! - `onion/build_session_3_relays`: a telescoped build through three relays
//!   and an exit, all CPU of the client and the four hops;
//! - `onion/relay_cell`: one hop handling one forward cell (decode, open its
//!   slot, replay window, peel, queue to the next hop);
//! - `onion/surb_build`: the client making one reply block over three hops;
//! - `onion/surb_process_hop`: one return hop handling one reply-block cell;
//! - `onion/cover_cell`: the client making a cover cell and its target hop
//!   recognising and dropping it;
//! - `onion/client_seal_cell`: the client sealing one data cell for the exit
//!   of a four-hop circuit (four layers);
//! - `onion/client_open_reply`: the client opening one reply cell that came
//!   back through three return hops.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::fidelity::CryptoFidelity::Full;
use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main};
use peer2prompt::identity::{EpochClock, Identity, OnionKeyring};
use peer2prompt::onion::cell::{Cell, Command};
use peer2prompt::onion::client::{ClientConfig, HopSpec, OnionClient};
use peer2prompt::onion::layer::{DirKeys, HopKeys, KEY_MATERIAL_LEN};
use peer2prompt::onion::ntor::{self, NtorClient};
use peer2prompt::onion::relay::{OnionRelay, RelayConfig};
use peer2prompt::onion::surb::{self, Delivery, ReturnHop};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use x25519_dalek::{PublicKey, StaticSecret};

const CLIENT: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 0, 2)),
    1,
);

struct Bench {
    client: OnionClient,
    relays: Vec<(SocketAddr, Identity, OnionRelay)>,
    now: Instant,
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, i, 0, 1], 9000))
}

impl Bench {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let clock = EpochClock {
            length: Duration::from_secs(3600),
        };
        let relays = (0..4u8)
            .map(|i| {
                let id = Identity::generate(&mut rng, 1);
                let ring =
                    OnionKeyring::new(&id, clock, Duration::from_secs(60), Instant::ZERO, &mut rng);
                let relay = OnionRelay::new(
                    &id,
                    ring,
                    RelayConfig::default(),
                    ChaCha20Rng::seed_from_u64(seed + 10 + u64::from(i)),
                    ChaCha20Rng::seed_from_u64(seed + 20 + u64::from(i)),
                );
                (addr(i + 1), id, relay)
            })
            .collect();
        Bench {
            client: OnionClient::new(
                CLIENT,
                ClientConfig::default(),
                ChaCha20Rng::seed_from_u64(seed + 1),
            ),
            relays,
            now: Instant::from_nanos(1),
        }
    }

    fn specs(&self) -> Vec<HopSpec> {
        self.relays
            .iter()
            .map(|(a, id, r)| HopSpec {
                node: id.node_id(),
                addr: *a,
                onion_key: r.keyring().current_cert().onion_key,
            })
            .collect()
    }

    /// Delivers everything until quiet.
    fn pump(&mut self) {
        let mut q: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)> = VecDeque::new();
        loop {
            while let Some(t) = self.client.poll_transmit() {
                q.push_back((CLIENT, t.to, t.bytes));
            }
            for (a, _, r) in &mut self.relays {
                while let Some(t) = r.poll_transmit(self.now) {
                    q.push_back((*a, t.to, t.bytes));
                }
                while r.poll_event().is_some() {}
            }
            let Some((from, to, bytes)) = q.pop_front() else {
                break;
            };
            if to == CLIENT {
                self.client.handle(self.now, from, &bytes).unwrap();
            } else if let Some((_, _, r)) = self.relays.iter_mut().find(|(a, _, _)| *a == to) {
                r.handle(self.now, from, &bytes).unwrap();
            }
        }
        while self.client.poll_event().is_some() {}
    }

    fn circuit(&mut self) -> u32 {
        let c = self.client.build(self.now, self.specs()).unwrap();
        self.pump();
        assert!(self.client.is_ready(c));
        c
    }
}

fn ntor_benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let b = StaticSecret::from([7u8; 32]);
    let big_b = PublicKey::from(&b).to_bytes();
    let id = [3u8; 20];
    let pair = || ntor::OnionKeyPair {
        secret: &b,
        public: &big_b,
    };
    let (_, skin) = NtorClient::new(id, big_b, Full, &mut rng);
    let mut g = c.benchmark_group("onion");
    g.bench_function("ntor_client", |bench| {
        bench.iter_batched(
            || {
                let (client, skin) = NtorClient::new(id, big_b, Full, &mut rng);
                let (reply, _) =
                    ntor::server_respond(&id, pair(), &skin, KEY_MATERIAL_LEN, Full, &mut rng)
                        .unwrap();
                (client, reply)
            },
            |(client, reply)| client.finish(&reply, KEY_MATERIAL_LEN).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The client's first half alone is part of the batched setup above; time
    // it too so ntor_client can be read as setup + finish.
    g.bench_function("ntor_client_create", |bench| {
        bench.iter(|| NtorClient::new(id, big_b, Full, &mut rng))
    });
    g.bench_function("ntor_server", |bench| {
        bench.iter(|| {
            ntor::server_respond(
                &id,
                pair(),
                black_box(&skin),
                KEY_MATERIAL_LEN,
                Full,
                &mut rng,
            )
            .unwrap()
        })
    });
    g.finish();
}

fn session_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("onion");
    g.bench_function("build_session_3_relays", |bench| {
        let mut b = Bench::new(2);
        bench.iter(|| {
            let circ = b.circuit();
            b.client.destroy(circ);
            b.pump();
        })
    });

    // relay_cell: R1 handling forward cells of an established circuit.
    let mut b = Bench::new(3);
    let circ = b.circuit();
    g.bench_function("relay_cell", |bench| {
        bench.iter_batched(
            || {
                b.client.send_cover(b.now, circ, 3).unwrap();
                b.client.poll_transmit().unwrap().bytes
            },
            |bytes| {
                let (_, _, r1) = &mut b.relays[0];
                r1.handle(b.now, CLIENT, &bytes).unwrap();
                let t = r1.poll_transmit(b.now).unwrap();
                while r1.poll_event().is_some() {}
                t
            },
            BatchSize::SmallInput,
        )
    });

    g.bench_function("client_seal_cell", |bench| {
        bench.iter(|| {
            b.client.send(b.now, circ, b"a short request").unwrap();
            b.client.poll_transmit().unwrap()
        })
    });

    // cover_cell: make one for hop 1 and have hop 1 drop it.
    g.bench_function("cover_cell", |bench| {
        bench.iter(|| {
            b.client.send_cover(b.now, circ, 0).unwrap();
            let bytes = b.client.poll_transmit().unwrap().bytes;
            let (_, _, r1) = &mut b.relays[0];
            r1.handle(b.now, CLIENT, &bytes).unwrap();
            while r1.poll_event().is_some() {}
        })
    });
    g.finish();
}

fn surb_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("onion");
    surb_build(&mut g);
    surb_process_hop(&mut g);
    client_open_reply(&mut g);
    g.finish();
}

/// A circuit of its own whose exit holds reply blocks.
fn primed(seed: u64) -> (std::cell::RefCell<Bench>, u32) {
    let b = std::cell::RefCell::new(Bench::new(seed));
    let circ = b.borrow_mut().circuit();
    {
        let mut bb = b.borrow_mut();
        let now = bb.now;
        bb.client
            .send(now, circ, b"prime the exit with reply blocks")
            .unwrap();
        bb.pump();
    }
    (b, circ)
}

fn surb_build(g: &mut BenchmarkGroup<'_, WallTime>) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let keys: Vec<HopKeys> = (0..4)
        .map(|_| {
            let mut m = [0u8; KEY_MATERIAL_LEN];
            rng.fill_bytes(&mut m);
            HopKeys::from_material(&m).unwrap()
        })
        .collect();
    let own = DirKeys::random(&mut rng);
    let hops: Vec<ReturnHop<'_>> = (0..3)
        .map(|i| ReturnHop {
            keys: &keys[i],
            addr: addr(i as u8 + 1),
        })
        .collect();
    g.bench_function("surb_build", |bench| {
        bench.iter(|| {
            surb::build(
                &hops,
                &own,
                9,
                CLIENT,
                Delivery::Direct { addr: CLIENT },
                Instant::MAX,
                &mut rng,
            )
            .unwrap()
        })
    });
}

fn surb_process_hop(g: &mut BenchmarkGroup<'_, WallTime>) {
    // surb_process_hop: the first return hop (R3 of a real circuit) handling
    // a fresh reply cell sealed by the exit.
    let (b, circ) = primed(5);
    g.bench_function("surb_process_hop", |bench| {
        bench.iter_batched(
            || {
                // Top the exit up and have it seal one reply cell.
                let mut bb = b.borrow_mut();
                let now = bb.now;
                bb.client.send_surb_batch(now, circ).unwrap();
                bb.pump_to_exit();
                let (_, _, exit) = &mut bb.relays[3];
                let session = exit.sessions()[0];
                exit.reply(now, session, b"x").unwrap();
                let t = exit.poll_transmit(now).unwrap();
                assert_eq!(Cell::decode(&t.bytes).unwrap().cmd, Command::Surb);
                t.bytes
            },
            |bytes| {
                let mut bb = b.borrow_mut();
                let now = bb.now;
                let (_, _, r3) = &mut bb.relays[2];
                r3.handle(now, addr(4), &bytes).unwrap();
                let t = r3.poll_transmit(now).unwrap();
                while r3.poll_event().is_some() {}
                t
            },
            BatchSize::SmallInput,
        )
    });
}

fn client_open_reply(g: &mut BenchmarkGroup<'_, WallTime>) {
    // client_open_reply: a reply cell carried R3 -> R2 -> R1 in setup, on a
    // circuit of its own. (Reusing the one above failed: the exit had sealed
    // replies the client never received, so every later reply waited for
    // them in the client's in-order buffer until it was full.)
    let (b, circ) = primed(6);
    g.bench_function("client_open_reply", |bench| {
        bench.iter_batched(
            || {
                let mut bb = b.borrow_mut();
                let now = bb.now;
                bb.client.send_surb_batch(now, circ).unwrap();
                bb.pump_to_exit();
                let (_, _, exit) = &mut bb.relays[3];
                let session = exit.sessions()[0];
                exit.reply(now, session, b"x").unwrap();
                let mut bytes = exit.poll_transmit(now).unwrap().bytes;
                let mut from = addr(4);
                for i in [2usize, 1, 0] {
                    let (a, _, r) = &mut bb.relays[i];
                    r.handle(now, from, &bytes).unwrap();
                    bytes = r.poll_transmit(now).unwrap().bytes;
                    while r.poll_event().is_some() {}
                    from = *a;
                }
                (from, bytes)
            },
            |(from, bytes)| {
                let mut bb = b.borrow_mut();
                let now = bb.now;
                bb.client.handle(now, from, &bytes).unwrap();
                while bb.client.poll_event().is_some() {}
                while bb.client.poll_transmit().is_some() {}
            },
            BatchSize::SmallInput,
        )
    });
}

impl Bench {
    /// Delivers the client's pending cells through the relays to the exit,
    /// dropping what the exit sends back.
    fn pump_to_exit(&mut self) {
        let mut q: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)> = VecDeque::new();
        while let Some(t) = self.client.poll_transmit() {
            q.push_back((CLIENT, t.to, t.bytes));
        }
        while let Some((from, to, bytes)) = q.pop_front() {
            if let Some((a, _, r)) = self.relays.iter_mut().find(|(a, _, _)| *a == to) {
                r.handle(self.now, from, &bytes).unwrap();
                if *a == addr(4) {
                    while r.poll_event().is_some() {}
                    continue;
                }
                while let Some(t) = r.poll_transmit(self.now) {
                    q.push_back((*a, t.to, t.bytes));
                }
                while r.poll_event().is_some() {}
            }
        }
    }
}

criterion_group!(benches, ntor_benches, session_benches, surb_benches);
criterion_main!(benches);
