//! Onion-layer failures, one precise variant each. Malformed, tampered,
//! replayed or expired cells from peers end here, never in a panic.

use thiserror::Error;

use crate::identity::IdentityError;
use crate::time::Instant;

/// An onion routing failure (whitepaper "Route Construction", "Cryptographic
/// Packet Sketch", "Return Path").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OnionError {
    /// A cell is not exactly [`CELL_LEN`](super::cell::CELL_LEN) bytes.
    #[error("cell has {got} bytes, every cell must have {expected}")]
    CellLength {
        /// Bytes received.
        got: usize,
        /// The fixed cell size.
        expected: usize,
    },
    /// The link command byte is unknown.
    #[error("unknown cell command {0}")]
    UnknownCommand(u8),
    /// A structure inside a cell or message is malformed.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A layer's AEAD tag does not verify: the cell was tampered with,
    /// truncated, or sealed under another key.
    #[error("layer authentication failed ({layer})")]
    BadMac {
        /// Which layer failed.
        layer: &'static str,
    },
    /// The cell's expiry has passed.
    #[error("cell expired at {expiry}, now {now}")]
    Expired {
        /// The expiry in the layer header.
        expiry: Instant,
        /// When it arrived.
        now: Instant,
    },
    /// The sequence number was already seen or is behind the replay window.
    #[error("replayed cell (sequence {seq})")]
    ReplayedCell {
        /// The sequence number.
        seq: u64,
    },
    /// A single-use reply block was used a second time.
    #[error("reply block used twice")]
    ReplayedSurb,
    /// No session is known for this link circuit or handle.
    #[error("no session for {what} {id}")]
    UnknownSession {
        /// "circuit" or "handle".
        what: &'static str,
        /// The id.
        id: u32,
    },
    /// The onionskin names an onion key this relay does not hold (unknown, or
    /// previous epoch past its grace period).
    #[error("unknown or expired onion key")]
    UnknownOnionKey,
    /// The handshake failed.
    #[error("handshake failed: {reason}")]
    HandshakeFailed {
        /// Why, in words for logs and errors.
        reason: &'static str,
    },
    /// A message's fragments claim more than the reassembly limit.
    #[error("message of {size} bytes exceeds the {limit}-byte limit")]
    OversizedMessage {
        /// Claimed size.
        size: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Fragments of one message disagree (count, index or length).
    #[error("inconsistent fragment: {reason}")]
    InconsistentFragment {
        /// Why, in words for logs and errors.
        reason: &'static str,
    },
    /// Whole messages are waiting for an earlier one that never arrived
    /// (a lost message, or a peer skipping ids): the bounded buffer of a
    /// session's in-order delivery is full.
    #[error("message {missing} never arrived and {waiting} later ones wait for it (limit {limit})")]
    OutOfOrderBacklog {
        /// The message id delivery is waiting for.
        missing: u32,
        /// Whole messages waiting behind it.
        waiting: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many messages are being reassembled at once.
    #[error("too many partial messages (limit {limit})")]
    TooManyPartialMessages {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The circuit is not built (or no longer exists).
    #[error("circuit {0} is not ready")]
    CircuitNotReady(u32),
    /// A cell arrived that the session's state does not expect.
    #[error("unexpected {what}")]
    Unexpected {
        /// What arrived.
        what: &'static str,
    },
    /// A path is too short, too long, or has repeated nodes.
    #[error("invalid path: {reason}")]
    InvalidPath {
        /// Why, in words for logs and errors.
        reason: &'static str,
    },
    /// No reply blocks are left to send a reply.
    #[error("no reply blocks left")]
    NoSurbs,
    /// The mailbox is unknown or full.
    #[error("mailbox {reason}")]
    Mailbox {
        /// "unknown" or "full".
        reason: &'static str,
    },
    /// A payload does not fit in one cell.
    #[error("payload of {size} bytes does not fit a cell ({capacity})")]
    PayloadTooLarge {
        /// Bytes the message would need.
        size: usize,
        /// Bytes the container holds.
        capacity: usize,
    },
    /// Route selection cannot satisfy the diversity rules.
    #[error("no route satisfies the diversity rules: {reason}")]
    NoRoute {
        /// Which rule could not be met.
        reason: &'static str,
    },
    /// An identity or onion-key check failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl OnionError {
    /// A short name of the kind of failure, safe to log and to count.
    pub fn kind(&self) -> &'static str {
        match self {
            OnionError::CellLength { .. } => "cell_length",
            OnionError::UnknownCommand(_) => "unknown_command",
            OnionError::Malformed { .. } => "malformed",
            OnionError::BadMac { .. } => "bad_mac",
            OnionError::Expired { .. } => "expired",
            OnionError::ReplayedCell { .. } => "replayed_cell",
            OnionError::ReplayedSurb => "replayed_surb",
            OnionError::UnknownSession { .. } => "unknown_session",
            OnionError::UnknownOnionKey => "unknown_onion_key",
            OnionError::HandshakeFailed { .. } => "handshake_failed",
            OnionError::OversizedMessage { .. } => "oversized_message",
            OnionError::InconsistentFragment { .. } => "inconsistent_fragment",
            OnionError::OutOfOrderBacklog { .. } => "out_of_order_backlog",
            OnionError::TooManyPartialMessages { .. } => "too_many_partial_messages",
            OnionError::CircuitNotReady(_) => "circuit_not_ready",
            OnionError::Unexpected { .. } => "unexpected",
            OnionError::InvalidPath { .. } => "invalid_path",
            OnionError::NoSurbs => "no_surbs",
            OnionError::Mailbox { .. } => "mailbox",
            OnionError::PayloadTooLarge { .. } => "payload_too_large",
            OnionError::NoRoute { .. } => "no_route",
            OnionError::Identity(_) => "identity",
        }
    }
}
