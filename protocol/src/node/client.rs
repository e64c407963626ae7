//! The client role (whitepaper "Session Semantics for Multi-Turn Chat",
//! "Route Construction", "Token Lifecycle", "Malicious Service Nodes").
//!
//! A request goes: discovery (adverts of relays, services and mints from the
//! DHT) -> a session: a circuit through relays to one service, pinned for its
//! lifetime -> a signed quote fetched through that circuit -> the prompt (the
//! conversation so far plus the new message) with the first prepaid chunk ->
//! the streamed reply, paying chunk by chunk after checking every claim ->
//! a receipt checked against what arrived. Sessions rotate after a number of
//! turns, when the context window fills, on request, or after a failure;
//! a new session re-samples both the route and the service.
//!
//! Payments stay "outstanding" until the service acknowledges them (by
//! answering); if it never does, the client reclaims them through the mint,
//! so a failure loses no value that was not delivered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use secp256k1::PublicKey;

use super::audits::{self, AuditOutcome, AuditPolicy, PendingAudit};
use super::directory::{candidate, mint_url};
use super::mint_access::MintAccess;
use super::payments::{MintLink, Outcome, Payments, Spend};
use super::pricing::{ExitPrices, PriceChoice};
use super::wire::{
    AppMessage, InferRequest, MintApiRequest, MintApiResponse, MintError, Refusal, ServiceRequest,
    ServiceResponse,
};
use super::{Ctx, NodeEvent, Owner};
use crate::backend::dist::unit;
use crate::dht::Role;
use crate::ecash::mint::ys_of;
use crate::ecash::wallet::{
    ExponentialHold, FixedHold, HoldPolicy, NoHold, UniformHold, exponential,
};
use crate::ecash::{
    Amount, EcashError, MintUrl, Proof, QuoteId as MintQuoteId, Wallet, WalletPolicy,
};
use crate::error::Error;
use crate::identity::NodeId;
use crate::market::billing::ClientMeter;
use crate::market::receipt::{ResponseHasher, probe_passed};
use crate::market::{MarketError, QuoteId, SignedQuote, SignedReceipt, tokens};
use crate::onion::OnionError;
use crate::onion::client::{CircuitFailure, ClientEvent as CircuitEvent, ReturnPath};
use crate::onion::route::Candidate;
use crate::time::{Duration, Instant};
use crate::verify::{AuditProof, Commitment};

/// The hold policy between minting and first spend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HoldConfig {
    /// Spend at once.
    None,
    /// A fixed hold.
    Fixed(Duration),
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower bound.
        min: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean of the distribution.
        mean: Duration,
    },
}

/// Client role setup.
#[derive(Clone, Debug)]
pub struct ClientRoleConfig {
    /// The model asked for.
    pub model: String,
    /// Output tokens asked for per turn (at most the quote's cap).
    pub max_output_tokens: u32,
    /// Which services to use.
    pub services: Vec<Role>,
    /// Turns per session before rotating.
    pub turns_per_session: u32,
    /// Context window: rotate before the conversation exceeds it.
    pub context_window: u64,
    /// A turn without progress for this long fails.
    pub turn_timeout: Duration,
    /// Attempts per request (each failure rotates the session).
    pub max_attempts: u32,
    /// How long to wait for the mint.
    pub mint_timeout: Duration,
    /// Wallet policy (swap before spend).
    pub wallet: WalletPolicy,
    /// Hold between minting and first spend.
    pub hold: HoldConfig,
    /// Before using a mint, fetch its keysets again over a second circuit
    /// and compare (whitepaper "Payment Layer": detects per-user key
    /// tagging; costs one more circuit per mint).
    pub audit_keysets: bool,
    /// Receive replies in a mailbox at the entry relay and poll it (clients
    /// behind NAT), polling this often.
    pub mailbox_poll: Option<Duration>,
    /// **Adversarial.** Reclaims every payment right after making it (a
    /// double spend against the service; the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub dangerous_double_spend: bool,
    /// Cover traffic (whitepaper "Traffic Analysis Countermeasures": cover
    /// packets): while a session's circuit is open, send cover cells on it
    /// with exponential gaps of this mean; the last relay drops them, so
    /// they pad every link but the one into the service. `None`: off.
    pub cover_mean_gap: Option<Duration>,
    /// Top the wallet up when a conversation starts with less than this in
    /// it; `None`: only the driver funds it.
    pub top_up: Option<TopUp>,
    /// Choose exits by the prices behind their adverts (fetched, checked
    /// against the commitment, weighted by a logit); `None`: every exit
    /// equally likely.
    pub price_choice: Option<PriceChoice>,
    /// Verified inference (seed 003): audit answered turns against the
    /// services' transcript commitments, and check probes whole against
    /// the advertised model; a service caught is never used again
    /// (whitepaper "Malicious Service Nodes": reputation). `None`: off.
    pub audit: Option<AuditPolicy>,
    /// Report each streamed piece of a reply as it arrives
    /// ([`ClientEvent::Text`]), for a driver that relays the stream to its
    /// user (the live network's OpenAI-compatible entrance). Off in the
    /// simulator, which needs only the whole turn.
    pub stream_text: bool,
}

/// The client's funding policy: when a conversation starts with the
/// wallet below `below_sat`, fund `amount_sat` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopUp {
    /// The balance under which the wallet is topped up, sat.
    pub below_sat: u64,
    /// How much to fund, sat.
    pub amount_sat: u64,
}

/// Why a turn failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurnFailure {
    /// No usable route or service.
    NoRoute(OnionError),
    /// The circuit failed.
    Circuit(CircuitFailure),
    /// The service refused.
    Refused(Refusal),
    /// No progress within the turn timeout.
    Timeout,
    /// The quote was bad.
    BadQuote(MarketError),
    /// The service overbilled.
    Overbilling(MarketError),
    /// The receipt did not match.
    BadReceipt(MarketError),
    /// A challenge probe was not answered.
    ProbeFailed,
    /// Paying failed.
    Payment(PaymentFailure),
    /// No acceptable mint is known.
    NoMint,
}

/// Why a payment could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentFailure {
    /// The wallet could not make it (funds, held proofs, a bad answer).
    Wallet(EcashError),
    /// The mint refused the swap that would have made it.
    Mint(MintError),
    /// The mint did not answer in time (the swap is being recovered).
    MintSilent,
}

impl TurnFailure {
    /// A short name of the kind of failure, safe to log and to tabulate.
    pub fn kind(&self) -> &'static str {
        match self {
            TurnFailure::NoRoute(_) => "no_route",
            TurnFailure::Circuit(_) => "circuit",
            TurnFailure::Refused(_) => "refused",
            TurnFailure::Timeout => "timeout",
            TurnFailure::BadQuote(_) => "bad_quote",
            TurnFailure::Overbilling(_) => "overbilling",
            TurnFailure::BadReceipt(_) => "bad_receipt",
            TurnFailure::ProbeFailed => "probe_failed",
            TurnFailure::Payment(_) => "payment",
            TurnFailure::NoMint => "no_mint",
        }
    }
}

