//! The ntor handshake against the public Tor test vector
//! (`tests/data/ntor.json`, copied from the shared vectors).
#![allow(clippy::unwrap_used)]

use peer2prompt::onion::ntor::{NtorClient, PROTOID, server_respond_with};
use serde_json::Value;
use x25519_dalek::{PublicKey, StaticSecret};

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
    assert_eq!(PublicKey::from(&b).to_bytes(), bytes::<32>(&v, "b_pk"));
    let x = StaticSecret::from(bytes::<32>(&v, "x_sk"));
    let y = StaticSecret::from(bytes::<32>(&v, "y_sk"));
    let id: [u8; 20] = bytes(&v, "id");

    let (client, skin) = NtorClient::with_ephemeral(id, bytes(&v, "b_pk"), x);
    assert_eq!(skin, bytes::<84>(&v, "client_handshake"));

    let (reply, server_keys) = server_respond_with(&id, &b, &skin, 72, y).unwrap();
    assert_eq!(reply, bytes::<64>(&v, "server_handshake"));
    assert_eq!(&server_keys[..], &bytes::<72>(&v, "keys_72")[..]);

    let client_keys = client.finish(&reply, 72).unwrap();
    assert_eq!(&client_keys[..], &server_keys[..]);
}

#[test]
fn a_forged_server_reply_is_refused() {
    let v = v();
    let b = StaticSecret::from(bytes::<32>(&v, "b_sk"));
    let id: [u8; 20] = bytes(&v, "id");
    let (client, skin) =
        NtorClient::with_ephemeral(id, bytes(&v, "b_pk"), StaticSecret::from([1u8; 32]));
    let (mut reply, _) =
        server_respond_with(&id, &b, &skin, 72, StaticSecret::from([2u8; 32])).unwrap();
    reply[40] ^= 1;
    assert!(client.finish(&reply, 72).is_err());
    // An onionskin for another relay id is refused by the server.
    let mut other = skin;
    other[0] ^= 1;
    assert!(server_respond_with(&id, &b, &other, 72, StaticSecret::from([2u8; 32])).is_err());
}
