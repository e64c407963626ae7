//! Blind tokens (seed `004`, "Phase 2 — Blind Token Issuance"): RSA blind
//! signatures per RFC 9474, variant RSABSSA-SHA384-PSS-Randomized (the
//! RFC's recommended one), through the `blind-rsa-signatures` crate.
//!
//! A token is a random 32-byte message `T`; the client blinds it, the
//! issuer signs the blinded message without seeing `T`, and the client
//! unblinds to `(T, randomizer, S)`. The issuer cannot link `S` to the
//! issuance (RFC 9474 §7.3, "blindness").

use blind_rsa_signatures::{
    BlindSignature, BlindingResult, KeyPairSha384PSSRandomized, MessageRandomizer,
    PublicKeySha384PSSRandomized, SecretKeySha384PSSRandomized, Signature,
};
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::LlmTorError;

/// Modulus size of issuer keys (RFC 9474 §5 requires at least 2048 bits).
pub const MODULUS_BITS: usize = 2048;
/// Bytes of a token's random message `T`.
pub const NONCE_LEN: usize = 32;

/// A spent-set key: SHA-256 of the token's message `T`.
pub type TokenId = [u8; 32];

/// The issuer's key pair (the proxy's "Blind Signing Service").
#[derive(Clone, Debug)]
pub struct IssuerKey {
    secret: SecretKeySha384PSSRandomized,
    public: IssuerPublicKey,
}

/// The issuer's public key, which clients know in advance (the seed: "The
/// public keys used by the models are present at" the client's config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerPublicKey(PublicKeySha384PSSRandomized);

/// A finished token: what is redeemed with a prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The random message `T`.
    pub nonce: [u8; NONCE_LEN],
    /// RFC 9474's message randomizer (prepended to `T` before signing).
    pub randomizer: [u8; 32],
    /// The unblinded signature `S`.
    pub signature: Vec<u8>,
}

/// A token being issued: its message and the blinding the client keeps.
#[derive(Clone, Debug)]
pub struct PendingToken {
    nonce: [u8; NONCE_LEN],
    blinding: BlindingResult,
}

impl IssuerKey {
    /// A fresh key from `rng` (slow: RSA key generation).
    pub fn generate(rng: &mut ChaCha20Rng) -> Result<Self, LlmTorError> {
        let kp = KeyPairSha384PSSRandomized::generate(rng, MODULUS_BITS)
            .map_err(|e| LlmTorError::Key(e.to_string()))?;
        Ok(IssuerKey {
            secret: kp.sk,
            public: IssuerPublicKey(kp.pk),
        })
    }

    /// A key from its secret (e.g. RFC 9474's test key).
    pub fn from_secret(secret: SecretKeySha384PSSRandomized) -> Result<Self, LlmTorError> {
        let public = secret
            .public_key()
            .map_err(|e| LlmTorError::Key(e.to_string()))?;
        Ok(IssuerKey {
            secret,
            public: IssuerPublicKey(public),
        })
    }

    /// The public key.
    pub fn public(&self) -> &IssuerPublicKey {
        &self.public
    }

    /// Signs a blinded message (RFC 9474 `BlindSign`); `rng` only blinds
    /// the RSA operation against timing, the output does not depend on it.
    pub fn blind_sign(
        &self,
        rng: &mut ChaCha20Rng,
        blinded: &[u8],
    ) -> Result<Vec<u8>, LlmTorError> {
        let modulus = self.public.modulus_len();
        if blinded.len() != modulus {
            return Err(LlmTorError::MalformedBlindedMessage {
                got: blinded.len(),
                modulus,
            });
        }
        self.secret
            .blind_sign_with_rng(rng, blinded)
            .map(|s| s.0)
            .map_err(|_| LlmTorError::MalformedBlindedMessage {
                got: blinded.len(),
                modulus,
            })
    }
}

impl IssuerPublicKey {
    /// Bytes of the modulus (and of every blinded message and signature).
    pub fn modulus_len(&self) -> usize {
        self.0.components().n().len()
    }

    /// The key in DER (SubjectPublicKeyInfo), for configs and fingerprints.
    pub fn to_der(&self) -> Result<Vec<u8>, LlmTorError> {
        self.0.to_der().map_err(|e| LlmTorError::Key(e.to_string()))
    }

    /// Parses [`IssuerPublicKey::to_der`]'s output.
    pub fn from_der(der: &[u8]) -> Result<Self, LlmTorError> {
        PublicKeySha384PSSRandomized::from_der(der)
            .map(IssuerPublicKey)
            .map_err(|e| LlmTorError::Key(e.to_string()))
    }

