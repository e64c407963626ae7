//! Who takes part: the scenario's roles turned into real protocol nodes
//! (whitepaper "Roles"), each with its own identity, streams and place in the
//! topology. Adversarial nodes are ordinary nodes whose observations the
//! adversary pools (this adversary is passive inside the protocol).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::backend::InferenceBackend;
use peer2prompt::backend::dist::Dist;
use peer2prompt::backend::simulated::{SimulatedBackend, SimulatedParams, TranscriptMode};
use peer2prompt::dht::{AdvertPolicy, DhtConfig, Role};
use peer2prompt::ecash::{MintConfig, WalletPolicy};
use peer2prompt::identity::{EpochClock, Identity, IdentityParams};
use peer2prompt::market::{CostModel, FxRate};
use peer2prompt::node::{
    Advertise, AuditPolicy, ClientRoleConfig, HoldConfig, MintAdversary, MintRoleConfig,
    NetworkInfo, Node, NodeConfig, Offer, ServiceAdversary, ServiceConfig, ServiceKind, Settlement,
    TopUp,
};
use peer2prompt::onion::client::ClientConfig;
use peer2prompt::onion::relay::{RelayAdversary, RelayConfig};
use peer2prompt::onion::route::{GuardPolicy, RelayWeighting, RoutePolicy};
use peer2prompt::onion::shaping::{ConstantRate, DownstreamShaping};
use peer2prompt::time::{Duration, Instant};

use crate::baseline;
use crate::engine::Host;
use crate::network::Attachment;
use crate::rng::{self, Purpose, Streams};
use crate::scenario::{ProtocolSpec, RelayWeightingSpec, Scenario};
use crate::topology::Topology;

/// A node's role in the population.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Ecash mint.
    Mint,
    /// Onion relay.
    Relay,
    /// Ghost node.
    Ghost,
    /// GPU node.
    Gpu,
    /// A client: it opens sessions and pays for them.
    Client,
    /// A DHT-only node of the adversary, its id ground near an advert key
    /// (`adversary::dht_attack`): it advertises nothing.
    DhtSybil,
    /// A baseline's operator (`system: llm_tor` or `direct`): the LLM-Tor
    /// proxy or the provider's API.
    Operator,
}

impl Kind {
    /// A Ghost or a GPU node: a service at the end of circuits.
    pub fn is_service(self) -> bool {
        matches!(self, Kind::Ghost | Kind::Gpu)
    }

    /// The name used in datasets.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mint => "mint",
            Kind::Relay => "relay",
            Kind::Ghost => "ghost",
            Kind::Gpu => "gpu",
            Kind::Client => "client",
            Kind::DhtSybil => "dht_sybil",
            Kind::Operator => "operator",
        }
    }

    /// Stream entity prefix: streams are keyed by (kind, index within kind),
    /// so adding a client never shifts a relay's streams.
    fn tag(self) -> u64 {
        self as u64 + 1
    }
}

/// One planned node: its kind, index within the kind, and whether the
/// adversary runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// What the node does in the network.
    pub kind: Kind,
    /// Index among nodes of this kind.
    pub nth: u32,
    /// Run by the adversary.
    pub adversarial: bool,
}

impl Slot {
    /// The entity id its streams derive from.
    pub fn entity(&self) -> u64 {
        (self.kind.tag() << 40) | u64::from(self.nth)
    }
}

/// The identity puzzle parameters of a scenario.
pub fn identity_params(s: &Scenario) -> IdentityParams {
    IdentityParams {
        puzzle_c1: 1,
        pow_difficulty: u32::from(s.population.identity_pow_bits),
        fidelity: s.fidelity.crypto(),
    }
}

fn dht_config(s: &Scenario) -> DhtConfig {
    DhtConfig {
        policy: AdvertPolicy {
            identity: identity_params(s),
            epochs: EpochClock {
                length: Duration::from_secs(24 * 3600),
            },
            grace: Duration::from_secs(600),
        },
        paths: s.protocol.disjoint_lookups.max(1) as usize,
        ..DhtConfig::default()
    }
}

/// The offer a service publishes: the scenario's prices, scaled for the
/// adversary's exits under `protocol.exit_pricing`.
fn offer(s: &Scenario, adversarial: bool) -> Offer {
    let fx = FxRate::default();
    let scale = match &s.protocol.exit_pricing {
        Some(p) if adversarial => p.adversary_factor / p.honest_factor.max(1e-12),
        _ => 1.0,
    };
    Offer {
        model: s.workload.model.clone(),
        input: fx.price(s.protocol.price_in_usd_per_mtok * scale),
        output: fx.price(s.protocol.price_out_usd_per_mtok * scale),
        max_output_tokens: u32::try_from(s.workload.max_output_tokens).unwrap_or(u32::MAX),
        chunk_msat: s.protocol.chunk_msat,
    }
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1_000.0)
}

