//! The node users run (whitepaper "System Model": client, relay, Ghost, GPU
//! node and mint; "all roles except mint are peer-to-peer and discoverable
//! via DHT advertisements").
//!
//! A [`Node`] always runs the DHT and an onion relay, and can originate
//! circuits; roles are optional on top:
//! - [`client`]: wallet, discovery, sessions pinned to one service, billing checks;
//! - [`service`]: a Ghost (provider API backend) or GPU node (local model)
//!   selling inference for ecash under signed quotes;
//! - [`mint`]: the ecash mint behind request/response messages.
//!
//! Sans-IO like every engine in the crate: `handle(now, from, bytes)` and
//! `handle_timeout(now)` in, `poll_transmit`, `poll_timeout` and `poll_event`
//! out. Every datagram starts with a one-byte protocol tag (DHT or onion);
//! onion datagrams are therefore all `1 + CELL_LEN` bytes.

pub mod audits;
pub mod baseline;
pub mod client;
pub mod directory;
mod mint;
mod mint_access;
pub mod observe;
mod payer_ledger;
pub mod payments;
mod pricing;
pub mod service;
pub mod visibility;
pub mod wire;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use crate::backend::InferenceBackend;
use crate::dht::advert::commit_capabilities;
use crate::dht::{Advert, AdvertFields, AdvertInterner, Dht, DhtConfig, DhtEvent, Role};
use crate::ecash::{LightningPayment, Mint, PayoutOutcome, QuoteId as MintQuoteId, Wallet};
use crate::error::Error;
use crate::identity::{Epoch, Identity, OnionKeyring};
use crate::net::Transmit;
use crate::onion::OnionError;
use crate::onion::cell::{Cell, LINK_HEADER_LEN};
use crate::onion::client::{ClientConfig, ClientEvent as CircuitEvent, HopSpec, OnionClient};
use crate::onion::relay::{OnionRelay, RelayConfig, RelayEvent};
use crate::onion::route::{Candidate, Route, RoutePolicy, RouteSelector, UniformExits};
use crate::time::{Duration, Instant};

pub use audits::{AuditOutcome, AuditPolicy};
pub use baseline::{BaselineEvent, BaselineRole, BaselineTurn};
pub use client::{
    ClientEvent, ClientRoleConfig, HoldConfig, PaymentFailure, TopUp, TurnFailure, TurnReport,
};
pub use directory::{Directory, NetworkInfo, PrefixAsAsn, mint_url};
#[cfg(feature = "adversary")]
pub use mint::MintAdversary;
pub use mint::{MintEvent, MintRoleConfig, Served, serve};
pub use observe::Observation;
pub use pricing::PriceChoice;
#[cfg(feature = "adversary")]
pub use service::{HarvestedPrompt, ServiceAdversary};
pub use service::{Offer, ServiceConfig, ServiceEvent, ServiceKind, Settlement};
pub use wire::AppMessage;

use baseline::Baseline;
use client::ClientRole;
use directory::candidate;
use mint::MintRole;
use service::ServiceRole;

/// Protocol tag of DHT datagrams.
pub const TAG_DHT: u8 = 1;
/// Protocol tag of onion datagrams.
pub const TAG_ONION: u8 = 2;
/// Protocol tag of direct application messages: an [`AppMessage`] sent
/// straight to its recipient, not through a circuit (the baselines'
/// identity-bound exchanges; Peer2Prompt's own roles never use it).
pub const TAG_DIRECT: u8 = 3;

/// Rounds of `pump` at most per input. A round moves every event the
/// engines queued; each round's events come from the previous round's,
/// and a real exchange settles in a handful (a reply cell's chain: onion,
/// role, payment, mint circuit). The cap only stops a cycle between
/// engines from hanging the caller; the simulator's stall detector and
/// the swarm look for such cycles.
const PUMP_ROUNDS: usize = 10_000;

/// A circuit idle longer than this is rebuilt before it carries anything
/// (mint access, a session's next turn): half the relays' default idle
/// timeout ([`RelayConfig::idle_timeout`](crate::onion::relay::RelayConfig)),
/// after which they forget it and whatever it carries vanishes.
pub(crate) const CIRCUIT_MAX_IDLE: Duration = Duration::from_secs(300);

/// What to advertise in the DHT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advertise {
    /// What the node does in the network.
    pub role: Role,
    /// Bandwidth, bytes per second.
    pub bandwidth: u64,
    /// Declared operator family.
    pub family: Option<u64>,
}

