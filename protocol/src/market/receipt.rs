//! Response-integrity receipts and challenge probes (whitepaper "Malicious
//! Service Nodes": response-integrity receipts and client challenge probes).
//!
//! At the end of a request the service signs (quote id, token counts, amount
//! charged, SHA-256 of the response). The client checks it against what it
//! received and counted; a signed receipt that disagrees is evidence against
//! the service. A probe is a request whose right answer the client knows
//! (the backend must echo a nonce), so a service that fakes or drops
//! provider calls is caught.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::MarketError;
use super::quote::QuoteId;
use crate::codec::Writer;
use crate::fidelity::CryptoFidelity;
use crate::identity::{Identity, NodeId, verify_signature};

const DOMAIN: &[u8] = b"peer2prompt/receipt/v1";

/// What the service attests for one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The service.
    pub service: NodeId,
    /// The quote it was served under.
    pub quote: QuoteId,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens sent.
    pub output_tokens: u64,
    /// Amount charged.
    pub charged_msat: u64,
    /// SHA-256 of the whole response, in order.
    pub response_hash: [u8; 32],
}

impl Receipt {
    fn canonical(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(DOMAIN);
        w.bytes(&self.service.0);
        w.bytes(&self.quote.0);
        w.u64(self.input_tokens);
        w.u64(self.output_tokens);
        w.u64(self.charged_msat);
        w.bytes(&self.response_hash);
        w.into_inner()
    }
}

/// A receipt with the service's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// Signature over its canonical encoding.
    pub signature: Vec<u8>,
}

impl SignedReceipt {
    /// Signs `receipt`.
    pub fn sign(identity: &Identity, receipt: Receipt) -> Self {
        let signature = identity.sign(&receipt.canonical()).to_vec();
        SignedReceipt { receipt, signature }
    }

    /// Checks the signature under `identity_key` (the key of the quote) and
    /// that the receipt matches what the client received and counted.
    pub fn verify(
        &self,
        identity_key: &[u8; 32],
        quote: QuoteId,
        input_tokens: u64,
        output_tokens: u64,
        response_hash: &[u8; 32],
        fidelity: CryptoFidelity,
    ) -> Result<(), MarketError> {
        let sig: [u8; 64] =
            self.signature
                .as_slice()
                .try_into()
                .map_err(|_| MarketError::BadReceipt {
                    reason: "signature length",
                })?;
        verify_signature(
            fidelity,
            identity_key,
            &self.receipt.canonical(),
            &sig,
            "receipt",
        )
        .map_err(|_| MarketError::BadReceipt {
            reason: "signature",
        })?;
        let r = &self.receipt;
        if r.service != NodeId::from_identity_key(identity_key) || r.quote != quote {
            return Err(MarketError::BadReceipt {
                reason: "wrong service or quote",
            });
        }
        if r.input_tokens != input_tokens || r.output_tokens != output_tokens {
            return Err(MarketError::BadReceipt {
                reason: "token counts differ",
            });
        }
        if r.response_hash != *response_hash {
            return Err(MarketError::BadReceipt {
                reason: "response hash differs",
            });
        }
        Ok(())
    }
}

/// Running SHA-256 of a streamed response.
#[derive(Clone, Debug, Default)]
pub struct ResponseHasher(Sha256);

impl ResponseHasher {
    /// Adds a chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }
    /// The hash so far.
    pub fn digest(&self) -> [u8; 32] {
        self.0.clone().finalize().into()
    }
}

/// The marker a backend must echo in its answer to a probe.
pub fn probe_answer(nonce: &[u8; 16]) -> Vec<u8> {
    let mut v = b"PROBE:".to_vec();
    v.extend_from_slice(hex::encode(nonce).as_bytes());
    v
}

/// True if `response` answers the probe `nonce`.
pub fn probe_passed(nonce: &[u8; 16], response: &[u8]) -> bool {
    let want = probe_answer(nonce);
    response.windows(want.len()).any(|w| w == want.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fidelity::CryptoFidelity;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn receipts_bind_counts_and_content() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let id = Identity::generate(&mut rng, 0);
        let mut h = ResponseHasher::default();
        h.update(b"hello ");
        h.update(b"world");
        let r = Receipt {
            service: id.node_id(),
            quote: QuoteId([1; 16]),
            input_tokens: 10,
            output_tokens: 3,
            charged_msat: 99,
            response_hash: h.digest(),
        };
        let s = SignedReceipt::sign(&id, r);
        let key = id.claim().identity_key;
        // Checked against quote 1, 10 input tokens, `output` and `digest`.
        let check = |signed: &SignedReceipt, output: u64, digest: &[u8; 32]| {
            signed.verify(
                &key,
                QuoteId([1; 16]),
                10,
                output,
                digest,
                CryptoFidelity::Full,
            )
        };
        check(&s, 3, &h.digest()).unwrap();
        assert!(check(&s, 4, &h.digest()).is_err());
        let mut other = ResponseHasher::default();
        other.update(b"hello world!");
        assert!(check(&s, 3, &other.digest()).is_err());
        let mut forged = s;
        forged.receipt.charged_msat = 1;
        assert!(check(&forged, 3, &h.digest()).is_err());
    }

    #[test]
    fn probes_need_the_nonce() {
        let n = [5u8; 16];
        let mut answer = b"some text ".to_vec();
        answer.extend_from_slice(&probe_answer(&n));
        assert!(probe_passed(&n, &answer));
        assert!(!probe_passed(&[6u8; 16], &answer));
        assert!(!probe_passed(&n, b"no echo"));
    }
}