/// The endpoints' downstream shaping (`protocol.downstream_cover_rate_per_s`,
/// `protocol.constant_rate`).
fn downstream(p: &ProtocolSpec) -> DownstreamShaping {
    DownstreamShaping {
        cover_mean_gap: (p.downstream_cover_rate_per_s > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / p.downstream_cover_rate_per_s)),
        constant_rate: p.constant_rate.as_ref().map(|c| ConstantRate {
            gap: Duration::from_secs_f64(1.0 / c.cells_per_s),
            tail: ms(c.tail_ms),
            quantum: c.quantum_cells,
        }),
    }
}

/// What every node runs: DHT, relay, route policy.
fn base_config(s: &Scenario, net: Arc<dyn NetworkInfo>) -> NodeConfig {
    let [lo, hi] = s.protocol.hop_delay_ms;
    NodeConfig {
        dht: dht_config(s),
        relay: RelayConfig {
            delay: (hi > 0.0).then(|| (ms(lo), ms(hi))),
            downstream: downstream(&s.protocol),
            ..RelayConfig::default()
        },
        onion: ClientConfig {
            build_timeout: Duration::from_secs_f64(s.protocol.circuit_build_timeout_s),
            ..ClientConfig::default()
        },
        route: RoutePolicy {
            relays: s.protocol.relays_per_route as usize,
            guards: GuardPolicy {
                enabled: s.protocol.guards.enabled,
                count: s.protocol.guards.count as usize,
                rotation: Duration::from_secs_f64(s.protocol.guards.rotation_days * 86_400.0),
            },
            weighting: match s.protocol.relay_weighting {
                RelayWeightingSpec::Uniform => RelayWeighting::Uniform,
                RelayWeightingSpec::Bandwidth => RelayWeighting::Bandwidth,
            },
            ..RoutePolicy::default()
        },
        onion_grace: Duration::from_secs(600),
        suspect_for: Duration::from_secs(600),
        shards: s.protocol.shards,
        service_shards: s.protocol.service_shards,
        relay_shards_read: s.protocol.relay_shards_read,
        exit_shards_read: s.protocol.exit_shards_read,
        directory_lookups: s.protocol.directory_lookups.map(|n| n as usize),
        advertise: None,
        client: None,
        service: None,
        mint: None,
        baseline: None,
        net,
    }
}

/// The bandwidth relay `slot` advertises, bytes/s: a draw from
/// `population.relay_bandwidth` (Mbit/s; 8 Mbit/s if unset), times
/// `adversary.advertised_bandwidth_factor` at the adversary's relays.
pub fn advertised_bandwidth(s: &Scenario, streams: &Streams, slot: Slot) -> u64 {
    let mbps = match &s.population.relay_bandwidth {
        Some(d) => d
            .sample(&mut streams.stream(slot.entity(), Purpose::Bandwidth))
            .max(0.001),
        None => 8.0,
    };
    let k = match s.adversary.advertised_bandwidth_factor {
        Some(k) if slot.adversarial => k,
        _ => 1.0,
    };
    (mbps * k * 1e6 / 8.0).round() as u64
}

fn advertise(role: Role, bandwidth: u64) -> Option<Advertise> {
    Some(Advertise {
        role,
        bandwidth,
        family: None,
    })
}

/// The mint role: 10% input fee, the scenario's batching and key tagging.
fn mint_config(s: &Scenario, slot: Slot) -> MintRoleConfig {
    MintRoleConfig {
        mint: MintConfig {
            input_fee_ppk: 100,
            ..MintConfig::default()
        },
        dangerous_behaviour: MintAdversary {
            tag_per_mille: s
                .adversary
                .key_tagging
                .as_ref()
                .filter(|k| slot.nth < k.mints)
                .map_or(0, |k| (k.share.get() * 1000.0).round() as u16),
            ..MintAdversary::default()
        },
        batch: (s.protocol.mint_batch_s > 0.0)
            .then(|| Duration::from_secs_f64(s.protocol.mint_batch_s)),
    }
}