/// How a node is set up.
#[derive(Clone)]
pub struct NodeConfig {
    /// DHT parameters (including the epoch clock and identity requirements).
    pub dht: DhtConfig,
    /// Relay parameters.
    pub relay: RelayConfig,
    /// Initiator parameters for the circuits this node builds.
    pub onion: ClientConfig,
    /// Route policy for those circuits.
    pub route: RoutePolicy,
    /// How long an old onion key is accepted after rotation.
    pub onion_grace: Duration,
    /// How long a hop that stalled a circuit build is left out of routes.
    pub suspect_for: Duration,
    /// Shards of the relay advert descriptor.
    pub shards: u16,
    /// Shards of the Ghost, GPU and mint descriptors (far fewer nodes than
    /// relays, so fewer shards keep a full read cheap).
    pub service_shards: u16,
    /// How many relay shards the directory reads each epoch (`None`: all).
    /// A node reads a run of consecutive shards starting at a point drawn
    /// from its id and the epoch, so its view is a fresh uniform sample of
    /// the relays each epoch, at a fraction of the lookups and signature
    /// checks (whitepaper "Route Construction": relays from the DHT). Mints
    /// are always read in full.
    pub relay_shards_read: Option<u16>,
    /// How many shards of the Ghost and of the GPU descriptor the directory
    /// reads each epoch (`None`: all), a run drawn as the relay shards' is:
    /// a fresh uniform sample of the exits (whitepaper "Route
    /// Construction": "One exit service node (Ghost or GPU)").
    pub exit_shards_read: Option<u16>,
    /// How many directory lookups run at once (`None`: every shard's at
    /// once). A refresh reads one key per shard read; the bound caps the
    /// lookup state and queries in flight a refresh holds, so a large
    /// network's synchronized refreshes fit in memory, at the cost of a
    /// slower refresh.
    pub directory_lookups: Option<usize>,
    /// Publish an advert, if set.
    pub advertise: Option<Advertise>,
    /// Client role.
    pub client: Option<ClientRoleConfig>,
    /// Service role (Ghost or GPU node).
    pub service: Option<ServiceConfig>,
    /// Mint role.
    pub mint: Option<MintRoleConfig>,
    /// A baseline system's role (LLM-Tor, direct API) instead of the above.
    pub baseline: Option<BaselineRole>,
    /// Where ASNs come from.
    pub net: Arc<dyn NetworkInfo>,
}

impl Default for NodeConfig {
    /// A relay that does not advertise, with every layer at its defaults,
    /// two relay and service shards, and ASNs from address prefixes.
    fn default() -> Self {
        NodeConfig {
            dht: DhtConfig::default(),
            relay: RelayConfig::default(),
            onion: ClientConfig::default(),
            route: RoutePolicy::default(),
            onion_grace: Duration::from_secs(600),
            suspect_for: Duration::from_secs(600),
            shards: 2,
            service_shards: 2,
            relay_shards_read: None,
            exit_shards_read: None,
            directory_lookups: None,
            advertise: None,
            client: None,
            service: None,
            mint: None,
            baseline: None,
            net: Arc::new(PrefixAsAsn),
        }
    }
}

impl core::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("advertise", &self.advertise)
            .field("client", &self.client.is_some())
            .field("service", &self.service.is_some())
            .field("mint", &self.mint.is_some())
            .finish_non_exhaustive()
    }
}

/// What a node reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// Something this node saw (for the visibility matrix and adversaries).
    Observed(Observation),
    /// Client role.
    Client(ClientEvent),
    /// Service role.
    Service(ServiceEvent),
    /// Mint role.
    Mint(MintEvent),
    /// A baseline role.
    Baseline(BaselineEvent),
    /// The DHT finished bootstrapping.
    Bootstrapped,
    /// An application message from a peer was refused.
    PeerError(AppRefusal),
}

/// Why an application message a peer sent end to end was refused (the
/// layers below refuse bytes through [`Node::handle`]'s typed errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppRefusal {
    /// The bytes delivered at the end of a circuit do not decode.
    MalformedMessage,
    /// A reply on one of our circuits does not decode.
    MalformedReply,
    /// A service request reached a node without a service role.
    ServiceRequestAtNonService,
    /// A mint request reached a node that is no mint.
    MintRequestAtNonMint,
    /// A reply arrived where requests do.
    ReplyAsRequest,
    /// An LLM-Tor request reached a node that is no LLM-Tor proxy.
    LlmTorRequestAtNonProxy,
    /// A direct message this node's role does not take (or one that does
    /// not decode).
    UnexpectedDirectMessage,
}

impl AppRefusal {
    /// A short name of the refusal, safe to log and to count.
    pub fn kind(self) -> &'static str {
        match self {
            AppRefusal::MalformedMessage => "malformed_message",
            AppRefusal::MalformedReply => "malformed_reply",
            AppRefusal::ServiceRequestAtNonService => "service_request_at_non_service",
            AppRefusal::MintRequestAtNonMint => "mint_request_at_non_mint",
            AppRefusal::ReplyAsRequest => "reply_as_request",
            AppRefusal::LlmTorRequestAtNonProxy => "llm_tor_request_at_non_proxy",
            AppRefusal::UnexpectedDirectMessage => "unexpected_direct_message",
        }
    }
}

/// Who owns a circuit this node built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A client session.
    Session(u64),
    /// The client's access to a mint.
    ClientMint(String),
    /// The service's access to a mint.
    ServiceMint(String),
    /// A baseline client's circuit (its own number).
    Baseline(u64),
}

