//! Per-user key tagging on the real protocol: a mint tagging a share p of key
//! requests is caught by auditing wallets with probability 1 - (1 - p)^2.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

fn run(share: f64, audit: bool) -> NetworkReplicate {
    let text = format!(
        r#"
name: tagging
seed: 5
population: {{relays: 12, ghosts: 2, gpus: 0, mints: 1, clients: 100}}
network: {{jitter_ms: 2.0}}
workload:
  warmup_s: 60
  duration_s: 30
  drain_s: 30
  sessions_per_client_per_hour: 1
  prompt_tokens: {{kind: fixed, value: 100}}
  output_tokens: {{kind: fixed, value: 20}}
protocol: {{relays_per_route: 2, shards: 1, service_shards: 1, audit_keysets: {audit}}}
adversary:
  entry_fraction_m: 0.0
  exit_fraction_g: 0.0
  key_tagging: {{mints: 1, share: {share}}}
"#
    );
    let l = load_str(std::path::Path::new("tagging.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, 5, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

#[test]
fn auditing_wallets_catch_a_tagging_mint_as_often_as_the_analytic_rate() {
    let r = run(0.5, true);
    let (k, n) = (r.stats.clients_rejecting_a_mint, r.stats.clients);
    assert_eq!(n, 100);
    // 1 - (1 - 0.5)^2 = 0.75; a 99.9% binomial band for n = 100 is ±0.15.
    let p = k as f64 / n as f64;
    assert!((p - 0.75).abs() < 0.15, "{k} of {n}");
    // An honest mint is never rejected; without the audit nobody notices.
    assert_eq!(run(0.0, true).stats.clients_rejecting_a_mint, 0);
    assert_eq!(run(1.0, false).stats.clients_rejecting_a_mint, 0);
}
