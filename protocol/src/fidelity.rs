//! Crypto fidelity: which implementation of the expensive primitives runs.
//!
//! - [`CryptoFidelity::Full`] (the default, and the only level the live
//!   driver accepts) runs Ed25519, BDHKE and DLEQ as specified.
//! - [`CryptoFidelity::ElideCrypto`] is for large simulations. It keeps every
//!   size, layout, random draw and accept/reject decision of the protocol,
//!   and replaces curve arithmetic with hashing:
//!   - Ed25519 signing, verification and key parsing become SHA-256 over the
//!     signer's public key and the message (here);
//!   - Cashu's blind signatures and DLEQ proofs become points hashed onto
//!     secp256k1 and SHA-256 tags (`ecash/bdhke.rs`);
//!   - ntor's ephemeral keys and X25519 products become SHA-256 over the
//!     secret and over the two public keys (`onion/ntor.rs`).
//!
//!   A signature or proof still fails under the wrong key, over a changed
//!   message, or when forged by anyone who signs with their own key. It is
//!   not unforgeable against code that computes the elided tag for another
//!   node's key, which no node in the simulator does.
//!
//! What stays real under `ElideCrypto`: key generation (node ids derive from
//! identity keys; onion keys are real X25519 pairs), the identity proof of
//! work, the onion layers (ChaCha20-Poly1305), the X25519 of the DHT's
//! capability fetch (rare), and the LLM-Tor baseline's RSA blind
//! signatures. In the scenarios profiled (README, "Crypto fidelity") they
//! are a small share of the CPU.
//!
//! One decision differs by construction: under `ElideCrypto` an Ed25519 key
//! is not checked to be a point of the curve. Every key in the simulator
//! comes from real key generation, so none fails that check under `Full`
//! either.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which implementation of signatures and blind signatures a node runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CryptoFidelity {
    /// Ed25519, BDHKE and DLEQ, as specified.
    #[default]
    Full,
    /// Hashing of the same sizes in their place (simulation only).
    ElideCrypto,
}

impl CryptoFidelity {
    /// True for [`CryptoFidelity::Full`] (serde's `skip_serializing_if`).
    pub fn is_full(&self) -> bool {
        *self == CryptoFidelity::Full
    }

    /// The name scenarios and manifests use.
    pub fn name(&self) -> &'static str {
        match self {
            CryptoFidelity::Full => "full",
            CryptoFidelity::ElideCrypto => "elide_crypto",
        }
    }
}

/// Domain separator of the elided signature.
const ELIDED_SIG_DOMAIN: &[u8] = b"peer2prompt/elided-ed25519/v1";

/// The elided signature of `message` by the holder of `public_key`:
/// `t || SHA-256(t)` with `t = SHA-256(domain || public_key || message)`,
/// 64 bytes like an Ed25519 signature.
pub(crate) fn elided_signature(public_key: &[u8; 32], message: &[u8]) -> [u8; 64] {
    let tag: [u8; 32] = Sha256::new()
        .chain_update(ELIDED_SIG_DOMAIN)
        .chain_update(public_key)
        .chain_update(message)
        .finalize()
        .into();
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&tag);
    sig[32..].copy_from_slice(&Sha256::digest(tag));
    sig
}

/// Whether `signature` is the elided signature of `message` under `public_key`.
pub(crate) fn elided_verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    elided_signature(public_key, message) == *signature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_elided_signature_fails_under_another_key_message_or_bit() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let sig = elided_signature(&k1, b"advert");
        assert!(elided_verify(&k1, b"advert", &sig));
        assert!(!elided_verify(&k2, b"advert", &sig));
        assert!(!elided_verify(&k1, b"advert!", &sig));
        for bit in [0, 255, 256, 511] {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!elided_verify(&k1, b"advert", &bad), "bit {bit}");
        }
    }

    #[test]
    fn names_round_trip_through_serde() {
        for f in [CryptoFidelity::Full, CryptoFidelity::ElideCrypto] {
            let s = serde_json::to_string(&f).unwrap();
            assert_eq!(s, format!("\"{}\"", f.name()));
            assert_eq!(serde_json::from_str::<CryptoFidelity>(&s).unwrap(), f);
        }
    }
}