/// What roles may use while handling an input.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub identity: &'a Identity,
    pub epoch: Epoch,
    pub dht: &'a mut Dht,
    pub relay: &'a mut OnionRelay,
    pub onion: &'a mut OnionClient,
    pub owners: &'a mut HashMap<u32, Owner>,
    pub events: &'a mut VecDeque<NodeEvent>,
    pub direct: &'a mut VecDeque<Transmit>,
    pub decisions: &'a mut ChaCha20Rng,
    pub crypto: &'a mut ChaCha20Rng,
    pub directory: &'a mut Directory,
    pub selector: &'a mut RouteSelector,
    pub net: &'a dyn NetworkInfo,
    pub shards: u16,
    pub service_shards: u16,
    pub relay_shards_read: Option<u16>,
    pub exit_shards_read: Option<u16>,
    pub suspect_for: Duration,
}

impl Ctx<'_> {
    /// Relays to build routes from now: those not under suspicion, or all
    /// of them if too few are left for a route.
    pub fn relays(&self) -> Vec<Candidate> {
        let trusted = self
            .directory
            .candidates(Role::Relay, self.net, Some(self.now));
        if trusted.len() >= self.selector.policy().relays {
            trusted
        } else {
            self.directory.candidates(Role::Relay, self.net, None)
        }
    }

    /// A route ending at `exit`.
    pub fn route_to(&mut self, exit: &Candidate) -> Result<Route, OnionError> {
        let relays = self.relays();
        let exits = [*exit];
        self.selector.select(
            self.now,
            &relays,
            &exits,
            &UniformExits,
            &mut *self.decisions,
        )
    }

    /// Builds a circuit along `hops` for `owner`.
    pub fn build(&mut self, hops: Vec<HopSpec>, owner: Owner) -> Result<u32, OnionError> {
        let c = self.onion.build(self.now, hops)?;
        self.owners.insert(c, owner);
        Ok(c)
    }

    /// Sends `msg` to the end of `circuit`.
    pub fn send(&mut self, circuit: u32, msg: &AppMessage) -> Result<(), OnionError> {
        self.onion.send(self.now, circuit, &msg.encode())
    }

    /// Answers onion session `session` (as its endpoint).
    pub fn reply(&mut self, session: u32, msg: &AppMessage) -> Result<(), OnionError> {
        self.relay.reply(self.now, session, &msg.encode())
    }

    /// Sends `msg` straight to `to` on a direct link.
    pub fn send_direct(&mut self, to: SocketAddr, msg: &AppMessage) {
        let bytes = msg.encode();
        self.direct.push_back(Transmit { to, bytes });
    }

    /// Answers a baseline request the way it came.
    pub(crate) fn answer(&mut self, to: baseline::upstream::ReplyTo, msg: &AppMessage) {
        match to {
            baseline::upstream::ReplyTo::Circuit(session) => {
                if let Err(e) = self.reply(session, msg) {
                    tracing::debug!("answer lost: {e}");
                }
            }
            baseline::upstream::ReplyTo::Direct(addr) => self.send_direct(addr, msg),
        }
    }

    /// Tears `circuit` down after it failed the caller: if it was still
    /// being built, the hop that never answered is avoided for a while.
    pub fn abandon(&mut self, circuit: u32) {
        if let Some(hop) = self.onion.stalled_hop(circuit) {
            self.directory.suspect(hop, self.now + self.suspect_for);
        }
        self.destroy(circuit);
    }

    /// Tears `circuit` down.
    pub fn destroy(&mut self, circuit: u32) {
        self.owners.remove(&circuit);
        self.onion.destroy(circuit);
    }

    /// Starts a directory refresh if none is running for this epoch.
    pub fn refresh_directory(&mut self) {
        if !self.directory.is_refreshing() && !self.directory.is_ready(self.epoch) {
            let relays = directory::relay_shard_sample(
                &self.identity.node_id(),
                self.epoch,
                self.shards,
                self.relay_shards_read,
            );
            let exits = directory::exit_shard_sample(
                &self.identity.node_id(),
                self.epoch,
                self.service_shards,
                self.exit_shards_read,
            );
            let reads = directory::ShardReads {
                relays,
                exits,
                mints: self.service_shards,
            };
            self.directory
                .refresh(self.dht, self.now, self.epoch, &reads);
        }
    }

    /// Reports an event.
    pub fn emit(&mut self, e: NodeEvent) {
        self.events.push_back(e);
    }
}

/// Builds a [`Ctx`] from disjoint field borrows of a [`Node`].
macro_rules! ctx {
    ($n:expr, $now:expr) => {
        Ctx {
            now: $now,
            identity: &$n.identity,
            epoch: $n.cfg.dht.policy.epochs.epoch_at($now),
            dht: &mut $n.dht,
            relay: &mut $n.relay,
            onion: &mut $n.onion,
            owners: &mut $n.owners,
            events: &mut $n.events,
            direct: &mut $n.direct_out,
            decisions: &mut $n.decisions,
            crypto: &mut $n.crypto,
            directory: &mut $n.directory,
            selector: &mut $n.selector,
            net: &*$n.cfg.net,
            shards: $n.cfg.shards,
            service_shards: $n.cfg.service_shards,
            relay_shards_read: $n.cfg.relay_shards_read,
            exit_shards_read: $n.cfg.exit_shards_read,
            suspect_for: $n.cfg.suspect_for,
        }
    };
}

