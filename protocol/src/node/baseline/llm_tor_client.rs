//! An LLM-Tor user as a node role (seed `004`): it buys credits and has
//! tokens blind-signed over a direct link (identity known), then redeems
//! one token per prompt through three relays to the proxy. Circuits are
//! reused for `circuit_lifetime` (Tor's `MaxCircuitDirtiness`, ten
//! minutes), then replaced.

use std::net::SocketAddr;

use super::BaselineEvent;
use super::conversation::Conversation;
use crate::baselines::llm_tor::wire::{LlmTorRequest, LlmTorResponse};
use crate::baselines::llm_tor::{IssuerPublicKey, LlmTorError, TokenId, TokenWallet};
use crate::identity::Epoch;
use crate::identity::NodeId;
use crate::node::{AppMessage, Ctx, NodeEvent, Owner};
use crate::onion::client::ClientEvent as CircuitEvent;
use crate::onion::route::Candidate;
use crate::time::{Duration, Instant};

/// How an LLM-Tor user is set up.
#[derive(Clone, Debug)]
pub struct LlmTorClientConfig {
    /// The proxy's address (clearnet, as the seed's note says).
    pub proxy: SocketAddr,
    /// The proxy's node id: the onion key certificate must be its.
    pub proxy_node: NodeId,
    /// The proxy's token key.
    pub issuer: IssuerPublicKey,
    /// The user's account at the proxy.
    pub account: String,
    /// Who pays for credits.
    pub payer: String,
    /// The model asked for.
    pub model: String,
    /// Output tokens asked per request.
    pub max_output_tokens: u32,
    /// Context window in tokens.
    pub context_window: u64,
    /// Credits bought (and tokens issued) at once, when none is left.
    pub tokens_per_purchase: u32,
    /// How long a circuit carries new requests.
    pub circuit_lifetime: Duration,
    /// A request unanswered this long is retried.
    pub timeout: Duration,
    /// Attempts per request.
    pub attempts: u32,
}

/// Where the direct exchange with the proxy stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direct {
    Idle,
    /// A request is out since `since`.
    Waiting {
        since: Instant,
    },
}

/// The circuit to the proxy.
#[derive(Clone, Copy, Debug)]
struct Circuit {
    id: u32,
    no: u64,
    up: bool,
    since: Instant,
}

/// The LLM-Tor client role.
pub(crate) struct LlmTorClient {
    cfg: LlmTorClientConfig,
    wallet: TokenWallet,
    proxy: Option<(Epoch, Candidate)>,
    direct: Direct,
    circuit: Option<Circuit>,
    circuits: u64,
    /// The token of the request in flight.
    spending: Option<TokenId>,
    chat: Conversation,
}

impl LlmTorClient {
    pub fn new(cfg: LlmTorClientConfig) -> Self {
        LlmTorClient {
            wallet: TokenWallet::new(cfg.issuer.clone()),
            proxy: None,
            direct: Direct::Idle,
            circuit: None,
            circuits: 0,
            spending: None,
            chat: Conversation::default(),
            cfg,
        }
    }

    pub fn ask(&mut self, ctx: &mut Ctx<'_>, text: Vec<u8>) -> u64 {
        let id = self.chat.ask(text);
        self.progress(ctx);
        id
    }

    pub fn restart(&mut self) {
        self.chat.restart();
    }

    /// Tokens ready to redeem.
    pub fn tokens(&self) -> usize {
        self.wallet.len()
    }

    /// Moves the next request along as far as it can go.
    fn progress(&mut self, ctx: &mut Ctx<'_>) {
        if !self.chat.ready() || self.direct != Direct::Idle {
            return;
        }
        let Some(proxy) = self.proxy.filter(|(e, _)| *e == ctx.epoch).map(|(_, c)| c) else {
            return self.direct(ctx, LlmTorRequest::Descriptor);
        };
        if self.wallet.is_empty() {
            let req = LlmTorRequest::Purchase {
                account: self.cfg.account.clone(),
                payer: self.cfg.payer.clone(),
                credits: u64::from(self.cfg.tokens_per_purchase.max(1)),
            };
            return self.direct(ctx, req);
        }
        let stale = self.circuit.is_some_and(|c| {
            ctx.now.saturating_duration_since(c.since) > self.cfg.circuit_lifetime
        });
        if stale {
            self.drop_circuit(ctx);
        }
        match self.circuit {
            None => self.build(ctx, &proxy),
            Some(c) if c.up => self.redeem(ctx, c),
            Some(_) => {}
        }
    }

    fn build(&mut self, ctx: &mut Ctx<'_>, proxy: &Candidate) {
        let route = match ctx.route_to(proxy) {
            Ok(r) => r,
            Err(e) => return self.chat.fail_all(ctx, &format!("no route: {e}")),
        };
        self.circuits += 1;
        let no = self.circuits;
        match ctx.build(route.hops(), Owner::Baseline(no)) {
            Ok(id) => {
                self.circuit = Some(Circuit {
                    id,
                    no,
                    up: false,
                    since: ctx.now,
                });
                ctx.emit(NodeEvent::Baseline(BaselineEvent::CircuitOpened {
                    circuit: no,
                    relays: route.relays.iter().map(|r| r.node).collect(),
                    entry: route.entry().addr,
                }));
            }
            Err(e) => self.chat.fail_all(ctx, &format!("circuit: {e}")),
        }
    }

