//! The client's side of verified inference (seed 003) and of challenge
//! probes with a detection model (whitepaper "Malicious Service Nodes":
//! "Response-integrity receipts and client challenge probes", "Reputation
//! systems").
//!
//! An audited turn: the service's signed commitment arrives before its
//! receipt; with probability `rate` the client challenges `steps` random
//! steps and rechecks each opening against the advertised model. A probe
//! in verification mode is checked whole: every token of the answer must
//! be the advertised model's next token. The reference used is the
//! simulated one ([`SimulatedReference`]); a client auditing a real model
//! would rerun the model's weights, which this testbed does not ship.

use crate::fidelity::CryptoFidelity;
use serde::{Deserialize, Serialize};

use crate::verify::model::parse;
use crate::verify::{
    AuditChallenge, AuditProof, Commitment, Known, ReferenceModel, SimulatedReference, check,
};

/// How often and how deeply the client audits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPolicy {
    /// Probability that an answered turn is audited.
    pub rate: f64,
    /// Steps challenged per audit.
    pub steps: usize,
}

/// What checking a turn found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditOutcome {
    /// Every challenged step matched the advertised model.
    Passed,
    /// Fraud, by kind (`step_count`, `unanswered`, `bad_path`,
    /// `token_mismatch`, `logits_mismatch`, `refused`, `malformed`,
    /// `probe`).
    Caught(&'static str),
    /// The service sent no commitment (it offers no verification).
    Uncommitted,
}

impl AuditOutcome {
    /// True if the service was caught.
    pub fn caught(self) -> bool {
        matches!(self, AuditOutcome::Caught(_))
    }
}

/// An audit waiting for the service's openings.
#[derive(Clone, Debug)]
pub(crate) struct PendingAudit {
    pub challenge: AuditChallenge,
    pub commitment: Commitment,
    /// What the receipt charged (the turn completes with it).
    pub charged_msat: u64,
}

/// The verdict on the service's openings.
pub(crate) fn verdict(
    pending: &PendingAudit,
    proof: &AuditProof,
    prompt: &[u8],
    response: &[u8],
    fidelity: CryptoFidelity,
) -> AuditOutcome {
    let Some(streamed) = parse(response) else {
        return AuditOutcome::Caught("malformed");
    };
    let known = Known {
        prompt,
        streamed: &streamed,
        fidelity,
    };
    match check(
        &pending.commitment,
        &pending.challenge,
        proof,
        known,
        &SimulatedReference,
    ) {
        Ok(Ok(())) => AuditOutcome::Passed,
        Ok(Err(f)) => AuditOutcome::Caught(fraud_kind(&f.fraud)),
        Err(_) => AuditOutcome::Caught("malformed"),
    }
}

fn fraud_kind(f: &crate::verify::Fraud) -> &'static str {
    use crate::verify::Fraud;
    match f {
        Fraud::StepCount { .. } => "step_count",
        Fraud::Unanswered { .. } => "unanswered",
        Fraud::BadPath { .. } => "bad_path",
        Fraud::TokenMismatch { .. } => "token_mismatch",
        Fraud::LogitsMismatch { .. } => "logits_mismatch",
    }
}

/// A probe's answer in verification mode: every token must be the
/// advertised model's next one.
pub(crate) fn probe_matches(model: &str, prompt: &[u8], response: &[u8]) -> bool {
    let Some(tokens) = parse(response) else {
        return false;
    };
    (0..tokens.len())
        .all(|i| SimulatedReference.step(model, prompt, &tokens[..i]).token == tokens[i])
}