/// A Peer2Prompt node.
pub struct Node {
    identity: Arc<Identity>,
    addr: SocketAddr,
    cfg: NodeConfig,
    dht: Dht,
    relay: OnionRelay,
    onion: OnionClient,
    directory: Directory,
    selector: RouteSelector,
    owners: HashMap<u32, Owner>,
    // Roles are boxed: most nodes are relays and hold none, and an
    // inline role would cost every node its size (issue 21).
    client: Option<Box<ClientRole>>,
    service: Option<Box<ServiceRole>>,
    mint: Option<Box<MintRole>>,
    baseline: Option<Box<Baseline>>,
    advertised: Option<Epoch>,
    direct_out: VecDeque<Transmit>,
    outbox: VecDeque<Transmit>,
    events: VecDeque<NodeEvent>,
    crypto: ChaCha20Rng,
    decisions: ChaCha20Rng,
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.identity.node_id())
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Derives a named sub-stream from a node's stream, so engines draw from
/// independent streams and adding one does not shift another.
fn sub_stream(master: &mut ChaCha20Rng) -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    master.fill_bytes(&mut seed);
    ChaCha20Rng::from_seed(seed)
}

impl Node {
    /// A node for `identity` at `addr`. `crypto` draws keys and nonces,
    /// `decisions` draws routes, delays and workload choices; the two are
    /// never mixed. `backend` is required for a service role.
    pub fn new(
        identity: Arc<Identity>,
        addr: SocketAddr,
        mut cfg: NodeConfig,
        mut crypto: ChaCha20Rng,
        mut decisions: ChaCha20Rng,
        backend: Option<Box<dyn InferenceBackend>>,
    ) -> Result<Self, Error> {
        // A node runs at one crypto fidelity: its identity's.
        let fidelity = identity.fidelity();
        cfg.dht.policy.identity.fidelity = fidelity;
        if let Some(c) = cfg.client.as_mut() {
            c.wallet.fidelity = fidelity;
        }
        if let Some(m) = cfg.mint.as_mut() {
            m.mint.fidelity = fidelity;
        }
        cfg.relay.fidelity = fidelity;
        cfg.onion.fidelity = fidelity;
        let epochs = cfg.dht.policy.epochs;
        let dht = Dht::new(
            identity.clone(),
            addr,
            cfg.dht.clone(),
            sub_stream(&mut crypto),
            sub_stream(&mut decisions),
        );
        let ring = OnionKeyring::new(
            &identity,
            epochs,
            cfg.onion_grace,
            Instant::ZERO,
            &mut crypto,
        );
        let relay = OnionRelay::new(
            &identity,
            ring,
            cfg.relay.clone(),
            sub_stream(&mut crypto),
            sub_stream(&mut decisions),
        );
        let onion = OnionClient::new(addr, cfg.onion.clone(), sub_stream(&mut crypto));
        let client = cfg
            .client
            .clone()
            .map(|c| Box::new(ClientRole::new(c, sub_stream(&mut decisions))));
        let (service, backend) = match (&cfg.service, backend) {
            (Some(s), Some(b)) => (
                Some(Box::new(ServiceRole::new(s.clone(), b, fidelity))),
                None,
            ),
            (Some(_), None) => {
                return Err(Error::Config("a service role needs an inference backend"));
            }
            (None, b) => (None, b),
        };
        let baseline = match cfg.baseline.clone() {
            Some(role) => Some(Box::new(Baseline::new(role, backend)?)),
            None => None,
        };
        let mint = cfg
            .mint
            .clone()
            .map(|m| Box::new(MintRole::new(m, &mut crypto)));
        let mut directory = Directory::default();
        directory.set_max_lookups(cfg.directory_lookups);
        Ok(Node {
            selector: RouteSelector::new(cfg.route),
            identity,
            addr,
            dht,
            relay,
            onion,
            directory,
            owners: HashMap::new(),
            client,
            service,
            mint,
            baseline,
            advertised: None,
            direct_out: VecDeque::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            crypto,
            decisions,
            cfg,
        })
    }

    /// Holds directory and DHT-stored adverts as `interner`'s shared
    /// copies: the nodes of one process that share an interner keep one
    /// copy of each advert (the directory holds what the DHT's lookups
    /// found). Changes no decision (see [`crate::dht::intern`]).
    pub fn share_adverts(&mut self, interner: AdvertInterner) {
        self.dht.share_adverts(interner);
    }

    // ----- getters ------------------------------------------------------------

    /// Its socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This node's long-term identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The DHT engine.
    pub fn dht(&self) -> &Dht {
        &self.dht
    }

