//! DHT failures, one precise variant each. Bad input from a peer comes back
//! as one of these and changes no state.

use thiserror::Error;

use crate::identity::{Epoch, IdentityError};
use crate::time::Instant;

/// A DHT failure (whitepaper "Peer Discovery (DHT)", "DHT Sybil and Eclipse Attacks").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DhtError {
    /// A message or field does not parse.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A message or list is larger than allowed.
    #[error("{what} too large: {size} > {limit}")]
    Oversized {
        /// What it was about, in words.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The sender's identity (proof of work, puzzle, key) is not acceptable.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// An advert's signature does not verify.
    #[error("forged advert")]
    ForgedAdvert,
    /// An advert has expired.
    #[error("advert expired at {expiry}, now {now}")]
    ExpiredAdvert {
        /// Its expiry.
        expiry: Instant,
        /// The local time when it was refused.
        now: Instant,
    },
    /// An advert is bound to an epoch that is not current (or in grace), or
    /// claims to outlive its epoch.
    #[error("advert for epoch {advert:?} is not valid in epoch {now:?}")]
    WrongEpoch {
        /// The advert's epoch.
        advert: Epoch,
        /// The current epoch.
        now: Epoch,
    },
    /// A store request's key is not the advert's key.
    #[error("advert stored under the wrong key")]
    WrongKey,
    /// A response that answers no request of ours (unknown transaction, or
    /// from a peer we did not ask).
    #[error("unexpected response: {reason}")]
    UnexpectedResponse {
        /// Why, in words for logs and errors.
        reason: &'static str,
    },
    /// A response lacks, or has a bad, proof of key possession.
    #[error("missing or invalid key-possession proof")]
    InvalidProof,
    /// A responder's id is not the id we asked.
    #[error("responder id does not match the contact we asked")]
    NodeIdMismatch,
    /// The capability fetch failed.
    #[error("capability fetch failed: {reason}")]
    CapabilityFetch {
        /// Why, in words for logs and errors.
        reason: &'static str,
    },
    /// A lookup was started with no contacts to ask.
    #[error("no contacts to start a lookup from")]
    NoContacts,
}

impl From<crate::codec::Truncated> for DhtError {
    fn from(_: crate::codec::Truncated) -> Self {
        DhtError::Malformed {
            what: "message",
            reason: "truncated or out of range",
        }
    }
}

impl DhtError {
    /// A short name of the kind of failure, safe to log and to count.
    pub fn kind(&self) -> &'static str {
        match self {
            DhtError::Malformed { .. } => "malformed",
            DhtError::Oversized { .. } => "oversized",
            DhtError::Identity(_) => "identity",
            DhtError::ForgedAdvert => "forged_advert",
            DhtError::ExpiredAdvert { .. } => "expired_advert",
            DhtError::WrongEpoch { .. } => "wrong_epoch",
            DhtError::WrongKey => "wrong_key",
            DhtError::UnexpectedResponse { .. } => "unexpected_response",
            DhtError::InvalidProof => "invalid_proof",
            DhtError::NodeIdMismatch => "node_id_mismatch",
            DhtError::CapabilityFetch { .. } => "capability_fetch",
            DhtError::NoContacts => "no_contacts",
        }
    }
}
