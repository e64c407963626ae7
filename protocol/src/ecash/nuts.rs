//! Wire shapes with the Cashu NUT JSON field names (`amount`, `id`, `secret`,
//! `C`, `B_`, `C_`, `dleq {e, s, r}`), so that a Cashu wallet could read them
//! (NUT-00 proofs and blinded messages, NUT-12 DLEQ fields).

use core::fmt;

use rand_core::CryptoRng;
use secp256k1::{PublicKey, SecretKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Amount, EcashError, KeysetId, dhke};

/// Largest secret the mint accepts, in bytes (NUT-00 secrets are 64 hex
/// characters; spending conditions make them longer, never this long).
pub const MAX_SECRET_LEN: usize = 512;

/// A proof's secret `x`: by convention the hex encoding of 32 random bytes.
///
/// It is wiped from memory when dropped, and `Debug` never prints it
/// (whitepaper "Logging and Operational Hygiene").
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A fresh random secret: 32 random bytes, hex-encoded (NUT-00).
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let s = hex::encode(bytes);
        bytes.zeroize();
        Secret(s)
    }

    /// Wraps an existing secret string.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The bytes hashed to the curve: the UTF-8 of the secret string.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Fails with [`EcashError::SecretTooLong`] past [`MAX_SECRET_LEN`].
    pub fn check_len(&self) -> Result<(), EcashError> {
        if self.0.len() > MAX_SECRET_LEN {
            return Err(EcashError::SecretTooLong {
                len: self.0.len(),
                limit: MAX_SECRET_LEN,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A 32-byte scalar as it travels on the wire (hex). It is only turned into a
/// [`SecretKey`] when used, so an out-of-range value from a peer is a typed
/// error rather than a deserialization panic.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Zeroize)]
pub struct ScalarHex(pub [u8; 32]);

impl ScalarHex {
    /// The scalar as a secret key, or [`EcashError::InvalidScalar`].
    pub fn to_secret_key(&self, what: &'static str) -> Result<SecretKey, EcashError> {
        SecretKey::from_secret_bytes(self.0).map_err(|_| EcashError::InvalidScalar { what })
    }
}

impl From<SecretKey> for ScalarHex {
    fn from(sk: SecretKey) -> Self {
        ScalarHex(sk.to_secret_bytes())
    }
}

impl fmt::Debug for ScalarHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScalarHex({})", hex::encode(self.0))
    }
}

impl Serialize for ScalarHex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for ScalarHex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(ScalarHex(out))
    }
}

/// The DLEQ proof a mint attaches to a blind signature (NUT-12, for Alice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindSignatureDleq {
    /// DLEQ challenge `e` (NUT-12).
    pub e: ScalarHex,
    /// DLEQ response `s` (NUT-12).
    pub s: ScalarHex,
}

/// The DLEQ proof carried by a proof, with the blinding factor `r`, so that a
/// payee (Carol) can verify it offline from the mint's public keys (NUT-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofDleq {
    /// DLEQ challenge `e` (NUT-12).
    pub e: ScalarHex,
    /// DLEQ response `s` (NUT-12).
    pub s: ScalarHex,
    /// Blinding factor used when the proof was minted.
    pub r: ScalarHex,
}

/// A blinded message `B_` sent to the mint for signing (NUT-00).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindedMessage {
    /// Denomination requested.
    pub amount: Amount,
    /// Keyset that should sign it.
    pub id: KeysetId,
    /// `B_ = Y + rG`.
    #[serde(rename = "B_")]
    pub blinded_secret: PublicKey,
}

/// The mint's blind signature `C_ = kB_` (NUT-00), with its DLEQ proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindSignature {
    /// Denomination signed.
    pub amount: Amount,
    /// Keyset that signed it.
    pub id: KeysetId,
    /// The mint's blind signature `C_ = k·B_` (NUT-00).
    #[serde(rename = "C_")]
    pub c: PublicKey,
    /// NUT-12 proof that `C_` was made with the keyset's key for `amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dleq: Option<BlindSignatureDleq>,
}

/// A spendable ecash proof `(x, C)` (NUT-00).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Denomination, a power of two.
    pub amount: Amount,
    /// Keyset that signed it.
    pub id: KeysetId,
    /// The secret `x`.
    pub secret: Secret,
    /// The unblinded signature `C = k * hash_to_curve(x)`.
    #[serde(rename = "C")]
    pub c: PublicKey,
    /// NUT-12 proof for offline verification by the payee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dleq: Option<ProofDleq>,
}

impl Proof {
    /// `Y = hash_to_curve(secret)`: the key of the mint's spent set.
    pub fn y(&self) -> Result<PublicKey, EcashError> {
        dhke::hash_to_curve(self.secret.as_bytes())
    }
}

/// Identifies a mint or melt quote.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuoteId(pub [u8; 16]);

impl QuoteId {
    /// A fresh random quote id.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        QuoteId(b)
    }
}

impl fmt::Display for QuoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for QuoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuoteId({self})")
    }
}

impl Serialize for QuoteId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for QuoteId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 16];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(QuoteId(out))
    }
}

/// Decodes NUT JSON from a peer; any failure is [`EcashError::Decode`].
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, EcashError> {
    serde_json::from_slice(bytes).map_err(|e| EcashError::Decode {
        what,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_never_prints_the_secret() {
        let s = Secret::new("deadbeef-very-private");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn long_secrets_are_refused() {
        let s = Secret::new("a".repeat(MAX_SECRET_LEN + 1));
        assert_eq!(
            s.check_len(),
            Err(EcashError::SecretTooLong {
                len: MAX_SECRET_LEN + 1,
                limit: MAX_SECRET_LEN
            })
        );
        assert!(Secret::new("a".repeat(MAX_SECRET_LEN)).check_len().is_ok());
    }

    #[test]
    fn proof_json_uses_nut_field_names() {
        let json = r#"{"amount":8,"id":"00456a94ab4e1c46","secret":"acc12435e7b8484c3cf1850149218af90f716a52bf4a5ed347e48ecc13f77388","C":"0244538319de485d55bed3b29a642bee5879375ab9e7a620e11e48ba482421f3cf","dleq":{"e":"b31e58ac6527f34975ffab13e70a48b6d2b0d35abc4b03f0151f09ee1a9763d4","s":"8fbae004c59e754d71df67e392b6ae4e29293113ddc2ec86592a0431d16306d8","r":"a6d13fcd7a18442e6076f5e1e7c887ad5de40a019824bdfa9fe740d302e8d861"}}"#;
        let proof: Proof = decode_json(json.as_bytes(), "Proof").unwrap();
        assert_eq!(proof.amount, Amount::new(8));
        assert!(proof.dleq.is_some());
        let back = serde_json::to_value(&proof).unwrap();
        for field in ["amount", "id", "secret", "C", "dleq"] {
            assert!(back.get(field).is_some(), "missing {field}");
        }
        let dleq = back.get("dleq").unwrap();
        for field in ["e", "s", "r"] {
            assert!(dleq.get(field).is_some(), "missing dleq.{field}");
        }
    }

    #[test]
    fn bad_wire_bytes_are_decode_errors() {
        let err = decode_json::<Proof>(b"{\"amount\":1}", "Proof").unwrap_err();
        assert!(matches!(err, EcashError::Decode { what: "Proof", .. }));
        let bad_point = r#"{"amount":1,"id":"00456a94ab4e1c46","B_":"05aa"}"#;
        assert!(decode_json::<BlindedMessage>(bad_point.as_bytes(), "BlindedMessage").is_err());
    }
}
