//! Private payments: Cashu-style Chaumian ecash over Lightning (whitepaper
//! "Payment Layer: Cashu Ecash over Lightning").
//!
//! - [`dhke`]: blind Diffie-Hellman key exchange on secp256k1 (NUT-00).
//! - [`dleq`]: discrete-log-equality proofs, checked by wallets and payees (NUT-12).
//! - [`keyset`]: power-of-two keysets, v1 and v2 ids, input fees (NUT-01, NUT-02).
//! - [`nuts`] and [`messages`]: wire shapes with NUT JSON field names.
//! - [`mint`]: the mint, with quotes, swap, melt, spent set and ledger.
//! - [`wallet`]: the multi-mint wallet, with coin selection and privacy policies.
//! - [`lightning`]: what the mint learns from Lightning funding.
//! - [`observe`]: what the mint operator sees.

pub mod amount;
mod bdhke;
pub mod dhke;
pub mod dleq;
mod error;
pub mod keyset;
pub mod lightning;
pub mod messages;
pub mod mint;
pub mod nuts;
pub mod observe;
pub mod wallet;

pub use amount::Amount;
pub use error::EcashError;
pub use keyset::{CurrencyUnit, KeySet, Keys, KeysetId, MintKeySet};
pub use lightning::{Invoice, LightningPayer, LightningPayment, PayerId, PayoutOutcome};
pub use mint::{Mint, MintConfig};
pub use nuts::{BlindSignature, BlindedMessage, Proof, QuoteId, Secret};
pub use observe::MintObservation;
pub use wallet::{MintUrl, Wallet, WalletPolicy};
