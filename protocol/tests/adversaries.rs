//! Adversaries inside the request lifecycle (the protocol's `adversary`
//! feature): relays that drop or delay cells, a Ghost that drops replies,
//! a double-spending client, an overbilling Ghost, mints that tag their
//! users or refuse redemption, a harvesting Ghost; every one ends in a
//! defined outcome with value conserved. Without the feature the hooks do
//! not exist and this file is empty.
#![cfg(feature = "adversary")]
#![allow(clippy::unwrap_used)]

mod node_common;
mod vnet;

use std::collections::HashMap;

use node_common::*;
use peer2prompt::node::{
    ClientEvent, MintAdversary, Observation, ServiceAdversary, ServiceEvent, Settlement,
    TurnFailure,
};
use peer2prompt::onion::relay::RelayAdversary;
use peer2prompt::time::Duration;

const PROMPT: &[u8] = b"PROMPT-MARKER-7f3a: what is the airspeed velocity of an unladen swallow?";

fn fees(w: &World) -> u64 {
    let m = w.index(Kind::Mint, 0);
    w.nodes[m]
        .node
        .mint()
        .unwrap()
        .ledger()
        .fees_collected
        .value()
}

#[test]
fn a_relay_that_drops_cells_is_routed_around() {
    let (mut w, c) = World::funded(&Spec::default(), 10_000);
    let first = w.ask(c, PROMPT).unwrap();
    let (_, relays, _) = w.sessions_opened(c).remove(0);
    let middle = w.index_of(&relays[1]);
    w.nodes[middle]
        .node
        .dangerous_set_relay_behaviour(RelayAdversary {
            drop_ppm: 1_000_000,
            extra_delay: Duration::ZERO,
        });
    let second = w
        .ask(c, b"the same session, now through a black hole")
        .unwrap();
    assert_ne!(second.session, first.session);
    assert!(w.client_events(c).iter().any(|e| matches!(
        e,
        ClientEvent::TurnFailed {
            reason: TurnFailure::Timeout,
            retrying: true,
            ..
        }
    )));
    w.assert_conserved();
}

#[test]
fn relays_that_delay_cells_add_their_delay_to_every_hop() {
    let ttft = |delay: Duration| {
        let relay_adversary = (1..=8)
            .map(|i| {
                (
                    i,
                    RelayAdversary {
                        drop_ppm: 0,
                        extra_delay: delay,
                    },
                )
            })
            .collect();
        let (mut w, c) = World::funded(
            &Spec {
                relay_adversary,
                ..Spec::default()
            },
            5_000,
        );
        let r = w.ask(c, PROMPT).unwrap();
        r.first_token.saturating_duration_since(r.started)
    };
    let honest = ttft(Duration::ZERO);
    let slow = ttft(Duration::from_millis(100));
    // The prompt crosses three relays and the first token three more.
    assert!(
        slow.as_nanos() >= honest.as_nanos() + Duration::from_millis(600).as_nanos(),
        "{honest:?} -> {slow:?}"
    );
}

#[test]
fn a_ghost_that_drops_replies_is_left_and_loses_the_client_at_most_a_chunk() {
    let spec = Spec::default();
    let ghosts = World::new(&spec).all(Kind::Ghost);
    let dropping = ServiceAdversary {
        drop_replies: true,
        ..ServiceAdversary::default()
    };
    let spec = Spec {
        adversary: ghosts.iter().map(|g| (*g, dropping)).collect(),
        ..spec
    };
    let (mut w, c) = World::funded(&spec, 10_000);
    let r = w.ask(c, PROMPT).unwrap();
    assert_eq!(
        w.nodes[w.index_of(&r.exit)].kind,
        Kind::Gpu,
        "answered by the honest node"
    );
    let timeouts = w
        .client_events(c)
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::TurnFailed {
                    reason: TurnFailure::Timeout,
                    retrying: true,
                    ..
                }
            )
        })
        .count();
    assert!(timeouts >= 1);
    // What the droppers kept is at most the first chunk of each visit.
    let kept: u64 = ghosts.iter().map(|g| w.balance(*g)).sum();
    assert!(
        kept <= timeouts as u64 * spec.chunk_msat.div_ceil(1000),
        "kept {kept}"
    );
    w.assert_conserved();
}

