//! The service role: a Ghost (provider API account) or a GPU node (local
//! model) selling inference for ecash (whitepaper "Ghost Node Function",
//! "GPU Node Competition", "Malicious Service Nodes").
//!
//! Pipeline, per the whitepaper: receive the decapsulated request and
//! payment; verify the ecash offline (DLEQ, against the mint keysets it
//! knows); call the backend; stream the response into reply cells, asking for
//! the next prepaid chunk when the paid value is used up; sign a receipt;
//! redeem the ecash at the mint, at once or in batches.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;

use secp256k1::PublicKey;
use serde::{Deserialize, Serialize};

use super::directory::{candidate, mint_url};
use super::mint_access::MintAccess;
use super::observe::Observation;
use super::payer_ledger::PayerLedger;
use super::payments::{MintLink, Outcome, Payments, Received};
use super::wire::{
    AppMessage, InferRequest, MintApiRequest, MintApiResponse, Refusal, ServiceRequest,
    ServiceResponse,
};
use super::{Ctx, NodeEvent, Owner};
use crate::backend::{BackendOutput, InferenceBackend, Job};
use crate::dht::Role;
use crate::ecash::messages::{CheckStateResponse, ProofState};
use crate::ecash::wallet::{NoHold, ProofOrigin};
use crate::ecash::{Amount, MintUrl, Proof, Wallet, WalletPolicy};
use crate::market::billing::ServiceMeter;
use crate::market::receipt::ResponseHasher;
use crate::market::{
    CostModel, Price, Quote, QuoteId, Receipt, SignedQuote, SignedReceipt, tokens,
};
use crate::onion::client::ClientEvent as CircuitEvent;
use crate::time::{Duration, Instant};
use crate::verify::{AuditChallenge, Commitment, Transcript};

/// Ghost or GPU node.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServiceKind {
    /// Resells provider API access.
    Ghost,
    /// Serves an open model on its own hardware, at this quality (0..1).
    Gpu {
        /// Model quality relative to the frontier.
        quality: f64,
    },
}

/// One model on offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The model, by the name adverts and quotes use.
    pub model: String,
    /// Input price.
    pub input: Price,
    /// Output price.
    pub output: Price,
    /// Output cap per request.
    pub max_output_tokens: u32,
    /// Prepaid chunk.
    pub chunk_msat: u64,
}

/// When received ecash is redeemed at the mint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// After every payment: exposure to a double spend is one chunk.
    Immediate,
    /// Every `every`: exposure is everything received since the last batch.
    Batch {
        /// The batch period.
        every: Duration,
    },
}

/// **Adversarial** behaviour of a service (off by default; the
/// `adversary` feature).
#[cfg(feature = "adversary")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceAdversary {
    /// Claims this many parts per million of true usage (e.g. 1,200,000 = +20%).
    pub overbill_ppm: Option<u64>,
    /// Takes payment, then sends nothing back.
    pub drop_replies: bool,
    /// Keeps every prompt it serves, with what else it saw (whitepaper
    /// "Malicious Service Nodes": prompt harvesting); see
    /// [`Node::harvested`](super::Node::harvested).
    pub harvest_prompts: bool,
}

/// One prompt kept by a harvesting service.
#[cfg(feature = "adversary")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarvestedPrompt {
    /// When it arrived.
    pub at: Instant,
    /// The onion session it arrived on: the prompts of one session share
    /// it (whitepaper "Context-Window Compartmentalization": a Ghost sees
    /// one session's context window).
    pub session: u32,
    /// The previous hop it came from.
    pub prev: SocketAddr,
    /// The prompt.
    pub prompt: Vec<u8>,
    /// `Y`s of the first payment.
    pub payment: Vec<PublicKey>,
}

/// Service role setup.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Ghost or GPU node.
    pub kind: ServiceKind,
    /// Models and prices.
    pub offers: Vec<Offer>,
    /// How long a quote stays valid.
    pub quote_ttl: Duration,
    /// Settlement policy.
    pub settlement: Settlement,
    /// Requests served at once; more are refused as rate limited.
    pub max_concurrent: usize,
    /// How long to wait for the mint.
    pub mint_timeout: Duration,
    /// What serving costs it.
    pub cost: CostModel,
    /// **Adversarial** behaviour (the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub dangerous_behaviour: ServiceAdversary,
}

