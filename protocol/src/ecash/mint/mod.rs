//! The Cashu mint (whitepaper "Token Lifecycle", "Mint Trust and Federation").
//!
//! A synchronous state machine with no I/O: the mint node of a later layer
//! feeds it requests and Lightning events and polls its observations.
//!
//! - Funding: a mint quote is paid by a [`LightningPayment`] event (NUT-04).
//! - Issuance: blind signatures with DLEQ proofs for a paid quote (NUT-04, NUT-12).
//! - Swap: `sum(inputs) - fees == sum(outputs)` (NUT-03, NUT-02 fees).
//! - Melt: two phases around the Lightning payout, inputs PENDING meanwhile (NUT-05, NUT-08).
//! - Check-state (NUT-07).
//! - Restore (NUT-09): signatures re-issued for outputs signed before, so a
//!   wallet that lost an answer in the network loses no value.
//!
//! Every request is validated completely before any state changes, so a
//! rejected request leaves no trace except its error.

mod ledger;
mod spent;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rand_core::CryptoRng;
use secp256k1::PublicKey;

pub use ledger::{KeysetLedger, Ledger};
use spent::SpentBook;

use super::messages::{
    CheckStateRequest, CheckStateResponse, KeysResponse, MeltQuoteRequest, MeltQuoteResponse,
    MeltQuoteState, MeltRequest, MintQuoteRequest, MintQuoteResponse, MintQuoteState, MintRequest,
    ProofStateEntry, RestoreRequest, RestoreResponse, SignaturesResponse, SwapRequest,
};
use super::observe::{MintObservation, RedeemedProof};
use super::{
    Amount, BlindSignature, BlindedMessage, CurrencyUnit, EcashError, Invoice, KeysetId,
    LightningPayment, MintKeySet, PayerId, PayoutOutcome, Proof, QuoteId, bdhke, keyset::input_fee,
};
use crate::fidelity::CryptoFidelity;
use crate::net::PeerAddr;
use crate::time::{Duration, Instant};

/// How a mint is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintConfig {
    /// Unit of account.
    pub unit: CurrencyUnit,
    /// Denominations `2^0 ..= 2^(max_order-1)`.
    pub max_order: u8,
    /// Per-input fee in parts per thousand (NUT-02).
    pub input_fee_ppk: u64,
    /// How long a quote's invoice stays payable.
    pub quote_ttl: Duration,
    /// Most inputs per request.
    pub max_inputs: usize,
    /// Most outputs per request.
    pub max_outputs: usize,
    /// Lightning routing fee reserve for melts, parts per thousand of the amount.
    pub melt_fee_reserve_ppk: u64,
    /// Minimum Lightning fee reserve for melts.
    pub melt_min_fee_reserve: Amount,
    /// How blind signatures are made and checked (`Full`: NUT-00 and
    /// NUT-12; see [`crate::fidelity`]).
    pub fidelity: CryptoFidelity,
}

impl Default for MintConfig {
    fn default() -> Self {
        MintConfig {
            unit: CurrencyUnit::default(),
            max_order: 32,
            input_fee_ppk: 0,
            quote_ttl: Duration::from_secs(3600),
            max_inputs: 1000,
            max_outputs: 1000,
            melt_fee_reserve_ppk: 0,
            melt_min_fee_reserve: Amount::ZERO,
            fidelity: CryptoFidelity::Full,
        }
    }
}

#[derive(Debug)]
struct MintQuoteEntry {
    invoice: Invoice,
    state: MintQuoteState,
}

#[derive(Debug)]
struct PendingMelt {
    presenter: PeerAddr,
    inputs: Vec<RedeemedProof>,
    fee: Amount,
    outputs: Vec<BlindedMessage>,
}

#[derive(Debug)]
struct MeltQuoteEntry {
    invoice: Invoice,
    fee_reserve: Amount,
    state: MeltQuoteState,
    pending: Option<PendingMelt>,
    change: Vec<BlindSignature>,
}

/// Inputs that passed every check, not yet reserved.
struct VerifiedInputs {
    proofs: Vec<RedeemedProof>,
    total: Amount,
    fee: Amount,
}

