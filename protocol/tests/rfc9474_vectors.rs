//! RFC 9474 Appendix A test vectors for the blind RSA signatures behind
//! LLM-Tor's tokens, copied into `tests/data/rfc9474_vectors.json`.
//!
//! All four variants are checked through `blind-rsa-signatures`; the one
//! LLM-Tor uses (RSABSSA-SHA384-PSS-Randomized) is also checked through
//! our own [`IssuerKey`] and [`IssuerPublicKey`]: blind signing and
//! verification must reproduce the RFC's bytes.
#![allow(clippy::unwrap_used)]

use blind_rsa_signatures::{
    BlindSignature, HashAlgorithm, MessagePrepare, PSS, PSSZero, Randomized, SaltMode, SecretKey,
    Sha384,
};
use peer2prompt::baselines::llm_tor::IssuerKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::{BoxedUint, RsaPrivateKey};

struct Vector {
    name: String,
    n: BoxedUint,
    e: BoxedUint,
    d: BoxedUint,
    p: BoxedUint,
    q: BoxedUint,
    inv: BoxedUint,
    msg: Vec<u8>,
    msg_prefix: Vec<u8>,
    salt: Vec<u8>,
    blinded_msg: Vec<u8>,
    blind_sig: Vec<u8>,
    sig: Vec<u8>,
}

fn field<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("vector field {k} is a string"))
}

fn uint(v: &serde_json::Value, k: &str) -> BoxedUint {
    let s = field(v, k).trim_start_matches("0x");
    BoxedUint::from_str_radix_vartime(s, 16).unwrap()
}

fn bytes(v: &serde_json::Value, k: &str) -> Vec<u8> {
    hex::decode(field(v, k)).unwrap()
}

fn vectors() -> Vec<Vector> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("data/rfc9474_vectors.json")).unwrap();
    all.iter()
        .map(|v| Vector {
            name: field(v, "name").to_owned(),
            n: uint(v, "n"),
            e: uint(v, "e"),
            d: uint(v, "d"),
            p: uint(v, "p"),
            q: uint(v, "q"),
            inv: uint(v, "inv"),
            msg: bytes(v, "msg"),
            msg_prefix: bytes(v, "msg_prefix"),
            salt: bytes(v, "salt"),
            blinded_msg: bytes(v, "blinded_msg"),
            blind_sig: bytes(v, "blind_sig"),
            sig: bytes(v, "sig"),
        })
        .collect()
}

/// Replays the RFC's random draws: randomizer, salt, blinding factor.
struct Replay(Vec<Vec<u8>>);

impl rand_core::TryRng for Replay {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        panic!("the blinding draws bytes only")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        panic!("the blinding draws bytes only")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.copy_from_slice(&self.0.remove(0));
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Replay {}

fn secret<H: HashAlgorithm, S: SaltMode, M: MessagePrepare>(v: &Vector) -> SecretKey<H, S, M> {
    let inner = RsaPrivateKey::from_components(
        v.n.clone(),
        v.e.clone(),
        v.d.clone(),
        vec![v.p.clone(), v.q.clone()],
    )
    .unwrap();
    SecretKey::new(inner)
}

fn check<H: HashAlgorithm, S: SaltMode, M: MessagePrepare>(v: &Vector) {
    let sk = secret::<H, S, M>(v);
    let pk = sk.public_key().unwrap();
    // The crate blinds with r = inv^-1 mod n, read little-endian.
    let r = v.inv.invert_mod(&v.n.to_nz().unwrap()).unwrap();
    let mut draws = Vec::new();
    if M::RANDOMIZE {
        draws.push(v.msg_prefix.clone());
    }
    draws.push(v.salt.clone());
    draws.push(r.to_le_bytes().to_vec());
    let blinded = pk.blind(&mut Replay(draws), &v.msg).unwrap();
    assert_eq!(
        blinded.blind_message.0, v.blinded_msg,
        "{}: blinded_msg",
        v.name
    );
    let blind_sig = sk.blind_sign(&blinded.blind_message).unwrap();
    assert_eq!(blind_sig.0, v.blind_sig, "{}: blind_sig", v.name);
    let sig = pk
        .finalize(&BlindSignature(v.blind_sig.clone()), &blinded, &v.msg)
        .unwrap();
    assert_eq!(sig.0, v.sig, "{}: sig", v.name);
}

#[test]
fn all_four_rfc9474_variants_reproduce_the_vectors() {
    let vs = vectors();
    assert_eq!(vs.len(), 4);
    for v in &vs {
        match v.name.as_str() {
            "RSABSSA-SHA384-PSS-Randomized" => check::<Sha384, PSS, Randomized>(v),
            "RSABSSA-SHA384-PSSZERO-Randomized" => check::<Sha384, PSSZero, Randomized>(v),
            "RSABSSA-SHA384-PSS-Deterministic" => {
                check::<Sha384, PSS, blind_rsa_signatures::Deterministic>(v)
            }
            "RSABSSA-SHA384-PSSZERO-Deterministic" => {
                check::<Sha384, PSSZero, blind_rsa_signatures::Deterministic>(v)
            }
            other => panic!("unexpected vector {other}"),
        }
    }
}

#[test]
fn llm_tor_issuer_signs_and_verifies_the_rfc_vector() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "RSABSSA-SHA384-PSS-Randomized")
        .unwrap();
    let key = IssuerKey::from_secret(secret(&v)).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    assert_eq!(
        key.blind_sign(&mut rng, &v.blinded_msg).unwrap(),
        v.blind_sig
    );
    let prefix: [u8; 32] = v.msg_prefix.clone().try_into().unwrap();
    let public = key.public();
    public.verify_message(&v.msg, &prefix, &v.sig).unwrap();
    let mut bad = v.sig.clone();
    bad[10] ^= 1;
    assert!(public.verify_message(&v.msg, &prefix, &bad).is_err());
    assert!(public.verify_message(&v.msg[1..], &prefix, &v.sig).is_err());
}
