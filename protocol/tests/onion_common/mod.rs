//! An in-process network for onion flows: relays and one client exchange
//! cells through a virtual clock with a fixed link latency. Every cell that
//! crosses a link is logged, so tests can assert on sizes and neighbours.
#![allow(dead_code, clippy::unwrap_used)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;

use peer2prompt::identity::{EpochClock, Identity, OnionKeyring};
use peer2prompt::onion::OnionError;
use peer2prompt::onion::client::{ClientConfig, ClientEvent, HopSpec, OnionClient};
use peer2prompt::onion::observe::HopObservation;
use peer2prompt::onion::relay::{OnionRelay, RelayConfig, RelayEvent};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub struct RelayNode {
    pub addr: SocketAddr,
    pub identity: Identity,
    pub relay: OnionRelay,
    pub observations: Vec<HopObservation>,
    pub delivered: Vec<(u32, SocketAddr, Vec<u8>)>,
    pub errors: Vec<OnionError>,
}

impl RelayNode {
    pub fn spec(&self) -> HopSpec {
        HopSpec {
            node: self.identity.node_id(),
            addr: self.addr,
            onion_key: self.relay.keyring().current_cert().onion_key,
        }
    }
}

/// One cell crossing one link.
#[derive(Clone, Debug)]
pub struct Wire {
    pub at: Instant,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

pub struct Net {
    pub now: Instant,
    pub latency: Duration,
    pub relays: Vec<RelayNode>,
    pub client_addr: SocketAddr,
    pub client: OnionClient,
    pub client_events: Vec<ClientEvent>,
    pub client_errors: Vec<OnionError>,
    pub wire: Vec<Wire>,
    /// Addresses that silently drop everything sent to them (offline nodes).
    pub offline: Vec<SocketAddr>,
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    pending: HashMap<usize, Wire>,
    seq: u64,
}

pub fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, i, 0, 1], 9000))
}

pub const EPOCH: Duration = Duration::from_secs(3600);

impl Net {
    pub fn new(relays: usize, seed: u64, config: &RelayConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let clock = EpochClock { length: EPOCH };
        let relays = (0..relays)
            .map(|i| {
                let identity = Identity::generate(&mut rng, 4);
                let ring = OnionKeyring::new(
                    &identity,
                    clock,
                    Duration::from_secs(600),
                    Instant::ZERO,
                    &mut rng,
                );
                let relay = OnionRelay::new(
                    &identity,
                    ring,
                    config.clone(),
                    ChaCha20Rng::seed_from_u64(seed * 1000 + i as u64),
                    ChaCha20Rng::seed_from_u64(seed * 1000 + 500 + i as u64),
                );
                RelayNode {
                    addr: addr(i as u8 + 1),
                    identity,
                    relay,
                    observations: Vec::new(),
                    delivered: Vec::new(),
                    errors: Vec::new(),
                }
            })
            .collect();
        let client_addr = SocketAddr::from(([192, 168, 1, 2], 5000));
        Net {
            now: Instant::from_nanos(1),
            latency: Duration::from_millis(20),
            relays,
            client_addr,
            client: OnionClient::new(
                client_addr,
                ClientConfig::default(),
                ChaCha20Rng::seed_from_u64(seed + 77),
            ),
            client_events: Vec::new(),
            client_errors: Vec::new(),
            wire: Vec::new(),
            offline: Vec::new(),
            in_flight: BinaryHeap::new(),
            pending: HashMap::new(),
            seq: 0,
        }
    }

    pub fn specs(&self, idx: &[usize]) -> Vec<HopSpec> {
        idx.iter().map(|i| self.relays[*i].spec()).collect()
    }

    pub fn relay_index(&self, a: SocketAddr) -> Option<usize> {
        self.relays.iter().position(|r| r.addr == a)
    }

    /// Puts raw bytes on the wire from `from` to `to`.
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        self.seq += 1;
        let at = self.now + self.latency;
        self.pending.insert(
            self.seq as usize,
            Wire {
                at,
                from,
                to,
                bytes,
            },
        );
        self.in_flight
            .push(Reverse((at, self.seq, self.seq as usize)));
    }

    fn collect(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.inject(self.client_addr, t.to, t.bytes);
        }
        let now = self.now;
        let mut out = Vec::new();
        for r in &mut self.relays {
            while let Some(t) = r.relay.poll_transmit(now) {
                out.push((r.addr, t.to, t.bytes));
            }
            while let Some(e) = r.relay.poll_event() {
                match e {
                    RelayEvent::Observed(o) => r.observations.push(o),
                    RelayEvent::Delivered {
                        session,
                        prev,
                        message,
                    } => r.delivered.push((session, prev, message)),
                    RelayEvent::SessionClosed { .. } => {}
                }
            }
        }
        for (from, to, bytes) in out {
            self.inject(from, to, bytes);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
    }

    /// Delivers one wire cell now.
    pub fn deliver(&mut self, w: &Wire) {
        if self.offline.contains(&w.to) {
            return;
        }
        if w.to == self.client_addr {
            if let Err(e) = self.client.handle(self.now, w.from, &w.bytes) {
                self.client_errors.push(e);
            }
        } else if let Some(i) = self.relay_index(w.to) {
            let now = self.now;
            let r = &mut self.relays[i];
            if let Err(e) = r.relay.handle(now, w.from, &w.bytes) {
                r.errors.push(e);
            }
        }
    }

    /// Runs until nothing is in flight and no timer is due before `horizon`.
    /// Arrivals and timers are taken in time order, so a delayed cell leaves
    /// exactly when its relay said it would.
    pub fn run(&mut self, horizon: Duration) {
        let end = self.now + horizon;
        loop {
            self.collect();
            let arrival = self.in_flight.peek().map(|Reverse((at, _, _))| *at);
            let timer = self
                .relays
                .iter()
                .filter_map(|r| r.relay.poll_timeout())
                .chain(self.client.poll_timeout())
                .filter(|t| *t > self.now)
                .min();
            match (arrival, timer) {
                (Some(a), t) if t.is_none_or(|t| a <= t) => {
                    let Reverse((at, _, key)) = self.in_flight.pop().unwrap();
                    assert!(at >= self.now, "time never moves backwards");
                    self.now = at;
                    let w = self.pending.remove(&key).unwrap();
                    self.deliver(&w);
                    self.wire.push(w);
                }
                (_, Some(t)) if t <= end => {
                    assert!(t >= self.now, "time never moves backwards");
                    self.now = t;
                    self.client.handle_timeout(t);
                    for r in &mut self.relays {
                        r.relay.handle_timeout(t);
                    }
                }
                _ => break,
            }
        }
    }

    /// Asserts the replies received, comparing sizes and contents without
    /// printing whole messages.
    pub fn assert_replies(&self, expected: &[&[u8]]) {
        let got = self.replies();
        let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
        let want: Vec<usize> = expected.iter().map(|e| e.len()).collect();
        assert_eq!(sizes, want, "reply sizes");
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(g.as_slice() == *e, "reply {i} differs in content");
        }
    }

    pub fn ready_circuits(&self) -> Vec<u32> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::CircuitReady { circuit } => Some(*circuit),
                _ => None,
            })
            .collect()
    }

    pub fn replies(&self) -> Vec<Vec<u8>> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Reply { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// Builds a circuit along relay indices and runs until it is ready.
    pub fn build(&mut self, idx: &[usize]) -> u32 {
        let path = self.specs(idx);
        let c = self.client.build(self.now, path).unwrap();
        self.run(Duration::from_secs(5));
        assert!(
            self.client.is_ready(c),
            "circuit not built: {:?}",
            self.client_events
        );
        c
    }
}
