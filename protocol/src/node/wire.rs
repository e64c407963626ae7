//! Application messages carried end to end inside onion messages: the client
//! talking to a Ghost or GPU node, and anyone talking to a mint. The envelope
//! is postcard (compact, deterministic for these types); ecash bodies inside
//! it are carried in their Cashu NUT JSON form ([`nut`]), the wire format
//! real wallets and mints speak, whose optional fields postcard cannot
//! represent. Decoding peer bytes is a typed error, never a panic, and
//! messages are bounded by onion reassembly.

use serde::{Deserialize, Serialize};

use crate::backend::BackendError;
use crate::baselines::direct::{ApiRequest, ApiResponse};
use crate::baselines::llm_tor::wire::{LlmTorRequest, LlmTorResponse};
use crate::ecash::messages::{
    CheckStateRequest, CheckStateResponse, KeysResponse, MeltQuoteRequest, MeltQuoteResponse,
    MeltRequest, MintQuoteRequest, MintQuoteResponse, MintRequest, RestoreRequest, RestoreResponse,
    SignaturesResponse, SwapRequest,
};
use crate::ecash::{EcashError, Proof, QuoteId as MintQuoteId};
use crate::market::{QuoteId, SignedQuote, SignedReceipt};
use crate::verify::{AuditChallenge, AuditProof, Commitment};

/// Client to service (whitepaper "Ghost Node Function").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceRequest {
    /// Ask for a signed quote for `model`.
    GetQuote {
        /// The model, by the name adverts and quotes use.
        model: String,
    },
    /// Run a prompt under a pinned quote, paying the first chunk.
    Infer(InferRequest),
    /// The next chunk.
    Pay {
        /// The ecash proofs presented.
        #[serde(with = "nut")]
        payment: Vec<Proof>,
    },
    /// Verified inference: open these steps of the last committed
    /// transcript on this session (seed 003, `AUDIT_CHALLENGE`).
    Audit(AuditChallenge),
}

/// A prompt to run under a pinned quote, with the first prepaid chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferRequest {
    /// The pinned quote.
    pub quote: QuoteId,
    /// The prompt (with the conversation so far).
    pub prompt: Vec<u8>,
    /// Output tokens wanted (at most the quote's cap).
    pub max_output_tokens: u32,
    /// Mint of the payment.
    pub mint: String,
    /// First chunk.
    #[serde(with = "nut")]
    pub payment: Vec<Proof>,
    /// A challenge-probe nonce, if this request is a probe.
    pub probe: Option<[u8; 16]>,
}

/// Why a service refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// It does not serve the model.
    UnknownModel,
    /// The quote is unknown or expired.
    UnknownQuote,
    /// The payment failed verification (reason).
    BadPayment(String),
    /// The mint of the payment is not accepted.
    MintNotAccepted,
    /// Too many requests.
    RateLimited,
    /// The backend failed.
    Backend(BackendError),
    /// A request is already running on this session.
    Busy,
    /// A payment on this session was spent elsewhere (a double spend).
    DoubleSpent,
    /// An audit challenge the service cannot answer (no such commitment on
    /// this session, or a malformed challenge).
    BadAudit(String),
}

impl Refusal {
    /// A short name of the kind of refusal, safe to log and to tabulate.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::UnknownModel => "unknown_model",
            Refusal::UnknownQuote => "unknown_quote",
            Refusal::BadPayment(_) => "bad_payment",
            Refusal::MintNotAccepted => "mint_not_accepted",
            Refusal::RateLimited => "rate_limited",
            Refusal::Backend(_) => "backend",
            Refusal::Busy => "busy",
            Refusal::DoubleSpent => "double_spent",
            Refusal::BadAudit(_) => "bad_audit",
        }
    }
}

