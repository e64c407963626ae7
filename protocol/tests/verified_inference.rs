//! Verified inference (seed 003's Merkle audits and fraud proofs) on the
//! protocol's own types: honest transcripts pass every audit; a model
//! substitute is caught at the rate 1 − (1 − p_diff)^k the audit size
//! predicts; forged, truncated and re-pathed openings are fraud; malformed
//! challenges and proofs are typed errors, never panics.
#![allow(clippy::unwrap_used)]

use peer2prompt::fidelity::CryptoFidelity;
use peer2prompt::identity::{Identity, IdentityParams};
use peer2prompt::verify::{
    AuditChallenge, AuditProof, Commitment, Fraud, Known, SimulatedModel, SimulatedReference,
    Transcript, VerifyError, answer, challenge, check, detection_probability,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PARAMS: IdentityParams = IdentityParams {
    puzzle_c1: 1,
    pow_difficulty: 4,
    fidelity: CryptoFidelity::Full,
};

fn service() -> Identity {
    Identity::generate_with(&mut ChaCha20Rng::seed_from_u64(1), PARAMS)
}

/// One job: the service's transcript and commitment, and the prompt.
fn job(model: &SimulatedModel, job: u64, steps: u32) -> (Transcript, Commitment, Vec<u8>) {
    let prompt = format!("prompt number {job}").into_bytes();
    let t = model.generate(&prompt, steps);
    let c = Commitment::sign(&service(), job, model.advertised(), &t).unwrap();
    (t, c, prompt)
}

fn audit(
    t: &Transcript,
    c: &Commitment,
    prompt: &[u8],
    streamed: &[u32],
    rng: &mut ChaCha20Rng,
    k: usize,
) -> Result<(), Fraud> {
    let ch = challenge(rng, c.job, c.steps, k).unwrap();
    let proof = answer(t, &ch).unwrap();
    let known = Known {
        prompt,
        streamed,
        fidelity: CryptoFidelity::Full,
    };
    check(c, &ch, &proof, known, &SimulatedReference)
        .unwrap()
        .map_err(|f| f.fraud)
}

#[test]
fn honest_transcripts_pass_every_audit() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let m = SimulatedModel::honest("gpt-big");
    for j in 0..50 {
        let (t, c, prompt) = job(&m, j, 1 + (j as u32 * 7) % 90);
        assert_eq!(audit(&t, &c, &prompt, &t.tokens(), &mut rng, 8), Ok(()));
    }
}

#[test]
fn substitutes_are_caught_at_the_rate_the_audit_size_predicts() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let m = SimulatedModel::substitute("cheap", "gpt-big", 0.2);
    for k in [1usize, 4, 10] {
        let jobs = 400;
        let caught = (0..jobs)
            .filter(|&j| {
                let (t, c, prompt) = job(&m, 1000 * k as u64 + j, 60);
                match audit(&t, &c, &prompt, &t.tokens(), &mut rng, k) {
                    Ok(()) => false,
                    Err(f) => {
                        assert!(matches!(f, Fraud::LogitsMismatch { .. }));
                        true
                    }
                }
            })
            .count() as f64;
        let p = detection_probability(0.2, k as u32);
        let sd = (p * (1.0 - p) / jobs as f64).sqrt();
        let rate = caught / jobs as f64;
        assert!(
            (rate - p).abs() < 5.0 * sd + 1e-9,
            "k = {k}: {rate} against {p}"
        );
    }
}

#[test]
fn forged_truncated_and_repathed_outputs_are_fraud() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let m = SimulatedModel::honest("gpt-big");
    let (t, c, prompt) = job(&m, 7, 40);
    // The client received a forged token at step 5, and every step is
    // audited.
    let mut forged = t.tokens();
    forged[5] ^= 1;
    assert_eq!(
        audit(&t, &c, &prompt, &forged, &mut rng, 40),
        Err(Fraud::TokenMismatch { step: 5 })
    );
    // Fewer tokens streamed than committed.
    let tokens = t.tokens();
    assert_eq!(
        audit(&t, &c, &prompt, &tokens[..30], &mut rng, 4),
        Err(Fraud::StepCount {
            committed: 40,
            streamed: 30
        })
    );
    // An opening whose path was tampered with.
    let ch = AuditChallenge {
        job: 7,
        steps: vec![3],
    };
    let mut proof = answer(&t, &ch).unwrap();
    proof.proofs[0].auth_path[0][0] ^= 1;
    let known = Known {
        prompt: &prompt,
        streamed: &tokens,
        fidelity: CryptoFidelity::Full,
    };
    let f = check(&c, &ch, &proof, known, &SimulatedReference)
        .unwrap()
        .unwrap_err();
    assert_eq!(f.fraud, Fraud::BadPath { step: 3 });
    // An unanswered step.
    proof.proofs.clear();
    let f = check(&c, &ch, &proof, known, &SimulatedReference)
        .unwrap()
        .unwrap_err();
    assert_eq!(f.fraud, Fraud::Unanswered { step: 3 });
}

