//! LLM-Tor (seed `004_…`, "End-to-End Protocol Flow"), three phases:
//!
//! 1. **Credit purchase**: the user pays with identity known; the proxy's
//!    credit ledger is identity linked ([`operator::Operator::purchase`]).
//! 2. **Blind token issuance**: the client blinds random tokens, the proxy
//!    checks credits and blind-signs them (RFC 9474, [`tokens`]).
//! 3. **Redemption over Tor**: `(T, S, prompt)` reaches the proxy through
//!    three relays; it verifies the signature, checks the token is not
//!    spent, forwards the prompt to the upstream LLM, marks the token spent
//!    and returns the response. There is no chat persistence: the proxy
//!    keeps no conversation, only the spent set.
//!
//! What the operator sees is [`observe::OperatorObservation`], drawn from
//! the seed's "Trust boundaries" diagram: the identity phase (payment,
//! credit ledger), the blind issuance phase, and the anonymous usage phase
//! (every prompt and response, redemption times, the previous hop).
//!
//! Out of scope, as in the seed's own list: the moderation API (it sees
//! what the proxy sees, so it adds no channel to the adversary).

pub mod error;
pub mod holder;
pub mod observe;
pub mod operator;
pub mod tokens;
pub mod wire;

pub use error::LlmTorError;
pub use holder::TokenWallet;
pub use observe::{OperatorObservation, OperatorSaw};
pub use operator::{Operator, OperatorConfig};
pub use tokens::{IssuerKey, IssuerPublicKey, Token, TokenId};
