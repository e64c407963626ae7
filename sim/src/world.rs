//! The engine: protocol nodes on the simulated Internet in virtual time
//! (GUIDE "Architecture invariants"). It delivers transmits after the
//! modelled delay, fires timers, plays Lightning for mints, drives the
//! workload and churn, pools the adversary's observations and checks
//! invariants as the run goes. It makes no protocol decision of its own.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::dht::Role;
use peer2prompt::ecash::{Amount, LightningPayer, LightningPayment, PayerId, PayoutOutcome};
use peer2prompt::identity::NodeId;
use peer2prompt::node::{ClientEvent, MintEvent, Node, NodeEvent, Observation};
use peer2prompt::onion::observe::ObservedNext;
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;

use crate::adversary::observer::{Observer, PublicKnowledge, Sighting, SummaryParams};
use crate::adversary::pool::Pool;
use crate::network::{Attachment, LinkModel};
use crate::population::{self, Kind, Slot};
use crate::queue::EventQueue;
use crate::rng::{self, Purpose, Streams, entity};
use crate::scenario::{ChurnRole, LightningPrivacySpec, ObserverSpec, Scenario, VantageSpec};
use crate::topology::Topology;
use crate::workload::ClientWork;

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
    net_rng: ChaCha20Rng,
    armed: Option<Instant>,
    /// Online (churn).
    pub online: bool,
    /// Behind NAT: the peers it has sent to (only they get through).
    nat: Option<HashSet<SocketAddr>>,
}

/// What happens at a point in virtual time.
#[derive(Debug)]
pub enum Event {
    /// A datagram arrives.
    Deliver {
        /// Receiver.
        to: u32,
        /// Sender.
        from: u32,
        /// Bytes.
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
}

/// A session as the engine records it (ground truth and outcome).
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Opening order.
    pub id: u64,
    /// Client.
    pub client: u32,
    /// Entry relay.
    pub entry: u32,
    /// Last relay (next to the exit).
    pub last: u32,
    /// Relays.
    pub hops: u32,
    /// Exit.
    pub exit: u32,
    /// Exit role.
    pub exit_kind: Kind,
    /// Opened.
    pub started: Instant,
    /// First token of the first turn.
    pub first_token: Option<Instant>,
    /// Last turn done.
    pub completed: Option<Instant>,
    /// Closed (rotation or failure).
    pub closed: Option<Instant>,
    /// Turns done.
    pub turns: u32,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Outcome so far.
    pub outcome: String,
}

/// An invariant broke.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated at {at_ns} ns: {what}")]
pub struct Violation {
    /// When.
    pub at_ns: u64,
    /// What.
    pub what: String,
}

/// The simulated world of one replicate.
pub struct World {
    /// The scenario.
    pub scenario: Scenario,
    streams: Streams,
    /// Events.
    pub queue: EventQueue<Event>,
    /// Machines.
    pub hosts: Vec<Host>,
    by_addr: HashMap<SocketAddr, u32>,
    by_id: HashMap<NodeId, u32>,
    link: LinkModel,
    /// The adversary's pooled observations.
    pub pool: Pool,
    work: HashMap<u32, ClientWork>,
    conversations: u64,
    /// Sessions, in opening order.
    pub sessions: Vec<SessionRow>,
    open: HashMap<u32, usize>,
    last: HashMap<u32, usize>,
    by_session: HashMap<(u32, u64), usize>,
    /// Which session each service-side flow carries (for scoring only).
    pub truth: crate::truth::GroundTruth,
    client_addrs: HashSet<SocketAddr>,
    client_indices: Vec<u32>,
    service_addrs: HashSet<SocketAddr>,
    churn_rng: ChaCha20Rng,
    lightning_rng: ChaCha20Rng,
    /// Sat paid in over Lightning.
    pub funded: u64,
    /// Sat paid out over Lightning.
    pub paid_out: u64,
    /// Start of the measured period.
    pub measure_from: Instant,
    /// End of arrivals.
    pub arrivals_until: Instant,
    /// Datagrams delivered.
    pub delivered: u64,
    /// Datagrams lost.
    pub lost: u64,
    /// Bytes sent (every datagram, lost or not): the bandwidth cost.
    pub bytes_sent: u64,
    /// Passive observers (scenario `adversary.observers`).
    pub observer: Option<Observer>,
    /// Clients that rejected a mint (keyset audit or refused keys).
    pub rejected_a_mint: HashSet<u32>,
    /// Turns that failed with no session open.
    pub failed_without_session: u64,
    /// Invariant checks run.
    pub checks: u64,
    /// Nodes that went offline.
    pub departures: u64,
    violation: Option<Violation>,
    /// The data-visibility audit.
    pub audit: crate::audit::VisibilityAudit,
}

