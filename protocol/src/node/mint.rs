//! The mint node: the ecash mint behind request/response messages, with
//! outages and fees (whitepaper "Mint Trust and Federation": mints can fail
//! operationally; "Payment Layer").
//!
//! Requests arrive at the end of circuits, so the mint sees the previous hop
//! as the presenter, not the client. Lightning is outside the protocol: the
//! driver delivers funding payments and payout outcomes.

use rand_chacha::ChaCha20Rng;
#[cfg(feature = "adversary")]
use rand_core::Rng as _;

use super::observe::Observation;
#[cfg(feature = "adversary")]
use super::wire::MintErrorCode;
use super::wire::{AppMessage, MintApiRequest, MintApiResponse, MintError};
use super::{Ctx, NodeEvent, sub_stream};
#[cfg(feature = "adversary")]
use crate::ecash::PayerId;
use crate::ecash::messages::MeltQuoteState;
use crate::ecash::{
    EcashError, Invoice, LightningPayment, Mint, MintConfig, PayoutOutcome, QuoteId as MintQuoteId,
};
use crate::time::{Duration, Instant};

/// Mint role setup.
#[derive(Clone, Debug)]
pub struct MintRoleConfig {
    /// The mint's parameters (keysets, fees, limits).
    pub mint: MintConfig,
    /// **Adversarial** behaviour (off by default; the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub dangerous_behaviour: MintAdversary,
    /// Batching of minting and spending (whitepaper "Mint-Exit Collusion",
    /// mitigation 2): issuances, swaps and melts wait for the next multiple
    /// of this interval and run together, so the mint's own log shows the
    /// batch time, not each request's. Keep it below clients' mint timeout.
    /// `None`: each request at once.
    pub batch: Option<Duration>,
}

/// **Adversarial** behaviour of a mint (whitepaper "Mint Trust and
/// Federation": mints can censor redemption; "Payment Layer": per-user key
/// tagging).
#[cfg(feature = "adversary")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MintAdversary {
    /// Refuses every swap and melt: ecash already issued cannot be redeemed.
    pub refuse_redemption: bool,
    /// Serves this many per mille of the circuits that ask for keys their
    /// own private active keyset (drawn per request), so that the ecash it
    /// later issues there identifies that requester when spent; 0: never,
    /// 1000: every one. Wallets that compare keysets across circuits detect
    /// it when their two answers differ.
    pub tag_per_mille: u16,
}

/// What the mint role reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MintEvent {
    /// A melt needs this invoice paid over Lightning; answer with
    /// [`Node::lightning_payout`](super::Node::lightning_payout).
    PayoutRequested {
        /// The melt quote.
        quote: MintQuoteId,
        /// The invoice.
        invoice: Invoice,
    },
}

/// What a mint answers to one request, and the Lightning payout a melt
/// asks for.
#[derive(Debug)]
pub struct Served {
    /// The answer (a refusal as [`MintApiResponse::Error`]).
    pub response: MintApiResponse,
    /// A melt's invoice, to pay over Lightning.
    pub payout: Option<(MintQuoteId, Invoice)>,
}

/// The mint's NUT endpoints over one [`Mint`] (whitepaper "Token
/// Lifecycle"): what the mint node runs for each request, and what the
/// market's rail runs without a network. `prev` is the presenter the mint
/// sees (the circuit's last hop).
pub fn serve(
    mint: &mut Mint,
    now: Instant,
    prev: std::net::SocketAddr,
    request: MintApiRequest,
    rng: &mut ChaCha20Rng,
) -> Served {
    let mut payout = None;
    let response = match request {
        MintApiRequest::Keys => Ok(MintApiResponse::Keys(mint.keysets())),
        MintApiRequest::MintQuote(q) => mint
            .create_mint_quote(now, &q, rng)
            .map(MintApiResponse::MintQuote),
        MintApiRequest::Mint(r) => mint.mint(now, prev, &r).map(MintApiResponse::Signatures),
        MintApiRequest::Swap(r) => mint.swap(now, prev, &r).map(MintApiResponse::Signatures),
        MintApiRequest::MeltQuote(q) => mint
            .create_melt_quote(now, &q, rng)
            .map(MintApiResponse::MeltQuote),
        MintApiRequest::Melt(r) => mint.begin_melt(now, prev, &r).and_then(|invoice| {
            payout = Some((r.quote, invoice));
            mint.melt_quote_state(&r.quote)
                .map(MintApiResponse::MeltQuote)
        }),
        MintApiRequest::MeltState(q) => mint.melt_quote_state(&q).map(|s| {
            debug_assert!(matches!(
                s.state,
                MeltQuoteState::Unpaid | MeltQuoteState::Pending | MeltQuoteState::Paid
            ));
            MintApiResponse::MeltQuote(s)
        }),
        MintApiRequest::CheckState(r) => Ok(MintApiResponse::States(mint.check_state(&r))),
        MintApiRequest::Restore(r) => mint.restore(now, prev, &r).map(MintApiResponse::Restored),
    };
    Served {
        response: response.unwrap_or_else(|e| MintApiResponse::Error(MintError::from(&e))),
        payout,
    }
}

