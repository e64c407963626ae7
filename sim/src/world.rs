//! The simulated world of one replicate (ARCHITECTURE.md, "The engine is
//! thin"): the [`Engine`] with its hosts, and around it what drives and
//! watches them. Drivers (`crate::drivers`: conversations, Lightning,
//! churn) decide when things happen to nodes; watchers ([`Watcher`]: the
//! visibility audit, the adversary's pool, the ground truth) see what
//! nodes report; checkers (`crate::checks`) hold invariants as the run
//! goes. Every protocol decision stays in the nodes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::dht::Role;
use peer2prompt::ecash::{Amount, LightningPayment, PayoutOutcome, QuoteId as MintQuoteId};
use peer2prompt::node::service::ServiceEvent;
use peer2prompt::node::{
    AuditOutcome, BaselineEvent, ClientEvent, MintEvent, NodeEvent, Observation, TurnFailure,
};
use peer2prompt::time::{Duration, Instant};

use crate::adversary::matcher::MatcherParams;
use crate::adversary::observer::observer_for;
use crate::adversary::operator::OperatorLog;
use crate::adversary::pool::Pool;
use crate::adversary::selective_dos::{Judge, Pending};
use crate::audit::VisibilityAudit;
use crate::checks::{self, CONSERVATION_EVERY_S, HonestViews, Violation};
use crate::drivers::churn::Churn;
use crate::drivers::conversations::Conversations;
use crate::drivers::lightning::Lightning;
use crate::engine::{Engine, Host, HostCall};
use crate::ledger::ServiceLedger;
use crate::network::LinkModel;
use crate::population::{self, Kind, addrs_of};
use crate::queue::EventQueue;
use crate::record::TurnRecord;
use crate::rng::{self, Purpose, Streams, entity};
use crate::scenario::{Scenario, System};
use crate::sessions::{Route, SessionBook};
use crate::topology::Topology;
use crate::truth::GroundTruth;
use crate::watchers::Watcher;
use crate::window;

/// How long after a node reports something the world acts on it (pays an
/// invoice, settles a payout, starts the next conversation or turn, lets a
/// selective-DoS verdict fall due): the world never touches a host inside a
/// parallel window, so windows are no longer than this ([`crate::window`]).
pub const REACTION: Duration = Duration::from_millis(20);

/// What happens in the world at a point in virtual time: drivers' events,
/// which touch hosts with every host at that instant. The hosts' own
/// events ([`crate::engine::HostEvent`]) run in parallel windows between
/// them; at one instant the world's run first.
#[derive(Clone, Copy, Debug)]
pub enum Event {
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
    Verdict(Pending),
    /// A client's Lightning payment of a mint quote settles.
    Settle {
        /// The client host.
        client: u32,
        /// The mint host.
        mint: u32,
        /// The mint quote.
        quote: MintQuoteId,
        /// Amount, sat.
        amount: u64,
    },
    /// A mint's Lightning payout settles.
    Payout {
        /// The mint host.
        mint: u32,
        /// The melt quote.
        quote: MintQuoteId,
        /// Amount, sat.
        amount: u64,
    },
}

/// An answered turn as the client reported it (for [`TurnRecord`]).
struct Answered {
    row: Option<usize>,
    exit: u32,
    started: Instant,
    first_token: Instant,
    done: Instant,
    tokens: (u64, u64),
    charged_msat: u64,
    audit: Option<String>,
    probe: Option<bool>,
}

