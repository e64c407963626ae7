//! Identity failures, one precise variant each.

use thiserror::Error;

use super::Epoch;

/// An identity or onion-key failure (whitepaper "Peer Discovery", "DHT Sybil
/// and Eclipse Attacks").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Bytes that should be an Ed25519 public key are not.
    #[error("invalid identity public key")]
    InvalidIdentityKey,
    /// A signature does not verify under the claimed identity key.
    #[error("invalid signature on {what}")]
    InvalidSignature {
        /// What was signed.
        what: &'static str,
    },
    /// The identity proof of work is below the required difficulty.
    #[error("identity proof of work has {got} leading zero bits, {required} required")]
    InsufficientWork {
        /// Leading zero bits achieved.
        got: u32,
        /// Leading zero bits required.
        required: u32,
    },
    /// The node id does not solve the static crypto puzzle.
    #[error("node id has {got} puzzle bits, {required} required")]
    PuzzleUnsolved {
        /// Leading zero bits of SHA-256(node id).
        got: u32,
        /// Leading zero bits the policy asks for.
        required: u32,
    },
    /// A NodeId does not match SHA-256 of the presented identity key.
    #[error("node id does not match its identity key")]
    NodeIdMismatch,
    /// An onion key certificate is for an epoch the verifier does not accept.
    #[error("onion key for epoch {cert:?} is not valid at epoch {now:?}")]
    WrongEpoch {
        /// The certificate's epoch.
        cert: Epoch,
        /// The verifier's current epoch.
        now: Epoch,
    },
}