/// A Ghost (provider costs: half the quoted price) or a GPU node (hardware
/// costs), selling the scenario's offer.
fn service_config(s: &Scenario, slot: Slot) -> ServiceConfig {
    let ghost = slot.kind == Kind::Ghost;
    let fx = FxRate::default();
    ServiceConfig {
        kind: if ghost {
            ServiceKind::Ghost
        } else {
            ServiceKind::Gpu { quality: 0.8 }
        },
        offers: vec![offer(s, slot.adversarial)],
        quote_ttl: Duration::from_secs(3600),
        settlement: if s.protocol.immediate_settlement {
            Settlement::Immediate
        } else {
            Settlement::Batch {
                every: Duration::from_secs(60),
            }
        },
        max_concurrent: 64,
        mint_timeout: Duration::from_secs_f64(s.protocol.mint_timeout_s.unwrap_or(5.0)),
        cost: if ghost {
            CostModel::PerToken {
                input: fx.price(s.protocol.price_in_usd_per_mtok / 2.0),
                output: fx.price(s.protocol.price_out_usd_per_mtok / 2.0),
            }
        } else {
            CostModel::Hardware {
                msat_per_hour: 1_800_000,
                prefill_tokens_per_s: 2000.0,
                decode_tokens_per_s: 40.0,
            }
        },
        dangerous_behaviour: ServiceAdversary {
            harvest_prompts: slot.adversarial && s.adversary.harvest_prompts,
            ..ServiceAdversary::default()
        },
    }
}

/// The cheaper model a service serves in place of the advertised one, and
/// its per-step difference (`faults.substituting_services`: the first
/// `count` services, Ghosts first).
pub fn substitute(s: &Scenario, slot: Slot) -> Option<(String, f64)> {
    let f = s.faults.substituting_services.as_ref()?;
    let ordinal = match slot.kind {
        Kind::Ghost => slot.nth,
        Kind::Gpu => s.population.ghosts + slot.nth,
        _ => return None,
    };
    (ordinal < f.count).then(|| (format!("cheaper-than-{}", s.workload.model), f.p_diff.get()))
}

/// Verified-inference mode of a service's backend: on under
/// `protocol.verification`, or when it substitutes.
fn transcripts(s: &Scenario, slot: Slot) -> Option<TranscriptMode> {
    let substitute = substitute(s, slot);
    (s.protocol.verification.is_some() || substitute.is_some())
        .then_some(TranscriptMode { substitute })
}

/// The simulated provider (or local model) behind a service.
fn backend(s: &Scenario, streams: &Streams, slot: Slot, addr: SocketAddr) -> SimulatedBackend {
    let params = SimulatedParams {
        models: vec![s.workload.model.clone()],
        ttft_s: Dist::Uniform {
            low: 0.2,
            high: 0.8,
        },
        tokens_per_s: if matches!(slot.kind, Kind::Ghost | Kind::Operator) {
            80.0
        } else {
            40.0
        },
        output_tokens: s.workload.output_tokens.to_protocol(),
        rate_limit_per_min: 100_000,
        transient_error_p: 0.0,
        normal_tokens_per_day: u64::MAX / 2,
        ban_hazard_per_mtok: 0.0,
        transcripts: transcripts(s, slot),
        ..SimulatedParams::default()
    };
    SimulatedBackend::new(
        params,
        addr,
        streams.stream(slot.entity(), Purpose::Provider),
    )
}

/// The client role: the scenario's model, rotation, wallet policy and
/// defences; behind NAT it polls a mailbox.
fn client_config(s: &Scenario, nat: bool) -> ClientRoleConfig {
    ClientRoleConfig {
        model: s.workload.model.clone(),
        max_output_tokens: u32::try_from(s.workload.max_output_tokens).unwrap_or(u32::MAX),
        services: vec![Role::Ghost, Role::Gpu],
        turns_per_session: s
            .protocol
            .rotate_after_turns
            .unwrap_or(s.workload.turns_per_session),
        context_window: s.protocol.context_window_tokens,
        turn_timeout: Duration::from_secs_f64(s.protocol.turn_timeout_s),
        max_attempts: 3,
        mint_timeout: Duration::from_secs_f64(s.protocol.mint_timeout_s.unwrap_or(10.0)),
        wallet: WalletPolicy {
            swap_before_spend: s.protocol.wallet.swap_before_spend,
            // The level is the node's own: Node::new sets it from its identity.
            ..WalletPolicy::default()
        },
        hold: hold_config(&s.protocol.wallet.hold),
        audit_keysets: s.protocol.audit_keysets,
        mailbox_poll: nat.then(|| Duration::from_millis(250)),
        dangerous_double_spend: false,
        cover_mean_gap: (s.protocol.cover_rate_per_s > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / s.protocol.cover_rate_per_s)),
        top_up: Some(TopUp {
            below_sat: s.workload.funding_sat / 4,
            amount_sat: s.workload.funding_sat,
        }),
        price_choice: s.protocol.exit_pricing.as_ref().map(|p| p.choice()),
        audit: s.protocol.verification.as_ref().map(|v| AuditPolicy {
            rate: v.audit_rate.get(),
            steps: v.audit_steps as usize,
        }),
        stream_text: false,
    }
}

