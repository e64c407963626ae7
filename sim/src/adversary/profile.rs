//! The profile attacker (whitepaper "Threat Model Tiers", tier 3 residual:
//! "colluding sets can accumulate partial evidence over time"; "Attack
//! Economics": attackers "cannot retroactively link sessions that used
//! routes not under their control").
//!
//! It joins the sessions its exits served into per-client profiles through
//! every channel it holds. Each channel turns a session as one of its
//! vantage points knows it (an exit flow: one pinned session, all its
//! turns; or a service-side flow its observers saw) into a *claim* that it
//! belongs to the client behind an identifier:
//! - entry–exit timing: the entry flow the matcher aligned with the exit
//!   flow names the client's address (a client's guards are entries too);
//! - mint–exit: the colluding mint's log walks the flow's first payment
//!   back to a funding, which names a Lightning payer;
//! - observers: the client-side flow the correlation attacker aligned with
//!   a service-side flow, above its threshold, names the client's address.
//!
//! Flows and identifiers are joined by union-find: a flow claimed by an
//! address and by a payer merges the two, so a later session seen end to
//! end can attribute earlier sessions that only the mint saw. A profile is
//! a component holding at least one identifier. Wrong claims merge clients;
//! scoring measures the purity that results. An observed service flow and
//! the exit flow of the same session stay separate units (joining them
//! would need the observers' and the exits' timing aligned; not done).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use peer2prompt::ecash::PayerId;

use super::pool::FlowKey;

/// An identifier the adversary holds for a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ident {
    /// A network address, seen by an entry.
    Address(SocketAddr),
    /// A Lightning payer, seen by a mint.
    Payer(PayerId),
}

/// What a claim is about: a session as one of the adversary's vantage
/// points knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// An exit flow: one session (all its turns) at one of its exits.
    Exit(FlowKey),
    /// A service-side flow its observers saw (index into their flows).
    Observed(u32),
}

/// One channel's claim: `unit` belongs to the client behind `ident`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The session as the adversary knows it.
    pub unit: Unit,
    /// Who it names.
    pub ident: Ident,
}

/// The profiles built from a set of claims.
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    /// The profile of each claimed unit.
    pub of_unit: BTreeMap<Unit, u32>,
    /// Each profile's identifiers, sorted; profiles are numbered in the
    /// order of their smallest identifier.
    pub idents: Vec<Vec<Ident>>,
    /// The identifier each profile names: the one most flows claimed (the
    /// smallest on a tie). A profile that wrong claims merged still names
    /// one client, and its purity says how often that is right.
    pub named: Vec<Ident>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Vertex {
    Ident(Ident),
    Unit(Unit),
}

/// Union-find over vertices, deterministic (ordered maps, smaller root wins).
#[derive(Default)]
struct Components {
    index: BTreeMap<Vertex, usize>,
    parent: Vec<usize>,
}

impl Components {
    fn id(&mut self, v: Vertex) -> usize {
        let next = self.parent.len();
        let i = *self.index.entry(v).or_insert(next);
        if i == next {
            self.parent.push(i);
        }
        i
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: Vertex, b: Vertex) {
        let (a, b) = (self.id(a), self.id(b));
        let (ra, rb) = (self.root(a), self.root(b));
        self.parent[ra.max(rb)] = ra.min(rb);
    }
}

/// Joins `claims` into profiles.
pub fn build(claims: &[Claim]) -> Profiles {
    let mut c = Components::default();
    for claim in claims {
        c.join(Vertex::Unit(claim.unit), Vertex::Ident(claim.ident));
    }
    let mut claimed: BTreeMap<Ident, u32> = BTreeMap::new();
    for claim in claims {
        *claimed.entry(claim.ident).or_default() += 1;
    }
    let vertices: Vec<(Vertex, usize)> = c.index.iter().map(|(v, i)| (*v, *i)).collect();
    // Identifiers sort before flows, so profiles are numbered by their
    // smallest identifier.
    let mut number: BTreeMap<usize, u32> = BTreeMap::new();
    let mut out = Profiles::default();
    for (v, i) in vertices {
        let root = c.root(i);
        match v {
            Vertex::Ident(ident) => {
                let next = number.len() as u32;
                let p = *number.entry(root).or_insert(next);
                if p as usize == out.idents.len() {
                    out.idents.push(Vec::new());
                    out.named.push(ident);
                }
                out.idents[p as usize].push(ident);
                let named = &mut out.named[p as usize];
                if claimed[&ident] > claimed[named] {
                    *named = ident;
                }
            }
            Vertex::Unit(unit) => {
                if let Some(p) = number.get(&root) {
                    out.of_unit.insert(unit, *p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(n: u32) -> Unit {
        Unit::Exit((0, n))
    }

    fn addr(n: u8) -> Ident {
        Ident::Address(SocketAddr::from(([10, 0, 0, n], 1)))
    }

    #[test]
    fn a_payer_seen_with_an_address_joins_the_sessions_only_the_mint_saw() {
        let p = build(&[
            Claim {
                unit: flow(1),
                ident: Ident::Payer(PayerId(7)),
            },
            Claim {
                unit: flow(2),
                ident: addr(1),
            },
            Claim {
                unit: flow(2),
                ident: Ident::Payer(PayerId(7)),
            },
            Claim {
                unit: flow(3),
                ident: addr(2),
            },
        ]);
        assert_eq!(p.idents.len(), 2);
        assert_eq!(p.of_unit[&flow(1)], p.of_unit[&flow(2)], "retroactive join");
        assert_ne!(p.of_unit[&flow(1)], p.of_unit[&flow(3)]);
        let first = p.of_unit[&flow(1)] as usize;
        assert!(p.idents[first].contains(&addr(1)));
        assert!(p.idents[first].contains(&Ident::Payer(PayerId(7))));
        // The payer was claimed twice, the address once.
        assert_eq!(p.named[first], Ident::Payer(PayerId(7)));
    }

    #[test]
    fn profiles_do_not_depend_on_the_order_of_claims() {
        let mut claims: Vec<Claim> = (0..40)
            .map(|i| Claim {
                unit: flow(i),
                ident: if i % 3 == 0 {
                    Ident::Payer(PayerId(u64::from(i % 5)))
                } else {
                    addr((i % 7) as u8)
                },
            })
            .collect();
        let a = build(&claims);
        claims.reverse();
        let b = build(&claims);
        assert_eq!(a.of_unit, b.of_unit);
        assert_eq!(a.idents, b.idents);
        assert_eq!(a.named, b.named);
    }
}
