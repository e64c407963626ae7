//! DHT eclipse and poisoning (whitepaper "DHT Sybil and Eclipse Attacks"):
//! DHT Sybils ground near the advert keys fill the clients' views with the
//! adversary's adverts; disjoint lookup paths, with stores replicated to
//! every path's closest nodes, win the honest adverts back.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const SCENARIO: &str = r#"
name: dht_eclipse
seed: 29
population: {relays: 50, ghosts: 10, gpus: 0, mints: 1, clients: 8, identity_pow_bits: 4}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 120
  drain_s: 30
  sessions_per_client_per_hour: 30
  turns_per_session: 1
  prompt_tokens: {kind: fixed, value: 200}
  output_tokens: {kind: fixed, value: 40}
protocol: {relays_per_route: 2, shards: 1, service_shards: 1, disjoint_lookups: PATHS}
adversary:
  sybil: {relays: 10, ghosts: 2 ATTACK}
"#;

fn run(attack: &str, paths: u32) -> NetworkReplicate {
    let text = SCENARIO
        .replace("PATHS", &paths.to_string())
        .replace("ATTACK", attack);
    let l = load_str(std::path::Path::new("dht.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, 29, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

fn attack(kind: &str) -> String {
    format!(", dht_attack: {{kind: {kind}, target: both, per_key: 20, grind_bits: 10}}")
}

/// Mean adversarial share of the clients' relay views.
fn relay_share(r: &NetworkReplicate) -> f64 {
    let v = r.views.as_ref().expect("views are kept with Sybils");
    assert_eq!(v.len(), 8, "one view per client");
    v.iter().map(|x| x.relay_share()).sum::<f64>() / v.len() as f64
}

#[test]
fn without_the_attack_the_view_is_the_network() {
    let r = run("", 1);
    // 10 Sybil relays beside 50 honest ones (one shard: at most 64 adverts per key); every client reads every shard.
    let share = relay_share(&r);
    assert!((share - 10.0 / 60.0).abs() < 1e-9, "share {share}");
    assert!(r.views.as_ref().unwrap().iter().all(|v| v.relays == 60));
}

#[test]
fn an_eclipse_fills_the_view_and_disjoint_paths_win_it_back() {
    let eclipsed = run(&attack("eclipse"), 1);
    let one = relay_share(&eclipsed);
    assert!(one > 0.5, "eclipsed relay view share {one}");
    // 40 DHT Sybils each ground 10 bits (and the 1-bit static puzzle):
    // about 2^11 key generations apiece.
    assert!(
        eclipsed.stats.adversary_keygens > 5_000,
        "{} keygens",
        eclipsed.stats.adversary_keygens
    );
    let two = relay_share(&run(&attack("eclipse"), 2));
    assert!(two < one - 0.2, "d=2 share {two} against d=1 {one}");
}

#[test]
fn poisoning_withholds_honest_adverts_from_a_plain_lookup() {
    let one = relay_share(&run(&attack("poison"), 1));
    let four = relay_share(&run(&attack("poison"), 4));
    assert!(one > 0.5, "poisoned relay view share {one}");
    assert!(four < one, "d=4 share {four} against d=1 {one}");
}
