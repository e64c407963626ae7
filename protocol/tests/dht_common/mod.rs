//! An in-process network of DHT nodes on the virtual clock of `vnet`.
//! Shared by the DHT tests and the `dht` bench (included by path; the
//! includer declares `vnet` beside it).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::dht::lookup::LookupOutcome;
use peer2prompt::dht::{
    AdvertPolicy, Contact, Dht, DhtConfig, DhtError, DhtEvent, DhtObservation, LookupId,
};
use peer2prompt::identity::{EpochClock, Identity, IdentityParams};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::vnet::{Step, VirtualNet};

pub const PARAMS: IdentityParams = IdentityParams {
    puzzle_c1: 2,
    pow_difficulty: 6,
    fidelity: peer2prompt::fidelity::CryptoFidelity::Full,
};
pub const EPOCH: Duration = Duration::from_secs(3600);

pub fn config() -> DhtConfig {
    DhtConfig {
        policy: AdvertPolicy {
            identity: PARAMS,
            epochs: EpochClock { length: EPOCH },
            grace: Duration::from_secs(300),
        },
        ..DhtConfig::default()
    }
}

pub struct Node {
    pub addr: SocketAddr,
    pub identity: Arc<Identity>,
    pub dht: Dht,
    pub done: HashMap<LookupId, LookupOutcome>,
    pub stored: HashMap<LookupId, usize>,
    pub bootstrapped: bool,
    pub observations: Vec<DhtObservation>,
    pub capabilities: Vec<(peer2prompt::identity::NodeId, Result<Vec<u8>, DhtError>)>,
    pub errors: Vec<DhtError>,
}

pub struct DhtNet {
    pub net: VirtualNet,
    pub nodes: Vec<Node>,
    by_addr: HashMap<SocketAddr, usize>,
    pub messages: u64,
    /// Messages delivered, by kind byte.
    pub kinds: HashMap<u8, u64>,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7000))
}