/// What a node is made of before it starts: its identity, its
/// configuration and its backend (a service's or an operator's). The live
/// driver builds nodes from these too, swapping in a real backend.
pub struct NodeParts {
    /// The node's identity.
    pub identity: Arc<Identity>,
    /// Its configuration.
    pub cfg: NodeConfig,
    /// Its inference backend, if it serves.
    pub backend: Option<Box<dyn InferenceBackend>>,
}

impl NodeParts {
    /// The node at `addr`, with `slot`'s crypto and decision streams.
    pub fn into_node(
        self,
        streams: &Streams,
        slot: Slot,
        addr: SocketAddr,
    ) -> Result<Node, peer2prompt::error::Error> {
        let e = slot.entity();
        Node::new(
            self.identity,
            addr,
            self.cfg,
            streams.stream(e, Purpose::Crypto),
            streams.stream(e, Purpose::Decisions),
            self.backend,
        )
    }
}

/// The parts of the protocol node for `slot` at `addr`.
pub fn node_parts(
    s: &Scenario,
    streams: &Streams,
    slot: Slot,
    addr: SocketAddr,
    nat: bool,
    net: Arc<dyn NetworkInfo>,
    operator: Option<&baseline::OperatorInfo>,
) -> NodeParts {
    let mut id_rng = streams.stream(slot.entity(), Purpose::Identity);
    let target = (slot.kind == Kind::DhtSybil)
        .then(|| crate::adversary::dht_attack::grind_target(s, slot.nth))
        .flatten();
    let identity = match target {
        Some((key, bits)) => {
            Identity::dangerous_grind_near(&mut id_rng, identity_params(s), &key, bits)
        }
        None => Identity::generate_with(&mut id_rng, identity_params(s)),
    };
    let mut cfg = base_config(s, net);
    let mut backend_box: Option<Box<dyn InferenceBackend>> = None;
    match slot.kind {
        Kind::Relay => {
            cfg.advertise = advertise(Role::Relay, advertised_bandwidth(s, streams, slot))
        }
        Kind::Mint => {
            cfg.advertise = advertise(Role::Mint, 1);
            cfg.mint = Some(mint_config(s, slot));
        }
        Kind::Ghost | Kind::Gpu => {
            let role = if slot.kind == Kind::Ghost {
                Role::Ghost
            } else {
                Role::Gpu
            };
            cfg.advertise = advertise(role, 1);
            cfg.service = Some(service_config(s, slot));
            backend_box = Some(Box::new(backend(s, streams, slot, addr)));
        }
        Kind::Client if s.system.is_baseline() => {
            cfg.baseline = Some(baseline::client(s, slot, operator));
        }
        Kind::Client => cfg.client = Some(client_config(s, nat)),
        Kind::Operator => {
            cfg.baseline = Some(baseline::operator(s, streams));
            backend_box = Some(Box::new(backend(s, streams, slot, addr)));
        }
        Kind::DhtSybil => {}
    }
    inject_faults(s, slot, &mut cfg);
    NodeParts {
        identity: Arc::new(identity),
        cfg,
        backend: backend_box,
    }
}

/// Builds the protocol node for `slot` at `addr`.
pub fn build_node(
    s: &Scenario,
    streams: &Streams,
    slot: Slot,
    addr: SocketAddr,
    nat: bool,
    net: Arc<dyn NetworkInfo>,
    operator: Option<&baseline::OperatorInfo>,
) -> Node {
    match node_parts(s, streams, slot, addr, nat, net, operator).into_node(streams, slot, addr) {
        Ok(n) => n,
        Err(err) => panic!("node configuration refused: {err}"),
    }
}