#[test]
fn a_double_spending_client_is_caught_at_settlement() {
    let spec = Spec {
        settlement: Settlement::Batch {
            every: Duration::from_secs(20),
        },
        double_spender: Some(0),
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    // Offline verification lets the service serve before it settles.
    let r = w.ask(c, PROMPT).unwrap();
    w.run(Duration::from_secs(40));
    let s = w.index_of(&r.exit);
    let events = w.service_events(s);
    assert!(
        events.iter().any(|e| matches!(e, ServiceEvent::SettlementFailed { reason, .. } if reason.contains("spent"))),
        "{events:?}"
    );
    // The service learned which proofs were gone and holds none of them;
    // its loss is what it served unsettled: here the whole turn, bounded by
    // the settlement batch (with immediate settlement, by one chunk).
    assert_eq!(w.balance(s), 0);
    // Its ledger charged the loss to the session that paid: everything it
    // was paid for that turn.
    let paid: u64 = events
        .iter()
        .map(|e| match e {
            ServiceEvent::Served { paid_sat, .. } | ServiceEvent::Refused { paid_sat, .. } => {
                *paid_sat
            }
            _ => 0,
        })
        .sum();
    let lost: u64 = events
        .iter()
        .map(|e| match e {
            ServiceEvent::PaymentLost { amount_sat, .. } => *amount_sat,
            _ => 0,
        })
        .sum();
    assert!(paid > 0);
    assert_eq!(lost, paid, "{events:?}");
    w.assert_conserved();
}

#[test]
fn with_immediate_settlement_a_double_spender_costs_a_service_about_one_chunk() {
    let spec = Spec {
        double_spender: Some(0),
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    let failures = w.ask(c, PROMPT).unwrap_err();
    assert!(
        failures.iter().any(|f| matches!(
            f,
            TurnFailure::Refused(peer2prompt::node::wire::Refusal::DoubleSpent)
        )),
        "{failures:?}"
    );
    // Every service that served the cheat stopped within a chunk of learning
    // the first payment was gone: at most two chunks accepted per session.
    for s in w.all(Kind::Ghost).into_iter().chain(w.all(Kind::Gpu)) {
        let mut per_session: HashMap<u32, usize> = HashMap::new();
        for o in w.observations(s) {
            if let Observation::ServiceRequest { session, .. }
            | Observation::ServicePayment { session, .. } = o
            {
                *per_session.entry(session).or_default() += 1;
            }
        }
        assert!(
            per_session.values().all(|n| *n <= 2),
            "service {s}: {per_session:?}"
        );
        let served = w
            .service_events(s)
            .iter()
            .filter(|e| matches!(e, ServiceEvent::Served { .. }))
            .count();
        assert_eq!(served, 0, "no cheat got a whole answer");
        // What it delivered beyond what it kept is at most one chunk per
        // session: the loss "prepaid chunks" cap.
        let mut per: HashMap<u32, (i64, i64)> = HashMap::new();
        for e in w.service_events(s) {
            match e {
                ServiceEvent::Refused {
                    session,
                    charged_msat,
                    paid_sat,
                    ..
                } => {
                    let v = per.entry(session).or_default();
                    v.0 += charged_msat as i64;
                    v.1 += paid_sat as i64 * 1000;
                }
                ServiceEvent::PaymentLost {
                    session,
                    amount_sat,
                } => per.entry(session).or_default().1 -= amount_sat as i64 * 1000,
                _ => {}
            }
        }
        for (session, (delivered, kept)) in per {
            let loss = (delivered - kept).max(0);
            assert!(
                loss <= spec.chunk_msat as i64,
                "session {session}: lost {loss} msat"
            );
        }
    }
    w.assert_conserved();
}

#[test]
fn an_overbilling_ghost_is_detected_and_left() {
    let spec = Spec::default();
    let ghosts = World::new(&spec).all(Kind::Ghost);
    let overbill = ServiceAdversary {
        overbill_ppm: Some(1_200_000),
        ..ServiceAdversary::default()
    };
    let spec = Spec {
        adversary: ghosts.iter().map(|g| (*g, overbill)).collect(),
        ..spec
    };
    let (mut w, c) = World::funded(&spec, 10_000);
    let r = w.ask(c, PROMPT).unwrap();
    assert_eq!(w.nodes[w.index_of(&r.exit)].kind, Kind::Gpu);
    let caught = w
        .client_events(c)
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::TurnFailed {
                    reason: TurnFailure::Overbilling(_),
                    retrying: true,
                    ..
                }
            )
        })
        .count();
    assert!(caught >= 1);
    // The client stopped paying at the first inflated claim.
    let kept: u64 = ghosts.iter().map(|g| w.balance(*g)).sum();
    assert!(
        kept <= caught as u64 * spec.chunk_msat.div_ceil(1000) * 2,
        "kept {kept}"
    );
    w.assert_conserved();
}