/// A Cashu mint.
#[derive(Debug)]
pub struct Mint {
    config: MintConfig,
    keysets: BTreeMap<KeysetId, MintKeySet>,
    aliases: BTreeMap<KeysetId, KeysetId>,
    active: KeysetId,
    tagged: BTreeMap<PayerId, KeysetId>,
    spent: SpentBook,
    /// Every `B_` signed, with the keyset and amount it was signed for.
    signed: HashMap<[u8; 33], (KeysetId, Amount)>,
    mint_quotes: HashMap<QuoteId, MintQuoteEntry>,
    melt_quotes: HashMap<QuoteId, MeltQuoteEntry>,
    ledger: Ledger,
    observations: VecDeque<MintObservation>,
}

impl Mint {
    /// A mint with one fresh active keyset.
    pub fn new(config: MintConfig, rng: &mut impl CryptoRng) -> Self {
        let mut mint = Mint {
            config,
            keysets: BTreeMap::new(),
            aliases: BTreeMap::new(),
            active: KeysetId::V1([0; 8]),
            tagged: BTreeMap::new(),
            spent: SpentBook::default(),
            signed: HashMap::new(),
            mint_quotes: HashMap::new(),
            melt_quotes: HashMap::new(),
            ledger: Ledger::default(),
            observations: VecDeque::new(),
        };
        mint.active = mint.add_keyset(rng);
        mint
    }