/// The scenario's injected faults for this node, if it is among the first
/// `count` of its kind (services: Ghosts first, then GPU nodes).
fn inject_faults(s: &Scenario, slot: Slot, cfg: &mut NodeConfig) {
    let f = &s.faults;
    let nth = slot.nth;
    match slot.kind {
        Kind::Relay => {
            if let Some(r) = f.lossy_relays.as_ref().filter(|r| nth < r.count) {
                cfg.relay.dangerous_behaviour = RelayAdversary {
                    drop_ppm: r.drop_ppm,
                    extra_delay: ms(r.extra_delay_ms),
                };
            }
        }
        Kind::Ghost | Kind::Gpu => {
            let ordinal = if slot.kind == Kind::Ghost {
                nth
            } else {
                s.population.ghosts + nth
            };
            if let (Some(c), Some(svc)) = (
                f.cheating_services.as_ref().filter(|c| ordinal < c.count),
                cfg.service.as_mut(),
            ) {
                svc.dangerous_behaviour.overbill_ppm = c.overbill_ppm;
                svc.dangerous_behaviour.drop_replies = c.drop_replies;
            }
        }
        Kind::Mint => {
            if let Some(m) = cfg.mint.as_mut().filter(|_| nth < f.refusing_mints) {
                m.dangerous_behaviour.refuse_redemption = true;
            }
        }
        Kind::Client => {
            if let Some(c) = cfg.client.as_mut().filter(|_| nth < f.double_spenders) {
                c.dangerous_double_spend = true;
            }
        }
        Kind::DhtSybil | Kind::Operator => {}
    }
}

/// The protocol's hold policy for a scenario's `protocol.wallet.hold`.
fn hold_config(h: &crate::scenario::HoldSpec) -> HoldConfig {
    use crate::scenario::HoldSpec;
    let d = Duration::from_secs_f64;
    match *h {
        HoldSpec::None => HoldConfig::None,
        HoldSpec::Fixed { s } => HoldConfig::Fixed(d(s)),
        HoldSpec::Uniform { min_s, max_s } => HoldConfig::Uniform {
            min: d(min_s),
            max: d(max_s),
        },
        HoldSpec::Exponential { mean_s } => HoldConfig::Exponential { mean: d(mean_s) },
    }
}

/// Every node of `s`, placed in `topo`.
pub fn hosts(s: &Scenario, streams: &Streams, topo: &mut Topology) -> Vec<Host> {
    let slots = crate::adversary::plan(s, streams);
    let net: Arc<dyn NetworkInfo> = Arc::new(topo.asn_table());
    let mut hosts = Vec::with_capacity(slots.len());
    let mut operator = None;
    // One copy of each advert for the whole replicate (issue 21).
    let adverts = peer2prompt::dht::AdvertInterner::shared();
    for slot in &slots {
        let mut r = streams.stream(slot.entity(), Purpose::Placement);
        let (region, asn, addr) = topo.place(&mut r);
        let latency = s.network.access_latency_ms.sample(&mut r);
        let mbps = s.network.access_bandwidth_mbps.sample(&mut r).max(0.1);
        let nat = slot.kind == Kind::Client && rng::unit(&mut r) < s.network.nat_clients.get();
        let mut node = build_node(s, streams, *slot, addr, nat, net.clone(), operator.as_ref());
        node.share_adverts(adverts.clone());
        if slot.kind == Kind::Operator {
            operator = Some(baseline::OperatorInfo::of(&node));
        }
        let att = Attachment {
            region,
            access_latency: secs(latency / 1_000.0),
            bandwidth_bps: mbps * 1e6,
            link_free_at: Instant::ZERO,
        };
        let net_rng = streams.stream(slot.entity(), Purpose::Network);
        hosts.push(Host::new(*slot, node, att, asn, net_rng, nat));
    }
    crate::adversary::dht_attack::arm(s, &mut hosts);
    hosts
}

/// The adversary's share of the relays' advertised bandwidth, m_w (its
/// entry share under bandwidth weighting).
pub fn relay_weight_share(s: &Scenario, streams: &Streams, hosts: &[Host]) -> f64 {
    let (mut adv, mut all) = (0u128, 0u128);
    for h in hosts.iter().filter(|h| h.slot.kind == Kind::Relay) {
        let b = u128::from(advertised_bandwidth(s, streams, h.slot));
        all += b;
        if h.slot.adversarial {
            adv += b;
        }
    }
    if all == 0 {
        0.0
    } else {
        adv as f64 / all as f64
    }
}

/// The addresses of the hosts whose kind passes `k`.
pub fn addrs_of(hosts: &[Host], k: impl Fn(Kind) -> bool) -> HashSet<SocketAddr> {
    hosts
        .iter()
        .filter(|h| k(h.slot.kind))
        .map(|h| h.node.addr())
        .collect()
}

/// Seconds as a virtual-time duration; negative values clamp to zero.
fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
