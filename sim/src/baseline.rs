//! The baselines' roles for a scenario (`system: llm_tor | direct`; issue
//! 19): the operator's configuration and its clients'. The protocol crate
//! holds every decision; this only fills in configurations.

use std::net::SocketAddr;

use peer2prompt::baselines::llm_tor::{IssuerKey, IssuerPublicKey, OperatorConfig};
use peer2prompt::identity::NodeId;
use peer2prompt::node::Node;
use peer2prompt::node::baseline::{
    ApiClientConfig, ApiProviderConfig, BaselineRole, LlmTorClientConfig, LlmTorProxyConfig,
};
use peer2prompt::time::Duration;

use crate::population::{Kind, Slot};
use crate::rng::{Purpose, Streams};
use crate::scenario::{Scenario, System};

/// The operator's entity (one per network).
fn operator_slot() -> Slot {
    Slot {
        kind: Kind::Operator,
        nth: 0,
        adversarial: false,
    }
}

/// What clients know of the operator before they start: its address, its
/// node id, and (LLM-Tor) its token key.
#[derive(Clone, Debug)]
pub struct OperatorInfo {
    /// Its address.
    pub addr: SocketAddr,
    /// Its node id.
    pub node: NodeId,
    /// LLM-Tor's issuer key.
    pub issuer: Option<IssuerPublicKey>,
}

impl OperatorInfo {
    /// What a built operator node tells its clients.
    pub fn of(node: &Node) -> Self {
        OperatorInfo {
            addr: node.addr(),
            node: node.identity().node_id(),
            issuer: node.llm_tor_operator().map(|o| o.public().clone()),
        }
    }
}

/// LLM-Tor's blind-signing key, from its own stream.
fn issuer_key(streams: &Streams) -> IssuerKey {
    let mut rng = streams.stream(operator_slot().entity(), Purpose::BaselineKeys);
    match IssuerKey::generate(&mut rng) {
        Ok(k) => k,
        Err(e) => panic!("RSA key generation failed: {e}"),
    }
}

/// A client's account at the operator (what purchases and API calls name).
pub fn account(slot: Slot) -> String {
    format!("client-{}", slot.nth)
}

/// The operator's role.
pub fn operator(s: &Scenario, streams: &Streams) -> BaselineRole {
    match s.system {
        System::LlmTor => BaselineRole::LlmTorProxy(LlmTorProxyConfig {
            key: issuer_key(streams),
            operator: OperatorConfig {
                max_tokens_per_issue: s.protocol.llm_tor.tokens_per_purchase.max(1) as usize,
            },
        }),
        System::Direct | System::Peer2prompt => {
            BaselineRole::ApiProvider(ApiProviderConfig::default())
        }
    }
}

/// Client `slot`'s role, given the operator's address and node id.
pub fn client(s: &Scenario, slot: Slot, operator: Option<&OperatorInfo>) -> BaselineRole {
    let Some(op) = operator else {
        panic!("the operator is planned before the clients");
    };
    let addr = op.addr;
    let account = account(slot);
    let max_output_tokens = u32::try_from(s.workload.max_output_tokens).unwrap_or(u32::MAX);
    let timeout = Duration::from_secs_f64(s.protocol.turn_timeout_s);
    match s.system {
        System::LlmTor => {
            let Some(issuer) = op.issuer.clone() else {
                panic!("an LLM-Tor operator has an issuer key");
            };
            BaselineRole::LlmTorClient(LlmTorClientConfig {
                proxy: addr,
                proxy_node: op.node,
                issuer,
                payer: format!("payer-{}", slot.nth),
                account,
                model: s.workload.model.clone(),
                max_output_tokens,
                context_window: s.protocol.context_window_tokens,
                tokens_per_purchase: s.protocol.llm_tor.tokens_per_purchase.max(1),
                circuit_lifetime: Duration::from_secs_f64(s.protocol.llm_tor.circuit_lifetime_s),
                timeout,
                attempts: 3,
            })
        }
        System::Direct | System::Peer2prompt => BaselineRole::ApiClient(ApiClientConfig {
            provider: addr,
            account,
            model: s.workload.model.clone(),
            max_output_tokens,
            context_window: s.protocol.context_window_tokens,
            timeout,
            attempts: 3,
        }),
    }
}
