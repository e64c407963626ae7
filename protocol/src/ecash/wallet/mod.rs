//! The Cashu wallet (whitepaper "Token Lifecycle", "Mint Trust and
//! Federation": hold balances across several mints).
//!
//! Sans-IO: the wallet prepares requests and consumes responses; it never calls
//! a mint. Every prepared operation is a `Pending*` value that owns the proofs
//! and blinding secrets involved; completing it consumes it, so a proof's
//! secret is forgotten (and wiped) once the proof has left the wallet.
//!
//! Defences that are real here: every blind signature's DLEQ proof is checked
//! against the keyset the wallet was served (Alice), received proofs are
//! checked offline (Carol), keyset ids are recomputed from their keys, and a
//! mint's keyset view can be compared with an independent view to detect
//! per-user key tagging.

mod policy;
mod select;

use core::fmt;
use std::collections::BTreeMap;

use rand_core::CryptoRng;
use secp256k1::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};

pub use policy::{
    ExponentialHold, FixedHold, HoldPolicy, NoHold, UniformHold, WalletPolicy, exponential,
};

use super::messages::{
    KeysResponse, MeltQuoteResponse, MeltQuoteState, MeltRequest, MintRequest, ProofState,
    ProofStateEntry, RestoreRequest, RestoreResponse, SwapRequest,
};
use super::nuts::{ProofDleq, ScalarHex};
use super::{
    Amount, BlindSignature, BlindedMessage, EcashError, KeySet, KeysetId, Proof, QuoteId, Secret,
    bdhke, keyset::input_fee,
};
use crate::time::Instant;

/// Identifies a mint (its URL, or its node id for a peer-to-peer mint).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MintUrl(pub String);

impl fmt::Display for MintUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a held proof came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofOrigin {
    /// Issued against a funding event: linkable to it by the mint.
    Issued,
    /// Obtained from a swap (change or refresh).
    Swapped,
    /// Received from another party and not yet swapped.
    Received,
}

/// A proof in the wallet.
#[derive(Clone, Debug)]
pub struct HeldProof {
    /// The proof.
    pub proof: Proof,
    /// Its `Y = hash_to_curve(secret)`, computed once when stored (it keys
    /// every duplicate and state check).
    pub y: PublicKey,
    /// Earliest time it may be spent (hold policy).
    pub spendable_at: Instant,
    /// Where it came from.
    pub origin: ProofOrigin,
}

#[derive(Debug, Default)]
struct MintAccount {
    keysets: BTreeMap<KeysetId, KeySet>,
    aliases: BTreeMap<KeysetId, KeysetId>,
    proofs: Vec<HeldProof>,
}

impl MintAccount {
    fn keyset(&self, id: KeysetId) -> Result<&KeySet, EcashError> {
        let id = self.aliases.get(&id).copied().unwrap_or(id);
        self.keysets.get(&id).ok_or(EcashError::UnknownKeyset(id))
    }

    fn active(&self, mint: &MintUrl) -> Result<&KeySet, EcashError> {
        self.keysets
            .values()
            .find(|k| k.active)
            .ok_or_else(|| EcashError::NoActiveKeyset(mint.0.clone()))
    }

    fn balance(&self) -> Amount {
        self.proofs.iter().map(|p| p.proof.amount).sum()
    }
}

/// Blinded outputs with the secrets and blinding factors needed to unblind them.
struct PreparedOutputs {
    messages: Vec<BlindedMessage>,
    secrets: Vec<(Secret, SecretKey)>,
}

impl fmt::Debug for PreparedOutputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedOutputs")
            .field("messages", &self.messages)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// A prepared NUT-04 issuance; send [`PendingIssue::request`] to the mint.
#[derive(Debug)]
pub struct PendingIssue {
    mint: MintUrl,
    quote: QuoteId,
    outputs: PreparedOutputs,
}

impl PendingIssue {
    /// The mint it is at.
    pub fn mint(&self) -> &MintUrl {
        &self.mint
    }

