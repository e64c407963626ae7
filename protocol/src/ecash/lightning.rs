//! Lightning as the mint sees it (whitepaper "Payment Layer": Lightning
//! provides mint funding and redemption rails).
//!
//! The protocol does not run Lightning. A funding payment reaches the mint as a
//! [`LightningPayment`] event that carries what the mint learns about the
//! payer; the driver (the simulator) decides what that is, from the payer's
//! node id down to nothing (whitepaper "Mint-Exit Collusion": Lightning privacy
//! techniques reduce mint-side identity exposure).

use serde::{Deserialize, Serialize};

use super::{Amount, QuoteId};
use crate::time::Instant;

/// An opaque label for a Lightning payer, assigned by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PayerId(pub u64);

/// What the mint learns about who funded a quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LightningPayer {
    /// The payer's node is known (no Lightning privacy).
    Node(PayerId),
    /// The payer is one of a candidate set (multi-path or trampoline routing
    /// reduced the mint's view to this set).
    Candidates(Vec<PayerId>),
    /// Nothing is learned about the payer.
    Hidden,
}

/// A simulated BOLT11 invoice: enough to pay and to match a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Payment hash (random, identifies the invoice).
    pub payment_hash: [u8; 32],
    /// Amount to pay.
    pub amount: Amount,
    /// When the invoice stops being payable.
    pub expiry: Instant,
}

/// A funding payment arriving at the mint for a mint quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightningPayment {
    /// The quote whose invoice was paid.
    pub quote: QuoteId,
    /// Amount received.
    pub amount: Amount,
    /// What the mint learns about the payer.
    pub payer: LightningPayer,
}

/// Result of the outgoing Lightning payment behind a melt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayoutOutcome {
    /// The invoice was paid; the melt settles.
    Paid,
    /// The payment failed; reserved inputs are released.
    Failed,
}