/// The simulated world of one replicate.
pub struct World {
    /// The scenario.
    pub scenario: Scenario,
    streams: Streams,
    /// The world's events, in (time, insertion) order.
    queue: EventQueue<Event>,
    /// The instant the world is at: its last event's, or the report's it
    /// is handling.
    clock: Instant,
    /// Host queue, hosts, delivery.
    pub engine: Engine,
    /// The adversary's pooled observations.
    pub pool: Pool,
    /// Which session each service-side flow carries (for scoring only).
    pub truth: GroundTruth,
    /// The data-visibility audit.
    pub audit: VisibilityAudit,
    /// The selective-DoS judge, when the attack runs.
    pub judge: Option<Judge>,
    /// The services' accounts per session, when clients double-spend.
    pub ledger: Option<ServiceLedger>,
    /// Sessions, in opening order.
    pub sessions: SessionBook,
    conversations: Conversations,
    lightning: Lightning,
    churn: Churn,
    honest: HonestViews,
    /// Start of the measured period.
    pub measure_from: Instant,
    /// End of arrivals.
    pub arrivals_until: Instant,
    /// Clients that rejected a mint (keyset audit or refused keys).
    pub rejected_a_mint: HashSet<u32>,
    /// Turns that failed with no session open.
    pub failed_without_session: u64,
    /// Turns that failed with no retry left.
    pub turns_abandoned: u64,
    /// The adversary's share of advertised relay bandwidth (m_w).
    pub relay_weight_share: f64,
    /// Invariant checks run.
    pub checks: u64,
    /// A baseline's operator host (`u32::MAX` under Peer2Prompt).
    pub operator: u32,
    /// The operator's log, when it works for the adversary.
    pub operator_log: OperatorLog,
    /// Answered turns of the measured period, when kept
    /// ([`World::keeps_turns`]).
    pub turns: Vec<TurnRecord>,
    direct_conversations: u64,
    /// Which conversations open with a probe, and the share that do.
    probe_rng: Option<(rand_chacha::ChaCha20Rng, f64)>,
    violation: Option<Violation>,
}

