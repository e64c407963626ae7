//! Invariant checkers, run as the simulation goes (TigerBeetle's VOPR,
//! FoundationDB's simulation): no honest hop sees both a client and its
//! service (on every observation), and value is conserved over every mint
//! (at a fixed interval of virtual time and at the end of the run).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use peer2prompt::ecash::messages::{CheckStateRequest, ProofState};
use peer2prompt::ecash::{Amount, BlindedMessage, KeysetId, Proof, QuoteId};
use peer2prompt::node::{Node, Observation};
use peer2prompt::onion::observe::ObservedNext;
use secp256k1::PublicKey;

use crate::engine::Host;

/// Virtual seconds between two online conservation checks: often enough
/// to catch a leak near where it happens, rarely enough that the check
/// (every wallet and every mint's books) stays a small part of a run.
pub const CONSERVATION_EVERY_S: u64 = 60;

/// An invariant broke.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated at {at_ns} ns: {what}")]
pub struct Violation {
    /// The instant it happened.
    pub at_ns: u64,
    /// What it was about, in words.
    pub what: String,
}

/// The whitepaper's "no honest single node should learn both requester
/// identity and prompt content", checked on every honest observation.
#[derive(Debug)]
pub struct HonestViews {
    clients: HashSet<SocketAddr>,
    services: HashSet<SocketAddr>,
    relays_per_route: u32,
    /// Checks run.
    pub checks: u64,
}

impl HonestViews {
    /// A checker knowing the clients' and services' addresses.
    pub fn new(
        clients: HashSet<SocketAddr>,
        services: HashSet<SocketAddr>,
        relays_per_route: u32,
    ) -> Self {
        HonestViews {
            clients,
            services,
            relays_per_route,
            checks: 0,
        }
    }

    /// Whether `addr` is a client's.
    pub fn is_client(&self, addr: &SocketAddr) -> bool {
        self.clients.contains(addr)
    }

    /// Checks what honest node `node` observed; the violation, if any.
    pub fn check(&mut self, node: u32, o: &Observation, at_ns: u64) -> Option<Violation> {
        self.checks += 1;
        let hops = self.relays_per_route;
        let both = match o {
            Observation::Hop(h) => {
                hops >= 2
                    && self.clients.contains(&h.prev)
                    && matches!(h.next, ObservedNext::Node(a) if self.services.contains(&a))
            }
            // With no relays (the direct-call baseline) the service sees
            // its client by design.
            Observation::ServiceRequest { prev, .. } => hops >= 1 && self.clients.contains(prev),
            _ => false,
        };
        both.then(|| Violation {
            at_ns,
            what: format!("honest node {node} saw both a client and its service"),
        })
    }
}

/// What Lightning moved, for the conservation check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lightning {
    /// Sat paid in (mint fundings).
    pub funded: u64,
    /// Sat paid out (melts).
    pub paid_out: u64,
}

/// Value conservation over every mint: every unspent proof anyone holds,
/// counted once, plus outputs the mint signed for operations whose answer
/// is still being recovered, plus paid quotes whose issuance is still being
/// claimed, plus fees and Lightning payouts equals what was paid in, and
/// each mint's books agree that no unspent proof is orphaned.
pub fn conservation(hosts: &[Host], ln: Lightning, at_ns: u64) -> Result<(), Violation> {
    let nodes: Vec<&Node> = hosts.iter().map(|h| &h.node).collect();
    conservation_of(&nodes, ln, at_ns)
}

