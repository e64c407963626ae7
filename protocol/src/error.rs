//! The crate-level error.
//!
//! Each pillar has its own enum with one precise variant per failure
//! ([`EcashError`](crate::ecash::EcashError), ...); [`Error`] wraps them so a
//! node can return any of them. No peer input produces a panic: it produces one
//! of these.

use thiserror::Error;

use crate::dht::DhtError;
use crate::ecash::EcashError;
use crate::identity::IdentityError;
use crate::market::MarketError;
use crate::onion::OnionError;

/// Any protocol failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A payment-layer failure.
    #[error(transparent)]
    Ecash(#[from] EcashError),
    /// An identity or onion-key failure.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The caller used an API in a way the node's configuration does not
    /// allow (e.g. a client command on a node without a client role).
    #[error("configuration: {0}")]
    Config(&'static str),
    /// A discovery failure.
    #[error(transparent)]
    Dht(#[from] DhtError),
    /// A market (quote, billing, receipt) failure.
    #[error(transparent)]
    Market(#[from] MarketError),
    /// An onion-routing failure.
    #[error(transparent)]
    Onion(#[from] OnionError),
    /// A datagram with no bytes at all.
    #[error("empty datagram")]
    EmptyDatagram,
    /// A datagram whose first byte names no protocol (DHT or onion).
    #[error("unknown protocol tag {0}")]
    UnknownProtocolTag(u8),
}

impl Error {
    /// The layer that failed, and a short name of the kind of failure, safe
    /// to log and to count (the simulator counts peer errors by these).
    pub fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Error::Ecash(_) => ("ecash", "ecash"),
            Error::Identity(_) => ("identity", "identity"),
            Error::Config(_) => ("config", "config"),
            Error::Dht(e) => ("dht", e.kind()),
            Error::Market(_) => ("market", "market"),
            Error::Onion(e) => ("onion", e.kind()),
            Error::EmptyDatagram => ("datagram", "empty"),
            Error::UnknownProtocolTag(_) => ("datagram", "unknown_protocol_tag"),
        }
    }
}

/// `Result` with the crate-level [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
