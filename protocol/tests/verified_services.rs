//! Verified inference across real nodes (seed 003 as a verification mode
//! of Peer2Prompt's services; whitepaper "Malicious Service Nodes"):
//! services commit to their transcripts, clients audit answered turns and
//! probe whole, and a service caught is never chosen again.
#![allow(clippy::unwrap_used)]

mod node_common;
mod vnet;

use node_common::*;
use peer2prompt::identity::NodeId;
use peer2prompt::node::{AuditOutcome, AuditPolicy, ClientEvent, NodeEvent, TurnFailure};
use peer2prompt::verify::model::parse;

fn spec(substitutes: Vec<usize>, rate: f64) -> Spec {
    Spec {
        transcripts: true,
        substitutes,
        p_diff: 0.5,
        audit: Some(AuditPolicy { rate, steps: 8 }),
        output_tokens: 60.0,
        turns_per_session: 1,
        ..Spec::default()
    }
}

fn services(w: &World) -> Vec<usize> {
    let mut v = w.all(Kind::Ghost);
    v.extend(w.all(Kind::Gpu));
    v
}

#[test]
fn honest_services_pass_every_audit() {
    let (mut w, c) = World::funded(&spec(Vec::new(), 1.0), 4_000);
    for i in 0..4 {
        let r = w.ask(c, format!("question {i}").as_bytes()).unwrap();
        assert_eq!(r.audit, Some(AuditOutcome::Passed), "turn {i}");
        assert_eq!(
            parse(&r.response).map(|t| t.len() as u64),
            Some(r.output_tokens)
        );
    }
    assert!(
        !w.client_events(c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Distrusted { .. }))
    );
}

#[test]
fn substitutes_are_caught_and_never_chosen_again() {
    let probe = World::new(&spec(Vec::new(), 1.0));
    let all = services(&probe);
    // Every service substitutes but the last: each caught one is dropped.
    let cheats = all[..all.len() - 1].to_vec();
    let honest = *all.last().unwrap();
    let (mut w, c) = World::funded(&spec(cheats.clone(), 1.0), 8_000);
    let mut exits: Vec<usize> = Vec::new();
    for i in 0..8 {
        let r = w.ask(c, format!("question {i}").as_bytes()).unwrap();
        let exit = w.index_of(&r.exit);
        if cheats.contains(&exit) {
            // 1 - 0.5^8: caught unless all 8 steps agree.
            assert!(
                matches!(r.audit, Some(AuditOutcome::Caught("logits_mismatch")))
                    || r.audit == Some(AuditOutcome::Passed)
            );
        } else {
            assert_eq!(r.audit, Some(AuditOutcome::Passed));
        }
        exits.push(exit);
    }
    let distrusted: Vec<NodeId> = w
        .client_events(c)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Distrusted { service, .. } => Some(service),
            _ => None,
        })
        .collect();
    assert!(!distrusted.is_empty(), "exits {exits:?}");
    for d in &distrusted {
        let d = w.index_of(d);
        assert!(cheats.contains(&d));
        // After its catch, the service is not used again.
        let caught_at = exits.iter().position(|&e| e == d).unwrap();
        assert!(
            !exits[caught_at + 1..].contains(&d),
            "{d} reused: {exits:?}"
        );
    }
    assert_eq!(
        *exits.last().unwrap(),
        honest,
        "cheating stopped paying: {exits:?}"
    );
}

#[test]
fn probes_are_checked_whole_against_the_advertised_model() {
    let probe = World::new(&spec(Vec::new(), 0.0));
    let all = services(&probe);
    let (mut w, c) = World::funded(&spec(all, 0.0), 4_000);
    let r = w.ask_with(c, b"canary", true);
    // Every service substitutes: the probe fails (60 tokens, each step
    // differing with probability 0.5) and the service is distrusted.
    let failures = r.unwrap_err();
    assert!(failures.contains(&TurnFailure::ProbeFailed), "{failures:?}");
    let caught = w.nodes[c].events.iter().any(|e| {
        matches!(
            e,
            NodeEvent::Client(ClientEvent::Distrusted {
                outcome: AuditOutcome::Caught("probe"),
                ..
            })
        )
    });
    assert!(caught);
    let (mut w, c) = World::funded(&spec(Vec::new(), 0.0), 4_000);
    let r = w.ask_with(c, b"canary", true).unwrap();
    assert_eq!(r.probe_passed, Some(true));
}
