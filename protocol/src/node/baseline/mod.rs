//! The baselines' node roles (whitepaper "Attack Economics", "Comparison
//! to centralized breach"): LLM-Tor's proxy and client (seed `004`), and
//! the direct provider API and its caller. They run in the same [`Node`]
//! as Peer2Prompt's roles, over the same relays and links, so that one
//! scenario can put the three systems under one adversary model.
//!
//! Identity-bound exchanges (credit purchase, token issuance, direct API
//! calls) travel on direct links ([`TAG_DIRECT`](super::TAG_DIRECT));
//! LLM-Tor redemptions travel through three relays to the proxy.
//!
//! [`Node`]: super::Node

mod api;
mod conversation;
mod llm_tor_client;
mod llm_tor_proxy;
pub(crate) mod upstream;

use std::net::SocketAddr;

pub use api::{ApiClientConfig, ApiProviderConfig};
pub use llm_tor_client::LlmTorClientConfig;
pub use llm_tor_proxy::LlmTorProxyConfig;

pub(crate) use api::{ApiClient, ApiProvider};
pub(crate) use llm_tor_client::LlmTorClient;
pub(crate) use llm_tor_proxy::LlmTorProxy;

use upstream::ReplyTo;

use super::{AppMessage, AppRefusal, Ctx};
use crate::baselines::llm_tor::TokenId;
use crate::identity::NodeId;
use crate::time::Instant;

/// Which baseline role a node plays.
#[derive(Clone, Debug)]
pub enum BaselineRole {
    /// The LLM-Tor proxy (operator, blind signer, upstream caller).
    LlmTorProxy(LlmTorProxyConfig),
    /// An LLM-Tor user.
    LlmTorClient(LlmTorClientConfig),
    /// A provider API.
    ApiProvider(ApiProviderConfig),
    /// A direct API user.
    ApiClient(ApiClientConfig),
}

/// What a baseline role reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaselineEvent {
    /// LLM-Tor client: credits bought.
    Purchased {
        /// Credits bought.
        credits: u64,
    },
    /// LLM-Tor client: tokens issued and unblinded.
    TokensIssued {
        /// Tokens now ready.
        ready: usize,
    },
    /// LLM-Tor client: a circuit to the proxy (ground truth).
    CircuitOpened {
        /// The client's number for it.
        circuit: u64,
        /// Relays, entry first.
        relays: Vec<NodeId>,
        /// Entry address.
        entry: SocketAddr,
    },
    /// The first output of a request arrived.
    FirstToken {
        /// Request id.
        request: u64,
    },
    /// A request finished.
    TurnDone(BaselineTurn),
    /// A request failed for good.
    TurnFailed {
        /// Request id.
        request: u64,
        /// Why, in words for logs.
        reason: String,
    },
}

/// One answered request of a baseline client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineTurn {
    /// Request id.
    pub request: u64,
    /// Turn number within the conversation (1-based).
    pub turn: u32,
    /// Input tokens (the conversation so far plus the new message).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// When the request started (its first attempt).
    pub started: Instant,
    /// First output.
    pub first_token: Instant,
    /// Last output.
    pub done: Instant,
    /// The response.
    pub response: Vec<u8>,
    /// LLM-Tor: the token redeemed.
    pub token: Option<TokenId>,
    /// LLM-Tor: the circuit it went through.
    pub circuit: Option<u64>,
}

/// The baseline role a node runs.
pub(crate) enum Baseline {
    Proxy(LlmTorProxy),
    TorClient(Box<LlmTorClient>),
    Provider(ApiProvider),
    ApiClient(ApiClient),
}

impl Baseline {
    /// The role; proxies and providers need the upstream `backend`.
    pub fn new(
        role: BaselineRole,
        backend: Option<Box<dyn crate::backend::InferenceBackend>>,
    ) -> Result<Self, crate::Error> {
        let need = crate::Error::Config("a proxy or provider role needs an inference backend");
        Ok(match role {
            BaselineRole::LlmTorProxy(c) => {
                Baseline::Proxy(LlmTorProxy::new(c, backend.ok_or(need)?))
            }
            BaselineRole::ApiProvider(_) => {
                Baseline::Provider(ApiProvider::new(backend.ok_or(need)?))
            }
            BaselineRole::LlmTorClient(c) => Baseline::TorClient(Box::new(LlmTorClient::new(c))),
            BaselineRole::ApiClient(c) => Baseline::ApiClient(ApiClient::new(c)),
        })
    }

