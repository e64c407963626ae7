//! The direct provider API, the status quo (whitepaper "Attack Economics":
//! "one subpoena or one breach can expose complete histories"). The user
//! calls the provider with an account key from its own address; the
//! provider sees the account, the address, every prompt and every
//! response, and keeps them under the account.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::time::Instant;

/// Client to provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRequest {
    /// The account (its API key names it).
    pub account: String,
    /// The model.
    pub model: String,
    /// The prompt, with the conversation so far.
    pub prompt: Vec<u8>,
    /// Output tokens wanted.
    pub max_output_tokens: u32,
}

/// Provider to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiResponse {
    /// Streamed output.
    Stream {
        /// The text.
        text: Vec<u8>,
    },
    /// The request finished.
    Done {
        /// Output tokens produced.
        output_tokens: u64,
    },
    /// The provider refused (the backend's error kind).
    Refused(String),
}

/// What the provider logs of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiObservation {
    /// When.
    pub at: Instant,
    /// The caller's address.
    pub from: SocketAddr,
    /// The account.
    pub account: String,
    /// What was seen.
    pub seen: ApiSaw,
}

/// The content of an [`ApiObservation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiSaw {
    /// A request arrived (the provider's serial number pairs it with its
    /// response).
    Prompt {
        /// Serial number.
        serial: u64,
        /// The prompt.
        prompt: Vec<u8>,
    },
    /// The whole response went back.
    Response {
        /// Serial number.
        serial: u64,
        /// The response.
        response: Vec<u8>,
    },
}
