//! Detailed capabilities over an encrypted request/response (whitepaper
//! "Peer Discovery (DHT)": detailed capabilities are fetched over encrypted
//! request/response to limit crawl-based profiling).
//!
//! The DHT holds only a salted commitment. A client that wants the details
//! sends the advertiser an ephemeral X25519 key; both derive a one-time key
//! from it and the advertiser's epoch onion key; the advertiser answers with
//! `salt || capabilities` under ChaCha20-Poly1305. The client checks the answer
//! against the commitment in the advert, so the advertiser cannot show
//! different clients different details. Nodes storing the advert see none of it.

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use super::DhtError;
use super::advert::commit_capabilities;

const INFO: &[u8] = b"peer2prompt/capabilities-fetch/v1";
const TAG_LEN: usize = 16;

/// Largest capabilities blob, in bytes.
pub const MAX_CAPABILITIES: usize = 16 * 1024;

/// The client's request: an ephemeral public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapabilityRequest {
    /// Ephemeral X25519 public key.
    pub ephemeral: [u8; 32],
}

/// The advertiser's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityResponse {
    /// AEAD nonce.
    pub nonce: [u8; 12],
    /// `tag || ciphertext` of `salt || capabilities`.
    pub sealed: Vec<u8>,
}

/// What the client keeps until the answer arrives.
pub struct CapabilityFetch {
    key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for CapabilityFetch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CapabilityFetch(<key>)")
    }
}

fn derive(
    shared: &[u8; 32],
    ephemeral: &[u8; 32],
    onion: &[u8; 32],
) -> Result<Zeroizing<[u8; 32]>, DhtError> {
    let mut ikm = Zeroizing::new([0u8; 96]);
    ikm[..32].copy_from_slice(shared);
    ikm[32..64].copy_from_slice(ephemeral);
    ikm[64..].copy_from_slice(onion);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, &ikm[..])
        .expand(INFO, &mut key[..])
        .map_err(|_| DhtError::CapabilityFetch {
            reason: "key derivation",
        })?;
    Ok(key)
}

/// Client: a request to the advertiser whose epoch onion key is `onion_key`.
pub fn request(
    onion_key: &[u8; 32],
    rng: &mut impl CryptoRng,
) -> Result<(CapabilityRequest, CapabilityFetch), DhtError> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let e = StaticSecret::from(seed);
    seed.zeroize();
    let ephemeral = PublicKey::from(&e).to_bytes();
    let shared = e.diffie_hellman(&PublicKey::from(*onion_key));
    if !shared.was_contributory() {
        return Err(DhtError::CapabilityFetch {
            reason: "non-contributory onion key",
        });
    }
    let key = derive(shared.as_bytes(), &ephemeral, onion_key)?;
    Ok((CapabilityRequest { ephemeral }, CapabilityFetch { key }))
}

/// Advertiser: answers with `salt || capabilities` under the derived key.
pub fn respond(
    onion_secret: &StaticSecret,
    req: &CapabilityRequest,
    salt: &[u8; 16],
    capabilities: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<CapabilityResponse, DhtError> {
    if capabilities.len() > MAX_CAPABILITIES {
        return Err(DhtError::CapabilityFetch {
            reason: "capabilities too large",
        });
    }
    let onion = PublicKey::from(onion_secret).to_bytes();
    let shared = onion_secret.diffie_hellman(&PublicKey::from(req.ephemeral));
    if !shared.was_contributory() {
        return Err(DhtError::CapabilityFetch {
            reason: "non-contributory ephemeral key",
        });
    }
    let key = derive(shared.as_bytes(), &req.ephemeral, &onion)?;
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let mut body = Vec::with_capacity(TAG_LEN + 16 + capabilities.len());
    body.extend_from_slice(&[0u8; TAG_LEN]);
    body.extend_from_slice(salt);
    body.extend_from_slice(capabilities);
    let tag = ChaCha20Poly1305::new(&(*key).into())
        .encrypt_inout_detached(&nonce.into(), &req.ephemeral, (&mut body[TAG_LEN..]).into())
        .map_err(|_| DhtError::CapabilityFetch { reason: "seal" })?;
    body[..TAG_LEN].copy_from_slice(&tag);
    Ok(CapabilityResponse {
        nonce,
        sealed: body,
    })
}

/// Client: opens the answer and checks it against the advert's commitment.
pub fn open(
    fetch: &CapabilityFetch,
    req: &CapabilityRequest,
    resp: &CapabilityResponse,
    commitment: &[u8; 32],
) -> Result<Vec<u8>, DhtError> {
    if resp.sealed.len() < TAG_LEN + 16 || resp.sealed.len() > TAG_LEN + 16 + MAX_CAPABILITIES {
        return Err(DhtError::CapabilityFetch {
            reason: "answer length",
        });
    }
    let mut plain = resp.sealed[TAG_LEN..].to_vec();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&resp.sealed[..TAG_LEN]);
    ChaCha20Poly1305::new(&(*fetch.key).into())
        .decrypt_inout_detached(
            &resp.nonce.into(),
            &req.ephemeral,
            (&mut plain[..]).into(),
            &tag.into(),
        )
        .map_err(|_| DhtError::CapabilityFetch {
            reason: "answer does not authenticate",
        })?;
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&plain[..16]);
    let caps = plain[16..].to_vec();
    if commit_capabilities(&salt, &caps) != *commitment {
        return Err(DhtError::CapabilityFetch {
            reason: "answer does not match the advert's commitment",
        });
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn fetched_capabilities_match_the_commitment_and_nothing_else_does() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let onion = StaticSecret::from([5u8; 32]);
        let onion_pk = PublicKey::from(&onion).to_bytes();
        let salt = [9u8; 16];
        let caps = b"gpt-4o in 5.00 out 20.00 /Mtok, cap 4096".to_vec();
        let commitment = commit_capabilities(&salt, &caps);

        let (req, fetch) = request(&onion_pk, &mut rng).unwrap();
        let resp = respond(&onion, &req, &salt, &caps, &mut rng).unwrap();
        assert_eq!(open(&fetch, &req, &resp, &commitment).unwrap(), caps);
        // The answer is not readable without the client's ephemeral secret.
        assert!(!resp.sealed.windows(6).any(|w| w == b"gpt-4o"));
        // Different details than committed are refused.
        let lie = respond(&onion, &req, &salt, b"gpt-4o in 0.01", &mut rng).unwrap();
        assert!(open(&fetch, &req, &lie, &commitment).is_err());
        // Tampering is refused.
        let mut bad = resp;
        bad.sealed[20] ^= 1;
        assert!(open(&fetch, &req, &bad, &commitment).is_err());
    }
}
