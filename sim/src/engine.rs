//! The engine (ARCHITECTURE.md, "The engine is thin"): the hosts' event
//! queue, the hosts and their access links, datagram delivery and node
//! timers. It makes no protocol decision: it hands nodes their datagrams
//! and timeouts, carries what they send after the modelled delay, and gives
//! the world the events they report. Traffic taps (passive observers) and
//! the NAT filter sit on its delivery path; everything that drives nodes
//! (workload, Lightning, churn) lives outside it.
//!
//! A host's work runs through a [`Station`]: the host, what every host
//! reads ([`Fabric`]) and an [`Outbox`] for everything that leaves it.
//! Outboxes are applied in a fixed order, so the hosts of one window can run
//! on any number of threads ([`crate::window`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::identity::NodeId;
use peer2prompt::node::{Node, NodeEvent};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;

use crate::adversary::observer::{Observer, Sighting};
use crate::calendar::Calendar;
use crate::checks::Violation;
use crate::network::{Attachment, LinkModel};
use crate::population::Slot;

pub use crate::window::Report;

/// Bits of a tie below its source: a host's sequence, or the world's.
const SEQUENCE_BITS: u32 = 40;

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
    /// Host events it has caused so far: the tie-break of the next one.
    caused: u64,
}

impl Host {
    /// The tie of the next event host `i` causes: (source host, source
    /// sequence), which orders events at one instant the same way whatever
    /// the window or thread that produced them. Sources count from 1: ties
    /// below `1 << SEQUENCE_BITS` are the world's calls ([`Engine::call`]),
    /// which run first at their instant.
    fn next_tie(&mut self, i: u32) -> u64 {
        self.caused += 1;
        assert!(
            self.caused < 1 << SEQUENCE_BITS,
            "host {i} caused 2^40 events"
        );
        assert!(i < (1 << 23), "host indices fit in 23 bits");
        ((u64::from(i) + 1) << SEQUENCE_BITS) | self.caused
    }

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
            caused: 0,
        }
    }
}

/// What happens to one host at a point in virtual time: what parallel
/// windows run (everything else is the world's, [`crate::world`]).
#[derive(Debug)]
pub enum HostEvent {
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
    /// The world's call on one node, scheduled ahead ([`Engine::call`]).
    Call(u32, HostCall),
}

impl HostEvent {
    /// The host it happens to.
    pub fn host(&self) -> u32 {
        match self {
            HostEvent::Deliver { to, .. } => *to,
            HostEvent::Timer(i, _) | HostEvent::Call(i, _) => *i,
        }
    }
}

/// What the world asks of one node at a time it fixed in advance, with
/// nothing of the world's state at that time: such a call runs inside a
/// window, on the host's thread, in the host's own event order (first at
/// its instant), instead of cutting the window short. The world's
/// warm-up ([`crate::world`]) is made of them.
#[derive(Clone, Debug)]
pub enum HostCall {
    /// Join the DHT through these seed lists.
    Bootstrap(Arc<[Vec<SocketAddr>]>),
    /// Refresh the directory.
    RefreshDirectory,
    /// Fund the wallet with this many sat.
    Fund(u64),
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

impl Traffic {
    fn add(&mut self, o: Traffic) {
        self.delivered += o.delivered;
        self.lost += o.lost;
        self.bytes_sent += o.bytes_sent;
    }
}

/// What every host reads and none writes: addresses, where hosts sit, the
/// delay model and the observers' vantage points.
pub struct Fabric {
    addrs: Vec<SocketAddr>,
    asns: Vec<u32>,
    /// Each host's attachment as built (only its region and access latency
    /// are read, for the receiving end of a delay).
    reach: Vec<Attachment>,
    by_addr: HashMap<SocketAddr, u32>,
    by_id: HashMap<NodeId, u32>,
    link: LinkModel,
    /// The observers' ASes, when there are observers (`Some(None)`: all).
    watched: Option<Option<HashSet<u32>>>,
}

impl Fabric {
    fn watches(&self, asn: u32) -> bool {
        self.watched
            .as_ref()
            .is_some_and(|w| w.as_ref().is_none_or(|s| s.contains(&asn)))
    }

