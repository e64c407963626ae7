//! What a mint operator sees (whitepaper "Mint-Exit Collusion", "Trust
//! Boundaries": the mint is curious about withdrawal and redeem timing and
//! amount).
//!
//! The mint emits one [`MintObservation`] per operation, recording exactly what
//! its logs would hold. Colluding adversaries pool these with a Ghost's
//! observations; they are the only mint-side input such an attack may use.

use serde::{Deserialize, Serialize};

use super::{Amount, KeysetId, LightningPayer, QuoteId};
use crate::net::PeerAddr;
use crate::time::Instant;
use secp256k1::PublicKey;

/// A proof the mint accepted as an input, as its ledger records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemedProof {
    /// `Y = hash_to_curve(secret)`, the spent-set key.
    pub y: PublicKey,
    /// Denomination, a power of two.
    pub amount: Amount,
    /// Keyset that had signed it.
    pub keyset: KeysetId,
}

/// One entry of the mint operator's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MintObservation {
    /// A mint quote's invoice was paid.
    Funding {
        /// The instant it happened.
        at: Instant,
        /// Which quote.
        quote: QuoteId,
        /// Amount received.
        amount: Amount,
        /// What Lightning revealed about the payer.
        payer: LightningPayer,
    },
    /// Blind signatures were issued for a paid quote.
    Issuance {
        /// The instant it happened.
        at: Instant,
        /// Peer that requested issuance.
        presenter: PeerAddr,
        /// Which quote.
        quote: QuoteId,
        /// Keyset used.
        keyset: KeysetId,
        /// Denominations signed (blinded: the mint never sees the secrets).
        amounts: Vec<Amount>,
    },
    /// Proofs were swapped for new blind signatures (also how a payee redeems).
    Swap {
        /// The instant it happened.
        at: Instant,
        /// Peer that presented the proofs.
        presenter: PeerAddr,
        /// Proofs spent.
        inputs: Vec<RedeemedProof>,
        /// Denominations signed in exchange.
        output_amounts: Vec<Amount>,
        /// Input fee kept by the mint.
        fee: Amount,
    },
    /// Proofs were melted into a Lightning payout.
    Melt {
        /// When the payout settled.
        at: Instant,
        /// Peer that presented the proofs.
        presenter: PeerAddr,
        /// Which melt quote.
        quote: QuoteId,
        /// Proofs spent.
        inputs: Vec<RedeemedProof>,
        /// Amount paid out over Lightning.
        amount: Amount,
        /// Lightning routing fee reserve.
        fee_reserve: Amount,
        /// Input fee kept by the mint.
        fee: Amount,
        /// Denominations of change returned.
        change_amounts: Vec<Amount>,
    },
    /// Signatures were re-issued for outputs signed before (NUT-09): the
    /// mint learns that these earlier outputs belong together.
    Restore {
        /// The instant it happened.
        at: Instant,
        /// Peer that asked.
        presenter: PeerAddr,
        /// Denominations restored.
        amounts: Vec<Amount>,
    },
}