/// A payment a service received: its session handle and value, sat.
fn service_payment(o: &Observation) -> Option<(u32, u64)> {
    match o {
        Observation::ServiceRequest {
            session, amount, ..
        }
        | Observation::ServicePayment {
            session, amount, ..
        } => Some((*session, amount.value())),
        _ => None,
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl World {
    /// Builds every node of `scenario` with master seed `seed` and schedules
    /// bootstrap, directories, funding, workload, churn and the checks.
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let s = scenario.clone();
        let streams = Streams::new(seed);
        let mut topo = Topology::new(
            &streams,
            &s.network.region_weights,
            s.network.ases_per_region,
            s.network.as_zipf_exponent,
        );
        let mut hosts = population::hosts(&s, &streams, &mut topo);
        let relay_weight_share = population::relay_weight_share(&s, &streams, &hosts);
        let mut pool = Pool::default();
        for h in hosts.iter().filter(|h| h.slot.kind != Kind::Client) {
            pool.infrastructure.insert(h.node.addr());
        }
        let mints: Vec<u32> = (0..hosts.len() as u32)
            .filter(|&i| hosts[i as usize].slot.kind == Kind::Mint)
            .collect();
        // Colluding mints pool their logs with the adversary's exits.
        let colluding = s.adversary.mint_exit.as_ref().map_or(0, |m| m.mints);
        for &m in mints.iter().take(colluding as usize) {
            hosts[m as usize].slot.adversarial = true;
        }
        let clients: Vec<u32> = (0..hosts.len() as u32)
            .filter(|&i| hosts[i as usize].slot.kind == Kind::Client)
            .collect();
        let observer = s
            .adversary
            .observers
            .as_ref()
            .map(|o| observer_for(o, &topo, &hosts, &streams, &pool.infrastructure));
        let honest = HonestViews::new(
            addrs_of(&hosts, |k| k == Kind::Client),
            addrs_of(&hosts, Kind::is_service),
            s.protocol.relays_per_route,
        );
        let link = LinkModel {
            rtt_ms: topo.rtt_ms.clone(),
            jitter_ms: s.network.jitter_ms,
            loss: s.network.loss.get(),
        };
        let measure_from = Instant::ZERO + secs(s.workload.warmup_s);
        let operator = (0..hosts.len() as u32)
            .find(|&i| hosts[i as usize].slot.kind == Kind::Operator)
            .unwrap_or(u32::MAX);
        let mut world = World {
            audit: VisibilityAudit::new(s.workload.audit_sessions, mints),
            judge: s
                .adversary
                .selective_dos
                .as_ref()
                .filter(|d| d.enabled)
                .map(|d| {
                    Judge::new(
                        MatcherParams::from(&s.adversary.matcher),
                        s.protocol.relays_per_route as usize,
                        Duration::from_secs_f64(d.decide_after_ms / 1e3),
                    )
                }),
            ledger: (s.faults.double_spenders > 0).then(ServiceLedger::default),
            lightning: Lightning::new(
                s.protocol.lightning.clone(),
                streams.stream(entity::WORLD, Purpose::Lightning),
                clients,
            ),
            churn: Churn::new(
                s.churn.clone(),
                streams.stream(entity::WORLD, Purpose::Churn),
            ),
            engine: Engine::new(hosts, link, observer, REACTION),
            queue: EventQueue::new(),
            clock: Instant::ZERO,
            pool,
            truth: GroundTruth::default(),
            sessions: SessionBook::default(),
            conversations: Conversations::default(),
            honest,
            measure_from,
            arrivals_until: measure_from + secs(s.workload.duration_s),
            rejected_a_mint: HashSet::new(),
            failed_without_session: 0,
            turns_abandoned: 0,
            relay_weight_share,
            checks: 0,
            operator,
            operator_log: OperatorLog::default(),
            turns: Vec::new(),
            direct_conversations: 0,
            probe_rng: s
                .protocol
                .verification
                .as_ref()
                .map(|v| v.probe_rate.get())
                .filter(|&p| p > 0.0)
                .map(|p| (streams.stream(entity::WORLD, Purpose::Probes), p)),
            violation: None,
            streams,
            scenario: s,
        };
        world.schedule_start();
        world
    }

    /// Warm-up (at least 60 s): infrastructure joins over the first 20 s (the
    /// adversary's DHT Sybils over the first 5 s),
    /// clients over the next 10 s, directories are fetched at 35–40 s and
    /// wallets funded at 45–50 s; arrivals start with the measured period.
    /// Conservation is checked every [`CONSERVATION_EVERY_S`] from then on.
    fn schedule_start(&mut self) {
        let mut r = self.streams.stream(entity::WORLD, Purpose::Workload);
        let w = self.scenario.workload.clone();
        let seeds: Arc<[Vec<SocketAddr>]> = self.seed_lists().into();
        for i in 0..self.engine.hosts.len() as u32 {
            let kind = self.engine.hosts[i as usize].slot.kind;
            // The adversary's DHT Sybils are in place before the directory fills.
            let (lo, span) = match kind {
                Kind::Client => (20.0, 10.0),
                Kind::DhtSybil => (0.0, 5.0),
                _ => (0.0, 20.0),
            };
            // Calls on one node each: they run inside windows (engine.rs).
            let e = &mut self.engine;
            let at = Instant::ZERO + secs(lo + span * rng::unit(&mut r));
            e.call(at, i, HostCall::Bootstrap(seeds.clone()));
            if !matches!(kind, Kind::Relay | Kind::DhtSybil) {
                let at = Instant::ZERO + secs(35.0 + 5.0 * rng::unit(&mut r));
                e.call(at, i, HostCall::RefreshDirectory);
            }
            if kind == Kind::Client {
                let at = Instant::ZERO + secs(45.0 + 5.0 * rng::unit(&mut r));
                e.call(at, i, HostCall::Fund(w.funding_sat));
                let entity = self.engine.hosts[i as usize].slot.entity();
                let stream = self.streams.stream(entity, Purpose::Workload);
                let first = self.conversations.add(i, stream, &w, self.measure_from);
                if first < self.arrivals_until {
                    self.queue.push(first, Event::Arrival(i));
                }
            }
        }
        for (i, at) in self
            .churn
            .first_flips(&self.engine.hosts, self.measure_from)
        {
            self.queue.push(at, Event::Flip(i));
        }
        for (k, at) in self.churn.steps(self.measure_from) {
            self.queue.push(at, Event::ChurnStep(k));
        }
        let every = Duration::from_secs(CONSERVATION_EVERY_S);
        self.queue.push(self.measure_from + every, Event::Check);
        self.schedule_outages();
    }

    /// The scenario's mint outages (injected faults).
    fn schedule_outages(&mut self) {
        for o in &self.scenario.faults.mint_outages {
            let host = self
                .engine
                .hosts
                .iter()
                .position(|h| h.slot.kind == Kind::Mint && h.slot.nth == o.mint);
            if let Some(h) = host {
                let down = self.measure_from + secs(o.at_s);
                let q = &mut self.queue;
                q.push(down, Event::MintAvailable(h as u32, false));
                q.push(down + secs(o.for_s), Event::MintAvailable(h as u32, true));
            }
        }
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.clock
    }

    /// Events run so far: the world's and the hosts' (stale timers too).
    pub fn events(&self) -> u64 {
        self.queue.popped() + self.engine.ran
    }

    /// Schedules `ev` at `at`, but no sooner than [`REACTION`] after now:
    /// how the world acts on what a node reported.
    fn react(&mut self, at: Instant, ev: Event) {
        self.queue.push(at.max(self.clock + REACTION), ev);
    }

    /// The hosts.
    pub fn hosts(&self) -> &[Host] {
        &self.engine.hosts
    }

    /// Runs until `end` or until both queues are empty; stops at the
    /// first invariant violation. The world's events run one at a time;
    /// between them the hosts' run in windows ([`crate::window`]), on the
    /// current rayon pool when it has more than one thread.
    pub fn run_until(&mut self, end: Instant) -> Result<(), Violation> {
        let parallel = rayon::current_num_threads() > 1;
        loop {
            let world = self.queue.peek_time().filter(|&t| t <= end);
            let hosts = self.engine.queue.peek_time().filter(|&t| t <= end);
            // At one instant the world's events run before the hosts'.
            let world_first = match (world, hosts) {
                (None, None) => break,
                (Some(w), h) => h.is_none_or(|h| w <= h),
                (None, Some(_)) => false,
            };
            if world_first {
                let Some((at, ev)) = self.queue.pop() else {
                    break;
                };
                self.clock = at;
                self.step(at, ev);
            } else if let Some(h) = hosts {
                let until = (h + self.engine.window())
                    .min(end + Duration::from_nanos(1))
                    .min(world.unwrap_or(Instant::MAX));
                for r in window::run(&mut self.engine, until, parallel) {
                    self.clock = r.at;
                    self.on_event(r.host, r.event);
                }
                self.clock = self.clock.max(self.engine.latest);
            }
            if let Some(v) = self.violation.take().or_else(|| self.engine.stalled.take()) {
                return Err(v);
            }
        }
        Ok(())
    }

    fn step(&mut self, at: Instant, ev: Event) {
        match ev {
            Event::Settle {
                client,
                mint,
                quote,
                amount,
            } => self.settle(client, mint, quote, amount),
            Event::Payout {
                mint,
                quote,
                amount,
            } => {
                self.lightning.totals.paid_out += amount;
                let node = &mut self.engine.hosts[mint as usize].node;
                let _ = node.lightning_payout(at, quote, PayoutOutcome::Paid);
                self.collect(mint);
            }
            Event::Arrival(c) => {
                let w = &self.scenario.workload;
                if let Some(next) = self.conversations.arrive(c, w, at)
                    && next < self.arrivals_until
                {
                    self.queue.push(next, Event::Arrival(c));
                }
                self.start_conversation(c);
            }
            Event::NextTurn(c) => self.ask_turn(c),
            Event::Start(c) => self.start_conversation(c),
            Event::Flip(i) => {
                if !self.churn.relays_churn() {
                    return;
                }
                let online = !self.engine.hosts[i as usize].online;
                self.set_online(i, online);
                if let Some(next) = self.churn.next_flip(online, at) {
                    self.queue.push(next, Event::Flip(i));
                }
            }
            Event::ChurnStep(k) => {
                for (i, online) in self.churn.step(&self.engine.hosts, k) {
                    self.set_online(i, online);
                }
            }
            Event::MintAvailable(i, available) => {
                let node = &mut self.engine.hosts[i as usize].node;
                if node.set_mint_available(available).is_ok() {
                    node.handle_timeout(at);
                    self.collect(i);
                }
            }
            Event::Verdict(p) => self.verdict(p),
            Event::Check => {
                self.check_conservation_now();
                let every = Duration::from_secs(CONSERVATION_EVERY_S);
                if self.conversations.started > 0 || at < self.arrivals_until {
                    self.queue.push(at + every, Event::Check);
                }
            }
        }
    }

    /// A selective-DoS verdict: the judge decides from the pool alone, and
    /// a kill goes through the hop's own adversarial hook.
    fn verdict(&mut self, p: Pending) {
        let Some(judge) = self.judge.as_mut() else {
            return;
        };
        if judge.decide(&self.pool, p) {
            let (node, session) = p.flow;
            self.engine.hosts[node as usize]
                .node
                .dangerous_stop_forwarding(session);
            self.collect(node);
        }
    }

    fn set_online(&mut self, i: u32, online: bool) {
        let now = self.now();
        let h = &mut self.engine.hosts[i as usize];
        if h.online && !online {
            self.churn.departures += 1;
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
            .engine
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

    fn start_conversation(&mut self, c: u32) {
        let now = self.now();
        if !self.conversations.begin(c, &self.scenario.workload) {
            return;
        }
        // The client's own policy tops a low wallet up first.
        let node = &mut self.engine.hosts[c as usize].node;
        if node.conversation_starting(now) == Ok(true) {
            self.collect(c);
        }
        if self.scenario.system == System::Direct {
            // The direct API's session is the conversation.
            self.direct_conversations += 1;
            let route = self.route(&[], self.operator, Kind::Operator);
            let n = self.direct_conversations;
            self.sessions.opened(c, n, route, now);
        } else if self.sessions.is_open(c) && !self.scenario.system.is_baseline() {
            let _ = self.engine.hosts[c as usize].node.rotate_session(now);
            self.collect(c);
        }
        let probe = self
            .probe_rng
            .as_mut()
            .is_some_and(|(r, p)| rng::unit(r) < *p);
        self.ask(c, probe);
    }

    fn ask_turn(&mut self, c: u32) {
        self.ask(c, false);
    }

    /// Client `c`'s next message; `probe`: sent as a challenge probe.
    fn ask(&mut self, c: u32, probe: bool) {
        let now = self.now();
        let Some(text) = self.conversations.message(c, &self.scenario.workload) else {
            return;
        };
        self.audit.asked(c, &text);
        if self.engine.hosts[c as usize]
            .node
            .ask(now, text, probe)
            .is_ok()
        {
            self.collect(c);
        }
    }

    /// A conversation ended: the next waiting one starts as its own event,
    /// [`REACTION`] later, never inside the handling of the node's events
    /// (which would interleave the new session's events with the old one's).
    fn conversation_over(&mut self, c: u32) {
        if self.conversations.end(c) {
            self.react(self.clock, Event::Start(c));
        }
    }

    /// Sends node `i`'s datagrams, re-arms its timer, and hands what it
    /// reported to the world (a world event's doing, at its instant).
    fn collect(&mut self, i: u32) {
        for e in self.engine.collect(self.clock, i) {
            self.on_event(i, e);
        }
    }

    fn on_event(&mut self, i: u32, e: NodeEvent) {
        let now = self.now();
        match e {
            NodeEvent::Observed(o) => self.observe(i, &o),
            NodeEvent::Client(ce) => self.on_client(i, ce),
            NodeEvent::Baseline(be) => self.on_baseline(i, be),
            NodeEvent::Service(se) => self.on_service(i, &se),
            NodeEvent::Mint(MintEvent::PayoutRequested { quote, invoice }) => {
                let amount = invoice.amount.value();
                let payout = Event::Payout {
                    mint: i,
                    quote,
                    amount,
                };
                self.react(now, payout);
            }
            NodeEvent::PeerError(why) => {
                *self
                    .engine
                    .peer_errors
                    .entry(("application", why.kind()))
                    .or_default() += 1;
            }
            _ => {}
        }
    }

    /// A service's account event goes to its session's row (ground truth,
    /// for the ledger's scoring only).
    fn on_service(&mut self, i: u32, e: &ServiceEvent) {
        let Some(ledger) = self.ledger.as_mut() else {
            return;
        };
        let row = ServiceLedger::session_of(e).and_then(|h| self.truth.row_of((i, h)));
        if let Some(row) = row {
            ledger.record(row, e);
        }
    }

    /// Hands an observation to every watcher; checks honest ones.
    fn observe(&mut self, i: u32, o: &Observation) {
        let adversarial = self.engine.hosts[i as usize].slot.adversarial;
        let watchers: [&mut dyn Watcher; 3] = [&mut self.audit, &mut self.truth, &mut self.pool];
        for w in watchers {
            w.observed(i, adversarial, o);
        }
        if let (Some(l), Some((h, sat))) = (self.ledger.as_mut(), service_payment(o))
            && let Some(row) = self.truth.row_of((i, h))
        {
            l.paid(row, sat);
        }
        if adversarial {
            match o {
                Observation::LlmTorOperator(op) => self.operator_log.llm_tor(op),
                Observation::Api(a) => self.operator_log.api(a),
                _ => {}
            }
            if let (Some(judge), Observation::Hop(h)) = (self.judge.as_mut(), o) {
                judge.sighted(&self.pool, i, h);
                for p in judge.take_due() {
                    self.react(p.at, Event::Verdict(p));
                }
            }
            return;
        }
        if let Some(v) = self.honest.check(i, o, self.clock.as_nanos())
            && self.violation.is_none()
        {
            self.violation = Some(v);
        }
    }

    /// A baseline client's event (`system: llm_tor | direct`): LLM-Tor
    /// circuits are its sessions; the direct API's are its conversations
    /// (opened in [`World::start_conversation`]).
    fn on_baseline(&mut self, c: u32, e: BaselineEvent) {
        let now = self.now();
        match e {
            BaselineEvent::CircuitOpened {
                circuit, relays, ..
            } => {
                let route = self.route(&relays, self.operator, Kind::Operator);
                self.sessions.opened(c, circuit, route, now);
            }
            BaselineEvent::FirstToken { .. } => self.sessions.first_token(c, now),
            BaselineEvent::TurnDone(t) => {
                if let (Some(row), Some(token)) = (self.sessions.open_row(c), &t.token) {
                    self.truth.token_spent(row, token);
                }
                let answered = Answered {
                    row: self.sessions.open_row(c),
                    exit: self.operator,
                    started: t.started,
                    first_token: t.first_token,
                    done: t.done,
                    tokens: (t.input_tokens, t.output_tokens),
                    charged_msat: 0,
                    audit: None,
                    probe: None,
                };
                self.record_turn(c, answered);
                self.sessions.baseline_turn(c, &t);
                match self
                    .conversations
                    .turn_done(c, &self.scenario.workload, now)
                {
                    Some(t) => self.react(t, Event::NextTurn(c)),
                    None => self.conversation_over(c),
                }
            }
            BaselineEvent::TurnFailed { .. } => {
                if !self.sessions.turn_failed(c, "failed") {
                    self.failed_without_session += 1;
                }
                self.turns_abandoned += 1;
                self.conversation_over(c);
            }
            BaselineEvent::Purchased { .. } | BaselineEvent::TokensIssued { .. } => {}
        }
    }

    /// The hosts of a route through `relays` (entry first) to `exit`.
    fn route(&self, relays: &[peer2prompt::identity::NodeId], exit: u32, exit_kind: Kind) -> Route {
        let host =
            |id: &peer2prompt::identity::NodeId| self.engine.index_of_id(id).unwrap_or(u32::MAX);
        Route {
            entry: relays.first().map_or(u32::MAX, host),
            last: relays.last().map_or(u32::MAX, host),
            hops: relays.len() as u32,
            exit,
            exit_kind,
        }
    }

    /// Whether answered turns are kept (`turns.parquet`): under verified
    /// inference or substituting services, and for the baselines.
    pub fn keeps_turns(&self) -> bool {
        let s = &self.scenario;
        s.protocol.verification.is_some()
            || s.faults.substituting_services.is_some()
            || s.system.is_baseline()
            || s.workload.record_turns
    }

    /// A probe of client `c` failed on its latest session: a turn row
    /// with `probe` false (it has no answer to time).
    fn record_failed_probe(&mut self, c: u32) {
        let now = self.now();
        let Some(row) = self.sessions.open_row(c).or(self.sessions.last_row(c)) else {
            return;
        };
        let exit = self.sessions.rows[row].exit;
        let t = Answered {
            row: Some(row),
            exit,
            started: now,
            first_token: now,
            done: now,
            tokens: (0, 0),
            charged_msat: 0,
            audit: None,
            probe: Some(false),
        };
        self.record_turn(c, t);
    }

    fn record_turn(&mut self, c: u32, t: Answered) {
        if !self.keeps_turns() || t.started < self.measure_from {
            return;
        }
        let exit_substitutes = self
            .engine
            .hosts
            .get(t.exit as usize)
            .is_some_and(|h| population::substitute(&self.scenario, h.slot).is_some());
        self.turns.push(TurnRecord {
            session_id: t.row.map_or(u64::MAX, |r| r as u64),
            client: c,
            exit: t.exit,
            exit_substitutes,
            started_ns: t.started.as_nanos(),
            first_token_ns: t.first_token.as_nanos(),
            done_ns: t.done.as_nanos(),
            input_tokens: t.tokens.0,
            output_tokens: t.tokens.1,
            charged_msat: t.charged_msat,
            audit: t.audit,
            probe: t.probe,
        });
    }

    fn on_client(&mut self, c: u32, e: ClientEvent) {
        let now = self.now();
        match e {
            ClientEvent::PayInvoice {
                mint,
                quote,
                amount,
            } => {
                if let Some(mint) = self.engine.index_of_id(&mint) {
                    let settle = Event::Settle {
                        client: c,
                        mint,
                        quote,
                        amount,
                    };
                    self.react(now, settle);
                }
            }
            ClientEvent::SessionOpened {
                session,
                relays,
                exit,
                exit_role,
                ..
            } => {
                let host = |id: &peer2prompt::identity::NodeId| {
                    self.engine.index_of_id(id).unwrap_or(u32::MAX)
                };
                let kind = match exit_role {
                    Role::Gpu => Kind::Gpu,
                    _ => Kind::Ghost,
                };
                let route = self.route(&relays, host(&exit), kind);
                if now >= self.measure_from {
                    let hosts = relays.iter().map(host).collect();
                    self.audit.opened(c, session, hosts, route.exit);
                }
                self.sessions.opened(c, session, route, now);
            }
            ClientEvent::SessionClosed { session, .. } => self.sessions.closed(c, session, now),
            ClientEvent::FirstToken { at, .. } => self.sessions.first_token(c, at),
            ClientEvent::Paid {
                session,
                payment,
                first,
                ..
            } => {
                if first && let Some(r) = self.sessions.row_of(c, session) {
                    self.truth.paid(r, &payment);
                }
                self.audit.paid(c, session, &payment);
            }
            ClientEvent::TurnDone(rep) => {
                let row = self.sessions.row_of(c, rep.session);
                let exit = self.engine.index_of_id(&rep.exit).unwrap_or(u32::MAX);
                let audit = rep.audit.map(|a| match a {
                    AuditOutcome::Passed => "passed".to_owned(),
                    AuditOutcome::Caught(kind) => kind.to_owned(),
                    AuditOutcome::Uncommitted => "uncommitted".to_owned(),
                });
                let t = Answered {
                    row,
                    exit,
                    started: rep.started,
                    first_token: rep.first_token,
                    done: rep.done,
                    tokens: (rep.input_tokens, rep.output_tokens),
                    charged_msat: rep.charged_msat,
                    audit,
                    probe: rep.probe_passed,
                };
                self.record_turn(c, t);
                self.audit.answered(c, rep.session, &rep.response);
                self.sessions.turn_done(c, &rep);
                match self
                    .conversations
                    .turn_done(c, &self.scenario.workload, now)
                {
                    Some(t) => self.react(t, Event::NextTurn(c)),
                    None => self.conversation_over(c),
                }
            }
            ClientEvent::MintRejected { .. } => {
                self.rejected_a_mint.insert(c);
            }
            ClientEvent::TurnFailed {
                reason, retrying, ..
            } => {
                if reason == TurnFailure::ProbeFailed {
                    self.record_failed_probe(c);
                }
                if !self.sessions.turn_failed(c, reason.kind()) {
                    self.failed_without_session += 1;
                }
                if !retrying {
                    self.turns_abandoned += 1;
                    self.conversation_over(c);
                }
            }
            _ => {}
        }
    }

    /// Client `c` pays mint `m`'s quote over Lightning.
    fn settle(&mut self, c: u32, m: u32, quote: MintQuoteId, amount: u64) {
        let now = self.now();
        let payer = self.lightning.payer(c);
        let paid = self.engine.hosts[m as usize].node.lightning_payment(
            now,
            LightningPayment {
                quote,
                amount: Amount::new(amount),
                payer,
            },
        );
        if paid.is_ok() {
            self.lightning.totals.funded += amount;
            let _ = self.engine.hosts[c as usize].node.invoice_paid(now, quote);
        }
        self.collect(m);
        self.collect(c);
    }

    /// The node with this address.
    pub fn index_of(&self, addr: &SocketAddr) -> Option<u32> {
        self.engine.index_of(addr)
    }

    /// Value conservation over every mint, now (see
    /// [`checks::conservation`]).
    pub fn check_conservation(&mut self) -> Result<(), Violation> {
        self.checks += 1;
        checks::conservation(
            &self.engine.hosts,
            self.lightning.totals,
            self.now().as_nanos(),
        )
    }

    fn check_conservation_now(&mut self) {
        if let Err(v) = self.check_conservation()
            && self.violation.is_none()
        {
            self.violation = Some(v);
        }
    }

    /// Starts no further turns or conversations.
    pub fn stop_workload(&mut self) {
        self.conversations.stop();
    }

    /// Whether session row `row` opened in the measured period (what the
    /// per-session tables keep).
    pub fn measured(&self, row: usize) -> bool {
        self.sessions
            .rows
            .get(row)
            .is_some_and(|s| s.started >= self.measure_from)
    }

    /// Conversations started in the measured period.
    pub fn conversations(&self) -> u64 {
        self.conversations.started
    }

    /// Nodes that went offline.
    pub fn departures(&self) -> u64 {
        self.churn.departures
    }

    /// Invariant checks run (honest observations and conservation).
    pub fn invariant_checks(&self) -> u64 {
        self.checks + self.honest.checks
    }
}
