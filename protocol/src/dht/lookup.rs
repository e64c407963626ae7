//! Iterative lookups as sans-IO state machines (whitepaper "Peer Discovery
//! (DHT)": query the α nearest known peers, merge the closer peers returned,
//! repeat until the k closest have answered).
//!
//! With `paths = d > 1` the lookup is an S/Kademlia disjoint lookup: the
//! initial contacts are dealt round-robin into d paths, each path runs its
//! own α-parallel lookup, and no node is queried by two paths, so one
//! adversary cannot steer every path. The result merges all paths.
//!
//! The lookup only decides whom to ask; the DHT engine sends, times out and
//! feeds results back. Given the same inputs it asks the same peers in the
//! same order: contacts are ordered by distance, ties by id.

use std::collections::HashSet;
use std::sync::Arc;

use super::advert::Advert;
use super::id::{Key, distance};
use super::table::Contact;
use crate::identity::NodeId;

/// Lookup shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupParams {
    /// Result size (and the convergence set per path).
    pub k: usize,
    /// Queries in flight per path.
    pub alpha: usize,
    /// Disjoint paths (1 = plain Kademlia).
    pub paths: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Fresh,
    InFlight,
    Responded,
    Failed,
}

#[derive(Clone, Debug)]
struct Cand {
    contact: Contact,
    dist: Key,
    state: State,
    depth: u32,
}

#[derive(Clone, Debug, Default)]
struct Path {
    cands: Vec<Cand>,
}

impl Path {
    fn insert(&mut self, c: Cand) {
        let pos = self
            .cands
            .binary_search_by(|x| (x.dist, x.contact.id.0).cmp(&(c.dist, c.contact.id.0)))
            .unwrap_or_else(|p| p);
        self.cands.insert(pos, c);
    }

    /// The first `k` candidates that have not failed.
    fn frontier(&self, k: usize) -> impl Iterator<Item = &Cand> {
        self.cands
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(k)
    }

    fn in_flight(&self) -> usize {
        self.cands
            .iter()
            .filter(|c| c.state == State::InFlight)
            .count()
    }

    /// Converged: the k closest candidates that did not fail have all
    /// answered (queries still out to farther candidates do not matter).
    fn finished(&self, k: usize) -> bool {
        self.frontier(k).all(|c| c.state == State::Responded)
    }
}

/// What a finished lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupOutcome {
    /// The k closest contacts that answered, closest first.
    pub closest: Vec<Contact>,
    /// Adverts found (FIND_VALUE), as shared copies (issue 21).
    pub adverts: Vec<Arc<Advert>>,
    /// Sequential query rounds needed to reach the closest contacts.
    pub hops: u32,
    /// Queries sent.
    pub queried: usize,
}

/// One lookup's state.
#[derive(Clone, Debug)]
pub struct Lookup {
    target: Key,
    params: LookupParams,
    paths: Vec<Path>,
    seen: HashSet<NodeId>,
    adverts: Vec<Arc<Advert>>,
    queried: usize,
}

impl Lookup {
    /// A lookup for `target`, seeded with `initial` (our closest known
    /// contacts). It runs until every path converged on its k closest, also
    /// for FIND_VALUE: an advert key holds many adverts (every relay of a
    /// shard), each stored by its publisher on the k closest nodes that
    /// publisher found, so one holder's answer can be incomplete; the
    /// lookup returns the union of everything its k closest hold.
    pub fn new(target: Key, params: LookupParams, initial: &[Contact]) -> Self {
        let paths = params.paths.max(1);
        let mut l = Lookup {
            target,
            params: LookupParams { paths, ..params },
            paths: vec![Path::default(); paths],
            seen: HashSet::new(),
            adverts: Vec::new(),
            queried: 0,
        };
        let mut sorted: Vec<Contact> = initial.to_vec();
        sorted.sort_by_key(|c| (distance(&target, &c.id.0), c.id.0));
        for (i, c) in sorted.into_iter().enumerate() {
            l.add(i % paths, c, 1);
        }
        l
    }

    fn add(&mut self, path: usize, c: Contact, depth: u32) {
        if self.seen.insert(c.id) {
            let dist = distance(&self.target, &c.id.0);
            self.paths[path].insert(Cand {
                contact: c,
                dist,
                state: State::Fresh,
                depth,
            });
        }
    }

    /// The target.
    pub fn target(&self) -> &Key {
        &self.target
    }

    /// Contacts to ask now, with their path; each is marked in flight.
    pub fn next_queries(&mut self) -> Vec<(usize, Contact)> {
        if self.is_finished() {
            return Vec::new();
        }
        let (k, alpha) = (self.params.k, self.params.alpha);
        let mut out = Vec::new();
        for (p, path) in self.paths.iter_mut().enumerate() {
            let mut room = alpha.saturating_sub(path.in_flight());
            let fresh: Vec<usize> = path
                .cands
                .iter()
                .enumerate()
                .filter(|(_, c)| c.state != State::Failed)
                .take(k)
                .filter(|(_, c)| c.state == State::Fresh)
                .map(|(i, _)| i)
                .collect();
            for i in fresh {
                if room == 0 {
                    break;
                }
                path.cands[i].state = State::InFlight;
                out.push((p, path.cands[i].contact));
                room -= 1;
                self.queried += 1;
            }
        }
        out
    }

    fn find(&mut self, id: &NodeId) -> Option<(usize, usize)> {
        for (p, path) in self.paths.iter().enumerate() {
            if let Some(i) = path.cands.iter().position(|c| c.contact.id == *id) {
                return Some((p, i));
            }
        }
        None
    }