    /// The least delay any datagram can have: half the smallest RTT plus
    /// two of the smallest access latencies (serialization, queueing and
    /// jitter only add). Windows may be no longer ([`crate::window`]).
    pub fn lookahead(&self) -> Duration {
        let rtt = self
            .link
            .rtt_ms
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let access = self.reach.iter().map(|a| a.access_latency).min();
        let access = access.unwrap_or(Duration::ZERO);
        Duration::from_secs_f64(rtt.max(0.0) / 2_000.0) + access + access
    }
}

/// Everything that leaves a host while it runs, applied by the engine in
/// host order ([`Engine::apply`]).
#[derive(Debug, Default)]
pub struct Outbox {
    /// Host events it caused, with their times and ties.
    pub sends: Vec<(Instant, u64, HostEvent)>,
    /// What its node reported, in order, with the instant.
    pub reports: Vec<(Instant, NodeEvent)>,
    /// What the observers saw of its datagrams.
    pub sightings: Vec<Sighting>,
    /// Its datagram counts.
    pub traffic: Traffic,
    /// Peer input its node refused, by (layer, kind).
    pub peer_errors: Vec<(&'static str, &'static str)>,
    /// Its node's timer made no progress.
    pub stalled: Option<Violation>,
}

/// One host at work: host `i`, what all hosts read, and where its output
/// goes.
pub struct Station<'a> {
    /// Its index.
    pub i: u32,
    /// The host.
    pub host: &'a mut Host,
    /// What all hosts read.
    pub fabric: &'a Fabric,
    /// Its output.
    pub out: &'a mut Outbox,
}

impl Station<'_> {
    /// Hands a datagram from `from` to the node; false when it never
    /// reached it (offline, or NAT filtered it). Refusals are counted.
    pub fn deliver(&mut self, at: Instant, from: u32, bytes: &[u8]) -> bool {
        let f = self.fabric;
        let from_addr = f.addrs[from as usize];
        let h = &mut *self.host;
        let filtered = h
            .nat
            .as_ref()
            .is_some_and(|seen| !seen.contains(&from_addr));
        if !h.online || filtered {
            self.out.traffic.lost += 1;
            return false;
        }
        self.out.traffic.delivered += 1;
        if f.watches(h.asn) && !f.watches(f.asns[from as usize]) {
            self.out.sightings.push(Sighting {
                at_ns: at.as_nanos(),
                size: bytes.len() as u32,
                src: from_addr,
                dst: f.addrs[self.i as usize],
            });
        }
        // Peer input never panics; refusals are typed errors, counted here.
        if let Err(e) = h.node.handle(at, from_addr, bytes) {
            self.out.peer_errors.push(e.kind());
        }
        true
    }

    /// Fires the node's timer for `deadline`, unless it is stale or the
    /// node is offline; true when the node ran.
    pub fn timer(&mut self, at: Instant, deadline: Instant) -> bool {
        let h = &mut *self.host;
        if h.armed != Some(deadline) {
            return false;
        }
        h.armed = None;
        if !h.online {
            return false;
        }
        h.node.handle_timeout(at);
        true
    }

    /// Makes the world's `call` on the node; true when the node took it
    /// (and has output to collect).
    pub fn call(&mut self, at: Instant, call: HostCall) -> bool {
        let node = &mut self.host.node;
        match call {
            HostCall::Bootstrap(seeds) => node.bootstrap(at, &seeds),
            HostCall::RefreshDirectory => node.refresh_directory(at),
            HostCall::Fund(sat) => return node.fund(at, sat).is_ok(),
        }
        true
    }

    /// Sends the node's datagrams after the modelled delay, takes its
    /// reports, and re-arms its timer.
    pub fn collect(&mut self, now: Instant) {
        self.transmit(now);
        while let Some(e) = self.host.node.poll_event() {
            self.out.reports.push((now, e));
        }
        self.rearm(now);
    }

    fn transmit(&mut self, now: Instant) {
        let f = self.fabric;
        let i = self.i;
        while let Some(t) = self.host.node.poll_transmit() {
            let Some(&to) = f.by_addr.get(&t.to) else {
                self.out.traffic.lost += 1;
                continue;
            };
            let h = &mut *self.host;
            if let Some(seen) = &mut h.nat {
                seen.insert(t.to);
            }
            self.out.traffic.bytes_sent += t.bytes.len() as u64;
            if f.watches(h.asn) {
                self.out.sightings.push(Sighting {
                    at_ns: now.as_nanos(),
                    size: t.bytes.len() as u32,
                    src: f.addrs[i as usize],
                    dst: t.to,
                });
            }
            let dest = &f.reach[to as usize];
            match f
                .link
                .transmit(now, &mut h.att, dest, t.bytes.len(), &mut h.net_rng)
            {
                Some(at) => {
                    let tie = h.next_tie(i);
                    let ev = HostEvent::Deliver {
                        to,
                        from: i,
                        bytes: t.bytes,
                    };
                    self.out.sends.push((at, tie, ev));
                }
                None => self.out.traffic.lost += 1,
            }
        }
    }

    /// Arms the node's timer for its next deadline (a deadline already
    /// past fires now).
    fn rearm(&mut self, now: Instant) {
        let h = &mut *self.host;
        let next = h.node.poll_timeout();
        if next != h.armed {
            h.armed = next;
            if let Some(t) = next {
                let tie = h.next_tie(self.i);
                self.out
                    .sends
                    .push((t.max(now), tie, HostEvent::Timer(self.i, t)));
            }
        }
    }

    /// Whether the node is due again right now (after its timer fired).
    pub fn due(&self, now: Instant) -> bool {
        self.host.armed.is_some_and(|d| d <= now)
    }
}

