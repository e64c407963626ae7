//! An in-process world of real nodes: relays, Ghosts, a GPU node, mints and
//! clients on a virtual clock with fixed link latency. The driver plays
//! Lightning: it pays the invoices clients ask for and settles payouts.
//! `World::ask` carries one prompt the whole way and returns the outcome.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::backend::InferenceBackend;
use peer2prompt::backend::dist::Dist;
use peer2prompt::backend::simulated::{SimulatedBackend, SimulatedParams, TranscriptMode};
use peer2prompt::baselines::llm_tor::{IssuerKey, IssuerPublicKey, OperatorConfig};
use peer2prompt::dht::{AdvertPolicy, DhtConfig, Role};
use peer2prompt::ecash::messages::CheckStateRequest;
use peer2prompt::ecash::mint::ys_of;
use peer2prompt::ecash::{
    Amount, LightningPayer, LightningPayment, MintConfig, PayerId, PayoutOutcome, Proof,
    WalletPolicy,
};
use peer2prompt::fidelity::CryptoFidelity;
use peer2prompt::identity::{EpochClock, Identity, IdentityParams, NodeId};
use peer2prompt::market::{CostModel, FxRate};
use peer2prompt::node::baseline::{
    ApiClientConfig, ApiProviderConfig, BaselineRole, LlmTorClientConfig, LlmTorProxyConfig,
};
use peer2prompt::node::{
    Advertise, AuditPolicy, ClientEvent, ClientRoleConfig, HoldConfig, MintEvent, MintRoleConfig,
    Node, NodeConfig, NodeEvent, Observation, Offer, ServiceConfig, ServiceEvent, ServiceKind,
    Settlement, TurnFailure, TurnReport,
};
#[cfg(feature = "adversary")]
use peer2prompt::node::{MintAdversary, ServiceAdversary};
#[cfg(feature = "adversary")]
use peer2prompt::onion::relay::RelayAdversary;
use peer2prompt::onion::route::RoutePolicy;
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::vnet::{Step, VirtualNet};

pub const PARAMS: IdentityParams = IdentityParams {
    puzzle_c1: 1,
    pow_difficulty: 4,
    fidelity: CryptoFidelity::Full,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Relay,
    Ghost,
    Gpu,
    Mint,
    Client,
    /// Baselines (with `Spec::baselines`): the LLM-Tor proxy and a user of
    /// it, a provider API and a direct user of it.
    LlmTorProxy,
    LlmTorUser,
    ApiProvider,
    ApiUser,
}

/// How to build a world.
#[derive(Clone, Debug)]
pub struct Spec {
    pub relays: usize,
    pub ghosts: usize,
    pub gpus: usize,
    pub clients: usize,
    pub seed: u64,
    pub settlement: Settlement,
    /// Adversarial services, by node index.
    #[cfg(feature = "adversary")]
    pub adversary: HashMap<usize, ServiceAdversary>,
    /// Adversarial relays, by node index.
    #[cfg(feature = "adversary")]
    pub relay_adversary: HashMap<usize, RelayAdversary>,
    #[cfg(feature = "adversary")]
    pub mint_adversary: MintAdversary,
    pub audit_keysets: bool,
    pub context_window: u64,
    pub turns_per_session: u32,
    pub services: Vec<Role>,
    #[cfg(feature = "adversary")]
    pub double_spender: Option<usize>,
    pub mailbox: bool,
    pub chunk_msat: u64,
    pub output_tokens: f64,
    /// Cover traffic mean gap.
    pub cover: Option<Duration>,
    /// Mint batch interval.
    pub mint_batch: Option<Duration>,
    /// Append the baselines' nodes (see [`Kind::LlmTorProxy`]).
    pub baselines: bool,
    /// LLM-Tor: tokens bought at once.
    pub tokens_per_purchase: u32,
    /// Verified inference: services' backends keep transcripts.
    pub transcripts: bool,
    /// Services (node indices) that serve a cheaper model than they
    /// advertise, and the per-step probability its logits differ.
    pub substitutes: Vec<usize>,
    pub p_diff: f64,
    /// The clients' audit policy.
    pub audit: Option<AuditPolicy>,
    /// Clients report each streamed piece of a reply.
    pub stream_text: bool,
    /// Directory lookups a node runs at once.
    pub directory_lookups: Option<usize>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            relays: 8,
            ghosts: 2,
            gpus: 1,
            clients: 1,
            seed: 1,
            settlement: Settlement::Immediate,
            #[cfg(feature = "adversary")]
            adversary: HashMap::new(),
            #[cfg(feature = "adversary")]
            relay_adversary: HashMap::new(),
            #[cfg(feature = "adversary")]
            mint_adversary: MintAdversary::default(),
            audit_keysets: true,
            context_window: 128_000,
            turns_per_session: 10,
            services: vec![Role::Ghost, Role::Gpu],
            #[cfg(feature = "adversary")]
            double_spender: None,
            mailbox: false,
            chunk_msat: 2_000,
            output_tokens: 300.0,
            cover: None,
            mint_batch: None,
            baselines: false,
            tokens_per_purchase: 4,
            transcripts: false,
            substitutes: Vec::new(),
            p_diff: 0.3,
            audit: None,
            stream_text: false,
            directory_lookups: None,
        }
    }
}