    /// Whether this lookup already holds exactly `a` (validated when it was
    /// first received, so a replica's identical copy need not be checked again).
    pub fn holds(&self, a: &Advert) -> bool {
        self.adverts.iter().any(|o| **o == *a)
    }

    /// `from` answered with closer `contacts` (and, for FIND_VALUE, adverts).
    pub fn on_response(&mut self, from: &NodeId, contacts: &[Contact], adverts: Vec<Arc<Advert>>) {
        let Some((p, i)) = self.find(from) else {
            return;
        };
        let depth = self.paths[p].cands[i].depth;
        self.paths[p].cands[i].state = State::Responded;
        for c in contacts {
            self.add(p, *c, depth + 1);
        }
        for a in adverts {
            match self.adverts.iter_mut().find(|o| o.same_advertiser(&a)) {
                Some(o) if a.expiry > o.expiry => *o = a,
                Some(_) => {}
                None => self.adverts.push(a),
            }
        }
    }

    /// `from` failed to answer (timeout, bad proof, malformed answer).
    pub fn on_failure(&mut self, from: &NodeId) {
        if let Some((p, i)) = self.find(from) {
            self.paths[p].cands[i].state = State::Failed;
        }
    }

    /// True once every path has converged.
    pub fn is_finished(&self) -> bool {
        self.paths.iter().all(|p| p.finished(self.params.k))
    }

    /// Where a store goes: the k closest that answered, and with d > 1
    /// paths also each path's own k closest that answered, so that an
    /// advert is replicated where every path of a later lookup converges
    /// (d·k nodes at most): Sybils must then own every path's
    /// neighbourhood, not only the k closest ids.
    pub fn replicas(&self) -> Vec<Contact> {
        let mut out = self.outcome().closest;
        if self.paths.len() > 1 {
            for path in &self.paths {
                for c in path.frontier(self.params.k) {
                    if c.state == State::Responded && !out.contains(&c.contact) {
                        out.push(c.contact);
                    }
                }
            }
        }
        out
    }

    /// The outcome so far.
    pub fn outcome(&self) -> LookupOutcome {
        let mut responded: Vec<&Cand> = self
            .paths
            .iter()
            .flat_map(|p| p.cands.iter())
            .filter(|c| c.state == State::Responded)
            .collect();
        responded.sort_by_key(|c| (c.dist, c.contact.id.0));
        responded.truncate(self.params.k);
        LookupOutcome {
            hops: responded.iter().map(|c| c.depth).max().unwrap_or(0),
            closest: responded.iter().map(|c| c.contact).collect(),
            adverts: self.adverts.clone(),
            queried: self.queried,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn c(b: u8) -> Contact {
        let mut id = [0u8; 32];
        id[0] = b;
        Contact {
            id: NodeId(id),
            addr: SocketAddr::from(([10, 0, 0, b], 1)),
        }
    }

    #[test]
    fn converges_on_the_closest_and_respects_alpha() {
        let params = LookupParams {
            k: 2,
            alpha: 2,
            paths: 1,
        };
        let target = [0u8; 32];
        let mut l = Lookup::new(target, params, &[c(200), c(100), c(150)]);
        let q = l.next_queries();
        assert_eq!(
            q.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![c(100), c(150)]
        );
        assert!(l.next_queries().is_empty(), "alpha in flight");
        l.on_response(&c(100).id, &[c(5), c(9)], vec![]);
        let q = l.next_queries();
        assert_eq!(q.iter().map(|x| x.1).collect::<Vec<_>>(), vec![c(5)]);
        l.on_failure(&c(150).id);
        let q = l.next_queries();
        assert_eq!(q.iter().map(|x| x.1).collect::<Vec<_>>(), vec![c(9)]);
        l.on_response(&c(5).id, &[], vec![]);
        l.on_response(&c(9).id, &[], vec![]);
        assert!(l.is_finished());
        let out = l.outcome();
        assert_eq!(out.closest, vec![c(5), c(9)]);
        assert_eq!(out.hops, 2);
        assert_eq!(out.queried, 4);
    }

    #[test]
    fn disjoint_paths_never_share_a_node() {
        let params = LookupParams {
            k: 3,
            alpha: 1,
            paths: 2,
        };
        let mut l = Lookup::new([0u8; 32], params, &[c(10), c(20), c(30), c(40)]);
        let q = l.next_queries();
        assert_eq!(q.len(), 2);
        assert_ne!(q[0].0, q[1].0);
        // Path 0 learns of c(30), which path 1 already owns: it is not re-added.
        l.on_response(&q[0].1.id, &[c(30), c(1)], vec![]);
        let again = l.next_queries();
        assert!(again.iter().all(|(_, x)| *x != q[0].1));
        let asked: Vec<Contact> = again.iter().map(|x| x.1).collect();
        assert!(asked.contains(&c(1)));
    }

    #[test]
    fn stores_reach_every_paths_own_closest() {
        let run = |paths| {
            let params = LookupParams {
                k: 1,
                alpha: 1,
                paths,
            };
            let mut l = Lookup::new([0u8; 32], params, &[c(1), c(2)]);
            while !l.is_finished() {
                for (_, q) in l.next_queries() {
                    l.on_response(&q.id, &[], vec![]);
                }
            }
            (l.outcome().closest, l.replicas())
        };
        let (closest, replicas) = run(1);
        assert_eq!((closest.clone(), replicas), (vec![c(1)], vec![c(1)]));
        // Two paths: c(2) is the second path's closest, so it is a replica too.
        let (closest2, replicas2) = run(2);
        assert_eq!(closest2, closest);
        assert_eq!(replicas2, vec![c(1), c(2)]);
    }
}
