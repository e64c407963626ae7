//! Verified inference (seed `003_…`, "Proof Verification": "Merkle proofs:
//! Audit-based verification", "Fraud proofs: Optimistic with challenges"),
//! as a verification mode a service can offer beside Peer2Prompt's own
//! countermeasures (whitepaper "Malicious Service Nodes": "Response-integrity
//! receipts and client challenge probes").
//!
//! - [`merkle`]: an RFC 6962 Merkle tree over the transcript's steps, with
//!   audit paths;
//! - [`transcript`]: a step (token and quantized logits, the seed's
//!   `logits_q` and `next_token`), the service's [`Commitment`] to the root;
//! - [`audit`]: the client's challenge at random steps (its own randomness;
//!   the seed's VRF is future work), the service's proof, and the check
//!   that ends in a [`FraudProof`] on any mismatch;
//! - [`model`]: what an auditor needs to recheck a step, a
//!   [`ReferenceModel`], and the simulated models (an honest one, and a
//!   cheaper substitute whose steps differ with a stated probability).

pub mod audit;
pub mod error;
pub mod merkle;
pub mod model;
pub mod transcript;

pub use audit::{
    AuditChallenge, AuditProof, Fraud, FraudProof, Known, StepProof, answer, challenge, check,
    detection_probability, validate,
};
pub use error::VerifyError;
pub use model::{ReferenceModel, SimulatedModel, SimulatedReference};
pub use transcript::{Commitment, Step, Transcript};
