//! What a node knows of the network: adverts found in the DHT for the current
//! epoch, by role, turned into route candidates (whitepaper "Route
//! Construction": relays and exits from the DHT).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};

use crate::dht::advert::advert_key;
use crate::dht::id::Key;
use crate::dht::{Advert, Dht, LookupId, Role};
use crate::identity::{Epoch, NodeId};
use crate::onion::route::Candidate;
use crate::time::Instant;

/// Maps an address to its autonomous system. The protocol learns ASNs from
/// observed network data; the simulator supplies its topology's.
pub trait NetworkInfo: Send + Sync {
    /// The ASN of `addr`.
    fn asn(&self, addr: SocketAddr) -> u32;
}

/// Without better data, treat each IPv4 /16 as its own AS.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrefixAsAsn;

impl NetworkInfo for PrefixAsAsn {
    fn asn(&self, addr: SocketAddr) -> u32 {
        match addr.ip() {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                (u32::from(o[0]) << 8) | u32::from(o[1])
            }
            IpAddr::V6(v6) => u32::from_be_bytes(v6.octets()[..4].try_into().unwrap_or([0; 4])),
        }
    }
}

/// Adverts of the current epoch, by role.
#[derive(Debug, Default)]
pub struct Directory {
    epoch: Option<Epoch>,
    pending: HashSet<LookupId>,
    /// Keys of this refresh not yet looked up (with a bound on lookups).
    queued: VecDeque<Key>,
    /// Lookups a refresh runs at once (`None`: every key at once).
    max_lookups: Option<usize>,
    /// The most lookups this refresh ran at once.
    peak_lookups: usize,
    adverts: Vec<Arc<Advert>>,
    /// Position of each (node, role) in `adverts` while a refresh runs;
    /// empty once it is done (`adverts` is then sorted by (role, node)).
    index: Positions,
    suspects: BTreeMap<NodeId, Instant>,
    /// When the last refresh finished.
    pub ready_at: Option<Instant>,
}

impl Directory {
    /// True if a refresh for `epoch` finished.
    pub fn is_ready(&self, epoch: Epoch) -> bool {
        self.epoch == Some(epoch) && !self.is_refreshing() && self.ready_at.is_some()
    }

    /// True while lookups are running or waiting.
    pub fn is_refreshing(&self) -> bool {
        !self.pending.is_empty() || !self.queued.is_empty()
    }

    /// The most lookups the current (or last) refresh ran at once.
    pub fn peak_lookups(&self) -> usize {
        self.peak_lookups
    }

    /// Bounds the lookups a refresh runs at once (`None`: all at once).
    /// Each lookup holds its candidates and α queries in flight, so the
    /// bound caps the DHT state a refresh costs; the refresh takes longer.
    pub fn set_max_lookups(&mut self, max: Option<usize>) {
        self.max_lookups = max.map(|m| m.max(1));
    }

    /// Starts FIND_VALUE lookups in `epoch` for the shards in `reads`: the
    /// relay shards and exit (Ghost and GPU) shards sampled, and every mint
    /// shard.
    pub fn refresh(&mut self, dht: &mut Dht, now: Instant, epoch: Epoch, reads: &ShardReads) {
        if self.epoch != Some(epoch) {
            self.adverts.clear();
        }
        self.index = Positions::default();
        for (i, a) in self.adverts.iter().enumerate() {
            self.index
                .insert(held(&self.adverts), (a.node(), a.role), i);
        }
        self.epoch = Some(epoch);
        self.ready_at = None;
        let mints: Vec<u16> = (0..reads.mints.max(1)).collect();
        self.queued.clear();
        self.peak_lookups = 0;
        for role in [Role::Relay, Role::Ghost, Role::Gpu, Role::Mint] {
            let read = match role {
                Role::Relay => &reads.relays,
                Role::Ghost | Role::Gpu => &reads.exits,
                Role::Mint => &mints,
            };
            for &shard in read {
                self.queued
                    .push_back(advert_key(role.descriptor(), epoch, shard));
            }
        }
        self.start_queued(dht, now);
        if !self.is_refreshing() {
            self.finish(now);
        }
    }

    /// Ends a refresh: the adverts sorted by (role, node), which makes them
    /// their own index.
    fn finish(&mut self, now: Instant) {
        self.adverts.sort_by_cached_key(|a| (a.role, a.node()));
        self.adverts.shrink_to_fit();
        self.index = Positions::default();
        self.ready_at = Some(now);
    }

    /// Starts queued lookups while the bound allows.
    fn start_queued(&mut self, dht: &mut Dht, now: Instant) {
        let room = |d: &Self| d.max_lookups.is_none_or(|m| d.pending.len() < m);
        while room(self) {
            let Some(key) = self.queued.pop_front() else {
                break;
            };
            if let Ok(id) = dht.find_value(now, key) {
                self.pending.insert(id);
            }
        }
        self.peak_lookups = self.peak_lookups.max(self.pending.len());
    }

