//! Identity cost: a hashcash proof of work bound to the identity key
//! (whitepaper "DHT Sybil and Eclipse Attacks": identity cost, Hashcash-style
//! proof of work).
//!
//! `SHA-256(DOMAIN || identity_public_key || nonce_le64)` must start with
//! `difficulty` zero bits. Finding one costs `2^difficulty` hashes in
//! expectation; checking costs one. The cost is what turns a Sybil fraction
//! into capital (see [`expected_hashes`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::IdentityError;

/// Domain separator for identity proofs of work.
pub const POW_DOMAIN: &[u8] = b"peer2prompt/identity-pow/v1";

/// A solved proof of work: the nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdentityProof {
    /// The nonce that solves the puzzle.
    pub nonce: u64,
}

/// Leading zero bits of `bytes` read as a big-endian number.
pub fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut zeros = 0;
    for byte in bytes {
        if *byte == 0 {
            zeros += 8;
        } else {
            return zeros + byte.leading_zeros();
        }
    }
    zeros
}

/// Leading zero bits of the puzzle hash for `nonce`.
pub fn work(identity_key: &[u8; 32], nonce: u64) -> u32 {
    let h = Sha256::new()
        .chain_update(POW_DOMAIN)
        .chain_update(identity_key)
        .chain_update(nonce.to_le_bytes())
        .finalize();
    leading_zero_bits(&h)
}

/// Searches nonces from `start` until one reaches `difficulty`. Returns the
/// proof and the number of hashes spent.
pub fn solve(identity_key: &[u8; 32], difficulty: u32, start: u64) -> (IdentityProof, u64) {
    let mut nonce = start;
    let mut hashes = 0u64;
    loop {
        hashes += 1;
        if work(identity_key, nonce) >= difficulty {
            return (IdentityProof { nonce }, hashes);
        }
        nonce = nonce.wrapping_add(1);
    }
}

/// Checks a proof against a required difficulty.
pub fn verify(
    identity_key: &[u8; 32],
    proof: &IdentityProof,
    difficulty: u32,
) -> Result<(), IdentityError> {
    let got = work(identity_key, proof.nonce);
    if got < difficulty {
        return Err(IdentityError::InsufficientWork {
            got,
            required: difficulty,
        });
    }
    Ok(())
}

/// Expected hashes to mint one identity at `difficulty`: `2^difficulty`.
pub fn expected_hashes(difficulty: u32) -> f64 {
    2f64.powi(difficulty as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solved_proofs_verify_and_others_do_not() {
        let key = [7u8; 32];
        let (proof, hashes) = solve(&key, 10, 0);
        assert!(hashes >= 1);
        verify(&key, &proof, 10).unwrap();
        // The nonce is bound to the key: for other keys it is work only by
        // chance (probability 2^-10 each).
        let transferable = (0..64u8)
            .filter(|i| *i != 7 && verify(&[*i; 32], &proof, 10).is_ok())
            .count();
        assert!(
            transferable <= 2,
            "{transferable} other keys accepted the nonce"
        );
        let err = verify(&key, &proof, 40).unwrap_err();
        assert!(matches!(
            err,
            IdentityError::InsufficientWork { required: 40, .. }
        ));
    }

    #[test]
    fn mean_cost_matches_two_to_the_difficulty() {
        // 200 identities at difficulty 6: mean hashes ~ 64, standard error ~ 4.5.
        let total: u64 = (0..200u8).map(|i| solve(&[i; 32], 6, 0).1).sum();
        let mean = total as f64 / 200.0;
        assert!((mean - expected_hashes(6)).abs() < 20.0, "mean {mean}");
    }
}