/// The hosts' queue, the hosts and delivery.
pub struct Engine {
    /// Pending host events, in buckets one window wide; each is ordered
    /// by (time, source host, source sequence) when it runs.
    pub queue: Calendar<HostEvent>,
    /// Every node with its access link and NAT.
    pub hosts: Vec<Host>,
    /// What every host reads.
    pub fabric: Fabric,
    /// Datagram counts.
    pub traffic: Traffic,
    /// Passive observers on the delivery path, if any.
    pub observer: Option<Observer>,
    /// Peer input the nodes refused, by (layer, kind).
    pub peer_errors: BTreeMap<(&'static str, &'static str), u64>,
    /// A node whose timer made no progress (see [`STALL_LIMIT`]).
    pub stalled: Option<Violation>,
    /// Host events run (including stale timers).
    pub ran: u64,
    /// The latest instant a host event ran at.
    pub latest: Instant,
    /// Calls the world has scheduled: the tie of the next one.
    called: u64,
}

/// How many times in a row a node may fire its timer at one instant and
/// still be due. Chained work re-arms at `now` a handful of times; a node
/// that is due thousands of times without virtual time moving is stuck in
/// a loop that would never let the run end, which is a protocol bug.
pub const STALL_LIMIT: u32 = 1_000;

/// How many times in a row one node's timer fired at one instant and left
/// it still due.
#[derive(Debug, Default)]
pub struct StallWatch {
    last: Option<Instant>,
    run: u32,
}

impl StallWatch {
    /// Counts one firing at `at`; true exactly when the run of still-due
    /// firings at that instant reaches [`STALL_LIMIT`].
    pub fn observe(&mut self, at: Instant, due: bool) -> bool {
        if !due || self.last != Some(at) {
            self.last = Some(at);
            self.run = 0;
        }
        if due {
            self.run += 1;
        }
        self.run == STALL_LIMIT
    }

    /// The violation for node `i` of `slot`.
    pub fn violation(at: Instant, i: u32, slot: &Slot) -> Violation {
        Violation {
            at_ns: at.as_nanos(),
            what: format!(
                "node {i} ({:?} {}) stays due after {STALL_LIMIT} timer firings at one instant: its timer makes no progress",
                slot.kind, slot.nth
            ),
        }
    }
}