pub struct Entity {
    pub kind: Kind,
    pub node: Node,
    pub events: Vec<NodeEvent>,
}

pub struct World {
    pub net: VirtualNet,
    pub nodes: Vec<Entity>,
    by_addr: HashMap<SocketAddr, usize>,
    pub funded: u64,
    pub paid_out: u64,
    /// Every datagram: (from, to, protocol tag, size).
    pub sizes: Vec<(usize, usize, u8, usize)>,
    /// Every datagram's bytes, when capturing (the fuzz seed corpus).
    pub capture: Option<Vec<Vec<u8>>>,
}

pub fn dht_config() -> DhtConfig {
    DhtConfig {
        k: 8,
        alpha: 3,
        paths: 1,
        rpc_timeout: Duration::from_secs(2),
        fail_limit: 3,
        refresh_interval: Duration::from_secs(3600),
        republish_interval: Duration::from_secs(1200),
        policy: AdvertPolicy {
            identity: PARAMS,
            epochs: EpochClock {
                length: Duration::from_secs(6 * 3600),
            },
            grace: Duration::from_secs(600),
        },
        max_adverts_per_key: 64,
        max_keys: 1024,
    }
}

pub fn offer(chunk_msat: u64) -> Offer {
    let fx = FxRate::default();
    Offer {
        model: "gpt-4o".into(),
        input: fx.price(5.0),
        output: fx.price(20.0),
        max_output_tokens: 2000,
        chunk_msat,
    }
}

fn base_config() -> NodeConfig {
    NodeConfig {
        dht: dht_config(),
        route: RoutePolicy {
            relays: 3,
            ..RoutePolicy::default()
        },
        ..NodeConfig::default()
    }
}

pub fn client_config(spec: &Spec, double_spend: bool) -> ClientRoleConfig {
    #[cfg(not(feature = "adversary"))]
    assert!(!double_spend, "double spenders need the adversary feature");
    ClientRoleConfig {
        model: "gpt-4o".into(),
        max_output_tokens: 1000,
        services: spec.services.clone(),
        turns_per_session: spec.turns_per_session,
        context_window: spec.context_window,
        turn_timeout: Duration::from_secs(8),
        max_attempts: 4,
        mint_timeout: Duration::from_secs(8),
        wallet: WalletPolicy::default(),
        hold: HoldConfig::None,
        audit_keysets: spec.audit_keysets,
        mailbox_poll: spec.mailbox.then(|| Duration::from_millis(250)),
        #[cfg(feature = "adversary")]
        dangerous_double_spend: double_spend,
        cover_mean_gap: spec.cover,
        top_up: None,
        price_choice: None,
        audit: spec.audit,
        stream_text: spec.stream_text,
    }
}

