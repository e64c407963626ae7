//! An in-process network for onion flows on the virtual clock and wire of
//! `vnet` (the includer declares `vnet` beside it): relays and one client
//! exchange cells with a fixed link latency. Every cell that crosses a link
//! is logged, so tests can assert on sizes and neighbours.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;

use peer2prompt::identity::{EpochClock, Identity, OnionKeyring};
use peer2prompt::onion::OnionError;
use peer2prompt::onion::client::{ClientConfig, ClientEvent, HopSpec, OnionClient};
use peer2prompt::onion::observe::HopObservation;
use peer2prompt::onion::relay::{OnionRelay, RelayConfig, RelayEvent};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::vnet::{Step, VirtualNet};

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

/// The client (node 0) and the relays (node `i + 1`) on `vnet`'s clock and
/// wire.
pub struct Net {
    pub relays: Vec<RelayNode>,
    pub client_addr: SocketAddr,
    pub client: OnionClient,
    pub client_events: Vec<ClientEvent>,
    pub client_errors: Vec<OnionError>,
    /// Every cell delivered, in delivery order; a cell to an address no node
    /// holds is logged when sent and goes nowhere.
    pub wire: Vec<Wire>,
    /// Addresses that silently drop everything sent to or from them.
    pub offline: Vec<SocketAddr>,
    net: VirtualNet,
}

pub fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, i, 0, 1], 9000))
}

pub const EPOCH: Duration = Duration::from_secs(3600);

impl Net {
    pub fn new(relays: usize, seed: u64, config: &RelayConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let clock = EpochClock { length: EPOCH };
        let relays: Vec<RelayNode> = (0..relays)
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
        let net = VirtualNet::new(relays.len() + 1, Duration::from_millis(20));
        Net {
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
            net,
        }
    }

    pub fn specs(&self, idx: &[usize]) -> Vec<HopSpec> {
        idx.iter().map(|i| self.relays[*i].spec()).collect()
    }

    pub fn relay_index(&self, a: SocketAddr) -> Option<usize> {
        self.relays.iter().position(|r| r.addr == a)
    }

    /// The clock's now.
    pub fn now(&self) -> Instant {
        self.net.now
    }

    /// Moves the clock forward to `t` (nothing is delivered on the way).
    pub fn set_now(&mut self, t: Instant) {
        assert!(t >= self.net.now, "time never moves backwards");
        self.net.now = t;
    }

    fn index_of(&self, a: SocketAddr) -> Option<usize> {
        if a == self.client_addr {
            Some(0)
        } else {
            self.relay_index(a).map(|i| i + 1)
        }
    }

    fn addr_of(&self, i: usize) -> SocketAddr {
        if i == 0 {
            self.client_addr
        } else {
            self.relays[i - 1].addr
        }
    }

    /// Puts raw bytes on the wire from `from` to `to`.
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        match (self.index_of(from), self.index_of(to)) {
            (Some(f), Some(t)) => self.net.send(f, t, bytes),
            _ => self.wire.push(Wire {
                at: self.net.now,
                from,
                to,
                bytes,
            }),
        }
    }

    fn collect(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.inject(self.client_addr, t.to, t.bytes);
        }
        let now = self.net.now;
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
        self.net.arm(0, self.client.poll_timeout());
        for (i, r) in self.relays.iter().enumerate() {
            self.net.arm(i + 1, r.relay.poll_timeout());
        }
    }

    /// Delivers one wire cell now.
    pub fn deliver(&mut self, w: &Wire) {
        let now = self.net.now;
        if w.to == self.client_addr {
            if let Err(e) = self.client.handle(now, w.from, &w.bytes) {
                self.client_errors.push(e);
            }
        } else if let Some(i) = self.relay_index(w.to) {
            let r = &mut self.relays[i];
            if let Err(e) = r.relay.handle(now, w.from, &w.bytes) {
                r.errors.push(e);
            }
        }
    }

    /// Runs for `horizon`: arrivals and timers in time order, so a delayed
    /// cell leaves exactly when its relay said it would.
    pub fn run(&mut self, horizon: Duration) {
        let end = self.net.now + horizon;
        self.net.offline = (0..=self.relays.len())
            .filter(|i| self.offline.contains(&self.addr_of(*i)))
            .collect();
        loop {
            self.collect();
            match self.net.next(end) {
                Some(Step::Deliver {
                    at,
                    from,
                    to,
                    bytes,
                }) => {
                    let w = Wire {
                        at,
                        from: self.addr_of(from),
                        to: self.addr_of(to),
                        bytes,
                    };
                    self.deliver(&w);
                    self.wire.push(w);
                }
                Some(Step::Timeout { at, node: 0 }) => self.client.handle_timeout(at),
                Some(Step::Timeout { at, node }) => self.relays[node - 1].relay.handle_timeout(at),
                None => break,
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
        let c = self.client.build(self.net.now, path).unwrap();
        self.run(Duration::from_secs(5));
        assert!(
            self.client.is_ready(c),
            "circuit not built: {:?}",
            self.client_events
        );
        c
    }
}