#[test]
fn a_fraud_proof_convinces_a_third_party() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let m = SimulatedModel::substitute("cheap", "gpt-big", 1.0);
    let (t, c, prompt) = job(&m, 9, 20);
    let ch = challenge(&mut rng, 9, 20, 2).unwrap();
    let proof = answer(&t, &ch).unwrap();
    let tokens = t.tokens();
    let known = Known {
        prompt: &prompt,
        streamed: &tokens,
        fidelity: CryptoFidelity::Full,
    };
    let fp = check(&c, &ch, &proof, known, &SimulatedReference)
        .unwrap()
        .unwrap_err();
    // The third party has the fraud proof, the prompt and the tokens.
    let again = AuditProof {
        job: 9,
        proofs: fp.opening.clone().into_iter().collect(),
    };
    let single = AuditChallenge {
        job: 9,
        steps: again.proofs.iter().map(|p| p.step).collect(),
    };
    let verdict = check(&fp.commitment, &single, &again, known, &SimulatedReference).unwrap();
    assert_eq!(verdict.unwrap_err().fraud, fp.fraud);
}

#[test]
fn malformed_challenges_proofs_and_commitments_are_typed_errors() {
    let m = SimulatedModel::honest("gpt-big");
    let (t, c, prompt) = job(&m, 11, 10);
    let tokens = t.tokens();
    let known = Known {
        prompt: &prompt,
        streamed: &tokens,
        fidelity: CryptoFidelity::Full,
    };
    let bad = |steps: Vec<u32>| AuditChallenge { job: 11, steps };
    assert_eq!(
        answer(&t, &bad(vec![10])).unwrap_err(),
        VerifyError::StepOutOfRange {
            step: 10,
            steps: 10
        }
    );
    assert_eq!(
        answer(&t, &bad(vec![2, 2])).unwrap_err(),
        VerifyError::DuplicateStep(2)
    );
    assert!(matches!(
        answer(&t, &bad((0..65).collect())).unwrap_err(),
        VerifyError::TooManySteps { .. }
    ));
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    assert_eq!(
        challenge(&mut rng, 1, 0, 3).unwrap_err(),
        VerifyError::Empty
    );
    assert_eq!(
        challenge(&mut rng, 1, 5, 9).unwrap().steps,
        vec![0, 1, 2, 3, 4]
    );
    let ch = bad(vec![1]);
    let mut proof = answer(&t, &ch).unwrap();
    proof.job = 12;
    assert!(matches!(
        check(&c, &ch, &proof, known, &SimulatedReference).unwrap_err(),
        VerifyError::WrongJob { .. }
    ));
    proof.job = 11;
    proof.proofs[0].auth_path.extend([[0; 32]; 10]);
    assert!(matches!(
        check(&c, &ch, &proof, known, &SimulatedReference).unwrap_err(),
        VerifyError::PathTooLong { .. }
    ));
    let mut forged = c;
    forged.root[0] ^= 1;
    assert_eq!(
        check(
            &forged,
            &ch,
            &answer(&t, &ch).unwrap(),
            known,
            &SimulatedReference
        )
        .unwrap_err(),
        VerifyError::BadSignature
    );
}

proptest! {
    #[test]
    fn arbitrary_messages_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        steps in proptest::collection::vec(0u32..40, 0..10),
    ) {
        let _ = postcard::from_bytes::<AuditChallenge>(&bytes);
        let _ = postcard::from_bytes::<Commitment>(&bytes);
        if let Ok(proof) = postcard::from_bytes::<AuditProof>(&bytes) {
            let m = SimulatedModel::honest("gpt-big");
            let (t, c, prompt) = job(&m, proof.job, 20);
            let tokens = t.tokens();
            let ch = AuditChallenge { job: proof.job, steps };
            let known = Known { prompt: &prompt, streamed: &tokens, fidelity: CryptoFidelity::Full };
            let _ = check(&c, &ch, &proof, known, &SimulatedReference);
        }
    }

    #[test]
    fn challenges_are_distinct_sorted_and_in_range(seed in any::<u64>(), n in 1u32..500, k in 0usize..64) {
        let ch = challenge(&mut ChaCha20Rng::seed_from_u64(seed), 1, n, k).unwrap();
        prop_assert_eq!(ch.steps.len(), k.min(n as usize));
        prop_assert!(ch.steps.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(ch.steps.iter().all(|&s| s < n));
    }
}
