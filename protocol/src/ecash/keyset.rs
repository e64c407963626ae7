//! Keysets: one mint key per power-of-two denomination, with ids derived from
//! the keys (Cashu NUT-01, NUT-02; whitepaper "Mint Trust and Federation":
//! public key continuity).
//!
//! A wallet recomputes every keyset id from the keys it was served, so a mint
//! cannot present different keys under a familiar id.

use core::fmt;
use core::str::FromStr;
use std::collections::BTreeMap;

use rand_core::CryptoRng;
use secp256k1::{PublicKey, SecretKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::{Amount, EcashError, dhke};

/// Most denominations a keyset may have: amounts `2^0 ..= 2^63`.
pub const MAX_ORDER: u8 = 64;

/// A keyset id (NUT-02).
///
/// - Version `00` (v1): `00 || SHA256(keys sorted by amount)[..7]`, 8 bytes.
/// - Version `01` (v2): `01 || SHA256(preimage)`, 33 bytes, where the preimage
///   commits to amounts, keys, unit, `input_fee_ppk` and `final_expiry`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeysetId {
    /// Version 00, kept for compatibility with older wallets.
    V1([u8; 8]),
    /// Version 01, the current derivation.
    V2([u8; 33]),
}

impl KeysetId {
    /// The raw id bytes, version byte first.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            KeysetId::V1(b) => b,
            KeysetId::V2(b) => b,
        }
    }
}

impl fmt::Display for KeysetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for KeysetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeysetId({self})")
    }
}

impl FromStr for KeysetId {
    type Err = EcashError;
    fn from_str(s: &str) -> Result<Self, EcashError> {
        let bad = |reason: &str| EcashError::Decode {
            what: "KeysetId",
            reason: format!("{reason}: {s:.80}"),
        };
        let bytes = hex::decode(s).map_err(|_| bad("not hex"))?;
        match (bytes.first(), bytes.len()) {
            (Some(0x00), 8) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes);
                Ok(KeysetId::V1(b))
            }
            (Some(0x01), 33) => {
                let mut b = [0u8; 33];
                b.copy_from_slice(&bytes);
                Ok(KeysetId::V2(b))
            }
            _ => Err(bad("unknown version or length")),
        }
    }
}

impl Serialize for KeysetId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for KeysetId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The unit a keyset counts in (`sat` by default).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CurrencyUnit(pub String);

impl Default for CurrencyUnit {
    fn default() -> Self {
        CurrencyUnit("sat".to_owned())
    }
}

impl fmt::Display for CurrencyUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mint's public keys, one per denomination (NUT-01 `keys`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Keys(pub BTreeMap<Amount, PublicKey>);

impl Keys {
    /// The key for `amount`, if the keyset has that denomination.
    pub fn amount_key(&self, amount: Amount) -> Option<&PublicKey> {
        self.0.get(&amount)
    }

    /// v1 id: `00 || first 7 bytes of SHA256(compressed keys sorted by amount)`.
    pub fn derive_id_v1(&self) -> KeysetId {
        let mut h = Sha256::new();
        for key in self.0.values() {
            h.update(key.serialize());
        }
        let digest = h.finalize();
        let mut id = [0u8; 8];
        id[1..].copy_from_slice(&digest[..7]);
        KeysetId::V1(id)
    }

    /// v2 id: `01 || SHA256("amt:key,...|unit:U[|input_fee_ppk:F][|final_expiry:T]")`,
    /// with the fee omitted when zero.
    pub fn derive_id_v2(
        &self,
        unit: &CurrencyUnit,
        input_fee_ppk: u64,
        final_expiry: Option<u64>,
    ) -> KeysetId {
        let pairs: Vec<String> = self
            .0
            .iter()
            .map(|(amount, key)| format!("{amount}:{}", hex::encode(key.serialize())))
            .collect();
        let mut preimage = pairs.join(",");
        preimage.push_str("|unit:");
        preimage.push_str(&unit.0.to_lowercase());
        if input_fee_ppk != 0 {
            preimage.push_str(&format!("|input_fee_ppk:{input_fee_ppk}"));
        }
        if let Some(expiry) = final_expiry {
            preimage.push_str(&format!("|final_expiry:{expiry}"));
        }
        let digest = Sha256::digest(preimage.as_bytes());
        let mut id = [0u8; 33];
        id[0] = 0x01;
        id[1..].copy_from_slice(&digest);
        KeysetId::V2(id)
    }
}

/// A keyset as the mint publishes it (NUT-01/NUT-02).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    /// Keyset id (v2 for keysets this crate creates).
    pub id: KeysetId,
    /// Currency unit (NUT-00; this testbed uses `sat`).
    pub unit: CurrencyUnit,
    /// Whether the mint signs new outputs with it; retired keysets still redeem.
    pub active: bool,
    /// Fee per input, in parts per thousand of one unit (NUT-02).
    #[serde(default)]
    pub input_fee_ppk: u64,
    /// Unix time after which the keyset is void, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_expiry: Option<u64>,
    /// The public keys.
    pub keys: Keys,
}

impl KeySet {
    /// The id this keyset's contents derive to, in the version of `self.id`.
    pub fn derived_id(&self) -> KeysetId {
        match self.id {
            KeysetId::V1(_) => self.keys.derive_id_v1(),
            KeysetId::V2(_) => {
                self.keys
                    .derive_id_v2(&self.unit, self.input_fee_ppk, self.final_expiry)
            }
        }
    }

