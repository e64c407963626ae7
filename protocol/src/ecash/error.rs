//! Every way an ecash operation can fail, one precise variant each.
//!
//! Peer input (a proof, a blinded message, a signature, a quote) never panics:
//! it comes back as one of these.

use secp256k1::PublicKey;
use thiserror::Error;

use super::{Amount, KeysetId, QuoteId};

/// An ecash failure (whitepaper "Payment Layer: Cashu Ecash over Lightning").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EcashError {
    // ----- cryptography -------------------------------------------------
    /// Bytes that should encode a secp256k1 point do not.
    #[error("invalid curve point for {what}")]
    InvalidPoint {
        /// Which field held the bad point.
        what: &'static str,
    },
    /// Bytes that should encode a scalar in `1..n` do not.
    #[error("invalid scalar for {what}")]
    InvalidScalar {
        /// Which field held the bad scalar.
        what: &'static str,
    },
    /// An operation would produce the point at infinity (e.g. `C_ == r*K`).
    #[error("point arithmetic reached the point at infinity in {what}")]
    PointAtInfinity {
        /// Which step failed.
        what: &'static str,
    },
    /// `hash_to_curve` found no valid point in 2^16 attempts.
    #[error("hash_to_curve found no point in 2^16 attempts")]
    HashToCurveExhausted,
    /// A proof's signature `C` is not `k * hash_to_curve(secret)`.
    #[error("proof signature does not verify (Y = {y})")]
    InvalidProofSignature {
        /// `Y = hash_to_curve(secret)` of the bad proof.
        y: PublicKey,
    },
    /// A DLEQ proof was required but absent.
    #[error("DLEQ proof missing for {what}")]
    DleqMissing {
        /// Which object lacked the proof.
        what: &'static str,
    },
    /// A DLEQ proof did not verify against the mint's public key.
    #[error("DLEQ proof does not verify for {what}")]
    DleqInvalid {
        /// Which object carried the bad proof.
        what: &'static str,
    },

    // ----- keysets and amounts -------------------------------------------
    /// No keyset with this id is known.
    #[error("unknown keyset {0}")]
    UnknownKeyset(KeysetId),
    /// New outputs were requested from a retired keyset.
    #[error("keyset {0} is retired and cannot sign new outputs")]
    RetiredKeyset(KeysetId),
    /// The keyset has no key for this amount (not a power of two, or too big).
    #[error("keyset {keyset} has no key for amount {amount}")]
    UnsupportedAmount {
        /// The keyset.
        keyset: KeysetId,
        /// The requested amount.
        amount: Amount,
    },
    /// A keyset's id does not match the id derived from its keys.
    #[error("keyset id {claimed} does not match its keys (derived {derived})")]
    KeysetIdMismatch {
        /// The id the mint claimed.
        claimed: KeysetId,
        /// The id derived from the keys.
        derived: KeysetId,
    },
    /// The mint presented this wallet a keyset view that differs from an
    /// independent view of the same mint: the per-user key tagging attack.
    #[error("mint {mint} is inconsistent about its keysets: {detail}")]
    KeysetInconsistent {
        /// The mint.
        mint: String,
        /// What differed.
        detail: String,
    },
    /// Summing amounts overflowed `u64`.
    #[error("amount overflow")]
    AmountOverflow,
    /// `sum(inputs) - fees != sum(outputs)` (NUT-03 swap rule, NUT-05 melt rule).
    #[error("fee rule violated: inputs {inputs} - fees {fees} != outputs {outputs}")]
    FeeMismatch {
        /// Sum of inputs.
        inputs: Amount,
        /// Input fees charged.
        fees: Amount,
        /// Sum of outputs (including any melt amount and reserve).
        outputs: Amount,
    },
    /// Outputs for a mint quote do not add up to the amount paid.
    #[error("outputs total {outputs} but the quote is for {quoted}")]
    QuoteAmountMismatch {
        /// What the quote was paid for.
        quoted: Amount,
        /// What the outputs add up to.
        outputs: Amount,
    },
    /// The wallet cannot cover the amount with spendable proofs.
    #[error("insufficient funds: need {needed}, spendable {available}")]
    InsufficientFunds {
        /// Amount needed (including fees).
        needed: Amount,
        /// Amount spendable now.
        available: Amount,
    },

    // ----- spending -------------------------------------------------------
    /// The proof was already spent.
    #[error("proof already spent (Y = {y})")]
    ProofAlreadySpent {
        /// `Y = hash_to_curve(secret)`.
        y: PublicKey,
    },
    /// The proof is reserved by an in-flight operation (e.g. a melt awaiting
    /// its Lightning payment); a concurrent spend is refused.
    #[error("proof is pending in another operation (Y = {y})")]
    ProofPending {
        /// `Y = hash_to_curve(secret)`.
        y: PublicKey,
    },
    /// The same proof appears twice in one request.
    #[error("duplicate input in request (Y = {y})")]
    DuplicateInput {
        /// `Y = hash_to_curve(secret)`.
        y: PublicKey,
    },
    /// The same blinded message appears twice, or was already signed.
    #[error("blinded message already signed or duplicated (B_ = {b})")]
    DuplicateOutput {
        /// The blinded message.
        b: PublicKey,
    },
    /// A request carried no inputs or no outputs where some are required.
    #[error("request has no {what}")]
    EmptyRequest {
        /// "inputs" or "outputs".
        what: &'static str,
    },
    /// A request carried more items than the mint accepts.
    #[error("too many {what}: {count} > {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many were sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A proof's secret is longer than the mint accepts.
    #[error("secret too long: {len} > {limit} bytes")]
    SecretTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },

    /// The mint does not issue this unit.
    #[error("unsupported unit {0}")]
    UnsupportedUnit(String),

    // ----- quotes -----------------------------------------------------------
    /// No quote with this id exists.
    #[error("unknown quote {0}")]
    UnknownQuote(QuoteId),
    /// The mint quote's invoice has not been paid.
    #[error("quote {0} is not paid")]
    QuoteNotPaid(QuoteId),
    /// The mint quote's tokens were already issued.
    #[error("quote {0} was already issued")]
    QuoteAlreadyIssued(QuoteId),
    /// The quote expired.
    #[error("quote {0} expired")]
    QuoteExpired(QuoteId),
    /// A melt quote is already being paid, or was paid.
    #[error("melt quote {0} is pending or paid")]
    QuoteInUse(QuoteId),
    /// A Lightning payment does not match its quote.
    #[error("Lightning payment of {paid} does not match quote {quote} for {quoted}")]
    PaymentMismatch {
        /// The quote.
        quote: QuoteId,
        /// The quoted amount.
        quoted: Amount,
        /// The amount paid.
        paid: Amount,
    },

    // ----- wallet -----------------------------------------------------------
    /// The wallet has no account with this mint.
    #[error("unknown mint {0}")]
    UnknownMint(String),
    /// The mint has no active keyset for the wallet's unit.
    #[error("mint {0} has no active keyset")]
    NoActiveKeyset(String),
    /// A response does not match the request it answers (count, amount or keyset).
    #[error("response does not match request: {detail}")]
    ResponseMismatch {
        /// What differed.
        detail: String,
    },

    // ----- wire -------------------------------------------------------------
    /// Bytes from a peer could not be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// The type being decoded.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
}
