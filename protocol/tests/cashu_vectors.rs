//! Conformance with the public Cashu vectors (NUT-00, NUT-02, NUT-12), copied
//! into `tests/data/cashu.json` so the project tests without `../shared`.
#![allow(clippy::unwrap_used)] // test helpers: a malformed vector should fail loudly

use std::collections::BTreeMap;

use peer2prompt::ecash::dhke::{
    PublicKey, SecretKey, blind_message, hash_to_curve, sign_message, unblind_message,
};
use peer2prompt::ecash::dleq;
use peer2prompt::ecash::{Amount, CurrencyUnit, KeySet, Keys, KeysetId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/cashu.json")).expect("vector file is JSON")
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string field")
}

fn point(v: &Value) -> PublicKey {
    PublicKey::from_slice(&hex::decode(s(v)).unwrap()).unwrap()
}

fn scalar(v: &Value) -> SecretKey {
    let b: [u8; 32] = hex::decode(s(v)).unwrap().try_into().unwrap();
    SecretKey::from_secret_bytes(b).unwrap()
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0)
}

#[test]
fn hash_to_curve_vectors() {
    let v = vectors();
    let cases = v["hash_to_curve"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let msg = hex::decode(s(&case["message_hex"])).unwrap();
        assert_eq!(hash_to_curve(&msg).unwrap(), point(&case["point"]));
    }
}

#[test]
fn blinded_message_vectors() {
    let v = vectors();
    let cases = v["blinded_messages"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let x = hex::decode(s(&case["x_hex"])).unwrap();
        let r = scalar(&case["r"]);
        let (b, r_out) = blind_message(&x, Some(r), &mut rng()).unwrap();
        assert_eq!(b, point(&case["B_"]));
        assert_eq!(r_out, r);
    }
}

#[test]
fn blind_signature_vectors() {
    let v = vectors();
    let cases = v["blind_signatures"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let c = sign_message(&scalar(&case["k"]), &point(&case["B_"])).unwrap();
        assert_eq!(c, point(&case["C_"]));
    }
}

#[test]
fn unblind_vectors() {
    let v = vectors();
    for case in v["unblind"].as_array().unwrap() {
        let c =
            unblind_message(&point(&case["C_"]), &scalar(&case["r"]), &point(&case["K"])).unwrap();
        assert_eq!(c, point(&case["C"]));
    }
}

#[test]
fn utf8_secret_flow() {
    let v = vectors();
    let f = &v["utf8_secret_flow"];
    let secret = s(&f["secret_utf8"]).as_bytes();
    let r = scalar(&f["r"]);
    let (b, _) = blind_message(secret, Some(r), &mut rng()).unwrap();
    assert_eq!(b, point(&f["B_"]));

    let k_7f = scalar(&Value::String("7f".repeat(32)));
    assert_eq!(sign_message(&k_7f, &b).unwrap(), point(&f["k_7f_C_"]));

    // Unblind with C_ = B_ and K the point with compressed encoding 02 00..01.
    let k = point(&Value::String(format!("02{:064x}", 1)));
    assert_eq!(
        unblind_message(&b, &r, &k).unwrap(),
        point(&f["unblind_with_C__equal_B__and_K_equal_02_00..01"])
    );
}

fn vector_keys(v: &Value) -> Keys {
    let keys: BTreeMap<Amount, PublicKey> = v["keyset_id"]["keys"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(a, p)| (Amount::new(a.parse().unwrap()), point(p)))
        .collect();
    Keys(keys)
}

#[test]
fn keyset_id_v1_vector() {
    let v = vectors();
    let keys = vector_keys(&v);
    let expected: KeysetId = s(&v["keyset_id"]["v1"]["id"]).parse().unwrap();
    assert_eq!(keys.derive_id_v1(), expected);
}

#[test]
fn keyset_id_v2_vector() {
    let v = vectors();
    let keys = vector_keys(&v);
    let v2 = &v["keyset_id"]["v2"];
    let expected: KeysetId = s(&v2["id"]).parse().unwrap();
    let unit = CurrencyUnit(s(&v2["unit"]).to_owned());
    let fee = v2["input_fee_ppk"].as_u64().unwrap();
    let expiry = v2["final_expiry"].as_u64();
    assert_eq!(keys.derive_id_v2(&unit, fee, expiry), expected);

    // A published keyset with that id verifies; changing the fee breaks it.
    let mut ks = KeySet {
        id: expected,
        unit,
        active: true,
        input_fee_ppk: fee,
        final_expiry: expiry,
        keys,
    };
    ks.verify_id().unwrap();
    ks.input_fee_ppk = 0;
    assert!(ks.verify_id().is_err());
}

#[test]
fn dleq_hash_e_vector() {
    let v = vectors();
    let h = &v["dleq"]["hash_e"];
    let e = dleq::hash_e(&[
        &point(&h["R1"]),
        &point(&h["R2"]),
        &point(&h["K"]),
        &point(&h["C_"]),
    ]);
    assert_eq!(hex::encode(e), s(&h["e"]));
}

#[test]
fn dleq_deterministic_nonce_vector() {
    let v = vectors();
    let d = &v["dleq"]["deterministic_nonce"];
    let a = scalar(&d["a"]);
    let big_a = point(&d["A"]);
    assert_eq!(PublicKey::from_secret_key(&a), big_a);
    let b_ = point(&d["B_"]);
    let c_ = point(&d["C_"]);
    assert_eq!(sign_message(&a, &b_).unwrap(), c_);
    let proof = dleq::prove(&a, &big_a, &b_, &c_).unwrap();
    assert_eq!(hex::encode(proof.e.0), s(&d["e"]));
    assert_eq!(hex::encode(proof.s.0), s(&d["s"]));
    dleq::verify_blind_signature(&proof, &big_a, &b_, &c_).unwrap();
}