    // ----- getters ------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &MintConfig {
        &self.config
    }

    /// The books.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The keyset that signs new outputs.
    pub fn active_keyset_id(&self) -> KeysetId {
        self.active
    }

    /// The public keysets (NUT-01/02), as served to anyone.
    pub fn keysets(&self) -> KeysResponse {
        self.keysets_for(None)
    }

    /// Every keyset id the mint has signed with, private (tagging) ones
    /// included: the operator's view, for audits.
    pub fn keyset_ids(&self) -> Vec<KeysetId> {
        self.keysets.keys().copied().collect()
    }

    /// The keysets as served to `viewer`. An honest mint serves everyone the
    /// same; one that tagged `viewer` serves it a private active keyset.
    pub fn keysets_for(&self, viewer: Option<PayerId>) -> KeysResponse {
        let tag = viewer.and_then(|v| self.tagged.get(&v)).copied();
        let tagged: HashSet<KeysetId> = self.tagged.values().copied().collect();
        let keysets = self
            .keysets
            .iter()
            .filter(|(id, _)| !tagged.contains(id) || Some(**id) == tag)
            .map(|(id, ks)| {
                let mut k = ks.keyset().clone();
                if tag.is_some() && *id == self.active {
                    // The tagged viewer is told its private keyset is the active one.
                    k.active = false;
                }
                k
            })
            .collect();
        KeysResponse { keysets }
    }

    /// NUT-07 states, in request order.
    pub fn check_state(&self, req: &CheckStateRequest) -> CheckStateResponse {
        CheckStateResponse {
            states: req
                .ys
                .iter()
                .map(|y| ProofStateEntry {
                    y: *y,
                    state: self.spent.state(y),
                })
                .collect(),
        }
    }

    /// Number of proofs in the spent set (spent or pending).
    pub fn spent_count(&self) -> usize {
        self.spent.len()
    }

    // ----- commands -----------------------------------------------------------

    /// Retires the active keyset and activates a fresh one.
    pub fn rotate_keyset(&mut self, rng: &mut impl CryptoRng) -> KeysetId {
        let old = self.active;
        if let Some(ks) = self.keysets.get_mut(&old) {
            ks.retire();
        }
        self.active = self.add_keyset(rng);
        self.active
    }

    /// **Adversarial.** Gives `payer` a private active keyset, so that every
    /// proof it later spends identifies it (the per-user key tagging attack).
    /// Wallets that check keyset consistency detect this (the `adversary`
    /// feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_tag_payer(&mut self, payer: PayerId, rng: &mut impl CryptoRng) -> KeysetId {
        let id = self.add_keyset(rng);
        self.tagged.insert(payer, id);
        id
    }

    fn add_keyset(&mut self, rng: &mut impl CryptoRng) -> KeysetId {
        let ks = MintKeySet::generate(
            rng,
            self.config.unit.clone(),
            self.config.max_order,
            self.config.input_fee_ppk,
            None,
        );
        let id = ks.keyset().id;
        self.aliases.insert(ks.keyset().v1_id(), id);
        self.keysets.insert(id, ks);
        id
    }

    // ----- NUT-04: mint -------------------------------------------------------

    /// Opens a mint quote with a simulated invoice.
    pub fn create_mint_quote(
        &mut self,
        now: Instant,
        req: &MintQuoteRequest,
        rng: &mut impl CryptoRng,
    ) -> Result<MintQuoteResponse, EcashError> {
        self.check_unit(&req.unit)?;
        if req.amount == Amount::ZERO {
            return Err(EcashError::EmptyRequest { what: "amount" });
        }
        let quote = QuoteId::generate(rng);
        let mut payment_hash = [0u8; 32];
        rng.fill_bytes(&mut payment_hash);
        let invoice = Invoice {
            payment_hash,
            amount: req.amount,
            expiry: now + self.config.quote_ttl,
        };
        self.mint_quotes.insert(
            quote,
            MintQuoteEntry {
                invoice,
                state: MintQuoteState::Unpaid,
            },
        );
        self.mint_quote_state(&quote)
    }

    /// The current state of a mint quote.
    pub fn mint_quote_state(&self, quote: &QuoteId) -> Result<MintQuoteResponse, EcashError> {
        let q = self
            .mint_quotes
            .get(quote)
            .ok_or(EcashError::UnknownQuote(*quote))?;
        Ok(MintQuoteResponse {
            quote: *quote,
            request: q.invoice,
            amount: q.invoice.amount,
            state: q.state,
            expiry: q.invoice.expiry,
        })
    }

    /// A Lightning payment for a mint quote arrived.
    pub fn handle_lightning_payment(
        &mut self,
        now: Instant,
        payment: LightningPayment,
    ) -> Result<(), EcashError> {
        let q = self
            .mint_quotes
            .get_mut(&payment.quote)
            .ok_or(EcashError::UnknownQuote(payment.quote))?;
        match q.state {
            MintQuoteState::Unpaid => {}
            MintQuoteState::Paid => return Err(EcashError::QuoteInUse(payment.quote)),
            MintQuoteState::Issued => return Err(EcashError::QuoteAlreadyIssued(payment.quote)),
        }
        if now > q.invoice.expiry {
            return Err(EcashError::QuoteExpired(payment.quote));
        }
        if payment.amount != q.invoice.amount {
            return Err(EcashError::PaymentMismatch {
                quote: payment.quote,
                quoted: q.invoice.amount,
                paid: payment.amount,
            });
        }
        q.state = MintQuoteState::Paid;
        self.ledger.record_funding(payment.amount);
        self.observe(MintObservation::Funding {
            at: now,
            quote: payment.quote,
            amount: payment.amount,
            payer: payment.payer,
        });
        self.ledger.assert_balanced();
        Ok(())
    }

    /// Signs the outputs of a paid quote.
    pub fn mint(
        &mut self,
        now: Instant,
        presenter: PeerAddr,
        req: &MintRequest,
    ) -> Result<SignaturesResponse, EcashError> {
        let q = self
            .mint_quotes
            .get(&req.quote)
            .ok_or(EcashError::UnknownQuote(req.quote))?;
        match q.state {
            MintQuoteState::Paid => {}
            MintQuoteState::Unpaid => return Err(EcashError::QuoteNotPaid(req.quote)),
            MintQuoteState::Issued => return Err(EcashError::QuoteAlreadyIssued(req.quote)),
        }
        let quoted = q.invoice.amount;
        let total = self.verify_outputs(&req.outputs)?;
        if total != quoted {
            return Err(EcashError::QuoteAmountMismatch {
                quoted,
                outputs: total,
            });
        }
        let signatures = self.sign_outputs(&req.outputs, true)?;
        if let Some(q) = self.mint_quotes.get_mut(&req.quote) {
            q.state = MintQuoteState::Issued;
        }
        let keyset = req
            .outputs
            .first()
            .map(|o| self.canonical(o.id))
            .unwrap_or(self.active);
        self.observe(MintObservation::Issuance {
            at: now,
            presenter,
            quote: req.quote,
            keyset,
            amounts: req.outputs.iter().map(|o| o.amount).collect(),
        });
        self.ledger.assert_balanced();
        Ok(SignaturesResponse { signatures })
    }

    // ----- NUT-09: restore ----------------------------------------------------

    /// Quotes paid over Lightning whose ecash has not been issued yet (the
    /// payer can still claim them), for value audits.
    pub fn paid_unissued(&self) -> Vec<(QuoteId, Amount)> {
        let mut v: Vec<(QuoteId, Amount)> = self
            .mint_quotes
            .iter()
            .filter(|(_, q)| q.state == MintQuoteState::Paid)
            .map(|(id, q)| (*id, q.invoice.amount))
            .collect();
        v.sort_unstable_by_key(|(id, _)| id.0);
        v
    }

    /// The amount this mint signed for blinded message `o`, if it did (what
    /// a NUT-09 restore of `o` would return; read-only, for value audits).
    pub fn signed_amount(&self, o: &BlindedMessage) -> Option<Amount> {
        let &(id, amount) = self.signed.get(&o.blinded_secret.serialize())?;
        (id == self.canonical(o.id) && amount == o.amount).then_some(amount)
    }

    /// Signs again the outputs of `req` that were signed before, for the
    /// same keyset and amount (`C_ = kB_` and its DLEQ proof are
    /// deterministic, so the answer is the one that was lost). Outputs never
    /// signed are left out; nothing changes in the books.
    pub fn restore(
        &mut self,
        now: Instant,
        presenter: PeerAddr,
        req: &RestoreRequest,
    ) -> Result<RestoreResponse, EcashError> {
        if req.outputs.len() > self.config.max_outputs {
            return Err(EcashError::TooMany {
                what: "outputs",
                count: req.outputs.len(),
                limit: self.config.max_outputs,
            });
        }
        let mut outputs = Vec::new();
        let mut signatures = Vec::new();
        for o in &req.outputs {
            let Some(&(id, amount)) = self.signed.get(&o.blinded_secret.serialize()) else {
                continue;
            };
            if id != self.canonical(o.id) || amount != o.amount {
                continue;
            }
            let ks = self.keyset(id)?;
            let k = ks.secret_for(amount)?;
            let big_k = ks.keyset().key_for(amount)?;
            let (c, proof) = bdhke::sign(self.config.fidelity, k, big_k, &o.blinded_secret)?;
            outputs.push(*o);
            signatures.push(BlindSignature {
                amount,
                id: o.id,
                c,
                dleq: Some(proof),
            });
        }
        if !outputs.is_empty() {
            self.observe(MintObservation::Restore {
                at: now,
                presenter,
                amounts: outputs.iter().map(|o| o.amount).collect(),
            });
        }
        Ok(RestoreResponse {
            outputs,
            signatures,
        })
    }

    // ----- NUT-03: swap -------------------------------------------------------

    /// Exchanges proofs for new blind signatures: `sum(inputs) - fees == sum(outputs)`.
    pub fn swap(
        &mut self,
        now: Instant,
        presenter: PeerAddr,
        req: &SwapRequest,
    ) -> Result<SignaturesResponse, EcashError> {
        let inputs = self.verify_inputs(&req.inputs)?;
        let outputs_total = self.verify_outputs(&req.outputs)?;
        let expected = inputs.total.checked_sub(inputs.fee);
        if expected != Some(outputs_total) {
            return Err(EcashError::FeeMismatch {
                inputs: inputs.total,
                fees: inputs.fee,
                outputs: outputs_total,
            });
        }
        self.spent.reserve(&inputs.proofs)?;
        let signatures = match self.sign_outputs(&req.outputs, false) {
            Ok(s) => s,
            Err(e) => {
                self.spent.release(&inputs.proofs);
                return Err(e);
            }
        };
        self.spent.commit(&inputs.proofs);
        for p in &inputs.proofs {
            self.ledger.record_redemption(p.keyset, p.amount);
        }
        self.ledger.record_fee(inputs.fee);
        self.observe(MintObservation::Swap {
            at: now,
            presenter,
            inputs: inputs.proofs,
            output_amounts: req.outputs.iter().map(|o| o.amount).collect(),
            fee: inputs.fee,
        });
        self.ledger.assert_balanced();
        Ok(SignaturesResponse { signatures })
    }

    // ----- NUT-05: melt -------------------------------------------------------

    /// Quotes paying `req.request` over Lightning.
    pub fn create_melt_quote(
        &mut self,
        now: Instant,
        req: &MeltQuoteRequest,
        rng: &mut impl CryptoRng,
    ) -> Result<MeltQuoteResponse, EcashError> {
        self.check_unit(&req.unit)?;
        if req.request.amount == Amount::ZERO {
            return Err(EcashError::EmptyRequest { what: "amount" });
        }
        let quote = QuoteId::generate(rng);
        let proportional = input_fee([req
            .request
            .amount
            .value()
            .saturating_mul(self.config.melt_fee_reserve_ppk)]);
        let fee_reserve = proportional.max(self.config.melt_min_fee_reserve);
        let mut invoice = req.request;
        invoice.expiry = invoice.expiry.min(now + self.config.quote_ttl);
        self.melt_quotes.insert(
            quote,
            MeltQuoteEntry {
                invoice,
                fee_reserve,
                state: MeltQuoteState::Unpaid,
                pending: None,
                change: Vec::new(),
            },
        );
        self.melt_quote_state(&quote)
    }

    /// The current state of a melt quote, with change once paid.
    pub fn melt_quote_state(&self, quote: &QuoteId) -> Result<MeltQuoteResponse, EcashError> {
        let q = self
            .melt_quotes
            .get(quote)
            .ok_or(EcashError::UnknownQuote(*quote))?;
        Ok(MeltQuoteResponse {
            quote: *quote,
            amount: q.invoice.amount,
            fee_reserve: q.fee_reserve,
            state: q.state,
            expiry: q.invoice.expiry,
            change: q.change.clone(),
        })
    }

    /// Phase one of a melt: validates and reserves the inputs (PENDING) and
    /// returns the invoice the driver must now pay over Lightning. Finish with
    /// [`Mint::complete_melt`].
    pub fn begin_melt(
        &mut self,
        now: Instant,
        presenter: PeerAddr,
        req: &MeltRequest,
    ) -> Result<Invoice, EcashError> {
        let q = self
            .melt_quotes
            .get(&req.quote)
            .ok_or(EcashError::UnknownQuote(req.quote))?;
        if q.state != MeltQuoteState::Unpaid {
            return Err(EcashError::QuoteInUse(req.quote));
        }
        if now > q.invoice.expiry {
            return Err(EcashError::QuoteExpired(req.quote));
        }
        let (invoice, fee_reserve) = (q.invoice, q.fee_reserve);
        let inputs = self.verify_inputs(&req.inputs)?;
        let change = if req.outputs.is_empty() {
            Amount::ZERO
        } else {
            self.verify_outputs(&req.outputs)?
        };
        let needed = invoice
            .amount
            .checked_add(fee_reserve)?
            .checked_add(change)?;
        if inputs.total.checked_sub(inputs.fee) != Some(needed) {
            return Err(EcashError::FeeMismatch {
                inputs: inputs.total,
                fees: inputs.fee,
                outputs: needed,
            });
        }
        self.spent.reserve(&inputs.proofs)?;
        if let Some(q) = self.melt_quotes.get_mut(&req.quote) {
            q.state = MeltQuoteState::Pending;
            q.pending = Some(PendingMelt {
                presenter,
                inputs: inputs.proofs,
                fee: inputs.fee,
                outputs: req.outputs.clone(),
            });
        }
        Ok(invoice)
    }

    /// Phase two of a melt: the Lightning payout's outcome. On success the
    /// inputs are spent and change is signed; on failure they are released.
    pub fn complete_melt(
        &mut self,
        now: Instant,
        quote: &QuoteId,
        outcome: PayoutOutcome,
    ) -> Result<MeltQuoteResponse, EcashError> {
        let q = self
            .melt_quotes
            .get_mut(quote)
            .ok_or(EcashError::UnknownQuote(*quote))?;
        let pending = q.pending.take().ok_or(EcashError::QuoteNotPaid(*quote))?;
        if outcome == PayoutOutcome::Failed {
            q.state = MeltQuoteState::Unpaid;
            self.spent.release(&pending.inputs);
            return self.melt_quote_state(quote);
        }
        let (amount, fee_reserve) = (q.invoice.amount, q.fee_reserve);
        let change = match self.sign_outputs(&pending.outputs, false) {
            Ok(c) => c,
            Err(e) => {
                // Cannot happen for outputs that passed validation; undo cleanly.
                self.spent.release(&pending.inputs);
                if let Some(q) = self.melt_quotes.get_mut(quote) {
                    q.state = MeltQuoteState::Unpaid;
                }
                return Err(e);
            }
        };
        self.spent.commit(&pending.inputs);
        for p in &pending.inputs {
            self.ledger.record_redemption(p.keyset, p.amount);
        }
        self.ledger.record_fee(pending.fee);
        self.ledger.record_payout(amount.checked_add(fee_reserve)?);
        if let Some(q) = self.melt_quotes.get_mut(quote) {
            q.state = MeltQuoteState::Paid;
            q.change = change;
        }
        self.observe(MintObservation::Melt {
            at: now,
            presenter: pending.presenter,
            quote: *quote,
            inputs: pending.inputs,
            amount,
            fee_reserve,
            fee: pending.fee,
            change_amounts: pending.outputs.iter().map(|o| o.amount).collect(),
        });
        self.ledger.assert_balanced();
        self.melt_quote_state(quote)
    }

    // ----- outputs ------------------------------------------------------------

    /// The next observation of the operator's log, oldest first.
    pub fn poll_observation(&mut self) -> Option<MintObservation> {
        self.observations.pop_front()
    }

    /// Full audit: the ledger balances, and the redeemed value per keyset equals
    /// a recount of the spent set. O(spent proofs); for checkers, not hot paths.
    pub fn audit(&self) {
        self.ledger.assert_balanced();
        let recount = self.spent.spent_by_keyset();
        for (id, k) in &self.ledger.keysets {
            let counted = recount.get(id).copied().unwrap_or_default();
            assert_eq!(
                counted, k.redeemed,
                "keyset {id}: spent set holds {counted} but ledger says {} redeemed",
                k.redeemed
            );
        }
        for id in recount.keys() {
            assert!(
                self.ledger.keysets.contains_key(id),
                "spent proofs of unbooked keyset {id}"
            );
        }
    }

    /// Drops quotes that can no longer change: issued mint quotes and unpaid
    /// quotes past expiry. Keeps memory bounded in long simulations.
    pub fn prune_quotes(&mut self, now: Instant) {
        self.mint_quotes.retain(|_, q| match q.state {
            MintQuoteState::Issued => false,
            MintQuoteState::Unpaid => now <= q.invoice.expiry,
            MintQuoteState::Paid => true,
        });
        self.melt_quotes
            .retain(|_, q| q.state == MeltQuoteState::Pending || now <= q.invoice.expiry);
    }

    // ----- validation ---------------------------------------------------------

    fn observe(&mut self, o: MintObservation) {
        self.observations.push_back(o);
    }

    fn check_unit(&self, unit: &CurrencyUnit) -> Result<(), EcashError> {
        if *unit != self.config.unit {
            return Err(EcashError::UnsupportedUnit(unit.0.clone()));
        }
        Ok(())
    }

    fn canonical(&self, id: KeysetId) -> KeysetId {
        self.aliases.get(&id).copied().unwrap_or(id)
    }

    fn keyset(&self, id: KeysetId) -> Result<&MintKeySet, EcashError> {
        self.keysets
            .get(&self.canonical(id))
            .ok_or(EcashError::UnknownKeyset(id))
    }

    fn verify_inputs(&self, inputs: &[Proof]) -> Result<VerifiedInputs, EcashError> {
        if inputs.is_empty() {
            return Err(EcashError::EmptyRequest { what: "inputs" });
        }
        if inputs.len() > self.config.max_inputs {
            return Err(EcashError::TooMany {
                what: "inputs",
                count: inputs.len(),
                limit: self.config.max_inputs,
            });
        }
        let mut seen = HashSet::with_capacity(inputs.len());
        let mut proofs = Vec::with_capacity(inputs.len());
        let mut ppks = Vec::with_capacity(inputs.len());
        for p in inputs {
            p.secret.check_len()?;
            let ks = self.keyset(p.id)?;
            let k = ks.secret_for(p.amount)?;
            let y = p.y()?;
            if !seen.insert(y.serialize()) {
                return Err(EcashError::DuplicateInput { y });
            }
            let big_k = ks.keyset().key_for(p.amount)?;
            let secret = (p.secret.as_bytes(), &y);
            if !bdhke::verify(self.config.fidelity, k, big_k, secret, &p.c)? {
                return Err(EcashError::InvalidProofSignature { y });
            }
            self.spent.check_unspent(&y)?;
            ppks.push(ks.keyset().input_fee_ppk);
            proofs.push(RedeemedProof {
                y,
                amount: p.amount,
                keyset: ks.keyset().id,
            });
        }
        let total = Amount::try_sum(proofs.iter().map(|p| p.amount))?;
        Ok(VerifiedInputs {
            proofs,
            total,
            fee: input_fee(ppks),
        })
    }

    fn verify_outputs(&self, outputs: &[BlindedMessage]) -> Result<Amount, EcashError> {
        if outputs.is_empty() {
            return Err(EcashError::EmptyRequest { what: "outputs" });
        }
        if outputs.len() > self.config.max_outputs {
            return Err(EcashError::TooMany {
                what: "outputs",
                count: outputs.len(),
                limit: self.config.max_outputs,
            });
        }
        let mut seen = HashSet::with_capacity(outputs.len());
        for o in outputs {
            let ks = self.keyset(o.id)?;
            if !ks.keyset().active {
                return Err(EcashError::RetiredKeyset(o.id));
            }
            ks.secret_for(o.amount)?;
            let b = o.blinded_secret.serialize();
            if self.signed.contains_key(&b) || !seen.insert(b) {
                return Err(EcashError::DuplicateOutput {
                    b: o.blinded_secret,
                });
            }
        }
        Amount::try_sum(outputs.iter().map(|o| o.amount))
    }

    /// Signs validated outputs: computes everything first, then records.
    fn sign_outputs(
        &mut self,
        outputs: &[BlindedMessage],
        from_quote: bool,
    ) -> Result<Vec<BlindSignature>, EcashError> {
        let mut signatures = Vec::with_capacity(outputs.len());
        for o in outputs {
            let ks = self.keyset(o.id)?;
            let k = ks.secret_for(o.amount)?;
            let big_k = ks.keyset().key_for(o.amount)?;
            let (c, proof) = bdhke::sign(self.config.fidelity, k, big_k, &o.blinded_secret)?;
            signatures.push(BlindSignature {
                amount: o.amount,
                id: o.id,
                c,
                dleq: Some(proof),
            });
        }
        for o in outputs {
            let id = self.canonical(o.id);
            self.signed
                .insert(o.blinded_secret.serialize(), (id, o.amount));
            self.ledger.record_issuance(id, o.amount, from_quote);
        }
        Ok(signatures)
    }
}

/// The `Y`s of some proofs, for a NUT-07 request.
pub fn ys_of(proofs: &[Proof]) -> Result<Vec<PublicKey>, EcashError> {
    proofs.iter().map(Proof::y).collect()
}
