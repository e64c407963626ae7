//! The market's payment rail: jobs are paid through the protocol's own
//! quotes, prepaid-chunk meters and ecash (whitepaper "Token Lifecycle",
//! "Ghost Node Unit Economics"), not through a parallel ledger. A real
//! [`Mint`] with its fees, a real [`Wallet`] per agent; a job runs the
//! client's and the service's meters chunk by chunk and every chunk is a
//! real ecash transfer, settled by the service at the mint. Every wallet
//! runs the protocol's own payment engine ([`Payments`]), and the mint
//! answers through the protocol's own endpoints ([`serve`]): the rail pays
//! through the code the network pays through, with the mint in reach
//! instead of at the end of a circuit.
//!
//! Two fidelity levels, chosen explicitly by a scenario: the rail alone
//! (the long-horizon level: it skips onion routing, which changes who sees
//! what but not what anybody pays), or [`Rail::with_onion`], which carries
//! every message of every job as wire bytes over a real onion circuit and
//! decodes it at the far end.

use peer2prompt::fidelity::CryptoFidelity;
use std::collections::VecDeque;

use peer2prompt::ecash::nuts::Proof;
use peer2prompt::ecash::wallet::NoHold;
use peer2prompt::ecash::{
    Amount, EcashError, LightningPayer, LightningPayment, Mint, MintConfig, MintUrl, PayerId,
    Wallet, WalletPolicy,
};
use peer2prompt::market::billing::{ClientMeter, ServiceMeter};
use peer2prompt::market::{MarketError, Quote, SignedQuote, tokens};
use peer2prompt::node::payments::{MintLink, Outcome, Payments, Spend};
use peer2prompt::node::serve;
use peer2prompt::node::wire::{
    AppMessage, InferRequest, MintApiRequest, MintError, ServiceRequest, ServiceResponse,
};

use super::carrier::{CarrierError, OnionCarrier};
use peer2prompt::time::Instant;
use rand_chacha::ChaCha20Rng;