/// What a service publishes behind its advert's commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceCapabilities {
    /// Ghost or GPU node.
    pub kind: ServiceKind,
    /// The models and prices this service offers.
    pub offers: Vec<Offer>,
}

/// What the service role reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceEvent {
    /// A request was served to the end.
    Served {
        /// Onion session.
        session: u32,
        /// The quote the request names.
        quote: QuoteId,
        /// The model, by the name adverts and quotes use.
        model: String,
        /// Input tokens.
        input_tokens: u64,
        /// Output tokens.
        output_tokens: u64,
        /// What it charged.
        charged_msat: u64,
        /// What it was paid.
        paid_sat: u64,
        /// What serving it cost (the [`CostModel`]).
        cost_msat: u64,
    },
    /// A request was refused (or a job stopped before its end).
    Refused {
        /// The session it belongs to.
        session: u32,
        /// Why, in words for logs and errors.
        refusal: Refusal,
        /// What the job had delivered by then, at the quote's prices (0
        /// when no job was running).
        charged_msat: u64,
        /// What the job had been paid by then.
        paid_sat: u64,
    },
    /// Settlement found proofs a session paid already spent by their payer
    /// (a double spend): the service lost them.
    PaymentLost {
        /// The session that paid them.
        session: u32,
        /// Their value.
        amount_sat: u64,
    },
    /// Received ecash was redeemed at the mint.
    Settled {
        /// The mint's URL.
        mint: String,
        /// Amount swapped in.
        amount: u64,
    },
    /// Redemption failed (e.g. the payer double-spent, or the mint is down).
    SettlementFailed {
        /// The mint's URL.
        mint: String,
        /// Why, in words for logs and errors.
        reason: String,
    },
}

#[derive(Debug)]
struct ActiveJob {
    quote: Quote,
    meter: ServiceMeter,
    hasher: ResponseHasher,
    backend_job: u64,
    buffer: VecDeque<Vec<u8>>,
    backend_done: bool,
    asked: bool,
    mint: String,
    paid_sat: u64,
    /// `Y`s of every proof paid for this job.
    paid_ys: Vec<PublicKey>,
}

/// What a service's swaps are for: settling what it was paid.
#[derive(Clone, Copy, Debug)]
struct Settle;

/// The service's link to the mints it accepts: one access each.
struct Link<'a, 'b> {
    mints: &'a mut BTreeMap<String, MintAccess>,
    ctx: &'a mut Ctx<'b>,
}

impl MintLink for Link<'_, '_> {
    fn send(&mut self, mint: &MintUrl, request: MintApiRequest) -> Option<u64> {
        let access = self.mints.get_mut(&mint.0)?;
        Some(access.request(self.ctx, request))
    }
}

fn link<'a, 'b>(mints: &'a mut BTreeMap<String, MintAccess>, ctx: &'a mut Ctx<'b>) -> Link<'a, 'b> {
    Link { mints, ctx }
}

pub(crate) struct ServiceRole {
    cfg: ServiceConfig,
    backend: Box<dyn InferenceBackend>,
    payments: Payments<Settle>,
    salt: [u8; 16],
    mints: BTreeMap<String, MintAccess>,
    quotes: HashMap<QuoteId, Quote>,
    jobs: HashMap<u32, ActiveJob>,
    by_backend: HashMap<u64, u32>,
    next_job: u64,
    serial: u64,
    next_settle: Option<Instant>,
    ledger: PayerLedger,
    /// Verified inference: per session, its requests so far and the last
    /// committed transcript (its job number).
    committed: HashMap<u32, (u64, Option<Transcript>)>,
    #[cfg(feature = "adversary")]
    harvested: Vec<HarvestedPrompt>,
}

impl ServiceRole {
    pub fn new(
        cfg: ServiceConfig,
        backend: Box<dyn InferenceBackend>,
        fidelity: crate::fidelity::CryptoFidelity,
    ) -> Self {
        let policy = WalletPolicy {
            fidelity,
            ..WalletPolicy::default()
        };
        ServiceRole {
            cfg,
            backend,
            payments: Payments::new(Wallet::new(policy, Box::new(NoHold))),
            salt: [0; 16],
            mints: BTreeMap::new(),
            quotes: HashMap::new(),
            jobs: HashMap::new(),
            by_backend: HashMap::new(),
            next_job: 1,
            serial: 0,
            next_settle: None,
            ledger: PayerLedger::default(),
            committed: HashMap::new(),
            #[cfg(feature = "adversary")]
            harvested: Vec::new(),
        }
    }

