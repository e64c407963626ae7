//! The engine (ARCHITECTURE.md, "The engine is thin"): the event queue, the
//! hosts and their access links, datagram delivery and node timers. It
//! makes no protocol decision: it hands nodes their datagrams and timeouts,
//! carries what they send after the modelled delay, and gives the world the
//! events they report. Traffic taps (passive observers) and the NAT filter
//! sit on its delivery path; everything that drives nodes (workload,
//! Lightning, churn) lives outside it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use peer2prompt::identity::NodeId;
use peer2prompt::node::{Node, NodeEvent};
use peer2prompt::time::Instant;
use rand_chacha::ChaCha20Rng;

use crate::adversary::observer::{Observer, Sighting};
use crate::checks::Violation;
use crate::network::{Attachment, LinkModel};
use crate::population::Slot;
use crate::queue::EventQueue;

/// One simulated machine.
pub struct Host {
    /// Its plan.
    pub slot: Slot,
    /// The protocol node.
    pub node: Node,
    /// Its access link.
    pub att: Attachment,
    /// Its autonomous system.
    pub asn: u32,
    /// Per-datagram randomness of its sends (jitter, loss).
    pub net_rng: ChaCha20Rng,
    /// The deadline its timer is armed for.
    armed: Option<Instant>,
    /// Online (churn).
    pub online: bool,
    /// Behind NAT: the peers it has sent to (only they get through).
    pub nat: Option<HashSet<SocketAddr>>,
}

impl Host {
    /// A host for `node`, online, with no timer armed.
    pub fn new(
        slot: Slot,
        node: Node,
        att: Attachment,
        asn: u32,
        net_rng: ChaCha20Rng,
        nat: bool,
    ) -> Self {
        Host {
            slot,
            node,
            att,
            asn,
            net_rng,
            armed: None,
            online: true,
            nat: nat.then(HashSet::new),
        }
    }
}

/// What happens at a point in virtual time.
#[derive(Debug)]
pub enum Event {
    /// A datagram arrives.
    Deliver {
        /// Host index of the receiver.
        to: u32,
        /// Host index of the sender.
        from: u32,
        /// The datagram as sent.
        bytes: Vec<u8>,
    },
    /// A node's timer: the node and the deadline it asked for (stale when
    /// the node has asked for another since).
    Timer(u32, Instant),
    /// A node joins the DHT.
    Bootstrap(u32),
    /// A node refreshes its directory.
    Directory(u32),
    /// A client funds its wallet.
    Fund(u32),
    /// A conversation arrives at a client.
    Arrival(u32),
    /// A client's next turn.
    NextTurn(u32),
    /// A client starts its next waiting conversation.
    Start(u32),
    /// A relay flips between online and offline.
    Flip(u32),
    /// A scheduled churn step.
    ChurnStep(usize),
    /// The online invariant checks run.
    Check,
    /// A mint goes down (`false`) or comes back (`true`): an injected fault.
    MintAvailable(u32, bool),
    /// A selective-DoS verdict falls due at an adversarial hop.
    Verdict(crate::adversary::selective_dos::Pending),
}

/// Datagram counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Datagrams delivered to a node.
    pub delivered: u64,
    /// Lost (loss, offline receivers, NAT, unknown addresses).
    pub lost: u64,
    /// Bytes sent (every datagram, lost or not): the bandwidth cost.
    pub bytes_sent: u64,
}

/// The queue, the hosts and delivery.
pub struct Engine {
    /// Pending events in virtual-time order.
    pub queue: EventQueue<Event>,
    /// Every node with its access link and NAT.
    pub hosts: Vec<Host>,
    by_addr: HashMap<SocketAddr, u32>,
    by_id: HashMap<NodeId, u32>,
    link: LinkModel,
    /// Datagram counts.
    pub traffic: Traffic,
    /// Passive observers on the delivery path, if any.
    pub observer: Option<Observer>,
    /// Peer input the nodes refused, by (layer, kind).
    pub peer_errors: BTreeMap<(&'static str, &'static str), u64>,
    /// Timer firings that left their node still due.
    streak: StallWatch,
    /// The node whose timer fired last and is not yet re-armed: its next
    /// deadline (read once, in [`Engine::rearm`]) feeds the stall count.
    fired: Option<u32>,
    /// A node whose timer made no progress (see [`STALL_LIMIT`]).
    pub stalled: Option<Violation>,
}

/// How many times in a row a node may fire its timer at one instant and
/// still be due. Chained work re-arms at `now` a handful of times; a node
/// that is due thousands of times without virtual time moving is stuck in
/// a loop that would never let the run end, which is a protocol bug.
pub const STALL_LIMIT: u32 = 1_000;

/// The node whose timer fired last, at what instant, and how many times
/// in a row it was still due right after firing.
#[derive(Debug, Default)]
struct StallWatch {
    last: Option<(u32, Instant)>,
    run: u32,
}

impl StallWatch {
    /// Counts one firing of node `i` at `at`; true exactly when the run
    /// of still-due firings at that instant reaches [`STALL_LIMIT`].
    fn observe(&mut self, i: u32, at: Instant, due: bool) -> bool {
        if !due || self.last != Some((i, at)) {
            self.last = Some((i, at));
            self.run = 0;
        }
        if due {
            self.run += 1;
        }
        self.run == STALL_LIMIT
    }
}

