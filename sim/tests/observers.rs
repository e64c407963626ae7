//! Passive observers on the real protocol (whitepaper "Threat Model", tier
//! 4): a global observer's correlation attacker links sessions, and random
//! per-hop delays cut what it links; the observer columns are null without
//! observers and false when the observers watch nothing the sessions cross.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const BASE: &str = r#"
name: observers
seed: 21
population: {relays: 16, ghosts: 4, gpus: 0, mints: 1, clients: 12}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 300
  drain_s: 60
  sessions_per_client_per_hour: 40
  turns_per_session: 1
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 120, sigma: 0.5}
protocol: {relays_per_route: 2, shards: 1, service_shards: 1DEFENCE}
adversary:
  entry_fraction_m: 0.0
  exit_fraction_g: 0.0
OBSERVERS
"#;

fn run(observers: &str) -> NetworkReplicate {
    defended(observers, "")
}

fn defended(observers: &str, defence: &str) -> NetworkReplicate {
    let text = BASE
        .replace("OBSERVERS", observers)
        .replace("DEFENCE", defence);
    let l = load_str(std::path::Path::new("obs.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, 21, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

#[test]
fn a_global_observer_links_most_undefended_sessions() {
    let r = run("  observers: {vantage: {kind: global}, threshold: 0.6}");
    let answered: Vec<_> = r.sessions.iter().filter(|s| s.turns > 0).collect();
    assert!(answered.len() >= 20, "{} sessions", answered.len());
    assert!(r.sessions.iter().all(|s| s.observer_linked.is_some()));
    let linked = answered
        .iter()
        .filter(|s| s.observer_linked == Some(true))
        .count();
    assert!(
        linked * 10 >= answered.len() * 7,
        "{linked} of {} linked",
        answered.len()
    );
    // Pairs carry truth labels; true pairs score higher on average.
    let truth: Vec<f64> = r
        .correlation
        .iter()
        .filter(|p| p.truth)
        .map(|p| p.score)
        .collect();
    let other: Vec<f64> = r
        .correlation
        .iter()
        .filter(|p| !p.truth)
        .map(|p| p.score)
        .collect();
    assert!(!truth.is_empty() && !other.is_empty());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&truth) > mean(&other) + 0.3,
        "{} vs {}",
        mean(&truth),
        mean(&other)
    );
    // Pruning compares only flows active together: far fewer than F x G,
    // yet nearly every true pair.
    let s = &r.stats;
    assert!((r.correlation.len() as u64) < s.observer_client_flows * s.observer_service_flows / 4);
    assert!(truth.len() as u64 * 10 >= s.observer_true_pairs * 9);
}

#[test]
fn random_per_hop_delays_cut_what_a_global_observer_links() {
    let global = "  observers: {vantage: {kind: global}, threshold: 0.6}";
    let share = |r: &NetworkReplicate| {
        let answered: Vec<_> = r.sessions.iter().filter(|s| s.turns > 0).collect();
        let linked = answered
            .iter()
            .filter(|s| s.observer_linked == Some(true))
            .count();
        linked as f64 / answered.len().max(1) as f64
    };
    let open = share(&run(global));
    let delayed = share(&defended(global, ", hop_delay_ms: [0.0, 400.0]"));
    assert!(
        delayed < open - 0.1,
        "linked {open:.2} without delays, {delayed:.2} with"
    );
}

#[test]
fn observer_columns_are_null_without_observers_and_false_when_blind() {
    let none = run("");
    assert!(!none.sessions.is_empty());
    assert!(none.sessions.iter().all(|s| s.observer_linked.is_none()));
    assert!(none.correlation.is_empty());
    // Observing an AS nobody is in: present, but never linked.
    let blind = run("  observers: {vantage: {kind: ases, asns: [1]}}");
    assert!(!blind.sessions.is_empty());
    assert!(
        blind
            .sessions
            .iter()
            .all(|s| s.observer_linked == Some(false))
    );
    assert_eq!(blind.stats.observer_service_flows, 0);
}