#[test]
fn a_mint_tagging_its_users_is_caught_by_the_keyset_audit() {
    let spec = Spec {
        mint_adversary: MintAdversary {
            tag_per_mille: 1000,
            ..MintAdversary::default()
        },
        ..Spec::default()
    };
    let mut w = World::new(&spec);
    let c = w.index(Kind::Client, 0);
    let now = w.now();
    w.nodes[c].node.fund(now, 5_000).unwrap();
    w.collect(c);
    w.run(Duration::from_secs(30));
    let rejected = w
        .client_events(c)
        .into_iter()
        .any(|e| matches!(e, ClientEvent::MintRejected { .. }));
    assert!(rejected, "the audit saw two different active keysets");
    assert!(
        !w.client_events(c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Funded { .. }))
    );
    assert_eq!(w.ask(c, PROMPT).unwrap_err(), vec![TurnFailure::NoMint]);
    w.assert_conserved();
}

#[test]
fn without_the_audit_tagged_ecash_is_refused_by_services() {
    let spec = Spec {
        mint_adversary: MintAdversary {
            tag_per_mille: 1000,
            ..MintAdversary::default()
        },
        audit_keysets: false,
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    let failures = w.ask(c, PROMPT).unwrap_err();
    assert!(
        failures.iter().all(|f| matches!(
            f,
            TurnFailure::Refused(peer2prompt::node::wire::Refusal::BadPayment(_))
        )),
        "{failures:?}"
    );
    // Refused payments were never kept: the client took them back.
    w.assert_conserved();
    assert_eq!(w.balance(c) + fees(&w), 5_000);
}

#[test]
fn a_mint_refusing_redemption_fails_payment_with_a_typed_error() {
    let spec = Spec {
        mint_adversary: MintAdversary {
            refuse_redemption: true,
            ..MintAdversary::default()
        },
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    let failures = w.ask(c, PROMPT).unwrap_err();
    assert!(
        failures
            .iter()
            .any(|f| matches!(f, TurnFailure::Payment(_))),
        "{failures:?}"
    );
    w.assert_conserved();
    assert_eq!(w.balance(c), 5_000, "nothing was lost");
}

#[test]
fn a_harvesting_ghost_keeps_prompts_without_the_client_address() {
    let spec = Spec::default();
    let services: Vec<usize> = {
        let w = World::new(&spec);
        w.all(Kind::Ghost)
            .into_iter()
            .chain(w.all(Kind::Gpu))
            .collect()
    };
    let harvest = ServiceAdversary {
        harvest_prompts: true,
        ..ServiceAdversary::default()
    };
    let spec = Spec {
        adversary: services.iter().map(|s| (*s, harvest)).collect(),
        ..spec
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    let r = w.ask(c, PROMPT).unwrap();
    let s = w.index_of(&r.exit);
    let kept = w.nodes[s].node.harvested();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].prompt, PROMPT);
    assert_ne!(
        kept[0].prev,
        w.nodes[c].node.addr(),
        "the previous hop, never the client"
    );
    let (_, relays, _) = w.sessions_opened(c).remove(0);
    assert_eq!(kept[0].prev, w.addr_of(&relays[2]));
    // An honest node keeps nothing.
    let honest = World::new(&Spec::default());
    assert!(honest.nodes.iter().all(|e| e.node.harvested().is_empty()));
}
