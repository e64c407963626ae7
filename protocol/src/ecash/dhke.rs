//! Blind Diffie-Hellman key exchange on secp256k1, exactly as Cashu NUT-00
//! (whitepaper "Token Lifecycle": `B' = Y + rG`, `C' = kB'`, `C = C' - rK`).
//!
//! Names and signatures follow the Rust Cashu ecosystem (cdk's `dhke` module),
//! so results can be cross-checked against it; the only difference is that
//! randomness is passed in.

use rand_core::CryptoRng;
use secp256k1::Scalar;
pub use secp256k1::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};

use super::EcashError;

/// NUT-00 domain separator for `hash_to_curve`.
pub const DOMAIN_SEPARATOR: &[u8] = b"Secp256k1_HashToCurve_Cashu_";

/// Maps a message to a curve point `Y` (NUT-00).
///
/// `msg_hash = SHA256(DOMAIN_SEPARATOR || message)`; for `counter` in
/// `0..2^16`, the first `02 || SHA256(msg_hash || counter_le32)` that is a
/// valid compressed point.
pub fn hash_to_curve(message: &[u8]) -> Result<PublicKey, EcashError> {
    let msg_hash = Sha256::new()
        .chain_update(DOMAIN_SEPARATOR)
        .chain_update(message)
        .finalize();
    let mut candidate = [0u8; 33];
    candidate[0] = 0x02;
    for counter in 0u32..(1 << 16) {
        let h = Sha256::new()
            .chain_update(msg_hash)
            .chain_update(counter.to_le_bytes())
            .finalize();
        candidate[1..].copy_from_slice(&h);
        if let Ok(point) = PublicKey::from_byte_array_compressed(candidate) {
            return Ok(point);
        }
    }
    Err(EcashError::HashToCurveExhausted)
}

/// Draws a uniformly random non-zero scalar below the curve order.
pub fn random_secret_key(rng: &mut impl CryptoRng) -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        // Rejection sampling: fails with probability ~2^-128.
        if let Ok(sk) = SecretKey::from_secret_bytes(bytes) {
            return sk;
        }
    }
}

/// Blinds `secret`: returns `(B_, r)` with `B_ = hash_to_curve(secret) + r*G`.
/// A caller that needs a fixed blinding factor passes `Some(r)`; otherwise `r`
/// is drawn from `rng`.
pub fn blind_message(
    secret: &[u8],
    r: Option<SecretKey>,
    rng: &mut impl CryptoRng,
) -> Result<(PublicKey, SecretKey), EcashError> {
    let r = r.unwrap_or_else(|| random_secret_key(rng));
    Ok((blind_with_factor(secret, &r)?, r))
}

/// `B_ = hash_to_curve(secret) + r*G` for a known blinding factor; used where
/// `r` is given (NUT-12 offline verification) and no randomness is involved.
pub fn blind_with_factor(secret: &[u8], r: &SecretKey) -> Result<PublicKey, EcashError> {
    hash_to_curve(secret)?
        .add_exp_tweak(&Scalar::from(*r))
        .map_err(|_| EcashError::PointAtInfinity {
            what: "B_ = Y + rG",
        })
}

/// The mint signs a blinded message: `C_ = k * B_`.
pub fn sign_message(k: &SecretKey, blinded_message: &PublicKey) -> Result<PublicKey, EcashError> {
    blinded_message
        .mul_tweak(&Scalar::from(*k))
        .map_err(|_| EcashError::PointAtInfinity { what: "C_ = kB_" })
}

/// The wallet unblinds a blind signature: `C = C_ - r*K`.
pub fn unblind_message(
    blinded_signature: &PublicKey,
    r: &SecretKey,
    mint_pubkey: &PublicKey,
) -> Result<PublicKey, EcashError> {
    let r_k = mint_pubkey
        .mul_tweak(&Scalar::from(*r))
        .map_err(|_| EcashError::PointAtInfinity { what: "rK" })?;
    blinded_signature
        .combine(&r_k.negate())
        .map_err(|_| EcashError::PointAtInfinity {
            what: "C = C_ - rK",
        })
}

/// The mint checks a proof: `C == k * hash_to_curve(secret)`.
pub fn verify_message(
    k: &SecretKey,
    unblinded_message: &PublicKey,
    secret: &[u8],
) -> Result<bool, EcashError> {
    let y = hash_to_curve(secret)?;
    Ok(sign_message(k, &y)? == *unblinded_message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn blind_sign_unblind_verify_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let k = random_secret_key(&mut rng);
        let big_k = PublicKey::from_secret_key(&k);
        let secret = b"round trip";
        let (b, r) = blind_message(secret, None, &mut rng).unwrap();
        let c_ = sign_message(&k, &b).unwrap();
        let c = unblind_message(&c_, &r, &big_k).unwrap();
        assert!(verify_message(&k, &c, secret).unwrap());
        assert!(!verify_message(&k, &c, b"another secret").unwrap());
        let other = random_secret_key(&mut rng);
        assert!(!verify_message(&other, &c, secret).unwrap());
    }

    #[test]
    fn unblinding_to_infinity_is_an_error() {
        // C_ == rK makes C the point at infinity.
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let k = random_secret_key(&mut rng);
        let big_k = PublicKey::from_secret_key(&k);
        let r = random_secret_key(&mut rng);
        let c_ = big_k.mul_tweak(&Scalar::from(r)).unwrap();
        assert_eq!(
            unblind_message(&c_, &r, &big_k),
            Err(EcashError::PointAtInfinity {
                what: "C = C_ - rK"
            })
        );
    }
}