/// A finished turn, with everything the simulator records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnReport {
    /// Request id.
    pub request: u64,
    /// The session it belongs to.
    pub session: u64,
    /// Turn number within the session (1-based).
    pub turn: u32,
    /// The service that answered.
    pub exit: NodeId,
    /// The quote it ran under.
    pub quote: QuoteId,
    /// Input tokens (the conversation so far plus the new message).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// What the client paid.
    pub paid_msat: u64,
    /// What the receipt charged.
    pub charged_msat: u64,
    /// When the request started (this attempt).
    pub started: Instant,
    /// First token.
    pub first_token: Instant,
    /// Last token and receipt.
    pub done: Instant,
    /// Context tokens the service has seen in this session, after the turn.
    pub context_tokens: u64,
    /// The response.
    pub response: Vec<u8>,
    /// For a probe: whether it passed.
    pub probe_passed: Option<bool>,
    /// Verified inference: what auditing the turn found (`None`: not
    /// audited).
    pub audit: Option<AuditOutcome>,
}

/// What the client role reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Pay this Lightning invoice to fund the wallet, then call
    /// [`Node::invoice_paid`](super::Node::invoice_paid).
    PayInvoice {
        /// The mint.
        mint: NodeId,
        /// The mint quote.
        quote: MintQuoteId,
        /// Amount in sat.
        amount: u64,
    },
    /// The wallet was funded.
    Funded {
        /// Amount in sat.
        amount: u64,
    },
    /// A session started: its route (ground truth for the simulator).
    SessionOpened {
        /// Session id.
        session: u64,
        /// Relays, entry first.
        relays: Vec<NodeId>,
        /// Entry address.
        entry: SocketAddr,
        /// The service.
        exit: NodeId,
        /// Ghost or GPU node.
        exit_role: Role,
    },
    /// A payment was sent (ground truth for the simulator: the `Y`s link it
    /// to the mint's redemption log).
    Paid {
        /// Request id.
        request: u64,
        /// The session it belongs to.
        session: u64,
        /// Value, sat.
        amount: u64,
        /// `Y = hash_to_curve(secret)` of each proof.
        payment: Vec<PublicKey>,
        /// The turn's first chunk (sent with the prompt), not a later one.
        first: bool,
    },
    /// A mint failed the keyset audit and will not be used.
    MintRejected {
        /// The mint.
        mint: NodeId,
        /// Why, in words for logs and errors.
        reason: String,
    },
    /// Reputation: an audit or a probe caught this service; it is not
    /// used again.
    Distrusted {
        /// The service.
        service: NodeId,
        /// What caught it.
        outcome: AuditOutcome,
    },
    /// A session ended.
    SessionClosed {
        /// Session id.
        session: u64,
        /// Why, in words for logs and errors.
        reason: String,
    },
    /// The first token of a request arrived.
    FirstToken {
        /// Request id.
        request: u64,
        /// The instant it happened.
        at: Instant,
    },
    /// A piece of a request's reply arrived (only with
    /// [`ClientRoleConfig::stream_text`]). A retried request starts its
    /// reply over.
    Text {
        /// Request id.
        request: u64,
        /// The piece, as the service streamed it.
        text: Vec<u8>,
    },
    /// A request finished.
    TurnDone(TurnReport),
    /// A request attempt failed.
    TurnFailed {
        /// Request id.
        request: u64,
        /// Why, in words for logs and errors.
        reason: TurnFailure,
        /// Whether it will be retried in a new session.
        retrying: bool,
    },
}

#[derive(Clone, Debug)]
struct Ask {
    id: u64,
    text: Vec<u8>,
    probe: Option<[u8; 16]>,
    attempts: u32,
}

#[derive(Debug)]
struct Session {
    id: u64,
    circuit: u32,
    relays: Vec<NodeId>,
    exit: Candidate,
    identity_key: [u8; 32],
    phase: SessionPhase,
    turns: u32,
    context: Vec<u8>,
    next_poll: Option<Instant>,
    next_cover: Option<Instant>,
    /// Last answer from the service (or the opening).
    last_active: Instant,
}

/// Where a session is: opening (circuit, then quote) until its deadline,
/// or ready under the service's signed quote.
#[derive(Debug)]
enum SessionPhase {
    /// The circuit is being built or the quote fetched; fails at `deadline`.
    Opening { deadline: Instant },
    /// The quote arrived and checked out: turns can run.
    Ready { quote: Box<SignedQuote> },
}

impl SessionPhase {
    fn quote(&self) -> Option<&SignedQuote> {
        match self {
            SessionPhase::Ready { quote } => Some(quote),
            SessionPhase::Opening { .. } => None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            SessionPhase::Opening { deadline } => Some(*deadline),
            SessionPhase::Ready { .. } => None,
        }
    }
}

/// Where a turn is: its chunk being paid (a swap at the mint), or its
/// answer streaming in (the turn deadline applies only then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TurnPhase {
    Paying,
    Streaming,
}

#[derive(Debug)]
struct Turn {
    ask: Ask,
    session: u64,
    prompt_tokens: u64,
    meter: ClientMeter,
    hasher: ResponseHasher,
    response: Vec<u8>,
    started: Instant,
    first_token: Option<Instant>,
    deadline: Instant,
    phase: TurnPhase,
    /// The service's commitment to this turn's transcript, if it sent one.
    commitment: Option<Commitment>,
    /// An audit of this turn awaiting the service's openings.
    auditing: Option<PendingAudit>,
}

/// What a swap of the client's is for.
#[derive(Clone, Copy, Debug)]
enum SwapFor {
    /// Change for a chunk of request `request` (`first`: sent with the prompt).
    Pay { request: u64, first: bool },
    /// Payments never acknowledged, swapped back.
    Reclaim,
}

/// The client's link to its mint: its one mint access, if it has one.
struct Link<'a, 'b> {
    access: Option<&'a mut MintAccess>,
    ctx: &'a mut Ctx<'b>,
}

impl MintLink for Link<'_, '_> {
    fn send(&mut self, _mint: &MintUrl, request: MintApiRequest) -> Option<u64> {
        let m = self.access.as_mut()?;
        Some(m.request(self.ctx, request))
    }
}

fn link<'a, 'b>(access: &'a mut Option<MintAccess>, ctx: &'a mut Ctx<'b>) -> Link<'a, 'b> {
    Link {
        access: access.as_mut(),
        ctx,
    }
}

