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
use peer2prompt::onion::observe::{HopObservation, ObservedCell, ObservedNext};
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

/// What an adversarial exit saw of one session (and, in the same shape,
/// what a middle relay saw of one circuit).
#[derive(Clone, Debug, Default)]
pub struct ExitFlow {
    /// Times of cells delivered to the service (at a middle: forwarded), ns.
    pub times: Vec<u64>,
}

/// Where an adversarial hop sits on a circuit, as its own observation of a
/// forward cell shows: nothing but addresses it saw and public knowledge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// The previous hop is not advertised infrastructure: a client.
    Entry,
    /// From infrastructure, on to another node.
    Middle,
    /// Delivered to this node's own service.
    Exit,
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
    /// Middle flows, by (relay, handle).
    pub middles: BTreeMap<FlowKey, ExitFlow>,
    /// Every kept entry cell, (time ns, flow), in time order (observations
    /// arrive in virtual-time order).
    pub entry_cells: Vec<(u64, FlowKey)>,
    /// Public knowledge: the advertised infrastructure's addresses (relays,
    /// services, mints). A circuit whose previous hop is not among them
    /// starts at this relay.
    pub infrastructure: HashSet<SocketAddr>,
}

/// Most cell times kept per flow (the matcher uses the first ones).
pub const MAX_TIMES: usize = 256;

impl Pool {
    /// The position a forward cell shows: exits deliver it locally, entries
    /// got it from outside the infrastructure, middles from inside it. Cover
    /// and cells of other kinds show none.
    pub fn position(&self, h: &HopObservation) -> Option<Position> {
        if h.cell != ObservedCell::Relay || h.cover {
            return None;
        }
        Some(match h.next {
            ObservedNext::Local => Position::Exit,
            _ if !self.infrastructure.contains(&h.prev) => Position::Entry,
            ObservedNext::Node(_) => Position::Middle,
            _ => return None,
        })
    }

    /// Adds one observation of adversarial node `node`.
    pub fn observe(&mut self, node: u32, o: &Observation) {
        match o {
            Observation::Hop(h) => self.hop(node, h),
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

    /// A forward cell at an adversarial hop: its time joins the flow of the
    /// hop's position (the first [`MAX_TIMES`] of each).
    fn hop(&mut self, node: u32, h: &HopObservation) {
        let Some(position) = self.position(h) else {
            return;
        };
        let key = (node, h.session);
        let at = h.at.as_nanos();
        let times = match position {
            Position::Exit => &mut self.exits.entry(key).or_default().times,
            Position::Middle => &mut self.middles.entry(key).or_default().times,
            Position::Entry => {
                let f = self.entries.entry(key).or_default();
                f.client = Some(h.prev);
                &mut f.times
            }
        };
        if times.len() < MAX_TIMES {
            times.push(at);
            if position == Position::Entry {
                self.entry_cells.push((at, key));
            }
        }
    }
}
