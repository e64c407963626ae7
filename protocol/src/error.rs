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
}

/// `Result` with the crate-level [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