/// Service to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceResponse {
    /// A signed quote.
    Quote(SignedQuote),
    /// Streamed output.
    Stream {
        /// The text.
        text: Vec<u8>,
    },
    /// Paid value is used up: the next chunk, please.
    NeedPayment {
        /// What the service says it has used.
        claimed_msat: u64,
    },
    /// The request finished.
    Done(SignedReceipt),
    /// The request was refused.
    Refused(Refusal),
    /// Verified inference: the signed commitment to the request's
    /// transcript, sent just before its receipt (seed 003,
    /// `transcript_root`).
    Committed(Commitment),
    /// Verified inference: the opened steps (seed 003, `AUDIT_PROOF`).
    Audited(AuditProof),
}

/// To a mint node (whitepaper "Token Lifecycle"), NUT request bodies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MintApiRequest {
    /// NUT-01 keys.
    Keys,
    /// NUT-04 quote.
    MintQuote(#[serde(with = "nut")] MintQuoteRequest),
    /// NUT-04 issuance.
    Mint(#[serde(with = "nut")] MintRequest),
    /// NUT-03 swap.
    Swap(#[serde(with = "nut")] SwapRequest),
    /// NUT-05 quote.
    MeltQuote(#[serde(with = "nut")] MeltQuoteRequest),
    /// NUT-05 melt.
    Melt(#[serde(with = "nut")] MeltRequest),
    /// NUT-05 quote state.
    MeltState(#[serde(with = "nut")] MintQuoteId),
    /// NUT-07.
    CheckState(#[serde(with = "nut")] CheckStateRequest),
    /// NUT-09: the signatures of a lost answer.
    Restore(#[serde(with = "nut")] RestoreRequest),
}

impl MintApiRequest {
    /// A short name of the request, safe to log.
    pub fn kind(&self) -> &'static str {
        match self {
            MintApiRequest::Keys => "keys",
            MintApiRequest::MintQuote(_) => "mint_quote",
            MintApiRequest::Mint(_) => "mint",
            MintApiRequest::Swap(_) => "swap",
            MintApiRequest::MeltQuote(_) => "melt_quote",
            MintApiRequest::Melt(_) => "melt",
            MintApiRequest::MeltState(_) => "melt_state",
            MintApiRequest::CheckState(_) => "check_state",
            MintApiRequest::Restore(_) => "restore",
        }
    }
}

/// From a mint node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MintApiResponse {
    /// The mint's active keysets (NUT-01).
    Keys(#[serde(with = "nut")] KeysResponse),
    /// A mint quote.
    MintQuote(#[serde(with = "nut")] MintQuoteResponse),
    /// Blind signatures.
    Signatures(#[serde(with = "nut")] SignaturesResponse),
    /// A melt quote (or its state).
    MeltQuote(#[serde(with = "nut")] MeltQuoteResponse),
    /// Proof states.
    States(#[serde(with = "nut")] CheckStateResponse),
    /// Restored signatures.
    Restored(#[serde(with = "nut")] RestoreResponse),
    /// The mint refused.
    Error(MintError),
}

/// Why a mint refused a request, as it crosses the wire: a code (NUT-00's
/// where Cashu defines one) and the mint's own description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintError {
    /// What kind of refusal.
    pub code: MintErrorCode,
    /// The mint's description (for logs; never parsed).
    pub detail: String,
}

impl std::fmt::Display for MintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code.nut() {
            Some(n) => write!(f, "mint error {n} ({:?}): {}", self.code, self.detail),
            None => write!(f, "mint error ({:?}): {}", self.code, self.detail),
        }
    }
}

/// Kinds of mint refusal (Cashu NUT-00 error codes in the comments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MintErrorCode {
    /// 10002: a blinded message was already signed.
    OutputAlreadySigned,
    /// 11001: a proof was already spent.
    ProofAlreadySpent,
    /// A proof is pending in another operation.
    ProofPending,
    /// 11002: inputs, fees and outputs do not balance.
    Unbalanced,
    /// 11005: the unit is not supported.
    UnitNotSupported,
    /// 12001: the keyset is not known.
    UnknownKeyset,
    /// 12002: the keyset is inactive.
    KeysetInactive,
    /// 20001: the quote is not paid.
    QuoteNotPaid,
    /// 20002: the quote's ecash was already issued.
    QuoteAlreadyIssued,
    /// 20005: the quote is pending or paid.
    QuotePending,
    /// 20007: the quote expired.
    QuoteExpired,
    /// The quote is not known.
    UnknownQuote,
    /// A proof's signature or DLEQ proof does not verify.
    InvalidProof,
    /// The mint refuses redemption (a misbehaving mint).
    RedemptionRefused,
    /// The request is malformed or breaks a limit.
    InvalidRequest,
}

impl MintErrorCode {
    /// The NUT-00 error code, where Cashu defines one.
    pub fn nut(self) -> Option<u32> {
        Some(match self {
            MintErrorCode::OutputAlreadySigned => 10002,
            MintErrorCode::ProofAlreadySpent => 11001,
            MintErrorCode::Unbalanced => 11002,
            MintErrorCode::UnitNotSupported => 11005,
            MintErrorCode::UnknownKeyset => 12001,
            MintErrorCode::KeysetInactive => 12002,
            MintErrorCode::QuoteNotPaid => 20001,
            MintErrorCode::QuoteAlreadyIssued => 20002,
            MintErrorCode::QuotePending => 20005,
            MintErrorCode::QuoteExpired => 20007,
            _ => return None,
        })
    }
}

impl From<&EcashError> for MintError {
    fn from(e: &EcashError) -> Self {
        use EcashError as E;
        let code = match e {
            E::DuplicateOutput { .. } => MintErrorCode::OutputAlreadySigned,
            E::ProofAlreadySpent { .. } => MintErrorCode::ProofAlreadySpent,
            E::ProofPending { .. } => MintErrorCode::ProofPending,
            E::FeeMismatch { .. } | E::QuoteAmountMismatch { .. } => MintErrorCode::Unbalanced,
            E::UnsupportedUnit(_) => MintErrorCode::UnitNotSupported,
            E::UnknownKeyset(_) => MintErrorCode::UnknownKeyset,
            E::RetiredKeyset(_) => MintErrorCode::KeysetInactive,
            E::QuoteNotPaid(_) => MintErrorCode::QuoteNotPaid,
            E::QuoteAlreadyIssued(_) => MintErrorCode::QuoteAlreadyIssued,
            E::QuoteInUse(_) => MintErrorCode::QuotePending,
            E::QuoteExpired(_) => MintErrorCode::QuoteExpired,
            E::UnknownQuote(_) => MintErrorCode::UnknownQuote,
            E::InvalidProofSignature { .. } | E::DleqMissing { .. } | E::DleqInvalid { .. } => {
                MintErrorCode::InvalidProof
            }
            _ => MintErrorCode::InvalidRequest,
        };
        MintError {
            code,
            detail: e.to_string(),
        }
    }
}

/// Every message a node sends end to end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppMessage {
    /// To a service.
    Service(ServiceRequest),
    /// From a service.
    ServiceReply(ServiceResponse),
    /// To a mint; `seq` matches the answer.
    Mint {
        /// Caller's sequence number.
        seq: u64,
        /// The request.
        request: MintApiRequest,
    },
    /// From a mint.
    MintReply {
        /// The request's sequence number.
        seq: u64,
        /// The answer.
        response: MintApiResponse,
    },
    /// To an LLM-Tor proxy (a baseline, seed `004`).
    LlmTor {
        /// Caller's sequence number.
        seq: u64,
        /// The request.
        request: LlmTorRequest,
    },
    /// From an LLM-Tor proxy.
    LlmTorReply {
        /// The request's sequence number.
        seq: u64,
        /// The answer.
        response: LlmTorResponse,
    },
    /// To a provider API, directly (a baseline).
    Api {
        /// Caller's sequence number.
        seq: u64,
        /// The request.
        request: ApiRequest,
    },
    /// From a provider API.
    ApiReply {
        /// The request's sequence number.
        seq: u64,
        /// The answer.
        response: ApiResponse,
    },
}

/// Ecash bodies as NUT JSON bytes inside the postcard envelope.
mod nut {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let json = serde_json::to_vec(value).map_err(S::Error::custom)?;
        s.serialize_bytes(&json)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let json: &[u8] = <&[u8]>::deserialize(d)?;
        serde_json::from_slice(json).map_err(D::Error::custom)
    }
}

/// Why application bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed application message")]
pub struct MalformedMessage;

impl AppMessage {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding these types cannot fail: no maps with non-string keys, no
        // unsupported serde features.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Parses peer bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, MalformedMessage> {
        postcard::from_bytes(bytes).map_err(|_| MalformedMessage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_round_trip() {
        let m = AppMessage::Service(ServiceRequest::GetQuote {
            model: "gpt-4o".into(),
        });
        assert_eq!(AppMessage::decode(&m.encode()).unwrap(), m);
        let r = AppMessage::ServiceReply(ServiceResponse::Refused(Refusal::Backend(
            BackendError::Banned,
        )));
        assert_eq!(AppMessage::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn ecash_bodies_with_optional_fields_round_trip() {
        use crate::ecash::{Mint, MintConfig};
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mint = Mint::new(MintConfig::default(), &mut rng);
        let keys = AppMessage::MintReply {
            seq: 3,
            response: MintApiResponse::Keys(mint.keysets()),
        };
        assert_eq!(AppMessage::decode(&keys.encode()).unwrap(), keys);
        let states = AppMessage::Mint {
            seq: 4,
            request: MintApiRequest::CheckState(CheckStateRequest { ys: Vec::new() }),
        };
        assert_eq!(AppMessage::decode(&states.encode()).unwrap(), states);
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    fn llm_tor_request() -> impl Strategy<Value = LlmTorRequest> {
        use crate::baselines::llm_tor::Token;
        prop_oneof![
            Just(LlmTorRequest::Descriptor),
            (".{0,20}", ".{0,20}", any::<u64>()).prop_map(|(account, payer, credits)| {
                LlmTorRequest::Purchase {
                    account,
                    payer,
                    credits,
                }
            }),
            (".{0,20}", proptest::collection::vec(bytes(300), 0..4))
                .prop_map(|(account, blinded)| LlmTorRequest::Issue { account, blinded }),
            (
                any::<[u8; 32]>(),
                any::<[u8; 32]>(),
                bytes(300),
                bytes(200),
                any::<u32>()
            )
                .prop_map(
                    |(nonce, randomizer, signature, prompt, max_output_tokens)| {
                        LlmTorRequest::Redeem {
                            token: Token {
                                nonce,
                                randomizer,
                                signature,
                            },
                            model: "m".into(),
                            prompt,
                            max_output_tokens,
                        }
                    }
                ),
        ]
    }

    proptest! {
        #[test]
        fn baseline_messages_round_trip(request in llm_tor_request(), seq in any::<u64>(), text in bytes(100)) {
            let m = AppMessage::LlmTor { seq, request };
            prop_assert_eq!(AppMessage::decode(&m.encode()).unwrap(), m);
            let r = AppMessage::LlmTorReply { seq, response: LlmTorResponse::Stream { text: text.clone() } };
            prop_assert_eq!(AppMessage::decode(&r.encode()).unwrap(), r);
            let a = AppMessage::Api { seq, request: ApiRequest {
                account: "a".into(), model: "m".into(), prompt: text, max_output_tokens: 3,
            } };
            prop_assert_eq!(AppMessage::decode(&a.encode()).unwrap(), a);
        }

        #[test]
        fn decoding_truncated_baseline_messages_never_panics(request in llm_tor_request(), cut in any::<usize>()) {
            let bytes = AppMessage::LlmTor { seq: 1, request }.encode();
            let _ = AppMessage::decode(&bytes[..cut % (bytes.len() + 1)]);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = AppMessage::decode(&bytes);
        }
    }
}