    /// The request body.
    pub fn request(&self) -> MintRequest {
        MintRequest {
            quote: self.quote,
            outputs: self.outputs.messages.clone(),
        }
    }

    /// The NUT-09 request that recovers a lost answer.
    pub fn restore_request(&self) -> RestoreRequest {
        RestoreRequest {
            outputs: self.outputs.messages.clone(),
        }
    }
}

/// What a NUT-09 restore found for an operation whose answer was lost.
#[derive(Debug)]
pub enum Recovery<P> {
    /// The mint had executed it: the outputs are in the wallet now.
    Completed(Amount),
    /// The mint never executed it; the operation is handed back.
    NotExecuted(P),
}

/// A prepared NUT-03 swap; send [`PendingSwap::request`] to the mint, then
/// [`Wallet::complete_swap`] or, if the mint refused, [`Wallet::abort_swap`].
#[derive(Debug)]
pub struct PendingSwap {
    mint: MintUrl,
    inputs: Vec<HeldProof>,
    outputs: PreparedOutputs,
    /// The first `send_count` outputs leave the wallet on completion.
    send_count: usize,
}

impl PendingSwap {
    /// The mint it is at.
    pub fn mint(&self) -> &MintUrl {
        &self.mint
    }

    /// The request body.
    pub fn request(&self) -> SwapRequest {
        SwapRequest {
            inputs: self.inputs.iter().map(|h| h.proof.clone()).collect(),
            outputs: self.outputs.messages.clone(),
        }
    }

    /// Sum of the inputs.
    pub fn input_total(&self) -> Amount {
        self.inputs.iter().map(|h| h.proof.amount).sum()
    }

    /// The NUT-09 request that recovers a lost answer.
    pub fn restore_request(&self) -> RestoreRequest {
        RestoreRequest {
            outputs: self.outputs.messages.clone(),
        }
    }

    /// The inputs (for accounting while the swap is in flight).
    pub fn inputs(&self) -> impl Iterator<Item = &Proof> {
        self.inputs.iter().map(|h| &h.proof)
    }

    /// The inputs' `Y`s.
    pub fn input_ys(&self) -> impl Iterator<Item = PublicKey> + '_ {
        self.inputs.iter().map(|h| h.y)
    }

    /// Sum of the outputs.
    pub fn output_total(&self) -> Amount {
        self.outputs.messages.iter().map(|m| m.amount).sum()
    }
}

/// A prepared NUT-05 melt.
#[derive(Debug)]
pub struct PendingMelt {
    mint: MintUrl,
    quote: QuoteId,
    inputs: Vec<HeldProof>,
    change: PreparedOutputs,
}

impl PendingMelt {
    /// The request body.
    pub fn request(&self) -> MeltRequest {
        MeltRequest {
            quote: self.quote,
            inputs: self.inputs.iter().map(|h| h.proof.clone()).collect(),
            outputs: self.change.messages.clone(),
        }
    }

    /// Sum of the inputs.
    pub fn input_total(&self) -> Amount {
        self.inputs.iter().map(|h| h.proof.amount).sum()
    }
}

/// How a payment can be made.
#[derive(Debug)]
pub enum SendPlan {
    /// These proofs (already removed from the wallet) pay the amount exactly.
    Ready(Vec<Proof>),
    /// A swap is needed first to make exact change; complete it to get the proofs.
    Swap(PendingSwap),
}

/// How a melt ended, from the wallet's side.
#[derive(Debug)]
pub enum MeltSettled {
    /// Paid; change (if any) is in the wallet.
    Paid,
    /// The payout failed; inputs are back in the wallet.
    Failed,
    /// Still in flight: ask again later with this.
    StillPending(PendingMelt),
}