/// The passive observer of `spec`: which ASes it watches, and the public
/// knowledge it starts from (advertised relays and services, cell size).
fn observer_for(
    spec: &ObserverSpec,
    topo: &Topology,
    hosts: &[Host],
    streams: &Streams,
    pool: &Pool,
) -> Observer {
    let ases = match &spec.vantage {
        VantageSpec::Global => None,
        VantageSpec::AsFraction { share } => {
            let all: Vec<u32> = topo.ases.iter().map(|a| a.asn).collect();
            let mut r = streams.stream(entity::WORLD, Purpose::Observers);
            let n = (share.get() * all.len() as f64).round() as usize;
            Some(
                rng::choose(&mut r, all.len(), n)
                    .into_iter()
                    .map(|i| all[i])
                    .collect(),
            )
        }
        VantageSpec::Ases { asns } => Some(asns.iter().copied().collect()),
        VantageSpec::Endpoints { clients, services } => {
            let of = |k: &dyn Fn(Kind) -> bool, n: u32| {
                hosts
                    .iter()
                    .filter(|h| k(h.slot.kind))
                    .take(n as usize)
                    .map(|h| h.asn)
                    .collect::<Vec<_>>()
            };
            let mut set: HashSet<u32> = of(&|k| k == Kind::Client, *clients).into_iter().collect();
            set.extend(of(&|k| matches!(k, Kind::Ghost | Kind::Gpu), *services));
            Some(set)
        }
    };
    let addrs = |k: &dyn Fn(Kind) -> bool| -> HashSet<SocketAddr> {
        hosts
            .iter()
            .filter(|h| k(h.slot.kind))
            .map(|h| h.node.addr())
            .collect()
    };
    Observer::new(
        ases,
        PublicKnowledge::new(
            addrs(&|k| k == Kind::Relay),
            addrs(&|k| matches!(k, Kind::Ghost | Kind::Gpu)),
            pool.infrastructure.iter().copied(),
            (peer2prompt::onion::cell::CELL_LEN + 1) as u32,
        ),
        SummaryParams {
            bin_ns: (spec.bin_ms * 1e6) as u64,
            idle_gap_ns: (spec.idle_gap_ms * 1e6) as u64,
        },
    )
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl World {
    /// Builds every node of `scenario` with master seed `seed` and schedules
    /// bootstrap, directories, funding, workload and churn.
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let s = scenario.clone();
        let streams = Streams::new(seed);
        let slots = crate::adversary::plan(&s, &streams);
        let mut topo = Topology::new(
            &streams,
            &s.network.region_weights,
            s.network.ases_per_region,
            s.network.as_zipf_exponent,
        );
        let net: Arc<dyn peer2prompt::node::NetworkInfo> = Arc::new(topo.asn_table());
        let mut hosts = Vec::with_capacity(slots.len());
        for slot in &slots {
            let mut r = streams.stream(slot.entity(), Purpose::Placement);
            let (region, asn, addr) = topo.place(&mut r);
            let latency = s.network.access_latency_ms.sample(&mut r);
            let mbps = s.network.access_bandwidth_mbps.sample(&mut r).max(0.1);
            let nat = slot.kind == Kind::Client && rng::unit(&mut r) < s.network.nat_clients.get();
            let node = population::build_node(&s, &streams, *slot, addr, nat, net.clone());
            hosts.push(Host {
                slot: *slot,
                node,
                att: Attachment {
                    region,
                    access_latency: secs(latency / 1_000.0),
                    bandwidth_bps: mbps * 1e6,
                    link_free_at: Instant::ZERO,
                },
                asn,
                net_rng: streams.stream(slot.entity(), Purpose::Network),
                armed: None,
                online: true,
                nat: nat.then(HashSet::new),
            });
        }
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
        let mut pool = Pool::default();
        let mut client_addrs = HashSet::new();
        let mut service_addrs = HashSet::new();
        for h in &hosts {
            match h.slot.kind {
                Kind::Client => {
                    client_addrs.insert(h.node.addr());
                }
                k => {
                    pool.infrastructure.insert(h.node.addr());
                    if matches!(k, Kind::Ghost | Kind::Gpu) {
                        service_addrs.insert(h.node.addr());
                    }
                }
            }
        }
        let mints: Vec<u32> = (0..hosts.len() as u32)
            .filter(|&i| hosts[i as usize].slot.kind == Kind::Mint)
            .collect();
        // Colluding mints pool their logs with the adversary's exits.
        let colluding = s
            .adversary
            .mint_exit
            .as_ref()
            .map_or(0, |m| m.mints as usize);
        for &m in mints.iter().take(colluding) {
            hosts[m as usize].slot.adversarial = true;
        }
        let client_indices: Vec<u32> = (0..hosts.len() as u32)
            .filter(|&i| hosts[i as usize].slot.kind == Kind::Client)
            .collect();
        let audit = crate::audit::VisibilityAudit::new(s.workload.audit_sessions, mints);
        let observer = s
            .adversary
            .observers
            .as_ref()
            .map(|o| observer_for(o, &topo, &hosts, &streams, &pool));
        let w = &s.workload;
        let measure_from = Instant::ZERO + secs(w.warmup_s);
        let arrivals_until = measure_from + secs(w.duration_s);
        let mut world = World {
            link: LinkModel {
                rtt_ms: topo.rtt_ms.clone(),
                jitter_ms: s.network.jitter_ms,
                loss: s.network.loss.get(),
            },
            churn_rng: streams.stream(entity::WORLD, Purpose::Churn),
            lightning_rng: streams.stream(entity::WORLD, Purpose::Lightning),
            streams,
            queue: EventQueue::new(),
            hosts,
            by_addr,
            by_id,
            pool,
            work: HashMap::new(),
            conversations: 0,
            sessions: Vec::new(),
            open: HashMap::new(),
            last: HashMap::new(),
            by_session: HashMap::new(),
            truth: crate::truth::GroundTruth::default(),
            client_addrs,
            client_indices,
            service_addrs,
            funded: 0,
            paid_out: 0,
            measure_from,
            arrivals_until,
            delivered: 0,
            lost: 0,
            bytes_sent: 0,
            observer,
            rejected_a_mint: HashSet::new(),
            failed_without_session: 0,
            checks: 0,
            departures: 0,
            violation: None,
            audit,
            scenario: s,
        };
        world.schedule_start();
        world
    }

    /// Warm-up (at least 60 s): infrastructure joins over the first 20 s,
    /// clients over the next 10 s, directories are fetched at 35–40 s and
    /// wallets funded at 45–50 s; arrivals start with the measured period.
    fn schedule_start(&mut self) {
        let mut r = self.streams.stream(entity::WORLD, Purpose::Workload);
        for i in 0..self.hosts.len() as u32 {
            let kind = self.hosts[i as usize].slot.kind;
            let (lo, span) = if kind == Kind::Client {
                (20.0, 10.0)
            } else {
                (0.0, 20.0)
            };
            let at = Instant::ZERO + secs(lo + span * rng::unit(&mut r));
            self.queue.push(at, Event::Bootstrap(i));
            if kind != Kind::Relay {
                let at = Instant::ZERO + secs(35.0 + 5.0 * rng::unit(&mut r));
                self.queue.push(at, Event::Directory(i));
            }
            if kind == Kind::Client {
                let at = Instant::ZERO + secs(45.0 + 5.0 * rng::unit(&mut r));
                self.queue.push(at, Event::Fund(i));
                let mut work = ClientWork::new(
                    self.streams
                        .stream(self.hosts[i as usize].slot.entity(), Purpose::Workload),
                );
                let first = self.measure_from + secs(work.next_arrival_s(&self.scenario.workload));
                if first < self.arrivals_until {
                    self.queue.push(first, Event::Arrival(i));
                }
                self.work.insert(i, work);
            }
        }
        if let Some(rate) = self.scenario.churn.relay_rate.clone() {
            for i in 0..self.hosts.len() as u32 {
                if self.hosts[i as usize].slot.kind == Kind::Relay {
                    let up = rng::exponential(&mut self.churn_rng, rate.mean_up_s);
                    self.queue
                        .push(self.measure_from + secs(up), Event::Flip(i));
                }
            }
        }
        for (k, step) in self.scenario.churn.schedule.iter().enumerate() {
            self.queue
                .push(self.measure_from + secs(step.at_s), Event::ChurnStep(k));
        }
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.queue.now()
    }

    /// Runs until `end` or until the queue is empty; stops at the first
    /// invariant violation.
    pub fn run_until(&mut self, end: Instant) -> Result<(), Violation> {
        while let Some(t) = self.queue.peek_time() {
            if t > end {
                break;
            }
            let Some((at, ev)) = self.queue.pop() else {
                break;
            };
            self.step(at, ev);
            if let Some(v) = self.violation.take() {
                return Err(v);
            }
        }
        Ok(())
    }

    fn step(&mut self, at: Instant, ev: Event) {
        match ev {
            Event::Deliver { to, from, bytes } => {
                let h = &mut self.hosts[to as usize];
                if !h.online {
                    self.lost += 1;
                    return;
                }
                let from_addr = self.hosts[from as usize].node.addr();
                let h = &mut self.hosts[to as usize];
                if let Some(seen) = &h.nat
                    && !seen.contains(&from_addr)
                {
                    self.lost += 1;
                    return;
                }
                self.delivered += 1;
                if let Some(o) = &mut self.observer
                    && o.watches(h.asn)
                    && !o.watches(self.hosts[from as usize].asn)
                {
                    o.see(Sighting {
                        at_ns: at.as_nanos(),
                        size: bytes.len() as u32,
                        src: from_addr,
                        dst: self.hosts[to as usize].node.addr(),
                    });
                }
                let h = &mut self.hosts[to as usize];
                // Peer input never panics; refusals come back as events.
                let _ = h.node.handle(at, from_addr, &bytes);
                self.collect(to);
            }
            Event::Timer(i, deadline) => {
                let h = &mut self.hosts[i as usize];
                if h.armed != Some(deadline) {
                    return;
                }
                h.armed = None;
                if h.online {
                    h.node.handle_timeout(at);
                    self.collect(i);
                }
            }
            Event::Bootstrap(i) => {
                let lists = self.seed_lists();
                self.hosts[i as usize].node.bootstrap(at, &lists);
                self.collect(i);
            }
            Event::Directory(i) => {
                self.hosts[i as usize].node.refresh_directory(at);
                self.collect(i);
            }
            Event::Fund(i) => self.fund(i),
            Event::Arrival(c) => {
                let w = self.scenario.workload.clone();
                if let Some(work) = self.work.get_mut(&c) {
                    let next = at + secs(work.next_arrival_s(&w));
                    if next < self.arrivals_until {
                        self.queue.push(next, Event::Arrival(c));
                    }
                    work.queued += 1;
                }
                self.start_conversation(c);
            }
            Event::NextTurn(c) => self.ask_turn(c),
            Event::Start(c) => self.start_conversation(c),
            Event::Flip(i) => {
                let Some(rate) = self.scenario.churn.relay_rate.clone() else {
                    return;
                };
                let online = !self.hosts[i as usize].online;
                self.set_online(i, online);
                let mean = if online {
                    rate.mean_up_s
                } else {
                    rate.mean_down_s
                };
                let next = at + secs(rng::exponential(&mut self.churn_rng, mean));
                self.queue.push(next, Event::Flip(i));
            }
            Event::ChurnStep(k) => {
                let step = self.scenario.churn.schedule[k].clone();
                let kind = match step.role {
                    ChurnRole::Relay => Kind::Relay,
                    ChurnRole::Ghost => Kind::Ghost,
                    ChurnRole::Gpu => Kind::Gpu,
                };
                for (want_online, n) in [(false, step.leave), (true, step.join)] {
                    let cands: Vec<u32> = (0..self.hosts.len() as u32)
                        .filter(|&i| {
                            let h = &self.hosts[i as usize];
                            h.slot.kind == kind && h.online != want_online
                        })
                        .collect();
                    let n = (n as usize).min(cands.len());
                    for j in rng::choose(&mut self.churn_rng, cands.len(), n) {
                        self.set_online(cands[j], want_online);
                    }
                }
            }
        }
    }

    fn set_online(&mut self, i: u32, online: bool) {
        let now = self.now();
        let h = &mut self.hosts[i as usize];
        if h.online && !online {
            self.departures += 1;
        }
        h.online = online;
        if online {
            h.node.handle_timeout(now);
            self.collect(i);
        }
    }

    /// Two independent seed lists of relays (the first four and the next four).
    fn seed_lists(&self) -> Vec<Vec<SocketAddr>> {
        let relays: Vec<SocketAddr> = self
            .hosts
            .iter()
            .filter(|h| h.slot.kind == Kind::Relay)
            .take(8)
            .map(|h| h.node.addr())
            .collect();
        let half = relays.len().div_ceil(2);
        vec![relays[..half].to_vec(), relays[half..].to_vec()]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect()
    }

    fn fund(&mut self, c: u32) {
        let now = self.now();
        let sat = self.scenario.workload.funding_sat;
        if self.hosts[c as usize].node.fund(now, sat).is_ok() {
            self.collect(c);
        }
    }

    fn start_conversation(&mut self, c: u32) {
        let now = self.now();
        let Some(work) = self.work.get_mut(&c) else {
            return;
        };
        if work.busy || work.queued == 0 {
            return;
        }
        work.queued -= 1;
        work.busy = true;
        work.conversations += 1;
        self.conversations += 1;
        work.turns_left = self.scenario.workload.turns_per_session;
        // Top up a wallet running low before the conversation.
        let low = self.scenario.workload.funding_sat / 4;
        let balance = self.hosts[c as usize]
            .node
            .client_wallet()
            .map(|w| w.total_balance().value())
            .unwrap_or(0);
        if balance < low {
            self.fund(c);
        }
        if self.open.contains_key(&c) {
            let _ = self.hosts[c as usize].node.rotate_session(now);
            self.collect(c);
        }
        self.ask_turn(c);
    }

    fn ask_turn(&mut self, c: u32) {
        let now = self.now();
        let Some(work) = self.work.get_mut(&c) else {
            return;
        };
        let text = work.message(&self.scenario.workload);
        self.audit.asked(c, &text);
        if self.hosts[c as usize].node.ask(now, text, false).is_ok() {
            self.collect(c);
        }
    }

    /// A conversation ended: the next waiting one starts as its own event
    /// at the same instant, never inside the handling of the node's events
    /// (which would interleave the new session's events with the old one's).
    fn conversation_over(&mut self, c: u32) {
        if let Some(work) = self.work.get_mut(&c) {
            work.busy = false;
            if work.queued > 0 {
                let now = self.now();
                self.queue.push(now, Event::Start(c));
            }
        }
    }

    /// Collects node `i`'s transmits and events and re-arms its timer.
    fn collect(&mut self, i: u32) {
        let now = self.now();
        let iu = i as usize;
        while let Some(t) = self.hosts[iu].node.poll_transmit() {
            let Some(&to) = self.by_addr.get(&t.to) else {
                self.lost += 1;
                continue;
            };
            if let Some(seen) = &mut self.hosts[iu].nat {
                seen.insert(t.to);
            }
            let dest = self.hosts[to as usize].att.clone();
            self.bytes_sent += t.bytes.len() as u64;
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
                None => self.lost += 1,
            }
        }
        let mut events = Vec::new();
        while let Some(e) = self.hosts[iu].node.poll_event() {
            events.push(e);
        }
        for e in events {
            self.on_event(i, e);
        }
        let h = &mut self.hosts[iu];
        let next = h.node.poll_timeout();
        if next != h.armed {
            h.armed = next;
            if let Some(t) = next {
                // A deadline already past fires now.
                self.queue.push(t.max(now), Event::Timer(i, t));
            }
        }
    }

    fn on_event(&mut self, i: u32, e: NodeEvent) {
        let now = self.now();
        match e {
            NodeEvent::Observed(o) => self.observe(i, &o),
            NodeEvent::Client(ce) => self.on_client(i, ce),
            NodeEvent::Mint(MintEvent::PayoutRequested { quote, invoice }) => {
                self.paid_out += invoice.amount.value();
                let _ =
                    self.hosts[i as usize]
                        .node
                        .lightning_payout(now, quote, PayoutOutcome::Paid);
                self.collect(i);
            }
            _ => {}
        }
    }

    /// What the mint learns about client `c` paying an invoice (scenario
    /// `protocol.lightning`): its id, a candidate set holding it and
    /// `size - 1` other clients drawn uniformly, or nothing.
    fn lightning_payer(&mut self, c: u32) -> LightningPayer {
        match self.scenario.protocol.lightning {
            LightningPrivacySpec::Node => LightningPayer::Node(PayerId(u64::from(c))),
            LightningPrivacySpec::Hidden => LightningPayer::Hidden,
            LightningPrivacySpec::Candidates { size } => {
                let others: Vec<u32> = self
                    .client_indices
                    .iter()
                    .copied()
                    .filter(|&o| o != c)
                    .collect();
                let want = (size as usize).saturating_sub(1).min(others.len());
                let mut set: Vec<PayerId> =
                    rng::choose(&mut self.lightning_rng, others.len(), want)
                        .into_iter()
                        .map(|j| PayerId(u64::from(others[j])))
                        .collect();
                set.push(PayerId(u64::from(c)));
                set.sort_unstable();
                LightningPayer::Candidates(set)
            }
        }
    }

    /// Pools the adversary's observations; checks honest ones.
    fn observe(&mut self, i: u32, o: &Observation) {
        if self.audit.active() {
            self.audit.observe(i, o);
        }
        if let Observation::ServiceRequest {
            session, payment, ..
        } = o
        {
            self.truth.requested(i, *session, payment);
        }
        if self.hosts[i as usize].slot.adversarial {
            self.pool.observe(i, o);
            return;
        }
        self.checks += 1;
        let hops = self.scenario.protocol.relays_per_route;
        let both = match o {
            Observation::Hop(h) => {
                hops >= 2
                    && self.client_addrs.contains(&h.prev)
                    && matches!(h.next, ObservedNext::Node(a) if self.service_addrs.contains(&a))
            }
            // With no relays (the direct-call baseline) the service sees
            // its client by design.
            Observation::ServiceRequest { prev, .. } => {
                hops >= 1 && self.client_addrs.contains(prev)
            }
            _ => false,
        };
        if both && self.violation.is_none() {
            self.violation = Some(Violation {
                at_ns: self.now().as_nanos(),
                what: format!("honest node {i} saw both a client and its service"),
            });
        }
    }

    fn on_client(&mut self, c: u32, e: ClientEvent) {
        let now = self.now();
        match e {
            ClientEvent::PayInvoice {
                mint,
                quote,
                amount,
            } => {
                let Some(&m) = self.by_id.get(&mint) else {
                    return;
                };
                let payer = self.lightning_payer(c);
                let paid = self.hosts[m as usize].node.lightning_payment(
                    now,
                    LightningPayment {
                        quote,
                        amount: Amount::new(amount),
                        payer,
                    },
                );
                if paid.is_ok() {
                    self.funded += amount;
                    let _ = self.hosts[c as usize].node.invoice_paid(now, quote);
                }
                self.collect(m);
                self.collect(c);
            }
            ClientEvent::SessionOpened {
                session,
                relays,
                exit,
                exit_role,
                ..
            } => {
                let entry = relays
                    .first()
                    .and_then(|r| self.by_id.get(r))
                    .copied()
                    .unwrap_or(u32::MAX);
                let last = relays
                    .last()
                    .and_then(|r| self.by_id.get(r))
                    .copied()
                    .unwrap_or(u32::MAX);
                let exit = self.by_id.get(&exit).copied().unwrap_or(u32::MAX);
                if now >= self.measure_from {
                    let hosts = relays
                        .iter()
                        .map(|r| self.by_id.get(r).copied().unwrap_or(u32::MAX))
                        .collect();
                    self.audit.opened(c, session, hosts, exit);
                }
                let row = SessionRow {
                    id: self.sessions.len() as u64,
                    client: c,
                    entry,
                    last,
                    hops: relays.len() as u32,
                    exit,
                    exit_kind: if exit_role == Role::Gpu {
                        Kind::Gpu
                    } else {
                        Kind::Ghost
                    },
                    started: now,
                    first_token: None,
                    completed: None,
                    closed: None,
                    turns: 0,
                    prompt_tokens: 0,
                    output_tokens: 0,
                    outcome: "unfinished".into(),
                };
                self.last.insert(c, self.sessions.len());
                self.by_session.insert((c, session), self.sessions.len());
                if let Some(prev) = self.open.insert(c, self.sessions.len()) {
                    self.sessions[prev].closed.get_or_insert(now);
                }
                self.sessions.push(row);
            }
            ClientEvent::SessionClosed { session, .. } => {
                if let Some(&r) = self.by_session.get(&(c, session)) {
                    self.sessions[r].closed.get_or_insert(now);
                    if self.open.get(&c) == Some(&r) {
                        self.open.remove(&c);
                    }
                }
            }
            ClientEvent::FirstToken { at, .. } => {
                if let Some(&r) = self.open.get(&c) {
                    self.sessions[r].first_token.get_or_insert(at);
                }
            }
            ClientEvent::Paid {
                session,
                payment,
                first,
                ..
            } => {
                if first && let Some(&r) = self.by_session.get(&(c, session)) {
                    self.truth.paid(r, &payment);
                }
                self.audit.paid(c, session, &payment);
            }
            ClientEvent::TurnDone(rep) => {
                self.audit.answered(c, rep.session, &rep.response);
                if let Some(&r) = self.by_session.get(&(c, rep.session)) {
                    let s = &mut self.sessions[r];
                    s.turns += 1;
                    s.prompt_tokens += rep.input_tokens;
                    s.output_tokens += rep.output_tokens;
                    s.completed = Some(rep.done);
                    s.outcome = "ok".into();
                }
                let w = self.scenario.workload.clone();
                let mut next = None;
                if let Some(work) = self.work.get_mut(&c) {
                    work.turns_left = work.turns_left.saturating_sub(1);
                    if work.turns_left > 0 {
                        next = Some(now + secs(work.think_s(&w)));
                    }
                }
                match next {
                    Some(t) => self.queue.push(t, Event::NextTurn(c)),
                    None => self.conversation_over(c),
                }
            }
            ClientEvent::MintRejected { .. } => {
                self.rejected_a_mint.insert(c);
            }
            ClientEvent::TurnFailed {
                reason, retrying, ..
            } => {
                // The client closes a failed session before reporting why.
                match self.open.get(&c).or(self.last.get(&c)) {
                    Some(&r) => self.sessions[r].outcome = reason.kind().to_owned(),
                    None => self.failed_without_session += 1,
                }
                if !retrying {
                    self.conversation_over(c);
                }
            }
            _ => {}
        }
    }

    /// The node with this address.
    pub fn index_of(&self, addr: &SocketAddr) -> Option<u32> {
        self.by_addr.get(addr).copied()
    }

    /// Value conservation over every mint: every unspent proof anyone holds,
    /// counted once, plus outputs the mint signed for operations whose answer
    /// is still being recovered, plus paid quotes whose issuance is still
    /// being claimed, plus fees and Lightning payouts equals what
    /// was paid in, and each mint's books agree that no unspent proof is
    /// orphaned.
    pub fn check_conservation(&mut self) -> Result<(), Violation> {
        use peer2prompt::ecash::messages::{CheckStateRequest, ProofState};
        use peer2prompt::ecash::mint::ys_of;
        self.checks += 1;
        let mut held: HashMap<[u8; 33], peer2prompt::ecash::Proof> = HashMap::new();
        let mut pending: HashMap<[u8; 33], peer2prompt::ecash::BlindedMessage> = HashMap::new();
        let mut claimed: HashSet<peer2prompt::ecash::QuoteId> = HashSet::new();
        for h in &self.hosts {
            let n = &h.node;
            claimed.extend(n.pending_issues());
            for o in n.pending_outputs() {
                pending.insert(o.blinded_secret.serialize(), o);
            }
            let mut proofs = Vec::new();
            for w in [n.client_wallet(), n.service_wallet()]
                .into_iter()
                .flatten()
            {
                for url in w.mints() {
                    proofs.extend(w.proofs(url).iter().map(|p| p.proof.clone()));
                }
            }
            proofs.extend(n.client_outstanding());
            proofs.extend(n.in_flight_proofs());
            for p in proofs {
                if let Ok(y) = p.y() {
                    held.insert(y.serialize(), p);
                }
            }
        }
        let proofs: Vec<_> = held.into_values().collect();
        let (mut unspent, mut outstanding, mut fees, mut minted) = (0u64, 0u64, 0u64, 0u64);
        // Paid quotes still being claimed: value in transit to a wallet.
        let mut unissued = 0u64;
        let mut abandoned = Vec::new();
        for h in &self.hosts {
            let Some(mint) = h.node.mint() else { continue };
            mint.audit();
            let ledger = mint.ledger();
            outstanding += ledger.outstanding().value();
            fees += ledger.fees_collected.value();
            minted += ledger.lightning_in.value();
            for (quote, amount) in mint.paid_unissued() {
                if claimed.contains(&quote) {
                    unissued += amount.value();
                } else {
                    abandoned.push(amount.value());
                }
            }
            // Signed outputs of operations whose answer is still awaited
            // (being recovered through NUT-09): their owner holds the
            // secrets and can restore them.
            unspent += pending
                .values()
                .filter_map(|o| mint.signed_amount(o))
                .map(|a| a.value())
                .sum::<u64>();
            // Every keyset the mint signed with, private (tagging) ones too.
            let ids: HashSet<_> = mint.keyset_ids().into_iter().collect();
            let mine: Vec<_> = proofs
                .iter()
                .filter(|p| ids.contains(&p.id))
                .cloned()
                .collect();
            let Ok(ys) = ys_of(&mine) else { continue };
            let states = mint.check_state(&CheckStateRequest { ys });
            unspent += mine
                .iter()
                .zip(&states.states)
                .filter(|(_, s)| s.state == ProofState::Unspent)
                .map(|(p, _)| p.amount.value())
                .sum::<u64>();
        }
        let at_ns = self.now().as_nanos();
        let fail = |what: String| Err(Violation { at_ns, what });
        if minted != self.funded {
            return fail(format!(
                "mints issued {minted} sat against {} paid in",
                self.funded
            ));
        }
        if unspent != outstanding {
            return fail(format!(
                "unspent proofs held {unspent} sat, mints' outstanding {outstanding} sat"
            ));
        }
        if !abandoned.is_empty() {
            return fail(format!(
                "{} paid mint quote(s) ({} sat) neither issued nor claimed by anyone",
                abandoned.len(),
                abandoned.iter().sum::<u64>()
            ));
        }
        if unspent + unissued + fees + self.paid_out != self.funded {
            return fail(format!(
                "held {unspent} + being issued {unissued} + fees {fees} + paid out {} != paid in {}",
                self.paid_out, self.funded
            ));
        }
        Ok(())
    }
}

impl World {
    /// Starts no further turns or conversations.
    pub fn stop_workload(&mut self) {
        self.work.clear();
    }

    /// Conversations started in the measured period.
    pub fn conversations(&self) -> u64 {
        self.conversations
    }
}
