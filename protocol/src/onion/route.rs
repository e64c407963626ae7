//! Route selection (whitepaper "Route Construction": h-1 relays and one exit,
//! "a route satisfying verifiable diversity rules (distinct node keys, IP
//! prefixes, and ASNs)"; "DHT Sybil and Eclipse Attacks": diversity-aware
//! selection).
//!
//! Policy is kept apart from mechanism: [`RoutePolicy`] says how many relays,
//! how to weight them, which diversity rules apply and whether entry guards
//! are used; [`ExitScorer`] weights exits and is pluggable (the market plugs
//! price and quality in). [`RouteSelector`] applies a policy to the
//! candidates discovery returned. Decisions draw from the caller's decision
//! stream, never from the crypto stream.

use std::net::{IpAddr, SocketAddr};

use rand_core::Rng;
use serde::{Deserialize, Serialize};

use super::OnionError;
use super::client::HopSpec;
use crate::identity::NodeId;
use crate::time::{Duration, Instant};

/// A candidate hop, as discovery describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Node id.
    pub node: NodeId,
    /// Address (its IPv4 /16 prefix is a diversity key).
    pub addr: SocketAddr,
    /// Autonomous system.
    pub asn: u32,
    /// Declared operator family, if any.
    pub family: Option<u64>,
    /// Advertised bandwidth (bytes/s), for bandwidth weighting.
    pub bandwidth: u64,
    /// Current onion key.
    pub onion_key: [u8; 32],
}

impl Candidate {
    /// The hop as the circuit builder needs it.
    pub fn hop(&self) -> HopSpec {
        HopSpec {
            node: self.node,
            addr: self.addr,
            onion_key: self.onion_key,
        }
    }

    /// The network prefix used for diversity: /16 for IPv4, /32 for IPv6.
    pub fn prefix(&self) -> u64 {
        match self.addr.ip() {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                (u64::from(o[0]) << 8) | u64::from(o[1])
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                (1u64 << 40) | u64::from(u32::from_be_bytes([o[0], o[1], o[2], o[3]]))
            }
        }
    }
}

/// How relays are weighted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayWeighting {
    /// Every eligible relay equally likely.
    #[default]
    Uniform,
    /// Proportional to advertised bandwidth.
    Bandwidth,
}

/// Which diversity rules a route must satisfy (node keys are always distinct).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diversity {
    /// No two hops in the same IPv4 /16.
    pub distinct_prefix: bool,
    /// No two hops in the same autonomous system.
    pub distinct_asn: bool,
    /// No two hops of the same declared operator family.
    pub distinct_family: bool,
}

impl Default for Diversity {
    fn default() -> Self {
        Diversity {
            distinct_prefix: true,
            distinct_asn: true,
            distinct_family: true,
        }
    }
}

/// Entry guards (off by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardPolicy {
    /// Whether the entry is always one of a small fixed set.
    pub enabled: bool,
    /// Guards in the set.
    pub count: usize,
    /// How long a guard is kept before it is replaced.
    pub rotation: Duration,
}

impl Default for GuardPolicy {
    fn default() -> Self {
        GuardPolicy {
            enabled: false,
            count: 3,
            rotation: Duration::from_secs(60 * 24 * 3600),
        }
    }
}

/// How routes are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutePolicy {
    /// Relays before the exit (h - 1; the whitepaper uses 2 or 3).
    pub relays: usize,
    /// Relay weighting.
    pub weighting: RelayWeighting,
    /// Diversity rules.
    pub diversity: Diversity,
    /// Entry guards.
    pub guards: GuardPolicy,
}

impl Default for RoutePolicy {
    fn default() -> Self {
        RoutePolicy {
            relays: 3,
            weighting: RelayWeighting::Uniform,
            diversity: Diversity::default(),
            guards: GuardPolicy::default(),
        }
    }
}

/// Weights exits. Zero, negative or non-finite weights exclude an exit.
pub trait ExitScorer {
    /// The selection weight of `exit`.
    fn weight(&self, exit: &Candidate) -> f64;
}

/// Every exit equally likely.
#[derive(Clone, Copy, Debug, Default)]
pub struct UniformExits;

impl ExitScorer for UniformExits {
    fn weight(&self, _: &Candidate) -> f64 {
        1.0
    }
}

