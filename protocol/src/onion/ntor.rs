//! The ntor handshake, exactly as the Tor specification defines it (PROTOID
//! `ntor-curve25519-sha256-1`; whitepaper "Cryptographic Packet Sketch":
//! an authenticated per-session key exchange, ntor-style).
//!
//! Both sides use fresh ephemeral keys (`x`, `y`) and erase them, and the
//! shared `secret_input`, as soon as the keys are derived. A relay's long-term
//! onion key `b` alone therefore cannot recover a recorded session: that needs
//! `x` or `y` too (the forward secrecy the whitepaper's security note asks for).
//!
//! Key exchange only; the layer crypto that uses the keys is in `layer`.
//!
//! Under [`CryptoFidelity::ElideCrypto`] (simulation only, `crate::fidelity`)
//! the ephemeral public keys and the two X25519 products are hashes:
//! `X = SHA-256(d_pub || x)`, and `EXP(a, B) = SHA-256(d_dh || min(A, B) ||
//! max(A, B))` over the two public keys. Every size, random draw, check and
//! the whole key schedule stay; a wrong onion key is still refused and a
//! changed `Y` or `AUTH` still fails the MAC. The product is computable from
//! the two public keys by code that knows the scheme, which no node does.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use super::OnionError;
use crate::fidelity::CryptoFidelity;

/// The protocol id.
pub const PROTOID: &[u8] = b"ntor-curve25519-sha256-1";
const T_MAC: &[u8] = b"ntor-curve25519-sha256-1:mac";
const T_KEY: &[u8] = b"ntor-curve25519-sha256-1:key_extract";
const T_VERIFY: &[u8] = b"ntor-curve25519-sha256-1:verify";
const M_EXPAND: &[u8] = b"ntor-curve25519-sha256-1:key_expand";

/// Client handshake message: `ID (20) || B (32) || X (32)`.
pub const ONIONSKIN_LEN: usize = 84;
/// Server reply: `Y (32) || AUTH (32)`.
pub const REPLY_LEN: usize = 64;

/// `X25519(k, u)` for each `k`, all on the same point `u`.
///
/// Same result as the Montgomery ladder (X25519 clamps `k`, and a clamped
/// scalar times either Edwards lift of `u` has the same u-coordinate), but
/// through the Edwards form when `u` lifts: the variable-base Edwards
/// multiplication uses the SIMD backend, and one lift serves every scalar.
/// Points that do not lift (the twist, `u = -1`) take the ladder.
fn x25519_on(u: &[u8; 32], scalars: &[&StaticSecret]) -> Vec<[u8; 32]> {
    let point = MontgomeryPoint(*u);
    match point.to_edwards(0) {
        Some(e) => {
            let products: Vec<EdwardsPoint> = scalars
                .iter()
                .map(|k| e.mul_clamped(k.to_bytes()))
                .collect();
            EdwardsPoint::to_montgomery_batch(&products)
                .into_iter()
                .map(|m| m.0)
                .collect()
        }
        None => scalars
            .iter()
            .map(|k| point.mul_clamped(k.to_bytes()).0)
            .collect(),
    }
}

/// Domain separators of the elided public key and product.
const ELIDED_PUBLIC: &[u8] = b"peer2prompt/elided-x25519/public/v1";
const ELIDED_EXP: &[u8] = b"peer2prompt/elided-x25519/exp/v1";

/// An ephemeral public key: `k·G`, or under `ElideCrypto` `SHA-256(d || k)`.
fn public_of(k: &StaticSecret, fidelity: CryptoFidelity) -> PublicKey {
    match fidelity {
        CryptoFidelity::Full => PublicKey::from(k),
        CryptoFidelity::ElideCrypto => {
            let h: [u8; 32] = Sha256::new()
                .chain_update(ELIDED_PUBLIC)
                .chain_update(k.as_bytes())
                .finalize()
                .into();
            PublicKey::from(h)
        }
    }
}

/// The elided `EXP` of the holders of `a` and `b`: the same from either
/// side, distinct for every pair of keys, never all zero in practice.
fn elided_exp(a: &PublicKey, b: &PublicKey) -> [u8; 32] {
    let (lo, hi) = if a.as_bytes() <= b.as_bytes() {
        (a, b)
    } else {
        (b, a)
    };
    Sha256::new()
        .chain_update(ELIDED_EXP)
        .chain_update(lo.as_bytes())
        .chain_update(hi.as_bytes())
        .finalize()
        .into()
}

/// Refuses an all-zero shared secret (a small-order peer key).
fn contributory(shared: &[u8; 32]) -> Result<(), OnionError> {
    if shared.iter().all(|b| *b == 0) {
        return Err(OnionError::HandshakeFailed {
            reason: "non-contributory key",
        });
    }
    Ok(())
}

