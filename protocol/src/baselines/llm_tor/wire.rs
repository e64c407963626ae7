//! LLM-Tor's messages (seed `004`, "End-to-End Protocol Flow"). They travel
//! inside the node's application envelope
//! ([`AppMessage`](crate::node::AppMessage)): purchase and issuance over a
//! direct link (the account is known anyway), redemption through a circuit.

use serde::{Deserialize, Serialize};

use super::error::LlmTorError;
use super::tokens::Token;
use crate::identity::OnionKeyCert;

/// Client to proxy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LlmTorRequest {
    /// The proxy's current onion key certificate, to reach it through a
    /// circuit (our stand-in for the TLS certificate a Tor exit checks).
    Descriptor,
    /// Phase 1: buy credits (identity known).
    Purchase {
        /// The account credited.
        account: String,
        /// Who pays (the payment provider's customer).
        payer: String,
        /// Credits bought (one credit buys one token).
        credits: u64,
    },
    /// Phase 2: blind-sign these blinded tokens against the account.
    Issue {
        /// The account debited.
        account: String,
        /// Blinded messages, one per token.
        blinded: Vec<Vec<u8>>,
    },
    /// Phase 3: one prompt, paid with one token.
    Redeem {
        /// The token `(T, S)`.
        token: Token,
        /// The model asked for.
        model: String,
        /// The prompt (with the conversation so far: the proxy keeps none).
        prompt: Vec<u8>,
        /// Output tokens wanted.
        max_output_tokens: u32,
    },
}

impl LlmTorRequest {
    /// A short name of the request, safe to log.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmTorRequest::Descriptor => "descriptor",
            LlmTorRequest::Purchase { .. } => "purchase",
            LlmTorRequest::Issue { .. } => "issue",
            LlmTorRequest::Redeem { .. } => "redeem",
        }
    }
}

/// Proxy to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LlmTorResponse {
    /// The proxy's onion key certificate for this epoch.
    Descriptor(OnionKeyCert),
    /// Credits bought; the account's balance now.
    Purchased {
        /// Credits left to issue tokens against.
        balance: u64,
    },
    /// The blind signatures, in the order asked.
    Issued {
        /// One per blinded message.
        blind_signatures: Vec<Vec<u8>>,
    },
    /// Streamed output of a redemption.
    Stream {
        /// The text.
        text: Vec<u8>,
    },
    /// The redemption finished.
    Done {
        /// Output tokens produced.
        output_tokens: u64,
    },
    /// The proxy refused.
    Refused(LlmTorError),
}
