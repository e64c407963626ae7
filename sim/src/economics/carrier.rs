//! Full fidelity for the market's sessions (whitepaper "Request Flow",
//! "Onion Routing"): every message of a job (the request with its first
//! chunk, each payment request and payment, the streamed answer) is carried
//! over a real onion circuit built with the protocol's sans-IO onion client
//! and relays: ntor handshakes per hop, layered AEAD in fixed-size cells,
//! answers on single-use reply blocks. The circuit runs in process with
//! instant, lossless links: what it adds over the rail is the onion layer's
//! encoding, cryptography and message framing, which is what a market
//! result could depend on. Network latency, loss and churn are measured by
//! the network scenarios, not here.
//!
//! It is a carrier, not a network driver, which is why it is not the
//! engine: cells move first in, first out at one instant, no timer is ever
//! due, and the client and relays are called exactly as the engine calls
//! them (`handle`, then drain `poll_transmit` and `poll_event`).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use peer2prompt::identity::{EpochClock, Identity, OnionKeyring};
use peer2prompt::onion::OnionError;
use peer2prompt::onion::client::{ClientConfig, ClientEvent, HopSpec, OnionClient};
use peer2prompt::onion::relay::{OnionRelay, RelayConfig, RelayEvent};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// Relays before the exit on every market circuit.
pub const RELAYS: usize = 2;

struct Hop {
    addr: SocketAddr,
    spec: HopSpec,
    relay: OnionRelay,
    delivered: VecDeque<(u32, Vec<u8>)>,
}

/// An in-process onion network: a client end, a pool of relays and one
/// exit per service, with cells moved instantly.
pub struct OnionCarrier {
    now: Instant,
    rng: ChaCha20Rng,
    client_addr: SocketAddr,
    client: OnionClient,
    relays: Vec<Hop>,
    exits: BTreeMap<usize, Hop>,
    replies: VecDeque<(u32, Vec<u8>)>,
    wire: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Cells moved over links.
    pub cells: u64,
    /// Circuits built.
    pub circuits: u64,
}

/// Why the carrier failed a message.
#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    /// The onion layer refused.
    #[error("onion: {0}")]
    Onion(#[from] OnionError),
    /// A circuit was not built, or a message did not arrive.
    #[error("onion circuit: {0}")]
    Lost(&'static str),
}

const EPOCH: Duration = Duration::from_secs(30 * 86_400);

fn hop(i: u32, rng: &mut ChaCha20Rng) -> Hop {
    let identity = Identity::generate(rng, 0);
    let ring = OnionKeyring::new(
        &identity,
        EpochClock { length: EPOCH },
        Duration::from_secs(3600),
        Instant::ZERO,
        rng,
    );
    let addr = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 9000));
    let relay = OnionRelay::new(
        &identity,
        ring,
        RelayConfig::default(),
        ChaCha20Rng::seed_from_u64(rng.next_u64()),
        ChaCha20Rng::seed_from_u64(rng.next_u64()),
    );
    Hop {
        addr,
        spec: HopSpec {
            node: identity.node_id(),
            addr,
            onion_key: relay.keyring().current_cert().onion_key,
        },
        relay,
        delivered: VecDeque::new(),
    }
}

impl OnionCarrier {
    /// A carrier with `relays` relays drawing from `rng` (a stream of its
    /// own, so it never shifts the market's or the mint's streams).
    pub fn new(relays: usize, mut rng: ChaCha20Rng) -> Self {
        let relays = (0..relays.max(RELAYS) as u32)
            .map(|i| hop(i + 1, &mut rng))
            .collect();
        let client_addr = SocketAddr::from(([192, 168, 0, 1], 5000));
        let client = OnionClient::new(
            client_addr,
            ClientConfig {
                surb_ttl: Duration::from_secs(3600),
                ..ClientConfig::default()
            },
            ChaCha20Rng::seed_from_u64(rng.next_u64()),
        );
        OnionCarrier {
            now: Instant::ZERO,
            rng,
            client_addr,
            client,
            relays,
            exits: BTreeMap::new(),
            replies: VecDeque::new(),
            wire: VecDeque::new(),
            cells: 0,
            circuits: 0,
        }
    }

