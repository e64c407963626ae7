//! Malformed verification input: typed errors, never a panic.

use thiserror::Error;

/// Why a verification message could not even be checked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// A challenged step is beyond the committed transcript.
    #[error("step {step} is out of range (the transcript has {steps} steps)")]
    StepOutOfRange {
        /// The step.
        step: u32,
        /// Steps committed.
        steps: u32,
    },
    /// More steps challenged than the protocol allows at once.
    #[error("{asked} steps challenged, at most {max}")]
    TooManySteps {
        /// Steps asked.
        asked: usize,
        /// The cap.
        max: usize,
    },
    /// A step challenged twice.
    #[error("step {0} challenged twice")]
    DuplicateStep(u32),
    /// An empty transcript cannot be committed to or challenged.
    #[error("empty transcript")]
    Empty,
    /// An authentication path longer than any tree of this size needs.
    #[error("authentication path of {got} hashes, at most {max}")]
    PathTooLong {
        /// Hashes given.
        got: usize,
        /// The most a tree of this size needs.
        max: usize,
    },
    /// Quantized logits longer than the protocol allows.
    #[error("{got} logits in a step, at most {max}")]
    TooManyLogits {
        /// Logits given.
        got: usize,
        /// The cap.
        max: usize,
    },
    /// The proof answers another job than the challenge.
    #[error("proof for job {got}, challenge for job {expected}")]
    WrongJob {
        /// The proof's job.
        got: u64,
        /// The challenge's.
        expected: u64,
    },
    /// The commitment's signature does not verify.
    #[error("commitment signature does not verify")]
    BadSignature,
}
