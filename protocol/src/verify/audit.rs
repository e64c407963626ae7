//! Audits (seed 003, `AUDIT_CHALLENGE` and `AUDIT_PROOF`): the client
//! challenges random steps of a committed transcript, the service opens
//! them with authentication paths, and the client rechecks each against
//! the advertised model. Any mismatch is a [`FraudProof`]: the signed
//! commitment, the challenge and the offending opening, which anyone with
//! the reference model can check again.

use crate::fidelity::CryptoFidelity;
use rand_core::Rng;
use serde::{Deserialize, Serialize};

use super::error::VerifyError;
use super::merkle::{self, Hash};
use super::model::ReferenceModel;
use super::transcript::{Commitment, MAX_LOGITS, Step, Transcript};

/// Most steps one challenge may name.
pub const MAX_CHALLENGE: usize = 64;

/// The client's challenge: steps to open, drawn from its own randomness
/// after the commitment arrived (the seed's VRF proof of fair selection
/// is future work: here only the client need trust the draw).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChallenge {
    /// The job.
    pub job: u64,
    /// Steps to open, ascending and distinct.
    pub steps: Vec<u32>,
}

/// One opened step (seed 003: `step`, `logits_q`, `next_token`,
/// `auth_path`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    /// The step.
    pub step: u32,
    /// The committed step.
    pub committed: Step,
    /// Its audit path, leaf to root.
    pub auth_path: Vec<Hash>,
}

/// The service's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProof {
    /// The job.
    pub job: u64,
    /// One opening per challenged step.
    pub proofs: Vec<StepProof>,
}

/// What the audit caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fraud {
    /// The commitment covers another number of steps than were streamed
    /// (output truncated or padded after committing).
    StepCount {
        /// Steps committed.
        committed: u32,
        /// Tokens streamed.
        streamed: u32,
    },
    /// A challenged step was not opened.
    Unanswered {
        /// The step.
        step: u32,
    },
    /// The opening does not lead to the committed root.
    BadPath {
        /// The step.
        step: u32,
    },
    /// The committed token is not the one streamed (forged output).
    TokenMismatch {
        /// The step.
        step: u32,
    },
    /// The advertised model gives other logits or another token here
    /// (model substitution).
    LogitsMismatch {
        /// The step.
        step: u32,
    },
}

/// Evidence of fraud, checkable by a third party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudProof {
    /// The service's signed commitment.
    pub commitment: Commitment,
    /// The challenge.
    pub challenge: AuditChallenge,
    /// The offending opening, if one was given.
    pub opening: Option<StepProof>,
    /// What is wrong.
    pub fraud: Fraud,
}

/// Draws `k` distinct steps of `steps` (all if fewer) for `job`.
pub fn challenge(
    rng: &mut impl Rng,
    job: u64,
    steps: u32,
    k: usize,
) -> Result<AuditChallenge, VerifyError> {
    if steps == 0 {
        return Err(VerifyError::Empty);
    }
    if k > MAX_CHALLENGE {
        return Err(VerifyError::TooManySteps {
            asked: k,
            max: MAX_CHALLENGE,
        });
    }
    // Floyd's sampling: k distinct values of 0..steps without a shuffle.
    let n = u64::from(steps);
    let k = (k as u64).min(n);
    let mut chosen = std::collections::BTreeSet::new();
    for j in n - k..n {
        let t = uniform(rng, j + 1);
        if !chosen.insert(t as u32) {
            chosen.insert(j as u32);
        }
    }
    Ok(AuditChallenge {
        job,
        steps: chosen.into_iter().collect(),
    })
}

/// A uniform draw in 0..n (n ≥ 1) without modulo bias.
fn uniform(rng: &mut impl Rng, n: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let v = rng.next_u64();
        if v < zone {
            return v % n;
        }
    }
}

