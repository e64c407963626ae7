//! The virtual clock and wire under the in-process test networks
//! (`dht_common`, `node_common`): datagrams delivered after a fixed latency
//! in a deterministic order, and one timer per node kept in a heap, where a
//! re-armed timer supersedes its older entry, so thousands of nodes stay cheap.
#![allow(dead_code, clippy::unwrap_used)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use peer2prompt::time::{Duration, Instant};

/// What happens next.
pub enum Step {
    /// A datagram from node `from` arrives at node `to`.
    Deliver {
        /// Arrival time (the clock's now).
        at: Instant,
        /// Sender index.
        from: usize,
        /// Receiver index.
        to: usize,
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// Node `node`'s timer fires.
    Timeout {
        /// The clock's now.
        at: Instant,
        /// The node.
        node: usize,
    },
}

/// Clock, wire and timers of an in-process network of `n` nodes.
pub struct VirtualNet {
    pub now: Instant,
    pub latency: Duration,
    /// Nodes that neither send, receive nor run timers.
    pub offline: HashSet<usize>,
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize, usize)>>,
    payloads: HashMap<u64, Vec<u8>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    armed: Vec<Option<Instant>>,
    seq: u64,
}

impl VirtualNet {
    pub fn new(nodes: usize, latency: Duration) -> Self {
        VirtualNet {
            now: Instant::from_nanos(1),
            latency,
            offline: HashSet::new(),
            in_flight: BinaryHeap::new(),
            payloads: HashMap::new(),
            timers: BinaryHeap::new(),
            armed: vec![None; nodes],
            seq: 0,
        }
    }

    /// Puts a datagram on the wire; it arrives one latency from now.
    pub fn send(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        self.seq += 1;
        self.payloads.insert(self.seq, bytes);
        self.in_flight
            .push(Reverse((self.now + self.latency, self.seq, from, to)));
    }

    /// Sets node `node`'s timer (what its `poll_timeout` says).
    pub fn arm(&mut self, node: usize, at: Option<Instant>) {
        if at != self.armed[node] {
            self.armed[node] = at;
            if let Some(t) = at {
                self.timers.push(Reverse((t, node)));
            }
        }
    }

    /// The next step due by `end`, with the clock moved to it. Datagrams to
    /// or from offline nodes are dropped and their timers skipped. `None`
    /// when nothing is due by `end`; the clock then moves to `end`.
    pub fn next(&mut self, end: Instant) -> Option<Step> {
        loop {
            let next_msg = self.in_flight.peek().map(|Reverse((t, ..))| *t);
            let next_timer = self.timers.peek().map(|Reverse((t, _))| (*t).max(self.now));
            match (next_msg, next_timer) {
                (Some(m), t) if t.is_none_or(|t| m <= t) && m <= end => {
                    let Reverse((at, seq, from, to)) = self.in_flight.pop().unwrap();
                    assert!(at >= self.now, "time never moves backwards");
                    self.now = at;
                    let bytes = self.payloads.remove(&seq).unwrap();
                    if self.offline.contains(&to) || self.offline.contains(&from) {
                        continue;
                    }
                    return Some(Step::Deliver {
                        at,
                        from,
                        to,
                        bytes,
                    });
                }
                (_, Some(t)) if t <= end => {
                    let Reverse((at, node)) = self.timers.pop().unwrap();
                    // Entries superseded by a later re-arm are stale.
                    if self.armed[node] != Some(at) || self.offline.contains(&node) {
                        continue;
                    }
                    self.armed[node] = None;
                    self.now = self.now.max(at);
                    return Some(Step::Timeout { at: self.now, node });
                }
                _ => {
                    if end > self.now {
                        self.now = end;
                    }
                    return None;
                }
            }
        }
    }
}