impl DhtNet {
    /// `n` nodes with fresh identities; `cfg` may be changed per node.
    pub fn new(n: usize, seed: u64, mut cfg: impl FnMut(usize) -> DhtConfig) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let nodes: Vec<Node> = (0..n)
            .map(|i| {
                let identity = Arc::new(Identity::generate_with(&mut rng, PARAMS));
                let a = addr(i + 1);
                let dht = Dht::new(
                    identity.clone(),
                    a,
                    cfg(i),
                    ChaCha20Rng::seed_from_u64(seed.wrapping_mul(1_000_003) + i as u64),
                    ChaCha20Rng::seed_from_u64(seed.wrapping_mul(7_000_001) + i as u64),
                );
                Node {
                    addr: a,
                    identity,
                    dht,
                    done: HashMap::new(),
                    stored: HashMap::new(),
                    bootstrapped: false,
                    observations: Vec::new(),
                    capabilities: Vec::new(),
                    errors: Vec::new(),
                }
            })
            .collect();
        let by_addr = nodes.iter().enumerate().map(|(i, n)| (n.addr, i)).collect();
        DhtNet {
            net: VirtualNet::new(n, Duration::from_millis(30)),
            nodes,
            by_addr,
            messages: 0,
            kinds: HashMap::new(),
        }
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.net.now
    }

    pub fn contact(&self, i: usize) -> Contact {
        self.nodes[i].dht.me()
    }

    /// Collects node `i`'s outputs and re-arms its timer.
    pub fn collect(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].dht.poll_transmit() {
            if let Some(&to) = self.by_addr.get(&t.to) {
                self.net.send(i, to, t.bytes);
            }
        }
        let n = &mut self.nodes[i];
        while let Some(e) = n.dht.poll_event() {
            match e {
                DhtEvent::LookupDone { id, outcome } => {
                    n.done.insert(id, outcome);
                }
                DhtEvent::Stored { id, accepted } => {
                    n.stored.insert(id, accepted);
                }
                DhtEvent::Bootstrapped { .. } => n.bootstrapped = true,
                DhtEvent::Observed(o) => n.observations.push(o),
                DhtEvent::Capabilities { node, result } => n.capabilities.push((node, result)),
            }
        }
        let t = n.dht.poll_timeout();
        self.net.arm(i, t);
    }

    /// Runs until nothing is in flight and no timer is due before `now + horizon`.
    pub fn run(&mut self, horizon: Duration) {
        self.run_until(horizon, |_| false);
    }

    /// As [`DhtNet::run`], stopping early once `done` holds.
    pub fn run_until(&mut self, horizon: Duration, done: impl Fn(&DhtNet) -> bool) {
        let end = self.net.now + horizon;
        while !done(self) {
            match self.net.next(end) {
                Some(Step::Deliver {
                    at,
                    from,
                    to,
                    bytes,
                }) => {
                    self.messages += 1;
                    *self
                        .kinds
                        .entry(bytes.get(1).copied().unwrap_or(0))
                        .or_default() += 1;
                    let from_addr = self.nodes[from].addr;
                    if let Err(e) = self.nodes[to].dht.handle(at, from_addr, &bytes) {
                        self.nodes[to].errors.push(e);
                    }
                    self.collect(to);
                }
                Some(Step::Timeout { at, node }) => {
                    self.nodes[node].dht.handle_timeout(at);
                    self.collect(node);
                }
                None => break,
            }
        }
    }

    /// Bootstraps `joiners`, each from three independent seed lists drawn
    /// from `members`.
    pub fn join(&mut self, joiners: &[usize], members: &[usize], rng: &mut ChaCha20Rng) {
        for &j in joiners {
            let lists: Vec<Vec<SocketAddr>> = (0..3)
                .map(|_| {
                    (0..4)
                        .map(|_| members[(rng.next_u64() % members.len() as u64) as usize])
                        .filter(|m| *m != j)
                        .map(|m| self.nodes[m].addr)
                        .collect()
                })
                .collect();
            let now = self.net.now;
            self.nodes[j].dht.bootstrap(now, &lists);
            self.collect(j);
        }
        self.run(Duration::from_secs(60));
    }

    /// Builds a network of all nodes: a founding group, then waves of joiners.
    pub fn build(&mut self, seed: u64) {
        self.build_first(self.nodes.len(), seed);
    }

    /// As [`DhtNet::build`] with only the first `n` nodes.
    pub fn build_first(&mut self, n: usize, seed: u64) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0xabcdef);
        let founders: Vec<usize> = (0..16.min(n)).collect();
        self.join(&founders, &founders, &mut rng);
        let mut members = founders;
        let mut next = members.len();
        while next < n {
            let wave: Vec<usize> = (next..(next + 100).min(n)).collect();
            self.join(&wave, &members, &mut rng);
            members.extend(&wave);
            next += wave.len();
        }
        // Let refresh settle the tables.
        self.run(Duration::from_secs(2 * 3600 + 10));
    }

    /// Starts a lookup at node `i` and runs it to the end.
    pub fn lookup(
        &mut self,
        i: usize,
        start: impl FnOnce(&mut Dht, Instant) -> Result<LookupId, DhtError>,
    ) -> Option<LookupOutcome> {
        let now = self.net.now;
        let id = start(&mut self.nodes[i].dht, now).ok()?;
        self.collect(i);
        self.run_until(Duration::from_secs(30), |net| {
            net.nodes[i].done.contains_key(&id)
        });
        self.nodes[i].done.remove(&id)
    }

    /// The true `k` closest node ids to `target` among `among`.
    pub fn true_closest(&self, target: &[u8; 32], k: usize, among: &[usize]) -> Vec<[u8; 32]> {
        let mut ids: Vec<[u8; 32]> = among
            .iter()
            .map(|i| self.nodes[*i].identity.node_id().0)
            .collect();
        ids.sort_by_key(|id| peer2prompt::dht::id::distance(target, id));
        ids.truncate(k);
        ids
    }
}
