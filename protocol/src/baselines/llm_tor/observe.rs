//! What the LLM-Tor operator sees (seed `004`, "Trust boundaries": the
//! identity phase's payment provider and credit ledger, the blind signing
//! service, and the anonymous usage phase's proxy). The simulator's
//! operator adversaries decide from these alone.

use std::net::SocketAddr;

use super::tokens::TokenId;
use crate::time::Instant;

/// One thing the operator saw, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorObservation {
    /// When.
    pub at: Instant,
    /// What.
    pub seen: OperatorSaw,
}

/// The content of an [`OperatorObservation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorSaw {
    /// Identity phase: credits bought.
    Purchase {
        /// Where the purchase came from.
        from: SocketAddr,
        /// The account.
        account: String,
        /// Who paid.
        payer: String,
        /// Credits bought.
        credits: u64,
    },
    /// Blind issuance phase: tokens signed against an account.
    Issuance {
        /// Where the request came from.
        from: SocketAddr,
        /// The account debited.
        account: String,
        /// Tokens signed.
        tokens: u64,
    },
    /// Anonymous usage phase: a token redeemed with a prompt.
    Redemption {
        /// The operator's serial number of this redemption (it pairs the
        /// prompt with its response, as one connection would).
        serial: u64,
        /// The previous hop: the circuit's last relay, not the client.
        prev_hop: SocketAddr,
        /// The proxy's handle of the circuit it came on (none on a direct
        /// link): redemptions on one handle share a circuit.
        circuit: Option<u32>,
        /// The spent-set key of the token.
        token: TokenId,
        /// The model asked for.
        model: String,
        /// The prompt.
        prompt: Vec<u8>,
    },
    /// The response to redemption `serial`.
    Response {
        /// The redemption.
        serial: u64,
        /// Everything returned.
        response: Vec<u8>,
    },
    /// A redemption refused (bad or replayed token).
    Refused {
        /// The previous hop.
        prev_hop: SocketAddr,
        /// Why, as [`LlmTorError::kind`](super::LlmTorError::kind).
        kind: &'static str,
    },
}