pub(crate) struct MintRole {
    #[cfg(feature = "adversary")]
    adversary: MintAdversary,
    mint: Mint,
    available: bool,
    rng: ChaCha20Rng,
    batch: Option<Duration>,
    /// Requests waiting for the batch: (session, previous hop, seq, request).
    queued: Vec<(u32, std::net::SocketAddr, u64, MintApiRequest)>,
    next_batch: Option<Instant>,
}

impl MintRole {
    pub fn new(cfg: MintRoleConfig, crypto: &mut ChaCha20Rng) -> Self {
        let mut rng = sub_stream(crypto);
        MintRole {
            #[cfg(feature = "adversary")]
            adversary: cfg.dangerous_behaviour,
            mint: Mint::new(cfg.mint, &mut rng),
            available: true,
            rng,
            batch: cfg.batch.filter(|b| b.as_nanos() > 0),
            queued: Vec::new(),
            next_batch: None,
        }
    }

    pub fn mint(&self) -> &Mint {
        &self.mint
    }

    pub fn set_available(&mut self, available: bool) {
        self.available = available;
    }

    fn drain(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(o) = self.mint.poll_observation() {
            ctx.emit(NodeEvent::Observed(Observation::Mint(o)));
        }
    }

    pub fn lightning_payment(
        &mut self,
        ctx: &mut Ctx<'_>,
        payment: LightningPayment,
    ) -> Result<(), EcashError> {
        let r = self.mint.handle_lightning_payment(ctx.now, payment);
        self.drain(ctx);
        r
    }

    pub fn lightning_payout(
        &mut self,
        ctx: &mut Ctx<'_>,
        quote: MintQuoteId,
        outcome: PayoutOutcome,
    ) -> Result<(), EcashError> {
        let r = self
            .mint
            .complete_melt(ctx.now, &quote, outcome)
            .map(|_| ());
        self.drain(ctx);
        r
    }

    pub fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        session: u32,
        prev: std::net::SocketAddr,
        seq: u64,
        request: MintApiRequest,
    ) {
        if !self.available {
            // An outage: nothing answers.
            return;
        }
        if let Some(b) = self.batch
            && matches!(
                request,
                MintApiRequest::Mint(_) | MintApiRequest::Swap(_) | MintApiRequest::Melt(_)
            )
        {
            let b = b.as_nanos();
            let next = Instant::from_nanos((ctx.now.as_nanos() / b + 1) * b);
            self.next_batch.get_or_insert(next);
            self.queued.push((session, prev, seq, request));
            return;
        }
        self.execute(ctx, session, prev, seq, request);
    }

    /// When the waiting batch runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_batch
    }

    /// Runs the waiting batch once its time has come, in arrival order.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.next_batch.is_none_or(|t| t > ctx.now) {
            return;
        }
        self.next_batch = None;
        for (session, prev, seq, request) in std::mem::take(&mut self.queued) {
            if self.available {
                self.execute(ctx, session, prev, seq, request);
            }
        }
    }

    fn execute(
        &mut self,
        ctx: &mut Ctx<'_>,
        session: u32,
        prev: std::net::SocketAddr,
        seq: u64,
        request: MintApiRequest,
    ) {
        let now = ctx.now;
        tracing::trace!(seq, request = request.kind(), "mint request");
        #[cfg(feature = "adversary")]
        if let Some(response) = self.dangerous_answer(session, &request) {
            if let Err(e) = ctx.reply(session, &AppMessage::MintReply { seq, response }) {
                tracing::debug!("mint reply not sent: {e}");
            }
            return;
        }
        let served = serve(&mut self.mint, now, prev, request, &mut self.rng);
        if let Some((quote, invoice)) = served.payout {
            ctx.emit(NodeEvent::Mint(MintEvent::PayoutRequested {
                quote,
                invoice,
            }));
        }
        let response = served.response;
        self.drain(ctx);
        if let Err(e) = ctx.reply(session, &AppMessage::MintReply { seq, response }) {
            tracing::debug!("mint reply not sent: {e}");
        }
    }

    /// **Adversarial.** What a misbehaving mint answers instead of serving
    /// `request`: a refused redemption, or the keys of a keyset private to
    /// the asking circuit (per-user key tagging). `None`: serve it.
    #[cfg(feature = "adversary")]
    fn dangerous_answer(
        &mut self,
        session: u32,
        request: &MintApiRequest,
    ) -> Option<MintApiResponse> {
        let a = self.adversary;
        if a.refuse_redemption
            && matches!(request, MintApiRequest::Swap(_) | MintApiRequest::Melt(_))
        {
            return Some(MintApiResponse::Error(MintError {
                code: MintErrorCode::RedemptionRefused,
                detail: "redemption refused".into(),
            }));
        }
        if matches!(request, MintApiRequest::Keys)
            && a.tag_per_mille > 0
            && self.rng.next_u64() % 1000 < u64::from(a.tag_per_mille)
        {
            // One private keyset per circuit that asks: the requester is
            // identified by its onion session at this mint.
            let requester = PayerId(u64::from(session) | 1 << 63);
            self.mint.dangerous_tag_payer(requester, &mut self.rng);
            return Some(MintApiResponse::Keys(
                self.mint.keysets_for(Some(requester)),
            ));
        }
        None
    }
}
