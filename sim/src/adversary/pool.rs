//! Observations the adversary's nodes pool (GUIDE "Nodes report what they
//! see"): per entry flow, the client's address and the times of the cells it
//! sent; per exit flow, the times of the cells that reached the service and
//! the prompt it carried. Nothing else enters the pool.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use peer2prompt::node::Observation;
use peer2prompt::onion::observe::{ObservedCell, ObservedNext};

/// A flow at one node: (node index, that node's session handle).
pub type FlowKey = (u32, u32);

/// What an adversarial entry relay saw of one client's circuit.
#[derive(Clone, Debug, Default)]
pub struct EntryFlow {
    /// The client's address (the previous hop of a circuit that starts here).
    pub client: Option<SocketAddr>,
    /// Times of forward cells, ns.
    pub times: Vec<u64>,
}

/// What an adversarial exit saw of one session.
#[derive(Clone, Debug, Default)]
pub struct ExitFlow {
    /// Times of cells delivered to the service, ns.
    pub times: Vec<u64>,
    /// The first prompt seen on it (plaintext, as the whitepaper's table
    /// says the service sees it).
    pub prompt: Option<Vec<u8>>,
}

/// The pooled observations of every adversarial node.
#[derive(Debug, Default)]
pub struct Pool {
    /// Entry flows, by (relay, handle).
    pub entries: BTreeMap<FlowKey, EntryFlow>,
    /// Exit flows, by (service, handle).
    pub exits: BTreeMap<FlowKey, ExitFlow>,
    /// Public knowledge: the advertised infrastructure's addresses (relays,
    /// services, mints). A circuit whose previous hop is not among them
    /// starts at this relay.
    pub infrastructure: HashSet<SocketAddr>,
}

/// Most cell times kept per flow (the matcher uses the first ones).
pub const MAX_TIMES: usize = 256;

impl Pool {
    /// Adds one observation of adversarial node `node`.
    pub fn observe(&mut self, node: u32, o: &Observation) {
        match o {
            Observation::Hop(h) if h.cell == ObservedCell::Relay && !h.cover => {
                let at = h.at.as_nanos();
                if h.next == ObservedNext::Local {
                    let f = self.exits.entry((node, h.session)).or_default();
                    if f.times.len() < MAX_TIMES {
                        f.times.push(at);
                    }
                } else if !self.infrastructure.contains(&h.prev) {
                    let f = self.entries.entry((node, h.session)).or_default();
                    f.client = Some(h.prev);
                    if f.times.len() < MAX_TIMES {
                        f.times.push(at);
                    }
                }
            }
            Observation::ServiceRequest {
                session, prompt, ..
            } => {
                let f = self.exits.entry((node, *session)).or_default();
                if f.prompt.is_none() {
                    f.prompt = Some(prompt.clone());
                }
            }
            _ => {}
        }
    }
}
