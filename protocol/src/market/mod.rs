//! Market primitives (whitepaper "Inference Marketplace and Ghost Nodes",
//! "Ghost Node Unit Economics", "Malicious Service Nodes").
//!
//! - [`price`]: millisatoshi per million tokens; dollar conversion.
//! - [`quote`]: signed quotes with a canonical encoding and a pinned id.
//! - [`billing`]: prepaid-chunk metering on both sides.
//! - [`cost`]: what serving costs a Ghost (per token) or a GPU node (per hour).
//! - [`receipt`]: signed response-integrity receipts and challenge probes.
//! - [`tokens`]: the shared token count.

pub mod billing;
pub mod cost;
mod error;
pub mod price;
pub mod quote;
pub mod receipt;
pub mod tokens;

pub use cost::CostModel;
pub use error::MarketError;
pub use price::{FxRate, Price};
pub use quote::{Quote, QuoteId, SignedQuote};
pub use receipt::{Receipt, SignedReceipt};