/// Refuses challenges a service need not answer: out of range,
/// duplicated or too many steps.
pub fn validate(ch: &AuditChallenge, steps: u32) -> Result<(), VerifyError> {
    if ch.steps.len() > MAX_CHALLENGE {
        return Err(VerifyError::TooManySteps {
            asked: ch.steps.len(),
            max: MAX_CHALLENGE,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for &s in &ch.steps {
        if s >= steps {
            return Err(VerifyError::StepOutOfRange { step: s, steps });
        }
        if !seen.insert(s) {
            return Err(VerifyError::DuplicateStep(s));
        }
    }
    Ok(())
}

/// The service opens the challenged steps of its transcript.
pub fn answer(t: &Transcript, ch: &AuditChallenge) -> Result<AuditProof, VerifyError> {
    validate(ch, t.len())?;
    let proofs = ch
        .steps
        .iter()
        .map(|&s| {
            let (step, auth_path) = t.open(s)?;
            Ok(StepProof {
                step: s,
                committed: step.clone(),
                auth_path,
            })
        })
        .collect::<Result<_, VerifyError>>()?;
    Ok(AuditProof {
        job: ch.job,
        proofs,
    })
}

/// What the client knows of the job besides the service's messages.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    /// The prompt it sent.
    pub prompt: &'a [u8],
    /// The tokens it received, in order.
    pub streamed: &'a [u32],
    /// The fidelity the commitment's signature is checked at.
    pub fidelity: CryptoFidelity,
}

/// Checks `proof` against `commitment`, `challenge` and what the client
/// knows. `Ok(Ok(()))`: every challenged step matches; `Ok(Err(f))`:
/// fraud, with its proof; `Err`: the messages are malformed.
pub fn check(
    commitment: &Commitment,
    challenge: &AuditChallenge,
    proof: &AuditProof,
    known: Known<'_>,
    reference: &dyn ReferenceModel,
) -> Result<Result<(), FraudProof>, VerifyError> {
    commitment.verify(known.fidelity)?;
    validate(challenge, commitment.steps)?;
    if proof.job != challenge.job || commitment.job != challenge.job {
        return Err(VerifyError::WrongJob {
            got: proof.job,
            expected: challenge.job,
        });
    }
    let fraud = |fraud: Fraud, opening: Option<&StepProof>| {
        Ok(Err(FraudProof {
            commitment: commitment.clone(),
            challenge: challenge.clone(),
            opening: opening.cloned(),
            fraud,
        }))
    };
    let streamed = known.streamed.len() as u32;
    if streamed != commitment.steps {
        let committed = commitment.steps;
        return fraud(
            Fraud::StepCount {
                committed,
                streamed,
            },
            None,
        );
    }
    for &step in &challenge.steps {
        let Some(p) = proof.proofs.iter().find(|p| p.step == step) else {
            return fraud(Fraud::Unanswered { step }, None);
        };
        if p.committed.logits_q.len() > MAX_LOGITS {
            return Err(VerifyError::TooManyLogits {
                got: p.committed.logits_q.len(),
                max: MAX_LOGITS,
            });
        }
        let leaf = p.committed.leaf_hash(step);
        let n = commitment.steps as usize;
        if merkle::root_from_path(leaf, step as usize, n, &p.auth_path)? != Some(commitment.root) {
            return fraud(Fraud::BadPath { step }, Some(p));
        }
        let i = step as usize;
        if p.committed.token != known.streamed[i] {
            return fraud(Fraud::TokenMismatch { step }, Some(p));
        }
        if reference.step(&commitment.model, known.prompt, &known.streamed[..i]) != p.committed {
            return fraud(Fraud::LogitsMismatch { step }, Some(p));
        }
    }
    Ok(Ok(()))
}

/// The probability that auditing `k` random steps of a substitute whose
/// steps each differ with probability `p_diff` catches it, if steps
/// differ independently: 1 − (1 − p_diff)^k.
pub fn detection_probability(p_diff: f64, k: u32) -> f64 {
    1.0 - (1.0 - p_diff.clamp(0.0, 1.0)).powi(k as i32)
}
