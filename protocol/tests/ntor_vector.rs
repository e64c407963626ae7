//! The ntor handshake against the public Tor test vector
//! (`tests/data/ntor.json`, copied from the shared vectors).
#![allow(clippy::unwrap_used)]

use peer2prompt::fidelity::CryptoFidelity;
use peer2prompt::onion::ntor::{
    NtorClient, OnionKeyPair, PROTOID, server_respond, server_respond_with,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::Value;
use x25519_dalek::{PublicKey, StaticSecret};

const FULL: CryptoFidelity = CryptoFidelity::Full;
const ELIDED: CryptoFidelity = CryptoFidelity::ElideCrypto;

/// The vector's relay: its onion secret `b`, public key `B` and ntor id.
fn relay() -> (StaticSecret, [u8; 32], [u8; 20]) {
    let v = v();
    (
        StaticSecret::from(bytes::<32>(&v, "b_sk")),
        bytes(&v, "b_pk"),
        bytes(&v, "id"),
    )
}

fn pair<'a>(secret: &'a StaticSecret, public: &'a [u8; 32]) -> OnionKeyPair<'a> {
    OnionKeyPair { secret, public }
}

fn v() -> Value {
    serde_json::from_str(include_str!("data/ntor.json")).unwrap()
}

fn bytes<const N: usize>(v: &Value, k: &str) -> [u8; N] {
    hex::decode(v[k].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn ntor_matches_the_tor_vector() {
    let v = v();
    assert_eq!(v["protoid"].as_str().unwrap().as_bytes(), PROTOID);
    let b = StaticSecret::from(bytes::<32>(&v, "b_sk"));
    let b_pk: [u8; 32] = bytes(&v, "b_pk");
    assert_eq!(PublicKey::from(&b).to_bytes(), b_pk);
    let x = StaticSecret::from(bytes::<32>(&v, "x_sk"));
    let y = StaticSecret::from(bytes::<32>(&v, "y_sk"));
    let id: [u8; 20] = bytes(&v, "id");

    let (client, skin) = NtorClient::with_ephemeral(id, bytes(&v, "b_pk"), x, FULL);
    assert_eq!(skin, bytes::<84>(&v, "client_handshake"));

    let (reply, server_keys) =
        server_respond_with(&id, pair(&b, &b_pk), &skin, 72, y, FULL).unwrap();
    assert_eq!(reply, bytes::<64>(&v, "server_handshake"));
    assert_eq!(&server_keys[..], &bytes::<72>(&v, "keys_72")[..]);

    let client_keys = client.finish(&reply, 72).unwrap();
    assert_eq!(&client_keys[..], &server_keys[..]);
}

#[test]
fn a_forged_server_reply_is_refused() {
    let (b, b_pk, id) = relay();
    let (client, skin) = NtorClient::with_ephemeral(id, b_pk, StaticSecret::from([1u8; 32]), FULL);
    let (mut reply, _) = server_respond_with(
        &id,
        pair(&b, &b_pk),
        &skin,
        72,
        StaticSecret::from([2u8; 32]),
        FULL,
    )
    .unwrap();
    reply[40] ^= 1;
    assert!(client.finish(&reply, 72).is_err());
    // An onionskin for another relay id is refused by the server.
    let mut other = skin;
    other[0] ^= 1;
    assert!(
        server_respond_with(
            &id,
            pair(&b, &b_pk),
            &other,
            72,
            StaticSecret::from([2u8; 32]),
            FULL
        )
        .is_err()
    );
}

/// One handshake at `fidelity` from `seed`: the onionskin, the reply, both
/// sides' keys, and the next draw of the shared stream afterwards.
fn handshake(fidelity: CryptoFidelity, seed: u64) -> ([u8; 84], [u8; 64], Vec<u8>, Vec<u8>, u64) {
    let (b, b_pk, id) = relay();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (client, skin) = NtorClient::new(id, b_pk, fidelity, &mut rng);
    let (reply, server) =
        server_respond(&id, pair(&b, &b_pk), &skin, 72, fidelity, &mut rng).unwrap();
    let keys = client.finish(&reply, 72).unwrap();
    (skin, reply, keys.to_vec(), server.to_vec(), rng.next_u64())
}

#[test]
fn the_elided_handshake_keeps_layout_draws_and_agreement() {
    let (f_skin, f_reply, f_client, f_server, f_next) = handshake(FULL, 9);
    let (e_skin, e_reply, e_client, e_server, e_next) = handshake(ELIDED, 9);
    assert_eq!(f_client, f_server);
    assert_eq!(e_client, e_server, "both elided sides derive the same keys");
    assert_eq!(f_skin[..52], e_skin[..52], "ID and B are the same bytes");
    assert_ne!(f_skin[52..], e_skin[52..], "X is the elided stand-in");
    assert_ne!(f_reply, e_reply);
    assert_ne!(f_client, e_client);
    assert_eq!(f_next, e_next, "both levels draw the same randomness");
}

#[test]
fn the_elided_handshake_still_fails_where_ntor_fails() {
    let (b, b_pk, id) = relay();
    let y = || StaticSecret::from([2u8; 32]);
    let x = || StaticSecret::from([1u8; 32]);
    let (client, skin) = NtorClient::with_ephemeral(id, b_pk, x(), ELIDED);
    let (mut reply, _) = server_respond_with(&id, pair(&b, &b_pk), &skin, 72, y(), ELIDED).unwrap();
    reply[40] ^= 1;
    assert!(client.finish(&reply, 72).is_err(), "a changed AUTH");
    let (client, skin) = NtorClient::with_ephemeral(id, b_pk, x(), ELIDED);
    let (mut reply, _) = server_respond_with(&id, pair(&b, &b_pk), &skin, 72, y(), ELIDED).unwrap();
    reply[3] ^= 1;
    assert!(client.finish(&reply, 72).is_err(), "a changed Y");
    let mut other = skin;
    other[25] ^= 1;
    assert!(
        server_respond_with(&id, pair(&b, &b_pk), &other, 72, y(), ELIDED).is_err(),
        "an onionskin for another onion key"
    );
    // A full-fidelity client cannot finish with an elided server.
    let (client, skin) = NtorClient::with_ephemeral(id, b_pk, x(), FULL);
    let (reply, _) = server_respond_with(&id, pair(&b, &b_pk), &skin, 72, y(), ELIDED).unwrap();
    assert!(client.finish(&reply, 72).is_err(), "levels do not mix");
}
