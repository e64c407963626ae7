//! Everything a node learns, as one event type (whitepaper "Data Visibility
//! by Role"). The simulator builds the visibility matrix and every
//! adversary's view from these records, and from nothing else.

use std::net::SocketAddr;

use secp256k1::PublicKey;

use crate::backend::ProviderObservation;
use crate::dht::DhtObservation;
use crate::ecash::{Amount, MintObservation};
use crate::onion::observe::HopObservation;
use crate::time::Instant;

/// What one node saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// As an onion hop: one cell.
    Hop(HopObservation),
    /// As a DHT node: one request received.
    Dht(DhtObservation),
    /// As a mint: one entry of its log.
    Mint(MintObservation),
    /// As a provider account (a Ghost's backend): one job.
    Provider(ProviderObservation),
    /// As the LLM-Tor operator (a baseline): one entry of its view.
    LlmTorOperator(crate::baselines::llm_tor::OperatorObservation),
    /// As a provider API called directly (a baseline): one entry of its log.
    Api(crate::baselines::direct::ApiObservation),
    /// As a service (Ghost or GPU node): a request arriving at the end of a
    /// circuit, with its plaintext prompt and the payment proofs' `Y`s.
    ServiceRequest {
        /// The instant it happened.
        at: Instant,
        /// The onion session it came on.
        session: u32,
        /// The previous hop.
        prev: SocketAddr,
        /// The prompt, verbatim.
        prompt: Vec<u8>,
        /// `Y = hash_to_curve(secret)` of each proof paid (the "token proof").
        payment: Vec<PublicKey>,
        /// Value paid.
        amount: Amount,
    },
    /// As a service: a further payment on a session.
    ServicePayment {
        /// The instant it happened.
        at: Instant,
        /// The session it belongs to.
        session: u32,
        /// The `Y` of every proof presented (hash_to_curve of its secret).
        payment: Vec<PublicKey>,
        /// The value presented.
        amount: Amount,
    },
    /// As a service: response text it produced and sent back.
    ServiceResponse {
        /// The instant it happened.
        at: Instant,
        /// The session it belongs to.
        session: u32,
        /// The text.
        text: Vec<u8>,
    },
}
