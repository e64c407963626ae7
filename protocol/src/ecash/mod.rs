//! Private payments: Cashu-style Chaumian ecash over Lightning (whitepaper
//! "Payment Layer: Cashu Ecash over Lightning").

pub mod amount;
pub mod dhke;
pub mod dleq;
mod error;
pub mod keyset;
pub mod nuts;

pub use amount::Amount;
pub use error::EcashError;
pub use keyset::{CurrencyUnit, KeySet, Keys, KeysetId, MintKeySet};
pub use nuts::{BlindSignature, BlindedMessage, Proof, QuoteId, Secret};