impl Engine {
    /// An engine for `hosts` on `link`.
    pub fn new(hosts: Vec<Host>, link: LinkModel, observer: Option<Observer>) -> Self {
        let by_addr = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.node.addr(), i as u32))
            .collect();
        let by_id = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.node.identity().node_id(), i as u32))
            .collect();
        Engine {
            queue: EventQueue::new(),
            hosts,
            by_addr,
            by_id,
            link,
            traffic: Traffic::default(),
            observer,
            peer_errors: BTreeMap::new(),
            streak: StallWatch::default(),
            fired: None,
            stalled: None,
        }
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.queue.now()
    }

    /// The host at `addr`.
    pub fn index_of(&self, addr: &SocketAddr) -> Option<u32> {
        self.by_addr.get(addr).copied()
    }

    /// The host whose node is `id`.
    pub fn index_of_id(&self, id: &NodeId) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Hands a datagram to `to`; false when it never reached the node
    /// (offline, or NAT filtered it). Refusals are counted by kind.
    pub fn deliver(&mut self, at: Instant, to: u32, from: u32, bytes: &[u8]) -> bool {
        let from_addr = self.hosts[from as usize].node.addr();
        let h = &self.hosts[to as usize];
        let filtered = h
            .nat
            .as_ref()
            .is_some_and(|seen| !seen.contains(&from_addr));
        if !h.online || filtered {
            self.traffic.lost += 1;
            return false;
        }
        self.traffic.delivered += 1;
        if let Some(o) = &mut self.observer
            && o.watches(h.asn)
            && !o.watches(self.hosts[from as usize].asn)
        {
            o.see(Sighting {
                at_ns: at.as_nanos(),
                size: bytes.len() as u32,
                src: from_addr,
                dst: h.node.addr(),
            });
        }
        // Peer input never panics; refusals are typed errors, counted here.
        if let Err(e) = self.hosts[to as usize].node.handle(at, from_addr, bytes) {
            *self.peer_errors.entry(e.kind()).or_default() += 1;
        }
        true
    }

    /// Fires node `i`'s timer for `deadline`, unless it is stale or the
    /// node is offline; true when the node ran.
    pub fn timer(&mut self, at: Instant, i: u32, deadline: Instant) -> bool {
        let h = &mut self.hosts[i as usize];
        if h.armed != Some(deadline) {
            return false;
        }
        h.armed = None;
        if !h.online {
            return false;
        }
        h.node.handle_timeout(at);
        self.fired = Some(i);
        true
    }

    /// Records whether node `i` is still due right after its timer fired.
    fn count_streak(&mut self, at: Instant, i: u32, due: bool) {
        if self.streak.observe(i, at, due) && self.stalled.is_none() {
            let slot = &self.hosts[i as usize].slot;
            self.stalled = Some(Violation {
                at_ns: at.as_nanos(),
                what: format!(
                    "node {i} ({:?} {}) stays due after {STALL_LIMIT} timer firings at one instant: its timer makes no progress",
                    slot.kind, slot.nth
                ),
            });
        }
    }

    /// Sends node `i`'s datagrams after the modelled delay and returns the
    /// events it reported, in order.
    pub fn flush(&mut self, i: u32) -> Vec<NodeEvent> {
        let now = self.now();
        let iu = i as usize;
        while let Some(t) = self.hosts[iu].node.poll_transmit() {
            let Some(&to) = self.by_addr.get(&t.to) else {
                self.traffic.lost += 1;
                continue;
            };
            if let Some(seen) = &mut self.hosts[iu].nat {
                seen.insert(t.to);
            }
            let dest = self.hosts[to as usize].att.clone();
            self.traffic.bytes_sent += t.bytes.len() as u64;
            if let Some(o) = &mut self.observer
                && o.watches(self.hosts[iu].asn)
            {
                o.see(Sighting {
                    at_ns: now.as_nanos(),
                    size: t.bytes.len() as u32,
                    src: self.hosts[iu].node.addr(),
                    dst: t.to,
                });
            }
            let h = &mut self.hosts[iu];
            match self
                .link
                .transmit(now, &mut h.att, &dest, t.bytes.len(), &mut h.net_rng)
            {
                Some(at) => self.queue.push(
                    at,
                    Event::Deliver {
                        to,
                        from: i,
                        bytes: t.bytes,
                    },
                ),
                None => self.traffic.lost += 1,
            }
        }
        let mut events = Vec::new();
        while let Some(e) = self.hosts[iu].node.poll_event() {
            events.push(e);
        }
        events
    }

    /// Arms node `i`'s timer for its next deadline (a deadline already
    /// past fires now).
    pub fn rearm(&mut self, i: u32) {
        let now = self.now();
        let next = self.hosts[i as usize].node.poll_timeout();
        if self.fired.take() == Some(i) {
            self.count_streak(now, i, next.is_some_and(|d| d <= now));
        }
        let h = &mut self.hosts[i as usize];
        if next != h.armed {
            h.armed = next;
            if let Some(t) = next {
                self.queue.push(t.max(now), Event::Timer(i, t));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_due_again_and_again_at_one_instant_is_a_stall() {
        let mut w = StallWatch::default();
        let t = Instant::from_nanos(5);
        let hits: Vec<u32> = (1..=STALL_LIMIT + 5)
            .filter(|_| w.observe(3, t, true))
            .collect();
        assert_eq!(hits.len(), 1, "reported once, when the limit is reached");
    }

    #[test]
    fn progress_resets_the_count() {
        let mut w = StallWatch::default();
        for k in 0..3 * STALL_LIMIT {
            // Time moves, another node runs, or the node stops being due.
            let (i, at, due) = match k % 3 {
                0 => (1, Instant::from_nanos(u64::from(k)), true),
                1 => (2, Instant::from_nanos(7), true),
                _ => (1, Instant::from_nanos(7), false),
            };
            assert!(!w.observe(i, at, due), "firing {k} is progress");
        }
    }
}