/// Exits weighted by a table the client was given, e.g. market shares
/// derived from the services' pre-declared prices (whitepaper "GPU Node
/// Competition": clients choose by price, quality and latency; "Malicious
/// Service Nodes": pre-declared signed pricing). Exits missing from the
/// table get `default`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExitWeights {
    /// Weight per exit.
    pub weights: std::collections::BTreeMap<NodeId, f64>,
    /// Weight of an exit not in the table.
    pub default: f64,
}

impl ExitScorer for ExitWeights {
    fn weight(&self, exit: &Candidate) -> f64 {
        self.weights
            .get(&exit.node)
            .copied()
            .unwrap_or(self.default)
    }
}

/// A chosen route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The relays, entry first.
    pub relays: Vec<Candidate>,
    /// The exit (a Ghost or GPU node).
    pub exit: Candidate,
}

impl Route {
    /// The hops in circuit order: relays, then the exit.
    pub fn hops(&self) -> Vec<HopSpec> {
        self.relays
            .iter()
            .chain(std::iter::once(&self.exit))
            .map(Candidate::hop)
            .collect()
    }

    /// The entry hop.
    pub fn entry(&self) -> &Candidate {
        self.relays.first().unwrap_or(&self.exit)
    }
}

fn compatible(d: &Diversity, chosen: &[Candidate], c: &Candidate) -> bool {
    chosen.iter().all(|o| {
        o.node != c.node
            && o.addr.ip() != c.addr.ip()
            && !(d.distinct_prefix && o.prefix() == c.prefix())
            && !(d.distinct_asn && o.asn == c.asn)
            && !(d.distinct_family && o.family.is_some() && o.family == c.family)
    })
}

/// A uniform float in [0, 1) from 53 random bits.
fn unit(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks one item with probability proportional to its weight.
fn weighted<'a>(items: &[(&'a Candidate, f64)], rng: &mut impl Rng) -> Option<&'a Candidate> {
    let total: f64 = items.iter().map(|(_, w)| *w).sum();
    if !(total.is_finite() && total > 0.0) {
        return None;
    }
    let mut x = unit(rng) * total;
    for (c, w) in items {
        if x < *w {
            return Some(c);
        }
        x -= w;
    }
    items.last().map(|(c, _)| *c)
}

#[derive(Clone, Copy, Debug)]
struct Guard {
    candidate: Candidate,
    chosen_at: Instant,
}

/// Applies a [`RoutePolicy`]; holds the guard set.
#[derive(Clone, Debug)]
pub struct RouteSelector {
    policy: RoutePolicy,
    guards: Vec<Guard>,
}

