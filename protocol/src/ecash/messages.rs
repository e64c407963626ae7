//! Mint request and response bodies with NUT field names (NUT-01 keys, NUT-03
//! swap, NUT-04 mint, NUT-05 melt, NUT-07 check-state, NUT-09 restore). The mint node carries
//! these inside onion or direct messages; the mint core takes them as values.

use secp256k1::PublicKey;
use serde::{Deserialize, Serialize};

use super::{
    Amount, BlindSignature, BlindedMessage, CurrencyUnit, Invoice, KeySet, Proof, QuoteId,
};
use crate::time::Instant;

/// NUT-01/02: the keysets a mint serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysResponse {
    /// Keysets with their public keys.
    pub keysets: Vec<KeySet>,
}

/// NUT-04: ask for an invoice to fund `amount`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintQuoteRequest {
    /// Amount to mint.
    pub amount: Amount,
    /// Currency unit (NUT-00; this testbed uses `sat`).
    pub unit: CurrencyUnit,
}

/// NUT-04 quote state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MintQuoteState {
    /// Invoice not paid yet.
    Unpaid,
    /// Invoice paid, tokens not issued yet.
    Paid,
    /// Tokens issued.
    Issued,
}

/// NUT-04: the quote and its invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintQuoteResponse {
    /// Quote id.
    pub quote: QuoteId,
    /// Invoice to pay.
    pub request: Invoice,
    /// The value to issue.
    pub amount: Amount,
    /// Its state, as NUT-04, NUT-05 or NUT-07 name it.
    pub state: MintQuoteState,
    /// When it stops being valid.
    pub expiry: Instant,
}

/// NUT-04: blinded outputs to sign for a paid quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintRequest {
    /// Paid quote.
    pub quote: QuoteId,
    /// Outputs summing to the quote's amount.
    pub outputs: Vec<BlindedMessage>,
}

/// NUT-03/04: blind signatures, in output order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignaturesResponse {
    /// One per output.
    pub signatures: Vec<BlindSignature>,
}

/// NUT-09: ask again for the signatures of outputs the mint already signed
/// (a wallet whose swap or issuance answer was lost).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// The blinded messages of the lost answer.
    pub outputs: Vec<BlindedMessage>,
}

/// NUT-09: the outputs the mint had signed, each with its signature again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreResponse {
    /// Outputs found, in request order.
    pub outputs: Vec<BlindedMessage>,
    /// Their signatures, aligned with `outputs`.
    pub signatures: Vec<BlindSignature>,
}

/// NUT-03: exchange proofs for new blind signatures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapRequest {
    /// Proofs to spend.
    pub inputs: Vec<Proof>,
    /// Outputs; `sum(inputs) - fees == sum(outputs)`.
    pub outputs: Vec<BlindedMessage>,
}

/// NUT-05: ask the mint to pay an invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeltQuoteRequest {
    /// Invoice to pay.
    pub request: Invoice,
    /// Currency unit (NUT-00; this testbed uses `sat`).
    pub unit: CurrencyUnit,
}

/// NUT-05 quote state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeltQuoteState {
    /// Not paid.
    Unpaid,
    /// Inputs reserved, payment in flight.
    Pending,
    /// The invoice is paid; tokens may be minted.
    Paid,
}

/// NUT-05: the melt quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeltQuoteResponse {
    /// Quote id.
    pub quote: QuoteId,
    /// Amount the invoice pays.
    pub amount: Amount,
    /// Lightning routing fee reserve the inputs must also cover.
    pub fee_reserve: Amount,
    /// Its state, as NUT-04, NUT-05 or NUT-07 name it.
    pub state: MeltQuoteState,
    /// When it stops being valid.
    pub expiry: Instant,
    /// Change signatures, once paid (NUT-08).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub change: Vec<BlindSignature>,
}

/// NUT-05: melt proofs into a Lightning payment, with change outputs (NUT-08).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeltRequest {
    /// Melt quote.
    pub quote: QuoteId,
    /// Proofs to spend.
    pub inputs: Vec<Proof>,
    /// Change outputs: `sum(inputs) - fees == amount + fee_reserve + sum(outputs)`.
    #[serde(default)]
    pub outputs: Vec<BlindedMessage>,
}

/// NUT-07 proof state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProofState {
    /// Never spent.
    Unspent,
    /// Reserved by an in-flight melt.
    Pending,
    /// The proof was spent (NUT-07).
    Spent,
}

/// NUT-07: states of the proofs with these `Y`s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStateRequest {
    /// `Y = hash_to_curve(secret)` of each proof.
    #[serde(rename = "Ys")]
    pub ys: Vec<PublicKey>,
}

/// NUT-07: one proof's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofStateEntry {
    /// `Y = hash_to_curve(secret)` of the proof asked about (NUT-07).
    #[serde(rename = "Y")]
    pub y: PublicKey,
    /// Its state, as NUT-04, NUT-05 or NUT-07 name it.
    pub state: ProofState,
}

/// NUT-07 response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStateResponse {
    /// In request order.
    pub states: Vec<ProofStateEntry>,
}