/// Why a job could not be paid.
#[derive(Debug, thiserror::Error)]
pub enum RailError {
    /// The wallet refused (insufficient funds, unusable signatures...).
    #[error("ecash: {0}")]
    Ecash(#[from] EcashError),
    /// The mint refused a request.
    #[error("mint: {0}")]
    Mint(MintError),
    /// The mint's answer was not the one the request asks for.
    #[error("the mint answered a {0} request with something else")]
    Unanswered(&'static str),
    /// The meters disagreed (an overbilling claim).
    #[error("billing: {0}")]
    Billing(#[from] MarketError),
    /// No such agent.
    #[error("no wallet {0}")]
    NoWallet(usize),
    /// The onion carrier lost a message (full fidelity only).
    #[error("{0}")]
    Carrier(#[from] CarrierError),
    /// A carried message did not decode as what was sent.
    #[error("a carried message arrived garbled")]
    Garbled,
}

/// Which way a job's message travels.
enum Carry<'a> {
    /// Client to service, on the job's circuit; learns the exit's session.
    Forward {
        circuit: u32,
        service: usize,
        session: &'a mut Option<u32>,
    },
    /// Service to client, on the session's reply blocks.
    Back { service: usize, session: u32 },
}

/// One job's path: its two agents, its circuit and the exit's session.
struct Leg {
    client: usize,
    service: usize,
    circuit: u32,
    session: Option<u32>,
}

impl<'a> Carry<'a> {
    fn forward(circuit: u32, service: usize, session: &'a mut Option<u32>) -> Self {
        Carry::Forward {
            circuit,
            service,
            session,
        }
    }
}

/// Requests waiting for the rail's mint, in the order they were sent: the
/// rail's [`MintLink`] (the mint is in reach, so nothing is lost).
#[derive(Debug, Default)]
struct MintQueue {
    next_seq: u64,
    waiting: VecDeque<(u64, MintApiRequest)>,
}

impl MintLink for MintQueue {
    fn send(&mut self, _mint: &MintUrl, request: MintApiRequest) -> Option<u64> {
        self.next_seq += 1;
        self.waiting.push_back((self.next_seq, request));
        Some(self.next_seq)
    }
}

/// One mint and the agents' wallets.
pub struct Rail {
    mint: Mint,
    url: MintUrl,
    rng: ChaCha20Rng,
    now: Instant,
    wallets: Vec<Payments<()>>,
    queue: MintQueue,
    funded_sat: u64,
    carrier: Option<OnionCarrier>,
}

/// What a job cost and served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobPaid {
    /// What the client paid, sat.
    pub paid_sat: u64,
    /// What the tokens served cost under the quote, msat.
    pub used_msat: u64,
    /// Output tokens served (fewer than asked when the quote's cap stops
    /// the job).
    pub output_tokens: u64,
    /// Chunks paid (transfers).
    pub chunks: u32,
}

impl Rail {
    /// The rail's mint, as quotes name it.
    pub const MINT_URL: &'static str = "mint://rail";

    /// A rail with one mint of `config`, drawing keys and nonces from `rng`.
    pub fn new(config: MintConfig, mut rng: ChaCha20Rng) -> Self {
        let mint = Mint::new(config, &mut rng);
        Rail {
            mint,
            url: MintUrl(Self::MINT_URL.into()),
            rng,
            now: Instant::ZERO,
            wallets: Vec::new(),
            queue: MintQueue::default(),
            funded_sat: 0,
            carrier: None,
        }
    }

    /// Carries every job's messages over real onion circuits of
    /// [`carrier::RELAYS`](super::carrier::RELAYS) relays and the service's
    /// exit (full fidelity; see [`OnionCarrier`]).
    pub fn with_onion(mut self, relays: usize, rng: ChaCha20Rng) -> Self {
        self.carrier = Some(OnionCarrier::new(relays, rng));
        self
    }

    /// Cells moved and circuits built by the onion carrier (zero on the
    /// rail alone).
    pub fn onion_stats(&self) -> (u64, u64) {
        self.carrier
            .as_ref()
            .map_or((0, 0), |c| (c.cells, c.circuits))
    }

    /// Opens a wallet for a new agent (fetching the mint's keysets);
    /// returns its index.
    pub fn open_wallet(&mut self) -> Result<usize, RailError> {
        let w = Payments::new(Wallet::new(WalletPolicy::default(), Box::new(NoHold)));
        self.wallets.push(w);
        let i = self.wallets.len() - 1;
        let url = self.url.clone();
        self.with_wallet(i, |w, q, _| w.fetch_keys(q, &url, false))?;
        match self.answers(i)? {
            Outcome::Keys { result, .. } => result?,
            _ => return Err(RailError::Unanswered("keys")),
        }
        Ok(i)
    }

    /// Moves the clock.
    pub fn set_time(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Runs `f` on wallet `i` with the mint queue and the rail's stream.
    fn with_wallet<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Payments<()>, &mut MintQueue, &mut ChaCha20Rng) -> R,
    ) -> Result<R, RailError> {
        let w = self.wallets.get_mut(i).ok_or(RailError::NoWallet(i))?;
        Ok(f(w, &mut self.queue, &mut self.rng))
    }

    /// Serves every waiting request of wallet `i` at the mint (with any
    /// request an answer leads to) and returns the last outcome the
    /// wallet's engine reported for the caller.
    fn answers(&mut self, i: usize) -> Result<Outcome<()>, RailError> {
        let mut last = Outcome::Quiet;
        while let Some((seq, request)) = self.queue.waiting.pop_front() {
            let served = serve(&mut self.mint, self.now, nobody(), request, &mut self.rng);
            let w = self.wallets.get_mut(i).ok_or(RailError::NoWallet(i))?;
            let outcome = w.answer(&mut self.queue, &self.url, seq, served.response, self.now);
            if !matches!(outcome, Outcome::Quiet | Outcome::States(_)) {
                last = outcome;
            }
        }
        Ok(last)
    }

    /// Funds agent `i` with `sat` over Lightning (a mint quote, the payment,
    /// the issuance).
    pub fn fund(&mut self, i: usize, sat: u64) -> Result<(), RailError> {
        let url = self.url.clone();
        self.with_wallet(i, |w, q, _| w.request_quote(q, &url, Amount::new(sat)))?;
        let Outcome::Quoted(quote) = self.answers(i)? else {
            return Err(RailError::Unanswered("mint quote"));
        };
        self.mint.handle_lightning_payment(
            self.now,
            LightningPayment {
                quote: quote.quote,
                amount: quote.amount,
                payer: LightningPayer::Node(PayerId(i as u64)),
            },
        )?;
        self.funded_sat += quote.amount.value();
        self.with_wallet(i, |w, q, rng| {
            let prepared = w.prepare_issue(&url, quote.quote, quote.amount, rng)?;
            w.submit(q, prepared);
            Ok::<_, EcashError>(())
        })??;
        match self.answers(i)? {
            Outcome::Issued(result) => result.map(|_| ()).map_err(RailError::from),
            _ => Err(RailError::Unanswered("mint")),
        }
    }

    /// Pays `sat` from `from` to `to`: the payer's wallet makes the proofs
    /// (swapping for change when needed), the payee checks and accepts them
    /// and settles them at the mint.
    pub fn transfer(&mut self, from: usize, to: usize, sat: u64) -> Result<(), RailError> {
        let proofs = self.pay_out(from, sat)?;
        self.take_in(to, proofs)
    }

    /// What a swap of wallet `i` came to.
    fn swapped(&mut self, i: usize) -> Result<Vec<Proof>, RailError> {
        match self.answers(i)? {
            Outcome::Swapped { result, .. } => Ok(result?),
            Outcome::SwapRefused { error, .. } => Err(RailError::Mint(error)),
            _ => Err(RailError::Unanswered("swap")),
        }
    }

    /// The payer's side of a transfer: proofs worth `sat` from `from`'s
    /// wallet (swapping for change when needed).
    fn pay_out(&mut self, from: usize, sat: u64) -> Result<Vec<Proof>, RailError> {
        let (now, url) = (self.now, self.url.clone());
        let ready = self.with_wallet(from, |w, q, rng| {
            Ok::<_, EcashError>(
                match w.prepare_spend(&url, Amount::new(sat), now, rng, ())? {
                    Spend::Ready(p) => Some(p),
                    Spend::Swap(prepared) => {
                        w.submit(q, prepared);
                        None
                    }
                },
            )
        })??;
        match ready {
            Some(p) => Ok(p),
            None => self.swapped(from),
        }
    }

    /// The payee's side: `to` checks and accepts `proofs` and settles them
    /// at the mint.
    fn take_in(&mut self, to: usize, proofs: Vec<Proof>) -> Result<(), RailError> {
        let (now, url) = (self.now, self.url.clone());
        let submitted = self.with_wallet(to, |w, q, rng| {
            w.receive(&url, proofs, now)?;
            match w.prepare_settle(&url, now, rng, ()) {
                Ok(Some(prepared)) => {
                    w.submit(q, prepared);
                    Ok(true)
                }
                // Dust that cannot pay its own input fee stays held,
                // unsettled, until a later payment lets it be batched.
                Ok(None) | Err(EcashError::InsufficientFunds { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })??;
        if submitted {
            self.swapped(to)?;
        }
        Ok(())
    }

    /// Carries one message of a job: straight through on the rail, or over
    /// the job's onion circuit (client to service when `session` is
    /// `None`, back on the service's reply blocks otherwise), decoded at
    /// the far end from the bytes that arrived.
    fn carry(&mut self, hop: Carry<'_>, msg: AppMessage) -> Result<AppMessage, RailError> {
        let Some(c) = self.carrier.as_mut() else {
            return Ok(msg);
        };
        c.set_time(self.now);
        let bytes = msg.encode();
        let got = match hop {
            Carry::Forward {
                circuit,
                service,
                session,
            } => {
                let (s, got) = c.forward(circuit, service, &bytes)?;
                *session = Some(s);
                got
            }
            Carry::Back { service, session } => c.reply(service, session, &bytes)?,
        };
        AppMessage::decode(&got).map_err(|_| RailError::Garbled)
    }
    /// Runs one job of `input` tokens asking `output` tokens under the
    /// service's signed `quote` (checked first, as a client checks it: the
    /// signature, the key and validity now): the first chunk with the
    /// request, then a chunk whenever the service's meter is not covered for
    /// the next `step` tokens, each claim checked by the client's meter,
    /// nothing past the quote's cap.
    pub fn job(
        &mut self,
        client: usize,
        service: usize,
        quote: &SignedQuote,
        input: u64,
        output: u64,
        step: u64,
    ) -> Result<JobPaid, RailError> {
        // Market identities sign at full fidelity (`fidelity` is a network
        // scenario's setting).
        quote.verify(self.now, CryptoFidelity::Full)?;
        let quote = &quote.quote;
        let step = step.max(1);
        let mut cm = ClientMeter::new(quote.clone(), input);
        let mut sm = ServiceMeter::new(quote.clone(), input);
        let circuit = match self.carrier.as_mut() {
            Some(c) => {
                c.set_time(self.now);
                c.open(service)?
            }
            None => 0,
        };
        let mut leg = Leg {
            client,
            service,
            circuit,
            session: None,
        };
        let first = cm.first_chunk_sat();
        self.request(&mut leg, quote, input ^ output, input, first)?;
        sm.credit_sat(first);
        let mut chunks = 1;
        let asked = output.min(u64::from(quote.max_output_tokens));
        while sm.output_tokens() < asked {
            let n = step.min(asked - sm.output_tokens());
            if sm.covers(n) {
                sm.sent(n);
                self.stream(&leg, n, sm.output_tokens())?;
                cm.received(n);
                continue;
            }
            let sat = self.next_chunk(&mut leg, &mut cm, sm.claimed_msat())?;
            if sat == 0 {
                break;
            }
            sm.credit_sat(sat);
            chunks += 1;
        }
        cm.check_final(sm.claimed_msat())?;
        if let Some(c) = self.carrier.as_mut() {
            c.close(circuit)?;
        }
        Ok(JobPaid {
            paid_sat: cm.paid_msat() / 1000,
            used_msat: sm.used_msat(),
            output_tokens: sm.output_tokens(),
            chunks,
        })
    }

    /// The request with the first chunk of `sat`, carried to the service,
    /// which takes the chunk in.
    fn request(
        &mut self,
        leg: &mut Leg,
        quote: &Quote,
        prompt_seed: u64,
        input: u64,
        sat: u64,
    ) -> Result<(), RailError> {
        let payment = self.pay_out(leg.client, sat)?;
        let request = AppMessage::Service(ServiceRequest::Infer(InferRequest {
            quote: quote.id(),
            prompt: if self.carrier.is_some() {
                tokens::synthetic(input, prompt_seed)
            } else {
                Vec::new()
            },
            max_output_tokens: quote.max_output_tokens,
            mint: self.url.0.clone(),
            payment,
            probe: None,
        }));
        let AppMessage::Service(ServiceRequest::Infer(req)) = self.carry(
            Carry::forward(leg.circuit, leg.service, &mut leg.session),
            request,
        )?
        else {
            return Err(RailError::Garbled);
        };
        self.take_in(leg.service, req.payment)
    }

    /// `n` covered output tokens streamed back to the client.
    fn stream(&mut self, leg: &Leg, n: u64, sent: u64) -> Result<(), RailError> {
        if let Some(session) = leg.session {
            let text = tokens::synthetic(n, sent);
            let back = Carry::Back {
                service: leg.service,
                session,
            };
            self.carry(
                back,
                AppMessage::ServiceReply(ServiceResponse::Stream { text }),
            )?;
        }
        Ok(())
    }

    /// The service asks for payment up to `claimed_msat`; the client's
    /// meter checks the claim and pays the next chunk (0: nothing is owed).
    fn next_chunk(
        &mut self,
        leg: &mut Leg,
        cm: &mut ClientMeter,
        claimed_msat: u64,
    ) -> Result<u64, RailError> {
        let ask = AppMessage::ServiceReply(ServiceResponse::NeedPayment { claimed_msat });
        let ask = match leg.session {
            Some(session) => self.carry(
                Carry::Back {
                    service: leg.service,
                    session,
                },
                ask,
            )?,
            None => ask,
        };
        let AppMessage::ServiceReply(ServiceResponse::NeedPayment { claimed_msat }) = ask else {
            return Err(RailError::Garbled);
        };
        let sat = cm.on_payment_request(claimed_msat)?;
        if sat == 0 {
            return Ok(0);
        }
        let payment = self.pay_out(leg.client, sat)?;
        let pay = AppMessage::Service(ServiceRequest::Pay { payment });
        let AppMessage::Service(ServiceRequest::Pay { payment }) = self.carry(
            Carry::forward(leg.circuit, leg.service, &mut leg.session),
            pay,
        )?
        else {
            return Err(RailError::Garbled);
        };
        self.take_in(leg.service, payment)?;
        Ok(sat)
    }

    /// Agent `i`'s balance, sat.
    pub fn balance(&self, i: usize) -> u64 {
        self.wallets
            .get(i)
            .map_or(0, |w| w.wallet().balance(&self.url).value())
    }

    /// Fees the mint collected, sat.
    pub fn fees_sat(&self) -> u64 {
        self.mint.ledger().fees_collected.value()
    }

    /// Paid in over Lightning, sat.
    pub fn funded_sat(&self) -> u64 {
        self.funded_sat
    }

    /// The mint (its ledger and logs).
    pub fn mint(&self) -> &Mint {
        &self.mint
    }
}

fn nobody() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([0, 0, 0, 0], 0))
}

#[cfg(test)]
mod tests;