impl RouteSelector {
    /// A selector for `policy`.
    pub fn new(policy: RoutePolicy) -> Self {
        RouteSelector {
            policy,
            guards: Vec::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RoutePolicy {
        &self.policy
    }

    /// The current guards (empty when guards are off).
    pub fn guards(&self) -> Vec<NodeId> {
        self.guards.iter().map(|g| g.candidate.node).collect()
    }

    /// Forgets the guard set (explicit rotation).
    pub fn reset_guards(&mut self) {
        self.guards.clear();
    }

    fn relay_weight(&self, c: &Candidate) -> f64 {
        match self.policy.weighting {
            RelayWeighting::Uniform => 1.0,
            RelayWeighting::Bandwidth => c.bandwidth as f64,
        }
    }

    /// Drops guards that left the candidate set or are due for rotation, and
    /// refills the set from `relays`.
    fn maintain_guards(&mut self, now: Instant, relays: &[Candidate], rng: &mut impl Rng) {
        let rotation = self.policy.guards.rotation;
        self.guards.retain(|g| {
            relays.iter().any(|c| c.node == g.candidate.node)
                && now.saturating_duration_since(g.chosen_at) < rotation
        });
        while self.guards.len() < self.policy.guards.count {
            let current: Vec<Candidate> = self.guards.iter().map(|g| g.candidate).collect();
            let pool: Vec<(&Candidate, f64)> = relays
                .iter()
                .filter(|c| compatible(&self.policy.diversity, &current, c))
                .map(|c| (c, self.relay_weight(c)))
                .collect();
            let Some(pick) = weighted(&pool, rng) else {
                break;
            };
            self.guards.push(Guard {
                candidate: *pick,
                chosen_at: now,
            });
        }
    }

    /// Chooses a route: the exit by `scorer`, then the entry (a guard, if
    /// guards are on), then the middle relays, each compatible with the hops
    /// already chosen.
    pub fn select(
        &mut self,
        now: Instant,
        relays: &[Candidate],
        exits: &[Candidate],
        scorer: &dyn ExitScorer,
        rng: &mut impl Rng,
    ) -> Result<Route, OnionError> {
        let d = self.policy.diversity;
        let exit_pool: Vec<(&Candidate, f64)> = exits
            .iter()
            .map(|c| (c, scorer.weight(c)))
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .collect();
        let exit = *weighted(&exit_pool, rng).ok_or(OnionError::NoRoute {
            reason: "no exit with positive weight",
        })?;
        let mut chosen = vec![exit];
        let mut path: Vec<Candidate> = Vec::with_capacity(self.policy.relays);
        for position in 0..self.policy.relays {
            let pick = if position == 0 && self.policy.guards.enabled {
                self.maintain_guards(now, relays, rng);
                let usable: Vec<(&Candidate, f64)> = self
                    .guards
                    .iter()
                    .map(|g| &g.candidate)
                    .filter(|c| compatible(&d, &chosen, c))
                    .map(|c| (c, 1.0))
                    .collect();
                weighted(&usable, rng).copied().ok_or(OnionError::NoRoute {
                    reason: "no guard compatible with the exit",
                })?
            } else {
                let pool: Vec<(&Candidate, f64)> = relays
                    .iter()
                    .filter(|c| compatible(&d, &chosen, c))
                    .map(|c| (c, self.relay_weight(c)))
                    .filter(|(_, w)| *w > 0.0)
                    .collect();
                *weighted(&pool, rng).ok_or(OnionError::NoRoute {
                    reason: "too few diverse relays",
                })?
            };
            chosen.push(pick);
            path.push(pick);
        }
        Ok(Route { relays: path, exit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn candidate(i: u32, prefix: u8, asn: u32, family: Option<u64>, bw: u64) -> Candidate {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        Candidate {
            node: NodeId(id),
            addr: SocketAddr::from(([10, prefix, (i >> 8) as u8, i as u8], 443)),
            asn,
            family,
            bandwidth: bw,
            onion_key: [0; 32],
        }
    }

    fn population() -> impl Strategy<Value = Vec<Candidate>> {
        proptest::collection::vec(
            (0u8..12, 0u32..10, proptest::option::of(0u64..5), 1u64..100),
            8..60,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (p, a, f, bw))| candidate(i as u32, p, a, f, bw))
                .collect()
        })
    }

    fn diverse(route: &Route) -> bool {
        let all: Vec<Candidate> = route.relays.iter().copied().chain([route.exit]).collect();
        (0..all.len()).all(|i| compatible(&Diversity::default(), &all[..i], &all[i]))
    }

    proptest! {
        #[test]
        fn every_route_satisfies_the_diversity_rules(
            relays in population(), exits in population(), seed in any::<u64>(), guards in any::<bool>(),
        ) {
            let exits: Vec<Candidate> = exits.into_iter().map(|mut c| { c.node.0[31] = 1; c.addr.set_port(8443); c }).collect();
            let policy = RoutePolicy {
                guards: GuardPolicy { enabled: guards, ..GuardPolicy::default() },
                ..RoutePolicy::default()
            };
            let mut sel = RouteSelector::new(policy);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for k in 0..40u64 {
                let now = Instant::from_nanos(k);
                match sel.select(now, &relays, &exits, &UniformExits, &mut rng) {
                    Ok(route) => {
                        prop_assert_eq!(route.relays.len(), 3);
                        prop_assert!(diverse(&route), "route breaks diversity: {:?}", route);
                        if guards {
                            prop_assert!(sel.guards().contains(&route.entry().node));
                            prop_assert!(sel.guards().len() <= 3);
                        }
                    }
                    Err(OnionError::NoRoute { .. }) => {}
                    Err(e) => prop_assert!(false, "unexpected error {}", e),
                }
            }
        }
    }

    #[test]
    fn two_thousand_routes_from_a_clustered_population_are_all_diverse() {
        // 200 relays crammed into 8 prefixes, 6 ASNs and 4 families: the rules
        // bite often, yet a route always exists.
        let relays: Vec<Candidate> = (0..200)
            .map(|i| candidate(i, (i % 8) as u8, i % 6, Some(u64::from(i % 4)), 1))
            .collect();
        let exits: Vec<Candidate> = (1000..1020)
            .map(|i| candidate(i, 100 + (i % 3) as u8, 100 + i % 3, None, 1))
            .collect();
        for guards in [false, true] {
            let mut sel = RouteSelector::new(RoutePolicy {
                guards: GuardPolicy {
                    enabled: guards,
                    ..GuardPolicy::default()
                },
                ..RoutePolicy::default()
            });
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            for k in 0..1000 {
                let r = sel
                    .select(
                        Instant::from_nanos(k),
                        &relays,
                        &exits,
                        &UniformExits,
                        &mut rng,
                    )
                    .unwrap();
                assert!(diverse(&r), "{r:?}");
            }
        }
    }

    #[test]
    fn guards_persist_then_rotate() {
        let relays: Vec<Candidate> = (0..50).map(|i| candidate(i, i as u8, i, None, 1)).collect();
        let exits: Vec<Candidate> = (100..120)
            .map(|i| candidate(i, 200 + (i - 100) as u8, 1000 + i, None, 1))
            .collect();
        let policy = RoutePolicy {
            guards: GuardPolicy {
                enabled: true,
                count: 2,
                rotation: Duration::from_secs(100),
            },
            ..RoutePolicy::default()
        };
        let mut sel = RouteSelector::new(policy);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        sel.select(Instant::ZERO, &relays, &exits, &UniformExits, &mut rng)
            .unwrap();
        let first = sel.guards();
        for t in 1..50 {
            let r = sel
                .select(
                    Instant::from_nanos(t),
                    &relays,
                    &exits,
                    &UniformExits,
                    &mut rng,
                )
                .unwrap();
            assert!(first.contains(&r.entry().node));
        }
        assert_eq!(
            sel.guards(),
            first,
            "guards persist within the rotation period"
        );
        let later = Instant::ZERO + Duration::from_secs(101);
        sel.select(later, &relays, &exits, &UniformExits, &mut rng)
            .unwrap();
        assert_ne!(sel.guards(), first, "guards rotate after the period");
    }

    #[test]
    fn weights_shape_the_choice() {
        // Bandwidth weighting: a relay with 9x the bandwidth is picked ~9x as often.
        let relays = vec![candidate(1, 1, 1, None, 900), candidate(2, 2, 2, None, 100)];
        let exits = vec![candidate(9, 9, 9, None, 1)];
        let mut sel = RouteSelector::new(RoutePolicy {
            relays: 1,
            weighting: RelayWeighting::Bandwidth,
            ..RoutePolicy::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 10_000;
        let heavy = (0..n)
            .filter(|_| {
                sel.select(Instant::ZERO, &relays, &exits, &UniformExits, &mut rng)
                    .unwrap()
                    .entry()
                    .node
                    == relays[0].node
            })
            .count();
        let share = heavy as f64 / n as f64;
        // Expected 0.9, standard error 0.003.
        assert!((share - 0.9).abs() < 0.015, "share {share}");

        // A scorer that zeroes an exit excludes it.
        struct OnlyFirst(NodeId);
        impl ExitScorer for OnlyFirst {
            fn weight(&self, c: &Candidate) -> f64 {
                if c.node == self.0 { 1.0 } else { 0.0 }
            }
        }
        let exits = vec![candidate(7, 7, 7, None, 1), candidate(8, 8, 8, None, 1)];
        for _ in 0..100 {
            let r = sel
                .select(
                    Instant::ZERO,
                    &relays,
                    &exits,
                    &OnlyFirst(exits[1].node),
                    &mut rng,
                )
                .unwrap();
            assert_eq!(r.exit.node, exits[1].node);
        }
    }

    #[test]
    fn impossible_diversity_is_a_typed_error() {
        // Every relay shares the exit's AS.
        let relays: Vec<Candidate> = (0..10).map(|i| candidate(i, i as u8, 5, None, 1)).collect();
        let exits = vec![candidate(99, 99, 5, None, 1)];
        let mut sel = RouteSelector::new(RoutePolicy::default());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(
            sel.select(Instant::ZERO, &relays, &exits, &UniformExits, &mut rng),
            Err(OnionError::NoRoute {
                reason: "too few diverse relays"
            })
        );
    }
}
