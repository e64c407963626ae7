//! Observations the adversary's nodes pool (ARCHITECTURE.md, invariant "nodes report what
//! they see"): per entry flow, the client's address and the times of the cells it
//! sent; per exit flow, the times of the cells that reached the service;
//! the payments adversarial services received; the colluding mints' logs.
//! Nothing else enters the pool: no attacker reads content, so no prompt
//! is kept, and which session a flow is stays with the engine
//! (`crate::truth`).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use peer2prompt::node::Observation;
use peer2prompt::onion::observe::{ObservedCell, ObservedNext};
use peer2prompt::time::Instant;
use secp256k1::PublicKey;

use super::mint_exit::Evidence;

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
}

/// A payment an adversarial service received: when, and the proofs' `Y`s.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    /// When it arrived.
    pub at: Instant,
    /// `Y` of each proof.
    pub ys: Vec<PublicKey>,
}

/// The pooled observations of every adversarial node.
#[derive(Debug, Default)]
pub struct Pool {
    /// Colluding mints' operator logs (whitepaper "Mint-Exit Collusion"),
    /// already in the mint-exit attacker's input type.
    pub mint: Evidence,
    /// Payments received by adversarial services, by (service, handle).
    pub receipts: BTreeMap<FlowKey, Vec<Receipt>>,
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
                at,
                session,
                payment,
                ..
            } => {
                self.exits.entry((node, *session)).or_default();
                self.receipts
                    .entry((node, *session))
                    .or_default()
                    .push(Receipt {
                        at: *at,
                        ys: payment.clone(),
                    });
            }
            Observation::ServicePayment {
                at,
                session,
                payment,
                ..
            } => self
                .receipts
                .entry((node, *session))
                .or_default()
                .push(Receipt {
                    at: *at,
                    ys: payment.clone(),
                }),
            Observation::Mint(m) => self.mint.mint_log.push(m.clone()),
            _ => {}
        }
    }
}