impl Engine {
    /// An engine for `hosts` on `link`, whose windows are the lookahead
    /// long, but no longer than `cap`.
    pub fn new(
        hosts: Vec<Host>,
        link: LinkModel,
        observer: Option<Observer>,
        cap: Duration,
    ) -> Self {
        let addrs: Vec<SocketAddr> = hosts.iter().map(|h| h.node.addr()).collect();
        let fabric = Fabric {
            by_addr: (0..).zip(&addrs).map(|(i, a)| (*a, i)).collect(),
            by_id: (0..)
                .zip(&hosts)
                .map(|(i, h)| (h.node.identity().node_id(), i))
                .collect(),
            addrs,
            asns: hosts.iter().map(|h| h.asn).collect(),
            reach: hosts.iter().map(|h| h.att.clone()).collect(),
            link,
            watched: observer.as_ref().map(|o| o.watched().cloned()),
        };
        let window = fabric.lookahead().min(cap);
        assert!(
            window > Duration::ZERO,
            "the topology has a zero-delay path"
        );
        Engine {
            queue: Calendar::new(window),
            hosts,
            fabric,
            traffic: Traffic::default(),
            observer,
            peer_errors: BTreeMap::new(),
            stalled: None,
            ran: 0,
            latest: Instant::ZERO,
            called: 0,
        }
    }

    /// Schedules the world's `call` on host `i` at `at`. Its tie is below
    /// every host-caused tie, so at one instant it runs before the host's
    /// other events, as the world's own events do.
    pub fn call(&mut self, at: Instant, i: u32, call: HostCall) {
        self.called += 1;
        assert!(
            self.called < 1 << SEQUENCE_BITS,
            "the world made 2^40 calls"
        );
        self.queue.push(at, self.called, HostEvent::Call(i, call));
    }

    /// The longest window ([`crate::window`]).
    pub fn window(&self) -> Duration {
        self.queue.width()
    }

    /// Runs windows no longer than `d` (positive, no longer than now), set
    /// before the run starts. The run is the same whatever the window; the
    /// tests show it.
    pub fn shorten_window(&mut self, d: Duration) {
        assert!(
            d > Duration::ZERO && d <= self.window(),
            "windows may only shrink"
        );
        let queue = std::mem::replace(&mut self.queue, Calendar::new(d));
        self.queue.take_all_of(queue);
    }

    /// The host at `addr`.
    pub fn index_of(&self, addr: &SocketAddr) -> Option<u32> {
        self.fabric.by_addr.get(addr).copied()
    }

    /// The host whose node is `id`.
    pub fn index_of_id(&self, id: &NodeId) -> Option<u32> {
        self.fabric.by_id.get(id).copied()
    }

    /// Sends node `i`'s datagrams, re-arms its timer and returns what it
    /// reported, at `now`: for the world's own events, which run with
    /// every host at `now`.
    pub fn collect(&mut self, now: Instant, i: u32) -> Vec<NodeEvent> {
        let mut out = Outbox::default();
        Station {
            i,
            host: &mut self.hosts[i as usize],
            fabric: &self.fabric,
            out: &mut out,
        }
        .collect(now);
        let reports = std::mem::take(&mut out.reports);
        self.apply(out);
        reports.into_iter().map(|(_, e)| e).collect()
    }

    /// Applies one host's outbox except its reports: its events join the
    /// queue, the observers see its sightings, and its counts are added.
    pub fn apply(&mut self, out: Outbox) {
        for (at, tie, ev) in out.sends {
            self.queue.push(at, tie, ev);
        }
        if let Some(o) = &mut self.observer {
            for s in out.sightings {
                o.see(s);
            }
        }
        self.traffic.add(out.traffic);
        for k in out.peer_errors {
            *self.peer_errors.entry(k).or_default() += 1;
        }
        if self.stalled.is_none() {
            self.stalled = out.stalled;
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
            .filter(|_| w.observe(t, true))
            .collect();
        assert_eq!(hits.len(), 1, "reported once, when the limit is reached");
    }

    #[test]
    fn progress_resets_the_count() {
        let mut w = StallWatch::default();
        for k in 0..3 * STALL_LIMIT {
            // Time moves, or the node stops being due.
            let (at, due) = match k % 2 {
                0 => (Instant::from_nanos(u64::from(k)), true),
                _ => (Instant::from_nanos(7), false),
            };
            assert!(!w.observe(at, due), "firing {k} is progress");
        }
    }
}