/// [`conservation`] over bare nodes (the live driver's, which have no
/// simulated host around them).
pub fn conservation_of(nodes: &[&Node], ln: Lightning, at_ns: u64) -> Result<(), Violation> {
    let held = held(nodes);
    let (mut unspent, mut outstanding, mut fees, mut minted) = (0u64, 0u64, 0u64, 0u64);
    // Paid quotes still being claimed: value in transit to a wallet.
    let mut unissued = 0u64;
    let mut abandoned = Vec::new();
    for n in nodes {
        let Some(mint) = n.mint() else { continue };
        mint.audit();
        let ledger = mint.ledger();
        outstanding += ledger.outstanding().value();
        fees += ledger.fees_collected.value();
        minted += ledger.lightning_in.value();
        for (quote, amount) in mint.paid_unissued() {
            if held.claimed.contains(&quote) {
                unissued += amount.value();
            } else {
                abandoned.push(amount.value());
            }
        }
        // Signed outputs of operations whose answer is still awaited (being
        // recovered through NUT-09): their owner holds the secrets.
        unspent += held
            .pending
            .values()
            .filter_map(|o| mint.signed_amount(o))
            .map(|a| a.value())
            .sum::<u64>();
        // Every keyset the mint signed with, private (tagging) ones too.
        let ids: HashSet<_> = mint.keyset_ids().into_iter().collect();
        let mine: Vec<&HeldProof> = held
            .proofs
            .iter()
            .filter(|p| ids.contains(&p.keyset))
            .collect();
        let ys = mine.iter().map(|p| p.y).collect();
        let states = mint.check_state(&CheckStateRequest { ys });
        unspent += mine
            .iter()
            .zip(&states.states)
            .filter(|(_, s)| s.state == ProofState::Unspent)
            .map(|(p, _)| p.amount.value())
            .sum::<u64>();
    }
    let fail = |what: String| Err(Violation { at_ns, what });
    if minted != ln.funded {
        return fail(format!(
            "mints issued {minted} sat against {} paid in",
            ln.funded
        ));
    }
    if unspent != outstanding {
        return fail(format!(
            "unspent proofs held {unspent} sat, mints' outstanding {outstanding} sat"
        ));
    }
    if !abandoned.is_empty() {
        return fail(format!(
            "{} paid mint quote(s) ({} sat) neither issued nor claimed by anyone",
            abandoned.len(),
            abandoned.iter().sum::<u64>()
        ));
    }
    if unspent + unissued + fees + ln.paid_out != ln.funded {
        return fail(format!(
            "held {unspent} + being issued {unissued} + fees {fees} + paid out {} != paid in {}",
            ln.paid_out, ln.funded
        ));
    }
    Ok(())
}

/// A proof as the conservation check counts it: its `Y`, keyset and
/// amount (not the proof itself, so a check copies no secrets).
struct HeldProof {
    y: PublicKey,
    keyset: KeysetId,
    amount: Amount,
}

impl HeldProof {
    fn new(y: PublicKey, p: &Proof) -> Self {
        HeldProof {
            y,
            keyset: p.id,
            amount: p.amount,
        }
    }
}

/// What every wallet holds or is owed.
struct Held {
    /// Every proof held, outstanding or in flight, counted once.
    proofs: Vec<HeldProof>,
    /// Outputs of swaps and issuances whose answer is awaited.
    pending: HashMap<[u8; 33], BlindedMessage>,
    /// Paid quotes someone is still claiming.
    claimed: HashSet<QuoteId>,
}

fn held(nodes: &[&Node]) -> Held {
    let mut by_y: HashMap<[u8; 33], HeldProof> = HashMap::new();
    let mut pending = HashMap::new();
    let mut claimed = HashSet::new();
    for n in nodes {
        claimed.extend(n.pending_issues());
        for o in n.pending_outputs() {
            pending.insert(o.blinded_secret.serialize(), o);
        }
        // Wallets keep each proof's Y; only proofs outside a wallet need it
        // computed (hash_to_curve is the costly part of a check).
        for w in [n.client_wallet(), n.service_wallet()]
            .into_iter()
            .flatten()
        {
            for url in w.mints() {
                for h in w.proofs(url) {
                    by_y.insert(h.y.serialize(), HeldProof::new(h.y, &h.proof));
                }
            }
        }
        for p in n
            .client_outstanding()
            .into_iter()
            .chain(n.in_flight_proofs())
        {
            if let Ok(y) = p.y() {
                by_y.insert(y.serialize(), HeldProof::new(y, &p));
            }
        }
    }
    Held {
        proofs: by_y.into_values().collect(),
        pending,
        claimed,
    }
}
