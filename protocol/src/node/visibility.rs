//! The data-visibility matrix (whitepaper "Data Visibility by Role"),
//! computed from what nodes actually observed rather than asserted.
//!
//! Given the ground truth of one session (who the client is, its route, the
//! prompt, the payment's proof `Y`s and the response) and each node's
//! [`Observation`]s, [`VisibilityMatrix::audit`] decides for every role on the
//! path what it learned: which addresses, whether the prompt or response
//! appeared in anything it saw, and which payment identifiers. The
//! whitepaper's table is [`VisibilityMatrix::whitepaper`]; a test asserts the
//! two agree.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;

use secp256k1::PublicKey;

use super::observe::Observation;
use crate::backend::{ProviderObservation, ProviderSaw};
use crate::ecash::{LightningPayer, MintObservation, PayerId};
use crate::onion::observe::{HopObservation, ObservedCell, ObservedNext};

/// A role on a session's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathRole {
    /// The first relay.
    Ingress,
    /// Any later relay.
    MidRelay,
    /// The Ghost or GPU node at the end of the circuit.
    Service,
    /// The AI provider behind a Ghost.
    Provider,
    /// The mint the payment is redeemed at.
    Mint,
}

/// Which addresses a role learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpView {
    /// No address of the session's endpoints or path.
    No,
    /// The client's address.
    ClientIp,
    /// Its previous and next hops only.
    PrevNext,
    /// Its previous hop only.
    PrevHop,
    /// The Ghost's address (as the account holder).
    GhostIp,
    /// The client's Lightning node, from the funding record (the mint:
    /// whitepaper "Mint-Exit Collusion", "the mint learns the client's
    /// Lightning node identity or IP from the funding invoice").
    FundingNode,
    /// One of this many Lightning payers, from the funding record (payment
    /// privacy narrowed the mint's view to a candidate set).
    FundingCandidates(u32),
}

/// Which payment identifiers a role learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentView {
    /// The role sees no address of this session.
    No,
    /// The paid proofs (their `Y`s), unlinkable to issuance.
    TokenProof,
    /// Only that the Ghost's account is billed.
    GhostBilling,
    /// Redemptions in the mint's own ledger.
    MintLedger,
}

/// How a role sees the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseView {
    /// Not at all.
    No,
    /// As reply cells it cannot read.
    Encrypted,
    /// In plaintext.
    Plaintext,
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoleView {
    /// The most identifying address the role saw.
    pub ip: IpView,
    /// The prompt.
    pub prompt: bool,
    /// Payment identifiers.
    pub payment: PaymentView,
    /// The response.
    pub response: ResponseView,
}

/// Ground truth of one session, from the client's side.
#[derive(Clone, Debug)]
pub struct SessionTruth {
    /// The client's address.
    pub client: SocketAddr,
    /// The relays, entry first.
    pub relays: Vec<SocketAddr>,
    /// The service's address.
    pub exit: SocketAddr,
    /// The prompt as sent (including earlier turns).
    pub prompt: Vec<u8>,
    /// `Y`s of every proof paid in the session.
    pub payment: Vec<PublicKey>,
    /// The response as received.
    pub response: Vec<u8>,
    /// The label Lightning gives the client's node, if it funded a wallet.
    pub payer: Option<PayerId>,
}

/// The matrix: one row per role on the path (one per mid relay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisibilityMatrix {
    /// Rows, in path order: ingress, mid relays, service, provider, mint.
    pub rows: Vec<(PathRole, RoleView)>,
}

impl VisibilityMatrix {
    /// The whitepaper's table for a path of `relays` relays.
    pub fn whitepaper(relays: usize) -> Self {
        let relay = |ip| RoleView {
            ip,
            prompt: false,
            payment: PaymentView::No,
            response: ResponseView::Encrypted,
        };
        let mut rows = vec![(PathRole::Ingress, relay(IpView::ClientIp))];
        for _ in 1..relays {
            rows.push((PathRole::MidRelay, relay(IpView::PrevNext)));
        }
        rows.push((
            PathRole::Service,
            RoleView {
                ip: IpView::PrevHop,
                prompt: true,
                payment: PaymentView::TokenProof,
                response: ResponseView::Plaintext,
            },
        ));
        rows.push((
            PathRole::Provider,
            RoleView {
                ip: IpView::GhostIp,
                prompt: true,
                payment: PaymentView::GhostBilling,
                response: ResponseView::Plaintext,
            },
        ));
        rows.push((
            PathRole::Mint,
            RoleView {
                ip: IpView::No,
                prompt: false,
                payment: PaymentView::MintLedger,
                response: ResponseView::No,
            },
        ));
        VisibilityMatrix { rows }
    }