/// `H(x, t) = HMAC-SHA256(key = t, message = x)`.
fn h(t: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], OnionError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(t)
        .map_err(|_| OnionError::HandshakeFailed { reason: "hmac key" })?;
    for p in parts {
        mac.update(p);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// The client's state between sending the onionskin and receiving the reply.
pub struct NtorClient {
    id: [u8; 20],
    b: PublicKey,
    x: StaticSecret,
    big_x: PublicKey,
    fidelity: CryptoFidelity,
}

impl core::fmt::Debug for NtorClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NtorClient(<ephemeral>)")
    }
}

impl NtorClient {
    /// Starts a handshake with the relay whose ntor id is `id` and onion key
    /// is `b`, at `fidelity`.
    pub fn new(
        id: [u8; 20],
        b: [u8; 32],
        fidelity: CryptoFidelity,
        rng: &mut impl CryptoRng,
    ) -> (Self, [u8; ONIONSKIN_LEN]) {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let x = StaticSecret::from(seed);
        seed.zeroize();
        Self::with_ephemeral(id, b, x, fidelity)
    }

    /// As [`NtorClient::new`] with a given ephemeral secret (test vectors).
    pub fn with_ephemeral(
        id: [u8; 20],
        b: [u8; 32],
        x: StaticSecret,
        fidelity: CryptoFidelity,
    ) -> (Self, [u8; ONIONSKIN_LEN]) {
        let big_x = public_of(&x, fidelity);
        let mut skin = [0u8; ONIONSKIN_LEN];
        skin[..20].copy_from_slice(&id);
        skin[20..52].copy_from_slice(&b);
        skin[52..].copy_from_slice(big_x.as_bytes());
        let state = NtorClient {
            id,
            b: PublicKey::from(b),
            x,
            big_x,
            fidelity,
        };
        (state, skin)
    }

    /// `EXP(x, u)` at this handshake's fidelity.
    fn exp(&self, u: &PublicKey) -> [u8; 32] {
        match self.fidelity {
            CryptoFidelity::Full => x25519_on(u.as_bytes(), &[&self.x])[0],
            CryptoFidelity::ElideCrypto => elided_exp(&self.big_x, u),
        }
    }

    /// Checks the server's `AUTH` and derives `key_len` bytes of key material.
    /// Consumes (and so erases) the ephemeral secret.
    pub fn finish(
        self,
        reply: &[u8; REPLY_LEN],
        key_len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, OnionError> {
        let mut y = [0u8; 32];
        y.copy_from_slice(&reply[..32]);
        let big_y = PublicKey::from(y);
        let mut xy = Zeroizing::new(self.exp(&big_y));
        let mut xb = Zeroizing::new(self.exp(&self.b));
        contributory(&xy)?;
        contributory(&xb)?;
        let secret_input = secret_input(&xy, &xb, &self.id, &self.b, &self.big_x, &big_y);
        let verify = h(T_VERIFY, &[&secret_input])?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(T_MAC)
            .map_err(|_| OnionError::HandshakeFailed { reason: "hmac key" })?;
        for part in [
            &verify[..],
            &self.id,
            self.b.as_bytes(),
            big_y.as_bytes(),
            self.big_x.as_bytes(),
            PROTOID,
            b"Server",
        ] {
            mac.update(part);
        }
        xy.zeroize();
        xb.zeroize();
        mac.verify_slice(&reply[32..])
            .map_err(|_| OnionError::HandshakeFailed {
                reason: "server AUTH does not verify",
            })?;
        expand(&secret_input, key_len)
    }
}

/// A relay's onion key pair as the server side of ntor uses it.
#[derive(Clone, Copy)]
pub struct OnionKeyPair<'a> {
    /// The secret `b`.
    pub secret: &'a StaticSecret,
    /// Its public key `B`, as the keyring holds it: derived from `b` when
    /// the key was made (`identity::OnionKeyring`), so it is not derived
    /// again per handshake.
    pub public: &'a [u8; 32],
}

/// The server side: answers an onionskin addressed to `my_id` with onion
/// key pair `b`, at `fidelity`. Returns the reply and `key_len` bytes of
/// key material; the ephemeral `y` is dropped (erased) before returning.
pub fn server_respond(
    my_id: &[u8; 20],
    b: OnionKeyPair<'_>,
    skin: &[u8; ONIONSKIN_LEN],
    key_len: usize,
    fidelity: CryptoFidelity,
    rng: &mut impl CryptoRng,
) -> Result<([u8; REPLY_LEN], Zeroizing<Vec<u8>>), OnionError> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let y = StaticSecret::from(seed);
    seed.zeroize();
    server_respond_with(my_id, b, skin, key_len, y, fidelity)
}

