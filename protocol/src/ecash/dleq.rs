//! Discrete-log-equality proofs (Cashu NUT-12).
//!
//! With every blind signature the mint proves that `C_ = aB_` used the same `a`
//! as its published key `A = aG`. The wallet (Alice) checks this on receipt; a
//! payee such as a Ghost (Carol) checks it offline from the proof and the
//! mint's public keys alone, before serving anything (whitepaper "Ghost Node
//! Function": verify ecash proofs against mint keysets). A mint that signs with
//! a per-user key fails these checks.
//!
//! The nonce is derived deterministically, as NUT-12 recommends:
//! `r = HMAC-SHA256(a, "Cashu_DLEQ_R_v1" || A || B_ || C_ || ctr)`, points
//! uncompressed. Nonce reuse with a random `r` would leak `a`; a derived nonce
//! cannot repeat across different challenges, and signing needs no RNG.

use hmac::{Hmac, KeyInit, Mac};
use secp256k1::{PublicKey, Scalar, SecretKey};
use sha2::{Digest, Sha256};

use super::nuts::{BlindSignatureDleq, ProofDleq, ScalarHex};
use super::{EcashError, dhke};

/// NUT-12 domain separator for the deterministic nonce.
pub const NONCE_DOMAIN: &[u8] = b"Cashu_DLEQ_R_v1";

/// The challenge `e = SHA256(hex(R1) || hex(R2) || hex(A) || hex(C_))`, each
/// point as the ASCII hex of its 65-byte uncompressed encoding.
pub fn hash_e(points: &[&PublicKey]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut buf = [0u8; 130];
    for p in points {
        // `encode_to_slice` cannot fail: 65 bytes always fit 130 hex digits.
        if hex::encode_to_slice(p.serialize_uncompressed(), &mut buf).is_ok() {
            h.update(buf);
        }
    }
    h.finalize().into()
}

/// The NUT-12 deterministic nonce for signing `B_` into `C_` with key `a`.
pub fn deterministic_nonce(
    a: &SecretKey,
    big_a: &PublicKey,
    b_: &PublicKey,
    c_: &PublicKey,
) -> Result<SecretKey, EcashError> {
    for ctr in 0u8..=255 {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&a.to_secret_bytes())
            .map_err(|_| EcashError::InvalidScalar { what: "DLEQ key" })?;
        mac.update(NONCE_DOMAIN);
        mac.update(&big_a.serialize_uncompressed());
        mac.update(&b_.serialize_uncompressed());
        mac.update(&c_.serialize_uncompressed());
        mac.update(&[ctr]);
        let bytes: [u8; 32] = mac.finalize().into_bytes().into();
        if let Ok(r) = SecretKey::from_secret_bytes(bytes) {
            return Ok(r);
        }
    }
    Err(EcashError::InvalidScalar { what: "DLEQ nonce" })
}

/// The mint proves `C_ = aB_` for its key `A = aG`: `R1 = rG`, `R2 = rB_`,
/// `e = hash_e(R1, R2, A, C_)`, `s = r + e*a`.
pub fn prove(
    a: &SecretKey,
    big_a: &PublicKey,
    b_: &PublicKey,
    c_: &PublicKey,
) -> Result<BlindSignatureDleq, EcashError> {
    let r = deterministic_nonce(a, big_a, b_, c_)?;
    let r1 = PublicKey::from_secret_key(&r);
    let r2 = dhke::sign_message(&r, b_)?;
    let e_bytes = hash_e(&[&r1, &r2, big_a, c_]);
    let e = SecretKey::from_secret_bytes(e_bytes)
        .map_err(|_| EcashError::InvalidScalar { what: "DLEQ e" })?;
    let ea = a
        .mul_tweak(&Scalar::from(e))
        .map_err(|_| EcashError::InvalidScalar { what: "DLEQ e*a" })?;
    let s = ea
        .add_tweak(&Scalar::from(r))
        .map_err(|_| EcashError::InvalidScalar { what: "DLEQ s" })?;
    Ok(BlindSignatureDleq {
        e: ScalarHex(e_bytes),
        s: ScalarHex::from(s),
    })
}

/// `s*P - e*Q`, the reconstruction step shared by both verifiers.
fn reconstruct(
    s: &SecretKey,
    p: Option<&PublicKey>,
    e: &SecretKey,
    q: &PublicKey,
) -> Result<PublicKey, EcashError> {
    let invalid = EcashError::DleqInvalid {
        what: "reconstruction",
    };
    let sp = match p {
        None => PublicKey::from_secret_key(s),
        Some(p) => p
            .mul_tweak(&Scalar::from(*s))
            .map_err(|_| invalid.clone())?,
    };
    let eq = q
        .mul_tweak(&Scalar::from(*e))
        .map_err(|_| invalid.clone())?;
    sp.combine(&eq.negate()).map_err(|_| invalid)
}