    fn redeem(&mut self, ctx: &mut Ctx<'_>, c: Circuit) {
        let Ok(token) = self.wallet.take() else {
            return;
        };
        let (timeout, window, max) = (
            self.cfg.timeout,
            self.cfg.context_window,
            self.cfg.max_output_tokens,
        );
        let Some((seq, prompt)) = self.chat.begin(ctx.now, timeout, window, max) else {
            self.wallet.restore(token);
            return;
        };
        self.spending = Some(token.id());
        let request = LlmTorRequest::Redeem {
            token,
            model: self.cfg.model.clone(),
            prompt,
            max_output_tokens: max,
        };
        if ctx
            .send(c.id, &AppMessage::LlmTor { seq, request })
            .is_err()
        {
            self.drop_circuit(ctx);
            self.chat.fail(ctx, self.cfg.attempts, "circuit gone");
        }
    }

    fn direct(&mut self, ctx: &mut Ctx<'_>, request: LlmTorRequest) {
        self.direct = Direct::Waiting { since: ctx.now };
        ctx.send_direct(self.cfg.proxy, &AppMessage::LlmTor { seq: 0, request });
    }

    /// An answer on the direct link.
    pub fn on_direct(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr, response: LlmTorResponse) {
        if from != self.cfg.proxy || self.direct == Direct::Idle {
            return;
        }
        self.direct = Direct::Idle;
        match response {
            LlmTorResponse::Descriptor(cert) => self.on_descriptor(ctx, &cert),
            LlmTorResponse::Purchased { .. } => {
                let credits = u64::from(self.cfg.tokens_per_purchase.max(1));
                ctx.emit(NodeEvent::Baseline(BaselineEvent::Purchased { credits }));
                let n = self.cfg.tokens_per_purchase.max(1) as usize;
                match self.wallet.request(&mut *ctx.crypto, n) {
                    Ok(blinded) => {
                        let account = self.cfg.account.clone();
                        return self.direct(ctx, LlmTorRequest::Issue { account, blinded });
                    }
                    Err(e) => self.chat.fail_all(ctx, &e.to_string()),
                }
            }
            LlmTorResponse::Issued { blind_signatures } => {
                match self.wallet.accept(&blind_signatures) {
                    Ok(ready) => {
                        ctx.emit(NodeEvent::Baseline(BaselineEvent::TokensIssued { ready }))
                    }
                    Err(e) => self.chat.fail_all(ctx, &e.to_string()),
                }
            }
            LlmTorResponse::Refused(e) => self.chat.fail_all(ctx, &e.to_string()),
            LlmTorResponse::Stream { .. } | LlmTorResponse::Done { .. } => {}
        }
        self.progress(ctx);
    }

    fn on_descriptor(&mut self, ctx: &mut Ctx<'_>, cert: &crate::identity::OnionKeyCert) {
        let node = NodeId::from_identity_key(&cert.identity_key);
        let checked = if node != self.cfg.proxy_node {
            Err(LlmTorError::Descriptor(
                "certificate of another node".into(),
            ))
        } else {
            cert.verify(ctx.epoch, false, ctx.identity.fidelity())
                .map_err(|e| LlmTorError::Descriptor(e.to_string()))
        };
        match checked {
            Ok(()) => {
                let candidate = Candidate {
                    node,
                    addr: self.cfg.proxy,
                    asn: ctx.net.asn(self.cfg.proxy),
                    family: None,
                    bandwidth: 0,
                    onion_key: cert.onion_key,
                };
                self.proxy = Some((ctx.epoch, candidate));
            }
            Err(e) => self.chat.fail_all(ctx, &e.to_string()),
        }
    }

    /// An event on one of our circuits.
    pub fn on_circuit(
        &mut self,
        ctx: &mut Ctx<'_>,
        circuit: u32,
        e: &CircuitEvent,
        msg: Option<AppMessage>,
    ) {
        let Some(c) = self.circuit.filter(|c| c.id == circuit) else {
            return;
        };
        match e {
            CircuitEvent::CircuitReady { .. } => {
                self.circuit = Some(Circuit { up: true, ..c });
            }
            CircuitEvent::CircuitFailed { .. } => {
                self.circuit = None;
                if self.chat.current.is_some() {
                    self.spending = None;
                    self.chat.fail(ctx, self.cfg.attempts, "circuit failed");
                }
            }
            CircuitEvent::Reply { .. } => {
                if let Some(AppMessage::LlmTorReply { seq, response }) = msg {
                    self.on_reply(ctx, c, seq, response);
                }
            }
        }
        self.progress(ctx);
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_>, c: Circuit, seq: u64, response: LlmTorResponse) {
        match response {
            LlmTorResponse::Stream { text } => self.chat.chunk(ctx, seq, &text),
            LlmTorResponse::Done { output_tokens } => {
                let token = self.spending.take();
                self.chat.finish(ctx, seq, output_tokens, token, Some(c.no));
            }
            LlmTorResponse::Refused(e) => {
                self.spending = None;
                let attempts = match e {
                    // A spent or forged token will not pass on a retry.
                    LlmTorError::Upstream(_) => self.cfg.attempts,
                    _ => 1,
                };
                self.chat.fail(ctx, attempts, &e.to_string());
            }
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if let Direct::Waiting { since } = self.direct
            && ctx.now.saturating_duration_since(since) >= self.cfg.timeout
        {
            // The answer was lost: ask again (a lost issuance answer costs
            // its credits; LLM-Tor has no restore).
            self.direct = Direct::Idle;
        }
        if self.chat.deadline().is_some_and(|d| d <= ctx.now) {
            self.spending = None;
            self.drop_circuit(ctx);
            self.chat.fail(ctx, self.cfg.attempts, "timed out");
        }
        self.progress(ctx);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let direct = match self.direct {
            Direct::Waiting { since } => Some(since + self.cfg.timeout),
            Direct::Idle => None,
        };
        [direct, self.chat.deadline()].into_iter().flatten().min()
    }

    fn drop_circuit(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(c) = self.circuit.take() {
            ctx.destroy(c.id);
        }
    }
}
