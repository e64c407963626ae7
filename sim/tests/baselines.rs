//! The baselines in the simulator (issue 19): LLM-Tor and the direct API
//! on the same workload and relays as Peer2Prompt, with their operator as
//! the adversary. LLM-Tor's purchase-timing attacker names its users when
//! each purchase sits right before a redemption, and far less often when
//! tokens are bought in bulk; with colluding entry relays, the entry–exit
//! matcher links circuits through the proxy as it does through an exit.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::SessionRecord;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const BASE: &str = r#"
name: baselines
seed: 5
system: llm_tor
population: {relays: 12, ghosts: 2, gpus: 0, mints: 1, clients: 8}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 900
  drain_s: 60
  sessions_per_client_per_hour: 20
  prompt_tokens: {kind: log_normal, median: 200, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 60, sigma: 0.5}
protocol: {relays_per_route: 3, shards: 1, service_shards: 1, llm_tor: {tokens_per_purchase: 1, circuit_lifetime_s: 60}}
adversary:
  entry_fraction_m: 0.0
  operator: {purchase_window_s: 30}
"#;

fn sessions(text: &str) -> Vec<SessionRecord> {
    let l = load_str(std::path::Path::new("b.yaml"), text).unwrap();
    run_replicate(&l.points[0], 0, 5, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
        .sessions
}

fn share(rows: &[SessionRecord], f: impl Fn(&SessionRecord) -> bool) -> f64 {
    rows.iter().filter(|r| f(r)).count() as f64 / rows.len().max(1) as f64
}

#[test]
fn llm_tor_sessions_are_answered_through_three_relays_to_the_operator() {
    let rows = sessions(BASE);
    let answered: Vec<_> = rows.iter().filter(|r| r.turns > 0).collect();
    assert!(answered.len() >= 20, "{} sessions answered", answered.len());
    for r in &answered {
        assert_eq!(
            (r.system.as_str(), r.exit_kind.as_str(), r.hops),
            ("llm_tor", "operator", 3)
        );
        assert!(r.first_token_ns.is_some() && r.outcome == "ok");
    }
}

#[test]
fn purchase_timing_names_just_in_time_buyers_and_bulk_buying_hides_them() {
    let jit = sessions(BASE);
    let judged: Vec<_> = jit
        .iter()
        .filter(|r| r.operator_linked.is_some())
        .cloned()
        .collect();
    assert!(judged.len() >= 20);
    let jit_share = share(&judged, |r| r.operator_linked == Some(true));
    assert!(jit_share > 0.8, "just-in-time purchases linked {jit_share}");
    let bulk = sessions(&BASE.replace("tokens_per_purchase: 1", "tokens_per_purchase: 50"));
    let judged: Vec<_> = bulk
        .iter()
        .filter(|r| r.operator_linked.is_some())
        .cloned()
        .collect();
    let bulk_share = share(&judged, |r| r.operator_linked == Some(true));
    assert!(bulk_share < 0.3, "bulk purchases linked {bulk_share}");
    assert!(
        judged
            .iter()
            .all(|r| r.linked_any == (r.operator_linked == Some(true) || r.linked))
    );
}

#[test]
fn colluding_entries_link_circuits_through_the_proxy() {
    let text = BASE
        .replace("entry_fraction_m: 0.0", "entry_fraction_m: 0.5")
        .replace("tokens_per_purchase: 1,", "tokens_per_purchase: 50,");
    let rows = sessions(&text);
    let bad_entry: Vec<_> = rows
        .iter()
        .filter(|r| r.entry_adversarial && r.turns > 0)
        .collect();
    let good_entry: Vec<_> = rows
        .iter()
        .filter(|r| !r.entry_adversarial && r.turns > 0)
        .collect();
    assert!(bad_entry.len() >= 5 && good_entry.len() >= 5);
    assert!(
        rows.iter().all(|r| r.exit_adversarial),
        "the proxy is the adversary's"
    );
    let linked = bad_entry.iter().filter(|r| r.linked).count() as f64 / bad_entry.len() as f64;
    assert!(
        linked > 0.7,
        "{linked} of adversarial-entry circuits linked"
    );
    assert!(
        good_entry.iter().all(|r| !r.linked),
        "no link without the entry's view"
    );
}

#[test]
fn the_direct_provider_names_every_session() {
    let rows = sessions(&BASE.replace("system: llm_tor", "system: direct"));
    let answered: Vec<_> = rows.iter().filter(|r| r.turns > 0).collect();
    assert!(answered.len() >= 20);
    for r in &answered {
        assert_eq!(
            (r.system.as_str(), r.hops, r.operator_linked),
            ("direct", 0, Some(true))
        );
    }
}

#[test]
fn the_operator_adversary_needs_a_baseline() {
    let text = BASE.replace("system: llm_tor", "system: peer2prompt");
    let err = load_str(std::path::Path::new("b.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("adversary.operator"), "{err}");
}
