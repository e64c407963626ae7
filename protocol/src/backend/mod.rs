//! Inference backends (whitepaper "Ghost Node Function": send prompt and
//! parameters to the provider API, stream the response; "GPU Node
//! Competition": open models on own hardware).
//!
//! [`InferenceBackend`] is what a Ghost or GPU node calls. It is sans-IO like
//! the rest of the crate: `submit` a job, then `poll_output` streamed chunks
//! as the driver's clock reaches them. This crate ships [`simulated`]
//! backends; a real OpenAI-compatible HTTP backend comes with the live-network
//! work and implements the same trait.

pub mod dist;
pub mod simulated;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::time::Instant;

/// One inference request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Caller-chosen id.
    pub id: u64,
    /// Model name.
    pub model: String,
    /// The prompt, verbatim (whitepaper goal: no rewriting).
    pub prompt: Vec<u8>,
    /// Most output tokens to produce.
    pub max_output_tokens: u32,
    /// A challenge-probe nonce the answer must echo, if this is a probe.
    pub probe: Option<[u8; 16]>,
}

/// Why a backend refused or failed a job.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum BackendError {
    /// The account's rate limit is reached; retry later.
    #[error("rate limited")]
    RateLimited,
    /// A transient provider error.
    #[error("transient provider error")]
    Transient,
    /// The account was banned (whitepaper "Terms-of-Service and Account Survival").
    #[error("account banned")]
    Banned,
    /// The backend does not serve this model.
    #[error("unknown model")]
    UnknownModel,
}

/// A streamed piece of output, or the end of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendOutput {
    /// More output.
    Tokens {
        /// Job id.
        job: u64,
        /// The text.
        text: Vec<u8>,
    },
    /// The job finished.
    Done {
        /// Job id.
        job: u64,
    },
    /// The job failed.
    Failed {
        /// Job id.
        job: u64,
        /// What the backend reported.
        error: BackendError,
    },
}

/// What the provider (or GPU host) sees of a job: the account's origin and
/// billing, the prompt, and the response it produced (whitepaper "Data
/// Visibility by Role": AI provider sees the Ghost's IP, the prompt, Ghost
/// billing and the response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderObservation {
    /// The instant it happened.
    pub at: Instant,
    /// The account holder's address (the Ghost), which is also who is billed.
    pub account: SocketAddr,
    /// The model, by the name adverts and quotes use.
    pub model: String,
    /// What it saw.
    pub seen: ProviderSaw,
}

/// The content of a [`ProviderObservation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderSaw {
    /// A job was submitted with this prompt.
    Prompt(Vec<u8>),
    /// A job finished with this output (everything streamed).
    Output(Vec<u8>),
}

/// An inference backend.
pub trait InferenceBackend: Send {
    /// Queues `job`; errors if refused at once.
    fn submit(&mut self, now: Instant, job: Job) -> Result<(), BackendError>;
    /// Stops a job (its remaining output is dropped).
    fn cancel(&mut self, job: u64);
    /// The next output due by `now`.
    fn poll_output(&mut self, now: Instant) -> Option<BackendOutput>;
    /// When the next output is due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// What the provider observed.
    fn poll_observation(&mut self) -> Option<ProviderObservation>;
    /// Models served.
    fn models(&self) -> Vec<String>;
    /// The transcript of finished job `job`, once (verified inference;
    /// backends that expose no logits have none).
    fn take_transcript(&mut self, _job: u64) -> Option<crate::verify::Transcript> {
        None
    }
}