/// Alice's check of a blind signature: `R1 = sG - eA`, `R2 = sB_ - eC_`,
/// `e == hash_e(R1, R2, A, C_)`.
pub fn verify_blind_signature(
    dleq: &BlindSignatureDleq,
    big_a: &PublicKey,
    b_: &PublicKey,
    c_: &PublicKey,
) -> Result<(), EcashError> {
    let what = "blind signature";
    let e = dleq.e.to_secret_key("DLEQ e")?;
    let s = dleq.s.to_secret_key("DLEQ s")?;
    let r1 = reconstruct(&s, None, &e, big_a).map_err(|_| EcashError::DleqInvalid { what })?;
    let r2 = reconstruct(&s, Some(b_), &e, c_).map_err(|_| EcashError::DleqInvalid { what })?;
    if hash_e(&[&r1, &r2, big_a, c_]) != dleq.e.0 {
        return Err(EcashError::DleqInvalid { what });
    }
    Ok(())
}

/// Carol's offline check of a proof `(x, C, e, s, r)` against the mint key
/// `A` for its amount: rebuild `C_ = C + rA`, `B_ = hash_to_curve(x) + rG`,
/// then check as Alice does.
pub fn verify_proof(
    secret: &[u8],
    c: &PublicKey,
    dleq: &ProofDleq,
    big_a: &PublicKey,
) -> Result<(), EcashError> {
    let what = "proof";
    let r = dleq.r.to_secret_key("DLEQ r")?;
    let b_ = dhke::blind_with_factor(secret, &r)?;
    let r_a = big_a
        .mul_tweak(&Scalar::from(r))
        .map_err(|_| EcashError::DleqInvalid { what })?;
    let c_ = c
        .combine(&r_a)
        .map_err(|_| EcashError::DleqInvalid { what })?;
    verify_blind_signature(
        &BlindSignatureDleq {
            e: dleq.e,
            s: dleq.s,
        },
        big_a,
        &b_,
        &c_,
    )
    .map_err(|_| EcashError::DleqInvalid { what })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn proofs_verify_and_tampering_is_detected() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let a = dhke::random_secret_key(&mut rng);
        let big_a = PublicKey::from_secret_key(&a);
        let secret = b"carol checks offline";
        let (b_, r) = dhke::blind_message(secret, None, &mut rng).unwrap();
        let c_ = dhke::sign_message(&a, &b_).unwrap();
        let dleq = prove(&a, &big_a, &b_, &c_).unwrap();
        verify_blind_signature(&dleq, &big_a, &b_, &c_).unwrap();

        let c = dhke::unblind_message(&c_, &r, &big_a).unwrap();
        let proof_dleq = ProofDleq {
            e: dleq.e,
            s: dleq.s,
            r: ScalarHex::from(r),
        };
        verify_proof(secret, &c, &proof_dleq, &big_a).unwrap();

        // Wrong key (a per-user tagging key) fails.
        let other = PublicKey::from_secret_key(&dhke::random_secret_key(&mut rng));
        assert!(verify_blind_signature(&dleq, &other, &b_, &c_).is_err());
        assert!(verify_proof(secret, &c, &proof_dleq, &other).is_err());
        // Wrong secret fails.
        assert!(verify_proof(b"other", &c, &proof_dleq, &big_a).is_err());
        // Flipped challenge fails.
        let mut bad = dleq;
        bad.e.0[31] ^= 1;
        assert!(verify_blind_signature(&bad, &big_a, &b_, &c_).is_err());
    }

    #[test]
    fn out_of_range_scalars_are_typed_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let a = dhke::random_secret_key(&mut rng);
        let big_a = PublicKey::from_secret_key(&a);
        let dleq = BlindSignatureDleq {
            e: ScalarHex([0xff; 32]),
            s: ScalarHex([0u8; 32]),
        };
        assert_eq!(
            verify_blind_signature(&dleq, &big_a, &big_a, &big_a),
            Err(EcashError::InvalidScalar { what: "DLEQ e" })
        );
    }

    #[test]
    fn nonce_is_deterministic() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let a = dhke::random_secret_key(&mut rng);
        let big_a = PublicKey::from_secret_key(&a);
        let b = PublicKey::from_secret_key(&dhke::random_secret_key(&mut rng));
        let c = dhke::sign_message(&a, &b).unwrap();
        let n1 = deterministic_nonce(&a, &big_a, &b, &c).unwrap();
        let n2 = deterministic_nonce(&a, &big_a, &b, &c).unwrap();
        assert_eq!(n1, n2);
        let b2 = PublicKey::from_secret_key(&dhke::random_secret_key(&mut rng));
        let c2 = dhke::sign_message(&a, &b2).unwrap();
        assert_ne!(n1, deterministic_nonce(&a, &big_a, &b2, &c2).unwrap());
    }
}
