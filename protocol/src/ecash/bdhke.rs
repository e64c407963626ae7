//! The blind-signature steps at a crypto fidelity ([`CryptoFidelity`]).
//!
//! Under `Full` each step is NUT-00's BDHKE ([`dhke`]) and NUT-12's DLEQ
//! ([`dleq`]). Under `ElideCrypto` (simulation only) the scalar
//! multiplications are replaced by hashing onto the curve: every point is
//! still a valid 33-byte secp256k1 point and every scalar 32 bytes, the same
//! random draws are made, and each check fails for the wrong key, a changed
//! message or a forged proof as the real one does:
//!
//! - `B_ = H2C("B_" || x || r)` (hiding `x` from the mint without `r`);
//! - `C_ = H2C("C_" || K || B_)`, `C = H2C("C" || K || x)` (from the secret
//!   itself, which every checker of `C` holds, rather than from `Y`);
//! - the DLEQ `(e, s)`: `e = SHA-256("e" || K || B_ || C_)`, `s = SHA-256("s" || e)`.
//!
//! The wallet's unblinding checks `C_` before deriving `C` from its secret,
//! as the real DLEQ check does before `C_ - rK`.

use rand_core::CryptoRng;
use secp256k1::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};

use super::nuts::{BlindSignatureDleq, ProofDleq, ScalarHex};
use super::{EcashError, dhke, dleq};
use crate::fidelity::CryptoFidelity;

/// Domain separator of the elided points and scalars.
const ELIDED_DOMAIN: &[u8] = b"peer2prompt/elided-bdhke/v1/";

/// A valid point hashed from `tag` and `parts` (NUT-00's hash_to_curve over
/// the domain-separated concatenation).
fn point(tag: &[u8], parts: &[&[u8]]) -> Result<PublicKey, EcashError> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(ELIDED_DOMAIN);
    m.extend_from_slice(tag);
    for p in parts {
        m.extend_from_slice(p);
    }
    dhke::hash_to_curve(&m)
}

fn elided_dleq(big_k: &PublicKey, b_: &PublicKey, c_: &PublicKey) -> BlindSignatureDleq {
    let e: [u8; 32] = Sha256::new()
        .chain_update(ELIDED_DOMAIN)
        .chain_update(b"e")
        .chain_update(big_k.serialize())
        .chain_update(b_.serialize())
        .chain_update(c_.serialize())
        .finalize()
        .into();
    let s: [u8; 32] = Sha256::new()
        .chain_update(ELIDED_DOMAIN)
        .chain_update(b"s")
        .chain_update(e)
        .finalize()
        .into();
    BlindSignatureDleq {
        e: ScalarHex(e),
        s: ScalarHex(s),
    }
}