/// An LLM-Tor user of the proxy at `proxy`.
pub fn llm_tor_user(
    spec: &Spec,
    proxy: SocketAddr,
    proxy_node: NodeId,
    issuer: IssuerPublicKey,
) -> LlmTorClientConfig {
    LlmTorClientConfig {
        proxy,
        proxy_node,
        issuer,
        account: "tor-user".into(),
        payer: "card-4242".into(),
        model: "gpt-4o".into(),
        max_output_tokens: 1000,
        context_window: spec.context_window,
        tokens_per_purchase: spec.tokens_per_purchase,
        circuit_lifetime: Duration::from_secs(600),
        timeout: Duration::from_secs(8),
        attempts: 3,
    }
}

/// The mint: a 100 ppk input fee and the spec's batching.
fn mint_role(spec: &Spec) -> MintRoleConfig {
    MintRoleConfig {
        mint: MintConfig {
            input_fee_ppk: 100,
            ..MintConfig::default()
        },
        #[cfg(feature = "adversary")]
        dangerous_behaviour: spec.mint_adversary,
        batch: spec.mint_batch,
    }
}

/// A Ghost's or GPU node's service: the spec's offer, settlement and, for
/// the tests that need one, its misbehaviour.
#[cfg_attr(not(feature = "adversary"), allow(unused_variables))]
fn service_config(spec: &Spec, kind: Kind, i: usize) -> ServiceConfig {
    ServiceConfig {
        kind: if kind == Kind::Ghost {
            ServiceKind::Ghost
        } else {
            ServiceKind::Gpu { quality: 0.8 }
        },
        offers: vec![offer(spec.chunk_msat)],
        quote_ttl: Duration::from_secs(3600),
        settlement: spec.settlement,
        max_concurrent: 16,
        mint_timeout: Duration::from_secs(5),
        cost: if kind == Kind::Ghost {
            CostModel::PerToken {
                input: FxRate::default().price(2.5),
                output: FxRate::default().price(10.0),
            }
        } else {
            CostModel::Hardware {
                msat_per_hour: 1_800_000,
                prefill_tokens_per_s: 2000.0,
                decode_tokens_per_s: 40.0,
            }
        },
        #[cfg(feature = "adversary")]
        dangerous_behaviour: spec.adversary.get(&i).copied().unwrap_or_default(),
    }
}

/// The simulated model behind a service: fixed TTFT and output length.
fn service_backend(
    spec: &Spec,
    kind: Kind,
    i: usize,
    addr: SocketAddr,
) -> Box<dyn InferenceBackend> {
    let params = SimulatedParams {
        ttft_s: Dist::Fixed { value: 0.4 },
        tokens_per_s: if kind == Kind::Ghost { 80.0 } else { 40.0 },
        output_tokens: Dist::Fixed {
            value: spec.output_tokens,
        },
        transcripts: spec.transcripts.then(|| TranscriptMode {
            substitute: spec
                .substitutes
                .contains(&i)
                .then(|| ("cheap-model".to_owned(), spec.p_diff)),
        }),
        ..SimulatedParams::default()
    };
    Box::new(SimulatedBackend::new(
        params,
        addr,
        ChaCha20Rng::seed_from_u64(spec.seed * 100 + i as u64),
    ))
}

impl World {
    pub fn new(spec: &Spec) -> Self {
        Self::build(spec, false)
    }

    /// A world that keeps every datagram's bytes from the first one on.
    pub fn capturing(spec: &Spec) -> Self {
        Self::build(spec, true)
    }