    pub fn wallet(&self) -> &Wallet {
        self.payments.wallet()
    }

    #[cfg(feature = "adversary")]
    pub fn harvested(&self) -> &[HarvestedPrompt] {
        &self.harvested
    }

    /// The salt of the capability commitment.
    pub fn salt(&self) -> [u8; 16] {
        self.salt
    }

    /// The capabilities behind the advert's commitment.
    pub fn capabilities(&self) -> Vec<u8> {
        postcard::to_allocvec(&ServiceCapabilities {
            kind: self.cfg.kind,
            offers: self.cfg.offers.clone(),
        })
        .unwrap_or_default()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mint = self
            .mints
            .values()
            .filter_map(MintAccess::poll_timeout)
            .min();
        [self.backend.poll_timeout(), self.next_settle, mint]
            .into_iter()
            .flatten()
            .min()
    }

    /// Learns the mints of the directory and fetches their keysets.
    pub fn on_directory(&mut self, ctx: &mut Ctx<'_>) {
        let mints: Vec<_> = ctx
            .directory
            .adverts(Role::Mint)
            .map(|a| (mint_url(&a.node()), candidate(a, ctx.net)))
            .collect();
        for (url, c) in mints {
            if self.mints.contains_key(&url) {
                continue;
            }
            let access = MintAccess::new(
                url.clone(),
                c,
                Owner::ServiceMint(url.clone()),
                self.cfg.mint_timeout,
            );
            self.mints.insert(url.clone(), access);
            let url = MintUrl(url);
            self.payments
                .fetch_keys(&mut link(&mut self.mints, ctx), &url, false);
        }
    }

    fn accepted_mints(&self) -> Vec<String> {
        self.payments
            .wallet()
            .mints()
            .map(|m| m.0.clone())
            .collect()
    }