    /// A client's next message; `None` if this is no client.
    pub fn ask(&mut self, ctx: &mut Ctx<'_>, text: Vec<u8>) -> Option<u64> {
        match self {
            Baseline::TorClient(c) => Some(c.ask(ctx, text)),
            Baseline::ApiClient(c) => Some(c.ask(ctx, text)),
            _ => None,
        }
    }

    /// A client starts a new conversation.
    pub fn restart(&mut self) {
        match self {
            Baseline::TorClient(c) => c.restart(),
            Baseline::ApiClient(c) => c.restart(),
            _ => {}
        }
    }

    /// A message on a direct link.
    pub fn on_direct(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: SocketAddr,
        msg: AppMessage,
    ) -> Result<(), AppRefusal> {
        match (self, msg) {
            (Baseline::Proxy(p), AppMessage::LlmTor { seq, request }) => {
                p.on_request(ctx, (ReplyTo::Direct(from), from), seq, request)
            }
            (Baseline::TorClient(c), AppMessage::LlmTorReply { response, .. }) => {
                c.on_direct(ctx, from, response)
            }
            (Baseline::Provider(p), AppMessage::Api { seq, request }) => {
                p.on_request(ctx, from, seq, request)
            }
            (Baseline::ApiClient(c), AppMessage::ApiReply { seq, response }) => {
                c.on_direct(ctx, from, seq, response)
            }
            _ => return Err(AppRefusal::UnexpectedDirectMessage),
        }
        Ok(())
    }

    /// A message delivered at the end of a circuit (this node is its
    /// endpoint); only the proxy takes these.
    pub fn on_delivered(
        &mut self,
        ctx: &mut Ctx<'_>,
        session: u32,
        prev: SocketAddr,
        msg: AppMessage,
    ) -> Result<(), AppRefusal> {
        match (self, msg) {
            (Baseline::Proxy(p), AppMessage::LlmTor { seq, request }) => {
                p.on_request(ctx, (ReplyTo::Circuit(session), prev), seq, request);
                Ok(())
            }
            _ => Err(AppRefusal::LlmTorRequestAtNonProxy),
        }
    }

    /// An event on a circuit this node built for its baseline role.
    pub fn on_circuit(
        &mut self,
        ctx: &mut Ctx<'_>,
        circuit: u32,
        e: &crate::onion::client::ClientEvent,
        msg: Option<AppMessage>,
    ) {
        if let Baseline::TorClient(c) = self {
            c.on_circuit(ctx, circuit, e, msg);
        }
    }

    /// An onion session ended at this node.
    pub fn on_session_closed(&mut self, session: u32) {
        if let Baseline::Proxy(p) = self {
            p.on_session_closed(session);
        }
    }

    /// Moves upstream output along; true if anything moved.
    pub fn poll(&mut self, ctx: &mut Ctx<'_>) -> bool {
        match self {
            Baseline::Proxy(p) => p.poll(ctx),
            Baseline::Provider(p) => p.poll(ctx),
            _ => false,
        }
    }

    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Baseline::TorClient(c) => c.on_timeout(ctx),
            Baseline::ApiClient(c) => c.on_timeout(ctx),
            _ => {}
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Baseline::Proxy(p) => p.poll_timeout(),
            Baseline::Provider(p) => p.poll_timeout(),
            Baseline::TorClient(c) => c.poll_timeout(),
            Baseline::ApiClient(c) => c.poll_timeout(),
        }
    }

    /// The LLM-Tor operator, if this is the proxy.
    pub fn operator(&self) -> Option<&crate::baselines::llm_tor::Operator> {
        match self {
            Baseline::Proxy(p) => Some(p.operator()),
            _ => None,
        }
    }

    /// Tokens ready, if this is an LLM-Tor client.
    pub fn tokens(&self) -> Option<usize> {
        match self {
            Baseline::TorClient(c) => Some(c.tokens()),
            _ => None,
        }
    }
}
