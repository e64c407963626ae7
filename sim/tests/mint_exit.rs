//! Mint-exit collusion on the real protocol: a mint pooling its logs with
//! the adversary's Ghosts, scored per session.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const ONE_CLIENT: &str = r#"
name: mint_exit
seed: 11
population: {relays: 12, ghosts: 2, gpus: 0, mints: 1, clients: 1}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 300
  drain_s: 60
  sessions_per_client_per_hour: 180
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 60, sigma: 0.5}
protocol: {relays_per_route: 2, shards: 1, service_shards: 1}
adversary:
  entry_fraction_m: 0.0
  exit_fraction_g: 1.0
  mint_exit: {mints: 1}
"#;

#[test]
fn a_lone_payer_is_named_with_certainty_unless_lightning_hides_it() {
    let l = load_str(std::path::Path::new("one.yaml"), ONE_CLIENT).unwrap();
    let r = run_replicate(&l.points[0], 0, 11, &()).unwrap();
    let paid: Vec<_> = r.sessions.iter().filter(|s| s.turns > 0).collect();
    assert!(paid.len() >= 3, "{} sessions", paid.len());
    for s in &paid {
        // One funding event in every window: certain and correct.
        assert_eq!(s.mint_candidates, Some(1), "{s:?}");
        assert_eq!(s.mint_entropy_bits, Some(0.0));
        assert_eq!(s.mint_linked, Some(true));
        assert!(s.linked_any);
    }
    // With Lightning hiding the payer, the funding is found but names nobody.
    let hidden = ONE_CLIENT.replace(
        "protocol: {relays_per_route: 2, shards: 1, service_shards: 1}",
        "protocol: {relays_per_route: 2, shards: 1, service_shards: 1, lightning: {kind: hidden}}",
    );
    let l = load_str(std::path::Path::new("hidden.yaml"), &hidden).unwrap();
    let r = run_replicate(&l.points[0], 0, 11, &()).unwrap();
    assert!(r.sessions.iter().any(|s| s.turns > 0));
    for s in r.sessions.iter().filter(|s| s.turns > 0) {
        assert_eq!(s.mint_linked, Some(false), "{s:?}");
        assert!(!s.linked_any);
    }
}

#[test]
fn without_a_mint_exit_adversary_the_columns_are_null() {
    let plain = ONE_CLIENT.replace("  mint_exit: {mints: 1}\n", "");
    let l = load_str(std::path::Path::new("plain.yaml"), &plain).unwrap();
    let r = run_replicate(&l.points[0], 0, 11, &()).unwrap();
    assert!(!r.sessions.is_empty());
    for s in &r.sessions {
        assert_eq!((s.mint_candidates, s.mint_linked), (None, None));
        assert_eq!(s.mint_entropy_bits, None);
    }
}