    /// Feeds a finished lookup (starting a queued one in its place);
    /// returns true when the refresh is complete.
    pub fn on_lookup(
        &mut self,
        id: LookupId,
        adverts: Vec<Arc<Advert>>,
        dht: &mut Dht,
        now: Instant,
    ) -> bool {
        if !self.pending.remove(&id) {
            return false;
        }
        self.start_queued(dht, now);
        for a in adverts {
            let key = (a.node(), a.role);
            match self.index.get(held(&self.adverts), &key) {
                Some(i) => {
                    if a.expiry > self.adverts[i].expiry {
                        self.adverts[i] = a;
                    }
                }
                None => {
                    self.index
                        .insert(held(&self.adverts), key, self.adverts.len());
                    self.adverts.push(a);
                }
            }
        }
        if !self.is_refreshing() {
            self.finish(now);
            return true;
        }
        false
    }

    /// Adverts of `role`, ordered by node id.
    pub fn adverts(&self, role: Role) -> impl Iterator<Item = &Advert> {
        self.adverts
            .iter()
            .map(|a| &**a)
            .filter(move |a| a.role == role)
    }

    /// The advert of `node` in `role`.
    pub fn advert(&self, node: &NodeId, role: Role) -> Option<&Advert> {
        let at = if self.is_refreshing() {
            self.index.get(held(&self.adverts), &(*node, role))
        } else {
            self.adverts
                .binary_search_by_key(&(role, *node), |a| (a.role, a.node()))
                .ok()
        };
        at.and_then(|i| self.adverts.get(i)).map(|a| &**a)
    }

    /// Route candidates of `role`, ASNs from `net`; with `now`, leaving out
    /// nodes suspected at that time.
    pub fn candidates(
        &self,
        role: Role,
        net: &dyn NetworkInfo,
        now: Option<Instant>,
    ) -> Vec<Candidate> {
        self.adverts(role)
            .filter(|a| now.is_none_or(|t| !self.is_suspect(&a.node(), t)))
            .map(|a| candidate(a, net))
            .collect()
    }

    /// Avoids `node` in new routes until `until` (a hop that stalled a
    /// circuit build: dead, or dropping traffic).
    pub fn suspect(&mut self, node: NodeId, until: Instant) {
        let e = self.suspects.entry(node).or_insert(until);
        *e = (*e).max(until);
    }

    /// True if `node` is avoided at `now`.
    pub fn is_suspect(&self, node: &NodeId, now: Instant) -> bool {
        self.suspects.get(node).is_some_and(|t| *t > now)
    }
}

/// Where each (node, role) sits in a refreshing directory's `adverts`: a
/// table of bare positions, hashed and compared through the advert each
/// one points at (about 5 B a slot, against 17 B for a map keyed by 64 bits
/// of the pair and 49 B for one keyed by the whole pair). Each reader
/// indexes every advert it reads while it refreshes, and every reader
/// refreshes at once in the warm-up (issue 21). The hash is keyed per
/// directory, so an adversary that grinds node ids cannot aim them at one
/// probe sequence. Lookups answer exactly as a map keyed by the pair.
#[derive(Debug, Default)]
struct Positions {
    table: hashbrown::HashTable<u32>,
    keys: RandomState,
}

impl Positions {
    fn hash(keys: &RandomState, (node, role): &(NodeId, Role)) -> u64 {
        keys.hash_one((node.0, *role as u8))
    }

    /// The position of `key`, `held(i)` telling what position `i` holds.
    fn get(&self, held: impl Fn(u32) -> (NodeId, Role), key: &(NodeId, Role)) -> Option<usize> {
        self.table
            .find(Self::hash(&self.keys, key), |&i| held(i) == *key)
            .map(|&i| i as usize)
    }

    /// Records `key` (not yet recorded) at position `at`; `held` must
    /// already tell every recorded position (the table rehashes by it).
    fn insert(&mut self, held: impl Fn(u32) -> (NodeId, Role), key: (NodeId, Role), at: usize) {
        let at = u32::try_from(at).expect("a directory holds fewer than 2^32 adverts");
        let keys = &self.keys;
        self.table
            .insert_unique(Self::hash(keys, &key), at, |&i| Self::hash(keys, &held(i)));
    }
}

/// What position `i` of `adverts` holds.
fn held(adverts: &[Arc<Advert>]) -> impl Fn(u32) -> (NodeId, Role) + '_ {
    |i| {
        let a = &adverts[i as usize];
        (a.node(), a.role)
    }
}

/// The shards a refresh reads (whitepaper "Route Construction": relays and
/// an exit service node, Ghost or GPU, chosen from the DHT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardReads {
    /// Relay shards ([`relay_shard_sample`]).
    pub relays: Vec<u16>,
    /// Shards of the Ghost and of the GPU descriptor ([`exit_shard_sample`]).
    pub exits: Vec<u16>,
    /// Mint shards: every one of `0..mints` (a wallet needs its own mint).
    pub mints: u16,
}

/// The relay shards `node` reads in `epoch`: `read` consecutive shards
/// (wrapping) from a start drawn from SHA-256(node id, epoch), or all of them.
/// Adverts land in shards by their node id, so the sample is uniform over
/// relays, and it changes every epoch.
pub fn relay_shard_sample(node: &NodeId, epoch: Epoch, shards: u16, read: Option<u16>) -> Vec<u16> {
    shard_sample(b"peer2prompt relay shard sample", node, epoch, shards, read)
}

