//! LLM-Tor failures: every bad token, request or key is one of these,
//! never a panic.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an LLM-Tor operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum LlmTorError {
    /// Key generation or parsing failed.
    #[error("issuer key: {0}")]
    Key(String),
    /// A blinded message has the wrong length or is not below the modulus.
    #[error("malformed blinded message ({got} bytes, modulus {modulus} bytes)")]
    MalformedBlindedMessage {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        modulus: usize,
    },
    /// A blind signature could not be finalized (wrong key or forged).
    #[error("blind signature does not verify")]
    BadBlindSignature,
    /// A token's signature does not verify under the issuer key.
    #[error("token signature does not verify")]
    BadToken,
    /// The token was redeemed before.
    #[error("token already spent")]
    Replayed,
    /// The account has too few credits for the tokens asked.
    #[error("account {account} has {balance} credits, {asked} asked")]
    InsufficientCredits {
        /// The account.
        account: String,
        /// Its balance.
        balance: u64,
        /// Tokens asked.
        asked: u64,
    },
    /// The account is unknown.
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// More tokens asked in one request than the operator signs at once.
    #[error("{asked} tokens asked, at most {max} per request")]
    TooManyTokens {
        /// Tokens asked.
        asked: usize,
        /// The cap.
        max: usize,
    },
    /// A purchase of zero credits.
    #[error("a purchase must buy at least one credit")]
    EmptyPurchase,
    /// An issuance answer with another number of signatures than asked.
    #[error("{got} blind signatures for {expected} pending tokens")]
    SignatureCount {
        /// Signatures received.
        got: usize,
        /// Tokens pending.
        expected: usize,
    },
    /// The client holds no unspent token.
    #[error("no token left")]
    NoToken,
    /// The upstream LLM failed the prompt.
    #[error("upstream: {0}")]
    Upstream(crate::backend::BackendError),
    /// The proxy's onion key certificate does not check out.
    #[error("proxy descriptor: {0}")]
    Descriptor(String),
    /// A message does not decode.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl LlmTorError {
    /// A short name of the failure, safe to log and to count.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmTorError::Key(_) => "key",
            LlmTorError::MalformedBlindedMessage { .. } => "malformed_blinded_message",
            LlmTorError::BadBlindSignature => "bad_blind_signature",
            LlmTorError::BadToken => "bad_token",
            LlmTorError::Replayed => "replayed",
            LlmTorError::InsufficientCredits { .. } => "insufficient_credits",
            LlmTorError::UnknownAccount(_) => "unknown_account",
            LlmTorError::TooManyTokens { .. } => "too_many_tokens",
            LlmTorError::EmptyPurchase => "empty_purchase",
            LlmTorError::SignatureCount { .. } => "signature_count",
            LlmTorError::NoToken => "no_token",
            LlmTorError::Upstream(_) => "upstream",
            LlmTorError::Descriptor(_) => "descriptor",
            LlmTorError::Malformed(_) => "malformed",
        }
    }
}