    fn build(spec: &Spec, capture: bool) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
        let mut kinds = vec![Kind::Mint];
        kinds.extend(std::iter::repeat_n(Kind::Relay, spec.relays));
        kinds.extend(std::iter::repeat_n(Kind::Ghost, spec.ghosts));
        kinds.extend(std::iter::repeat_n(Kind::Gpu, spec.gpus));
        kinds.extend(std::iter::repeat_n(Kind::Client, spec.clients));
        if spec.baselines {
            kinds.extend([
                Kind::LlmTorProxy,
                Kind::LlmTorUser,
                Kind::ApiProvider,
                Kind::ApiUser,
            ]);
        }
        // Drawn from its own stream so that the other nodes' keys do not move.
        let issuer = spec.baselines.then(|| {
            IssuerKey::generate(&mut ChaCha20Rng::seed_from_u64(spec.seed + 0x1175)).unwrap()
        });
        let mut proxy: Option<(SocketAddr, NodeId)> = None;
        let mut provider: Option<SocketAddr> = None;
        let mut nodes = Vec::new();
        let mut client_idx = 0;
        for (i, kind) in kinds.iter().enumerate() {
            let identity = Arc::new(Identity::generate_with(&mut rng, PARAMS));
            // Every node in its own /16 (and so its own AS under PrefixAsAsn).
            let addr = SocketAddr::from(([10, i as u8 + 1, 0, 1], 9000));
            let mut cfg = base_config();
            cfg.directory_lookups = spec.directory_lookups;
            let mut backend: Option<Box<dyn InferenceBackend>> = None;
            match kind {
                Kind::Relay => {
                    #[cfg(feature = "adversary")]
                    {
                        cfg.relay.dangerous_behaviour =
                            spec.relay_adversary.get(&i).copied().unwrap_or_default();
                    }
                    cfg.advertise = Some(Advertise {
                        role: Role::Relay,
                        bandwidth: 1_000_000,
                        family: None,
                    });
                }
                Kind::Mint => {
                    cfg.advertise = Some(Advertise {
                        role: Role::Mint,
                        bandwidth: 1,
                        family: None,
                    });
                    cfg.mint = Some(mint_role(spec));
                }
                Kind::Ghost | Kind::Gpu => {
                    let role = if *kind == Kind::Ghost {
                        Role::Ghost
                    } else {
                        Role::Gpu
                    };
                    cfg.advertise = Some(Advertise {
                        role,
                        bandwidth: 1,
                        family: None,
                    });
                    cfg.service = Some(service_config(spec, *kind, i));
                    backend = Some(service_backend(spec, *kind, i, addr));
                }
                Kind::Client => {
                    #[cfg(feature = "adversary")]
                    let cheat = spec.double_spender == Some(client_idx);
                    // Without the feature no client can double-spend.
                    #[cfg(not(feature = "adversary"))]
                    let cheat = {
                        let _ = client_idx;
                        false
                    };
                    client_idx += 1;
                    cfg.client = Some(client_config(spec, cheat));
                }
                Kind::LlmTorProxy => {
                    let key = issuer.clone().unwrap();
                    proxy = Some((addr, identity.node_id()));
                    cfg.baseline = Some(BaselineRole::LlmTorProxy(LlmTorProxyConfig {
                        key,
                        operator: OperatorConfig::default(),
                    }));
                    backend = Some(service_backend(spec, Kind::Ghost, i, addr));
                }
                Kind::LlmTorUser => {
                    let (proxy, proxy_node) = proxy.unwrap();
                    let issuer = issuer.as_ref().unwrap().public().clone();
                    cfg.baseline = Some(BaselineRole::LlmTorClient(llm_tor_user(
                        spec, proxy, proxy_node, issuer,
                    )));
                }
                Kind::ApiProvider => {
                    provider = Some(addr);
                    cfg.baseline = Some(BaselineRole::ApiProvider(ApiProviderConfig::default()));
                    backend = Some(service_backend(spec, Kind::Ghost, i, addr));
                }
                Kind::ApiUser => {
                    cfg.baseline = Some(BaselineRole::ApiClient(ApiClientConfig {
                        provider: provider.unwrap(),
                        account: "api-user".into(),
                        model: "gpt-4o".into(),
                        max_output_tokens: 1000,
                        context_window: spec.context_window,
                        timeout: Duration::from_secs(8),
                        attempts: 3,
                    }));
                }
            }
            let node = Node::new(
                identity,
                addr,
                cfg,
                ChaCha20Rng::seed_from_u64(spec.seed * 10_000 + i as u64),
                ChaCha20Rng::seed_from_u64(spec.seed * 20_000 + i as u64),
                backend,
            )
            .unwrap();
            nodes.push(Entity {
                kind: *kind,
                node,
                events: Vec::new(),
            });
        }
        let by_addr = nodes
            .iter()
            .enumerate()
            .map(|(i, e)| (e.node.addr(), i))
            .collect();
        let n = nodes.len();
        let mut w = World {
            net: VirtualNet::new(n, Duration::from_millis(25)),
            nodes,
            by_addr,
            funded: 0,
            paid_out: 0,
            sizes: Vec::new(),
            capture: capture.then(Vec::new),
        };
        w.bootstrap();
        w
    }

    /// A world whose first client holds `sat` of ecash; returns it and that client.
    pub fn funded(spec: &Spec, sat: u64) -> (World, usize) {
        let mut w = World::new(spec);
        let c = w.index(Kind::Client, 0);
        w.fund(c, sat);
        (w, c)
    }

    pub fn index(&self, kind: Kind, nth: usize) -> usize {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == kind)
            .nth(nth)
            .map(|(i, _)| i)
            .unwrap()
    }

    pub fn all(&self, kind: Kind) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == kind)
            .map(|(i, _)| i)
            .collect()
    }

    fn bootstrap(&mut self) {
        // Infrastructure first (every non-client seeds from the first four),
        // then clients, then a directory refresh everywhere.
        let seeds: Vec<SocketAddr> = (0..4).map(|i| self.nodes[i].node.addr()).collect();
        let n = self.nodes.len();
        let now = self.net.now;
        for i in 0..n {
            if self.nodes[i].kind != Kind::Client {
                self.nodes[i]
                    .node
                    .bootstrap(now, &[seeds.clone(), seeds[..2].to_vec()]);
                self.collect(i);
            }
        }
        self.run(Duration::from_secs(20));
        let now = self.net.now;
        for i in 0..n {
            if self.nodes[i].kind == Kind::Client {
                self.nodes[i]
                    .node
                    .bootstrap(now, &[seeds.clone(), seeds[2..].to_vec()]);
                self.collect(i);
            }
        }
        self.run(Duration::from_secs(20));
        let now = self.net.now;
        for i in 0..n {
            if self.nodes[i].kind != Kind::Relay {
                self.nodes[i].node.refresh_directory(now);
                self.collect(i);
            }
        }
        self.run(Duration::from_secs(20));
    }

    /// Collects node `i`'s outputs, plays Lightning for its requests, and
    /// re-arms its timer.
    pub fn collect(&mut self, i: usize) {
        let now = self.net.now;
        while let Some(t) = self.nodes[i].node.poll_transmit() {
            if let Some(&to) = self.by_addr.get(&t.to) {
                self.sizes
                    .push((i, to, t.bytes.first().copied().unwrap_or(0), t.bytes.len()));
                if let Some(c) = self.capture.as_mut() {
                    c.push(t.bytes.clone());
                }
                self.net.send(i, to, t.bytes);
            }
        }
        let mut lightning = Vec::new();
        while let Some(e) = self.nodes[i].node.poll_event() {
            match &e {
                NodeEvent::Client(ClientEvent::PayInvoice {
                    mint,
                    quote,
                    amount,
                }) => {
                    lightning.push((*mint, *quote, *amount, i));
                }
                NodeEvent::Mint(MintEvent::PayoutRequested { quote, invoice }) => {
                    self.paid_out += invoice.amount.value();
                    let q = *quote;
                    self.nodes[i]
                        .node
                        .lightning_payout(now, q, PayoutOutcome::Paid)
                        .unwrap();
                }
                _ => {}
            }
            self.nodes[i].events.push(e);
        }
        for (mint, quote, amount, client) in lightning {
            let m = self
                .nodes
                .iter()
                .position(|e| e.node.identity().node_id() == mint)
                .unwrap();
            self.nodes[m]
                .node
                .lightning_payment(
                    now,
                    LightningPayment {
                        quote,
                        amount: Amount::new(amount),
                        payer: LightningPayer::Node(PayerId(client as u64)),
                    },
                )
                .unwrap();
            self.funded += amount;
            self.nodes[client].node.invoice_paid(now, quote).unwrap();
            self.collect(m);
            self.collect(client);
        }
        let t = self.nodes[i].node.poll_timeout();
        self.net.arm(i, t);
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.net.now
    }

    /// Runs until quiet or `horizon` passes; stops early when `done` holds.
    pub fn run_until(&mut self, horizon: Duration, done: impl Fn(&World) -> bool) {
        let end = self.net.now + horizon;
        while !done(self) {
            match self.net.next(end) {
                Some(Step::Deliver {
                    at,
                    from,
                    to,
                    bytes,
                }) => {
                    let from_addr = self.nodes[from].node.addr();
                    let _ = self.nodes[to].node.handle(at, from_addr, &bytes);
                    self.collect(to);
                }
                Some(Step::Timeout { at, node }) => {
                    self.nodes[node].node.handle_timeout(at);
                    self.collect(node);
                }
                None => break,
            }
        }
    }

    pub fn run(&mut self, horizon: Duration) {
        self.run_until(horizon, |_| false);
    }

    /// Funds client `c` with `sat` and waits for the ecash.
    pub fn fund(&mut self, c: usize, sat: u64) {
        let now = self.net.now;
        self.nodes[c].node.fund(now, sat).unwrap();
        self.collect(c);
        self.run_until(Duration::from_secs(30), |w| {
            w.nodes[c]
                .events
                .iter()
                .any(|e| matches!(e, NodeEvent::Client(ClientEvent::Funded { .. })))
        });
        assert!(
            self.nodes[c]
                .events
                .iter()
                .any(|e| matches!(e, NodeEvent::Client(ClientEvent::Funded { .. }))),
            "client {c} was not funded"
        );
    }

    /// Carries `prompt` from client `c` the whole way and back: discovery,
    /// quote, session, service, provider, streamed reply, chunked payment.
    pub fn ask(&mut self, c: usize, prompt: &[u8]) -> Result<TurnReport, Vec<TurnFailure>> {
        self.ask_with(c, prompt, false)
    }

    pub fn ask_with(
        &mut self,
        c: usize,
        prompt: &[u8],
        probe: bool,
    ) -> Result<TurnReport, Vec<TurnFailure>> {
        let id = self.start_ask(c, prompt, probe);
        self.finish_ask(c, id)
    }

    /// Hands client `c` a request; returns its id.
    pub fn start_ask(&mut self, c: usize, prompt: &[u8], probe: bool) -> u64 {
        let now = self.net.now;
        let id = self.nodes[c].node.ask(now, prompt.to_vec(), probe).unwrap();
        self.collect(c);
        id
    }

    /// Runs until request `id` of client `c` finished or failed for good.
    pub fn finish_ask(&mut self, c: usize, id: u64) -> Result<TurnReport, Vec<TurnFailure>> {
        let finished = move |w: &World| {
            w.nodes[c].events.iter().any(|e| match e {
                NodeEvent::Client(ClientEvent::TurnDone(r)) => r.request == id,
                NodeEvent::Client(ClientEvent::TurnFailed {
                    request, retrying, ..
                }) => *request == id && !retrying,
                _ => false,
            })
        };
        self.run_until(Duration::from_secs(120), finished);
        // Let settlement and reclaims finish.
        self.run(Duration::from_secs(3));
        let mut failures = Vec::new();
        for e in &self.nodes[c].events {
            match e {
                NodeEvent::Client(ClientEvent::TurnDone(r)) if r.request == id => {
                    return Ok(r.clone());
                }
                NodeEvent::Client(ClientEvent::TurnFailed {
                    request, reason, ..
                }) if *request == id => failures.push(reason.clone()),
                _ => {}
            }
        }
        Err(failures)
    }

    pub fn addr_of(&self, id: &NodeId) -> SocketAddr {
        self.nodes
            .iter()
            .find(|e| e.node.identity().node_id() == *id)
            .unwrap()
            .node
            .addr()
    }

    pub fn index_of(&self, id: &NodeId) -> usize {
        self.nodes
            .iter()
            .position(|e| e.node.identity().node_id() == *id)
            .unwrap()
    }

    pub fn client_events(&self, c: usize) -> Vec<ClientEvent> {
        self.nodes[c]
            .events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::Client(x) => Some(x.clone()),
                _ => None,
            })
            .collect()
    }

    /// Sessions client `c` opened: (session, relays, exit).
    pub fn sessions_opened(&self, c: usize) -> Vec<(u64, Vec<NodeId>, NodeId)> {
        self.client_events(c)
            .into_iter()
            .filter_map(|e| match e {
                ClientEvent::SessionOpened {
                    session,
                    relays,
                    exit,
                    ..
                } => Some((session, relays, exit)),
                _ => None,
            })
            .collect()
    }

    /// Payments client `c` sent for `request`: (session, amount, payment Ys).
    pub fn paid_events(
        &self,
        c: usize,
        request: u64,
    ) -> Vec<(u64, u64, Vec<secp256k1::PublicKey>)> {
        self.client_events(c)
            .into_iter()
            .filter_map(|e| match e {
                ClientEvent::Paid {
                    request: r,
                    session,
                    amount,
                    payment,
                    ..
                } if r == request => Some((session, amount, payment)),
                _ => None,
            })
            .collect()
    }

    /// Forgets recorded events and datagram sizes (long benchmark runs).
    pub fn clear_events(&mut self) {
        for e in &mut self.nodes {
            e.events.clear();
        }
        self.sizes.clear();
    }

    pub fn service_events(&self, i: usize) -> Vec<ServiceEvent> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::Service(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn observations(&self, i: usize) -> Vec<Observation> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::Observed(o) => Some(o.clone()),
                _ => None,
            })
            .collect()
    }

    /// Value conservation: every unspent proof anyone holds, counted once,
    /// plus what left over Lightning and the mint's fees, equals what was
    /// minted; and the mint's books agree that no unspent proof is orphaned.
    pub fn assert_conserved(&self) {
        let mint_idx = self.index(Kind::Mint, 0);
        let mint = self.nodes[mint_idx].node.mint().unwrap();
        mint.audit();
        let mut held: HashMap<[u8; 33], Proof> = HashMap::new();
        for e in &self.nodes {
            let mut proofs: Vec<Proof> = Vec::new();
            for w in [e.node.client_wallet(), e.node.service_wallet()]
                .into_iter()
                .flatten()
            {
                for url in w.mints() {
                    proofs.extend(w.proofs(url).iter().map(|h| h.proof.clone()));
                }
            }
            proofs.extend(e.node.client_outstanding());
            proofs.extend(e.node.in_flight_proofs());
            for p in proofs {
                held.insert(p.y().unwrap().serialize(), p);
            }
        }
        let proofs: Vec<Proof> = held.into_values().collect();
        let states = mint.check_state(&CheckStateRequest {
            ys: ys_of(&proofs).unwrap(),
        });
        let unspent: u64 = proofs
            .iter()
            .zip(&states.states)
            .filter(|(_, s)| s.state == peer2prompt::ecash::messages::ProofState::Unspent)
            .map(|(p, _)| p.amount.value())
            .sum();
        let ledger = mint.ledger();
        assert_eq!(ledger.lightning_in.value(), self.funded, "minted");
        assert_eq!(
            unspent,
            ledger.outstanding().value(),
            "every unspent proof is held by someone"
        );
        assert_eq!(
            unspent + ledger.fees_collected.value() + ledger.lightning_out.value(),
            self.funded,
            "held + fees + paid out == minted"
        );
    }

    pub fn balance(&self, i: usize) -> u64 {
        let e = &self.nodes[i];
        [e.node.client_wallet(), e.node.service_wallet()]
            .into_iter()
            .flatten()
            .map(|w| w.total_balance().value())
            .sum()
    }
}