    /// Computes the matrix for `truth` from each node's observations
    /// (`observed(addr)`); `mint` is the mint node's address.
    pub fn audit<'a>(
        truth: &SessionTruth,
        mint: SocketAddr,
        observed: impl Fn(SocketAddr) -> &'a [Observation],
    ) -> Self {
        let mut rows = Vec::new();
        let n = truth.relays.len();
        for (i, &relay) in truth.relays.iter().enumerate() {
            let prev = if i == 0 {
                truth.client
            } else {
                truth.relays[i - 1]
            };
            let next = ObservedNext::Node(truth.relays.get(i + 1).copied().unwrap_or(truth.exit));
            let seen = on_circuit(observed(relay), prev, next);
            let role = if i == 0 {
                PathRole::Ingress
            } else {
                PathRole::MidRelay
            };
            rows.push((role, view(truth, &seen)));
        }
        let last = truth
            .relays
            .get(n.wrapping_sub(1))
            .copied()
            .unwrap_or(truth.client);
        let at_exit = observed(truth.exit);
        let service = restrict_to_sessions(at_exit, &handles(at_exit, last, ObservedNext::Local));
        rows.push((PathRole::Service, view(truth, &service)));
        let provider: Vec<&Observation> = at_exit
            .iter()
            .filter(|o| matches!(o, Observation::Provider(_)))
            .collect();
        rows.push((PathRole::Provider, view(truth, &provider)));
        let at_mint: Vec<&Observation> = observed(mint)
            .iter()
            .filter(|o| matches!(o, Observation::Mint(_)))
            .collect();
        rows.push((PathRole::Mint, view(truth, &at_mint)));
        VisibilityMatrix { rows }
    }

    /// A Markdown table, in the whitepaper's layout.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| Role | Sees IP | Sees Prompt | Sees Payment ID | Sees Response |\n|---|---|---|---|---|\n",
        );
        for (role, v) in &self.rows {
            s.push_str(&format!(
                "| {role} | {} | {} | {} | {} |\n",
                v.ip,
                if v.prompt { "Yes" } else { "No" },
                v.payment,
                v.response
            ));
        }
        s
    }
}

impl fmt::Display for PathRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRole::Ingress => "Ingress hop",
            PathRole::MidRelay => "Mid relay",
            PathRole::Service => "Ghost node",
            PathRole::Provider => "AI provider",
            PathRole::Mint => "Mint",
        })
    }
}

impl fmt::Display for IpView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpView::No => "No",
            IpView::ClientIp => "Client IP",
            IpView::PrevNext => "Prev/next",
            IpView::PrevHop => "Prev hop",
            IpView::GhostIp => "Ghost IP",
            IpView::FundingNode => "Lightning node (funding)",
            IpView::FundingCandidates(k) => return write!(f, "one of {k} payers (funding)"),
        })
    }
}

impl fmt::Display for PaymentView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaymentView::No => "No",
            PaymentView::TokenProof => "Token proof only",
            PaymentView::GhostBilling => "Ghost billing",
            PaymentView::MintLedger => "Mint-side ledger",
        })
    }
}

impl fmt::Display for ResponseView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseView::No => "No",
            ResponseView::Encrypted => "Encrypted",
            ResponseView::Plaintext => "Yes",
        })
    }
}

/// Session handles at a node whose forward cells came from `prev` and went to `next`.
fn handles(observed: &[Observation], prev: SocketAddr, next: ObservedNext) -> HashSet<u32> {
    observed
        .iter()
        .filter_map(|o| match o {
            Observation::Hop(h)
                if h.cell == ObservedCell::Relay && h.prev == prev && h.next == next =>
            {
                Some(h.session)
            }
            _ => None,
        })
        .collect()
}

/// Every hop record of the sessions between `prev` and `next`.
fn on_circuit(observed: &[Observation], prev: SocketAddr, next: ObservedNext) -> Vec<&Observation> {
    restrict_to_sessions(observed, &handles(observed, prev, next))
}