pub(crate) struct ClientRole {
    cfg: ClientRoleConfig,
    payments: Payments<SwapFor>,
    rng: ChaCha20Rng,
    mint: Option<MintAccess>,
    mint_audited: bool,
    bad_mints: HashSet<NodeId>,
    fund_queue: Vec<u64>,
    quotes: HashMap<MintQuoteId, u64>,
    session: Option<Session>,
    turn: Option<Turn>,
    queue: VecDeque<Ask>,
    /// Payments not yet acknowledged, by session (`None`: kept when no
    /// mint was at hand to reclaim them).
    outstanding: Vec<(Option<u64>, Vec<Proof>)>,
    bad_exits: HashSet<NodeId>,
    /// Services caught cheating by an audit or a probe: never used again.
    distrusted: HashSet<NodeId>,
    /// Under price choice: the prices fetched this epoch.
    prices: Option<ExitPrices>,
    next_id: u64,
    next_session: u64,
}

impl ClientRole {
    pub fn new(cfg: ClientRoleConfig, mut rng: ChaCha20Rng) -> Self {
        let hold: Box<dyn HoldPolicy> = match cfg.hold {
            HoldConfig::None => Box::new(NoHold),
            HoldConfig::Fixed(d) => Box::new(FixedHold(d)),
            HoldConfig::Uniform { min, max } => {
                Box::new(UniformHold::new(min, max, super::sub_stream(&mut rng)))
            }
            HoldConfig::Exponential { mean } => {
                Box::new(ExponentialHold::new(mean, super::sub_stream(&mut rng)))
            }
        };
        ClientRole {
            payments: Payments::new(Wallet::new(cfg.wallet, hold)),
            prices: cfg
                .price_choice
                .map(|c| ExitPrices::new(c, cfg.model.clone())),
            cfg,
            rng,
            mint: None,
            mint_audited: false,
            bad_mints: HashSet::new(),
            fund_queue: Vec::new(),
            quotes: HashMap::new(),
            session: None,
            turn: None,
            queue: VecDeque::new(),
            outstanding: Vec::new(),
            bad_exits: HashSet::new(),
            distrusted: HashSet::new(),
            next_id: 1,
            next_session: 1,
        }
    }

    /// The models the services offer, as far as this client learned them
    /// (only a client that chooses exits by price fetches capabilities).
    pub fn offered_models(&self) -> std::collections::BTreeSet<String> {
        self.prices
            .as_ref()
            .map(ExitPrices::offered_models)
            .unwrap_or_default()
    }

    pub fn wallet(&self) -> &Wallet {
        self.payments.wallet()
    }

    pub fn outstanding(&self) -> Vec<Proof> {
        self.outstanding
            .iter()
            .flat_map(|(_, p)| p.iter().cloned())
            .collect()
    }

    fn mint_url(&self) -> Option<MintUrl> {
        self.mint.as_ref().map(|m| MintUrl(m.url.clone()))
    }

    /// The next instant `on_timeout` has work to do. Every deadline named
    /// here must be one `on_timeout` acts on: a deadline it ignores would
    /// stay due and wake the node again at the same instant, forever (found
    /// by the swarm: a turn paying through a slow mint).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let turn = self.turn_deadline();
        let session = self.session_deadline();
        let poll = self.session.as_ref().and_then(|s| s.next_poll);
        let cover = self.session.as_ref().and_then(|s| s.next_cover);
        let mint = self.mint.as_ref().and_then(MintAccess::poll_timeout);
        [turn, session, poll, cover, mint]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- commands -----------------------------------------------------------