    /// Draws a token message and blinds it (RFC 9474 `Blind`).
    pub fn blind(&self, rng: &mut ChaCha20Rng) -> Result<PendingToken, LlmTorError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let blinding = self
            .0
            .blind(rng, nonce)
            .map_err(|e| LlmTorError::Key(e.to_string()))?;
        Ok(PendingToken { nonce, blinding })
    }

    /// Unblinds the issuer's answer (RFC 9474 `Finalize`, which verifies).
    pub fn finalize(
        &self,
        pending: &PendingToken,
        blind_signature: &[u8],
    ) -> Result<Token, LlmTorError> {
        let sig = self
            .0
            .finalize(
                &BlindSignature(blind_signature.to_vec()),
                &pending.blinding,
                pending.nonce,
            )
            .map_err(|_| LlmTorError::BadBlindSignature)?;
        let randomizer = pending
            .blinding
            .msg_randomizer
            .ok_or(LlmTorError::BadBlindSignature)?;
        Ok(Token {
            nonce: pending.nonce,
            randomizer: randomizer.0,
            signature: sig.0,
        })
    }

    /// Checks a token's signature (RFC 9474 `Verify`).
    pub fn verify(&self, token: &Token) -> Result<(), LlmTorError> {
        self.verify_message(&token.nonce, &token.randomizer, &token.signature)
    }

    /// RFC 9474 `Verify` of `signature` over `randomizer || message`.
    pub fn verify_message(
        &self,
        message: &[u8],
        randomizer: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), LlmTorError> {
        self.0
            .verify(
                &Signature(signature.to_vec()),
                Some(MessageRandomizer(*randomizer)),
                message,
            )
            .map_err(|_| LlmTorError::BadToken)
    }
}

impl PendingToken {
    /// The blinded message sent to the issuer.
    pub fn blinded(&self) -> &[u8] {
        &self.blinding.blind_message.0
    }
}

impl Token {
    /// The spent-set key.
    pub fn id(&self) -> TokenId {
        Sha256::digest(self.nonce).into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand_core::SeedableRng;

    use super::*;

    fn key() -> (IssuerKey, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        (IssuerKey::generate(&mut rng).unwrap(), rng)
    }

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let (key, mut rng) = key();
        let pk = key.public();
        let pending = pk.blind(&mut rng).unwrap();
        assert_eq!(pending.blinded().len(), MODULUS_BITS / 8);
        let bs = key.blind_sign(&mut rng, pending.blinded()).unwrap();
        let token = pk.finalize(&pending, &bs).unwrap();
        pk.verify(&token).unwrap();
        let mut forged = token.clone();
        forged.nonce[0] ^= 1;
        assert_eq!(pk.verify(&forged), Err(LlmTorError::BadToken));
        let mut short = token.clone();
        short.signature.pop();
        assert_eq!(pk.verify(&short), Err(LlmTorError::BadToken));
        let other = IssuerKey::generate(&mut rng).unwrap();
        assert_eq!(other.public().verify(&token), Err(LlmTorError::BadToken));
        // A signature by the wrong key does not finalize.
        let wrong = other.blind_sign(&mut rng, pending.blinded()).unwrap();
        assert_eq!(
            pk.finalize(&pending, &wrong).err(),
            Some(LlmTorError::BadBlindSignature)
        );
    }

    #[test]
    fn malformed_blinded_messages_are_refused() {
        let (key, mut rng) = key();
        let err = key.blind_sign(&mut rng, &[1, 2, 3]).unwrap_err();
        assert_eq!(err.kind(), "malformed_blinded_message");
        // Not below the modulus.
        let err = key.blind_sign(&mut rng, &[0xff; 256]).unwrap_err();
        assert_eq!(err.kind(), "malformed_blinded_message");
    }

    fn shared() -> &'static (IssuerKey, PendingToken) {
        static KEY: std::sync::OnceLock<(IssuerKey, PendingToken)> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            let (key, mut rng) = key();
            let pending = key.public().blind(&mut rng).unwrap();
            (key, pending)
        })
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_signatures_and_tokens_are_errors_not_panics(
            sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            nonce in proptest::prelude::any::<[u8; 32]>(),
            randomizer in proptest::prelude::any::<[u8; 32]>(),
        ) {
            let (key, pending) = shared();
            proptest::prop_assert!(key.public().finalize(pending, &sig).is_err());
            let token = Token { nonce, randomizer, signature: sig.clone() };
            proptest::prop_assert_eq!(key.public().verify(&token), Err(LlmTorError::BadToken));
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            // Any 256 bytes below the modulus sign; anything else is refused.
            if sig.len() != 256 {
                proptest::prop_assert!(key.blind_sign(&mut rng, &sig).is_err());
            }
        }
    }

    #[test]
    fn public_keys_round_trip_through_der() {
        let (key, _) = key();
        let der = key.public().to_der().unwrap();
        assert_eq!(&IssuerPublicKey::from_der(&der).unwrap(), key.public());
        assert!(IssuerPublicKey::from_der(&der[1..]).is_err());
    }
}