/// As [`server_respond`] with a given ephemeral secret (test vectors).
pub fn server_respond_with(
    my_id: &[u8; 20],
    b: OnionKeyPair<'_>,
    skin: &[u8; ONIONSKIN_LEN],
    key_len: usize,
    y: StaticSecret,
    fidelity: CryptoFidelity,
) -> Result<([u8; REPLY_LEN], Zeroizing<Vec<u8>>), OnionError> {
    if skin[..20] != my_id[..] {
        return Err(OnionError::HandshakeFailed {
            reason: "onionskin is for another relay",
        });
    }
    // The keyring's copy of `B` (it found `b` by it).
    let big_b = PublicKey::from(*b.public);
    if skin[20..52] != big_b.as_bytes()[..] {
        return Err(OnionError::UnknownOnionKey);
    }
    let mut xb = [0u8; 32];
    xb.copy_from_slice(&skin[52..]);
    let big_x = PublicKey::from(xb);
    let big_y = public_of(&y, fidelity);
    let shared = Zeroizing::new(match fidelity {
        // One Edwards lift of X serves both multiplications.
        CryptoFidelity::Full => x25519_on(big_x.as_bytes(), &[&y, b.secret]),
        CryptoFidelity::ElideCrypto => {
            vec![elided_exp(&big_y, &big_x), elided_exp(&big_b, &big_x)]
        }
    });
    drop(y);
    contributory(&shared[0])?;
    contributory(&shared[1])?;
    let secret_input = secret_input(&shared[0], &shared[1], my_id, &big_b, &big_x, &big_y);
    let verify = h(T_VERIFY, &[&secret_input])?;
    let auth = h(
        T_MAC,
        &[
            &verify,
            my_id,
            big_b.as_bytes(),
            big_y.as_bytes(),
            big_x.as_bytes(),
            PROTOID,
            b"Server",
        ],
    )?;
    let mut reply = [0u8; REPLY_LEN];
    reply[..32].copy_from_slice(big_y.as_bytes());
    reply[32..].copy_from_slice(&auth);
    Ok((reply, expand(&secret_input, key_len)?))
}

/// `EXP(.,.) | EXP(.,.) | ID | B | X | Y | PROTOID`, wiped on drop.
fn secret_input(
    e1: &[u8; 32],
    e2: &[u8; 32],
    id: &[u8; 20],
    b: &PublicKey,
    x: &PublicKey,
    y: &PublicKey,
) -> Zeroizing<Vec<u8>> {
    let mut s = Zeroizing::new(Vec::with_capacity(204));
    for part in [
        &e1[..],
        &e2[..],
        &id[..],
        b.as_bytes(),
        x.as_bytes(),
        y.as_bytes(),
        PROTOID,
    ] {
        s.extend_from_slice(part);
    }
    s
}

/// `HKDF-SHA256(salt = t_key, IKM = secret_input, info = m_expand)`.
fn expand(secret_input: &[u8], key_len: usize) -> Result<Zeroizing<Vec<u8>>, OnionError> {
    let hk = Hkdf::<Sha256>::new(Some(T_KEY), secret_input);
    let mut okm = Zeroizing::new(vec![0u8; key_len]);
    hk.expand(M_EXPAND, &mut okm)
        .map_err(|_| OnionError::HandshakeFailed {
            reason: "key length",
        })?;
    Ok(okm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    #[test]
    fn edwards_path_equals_the_montgomery_ladder_on_every_kind_of_point() {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let mut points: Vec<[u8; 32]> = Vec::new();
        for _ in 0..64 {
            // Random u-coordinates: about half are on the curve, half on the twist.
            let mut u = [0u8; 32];
            rng.fill_bytes(&mut u);
            u[31] &= 0x7f;
            points.push(u);
        }
        // Low-order points and edge cases: 0, 1, -1 (p - 1), p + 1.
        points.push([0u8; 32]);
        let mut one = [0u8; 32];
        one[0] = 1;
        points.push(one);
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        points.push(minus_one);
        for u in points {
            let mut a = [0u8; 32];
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut a);
            rng.fill_bytes(&mut b);
            let ka = StaticSecret::from(a);
            let kb = StaticSecret::from(b);
            let fast = x25519_on(&u, &[&ka, &kb]);
            let pk = PublicKey::from(u);
            assert_eq!(
                fast[0],
                *ka.diffie_hellman(&pk).as_bytes(),
                "u = {}",
                hex::encode(u)
            );
            assert_eq!(fast[1], *kb.diffie_hellman(&pk).as_bytes());
        }
    }
}