/// The Ghost and GPU shards `node` reads in `epoch`, drawn as the relay
/// shards are but from a start of its own (issue 21: at 100,000 nodes every
/// reader holding every exit is readers x exits adverts). With `read` unset,
/// all of them, in order.
pub fn exit_shard_sample(node: &NodeId, epoch: Epoch, shards: u16, read: Option<u16>) -> Vec<u16> {
    match read {
        None => (0..shards.max(1)).collect(),
        Some(_) => shard_sample(b"peer2prompt exit shard sample", node, epoch, shards, read),
    }
}

fn shard_sample(
    domain: &[u8],
    node: &NodeId,
    epoch: Epoch,
    shards: u16,
    read: Option<u16>,
) -> Vec<u16> {
    let shards = shards.max(1);
    let read = read.unwrap_or(shards).clamp(1, shards);
    let mut h = Sha256::new();
    h.update(domain);
    h.update(node.0);
    h.update(epoch.0.to_be_bytes());
    let d = h.finalize();
    let start = u16::from_be_bytes([d[0], d[1]]) % shards;
    (0..read).map(|i| (start + i) % shards).collect()
}

/// A route candidate from an advert.
pub fn candidate(a: &Advert, net: &dyn NetworkInfo) -> Candidate {
    Candidate {
        node: a.node(),
        addr: a.addr,
        asn: net.asn(a.addr),
        family: a.family,
        bandwidth: a.bandwidth,
        onion_key: a.onion.onion_key,
    }
}

/// The name a mint goes by in wallets and quotes: its node id in hex.
pub fn mint_url(node: &NodeId) -> String {
    hex::encode(node.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_answer_exactly_as_a_map_keyed_by_the_pair() {
        // Ids alike but for one byte, each under two roles; enough of them
        // that the table grows (and rehashes through `held`) many times.
        let id = |n: u16| {
            let mut b = [7u8; 32];
            b[..2].copy_from_slice(&n.to_be_bytes());
            NodeId(b)
        };
        let keys: Vec<(NodeId, Role)> = (0..5_000)
            .flat_map(|n| [(id(n), Role::Ghost), (id(n), Role::Gpu)])
            .collect();
        let mut p = Positions::default();
        let held = |i: u32| keys[i as usize];
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(p.get(held, k), None, "{i} is not held yet");
            p.insert(held, *k, i);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(p.get(held, k), Some(i));
        }
        assert_eq!(p.get(held, &(id(5_000), Role::Ghost)), None);
        assert_eq!(p.get(held, &(id(1), Role::Relay)), None);
    }

    #[test]
    fn exit_shard_sample_reads_all_in_order_unless_bounded() {
        let node = NodeId([4; 32]);
        assert_eq!(
            exit_shard_sample(&node, Epoch(2), 5, None),
            vec![0, 1, 2, 3, 4]
        );
        let some = exit_shard_sample(&node, Epoch(2), 120, Some(12));
        assert_eq!(some.len(), 12);
        for w in some.windows(2) {
            assert_eq!(w[1], (w[0] + 1) % 120);
        }
        // Its own start: not the relay sample's run over the same shards.
        let starts: HashSet<(u16, u16)> = (0..20)
            .map(|e| {
                (
                    exit_shard_sample(&node, Epoch(e), 120, Some(12))[0],
                    relay_shard_sample(&node, Epoch(e), 120, Some(12))[0],
                )
            })
            .collect();
        assert!(starts.iter().filter(|(a, b)| a != b).count() > 15);
        assert_eq!(exit_shard_sample(&node, Epoch(2), 4, Some(9)).len(), 4);
    }

    #[test]
    fn relay_shard_sample_is_a_wrapping_run_that_moves_with_the_epoch() {
        let all = relay_shard_sample(&NodeId([1; 32]), Epoch(1), 10, None);
        assert_eq!(all.len(), 10);
        let mut sorted = all;
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<u16>>());
        let some = relay_shard_sample(&NodeId([1; 32]), Epoch(1), 160, Some(16));
        assert_eq!(some.len(), 16);
        for w in some.windows(2) {
            assert_eq!(w[1], (w[0] + 1) % 160);
        }
        assert_eq!(
            some,
            relay_shard_sample(&NodeId([1; 32]), Epoch(1), 160, Some(16))
        );
        // Starts differ across epochs and nodes (160 possible starts).
        let starts: HashSet<u16> = (0..50)
            .map(|e| relay_shard_sample(&NodeId([1; 32]), Epoch(e), 160, Some(16))[0])
            .chain(
                (0..50).map(|n| relay_shard_sample(&NodeId([n; 32]), Epoch(1), 160, Some(16))[0]),
            )
            .collect();
        assert!(starts.len() > 40, "{}", starts.len());
        // Asking for more than exist reads each once.
        assert_eq!(
            relay_shard_sample(&NodeId([2; 32]), Epoch(3), 4, Some(9)).len(),
            4
        );
    }
}