    /// **Adversarial.** The DHT engine, for the DHT attack hooks
    /// (`Dht::dangerous_*`; the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_dht(&mut self) -> &mut Dht {
        &mut self.dht
    }

    /// Work done by this node's circuit-building engine.
    pub fn onion_stats(&self) -> crate::onion::client::ClientStats {
        self.onion.stats()
    }

    /// The relay engine.
    pub fn relay(&self) -> &OnionRelay {
        &self.relay
    }

    /// What this node knows of the network.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The client's wallet, if a client.
    pub fn client_wallet(&self) -> Option<&Wallet> {
        self.client.as_deref().map(ClientRole::wallet)
    }

    /// Payments sent by the client and not yet acknowledged (their proofs).
    pub fn client_outstanding(&self) -> Vec<crate::ecash::Proof> {
        self.client
            .as_deref()
            .map(ClientRole::outstanding)
            .unwrap_or_default()
    }

    /// Blinded outputs of this node's swaps and issuances that await the
    /// mint's answer (or a NUT-09 restore). Outputs the mint has signed are
    /// this node's value even before it reads the signatures.
    pub fn pending_outputs(&self) -> Vec<crate::ecash::BlindedMessage> {
        let mut v = self
            .client
            .as_deref()
            .map(ClientRole::pending_outputs)
            .unwrap_or_default();
        v.extend(
            self.service
                .as_deref()
                .map(ServiceRole::pending_outputs)
                .unwrap_or_default(),
        );
        v
    }

    /// Mint quotes this node paid and is still claiming (issuance requested
    /// or being recovered).
    pub fn pending_issues(&self) -> Vec<crate::ecash::QuoteId> {
        self.client
            .as_deref()
            .map(ClientRole::pending_issues)
            .unwrap_or_default()
    }

    /// Proofs that are inputs of this node's swaps still in flight at the
    /// mint (for value accounting: they are neither in a wallet nor spent).
    pub fn in_flight_proofs(&self) -> Vec<crate::ecash::Proof> {
        let mut v = self
            .client
            .as_deref()
            .map(ClientRole::in_flight)
            .unwrap_or_default();
        v.extend(
            self.service
                .as_deref()
                .map(ServiceRole::in_flight)
                .unwrap_or_default(),
        );
        v
    }

    /// The LLM-Tor operator, if this node is the proxy.
    pub fn llm_tor_operator(&self) -> Option<&crate::baselines::llm_tor::Operator> {
        self.baseline.as_deref().and_then(Baseline::operator)
    }

    /// LLM-Tor tokens ready, if this node is an LLM-Tor client.
    pub fn llm_tor_tokens(&self) -> Option<usize> {
        self.baseline.as_deref().and_then(Baseline::tokens)
    }

    /// Client: the models the services of this epoch offer, from their
    /// verified capabilities (empty unless the client chooses exits by
    /// price, [`ClientRoleConfig::price_choice`], which fetches them).
    pub fn offered_models(&self) -> std::collections::BTreeSet<String> {
        self.client
            .as_deref()
            .map(ClientRole::offered_models)
            .unwrap_or_default()
    }

    /// The service's wallet, if a service.
    pub fn service_wallet(&self) -> Option<&Wallet> {
        self.service.as_deref().map(ServiceRole::wallet)
    }

    /// **Adversarial.** Prompts kept by a harvesting service (empty unless
    /// [`ServiceAdversary::harvest_prompts`]).
    #[cfg(feature = "adversary")]
    pub fn harvested(&self) -> &[HarvestedPrompt] {
        self.service.as_deref().map_or(&[], ServiceRole::harvested)
    }

    /// The mint, if a mint node.
    pub fn mint(&self) -> Option<&Mint> {
        self.mint.as_deref().map(MintRole::mint)
    }

    /// This node's advert for the current epoch, as it would publish it.
    pub fn advert(&self, now: Instant) -> Option<Advert> {
        let a = self.cfg.advertise?;
        let epochs = self.cfg.dht.policy.epochs;
        let epoch = epochs.epoch_at(now);
        let expiry = epochs.start_of(Epoch(epoch.0 + 1)) + self.cfg.dht.policy.grace;
        let capabilities = match &self.service {
            Some(s) => commit_capabilities(&s.salt(), &s.capabilities()),
            None => [0u8; 32],
        };
        Some(Advert::sign(
            &self.identity,
            AdvertFields {
                role: a.role,
                shards: if a.role == Role::Relay {
                    self.cfg.shards
                } else {
                    self.cfg.service_shards
                },
                addr: self.addr,
                family: a.family,
                bandwidth: a.bandwidth,
                onion: *self.relay.keyring().current_cert(),
                capabilities,
                expiry,
            },
        ))
    }

    /// This node as a route candidate.
    pub fn candidate(&self, now: Instant) -> Option<Candidate> {
        self.advert(now).map(|a| candidate(&a, &*self.cfg.net))
    }

    // ----- commands -----------------------------------------------------------

    /// Joins the DHT through several independent seed lists.
    pub fn bootstrap(&mut self, now: Instant, seed_lists: &[Vec<SocketAddr>]) {
        let seeds: Vec<Vec<SocketAddr>> = seed_lists
            .iter()
            .map(|l| l.iter().copied().filter(|a| *a != self.addr).collect())
            .collect();
        self.dht.bootstrap(now, &seeds);
        self.pump(now);
    }

    /// Client: asks `text` (a new user message) in the current session, or a
    /// new one; `probe` makes it a challenge probe. Returns the request id.
    pub fn ask(&mut self, now: Instant, text: Vec<u8>, probe: bool) -> Result<u64, Error> {
        if self.client.is_none()
            && let Some(b) = self.baseline.as_deref_mut()
        {
            let id = b
                .ask(&mut ctx!(self, now), text)
                .ok_or(Error::Config("not a client"))?;
            self.pump(now);
            return Ok(id);
        }
        let c = self
            .client
            .as_deref_mut()
            .ok_or(Error::Config("not a client"))?;
        let id = c.ask(&mut ctx!(self, now), text, probe);
        self.pump(now);
        Ok(id)
    }

    /// Client: a new conversation is about to start; the client applies its
    /// funding policy ([`ClientRoleConfig::top_up`]): a wallet running low
    /// is funded before the conversation. Returns whether it asked for
    /// funds (a Lightning invoice follows as [`ClientEvent::PayInvoice`]).
    pub fn conversation_starting(&mut self, now: Instant) -> Result<bool, Error> {
        if self.client.is_none()
            && let Some(b) = self.baseline.as_deref_mut()
        {
            b.restart();
            return Ok(false);
        }
        let c = self
            .client
            .as_deref_mut()
            .ok_or(Error::Config("not a client"))?;
        let funding = c.top_up_if_low(&mut ctx!(self, now));
        self.pump(now);
        Ok(funding)
    }

    /// Client: funds the wallet with `amount` sat at its mint (a Lightning
    /// invoice follows as [`ClientEvent::PayInvoice`]).
    pub fn fund(&mut self, now: Instant, amount: u64) -> Result<(), Error> {
        let c = self
            .client
            .as_deref_mut()
            .ok_or(Error::Config("not a client"))?;
        c.fund(&mut ctx!(self, now), amount);
        self.pump(now);
        Ok(())
    }

    /// Client: the invoice of mint quote `quote` was paid; collect the ecash.
    pub fn invoice_paid(&mut self, now: Instant, quote: MintQuoteId) -> Result<(), Error> {
        let c = self
            .client
            .as_deref_mut()
            .ok_or(Error::Config("not a client"))?;
        c.invoice_paid(&mut ctx!(self, now), quote)?;
        self.pump(now);
        Ok(())
    }

    /// Client: ends the current session; the next request opens a new one
    /// with a fresh route and service.
    pub fn rotate_session(&mut self, now: Instant) -> Result<(), Error> {
        let c = self
            .client
            .as_deref_mut()
            .ok_or(Error::Config("not a client"))?;
        c.rotate(&mut ctx!(self, now), "rotation requested");
        self.pump(now);
        Ok(())
    }

    /// Mint: a Lightning payment for a mint quote arrived.
    pub fn lightning_payment(
        &mut self,
        now: Instant,
        payment: LightningPayment,
    ) -> Result<(), Error> {
        let m = self
            .mint
            .as_deref_mut()
            .ok_or(Error::Config("not a mint"))?;
        m.lightning_payment(&mut ctx!(self, now), payment)?;
        self.pump(now);
        Ok(())
    }

    /// Mint: the Lightning payout of melt quote `quote` settled.
    pub fn lightning_payout(
        &mut self,
        now: Instant,
        quote: MintQuoteId,
        outcome: PayoutOutcome,
    ) -> Result<(), Error> {
        let m = self
            .mint
            .as_deref_mut()
            .ok_or(Error::Config("not a mint"))?;
        m.lightning_payout(&mut ctx!(self, now), quote, outcome)?;
        self.pump(now);
        Ok(())
    }

    /// Mint: starts or ends an outage (requests go unanswered meanwhile).
    pub fn set_mint_available(&mut self, available: bool) -> Result<(), Error> {
        let m = self
            .mint
            .as_deref_mut()
            .ok_or(Error::Config("not a mint"))?;
        m.set_available(available);
        Ok(())
    }

    /// **Adversarial.** Turns this node's relay adversarial (or honest
    /// again) from now on.
    #[cfg(feature = "adversary")]
    pub fn dangerous_set_relay_behaviour(
        &mut self,
        adversary: crate::onion::relay::RelayAdversary,
    ) {
        self.relay.dangerous_set_behaviour(adversary);
    }

    /// **Adversarial.** This node's hop stops forwarding its onion session
    /// `session` (the selective denial of service of Borisov et al., CCS
    /// 2007; see [`crate::onion::relay::OnionRelay::dangerous_stop_forwarding`]).
    #[cfg(feature = "adversary")]
    pub fn dangerous_stop_forwarding(&mut self, session: u32) {
        self.relay.dangerous_stop_forwarding(session);
    }

    /// Refreshes the directory (adverts of the current epoch).
    pub fn refresh_directory(&mut self, now: Instant) {
        ctx!(self, now).refresh_directory();
        self.pump(now);
    }

    // ----- inputs -------------------------------------------------------------

    /// Handles one datagram from `from`.
    pub fn handle(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Result<(), Error> {
        let (tag, rest) = bytes.split_first().ok_or(Error::EmptyDatagram)?;
        let result = match *tag {
            TAG_DHT => self.dht.handle(now, from, rest).map_err(Error::from),
            TAG_ONION => self.handle_cell(now, from, rest),
            TAG_DIRECT => {
                self.handle_direct(now, from, rest);
                Ok(())
            }
            t => Err(Error::UnknownProtocolTag(t)),
        };
        if let Err(e) = &result {
            tracing::debug!(layer = tag, "peer input refused: {e}");
        }
        self.pump(now);
        result
    }

    /// A direct message: only baseline roles take them.
    fn handle_direct(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let refused = match (AppMessage::decode(bytes), self.baseline.as_deref_mut()) {
            (Ok(msg), Some(b)) => b.on_direct(&mut ctx!(self, now), from, msg).err(),
            _ => Some(AppRefusal::UnexpectedDirectMessage),
        };
        if let Some(why) = refused {
            self.peer_error(why);
        }
    }

    fn handle_cell(&mut self, now: Instant, from: SocketAddr, cell: &[u8]) -> Result<(), Error> {
        if cell.len() < LINK_HEADER_LEN {
            return Err(OnionError::CellLength {
                got: cell.len(),
                expected: crate::onion::cell::CELL_LEN,
            }
            .into());
        }
        let header = Cell::decode_header(cell)?;
        if self.onion.owns(from, header.1, header.0) {
            Ok(self.onion.handle(now, from, cell)?)
        } else {
            Ok(self.relay.handle(now, from, cell)?)
        }
    }

    /// Runs timers: rotates onion keys and republishes adverts at epoch
    /// boundaries, expires requests, advances roles.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.relay.maintain_keys(&self.identity, now);
        self.dht.handle_timeout(now);
        self.relay.handle_timeout(now);
        self.onion.handle_timeout(now);
        let epoch = self.cfg.dht.policy.epochs.epoch_at(now);
        if self.advertised.is_some_and(|e| e != epoch) {
            self.publish(now);
        }
        if let Some(c) = self.client.as_deref_mut() {
            c.on_timeout(&mut ctx!(self, now));
        }
        if let Some(s) = self.service.as_deref_mut() {
            s.on_timeout(&mut ctx!(self, now));
        }
        if let Some(m) = self.mint.as_deref_mut() {
            m.on_timeout(&mut ctx!(self, now));
        }
        if let Some(b) = self.baseline.as_deref_mut() {
            b.on_timeout(&mut ctx!(self, now));
        }
        self.pump(now);
    }

    // ----- outputs ------------------------------------------------------------

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        crate::net::pop_drained(&mut self.outbox)
    }

    /// When [`Node::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let epochs = self.cfg.dht.policy.epochs;
        let next_epoch = self.advertised.map(|e| epochs.start_of(Epoch(e.0 + 1)));
        [
            self.dht.poll_timeout(),
            self.relay.poll_timeout(),
            self.onion.poll_timeout(),
            self.client.as_deref().and_then(ClientRole::poll_timeout),
            self.service.as_deref().and_then(ServiceRole::poll_timeout),
            self.mint.as_deref().and_then(MintRole::poll_timeout),
            self.baseline.as_deref().and_then(Baseline::poll_timeout),
            next_epoch,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        crate::net::pop_drained(&mut self.events)
    }

    // ----- internals ----------------------------------------------------------

    fn publish(&mut self, now: Instant) {
        let Some(advert) = self.advert(now) else {
            return;
        };
        self.advertised = Some(advert.epoch());
        if let Some(s) = &self.service {
            let key = advert.onion.onion_key;
            if let Some(secret) = self.relay.keyring().secret_for(&key, now) {
                self.dht
                    .set_capabilities(secret.clone(), s.salt(), s.capabilities());
            }
        }
        if let Err(e) = self.dht.publish(now, advert) {
            tracing::debug!("advert not published: {e}");
        }
    }

    /// Moves engine events to roles until nothing changes, then collects
    /// outgoing datagrams.
    fn pump(&mut self, now: Instant) {
        for _ in 0..PUMP_ROUNDS {
            let mut progress = false;
            while let Some(e) = self.dht.poll_event() {
                progress = true;
                self.on_dht(now, e);
            }
            while let Some(e) = self.relay.poll_event() {
                progress = true;
                self.on_relay(now, e);
            }
            while let Some(e) = self.onion.poll_event() {
                progress = true;
                self.on_circuit(now, &e);
            }
            if let Some(s) = self.service.as_deref_mut() {
                progress |= s.poll_backend(&mut ctx!(self, now));
            }
            if let Some(b) = self.baseline.as_deref_mut() {
                progress |= b.poll(&mut ctx!(self, now));
            }
            if !progress {
                break;
            }
        }
        while let Some(t) = self.dht.poll_transmit() {
            self.outbox.push_back(tagged(TAG_DHT, t));
        }
        while let Some(t) = self.relay.poll_transmit(now) {
            self.outbox.push_back(tagged(TAG_ONION, t));
        }
        while let Some(t) = self.onion.poll_transmit() {
            self.outbox.push_back(tagged(TAG_ONION, t));
        }
        while let Some(t) = self.direct_out.pop_front() {
            self.outbox.push_back(tagged(TAG_DIRECT, t));
        }
    }

    fn on_dht(&mut self, now: Instant, e: DhtEvent) {
        match e {
            DhtEvent::Observed(o) => self
                .events
                .push_back(NodeEvent::Observed(Observation::Dht(o))),
            DhtEvent::Bootstrapped { .. } => {
                tracing::debug!(contacts = self.dht.table().len(), "dht bootstrapped");
                self.events.push_back(NodeEvent::Bootstrapped);
                self.publish(now);
            }
            DhtEvent::LookupDone { id, outcome } => {
                tracing::trace!(adverts = outcome.adverts.len(), "dht lookup done");
                if self
                    .directory
                    .on_lookup(id, outcome.adverts, &mut self.dht, now)
                {
                    if let Some(c) = self.client.as_deref_mut() {
                        c.on_directory(&mut ctx!(self, now));
                    }
                    if let Some(s) = self.service.as_deref_mut() {
                        s.on_directory(&mut ctx!(self, now));
                    }
                }
            }
            DhtEvent::Capabilities { node, result } => {
                if let Err(e) = &result {
                    tracing::debug!("capability fetch failed: {e}");
                }
                if let Some(c) = self.client.as_deref_mut() {
                    c.on_capabilities(&mut ctx!(self, now), node, result.as_deref().ok());
                }
            }
            DhtEvent::Stored { .. } => {}
        }
    }

    fn on_relay(&mut self, now: Instant, e: RelayEvent) {
        match e {
            RelayEvent::Observed(o) => self
                .events
                .push_back(NodeEvent::Observed(Observation::Hop(o))),
            RelayEvent::SessionClosed { session } => {
                if let Some(s) = self.service.as_deref_mut() {
                    s.on_session_closed(&mut ctx!(self, now), session);
                }
                if let Some(b) = self.baseline.as_deref_mut() {
                    b.on_session_closed(session);
                }
            }
            RelayEvent::Delivered {
                session,
                prev,
                message,
            } => {
                let Ok(msg) = AppMessage::decode(&message) else {
                    self.peer_error(AppRefusal::MalformedMessage);
                    return;
                };
                match msg {
                    AppMessage::Service(req) => match self.service.as_deref_mut() {
                        Some(s) => s.on_request(&mut ctx!(self, now), session, prev, req),
                        None => self.peer_error(AppRefusal::ServiceRequestAtNonService),
                    },
                    AppMessage::Mint { seq, request } => match self.mint.as_deref_mut() {
                        Some(m) => m.on_request(&mut ctx!(self, now), session, prev, seq, request),
                        None => self.peer_error(AppRefusal::MintRequestAtNonMint),
                    },
                    m @ AppMessage::LlmTor { .. } => {
                        let refused = match self.baseline.as_deref_mut() {
                            Some(b) => b.on_delivered(&mut ctx!(self, now), session, prev, m).err(),
                            None => Some(AppRefusal::LlmTorRequestAtNonProxy),
                        };
                        if let Some(why) = refused {
                            self.peer_error(why);
                        }
                    }
                    _ => self.peer_error(AppRefusal::ReplyAsRequest),
                }
            }
        }
    }

    fn on_circuit(&mut self, now: Instant, e: &CircuitEvent) {
        let circuit = match &e {
            CircuitEvent::CircuitReady { circuit }
            | CircuitEvent::CircuitFailed { circuit, .. }
            | CircuitEvent::Reply { circuit, .. } => *circuit,
        };
        let Some(owner) = self.owners.get(&circuit).cloned() else {
            return;
        };
        match &e {
            CircuitEvent::CircuitReady { .. } => tracing::trace!(circuit, "circuit ready"),
            CircuitEvent::CircuitFailed {
                reason, stalled_at, ..
            } => {
                tracing::debug!(circuit, ?reason, "circuit failed");
                self.owners.remove(&circuit);
                if let Some(hop) = stalled_at {
                    self.directory.suspect(*hop, now + self.cfg.suspect_for);
                }
            }
            CircuitEvent::Reply { message, .. } => {
                tracing::trace!(circuit, bytes = message.len(), "reply")
            }
        }
        let msg = match &e {
            CircuitEvent::Reply { message, .. } => match AppMessage::decode(message) {
                Ok(m) => Some(m),
                Err(_) => {
                    self.peer_error(AppRefusal::MalformedReply);
                    return;
                }
            },
            _ => None,
        };
        match owner {
            Owner::Session(_) | Owner::ClientMint(_) => {
                if let Some(c) = self.client.as_deref_mut() {
                    c.on_circuit(&mut ctx!(self, now), circuit, &owner, e, msg);
                }
            }
            Owner::ServiceMint(_) => {
                if let Some(s) = self.service.as_deref_mut() {
                    s.on_circuit(&mut ctx!(self, now), circuit, &owner, e, msg);
                }
            }
            Owner::Baseline(_) => {
                if let Some(b) = self.baseline.as_deref_mut() {
                    b.on_circuit(&mut ctx!(self, now), circuit, e, msg);
                }
            }
        }
    }

    fn peer_error(&mut self, why: AppRefusal) {
        self.events.push_back(NodeEvent::PeerError(why));
    }
}

fn tagged(tag: u8, t: Transmit) -> Transmit {
    let Transmit { to, mut bytes } = t;
    bytes.insert(0, tag);
    Transmit { to, bytes }
}