    /// Moves the clock.
    pub fn set_time(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn collect(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.wire.push_back((self.client_addr, t.to, t.bytes));
        }
        let now = self.now;
        for h in self.relays.iter_mut().chain(self.exits.values_mut()) {
            while let Some(t) = h.relay.poll_transmit(now) {
                self.wire.push_back((h.addr, t.to, t.bytes));
            }
            while let Some(e) = h.relay.poll_event() {
                if let RelayEvent::Delivered {
                    session, message, ..
                } = e
                {
                    h.delivered.push_back((session, message));
                }
            }
        }
        while let Some(e) = self.client.poll_event() {
            if let ClientEvent::Reply { circuit, message } = e {
                self.replies.push_back((circuit, message));
            }
        }
    }

    /// Moves cells until the network is quiet.
    fn pump(&mut self) -> Result<(), CarrierError> {
        loop {
            self.collect();
            let Some((from, to, bytes)) = self.wire.pop_front() else {
                return Ok(());
            };
            self.cells += 1;
            if to == self.client_addr {
                self.client.handle(self.now, from, &bytes)?;
                continue;
            }
            let now = self.now;
            if let Some(h) = self
                .relays
                .iter_mut()
                .chain(self.exits.values_mut())
                .find(|h| h.addr == to)
            {
                h.relay.handle(now, from, &bytes)?;
            }
        }
    }

    /// Builds a circuit through two random relays to `service`'s exit.
    pub fn open(&mut self, service: usize) -> Result<u32, CarrierError> {
        let base = self.relays.len() as u32 + 1;
        if !self.exits.contains_key(&service) {
            let h = hop(base + service as u32, &mut self.rng);
            self.exits.insert(service, h);
        }
        let n = self.relays.len();
        let a = crate::rng::index(&mut self.rng, n);
        let b = (a + 1 + crate::rng::index(&mut self.rng, n - 1)) % n;
        let exit = self.exits.get(&service).map(|h| h.spec);
        let path = vec![
            self.relays[a].spec,
            self.relays[b].spec,
            exit.ok_or(CarrierError::Lost("no exit"))?,
        ];
        let circuit = self.client.build(self.now, path)?;
        self.circuits += 1;
        self.pump()?;
        if !self.client.is_ready(circuit) {
            return Err(CarrierError::Lost("circuit not built"));
        }
        Ok(circuit)
    }

    /// Sends `data` to the exit of `circuit` (owned by `service`); returns
    /// the exit's session and the bytes it received.
    pub fn forward(
        &mut self,
        circuit: u32,
        service: usize,
        data: &[u8],
    ) -> Result<(u32, Vec<u8>), CarrierError> {
        self.client.send(self.now, circuit, data)?;
        self.pump()?;
        self.exits
            .get_mut(&service)
            .and_then(|h| h.delivered.pop_front())
            .ok_or(CarrierError::Lost("request not delivered"))
    }

    /// Sends `data` back from `service`'s exit on `session`; returns what the
    /// client received.
    pub fn reply(
        &mut self,
        service: usize,
        session: u32,
        data: &[u8],
    ) -> Result<Vec<u8>, CarrierError> {
        let now = self.now;
        self.exits
            .get_mut(&service)
            .ok_or(CarrierError::Lost("no exit"))?
            .relay
            .reply(now, session, data)?;
        self.pump()?;
        self.replies
            .pop_front()
            .map(|(_, m)| m)
            .ok_or(CarrierError::Lost("reply not delivered"))
    }

    /// Tears `circuit` down.
    pub fn close(&mut self, circuit: u32) -> Result<(), CarrierError> {
        self.client.destroy(circuit);
        self.pump()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_cross_a_three_hop_circuit_both_ways() {
        let mut c = OnionCarrier::new(4, ChaCha20Rng::seed_from_u64(9));
        let circ = c.open(3).unwrap();
        let (session, got) = c.forward(circ, 3, b"request with proofs").unwrap();
        assert_eq!(got, b"request with proofs");
        let back = c.reply(3, session, &[7u8; 3000]).unwrap();
        assert_eq!(back, vec![7u8; 3000]);
        // Handshakes and data: several fixed-size cells per hop.
        assert!(c.cells >= 3 * 3, "{}", c.cells);
        c.close(circ).unwrap();
        // Another service gets its own exit.
        let circ = c.open(4).unwrap();
        let (_, got) = c.forward(circ, 4, b"x").unwrap();
        assert_eq!(got, b"x");
        assert_eq!(c.circuits, 2);
    }
}