    pub fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        session: u32,
        prev: SocketAddr,
        req: ServiceRequest,
    ) {
        match req {
            ServiceRequest::GetQuote { model } => {
                let Some(offer) = self.cfg.offers.iter().find(|o| o.model == model).cloned() else {
                    return self.refuse(ctx, session, Refusal::UnknownModel);
                };
                self.serial += 1;
                let quote = Quote {
                    service: ctx.identity.node_id(),
                    model,
                    input: offer.input,
                    output: offer.output,
                    max_output_tokens: offer.max_output_tokens,
                    chunk_msat: offer.chunk_msat,
                    mints: self.accepted_mints(),
                    valid_from: ctx.now,
                    valid_until: ctx.now + self.cfg.quote_ttl,
                    serial: self.serial,
                };
                self.quotes.insert(quote.id(), quote.clone());
                let signed = SignedQuote::sign(ctx.identity, quote);
                self.send(ctx, session, ServiceResponse::Quote(signed));
            }
            ServiceRequest::Infer(req) => self.infer(ctx, session, prev, req),
            ServiceRequest::Audit(ch) => self.audit(ctx, session, &ch),
            ServiceRequest::Pay { payment } => {
                let Some(mint) = self.jobs.get(&session).map(|j| j.mint.clone()) else {
                    return self.refuse(ctx, session, Refusal::UnknownQuote);
                };
                match self.take_payment(ctx, session, &mint, payment, None) {
                    Ok((sat, ys)) => {
                        if let Some(job) = self.jobs.get_mut(&session) {
                            job.meter.credit_sat(sat);
                            job.paid_sat += sat;
                            job.paid_ys.extend(ys);
                            job.asked = false;
                        }
                        self.flush(ctx, session);
                    }
                    Err(r) => self.refuse(ctx, session, r),
                }
            }
        }
    }

    fn infer(&mut self, ctx: &mut Ctx<'_>, session: u32, prev: SocketAddr, req: InferRequest) {
        let InferRequest {
            quote: quote_id,
            prompt,
            max_output_tokens,
            mint,
            payment,
            probe,
        } = req;
        if self.jobs.contains_key(&session) {
            return self.refuse(ctx, session, Refusal::Busy);
        }
        let Some(quote) = self
            .quotes
            .get(&quote_id)
            .cloned()
            .filter(|q| ctx.now <= q.valid_until)
        else {
            return self.refuse(ctx, session, Refusal::UnknownQuote);
        };
        if !quote.mints.contains(&mint) {
            return self.refuse(ctx, session, Refusal::MintNotAccepted);
        }
        if self.jobs.len() >= self.cfg.max_concurrent {
            return self.refuse(ctx, session, Refusal::RateLimited);
        }
        // Check the payment offline before using the backend; keep it only
        // once the backend accepted the job.
        if let Err(e) = self.payments.verify(&MintUrl(mint.clone()), &payment) {
            return self.refuse(ctx, session, Refusal::BadPayment(e.to_string()));
        }
        let job_id = self.next_job;
        self.next_job += 1;
        let input_tokens = tokens::count(&prompt);
        let job = Job {
            id: job_id,
            model: quote.model.clone(),
            prompt: prompt.clone(),
            max_output_tokens: max_output_tokens.min(quote.max_output_tokens),
            probe,
        };
        if let Err(e) = self.backend.submit(ctx.now, job) {
            return self.refuse(ctx, session, Refusal::Backend(e));
        }
        let (sat, ys) = match self.take_payment(ctx, session, &mint, payment, Some((prev, prompt)))
        {
            Ok(paid) => paid,
            Err(r) => {
                self.backend.cancel(job_id);
                return self.refuse(ctx, session, r);
            }
        };
        let mut meter = ServiceMeter::new(quote.clone(), input_tokens);
        #[cfg(feature = "adversary")]
        if let Some(ppm) = self.cfg.dangerous_behaviour.overbill_ppm {
            meter.dangerous_overbill(ppm);
        }
        meter.credit_sat(sat);
        self.by_backend.insert(job_id, session);
        self.jobs.insert(
            session,
            ActiveJob {
                quote,
                meter,
                hasher: ResponseHasher::default(),
                backend_job: job_id,
                buffer: VecDeque::new(),
                backend_done: false,
                asked: false,
                mint,
                paid_sat: sat,
                paid_ys: ys,
            },
        );
        tracing::debug!(session, input_tokens, "request accepted");
    }

    /// Verifies and keeps a payment; reports what the service saw.
    fn take_payment(
        &mut self,
        ctx: &mut Ctx<'_>,
        session: u32,
        mint: &str,
        payment: Vec<Proof>,
        first: Option<(SocketAddr, Vec<u8>)>,
    ) -> Result<(u64, Vec<PublicKey>), Refusal> {
        let sats: Vec<u64> = payment.iter().map(|p| p.amount.value()).collect();
        let Received { amount, ys } = self
            .payments
            .receive(&MintUrl(mint.to_owned()), payment, ctx.now)
            .map_err(|e| Refusal::BadPayment(e.to_string()))?;
        self.ledger.record(mint, session, &ys, &sats);
        let obs = match first {
            Some((prev, prompt)) => {
                #[cfg(feature = "adversary")]
                if self.cfg.dangerous_behaviour.harvest_prompts {
                    self.harvested.push(HarvestedPrompt {
                        at: ctx.now,
                        session,
                        prev,
                        prompt: prompt.clone(),
                        payment: ys.clone(),
                    });
                }
                Observation::ServiceRequest {
                    at: ctx.now,
                    session,
                    prev,
                    prompt,
                    payment: ys.clone(),
                    amount,
                }
            }
            None => Observation::ServicePayment {
                at: ctx.now,
                session,
                payment: ys.clone(),
                amount,
            },
        };
        ctx.emit(NodeEvent::Observed(obs));
        if self.cfg.settlement == Settlement::Immediate {
            self.settle(ctx, mint);
        } else if self.next_settle.is_none()
            && let Settlement::Batch { every } = self.cfg.settlement
        {
            self.next_settle = Some(ctx.now + every);
        }
        Ok((amount.value(), ys))
    }

    fn refuse(&mut self, ctx: &mut Ctx<'_>, session: u32, refusal: Refusal) {
        tracing::debug!(session, refusal = refusal.kind(), "request refused");
        let job = self.jobs.remove(&session);
        ctx.emit(NodeEvent::Service(ServiceEvent::Refused {
            session,
            refusal: refusal.clone(),
            charged_msat: job.as_ref().map_or(0, |j| j.meter.claimed_msat()),
            paid_sat: job.as_ref().map_or(0, |j| j.paid_sat),
        }));
        if let Some(job) = job {
            self.backend.cancel(job.backend_job);
            self.by_backend.remove(&job.backend_job);
        }
        self.send(ctx, session, ServiceResponse::Refused(refusal));
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, session: u32, msg: ServiceResponse) {
        #[cfg(feature = "adversary")]
        if self.cfg.dangerous_behaviour.drop_replies && !matches!(msg, ServiceResponse::Quote(_)) {
            return;
        }
        if let Err(e) = ctx.reply(session, &AppMessage::ServiceReply(msg)) {
            tracing::debug!(session, "reply not sent: {e}");
        }
    }

    /// Streams what is paid for; asks for the next chunk when it runs out;
    /// finishes with a receipt.
    fn flush(&mut self, ctx: &mut Ctx<'_>, session: u32) {
        loop {
            let Some(job) = self.jobs.get_mut(&session) else {
                return;
            };
            let Some(text) = job.buffer.front() else {
                break;
            };
            let n = tokens::count(text);
            if !job.meter.covers(n) {
                if !job.asked {
                    job.asked = true;
                    let claimed_msat = job.meter.claimed_msat();
                    self.send(ctx, session, ServiceResponse::NeedPayment { claimed_msat });
                }
                return;
            }
            let Some(text) = job.buffer.pop_front() else {
                return;
            };
            job.meter.sent(n);
            job.hasher.update(&text);
            ctx.emit(NodeEvent::Observed(Observation::ServiceResponse {
                at: ctx.now,
                session,
                text: text.clone(),
            }));
            self.send(ctx, session, ServiceResponse::Stream { text });
        }
        let done = self
            .jobs
            .get(&session)
            .is_some_and(|j| j.backend_done && j.buffer.is_empty());
        if !done {
            return;
        }
        let Some(job) = self.jobs.remove(&session) else {
            return;
        };
        self.by_backend.remove(&job.backend_job);
        let receipt = Receipt {
            service: ctx.identity.node_id(),
            quote: job.quote.id(),
            input_tokens: job.meter.input_tokens(),
            output_tokens: job.meter.output_tokens(),
            charged_msat: job.meter.claimed_msat(),
            response_hash: job.hasher.digest(),
        };
        ctx.emit(NodeEvent::Service(ServiceEvent::Served {
            session,
            quote: receipt.quote,
            model: job.quote.model.clone(),
            input_tokens: receipt.input_tokens,
            output_tokens: receipt.output_tokens,
            charged_msat: receipt.charged_msat,
            paid_sat: job.paid_sat,
            cost_msat: self
                .cfg
                .cost
                .cost_msat(receipt.input_tokens, receipt.output_tokens),
        }));
        tracing::debug!(
            session,
            input_tokens = receipt.input_tokens,
            output_tokens = receipt.output_tokens,
            charged_msat = receipt.charged_msat,
            "request served"
        );
        self.commit(ctx, session, job.backend_job, &job.quote.model);
        let signed = SignedReceipt::sign(ctx.identity, receipt);
        self.send(ctx, session, ServiceResponse::Done(signed));
    }

    /// Verified inference: if the backend kept the finished job's
    /// transcript, commits to it (job = the session's request number) and
    /// keeps it for audits.
    fn commit(&mut self, ctx: &mut Ctx<'_>, session: u32, backend_job: u64, model: &str) {
        let entry = self.committed.entry(session).or_insert((0, None));
        entry.0 += 1;
        entry.1 = None;
        let Some(t) = self.backend.take_transcript(backend_job) else {
            return;
        };
        match Commitment::sign(ctx.identity, entry.0, model, &t) {
            Ok(c) => {
                entry.1 = Some(t);
                self.send(ctx, session, ServiceResponse::Committed(c));
            }
            Err(e) => tracing::debug!("no commitment: {e}"),
        }
    }

    /// Opens the challenged steps of the session's last transcript.
    fn audit(&mut self, ctx: &mut Ctx<'_>, session: u32, ch: &AuditChallenge) {
        let answer = match self.committed.get(&session) {
            Some((job, Some(t))) if *job == ch.job => {
                crate::verify::answer(t, ch).map_err(|e| e.to_string())
            }
            _ => Err(format!("no commitment {} on this session", ch.job)),
        };
        match answer {
            Ok(p) => self.send(ctx, session, ServiceResponse::Audited(p)),
            Err(why) => self.refuse(ctx, session, Refusal::BadAudit(why)),
        }
    }

    /// Moves backend output into replies. Returns true if anything happened.
    pub fn poll_backend(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mut progress = false;
        while let Some(o) = self.backend.poll_observation() {
            progress = true;
            ctx.emit(NodeEvent::Observed(Observation::Provider(o)));
        }
        while let Some(out) = self.backend.poll_output(ctx.now) {
            progress = true;
            match out {
                BackendOutput::Tokens { job, text } => {
                    let Some(&session) = self.by_backend.get(&job) else {
                        continue;
                    };
                    if let Some(j) = self.jobs.get_mut(&session) {
                        j.buffer.push_back(text);
                    }
                    self.flush(ctx, session);
                }
                BackendOutput::Done { job } => {
                    let Some(&session) = self.by_backend.get(&job) else {
                        continue;
                    };
                    if let Some(j) = self.jobs.get_mut(&session) {
                        j.backend_done = true;
                    }
                    self.flush(ctx, session);
                }
                BackendOutput::Failed { job, error } => {
                    if let Some(session) = self.by_backend.remove(&job) {
                        self.refuse(ctx, session, Refusal::Backend(error));
                    }
                }
            }
        }
        progress
    }

    pub fn on_session_closed(&mut self, _ctx: &mut Ctx<'_>, session: u32) {
        self.committed.remove(&session);
        if let Some(job) = self.jobs.remove(&session) {
            self.backend.cancel(job.backend_job);
            self.by_backend.remove(&job.backend_job);
        }
    }

    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.next_settle.is_some_and(|t| t <= ctx.now) {
            self.next_settle = None;
            let urls: Vec<String> = self.mints.keys().cloned().collect();
            for url in urls {
                self.settle(ctx, &url);
            }
        }
        let urls: Vec<String> = self.mints.keys().cloned().collect();
        for url in urls {
            let late = self
                .mints
                .get_mut(&url)
                .map(|m| m.expired(ctx))
                .unwrap_or_default();
            for seq in late {
                self.on_mint_silent(ctx, &url, seq);
            }
        }
    }

    /// Redeems everything received and not yet redeemed at `mint`.
    fn settle(&mut self, ctx: &mut Ctx<'_>, mint: &str) {
        let url = MintUrl(mint.to_owned());
        match self
            .payments
            .prepare_settle(&url, ctx.now, &mut *ctx.crypto, Settle)
        {
            Ok(Some(prepared)) => self
                .payments
                .submit(&mut link(&mut self.mints, ctx), prepared),
            Ok(None) => {}
            Err(e) => ctx.emit(NodeEvent::Service(ServiceEvent::SettlementFailed {
                mint: mint.to_owned(),
                reason: e.to_string(),
            })),
        }
    }

    /// A request to `mint` went unanswered.
    fn on_mint_silent(&mut self, ctx: &mut Ctx<'_>, mint: &str, seq: u64) {
        let url = MintUrl(mint.to_owned());
        let l = &mut link(&mut self.mints, ctx);
        match self.payments.expired(l, &url, seq) {
            Outcome::SwapSilent { .. } => {
                // It may have been executed: the engine asks before trying again.
                ctx.emit(NodeEvent::Service(ServiceEvent::SettlementFailed {
                    mint: mint.to_owned(),
                    reason: "mint did not answer".to_owned(),
                }));
            }
            Outcome::KeysSilent { audit } => {
                self.payments
                    .fetch_keys(&mut link(&mut self.mints, ctx), &url, audit);
            }
            _ => {}
        }
    }

    /// Settles again later (after the batch period, or the mint timeout).
    fn retry_settlement(&mut self, now: Instant) {
        let after = match self.cfg.settlement {
            Settlement::Batch { every } => every,
            Settlement::Immediate => self.cfg.mint_timeout,
        };
        self.next_settle.get_or_insert(now + after);
    }

    /// Blinded outputs of settlements awaiting an answer.
    pub fn pending_outputs(&self) -> Vec<crate::ecash::BlindedMessage> {
        self.payments.pending_outputs()
    }

    /// Proofs that are inputs of settlements in flight.
    pub fn in_flight(&self) -> Vec<Proof> {
        self.payments.in_flight()
    }

    pub fn on_circuit(
        &mut self,
        ctx: &mut Ctx<'_>,
        circuit: u32,
        owner: &Owner,
        e: &CircuitEvent,
        msg: Option<AppMessage>,
    ) {
        let Owner::ServiceMint(url) = owner else {
            return;
        };
        let answer = self
            .mints
            .get_mut(url)
            .and_then(|a| a.on_circuit(ctx, circuit, e, msg));
        if let Some((seq, response)) = answer {
            self.on_mint_reply(ctx, url, seq, response);
        }
    }

    fn on_mint_reply(&mut self, ctx: &mut Ctx<'_>, url: &str, seq: u64, response: MintApiResponse) {
        let mint = MintUrl(url.to_owned());
        let now = ctx.now;
        let l = &mut link(&mut self.mints, ctx);
        let settled = |amount: Amount| {
            NodeEvent::Service(ServiceEvent::Settled {
                mint: url.to_owned(),
                amount: amount.value(),
            })
        };
        let failed = |reason: String| {
            NodeEvent::Service(ServiceEvent::SettlementFailed {
                mint: url.to_owned(),
                reason,
            })
        };
        match self.payments.answer(l, &mint, seq, response, now) {
            Outcome::Keys { result: Err(e), .. } => tracing::debug!("mint keysets refused: {e}"),
            Outcome::Swapped { amount, result, .. } => match result {
                Ok(_) => {
                    tracing::debug!(amount = amount.value(), "settled at the mint");
                    self.forget_settled(url);
                    ctx.emit(settled(amount));
                }
                Err(e) => ctx.emit(failed(e.to_string())),
            },
            // A payer may have double-spent: the engine asks which proofs are gone.
            Outcome::SwapRefused { error, .. } => ctx.emit(failed(error.to_string())),
            Outcome::SwapRecovered { amount, .. } => {
                tracing::debug!(amount = amount.value(), "settlement recovered");
                self.forget_settled(url);
                ctx.emit(settled(amount));
            }
            Outcome::SwapUndone { .. } => self.retry_settlement(now),
            Outcome::States(states) => self.on_states(ctx, url, &states),
            Outcome::Keys { result: Ok(()), .. }
            | Outcome::Quiet
            | Outcome::KeysSilent { .. }
            | Outcome::Quoted(_)
            | Outcome::Issued(_)
            | Outcome::SwapSilent { .. } => {}
        }
    }

    /// Drops from the ledger what `mint` settled: proofs neither held as
    /// received nor inputs of a swap still in flight.
    fn forget_settled(&mut self, mint: &str) {
        let url = MintUrl(mint.to_owned());
        let wallet = self.payments.wallet();
        let held: BTreeSet<PublicKey> = wallet
            .proofs(&url)
            .iter()
            .filter(|h| h.origin == ProofOrigin::Received)
            .map(|h| h.y)
            .chain(self.payments.in_flight_ys())
            .collect();
        self.ledger.settled(mint, |y| held.contains(y));
    }

    /// The states of a refused settlement's proofs. The failed settlement
    /// spent nothing of ours (swaps are atomic): a spent input was spent by
    /// its payer. Stop serving whoever did it, which bounds the loss to what
    /// was served since that payment (with immediate settlement, one chunk).
    fn on_states(&mut self, ctx: &mut Ctx<'_>, url: &str, states: &CheckStateResponse) {
        let spent: Vec<PublicKey> = states
            .states
            .iter()
            .filter(|s| s.state != ProofState::Unspent)
            .map(|s| s.y)
            .collect();
        for (session, amount_sat) in self.ledger.spent(&spent) {
            ctx.emit(NodeEvent::Service(ServiceEvent::PaymentLost {
                session,
                amount_sat,
            }));
        }
        let mut cheats: Vec<u32> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.paid_ys.iter().any(|y| spent.contains(y)))
            .map(|(s, _)| *s)
            .collect();
        cheats.sort_unstable();
        for session in cheats {
            self.refuse(ctx, session, Refusal::DoubleSpent);
        }
        // Whatever is still unspent is settled next time.
        self.settle(ctx, url);
    }
}