    pub fn ask(&mut self, ctx: &mut Ctx<'_>, text: Vec<u8>, probe: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let probe = probe.then(|| {
            let mut n = [0u8; 16];
            ctx.crypto.fill_bytes(&mut n);
            n
        });
        self.queue.push_back(Ask {
            id,
            text,
            probe,
            attempts: 0,
        });
        self.progress(ctx);
        id
    }

    pub fn fund(&mut self, ctx: &mut Ctx<'_>, amount: u64) {
        self.fund_queue.push(amount);
        self.progress(ctx);
    }

    /// Applies the top-up policy; true when it funded.
    pub fn top_up_if_low(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let Some(t) = self.cfg.top_up else {
            return false;
        };
        if self.payments.wallet().total_balance().value() >= t.below_sat {
            return false;
        }
        self.fund(ctx, t.amount_sat);
        true
    }

    pub fn invoice_paid(&mut self, ctx: &mut Ctx<'_>, quote: MintQuoteId) -> Result<(), Error> {
        let amount = self
            .quotes
            .remove(&quote)
            .ok_or(Error::Config("unknown mint quote"))?;
        let url = self.mint_url().ok_or(Error::Config("no mint"))?;
        let prepared =
            self.payments
                .prepare_issue(&url, quote, Amount::new(amount), &mut *ctx.crypto)?;
        self.payments
            .submit(&mut link(&mut self.mint, ctx), prepared);
        Ok(())
    }

    pub fn rotate(&mut self, ctx: &mut Ctx<'_>, reason: &str) {
        if let Some(s) = self.session.take() {
            tracing::debug!(session = s.id, turns = s.turns, reason, "session closed");
            ctx.abandon(s.circuit);
            ctx.emit(NodeEvent::Client(ClientEvent::SessionClosed {
                session: s.id,
                reason: reason.to_owned(),
            }));
        }
    }

    // ----- the request machine --------------------------------------------------

    /// Moves requests forward as far as the current state allows.
    fn progress(&mut self, ctx: &mut Ctx<'_>) {
        if !ctx.directory.is_ready(ctx.epoch) {
            ctx.refresh_directory();
            return;
        }
        if self.mint.is_none() && !self.choose_mint(ctx) {
            return;
        }
        let Some(url) = self.mint_url() else {
            return;
        };
        if self.payments.wallet().mints().all(|m| *m != url) || !self.mint_audited {
            self.fail_if_unroutable(ctx);
            return;
        }
        for amount in std::mem::take(&mut self.fund_queue) {
            let l = &mut link(&mut self.mint, ctx);
            self.payments.request_quote(l, &url, Amount::new(amount));
        }
        if self.turn.is_some() || self.queue.is_empty() {
            return;
        }
        match &self.session {
            None => self.open_session(ctx),
            Some(s) if s.phase.quote().is_some() => self.start_turn(ctx),
            Some(_) => {}
        }
    }

    /// Requests waiting for the mint while too few relays are known for
    /// any route (to the mint or a service) can never be served: they fail
    /// now instead of waiting for ever (a count, no draw: nothing else moves).
    fn fail_if_unroutable(&mut self, ctx: &mut Ctx<'_>) {
        if self.queue.is_empty() || ctx.relays().len() >= ctx.selector.policy().relays {
            return;
        }
        let reason = OnionError::NoRoute {
            reason: "fewer relays known than a route needs",
        };
        while !self.queue.is_empty() {
            self.fail_turn_unstarted(ctx, TurnFailure::NoRoute(reason.clone()));
        }
    }

    fn choose_mint(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mints: Vec<Candidate> = ctx
            .directory
            .adverts(Role::Mint)
            .map(|a| candidate(a, ctx.net))
            .filter(|c| !self.bad_mints.contains(&c.node))
            .collect();
        if mints.is_empty() {
            // Nothing can be paid for: fail what waits.
            while !self.queue.is_empty() {
                self.fail_turn_unstarted(ctx, TurnFailure::NoMint);
            }
            return false;
        }
        let pick = mints[(self.rng.next_u64() % mints.len() as u64) as usize];
        let url = mint_url(&pick.node);
        self.mint = Some(MintAccess::new(
            url.clone(),
            pick,
            Owner::ClientMint(url.clone()),
            self.cfg.mint_timeout,
        ));
        self.mint_audited = !self.cfg.audit_keysets;
        let url = MintUrl(url);
        self.payments
            .fetch_keys(&mut link(&mut self.mint, ctx), &url, false);
        true
    }

    fn open_session(&mut self, ctx: &mut Ctx<'_>) {
        if self.prices.as_ref().is_some_and(ExitPrices::waiting) {
            // The answers come back as events, which call `progress` again.
            return;
        }
        let mut exits: Vec<(Candidate, Role)> = Vec::new();
        for role in &self.cfg.services {
            exits.extend(
                ctx.directory
                    .adverts(*role)
                    .map(|a| (candidate(a, ctx.net), a.role)),
            );
        }
        let trusted: Vec<(Candidate, Role)> = exits
            .iter()
            .copied()
            .filter(|(c, _)| !self.distrusted.contains(&c.node))
            .collect();
        // Reputation: caught services are dropped for good, unless no
        // other service is left at all.
        let exits = if trusted.is_empty() { exits } else { trusted };
        let fresh: Vec<(Candidate, Role)> = exits
            .iter()
            .copied()
            .filter(|(c, _)| !self.bad_exits.contains(&c.node))
            .collect();
        if fresh.is_empty() {
            // Every service failed us once: forgive them all.
            self.bad_exits.clear();
        }
        let pool = if fresh.is_empty() { exits } else { fresh };
        let candidates: Vec<Candidate> = pool.iter().map(|(c, _)| *c).collect();
        let relays = ctx.relays();
        let priced = self.prices.as_ref().map(ExitPrices::scorer);
        let scorer: &dyn crate::onion::route::ExitScorer = match &priced {
            Some(p) => p,
            None => &crate::onion::route::UniformExits,
        };
        let route =
            match ctx
                .selector
                .select(ctx.now, &relays, &candidates, scorer, &mut *ctx.decisions)
            {
                Ok(r) => r,
                Err(e) => {
                    return self.fail_turn_unstarted(ctx, TurnFailure::NoRoute(e));
                }
            };
        let exit_role = pool
            .iter()
            .find(|(c, _)| c.node == route.exit.node)
            .map_or(Role::Ghost, |(_, r)| *r);
        let Some(advert) = ctx.directory.advert(&route.exit.node, exit_role) else {
            return;
        };
        let identity_key = advert.claim.identity_key;
        let circuit = match ctx.build(route.hops(), Owner::Session(self.next_session)) {
            Ok(c) => c,
            Err(e) => return self.fail_turn_unstarted(ctx, TurnFailure::NoRoute(e)),
        };
        if self.cfg.mailbox_poll.is_some() {
            let mut mailbox = [0u8; 16];
            ctx.crypto.fill_bytes(&mut mailbox);
            if let Err(e) = ctx
                .onion
                .set_return(circuit, ReturnPath::Reverse, Some(mailbox))
            {
                tracing::debug!("mailbox not set: {e}");
            }
        }
        let id = self.next_session;
        self.next_session += 1;
        tracing::debug!(
            session = id,
            hops = route.relays.len() + 1,
            "session opened"
        );
        ctx.emit(NodeEvent::Client(ClientEvent::SessionOpened {
            session: id,
            relays: route.relays.iter().map(|c| c.node).collect(),
            entry: route.entry().addr,
            exit: route.exit.node,
            exit_role,
        }));
        self.session = Some(Session {
            id,
            circuit,
            relays: route.relays.iter().map(|c| c.node).collect(),
            exit: route.exit,
            identity_key,
            phase: SessionPhase::Opening {
                deadline: ctx.now + self.cfg.turn_timeout,
            },
            turns: 0,
            context: Vec::new(),
            next_poll: None,
            next_cover: None,
            last_active: ctx.now,
        });
    }

    fn start_turn(&mut self, ctx: &mut Ctx<'_>) {
        let (Some(session), Some(ask)) = (self.session.as_mut(), self.queue.pop_front()) else {
            return;
        };
        let Some(quote) = session.phase.quote().cloned() else {
            self.queue.push_front(ask);
            return;
        };
        if ctx.now.saturating_duration_since(session.last_active) > super::CIRCUIT_MAX_IDLE {
            // Relays forget circuits idle for their idle timeout (600 s by
            // default): a turn on this one could vanish. Start afresh.
            self.queue.push_front(ask);
            self.rotate(ctx, "idle");
            return self.progress(ctx);
        }
        // The prompt carries the conversation so far: context accumulates.
        let mut prompt = session.context.clone();
        prompt.extend_from_slice(&ask.text);
        let prompt_tokens = tokens::count(&prompt);
        if prompt_tokens + u64::from(self.cfg.max_output_tokens) > self.cfg.context_window
            && session.turns > 0
        {
            // The window is full: start a fresh conversation elsewhere.
            self.queue.push_front(ask);
            self.rotate(ctx, "context window full");
            return self.progress(ctx);
        }
        let mut meter = ClientMeter::new(quote.quote, prompt_tokens);
        let sat = meter.first_chunk_sat();
        tracing::debug!(
            request = ask.id,
            session = session.id,
            prompt_tokens,
            "turn started"
        );
        let session_id = session.id;
        self.turn = Some(Turn {
            ask,
            session: session_id,
            prompt_tokens,
            meter,
            hasher: ResponseHasher::default(),
            response: Vec::new(),
            started: ctx.now,
            first_token: None,
            deadline: ctx.now + self.cfg.turn_timeout,
            phase: TurnPhase::Paying,
            commitment: None,
            auditing: None,
        });
        self.pay(ctx, sat, true);
    }

    /// Pays `sat` for the current turn: the first chunk goes with the prompt.
    fn pay(&mut self, ctx: &mut Ctx<'_>, sat: u64, first: bool) {
        let (Some(url), Some(request)) = (self.mint_url(), self.turn.as_ref().map(|t| t.ask.id))
        else {
            return;
        };
        let purpose = SwapFor::Pay { request, first };
        let spend =
            self.payments
                .prepare_spend(&url, Amount::new(sat), ctx.now, &mut *ctx.crypto, purpose);
        match spend {
            Ok(Spend::Ready(proofs)) => self.send_payment(ctx, request, first, proofs),
            Ok(Spend::Swap(prepared)) => {
                self.payments
                    .submit(&mut link(&mut self.mint, ctx), prepared);
            }
            Err(e) => self.fail_turn(ctx, TurnFailure::Payment(PaymentFailure::Wallet(e)), false),
        }
    }

    /// Sends `proofs` for `request`. If that request is no longer the
    /// running turn (it failed while the payment's swap was at the mint), the
    /// proofs were never shown to anyone and go back to the wallet.
    fn send_payment(&mut self, ctx: &mut Ctx<'_>, request: u64, first: bool, proofs: Vec<Proof>) {
        let current = self.turn.as_ref().is_some_and(|t| t.ask.id == request)
            && self
                .session
                .as_ref()
                .is_some_and(|s| s.phase.quote().is_some())
            && self.mint.is_some();
        if !current {
            tracing::debug!(request, "payment no longer needed");
            return self.take_back(ctx, vec![proofs]);
        }
        let (Some(turn), Some(session), Some(url)) = (
            self.turn.as_mut(),
            self.session.as_ref(),
            self.mint.as_ref(),
        ) else {
            return;
        };
        let Some(quote) = session.phase.quote() else {
            return;
        };
        turn.phase = TurnPhase::Streaming;
        tracing::debug!(
            request = turn.ask.id,
            proofs = proofs.len(),
            first,
            "payment sent"
        );
        ctx.emit(NodeEvent::Client(ClientEvent::Paid {
            request: turn.ask.id,
            session: session.id,
            amount: proofs.iter().map(|p| p.amount.value()).sum(),
            payment: ys_of(&proofs).unwrap_or_default(),
            first,
        }));
        self.outstanding.push((Some(session.id), proofs.clone()));
        let req = if first {
            let mut prompt = session.context.clone();
            prompt.extend_from_slice(&turn.ask.text);
            ServiceRequest::Infer(InferRequest {
                quote: quote.quote.id(),
                prompt,
                max_output_tokens: self.cfg.max_output_tokens,
                mint: url.url.clone(),
                payment: proofs,
                probe: turn.ask.probe,
            })
        } else {
            ServiceRequest::Pay { payment: proofs }
        };
        let circuit = session.circuit;
        if let Err(e) = ctx.send(circuit, &AppMessage::Service(req)) {
            return self.fail_turn(ctx, TurnFailure::Circuit(CircuitFailure::Error(e)), true);
        }
        self.after_payment(ctx);
    }

    /// What follows a payment sent: nothing, unless the client is a
    /// double spender (the `adversary` feature), which takes it back at
    /// once, racing the service's settlement.
    fn after_payment(&mut self, ctx: &mut Ctx<'_>) {
        #[cfg(feature = "adversary")]
        if self.cfg.dangerous_double_spend {
            let session = self.session.as_ref().map(|s| s.id);
            self.reclaim(ctx, session);
        }
        #[cfg(not(feature = "adversary"))]
        let _ = ctx;
    }

    /// Reclaims payments of `session` (or all) that were never acknowledged.
    fn reclaim(&mut self, ctx: &mut Ctx<'_>, session: Option<u64>) {
        if self.mint.is_none() {
            return;
        }
        let (take, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.outstanding)
            .into_iter()
            .partition(|(s, _)| session.is_none_or(|x| *s == Some(x)));
        self.outstanding = keep;
        self.take_back(ctx, take.into_iter().map(|(_, p)| p).collect());
    }

    /// Puts proofs this wallet made for a payment back into it, and swaps
    /// them (with anything else received) so that whatever the service
    /// redeemed first is found out and the rest is this wallet's again.
    fn take_back(&mut self, ctx: &mut Ctx<'_>, payments: Vec<Vec<Proof>>) {
        let Some(url) = self.mint_url() else {
            // No mint to swap at: keep them outstanding, under no session.
            self.outstanding
                .extend(payments.into_iter().map(|p| (None, p)));
            return;
        };
        for proofs in payments {
            if let Err(e) = self.payments.take_back(&url, proofs, ctx.now) {
                tracing::debug!("reclaim refused by the wallet: {e}");
            }
        }
        let settle =
            self.payments
                .prepare_settle(&url, ctx.now, &mut *ctx.crypto, SwapFor::Reclaim);
        match settle {
            Ok(Some(prepared)) => self
                .payments
                .submit(&mut link(&mut self.mint, ctx), prepared),
            Ok(None) => {}
            Err(e) => tracing::debug!("reclaim not settled: {e}"),
        }
    }

    fn acknowledge(&mut self, session: u64) {
        self.outstanding.retain(|(s, _)| *s != Some(session));
    }

    fn fail_turn_unstarted(&mut self, ctx: &mut Ctx<'_>, reason: TurnFailure) {
        if let Some(ask) = self.queue.pop_front() {
            ctx.emit(NodeEvent::Client(ClientEvent::TurnFailed {
                request: ask.id,
                reason,
                retrying: false,
            }));
        }
    }

    /// Fails the current turn (or the queued request, if none runs):
    /// reclaims its unacknowledged payments, rotates away from the session
    /// if `rotate`, and retries in a new session while attempts remain.
    fn fail_turn(&mut self, ctx: &mut Ctx<'_>, reason: TurnFailure, rotate: bool) {
        let session_id = self.session.as_ref().map(|s| s.id);
        let ask = match self.turn.take() {
            Some(t) => Some(t.ask),
            None => self.queue.pop_front(),
        };
        if rotate {
            if let Some(s) = &self.session {
                self.bad_exits.insert(s.exit.node);
                if matches!(reason, TurnFailure::Timeout | TurnFailure::Circuit(_)) {
                    // Silence cannot be pinned on one hop: the retry avoids
                    // every relay of the route that went quiet.
                    for r in &s.relays {
                        ctx.directory.suspect(*r, ctx.now + ctx.suspect_for);
                    }
                }
            }
            self.rotate(ctx, "failure");
        }
        self.reclaim(ctx, session_id);
        if let Some(mut ask) = ask {
            ask.attempts += 1;
            let retrying = rotate && ask.attempts < self.cfg.max_attempts;
            tracing::debug!(
                request = ask.id,
                failure = reason.kind(),
                retrying,
                "turn failed"
            );
            ctx.emit(NodeEvent::Client(ClientEvent::TurnFailed {
                request: ask.id,
                reason,
                retrying,
            }));
            if retrying {
                self.queue.push_front(ask);
            }
        }
        self.progress(ctx);
    }

    // ----- inputs -------------------------------------------------------------

    pub fn on_directory(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(p) = self.prices.as_mut() {
            let roles = &self.cfg.services;
            let adverts = roles.iter().flat_map(|r| ctx.directory.adverts(*r));
            p.on_directory(ctx.now, ctx.epoch, ctx.dht, adverts);
        }
        self.progress(ctx);
    }

    /// A capability fetch finished (verified bytes, or `None`).
    pub fn on_capabilities(&mut self, ctx: &mut Ctx<'_>, node: NodeId, caps: Option<&[u8]>) {
        if let Some(p) = self.prices.as_mut() {
            p.on_capabilities(node, caps);
        }
        self.progress(ctx);
    }

    /// A streaming turn's deadline. While paying, the mint operation's
    /// own deadline decides (`on_mint_silent`).
    fn turn_deadline(&self) -> Option<Instant> {
        self.turn
            .as_ref()
            .filter(|t| t.phase == TurnPhase::Streaming)
            .map(|t| t.deadline)
    }

    /// The session's deadline, which matters only between turns.
    fn session_deadline(&self) -> Option<Instant> {
        if self.turn.is_some() {
            return None;
        }
        self.session.as_ref().and_then(|s| s.phase.deadline())
    }

    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        let late = self
            .mint
            .as_mut()
            .map(|m| m.expired(ctx))
            .unwrap_or_default();
        for seq in late {
            self.on_mint_silent(ctx, seq);
        }
        if self.turn_deadline().is_some_and(|d| d <= now)
            || self.session_deadline().is_some_and(|d| d <= now)
        {
            return self.fail_turn(ctx, TurnFailure::Timeout, true);
        }
        if let (Some(s), Some(every)) = (self.session.as_mut(), self.cfg.mailbox_poll)
            && s.next_poll.is_some_and(|t| t <= now)
        {
            s.next_poll = Some(now + every);
            if let Err(e) = ctx.onion.poll_mailbox(s.circuit) {
                tracing::debug!("mailbox poll: {e}");
            }
        }
        if let (Some(s), Some(mean)) = (self.session.as_mut(), self.cfg.cover_mean_gap)
            && s.next_cover.is_some_and(|t| t <= now)
        {
            s.next_cover = Some(now + exponential(ctx.decisions, mean));
            // Dropped by the last relay (hop index = relays - 1); a direct
            // circuit (no relays) has no hop to drop it before the service.
            if let Some(last) = s.relays.len().checked_sub(1)
                && let Err(e) = ctx.onion.send_cover(now, s.circuit, last)
            {
                tracing::debug!("cover cell: {e}");
            }
        }
        self.progress(ctx);
    }

    pub fn on_circuit(
        &mut self,
        ctx: &mut Ctx<'_>,
        circuit: u32,
        owner: &Owner,
        e: &CircuitEvent,
        msg: Option<AppMessage>,
    ) {
        match owner {
            Owner::ClientMint(_) => {
                let answer = self
                    .mint
                    .as_mut()
                    .and_then(|m| m.on_circuit(ctx, circuit, e, msg));
                if let Some((seq, response)) = answer {
                    self.on_mint_reply(ctx, seq, response);
                }
            }
            Owner::Session(_) => {
                if self.session.as_ref().is_none_or(|s| s.circuit != circuit) {
                    return;
                }
                match e {
                    CircuitEvent::CircuitReady { .. } => self.on_session_ready(ctx),
                    CircuitEvent::CircuitFailed { reason, .. } => {
                        self.fail_turn(ctx, TurnFailure::Circuit(reason.clone()), true);
                    }
                    CircuitEvent::Reply { .. } => match msg {
                        Some(AppMessage::ServiceReply(r)) => self.on_service_reply(ctx, r),
                        _ => tracing::debug!("unexpected message on a session"),
                    },
                }
            }
            Owner::ServiceMint(_) | Owner::Baseline(_) => {}
        }
    }

    fn on_session_ready(&mut self, ctx: &mut Ctx<'_>) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.phase = SessionPhase::Opening {
            deadline: ctx.now + self.cfg.turn_timeout,
        };
        if let Some(every) = self.cfg.mailbox_poll {
            s.next_poll = Some(ctx.now + every);
        }
        if let Some(mean) = self.cfg.cover_mean_gap {
            s.next_cover = Some(ctx.now + exponential(ctx.decisions, mean));
        }
        let circuit = s.circuit;
        let req = AppMessage::Service(ServiceRequest::GetQuote {
            model: self.cfg.model.clone(),
        });
        if let Err(e) = ctx.send(circuit, &req) {
            self.fail_turn(ctx, TurnFailure::Circuit(CircuitFailure::Error(e)), true);
        }
    }

    fn on_service_reply(&mut self, ctx: &mut Ctx<'_>, r: ServiceResponse) {
        let now = ctx.now;
        if let Some(s) = self.session.as_mut() {
            s.last_active = now;
        }
        match r {
            ServiceResponse::Quote(q) => self.on_quote(ctx, q),
            ServiceResponse::Stream { text } => {
                let Some(turn) = self.turn.as_mut() else {
                    return;
                };
                if turn.first_token.is_none() {
                    turn.first_token = Some(now);
                    ctx.emit(NodeEvent::Client(ClientEvent::FirstToken {
                        request: turn.ask.id,
                        at: now,
                    }));
                }
                turn.meter.received(tokens::count(&text));
                turn.hasher.update(&text);
                turn.response.extend_from_slice(&text);
                if self.cfg.stream_text {
                    ctx.emit(NodeEvent::Client(ClientEvent::Text {
                        request: turn.ask.id,
                        text,
                    }));
                }
                turn.deadline = now + self.cfg.turn_timeout;
                let s = turn.session;
                self.acknowledge(s);
            }
            ServiceResponse::NeedPayment { claimed_msat } => {
                let Some(turn) = self.turn.as_mut() else {
                    return;
                };
                turn.deadline = now + self.cfg.turn_timeout;
                let s = turn.session;
                match turn.meter.on_payment_request(claimed_msat) {
                    Ok(sat) => {
                        turn.phase = TurnPhase::Paying;
                        self.acknowledge(s);
                        self.pay(ctx, sat, false);
                    }
                    Err(e) => self.fail_turn(ctx, TurnFailure::Overbilling(e), true),
                }
            }
            ServiceResponse::Done(receipt) => self.on_done(ctx, &receipt),
            ServiceResponse::Committed(c) => {
                let key = self.session.as_ref().map(|s| s.identity_key);
                if let Some(turn) = self.turn.as_mut()
                    && key == Some(c.service_key)
                {
                    turn.commitment = Some(c);
                }
            }
            ServiceResponse::Audited(proof) => self.on_audited(ctx, &proof),
            ServiceResponse::Refused(Refusal::BadAudit(_))
                if self.turn.as_ref().is_some_and(|t| t.auditing.is_some()) =>
            {
                self.finish_audit(ctx, AuditOutcome::Caught("refused"));
            }
            // Unacknowledged payments are reclaimed by fail_turn: a service
            // that refused before serving did not keep them.
            ServiceResponse::Refused(why) => self.fail_turn(ctx, TurnFailure::Refused(why), true),
        }
    }

    fn on_quote(&mut self, ctx: &mut Ctx<'_>, q: SignedQuote) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let url = self.mint.as_ref().map(|m| m.url.clone());
        let verdict = q.verify(ctx.now, ctx.identity.fidelity()).and_then(|_| {
            if q.quote.service != s.exit.node || q.identity_key != s.identity_key {
                Err(MarketError::ForgedQuote)
            } else if q.quote.model != self.cfg.model {
                Err(MarketError::QuoteForAnotherModel {
                    quoted: q.quote.model.clone(),
                    asked: self.cfg.model.clone(),
                })
            } else if url.is_none_or(|u| !q.quote.mints.contains(&u)) {
                Err(MarketError::MintNotAccepted)
            } else {
                Ok(())
            }
        });
        match verdict {
            Ok(()) => {
                s.phase = SessionPhase::Ready { quote: Box::new(q) };
                self.progress(ctx);
            }
            Err(e) => self.fail_turn(ctx, TurnFailure::BadQuote(e), true),
        }
    }

    fn on_done(&mut self, ctx: &mut Ctx<'_>, receipt: &SignedReceipt) {
        let (Some(turn), Some(session)) = (self.turn.as_ref(), self.session.as_ref()) else {
            return;
        };
        let Some(quote) = session.phase.quote() else {
            return;
        };
        let check = receipt
            .verify(
                &session.identity_key,
                quote.quote.id(),
                turn.prompt_tokens,
                turn.meter.output_tokens(),
                &turn.hasher.digest(),
                ctx.identity.fidelity(),
            )
            .and_then(|_| turn.meter.check_final(receipt.receipt.charged_msat));
        if let Err(e) = check {
            let reason = match e {
                MarketError::Overbilling { .. } => TurnFailure::Overbilling(e),
                other => TurnFailure::BadReceipt(other),
            };
            return self.fail_turn(ctx, reason, true);
        }
        let verified = self.cfg.audit.is_some();
        let probe_ok = turn.ask.probe.map(|n| match verified {
            true => audits::probe_matches(&self.cfg.model, &self.prompt_of(turn), &turn.response),
            false => probe_passed(&n, &turn.response),
        });
        if probe_ok == Some(false) {
            if verified {
                self.distrust(ctx, AuditOutcome::Caught("probe"));
            }
            return self.fail_turn(ctx, TurnFailure::ProbeFailed, true);
        }
        let charged_msat = receipt.receipt.charged_msat;
        if let Some(policy) = self.cfg.audit
            && turn.ask.probe.is_none()
            && unit(&mut *ctx.decisions) < policy.rate
        {
            return self.start_audit(ctx, policy, charged_msat);
        }
        let outcome = (verified && self.turn.as_ref().is_some_and(|t| t.commitment.is_none()))
            .then_some(AuditOutcome::Uncommitted);
        self.complete_turn(ctx, charged_msat, outcome, probe_ok);
    }

    /// The full prompt of `turn`: the session's context and its message.
    fn prompt_of(&self, turn: &Turn) -> Vec<u8> {
        let mut p = self
            .session
            .as_ref()
            .map(|s| s.context.clone())
            .unwrap_or_default();
        p.extend_from_slice(&turn.ask.text);
        p
    }

    /// Challenges random steps of the turn's committed transcript.
    fn start_audit(&mut self, ctx: &mut Ctx<'_>, policy: AuditPolicy, charged_msat: u64) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let Some(commitment) = turn.commitment.clone() else {
            return self.complete_turn(ctx, charged_msat, Some(AuditOutcome::Uncommitted), None);
        };
        let challenge = match crate::verify::challenge(
            &mut *ctx.decisions,
            commitment.job,
            commitment.steps,
            policy.steps,
        ) {
            Ok(c) => c,
            Err(_) => {
                return self.complete_turn(
                    ctx,
                    charged_msat,
                    Some(AuditOutcome::Caught("malformed")),
                    None,
                );
            }
        };
        turn.deadline = ctx.now + self.cfg.turn_timeout;
        turn.auditing = Some(PendingAudit {
            challenge: challenge.clone(),
            commitment,
            charged_msat,
        });
        let Some(circuit) = self.session.as_ref().map(|s| s.circuit) else {
            return;
        };
        let msg = AppMessage::Service(ServiceRequest::Audit(challenge));
        if ctx.send(circuit, &msg).is_err() {
            self.finish_audit(ctx, AuditOutcome::Caught("unanswered"));
        }
    }

    fn on_audited(&mut self, ctx: &mut Ctx<'_>, proof: &AuditProof) {
        let Some(turn) = self.turn.as_ref() else {
            return;
        };
        let Some(pending) = turn.auditing.as_ref() else {
            return;
        };
        let outcome = audits::verdict(
            pending,
            proof,
            &self.prompt_of(turn),
            &turn.response,
            ctx.identity.fidelity(),
        );
        self.finish_audit(ctx, outcome);
    }

    /// The audit of the turn in flight ended with `outcome`.
    fn finish_audit(&mut self, ctx: &mut Ctx<'_>, outcome: AuditOutcome) {
        let Some(pending) = self.turn.as_mut().and_then(|t| t.auditing.take()) else {
            return;
        };
        if outcome.caught() {
            self.distrust(ctx, outcome);
        }
        self.complete_turn(ctx, pending.charged_msat, Some(outcome), None);
    }

    /// Reputation: the session's service is never chosen again.
    fn distrust(&mut self, ctx: &mut Ctx<'_>, outcome: AuditOutcome) {
        if let Some(s) = self.session.as_ref() {
            self.distrusted.insert(s.exit.node);
            ctx.emit(NodeEvent::Client(ClientEvent::Distrusted {
                service: s.exit.node,
                outcome,
            }));
        }
    }

    /// The turn in flight is answered: reports it, and rotates if the
    /// session is used up or its service was caught.
    fn complete_turn(
        &mut self,
        ctx: &mut Ctx<'_>,
        charged_msat: u64,
        audit: Option<AuditOutcome>,
        probe_ok: Option<bool>,
    ) {
        let Some(session) = self.session.as_ref() else {
            return;
        };
        let Some(quote_id) = session.phase.quote().map(|q| q.quote.id()) else {
            return;
        };
        let Some(turn) = self.turn.take() else {
            return;
        };
        let Some(session) = self.session.as_mut() else {
            return;
        };
        self.outstanding.retain(|(s, _)| *s != Some(session.id));
        session.turns += 1;
        session.context.extend_from_slice(&turn.ask.text);
        session.context.extend_from_slice(&turn.response);
        let context_tokens = tokens::count(&session.context);
        let report = TurnReport {
            request: turn.ask.id,
            session: session.id,
            turn: session.turns,
            exit: session.exit.node,
            quote: quote_id,
            input_tokens: turn.prompt_tokens,
            output_tokens: turn.meter.output_tokens(),
            paid_msat: turn.meter.paid_msat(),
            charged_msat,
            started: turn.started,
            first_token: turn.first_token.unwrap_or(ctx.now),
            done: ctx.now,
            context_tokens,
            response: turn.response,
            probe_passed: probe_ok,
            audit,
        };
        let rotate = session.turns >= self.cfg.turns_per_session
            || context_tokens >= self.cfg.context_window
            || audit.is_some_and(AuditOutcome::caught);
        tracing::debug!(
            request = report.request,
            input_tokens = report.input_tokens,
            output_tokens = report.output_tokens,
            paid_msat = report.paid_msat,
            charged_msat = report.charged_msat,
            "turn done"
        );
        ctx.emit(NodeEvent::Client(ClientEvent::TurnDone(report)));
        if rotate {
            self.rotate(ctx, "turn limit");
        }
        self.progress(ctx);
    }

    fn on_mint_reply(&mut self, ctx: &mut Ctx<'_>, seq: u64, response: MintApiResponse) {
        let Some(url) = self.mint_url() else {
            return;
        };
        let now = ctx.now;
        let l = &mut link(&mut self.mint, ctx);
        match self.payments.answer(l, &url, seq, response, now) {
            Outcome::Keys { audit, result } => self.on_keys(ctx, &url, audit, result),
            Outcome::Quoted(q) => {
                self.quotes.insert(q.quote, q.amount.value());
                if let Some(m) = self.mint.as_ref() {
                    ctx.emit(NodeEvent::Client(ClientEvent::PayInvoice {
                        mint: m.mint.node,
                        quote: q.quote,
                        amount: q.amount.value(),
                    }));
                }
            }
            Outcome::Issued(result) => {
                match result {
                    Ok(amount) => {
                        tracing::debug!(amount = amount.value(), "wallet funded");
                        ctx.emit(NodeEvent::Client(ClientEvent::Funded {
                            amount: amount.value(),
                        }));
                    }
                    Err(e) => tracing::debug!("issuance refused: {e}"),
                }
                self.progress(ctx);
            }
            Outcome::Swapped {
                purpose, result, ..
            } => self.on_swapped(ctx, purpose, result),
            Outcome::SwapRefused { purpose, error } => {
                if let SwapFor::Pay { .. } = purpose {
                    let failure = TurnFailure::Payment(PaymentFailure::Mint(error));
                    self.fail_turn(ctx, failure, false);
                }
            }
            Outcome::States(_) => {
                // What is still unspent and received gets swapped in.
                let settle =
                    self.payments
                        .prepare_settle(&url, ctx.now, &mut *ctx.crypto, SwapFor::Reclaim);
                if let Ok(Some(prepared)) = settle {
                    self.payments
                        .submit(&mut link(&mut self.mint, ctx), prepared);
                }
            }
            Outcome::SwapRecovered { amount, .. } => {
                tracing::debug!(amount = amount.value(), "swap recovered")
            }
            Outcome::Quiet
            | Outcome::KeysSilent { .. }
            | Outcome::SwapSilent { .. }
            | Outcome::SwapUndone { .. } => {}
        }
    }

    /// The mint's keysets arrived: the first look is followed by a second
    /// from another circuit when keysets are audited.
    fn on_keys(
        &mut self,
        ctx: &mut Ctx<'_>,
        url: &MintUrl,
        audit: bool,
        result: Result<(), EcashError>,
    ) {
        match (audit, result) {
            (false, Ok(())) if !self.mint_audited => {
                if let Some(m) = self.mint.as_mut() {
                    m.renew(ctx);
                }
                self.payments
                    .fetch_keys(&mut link(&mut self.mint, ctx), url, true);
            }
            (false, Ok(())) => {}
            (true, Ok(())) => self.mint_audited = true,
            (_, Err(e)) => self.reject_mint(ctx, e.to_string()),
        }
        self.progress(ctx);
    }

    /// A swap answered: a payment's change goes out, a reclaim is done.
    fn on_swapped(
        &mut self,
        ctx: &mut Ctx<'_>,
        purpose: SwapFor,
        result: Result<Vec<Proof>, EcashError>,
    ) {
        match (purpose, result) {
            (SwapFor::Pay { request, first }, Ok(proofs)) => {
                self.send_payment(ctx, request, first, proofs)
            }
            (SwapFor::Pay { .. }, Err(e)) => {
                self.fail_turn(ctx, TurnFailure::Payment(PaymentFailure::Wallet(e)), false)
            }
            (SwapFor::Reclaim, Ok(_)) => {}
            (SwapFor::Reclaim, Err(e)) => tracing::debug!("reclaim not completed: {e}"),
        }
    }

    /// A mint request went unanswered.
    fn on_mint_silent(&mut self, ctx: &mut Ctx<'_>, seq: u64) {
        let Some(url) = self.mint_url() else {
            return;
        };
        let l = &mut link(&mut self.mint, ctx);
        match self.payments.expired(l, &url, seq) {
            Outcome::SwapSilent {
                purpose: SwapFor::Pay { .. },
            } => {
                let failure = TurnFailure::Payment(PaymentFailure::MintSilent);
                self.fail_turn(ctx, failure, false);
            }
            Outcome::KeysSilent { audit } => {
                if self.payments.holds_mint_value() {
                    // Swaps or issuances at this mint are unresolved: keep
                    // asking it (from a fresh circuit) rather than give up
                    // what it may have signed.
                    self.payments
                        .fetch_keys(&mut link(&mut self.mint, ctx), &url, audit);
                } else {
                    self.drop_mint();
                }
            }
            _ => {}
        }
    }

    /// Quotes whose issuance awaits an answer.
    pub fn pending_issues(&self) -> Vec<crate::ecash::QuoteId> {
        self.payments.pending_issues()
    }

    /// Blinded outputs of swaps and issuances awaiting an answer.
    pub fn pending_outputs(&self) -> Vec<crate::ecash::BlindedMessage> {
        self.payments.pending_outputs()
    }

    /// Proofs that are inputs of swaps in flight (still this wallet's until
    /// the mint answers).
    pub fn in_flight(&self) -> Vec<Proof> {
        self.payments.in_flight()
    }

    /// Forgets the current mint access and every request made through it
    /// (sequence numbers restart with the next access). Only a mint
    /// rejected for inconsistent keysets can have swaps pending here.
    fn drop_mint(&mut self) -> Option<MintAccess> {
        if let Some(url) = self.mint_url() {
            self.payments.forget_mint(&url);
        }
        self.mint.take()
    }

    /// Stops using the current mint and remembers not to pick it again.
    fn reject_mint(&mut self, ctx: &mut Ctx<'_>, reason: String) {
        if let Some(m) = self.drop_mint() {
            tracing::debug!("mint rejected: {reason}");
            self.bad_mints.insert(m.mint.node);
            ctx.emit(NodeEvent::Client(ClientEvent::MintRejected {
                mint: m.mint.node,
                reason,
            }));
        }
        self.mint_audited = false;
    }
}