/// A multi-mint Cashu wallet.
pub struct Wallet {
    policy: WalletPolicy,
    hold: Box<dyn HoldPolicy>,
    mints: BTreeMap<MintUrl, MintAccount>,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("policy", &self.policy)
            .field("mints", &self.mints.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Wallet {
    /// An empty wallet.
    pub fn new(policy: WalletPolicy, hold: Box<dyn HoldPolicy>) -> Self {
        Wallet {
            policy,
            hold,
            mints: BTreeMap::new(),
        }
    }

    // ----- getters ------------------------------------------------------------

    /// The policy.
    pub fn policy(&self) -> WalletPolicy {
        self.policy
    }

    /// Mints this wallet has an account with.
    pub fn mints(&self) -> impl Iterator<Item = &MintUrl> {
        self.mints.keys()
    }

    /// Sum of all proofs held with `mint` (including those on hold).
    pub fn balance(&self, mint: &MintUrl) -> Amount {
        self.mints
            .get(mint)
            .map(MintAccount::balance)
            .unwrap_or_default()
    }

    /// Sum over all mints.
    pub fn total_balance(&self) -> Amount {
        self.mints.values().map(MintAccount::balance).sum()
    }

    /// Sum of proofs with `mint` spendable at `now`.
    pub fn spendable_balance(&self, mint: &MintUrl, now: Instant) -> Amount {
        self.mints
            .get(mint)
            .map(|a| {
                a.proofs
                    .iter()
                    .filter(|p| p.spendable_at <= now)
                    .map(|p| p.proof.amount)
                    .sum()
            })
            .unwrap_or_default()
    }

    /// The proofs held with `mint`.
    pub fn proofs(&self, mint: &MintUrl) -> &[HeldProof] {
        self.mints
            .get(mint)
            .map(|a| a.proofs.as_slice())
            .unwrap_or(&[])
    }

    /// True if the wallet still holds a proof with this `Y`.
    pub fn holds(&self, mint: &MintUrl, y: &PublicKey) -> bool {
        self.proofs(mint).iter().any(|h| h.y == *y)
    }

    // ----- keysets ------------------------------------------------------------

    /// Adds or refreshes a mint's keysets as served to this wallet. Every id is
    /// recomputed from its keys, and a mint may have one active keyset only.
    pub fn add_mint(&mut self, mint: MintUrl, keys: &KeysResponse) -> Result<(), EcashError> {
        for ks in &keys.keysets {
            ks.verify_id()?;
        }
        let active = keys.keysets.iter().filter(|k| k.active).count();
        if active > 1 {
            return Err(EcashError::KeysetInconsistent {
                mint: mint.0,
                detail: format!("{active} active keysets served at once"),
            });
        }
        let account = self.mints.entry(mint).or_default();
        for ks in &keys.keysets {
            account.aliases.insert(ks.v1_id(), ks.id);
            account.keysets.insert(ks.id, ks.clone());
        }
        // A keyset absent from the new response keeps its last known state,
        // except that it can no longer be the active one.
        let served: Vec<KeysetId> = keys.keysets.iter().map(|k| k.id).collect();
        for (id, ks) in account.keysets.iter_mut() {
            if !served.contains(id) {
                ks.active = false;
            }
        }
        Ok(())
    }

    /// Compares the keysets this wallet was served with `reference`, a view of
    /// the same mint obtained independently (another circuit, other users).
    /// A mint tagging this wallet with private keys shows up as a difference.
    pub fn check_keyset_consistency(
        &self,
        mint: &MintUrl,
        reference: &KeysResponse,
    ) -> Result<(), EcashError> {
        let account = self.account(mint)?;
        let inconsistent = |detail: String| EcashError::KeysetInconsistent {
            mint: mint.0.clone(),
            detail,
        };
        for ks in &reference.keysets {
            ks.verify_id()?;
        }
        let reference_active: Vec<KeysetId> = reference
            .keysets
            .iter()
            .filter(|k| k.active)
            .map(|k| k.id)
            .collect();
        if let Ok(mine) = account.active(mint)
            && reference_active != [mine.id]
        {
            return Err(inconsistent(format!(
                "active keyset served to this wallet is {}, the reference view has {:?}",
                mine.id, reference_active
            )));
        }
        for id in account.keysets.keys() {
            if !reference.keysets.iter().any(|k| k.id == *id) {
                return Err(inconsistent(format!(
                    "keyset {id} served to this wallet is unknown to the reference view"
                )));
            }
        }
        Ok(())
    }

    // ----- issuance -----------------------------------------------------------

    /// Prepares outputs for a paid mint quote of `amount`.
    pub fn prepare_issue(
        &mut self,
        mint: &MintUrl,
        quote: QuoteId,
        amount: Amount,
        rng: &mut impl CryptoRng,
    ) -> Result<PendingIssue, EcashError> {
        let outputs = self.prepare_outputs(mint, &[amount], rng)?;
        Ok(PendingIssue {
            mint: mint.clone(),
            quote,
            outputs,
        })
    }

    /// Unblinds the mint's signatures (checking every DLEQ proof) and stores
    /// the proofs, spendable after the hold policy's period.
    pub fn complete_issue(
        &mut self,
        pending: PendingIssue,
        signatures: &[BlindSignature],
        now: Instant,
    ) -> Result<Amount, EcashError> {
        let proofs = self.unblind(&pending.mint, pending.outputs, signatures)?;
        let spendable_at = now + self.hold.hold_period();
        let total = Amount::try_sum(proofs.iter().map(|p| p.amount))?;
        self.store(&pending.mint, proofs, spendable_at, ProofOrigin::Issued)?;
        Ok(total)
    }

    /// Completes an issuance whose answer was lost, from a NUT-09 restore.
    pub fn recover_issue(
        &mut self,
        pending: PendingIssue,
        restored: &RestoreResponse,
        now: Instant,
    ) -> Result<Recovery<PendingIssue>, EcashError> {
        if !restored_all(restored, &pending.outputs.messages)? {
            return Ok(Recovery::NotExecuted(pending));
        }
        self.complete_issue(pending, &restored.signatures, now)
            .map(Recovery::Completed)
    }

    /// Completes a swap whose answer was lost, from a NUT-09 restore. All
    /// outputs are kept, including those that were to be sent: the payment
    /// they were for has been given up.
    ///
    /// `NotExecuted` means the mint had not executed it when it answered the
    /// restore. A copy of the swap still in the network after that (delayed
    /// past the restore) would spend the inputs with nobody holding the
    /// outputs; the caller hands the inputs back to the wallet, whose next
    /// use of them fails as spent and is corrected by NUT-07. That residual
    /// loss is not recovered here.
    pub fn recover_swap(
        &mut self,
        pending: PendingSwap,
        restored: &RestoreResponse,
        now: Instant,
    ) -> Result<Recovery<PendingSwap>, EcashError> {
        match restored_all(restored, &pending.outputs.messages) {
            Ok(true) => {}
            Ok(false) => return Ok(Recovery::NotExecuted(pending)),
            Err(e) => {
                self.abort_swap(pending);
                return Err(e);
            }
        }
        // Nothing leaves the wallet: every output is kept.
        let mut pending = pending;
        pending.send_count = 0;
        let total = pending.output_total();
        self.complete_swap(pending, &restored.signatures, now)?;
        Ok(Recovery::Completed(total))
    }

    // ----- spending -----------------------------------------------------------

    /// Plans a payment of exactly `amount` from `mint`. Proofs held under the
    /// hold policy are not used; with swap-before-spend, freshly issued proofs
    /// are only ever spent through a swap.
    pub fn send(
        &mut self,
        mint: &MintUrl,
        amount: Amount,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> Result<SendPlan, EcashError> {
        if amount == Amount::ZERO {
            return Err(EcashError::EmptyRequest { what: "amount" });
        }
        let swap_before_spend = self.policy.swap_before_spend;
        let account = self.account(mint)?;
        let spendable: Vec<(usize, Amount)> = account
            .proofs
            .iter()
            .enumerate()
            .filter(|(_, h)| h.spendable_at <= now)
            .map(|(i, h)| (i, h.proof.amount))
            .collect();
        let direct: Vec<(usize, Amount)> = spendable
            .iter()
            .copied()
            .filter(|(i, _)| {
                !(swap_before_spend && account.proofs[*i].origin == ProofOrigin::Issued)
            })
            .collect();
        if let Some(chosen) = select::exact(&direct, amount) {
            let proofs = self.take(mint, &chosen)?;
            return Ok(SendPlan::Ready(
                proofs.into_iter().map(|h| h.proof).collect(),
            ));
        }
        let chosen = self.cover(mint, &spendable, amount, now)?;
        let inputs = self.take(mint, &chosen)?;
        self.swap_inputs(mint, inputs, Some(amount), rng)
            .map(SendPlan::Swap)
    }

    /// Completes a swap: unblinds and checks the signatures, keeps the change,
    /// and returns the proofs to send (empty for a refresh or a receive).
    pub fn complete_swap(
        &mut self,
        pending: PendingSwap,
        signatures: &[BlindSignature],
        now: Instant,
    ) -> Result<Vec<Proof>, EcashError> {
        let PendingSwap {
            mint,
            inputs,
            outputs,
            send_count,
        } = pending;
        // The inputs are spent at the mint now; dropping them wipes their secrets.
        drop(inputs);
        let mut proofs = self.unblind(&mint, outputs, signatures)?;
        let keep = proofs.split_off(send_count.min(proofs.len()));
        self.store(&mint, keep, now, ProofOrigin::Swapped)?;
        Ok(proofs)
    }

    /// The mint refused a swap: its inputs return to the wallet. Inputs the
    /// mint reports spent are then dropped by [`Wallet::apply_states`].
    pub fn abort_swap(&mut self, pending: PendingSwap) {
        let PendingSwap { mint, inputs, .. } = pending;
        self.mints.entry(mint).or_default().proofs.extend(inputs);
    }

    /// Swaps every spendable freshly issued proof (swap-before-spend), or
    /// returns `None` if there is nothing to refresh.
    pub fn refresh(
        &mut self,
        mint: &MintUrl,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> Result<Option<PendingSwap>, EcashError> {
        self.swap_origin(mint, ProofOrigin::Issued, now, rng)
    }

    // ----- receiving ----------------------------------------------------------

    /// Carol's offline check of proofs from another party: each keyset must be
    /// one this wallet knows for `mint`, and each DLEQ proof must verify against
    /// its key. Returns the total.
    pub fn verify_offline(&self, mint: &MintUrl, proofs: &[Proof]) -> Result<Amount, EcashError> {
        let account = self.account(mint)?;
        for p in proofs {
            let keyset = account.keyset(p.id)?;
            let key = keyset.key_for(p.amount)?;
            let d = p
                .dleq
                .as_ref()
                .ok_or(EcashError::DleqMissing { what: "proof" })?;
            bdhke::verify_proof(self.policy.fidelity, p.secret.as_bytes(), &p.c, d, key)?;
        }
        Amount::try_sum(proofs.iter().map(|p| p.amount))
    }

    /// Accepts proofs from a payer after [`Wallet::verify_offline`], holding
    /// them unswapped (batch settlement); swap them later with
    /// [`Wallet::settle_received`]. A proof this wallet already holds, or one
    /// repeated in the batch, is refused: paying twice with one proof is a
    /// double spend the payee can catch without asking the mint.
    pub fn accept(
        &mut self,
        mint: &MintUrl,
        proofs: Vec<Proof>,
        now: Instant,
    ) -> Result<Amount, EcashError> {
        let total = self.verify_offline(mint, &proofs)?;
        let mut held = std::collections::HashSet::new();
        for h in self.proofs(mint) {
            held.insert(h.y.serialize());
        }
        for p in &proofs {
            let y = p.y()?;
            if !held.insert(y.serialize()) {
                return Err(EcashError::DuplicateInput { y });
            }
        }
        self.store(mint, proofs, now, ProofOrigin::Received)?;
        Ok(total)
    }

    /// Swaps every received, unswapped proof into fresh ones (settlement), or
    /// returns `None` if there is nothing to settle.
    pub fn settle_received(
        &mut self,
        mint: &MintUrl,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> Result<Option<PendingSwap>, EcashError> {
        self.swap_origin(mint, ProofOrigin::Received, now, rng)
    }

    // ----- melting ------------------------------------------------------------

    /// Prepares a melt for `quote`: inputs covering amount, fee reserve and
    /// input fees, with change outputs for the excess.
    pub fn prepare_melt(
        &mut self,
        mint: &MintUrl,
        quote: &MeltQuoteResponse,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> Result<PendingMelt, EcashError> {
        let needed = quote.amount.checked_add(quote.fee_reserve)?;
        let account = self.account(mint)?;
        let spendable: Vec<(usize, Amount)> = account
            .proofs
            .iter()
            .enumerate()
            .filter(|(_, h)| h.spendable_at <= now)
            .map(|(i, h)| (i, h.proof.amount))
            .collect();
        let chosen = self.cover(mint, &spendable, needed, now)?;
        let inputs = self.take(mint, &chosen)?;
        let fee = self.fee_of(mint, &inputs)?;
        let total = Amount::try_sum(inputs.iter().map(|h| h.proof.amount))?;
        let change = total
            .checked_sub(fee)
            .and_then(|t| t.checked_sub(needed))
            .unwrap_or_default();
        let change = if change == Amount::ZERO {
            PreparedOutputs {
                messages: Vec::new(),
                secrets: Vec::new(),
            }
        } else {
            match self.prepare_outputs(mint, &[change], rng) {
                Ok(c) => c,
                Err(e) => {
                    self.restore(mint, inputs);
                    return Err(e);
                }
            }
        };
        Ok(PendingMelt {
            mint: mint.clone(),
            quote: quote.quote,
            inputs,
            change,
        })
    }

    /// Applies the mint's answer about a melt.
    pub fn complete_melt(
        &mut self,
        pending: PendingMelt,
        response: &MeltQuoteResponse,
        now: Instant,
    ) -> Result<MeltSettled, EcashError> {
        if response.quote != pending.quote {
            return Err(EcashError::ResponseMismatch {
                detail: format!(
                    "melt response for {} answers {}",
                    response.quote, pending.quote
                ),
            });
        }
        match response.state {
            MeltQuoteState::Pending => Ok(MeltSettled::StillPending(pending)),
            MeltQuoteState::Unpaid => {
                self.restore(&pending.mint, pending.inputs);
                Ok(MeltSettled::Failed)
            }
            MeltQuoteState::Paid => {
                let PendingMelt {
                    mint,
                    inputs,
                    change,
                    ..
                } = pending;
                drop(inputs);
                if !change.messages.is_empty() {
                    let proofs = self.unblind(&mint, change, &response.change)?;
                    self.store(&mint, proofs, now, ProofOrigin::Swapped)?;
                }
                Ok(MeltSettled::Paid)
            }
        }
    }

    /// The mint refused a melt outright: its inputs return to the wallet.
    pub fn abort_melt(&mut self, pending: PendingMelt) {
        self.restore(&pending.mint, pending.inputs);
    }

    // ----- reconciliation -----------------------------------------------------

    /// Drops proofs the mint reports spent or pending elsewhere (NUT-07), e.g.
    /// after a failed request revealed a double spend.
    pub fn apply_states(&mut self, mint: &MintUrl, states: &[ProofStateEntry]) {
        let gone: std::collections::HashSet<[u8; 33]> = states
            .iter()
            .filter(|s| s.state != ProofState::Unspent)
            .map(|s| s.y.serialize())
            .collect();
        if let Some(account) = self.mints.get_mut(mint) {
            account.proofs.retain(|h| !gone.contains(&h.y.serialize()));
        }
    }

    // ----- internals ----------------------------------------------------------

    fn account(&self, mint: &MintUrl) -> Result<&MintAccount, EcashError> {
        self.mints
            .get(mint)
            .ok_or_else(|| EcashError::UnknownMint(mint.0.clone()))
    }

    fn fee_of(&self, mint: &MintUrl, proofs: &[HeldProof]) -> Result<Amount, EcashError> {
        let account = self.account(mint)?;
        let ppks = proofs
            .iter()
            .map(|h| account.keyset(h.proof.id).map(|k| k.input_fee_ppk))
            .collect::<Result<Vec<u64>, EcashError>>()?;
        Ok(input_fee(ppks))
    }

    /// Indices of spendable proofs covering `target` plus their input fees.
    fn cover(
        &self,
        mint: &MintUrl,
        spendable: &[(usize, Amount)],
        target: Amount,
        now: Instant,
    ) -> Result<Vec<usize>, EcashError> {
        let account = self.account(mint)?;
        let ppk = |i: &usize| {
            account
                .keyset(account.proofs[*i].proof.id)
                .map(|k| k.input_fee_ppk)
                .unwrap_or(0)
        };
        select::covering(spendable, target, |chosen| {
            input_fee(chosen.iter().map(ppk))
        })
        .ok_or_else(|| EcashError::InsufficientFunds {
            needed: target,
            available: self.spendable_balance(mint, now),
        })
    }

    fn take(&mut self, mint: &MintUrl, indices: &[usize]) -> Result<Vec<HeldProof>, EcashError> {
        let account = self
            .mints
            .get_mut(mint)
            .ok_or_else(|| EcashError::UnknownMint(mint.0.clone()))?;
        let mut sorted = indices.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let mut taken: Vec<HeldProof> = sorted
            .into_iter()
            .map(|i| account.proofs.swap_remove(i))
            .collect();
        taken.reverse();
        Ok(taken)
    }

    fn restore(&mut self, mint: &MintUrl, proofs: Vec<HeldProof>) {
        self.mints
            .entry(mint.clone())
            .or_default()
            .proofs
            .extend(proofs);
    }

    fn store(
        &mut self,
        mint: &MintUrl,
        proofs: Vec<Proof>,
        spendable_at: Instant,
        origin: ProofOrigin,
    ) -> Result<(), EcashError> {
        let account = self
            .mints
            .get_mut(mint)
            .ok_or_else(|| EcashError::UnknownMint(mint.0.clone()))?;
        for proof in proofs {
            let y = proof.y()?;
            account.proofs.push(HeldProof {
                proof,
                y,
                spendable_at,
                origin,
            });
        }
        Ok(())
    }

    fn swap_origin(
        &mut self,
        mint: &MintUrl,
        origin: ProofOrigin,
        now: Instant,
        rng: &mut impl CryptoRng,
    ) -> Result<Option<PendingSwap>, EcashError> {
        let account = self.account(mint)?;
        let chosen: Vec<usize> = account
            .proofs
            .iter()
            .enumerate()
            .filter(|(_, h)| h.origin == origin && h.spendable_at <= now)
            .map(|(i, _)| i)
            .collect();
        if chosen.is_empty() {
            return Ok(None);
        }
        let inputs = self.take(mint, &chosen)?;
        self.swap_inputs(mint, inputs, None, rng).map(Some)
    }

    /// Builds a swap of `inputs` into `send` (if any) plus change, net of fees.
    /// On failure the inputs go back into the wallet.
    fn swap_inputs(
        &mut self,
        mint: &MintUrl,
        inputs: Vec<HeldProof>,
        send: Option<Amount>,
        rng: &mut impl CryptoRng,
    ) -> Result<PendingSwap, EcashError> {
        match self.plan_swap(mint, &inputs, send.unwrap_or_default(), rng) {
            Ok((outputs, send_count)) => Ok(PendingSwap {
                mint: mint.clone(),
                inputs,
                outputs,
                send_count,
            }),
            Err(e) => {
                self.restore(mint, inputs);
                Err(e)
            }
        }
    }

    /// Outputs for swapping `inputs` into `send` plus change, and how many of
    /// them are the `send` part.
    fn plan_swap(
        &self,
        mint: &MintUrl,
        inputs: &[HeldProof],
        send: Amount,
        rng: &mut impl CryptoRng,
    ) -> Result<(PreparedOutputs, usize), EcashError> {
        let total = Amount::try_sum(inputs.iter().map(|h| h.proof.amount))?;
        let fee = self.fee_of(mint, inputs)?;
        let net = total.checked_sub(fee).unwrap_or_default();
        let change = net.checked_sub(send).ok_or(EcashError::InsufficientFunds {
            needed: send.checked_add(fee)?,
            available: total,
        })?;
        if net == Amount::ZERO {
            return Err(EcashError::InsufficientFunds {
                needed: fee.checked_add(Amount::new(1))?,
                available: total,
            });
        }
        let keyset = self.account(mint)?.active(mint)?;
        let send_count = select::split_for_keyset(send, keyset)?.len();
        let outputs = self.prepare_outputs(mint, &[send, change], rng)?;
        Ok((outputs, send_count))
    }

    /// Blinded outputs in the active keyset for each amount, in order.
    fn prepare_outputs(
        &self,
        mint: &MintUrl,
        amounts: &[Amount],
        rng: &mut impl CryptoRng,
    ) -> Result<PreparedOutputs, EcashError> {
        let account = self.account(mint)?;
        let keyset = account.active(mint)?;
        let mut messages = Vec::new();
        let mut secrets = Vec::new();
        for amount in amounts {
            for part in select::split_for_keyset(*amount, keyset)? {
                let secret = Secret::generate(rng);
                let (b, r) = bdhke::blind(self.policy.fidelity, secret.as_bytes(), rng)?;
                messages.push(BlindedMessage {
                    amount: part,
                    id: keyset.id,
                    blinded_secret: b,
                });
                secrets.push((secret, r));
            }
        }
        Ok(PreparedOutputs { messages, secrets })
    }

    /// Checks each signature against its output (amount, keyset, DLEQ) and
    /// unblinds it into a proof that carries `(e, s, r)` for its payee.
    fn unblind(
        &self,
        mint: &MintUrl,
        outputs: PreparedOutputs,
        signatures: &[BlindSignature],
    ) -> Result<Vec<Proof>, EcashError> {
        if signatures.len() != outputs.messages.len() {
            return Err(EcashError::ResponseMismatch {
                detail: format!(
                    "{} signatures for {} outputs",
                    signatures.len(),
                    outputs.messages.len()
                ),
            });
        }
        let account = self.account(mint)?;
        let PreparedOutputs { messages, secrets } = outputs;
        let mut proofs = Vec::with_capacity(messages.len());
        for ((msg, (secret, r)), sig) in messages.iter().zip(secrets).zip(signatures) {
            let keyset = account.keyset(sig.id)?;
            if sig.amount != msg.amount || keyset.id != account.keyset(msg.id)?.id {
                return Err(EcashError::ResponseMismatch {
                    detail: format!(
                        "signature ({}, {}) answers output ({}, {})",
                        sig.amount, sig.id, msg.amount, msg.id
                    ),
                });
            }
            let key = keyset.key_for(sig.amount)?;
            let d = sig.dleq.ok_or(EcashError::DleqMissing {
                what: "blind signature",
            })?;
            let c = bdhke::unblind(
                self.policy.fidelity,
                &d,
                key,
                &msg.blinded_secret,
                &sig.c,
                &r,
                secret.as_bytes(),
            )?;
            proofs.push(Proof {
                amount: sig.amount,
                id: sig.id,
                secret,
                c,
                dleq: Some(ProofDleq {
                    e: d.e,
                    s: d.s,
                    r: ScalarHex::from(r),
                }),
            });
        }
        Ok(proofs)
    }
}

/// Whether a NUT-09 restore returned every one of `outputs` (the operation
/// was executed) or none (it was not). Some but not all is an error: mints
/// sign atomically, so that is a misbehaving mint.
fn restored_all(
    restored: &RestoreResponse,
    outputs: &[BlindedMessage],
) -> Result<bool, EcashError> {
    if restored.outputs.is_empty() {
        Ok(false)
    } else if restored.outputs == outputs {
        Ok(true)
    } else {
        Err(EcashError::ResponseMismatch {
            detail: format!(
                "restore returned {} of {} outputs",
                restored.outputs.len(),
                outputs.len()
            ),
        })
    }
}