/// Hop records and service records of `sessions` only.
fn restrict_to_sessions<'a>(
    obs: &'a [Observation],
    sessions: &HashSet<u32>,
) -> Vec<&'a Observation> {
    obs.iter()
        .filter(|o| match o {
            Observation::Hop(h) => sessions.contains(&h.session),
            Observation::ServiceRequest { session, .. }
            | Observation::ServicePayment { session, .. }
            | Observation::ServiceResponse { session, .. } => sessions.contains(session),
            _ => false,
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// What a set of observations reveals about `truth`.
fn view(truth: &SessionTruth, seen: &[&Observation]) -> RoleView {
    let mut e = Evidence::new(truth);
    for o in seen {
        e.read(o);
    }
    e.into_view()
}

/// Evidence about one session gathered from observations, read one at a time.
struct Evidence<'a> {
    truth: &'a SessionTruth,
    paid: HashSet<[u8; 33]>,
    addrs: Vec<SocketAddr>,
    has_prev: bool,
    has_next: bool,
    prompt: bool,
    payment: PaymentView,
    response: ResponseView,
    ghost_account: bool,
    /// A funding record names the client's own node.
    funding_node: bool,
    /// The smallest funding candidate set that holds the client.
    funding_set: Option<u32>,
}

impl<'a> Evidence<'a> {
    fn new(truth: &'a SessionTruth) -> Self {
        Self {
            truth,
            paid: truth.payment.iter().map(PublicKey::serialize).collect(),
            addrs: Vec::new(),
            has_prev: false,
            has_next: false,
            prompt: false,
            payment: PaymentView::No,
            response: ResponseView::No,
            ghost_account: false,
            funding_node: false,
            funding_set: None,
        }
    }

    fn pays(&self, ys: &[PublicKey]) -> bool {
        ys.iter().any(|y| self.paid.contains(&y.serialize()))
    }

    fn saw_prev(&mut self, prev: SocketAddr) {
        self.addrs.push(prev);
        self.has_prev = true;
    }

    fn read(&mut self, o: &Observation) {
        let truth = self.truth;
        match o {
            Observation::Hop(HopObservation {
                prev, next, cell, ..
            }) => {
                self.saw_prev(*prev);
                if let ObservedNext::Node(a) = next {
                    self.addrs.push(*a);
                    self.has_next = true;
                }
                if *cell == ObservedCell::Surb && self.response == ResponseView::No {
                    self.response = ResponseView::Encrypted;
                }
            }
            Observation::ServiceRequest {
                prev,
                prompt: p,
                payment: ys,
                ..
            } => {
                self.saw_prev(*prev);
                self.prompt |= contains(p, &truth.prompt);
                if self.pays(ys) {
                    self.payment = PaymentView::TokenProof;
                }
            }
            Observation::ServicePayment { payment: ys, .. } => {
                if self.pays(ys) {
                    self.payment = PaymentView::TokenProof;
                }
            }
            Observation::ServiceResponse { text, .. } => {
                if contains(&truth.response, text) {
                    self.response = ResponseView::Plaintext;
                }
            }
            Observation::Provider(p) => self.provider(p),
            Observation::Mint(m) => self.mint(m),
            // Baselines' views; Peer2Prompt's matrix has no row for them.
            Observation::Dht(_) | Observation::LlmTorOperator(_) | Observation::Api(_) => {}
        }
    }

    fn provider(&mut self, p: &ProviderObservation) {
        let truth = self.truth;
        self.addrs.push(p.account);
        match &p.seen {
            ProviderSaw::Prompt(t) if contains(t, &truth.prompt) => {
                self.prompt = true;
                self.ghost_account |= p.account == truth.exit;
                self.payment = PaymentView::GhostBilling;
            }
            ProviderSaw::Output(t) if contains(t, &truth.response) => {
                self.response = ResponseView::Plaintext;
            }
            _ => {}
        }
    }

    fn mint(&mut self, m: &MintObservation) {
        let truth = self.truth;
        let (presenter, ys): (Option<SocketAddr>, Vec<PublicKey>) = match m {
            MintObservation::Swap {
                presenter, inputs, ..
            }
            | MintObservation::Melt {
                presenter, inputs, ..
            } => (Some(*presenter), inputs.iter().map(|r| r.y).collect()),
            MintObservation::Issuance { presenter, .. }
            | MintObservation::Restore { presenter, .. } => (Some(*presenter), Vec::new()),
            MintObservation::Funding { payer, .. } => {
                self.funding(payer);
                (None, Vec::new())
            }
        };
        if self.pays(&ys) {
            self.payment = PaymentView::MintLedger;
        }
        // A presenter is the last relay of someone's circuit: only an
        // endpoint's own address would be a leak.
        if let Some(p) = presenter.filter(|p| *p == truth.client || *p == truth.exit) {
            self.addrs.push(p);
        }
    }

    fn funding(&mut self, payer: &LightningPayer) {
        match (payer, self.truth.payer) {
            (LightningPayer::Node(p), Some(me)) if *p == me => self.funding_node = true,
            (LightningPayer::Candidates(set), Some(me)) if set.contains(&me) => {
                let k = u32::try_from(set.len()).unwrap_or(u32::MAX);
                self.funding_set = Some(self.funding_set.map_or(k, |s| s.min(k)));
            }
            _ => {}
        }
    }

    fn into_view(self) -> RoleView {
        let truth = self.truth;
        let ip = if self.addrs.contains(&truth.client) {
            IpView::ClientIp
        } else if self.ghost_account || (!self.has_prev && self.addrs.contains(&truth.exit)) {
            IpView::GhostIp
        } else if self.funding_node {
            IpView::FundingNode
        } else if let Some(k) = self.funding_set {
            IpView::FundingCandidates(k)
        } else if self.has_prev && self.has_next {
            IpView::PrevNext
        } else if self.has_prev {
            IpView::PrevHop
        } else {
            IpView::No
        };
        RoleView {
            ip,
            prompt: self.prompt,
            payment: self.payment,
            response: self.response,
        }
    }
}