    /// Fails with [`EcashError::KeysetIdMismatch`] unless the id matches the keys.
    pub fn verify_id(&self) -> Result<(), EcashError> {
        let derived = self.derived_id();
        if derived != self.id {
            return Err(EcashError::KeysetIdMismatch {
                claimed: self.id,
                derived,
            });
        }
        Ok(())
    }

    /// The legacy v1 id of the same keys, for compatibility lookups.
    pub fn v1_id(&self) -> KeysetId {
        self.keys.derive_id_v1()
    }

    /// The key for `amount`, or [`EcashError::UnsupportedAmount`].
    pub fn key_for(&self, amount: Amount) -> Result<&PublicKey, EcashError> {
        self.keys
            .amount_key(amount)
            .ok_or(EcashError::UnsupportedAmount {
                keyset: self.id,
                amount,
            })
    }
}

/// Total input fee for inputs with the given per-input `input_fee_ppk`s:
/// `ceil(sum(ppk) / 1000)` (NUT-02).
pub fn input_fee(ppks: impl IntoIterator<Item = u64>) -> Amount {
    let total: u128 = ppks.into_iter().map(u128::from).sum();
    let fee = total.div_ceil(1000);
    Amount::new(u64::try_from(fee).unwrap_or(u64::MAX))
}

/// A keyset with its private keys: what the mint holds.
#[derive(Clone)]
pub struct MintKeySet {
    keyset: KeySet,
    secrets: BTreeMap<Amount, SecretKey>,
}

impl fmt::Debug for MintKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintKeySet")
            .field("keyset", &self.keyset.id)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

impl MintKeySet {
    /// Generates a keyset with denominations `2^0 ..= 2^(max_order-1)`.
    pub fn generate(
        rng: &mut impl CryptoRng,
        unit: CurrencyUnit,
        max_order: u8,
        input_fee_ppk: u64,
        final_expiry: Option<u64>,
    ) -> Self {
        assert!(
            (1..=MAX_ORDER).contains(&max_order),
            "max_order must be in 1..=64"
        );
        let secrets: BTreeMap<Amount, SecretKey> = (0..max_order)
            .map(|i| (Amount::new(1u64 << i), dhke::random_secret_key(rng)))
            .collect();
        let keys = Keys(
            secrets
                .iter()
                .map(|(a, sk)| (*a, PublicKey::from_secret_key(sk)))
                .collect(),
        );
        let id = keys.derive_id_v2(&unit, input_fee_ppk, final_expiry);
        MintKeySet {
            keyset: KeySet {
                id,
                unit,
                active: true,
                input_fee_ppk,
                final_expiry,
                keys,
            },
            secrets,
        }
    }

    /// The public part.
    pub fn keyset(&self) -> &KeySet {
        &self.keyset
    }

    /// Marks the keyset retired: it redeems but signs nothing new.
    pub fn retire(&mut self) {
        self.keyset.active = false;
    }

    /// The private key for `amount`, or [`EcashError::UnsupportedAmount`].
    pub fn secret_for(&self, amount: Amount) -> Result<&SecretKey, EcashError> {
        self.secrets
            .get(&amount)
            .ok_or(EcashError::UnsupportedAmount {
                keyset: self.keyset.id,
                amount,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn generated_keysets_verify_and_have_power_of_two_amounts() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let ks = MintKeySet::generate(&mut rng, CurrencyUnit::default(), 8, 100, None);
        ks.keyset().verify_id().unwrap();
        let amounts: Vec<u64> = ks.keyset().keys.0.keys().map(|a| a.value()).collect();
        assert_eq!(amounts, vec![1, 2, 4, 8, 16, 32, 64, 128]);
        assert!(ks.secret_for(Amount::new(3)).is_err());
    }

    #[test]
    fn tampered_keys_fail_id_verification() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut ks = MintKeySet::generate(&mut rng, CurrencyUnit::default(), 4, 0, None)
            .keyset()
            .clone();
        let other = dhke::random_secret_key(&mut rng);
        ks.keys
            .0
            .insert(Amount::new(1), PublicKey::from_secret_key(&other));
        assert!(matches!(
            ks.verify_id(),
            Err(EcashError::KeysetIdMismatch { .. })
        ));
        // A different fee also changes the v2 id.
        let mut ks2 = MintKeySet::generate(&mut rng, CurrencyUnit::default(), 4, 0, None)
            .keyset()
            .clone();
        ks2.input_fee_ppk = 5;
        assert!(ks2.verify_id().is_err());
    }

    #[test]
    fn input_fee_rounds_up() {
        assert_eq!(input_fee([]), Amount::ZERO);
        assert_eq!(input_fee([100]), Amount::new(1));
        assert_eq!(input_fee([100; 10]), Amount::new(1));
        assert_eq!(input_fee([100; 11]), Amount::new(2));
        assert_eq!(input_fee([0; 50]), Amount::ZERO);
    }

    #[test]
    fn keyset_id_parsing_rejects_unknown_versions() {
        assert!("00456a94ab4e1c46".parse::<KeysetId>().is_ok());
        assert!("02456a94ab4e1c46".parse::<KeysetId>().is_err());
        assert!("00456a94".parse::<KeysetId>().is_err());
        assert!("zz".parse::<KeysetId>().is_err());
    }
}