/// The wallet blinds `secret`: `(B_, r)`, `r` drawn from `rng` at either level.
pub(crate) fn blind(
    f: CryptoFidelity,
    secret: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<(PublicKey, SecretKey), EcashError> {
    match f {
        CryptoFidelity::Full => dhke::blind_message(secret, None, rng),
        CryptoFidelity::ElideCrypto => {
            let r = dhke::random_secret_key(rng);
            Ok((point(b"B_", &[secret, &r.to_secret_bytes()])?, r))
        }
    }
}

/// The mint signs `B_` with `k` (public `K`): `C_` and its DLEQ proof.
pub(crate) fn sign(
    f: CryptoFidelity,
    k: &SecretKey,
    big_k: &PublicKey,
    b_: &PublicKey,
) -> Result<(PublicKey, BlindSignatureDleq), EcashError> {
    match f {
        CryptoFidelity::Full => {
            let c_ = dhke::sign_message(k, b_)?;
            Ok((c_, dleq::prove(k, big_k, b_, &c_)?))
        }
        CryptoFidelity::ElideCrypto => {
            let c_ = point(b"C_", &[&big_k.serialize(), &b_.serialize()])?;
            Ok((c_, elided_dleq(big_k, b_, &c_)))
        }
    }
}

/// The wallet checks a blind signature's DLEQ and unblinds it into `C`.
pub(crate) fn unblind(
    f: CryptoFidelity,
    d: &BlindSignatureDleq,
    big_k: &PublicKey,
    b_: &PublicKey,
    c_: &PublicKey,
    r: &SecretKey,
    secret: &[u8],
) -> Result<PublicKey, EcashError> {
    match f {
        CryptoFidelity::Full => {
            dleq::verify_blind_signature(d, big_k, b_, c_)?;
            dhke::unblind_message(c_, r, big_k)
        }
        CryptoFidelity::ElideCrypto => {
            check_elided(d, big_k, b_, c_, "blind signature")?;
            unblinded(big_k, secret)
        }
    }
}

/// Elided `C = H2C("C" || K || x)`.
fn unblinded(big_k: &PublicKey, secret: &[u8]) -> Result<PublicKey, EcashError> {
    point(b"C", &[&big_k.serialize(), secret])
}

/// The elided DLEQ check: `C_` is `K`'s signature on `B_` and `(e, s)` its proof.
fn check_elided(
    d: &BlindSignatureDleq,
    big_k: &PublicKey,
    b_: &PublicKey,
    c_: &PublicKey,
    what: &'static str,
) -> Result<(), EcashError> {
    let signed = point(b"C_", &[&big_k.serialize(), &b_.serialize()])? == *c_;
    let proof = elided_dleq(big_k, b_, c_);
    if !signed || proof.e != d.e || proof.s != d.s {
        return Err(EcashError::DleqInvalid { what });
    }
    Ok(())
}

/// The mint checks a proof's `C` for `secret`, whose `Y` is `y`, under `k`.
pub(crate) fn verify(
    f: CryptoFidelity,
    k: &SecretKey,
    big_k: &PublicKey,
    (secret, y): (&[u8], &PublicKey),
    c: &PublicKey,
) -> Result<bool, EcashError> {
    match f {
        CryptoFidelity::Full => Ok(dhke::sign_message(k, y)? == *c),
        CryptoFidelity::ElideCrypto => Ok(unblinded(big_k, secret)? == *c),
    }
}

/// Carol's offline check of a proof `(x, C, e, s, r)` against `K`.
pub(crate) fn verify_proof(
    f: CryptoFidelity,
    secret: &[u8],
    c: &PublicKey,
    d: &ProofDleq,
    big_k: &PublicKey,
) -> Result<(), EcashError> {
    match f {
        CryptoFidelity::Full => dleq::verify_proof(secret, c, d, big_k),
        CryptoFidelity::ElideCrypto => {
            let r = d.r.to_secret_key("DLEQ r")?;
            let b_ = point(b"B_", &[secret, &r.to_secret_bytes()])?;
            let c_ = point(b"C_", &[&big_k.serialize(), &b_.serialize()])?;
            let sig = BlindSignatureDleq { e: d.e, s: d.s };
            check_elided(&sig, big_k, &b_, &c_, "proof")?;
            if unblinded(big_k, secret)? != *c {
                return Err(EcashError::DleqInvalid { what: "proof" });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// The whole issuance at `f`: blind, sign, unblind, the mint's check and
    /// Carol's; then the wrong key, message and proof fail each check.
    fn round_trip_at(f: CryptoFidelity) {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let k = dhke::random_secret_key(&mut rng);
        let big_k = PublicKey::from_secret_key(&k);
        let other = dhke::random_secret_key(&mut rng);
        let big_other = PublicKey::from_secret_key(&other);
        let secret = b"elided or not";
        let (b_, r) = blind(f, secret, &mut rng).unwrap();
        let (c_, d) = sign(f, &k, &big_k, &b_).unwrap();
        let c = unblind(f, &d, &big_k, &b_, &c_, &r, secret).unwrap();
        let y = dhke::hash_to_curve(secret).unwrap();
        assert!(verify(f, &k, &big_k, (secret, &y), &c).unwrap());
        let proof = ProofDleq {
            e: d.e,
            s: d.s,
            r: ScalarHex::from(r),
        };
        verify_proof(f, secret, &c, &proof, &big_k).unwrap();
        // Wrong key, message, proof.
        assert!(unblind(f, &d, &big_other, &b_, &c_, &r, secret).is_err());
        let y2 = dhke::hash_to_curve(b"another").unwrap();
        assert!(!verify(f, &k, &big_k, (b"another", &y2), &c).unwrap());
        assert!(!verify(f, &other, &big_other, (secret, &y), &c).unwrap());
        assert!(verify_proof(f, b"another", &c, &proof, &big_k).is_err());
        assert!(verify_proof(f, secret, &c, &proof, &big_other).is_err());
        let mut forged = d;
        forged.s.0[0] ^= 1;
        assert!(unblind(f, &forged, &big_k, &b_, &c_, &r, secret).is_err());
        let (c2, _) = sign(f, &other, &big_other, &b_).unwrap();
        assert!(unblind(f, &d, &big_k, &b_, &c2, &r, secret).is_err());
    }

    #[test]
    fn issuance_and_its_checks_hold_at_full_fidelity() {
        round_trip_at(CryptoFidelity::Full);
    }

    #[test]
    fn issuance_and_its_checks_hold_under_elide_crypto() {
        round_trip_at(CryptoFidelity::ElideCrypto);
    }

    #[test]
    fn both_levels_draw_the_same_randomness() {
        let draw = |f| {
            let mut rng = ChaCha20Rng::seed_from_u64(5);
            let (_, r) = blind(f, b"x", &mut rng).unwrap();
            (r.to_secret_bytes(), rand_core::Rng::next_u64(&mut rng))
        };
        assert_eq!(
            draw(CryptoFidelity::Full),
            draw(CryptoFidelity::ElideCrypto)
        );
    }
}
