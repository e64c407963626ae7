//! A generation transcript and the service's commitment to it (seed 003,
//! `INFERENCE_RESPONSE`: "output_tokens", "transcript_root",
//! "provider_model_hash", "signature").

use serde::{Deserialize, Serialize};

use super::error::VerifyError;
use super::merkle::{self, Hash};
use crate::fidelity::CryptoFidelity;
use crate::identity::{Identity, verify_signature};

/// Most quantized logits per step (a top-k slice of the distribution).
pub const MAX_LOGITS: usize = 64;
/// Bytes that domain-separate the commitment's signature.
const COMMIT_DOMAIN: &[u8] = b"peer2prompt/verify/commitment/v1";

/// One decoding step: the token emitted and the quantized logits it was
/// drawn from (the seed's `next_token` and `logits_q`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The token emitted.
    pub token: u32,
    /// Quantized logits (int8), at most [`MAX_LOGITS`].
    pub logits_q: Vec<i8>,
}

impl Step {
    /// The leaf bytes of step `index`: index, token, logits count, logits.
    pub fn leaf(&self, index: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity(10 + self.logits_q.len());
        v.extend_from_slice(&index.to_be_bytes());
        v.extend_from_slice(&self.token.to_be_bytes());
        v.extend_from_slice(&(self.logits_q.len() as u16).to_be_bytes());
        v.extend(self.logits_q.iter().map(|&q| q as u8));
        v
    }

    /// Its leaf hash.
    pub fn leaf_hash(&self, index: u32) -> Hash {
        merkle::leaf_hash(&self.leaf(index))
    }
}

/// Every step of one generation, as the service recorded it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    steps: Vec<Step>,
    leaves: Vec<Hash>,
}

impl Transcript {
    /// Records the next step.
    pub fn push(&mut self, step: Step) {
        self.leaves.push(step.leaf_hash(self.steps.len() as u32));
        self.steps.push(step);
    }

    /// Steps recorded.
    pub fn len(&self) -> u32 {
        self.steps.len() as u32
    }

    /// True if nothing was generated.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The Merkle root (RFC 6962) over the steps.
    pub fn root(&self) -> Result<Hash, VerifyError> {
        merkle::root(&self.leaves).ok_or(VerifyError::Empty)
    }

    /// Step `index` and its audit path.
    pub fn open(&self, index: u32) -> Result<(&Step, Vec<Hash>), VerifyError> {
        let out_of_range = VerifyError::StepOutOfRange {
            step: index,
            steps: self.len(),
        };
        let step = self.steps.get(index as usize).ok_or(out_of_range.clone())?;
        let path = merkle::path(&self.leaves, index as usize).ok_or(out_of_range)?;
        Ok((step, path))
    }

    /// The tokens emitted, in order.
    pub fn tokens(&self) -> Vec<u32> {
        self.steps.iter().map(|s| s.token).collect()
    }
}

/// The service's signed commitment to a job's transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// The job (the quote's id or a request id the client chose).
    pub job: u64,
    /// The model the service claims it ran.
    pub model: String,
    /// Steps committed.
    pub steps: u32,
    /// The transcript root.
    pub root: Hash,
    /// The service's Ed25519 identity key.
    pub service_key: [u8; 32],
    /// Its signature over everything above.
    #[serde(with = "sig")]
    pub signature: [u8; 64],
}

impl Commitment {
    /// `identity` commits to `transcript` of `job` run on `model`.
    pub fn sign(
        identity: &Identity,
        job: u64,
        model: &str,
        transcript: &Transcript,
    ) -> Result<Self, VerifyError> {
        let mut c = Commitment {
            job,
            model: model.to_owned(),
            steps: transcript.len(),
            root: transcript.root()?,
            service_key: identity.claim().identity_key,
            signature: [0; 64],
        };
        c.signature = identity.sign(&c.signed_bytes());
        Ok(c)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut v = COMMIT_DOMAIN.to_vec();
        v.extend_from_slice(&self.job.to_be_bytes());
        v.extend_from_slice(&(self.model.len() as u32).to_be_bytes());
        v.extend_from_slice(self.model.as_bytes());
        v.extend_from_slice(&self.steps.to_be_bytes());
        v.extend_from_slice(&self.root);
        v.extend_from_slice(&self.service_key);
        v
    }

    /// Checks the signature (a fraud proof is only as good as it).
    pub fn verify(&self, fidelity: CryptoFidelity) -> Result<(), VerifyError> {
        verify_signature(
            fidelity,
            &self.service_key,
            &self.signed_bytes(),
            &self.signature,
            "commitment",
        )
        .map_err(|_| VerifyError::BadSignature)
    }
}

mod sig {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let b: &[u8] = <&[u8]>::deserialize(d)?;
        b.try_into()
            .map_err(|_| serde::de::Error::invalid_length(b.len(), &"64 bytes"))
    }
}
