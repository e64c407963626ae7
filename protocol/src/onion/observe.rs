//! What each hop actually sees (whitepaper "Data Visibility by Role").
//!
//! Every hop emits one [`HopObservation`] per cell it processes: the previous
//! and next addresses, its own session handle, how many cells the session has
//! carried, the time, and whether the cell was cover. The simulator builds the
//! visibility matrix and the adversaries' views from these, and from nothing
//! else. The plaintext a hop delivers to its application (at the exit: the
//! request) is reported separately, as the delivered message itself.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::time::Instant;

/// The kind of cell a hop processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObservedCell {
    /// A session handshake.
    Create,
    /// A layered cell on a circuit, from its initiator's side.
    Relay,
    /// A reply-block cell.
    Surb,
    /// A circuit teardown.
    Destroy,
    /// A mailbox poll.
    MailboxPoll,
    /// Link padding.
    Padding,
}

/// Where the hop sent the cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObservedNext {
    /// To this address.
    Node(SocketAddr),
    /// Into a mailbox it holds.
    Mailbox,
    /// To its own application (it was the endpoint).
    Local,
    /// Nowhere: a cover or padding cell, or a handshake answered in place.
    Dropped,
}

/// One hop's record of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopObservation {
    /// When it was processed.
    pub at: Instant,
    /// The hop's session handle (0 when no session applies).
    pub session: u32,
    /// The cell's kind.
    pub cell: ObservedCell,
    /// The address it came from.
    pub prev: SocketAddr,
    /// Where it went.
    pub next: ObservedNext,
    /// True if the hop recognised it as cover and dropped it.
    pub cover: bool,
    /// Cells this session has carried, including this one.
    pub session_cells: u64,
}
