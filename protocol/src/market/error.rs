//! Market failures, one precise variant each.

use thiserror::Error;

use crate::time::Instant;

/// A quote, billing or receipt failure (whitepaper "Inference Marketplace and
/// Ghost Nodes", "Malicious Service Nodes").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MarketError {
    /// A quote's signature does not verify, or its key is not the service's.
    #[error("quote signature does not verify")]
    ForgedQuote,
    /// The quote is not valid at this time.
    #[error("quote valid {from}..{until}, now {now}")]
    QuoteNotValid {
        /// Start of validity.
        from: Instant,
        /// End of validity.
        until: Instant,
        /// The local time when it was refused.
        now: Instant,
    },
    /// The quote charges more than the service advertised.
    #[error("quote price exceeds the advertised price")]
    QuoteAboveAdvert,
    /// The service claims more than the quote allows for the tokens counted.
    #[error("overbilling: claimed {claimed} msat, tokens counted cost {expected} msat")]
    Overbilling {
        /// What the service claims.
        claimed: u64,
        /// What the client's count gives.
        expected: u64,
    },
    /// Paying more would exceed the quote's cap for this request.
    #[error("payment cap of {cap} msat reached")]
    CapReached {
        /// The cap.
        cap: u64,
    },
    /// A receipt does not verify or does not match what was received.
    #[error("receipt rejected: {reason}")]
    BadReceipt {
        /// Why, in words for logs and errors.
        reason: &'static str,
    },
    /// A challenge probe was not answered correctly.
    #[error("challenge probe failed")]
    ProbeFailed,
    /// A quote is for another model than the one asked for.
    #[error("quote for model {quoted:?}, asked for {asked:?}")]
    QuoteForAnotherModel {
        /// What the quote names.
        quoted: String,
        /// What the client asked for.
        asked: String,
    },
    /// A quote does not accept the client's mint.
    #[error("quote does not accept our mint")]
    MintNotAccepted,
    /// A message does not decode.
    #[error("cannot decode {what}")]
    Decode {
        /// What it was about, in words.
        what: &'static str,
    },
}
