//! Mint-exit collusion on the real protocol: a mint pooling its logs with
//! the adversary's Ghosts, scored per session. Among several payers the
//! attacker must discriminate: it names the right one far more often than
//! chance, and a long random hold between minting and spending cuts that.
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

/// (sessions the attacker attributed and named correctly, attributed).
fn named(text: &str) -> (usize, usize) {
    let l = load_str(std::path::Path::new("many.yaml"), text).unwrap();
    let r = run_replicate(&l.points[0], 0, 11, &())
        .unwrap()
        .into_network()
        .expect("a network scenario");
    let attributed: Vec<_> = r
        .sessions
        .iter()
        .filter(|s| s.mint_linked.is_some())
        .collect();
    let right = attributed
        .iter()
        .filter(|s| s.mint_linked == Some(true))
        .count();
    (right, attributed.len())
}

#[test]
fn among_sixteen_payers_the_attacker_beats_chance_until_a_long_hold() {
    // Small wallets top up over Lightning when low, so fundings spread over
    // the run; the attacker weights candidate fundings by recency.
    let many = ONE_CLIENT
        .replace("clients: 1}", "clients: 16}")
        .replace(
            "sessions_per_client_per_hour: 180",
            "sessions_per_client_per_hour: 60\n  funding_sat: 30",
        )
        .replace("duration_s: 300", "duration_s: 900")
        .replace(
            "mint_exit: {mints: 1}",
            "mint_exit: {mints: 1, window_s: 600, recency_s: 60}",
        );
    let (right, n) = named(&many);
    assert!(n >= 40, "{n} attributed sessions");
    // Chance is 1/16 of them: the attacker names at least twice as many.
    assert!(
        right * 16 >= n * 2,
        "named {right} of {n}: not above chance"
    );
    let held = many.replace(
        "protocol: {relays_per_route: 2, shards: 1, service_shards: 1}",
        "protocol: {relays_per_route: 2, shards: 1, service_shards: 1, wallet: {hold: {kind: exponential, mean_s: 900}}}",
    )
    .replace("window_s: 600, recency_s: 60", "window_s: 3600, recency_s: 900");
    let (right_held, n_held) = named(&held);
    assert!(n_held >= 20, "{n_held} attributed sessions with the hold");
    assert!(
        (right_held as f64 / n_held as f64) < 0.6 * (right as f64 / n as f64),
        "hold: {right_held} of {n_held}, no hold: {right} of {n}"
    );
}

#[test]
fn with_lightning_hiding_the_payer_nobody_is_named() {
    let hidden = ONE_CLIENT.replace(
        "protocol: {relays_per_route: 2, shards: 1, service_shards: 1}",
        "protocol: {relays_per_route: 2, shards: 1, service_shards: 1, lightning: {kind: hidden}}",
    );
    let l = load_str(std::path::Path::new("hidden.yaml"), &hidden).unwrap();
    let r = run_replicate(&l.points[0], 0, 11, &())
        .unwrap()
        .into_network()
        .expect("a network scenario");
    assert!(r.sessions.iter().any(|s| s.turns > 0));
    // The funding is found (the attribution ran) but names nobody.
    assert!(r.sessions.iter().any(|s| s.mint_candidates == Some(0)));
    for s in r.sessions.iter().filter(|s| s.turns > 0) {
        assert_eq!(s.mint_linked, Some(false), "{s:?}");
        assert!(!s.linked_any);
    }
}

#[test]
fn without_a_mint_exit_adversary_the_columns_are_null() {
    let plain = ONE_CLIENT.replace("  mint_exit: {mints: 1}\n", "");
    let l = load_str(std::path::Path::new("plain.yaml"), &plain).unwrap();
    let r = run_replicate(&l.points[0], 0, 11, &())
        .unwrap()
        .into_network()
        .expect("a network scenario");
    assert!(!r.sessions.is_empty());
    for s in &r.sessions {
        assert_eq!((s.mint_candidates, s.mint_linked), (None, None));
        assert_eq!(s.mint_entropy_bits, None);
    }
}
