//! Signed quotes (whitepaper "Malicious Service Nodes": pre-declared signed
//! pricing; "Minimal Viable Protocol": deterministic quote format).
//!
//! A quote fixes, for one model, the prices per million input and output
//! tokens, the most output tokens one request may bill, the prepaid chunk
//! size, the mints accepted and a validity window. It is signed by the
//! service's identity key over a canonical encoding; its id (a hash of that
//! encoding) is what the client pins for the session.

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::MarketError;
use super::price::Price;
use crate::codec::Writer;
use crate::fidelity::CryptoFidelity;
use crate::identity::{Identity, NodeId, verify_signature};
use crate::time::Instant;

const DOMAIN: &[u8] = b"peer2prompt/quote/v1";

/// Identifies a quote: the first 16 bytes of SHA-256 of its canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QuoteId(pub [u8; 16]);

impl fmt::Debug for QuoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuoteId({})", hex::encode(self.0))
    }
}

/// A service's terms for one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The service (Ghost or GPU node).
    pub service: NodeId,
    /// Model name.
    pub model: String,
    /// Price of input tokens.
    pub input: Price,
    /// Price of output tokens.
    pub output: Price,
    /// Most output tokens one request may bill (the cap).
    pub max_output_tokens: u32,
    /// Prepaid chunk: the service streams this much value before asking again.
    pub chunk_msat: u64,
    /// Mints whose ecash is accepted.
    pub mints: Vec<String>,
    /// Start of validity.
    pub valid_from: Instant,
    /// End of validity.
    pub valid_until: Instant,
    /// Distinguishes quotes with otherwise equal terms.
    pub serial: u64,
}

impl Quote {
    /// The canonical encoding that is signed and hashed.
    pub fn canonical(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(DOMAIN);
        w.bytes(&self.service.0);
        w.string(&self.model);
        w.u64(self.input.msat_per_mtok);
        w.u64(self.output.msat_per_mtok);
        w.u64(u64::from(self.max_output_tokens));
        w.u64(self.chunk_msat);
        w.u16(self.mints.len().min(usize::from(u16::MAX)) as u16);
        for m in &self.mints {
            w.string(m);
        }
        w.u64(self.valid_from.as_nanos());
        w.u64(self.valid_until.as_nanos());
        w.u64(self.serial);
        w.into_inner()
    }

    /// The quote id.
    pub fn id(&self) -> QuoteId {
        let h = Sha256::digest(self.canonical());
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[..16]);
        QuoteId(id)
    }

    /// The most a request under this quote can cost, for `input_tokens` of
    /// input and up to the cap of output.
    pub fn cap_msat(&self, input_tokens: u64) -> u64 {
        self.input
            .cost_msat(input_tokens)
            .saturating_add(self.output.cost_msat(u64::from(self.max_output_tokens)))
    }
}

/// A quote with the service's identity signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedQuote {
    /// The terms.
    pub quote: Quote,
    /// The service's Ed25519 identity key.
    pub identity_key: [u8; 32],
    /// Signature over the canonical encoding.
    pub signature: Vec<u8>,
}

impl SignedQuote {
    /// Signs `quote` (whose `service` must be `identity`'s node id).
    pub fn sign(identity: &Identity, quote: Quote) -> Self {
        assert_eq!(
            quote.service,
            identity.node_id(),
            "a service signs only its own quotes"
        );
        let signature = identity.sign(&quote.canonical()).to_vec();
        SignedQuote {
            quote,
            identity_key: identity.claim().identity_key,
            signature,
        }
    }

    /// Checks the signature (at `fidelity`), that the key is the service's,
    /// and validity at `now`.
    pub fn verify(&self, now: Instant, fidelity: CryptoFidelity) -> Result<QuoteId, MarketError> {
        if NodeId::from_identity_key(&self.identity_key) != self.quote.service {
            return Err(MarketError::ForgedQuote);
        }
        let sig: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| MarketError::ForgedQuote)?;
        verify_signature(
            fidelity,
            &self.identity_key,
            &self.quote.canonical(),
            &sig,
            "quote",
        )
        .map_err(|_| MarketError::ForgedQuote)?;
        let q = &self.quote;
        if now < q.valid_from || now > q.valid_until {
            return Err(MarketError::QuoteNotValid {
                from: q.valid_from,
                until: q.valid_until,
                now,
            });
        }
        Ok(q.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn quote(service: NodeId) -> Quote {
        Quote {
            service,
            model: "gpt-4o".into(),
            input: Price {
                msat_per_mtok: 5_000_000,
            },
            output: Price {
                msat_per_mtok: 20_000_000,
            },
            max_output_tokens: 4096,
            chunk_msat: 20_000,
            mints: vec!["mint-a".into()],
            valid_from: Instant::ZERO,
            valid_until: Instant::ZERO + Duration::from_secs(600),
            serial: 1,
        }
    }

    #[test]
    fn signed_quotes_verify_and_tampering_is_caught() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let id = Identity::generate(&mut rng, 0);
        let sq = SignedQuote::sign(&id, quote(id.node_id()));
        assert_eq!(
            sq.verify(Instant::ZERO, CryptoFidelity::Full).unwrap(),
            sq.quote.id()
        );
        let mut cheaper = sq.clone();
        cheaper.quote.output.msat_per_mtok -= 1;
        assert_eq!(
            cheaper.verify(Instant::ZERO, CryptoFidelity::Full),
            Err(MarketError::ForgedQuote)
        );
        let late = Instant::ZERO + Duration::from_secs(601);
        assert!(matches!(
            sq.verify(late, CryptoFidelity::Full),
            Err(MarketError::QuoteNotValid { .. })
        ));
        // Another node cannot pass off a quote as this service's.
        let other = Identity::generate(&mut rng, 0);
        let mut stolen = SignedQuote::sign(&other, quote(other.node_id()));
        stolen.quote.service = id.node_id();
        assert_eq!(
            stolen.verify(Instant::ZERO, CryptoFidelity::Full),
            Err(MarketError::ForgedQuote)
        );
    }

    #[test]
    fn the_encoding_is_canonical() {
        // Two separately built, equal quotes encode identically.
        let q = quote(NodeId([7; 32]));
        assert_eq!(q.canonical(), quote(NodeId([7; 32])).canonical());
        assert_eq!(q.id(), quote(NodeId([7; 32])).id());
        let mut r = q.clone();
        r.serial = 2;
        assert_ne!(q.id(), r.id());
        // Cap: 1000 input tokens at 5 msat + 4096 output tokens at 20 msat.
        assert_eq!(q.cap_msat(1000), 5_000 + 81_920);
    }
}
