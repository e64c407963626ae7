//! Readers that sample the exits (`protocol.exit_shards_read`, issue 21):
//! each client holds the Ghosts of the shards it read, not every Ghost, and
//! still opens sessions through them (whitepaper "Route Construction": "One
//! exit service node (Ghost or GPU)").
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashSet;

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

// Two Sybil relays only so that the clients' directory views are kept.
const SCENARIO: &str = r#"
name: exit_sample
seed: 31
population: {relays: 30, ghosts: 40, gpus: 0, mints: 1, clients: 8, identity_pow_bits: 4}
workload:
  warmup_s: 60
  duration_s: 240
  drain_s: 30
  sessions_per_client_per_hour: 60
  turns_per_session: 1
  prompt_tokens: {kind: fixed, value: 200}
  output_tokens: {kind: fixed, value: 40}
protocol: {relays_per_route: 2, shards: 1, service_shards: 8 READ}
adversary:
  sybil: {relays: 2, ghosts: 0}
"#;

fn run(read: &str) -> NetworkReplicate {
    let text = SCENARIO.replace("READ", read);
    let l = load_str(std::path::Path::new("exit_sample.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, 31, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

#[test]
fn a_reader_holds_its_sample_of_the_exits_and_still_gets_served() {
    let every = run("");
    let views = every.views.as_ref().unwrap();
    assert!(views.iter().all(|v| v.services == 40), "every Ghost");

    let sampled = run(", exit_shards_read: 2");
    let views = sampled.views.as_ref().unwrap();
    assert_eq!(views.len(), 8);
    // Two of eight shards: about a quarter of the 40 Ghosts each.
    for v in views {
        assert!(
            (1..=25).contains(&v.services),
            "client {} holds {}",
            v.client,
            v.services
        );
    }
    let mean = views.iter().map(|v| f64::from(v.services)).sum::<f64>() / 8.0;
    assert!((4.0..=18.0).contains(&mean), "mean {mean}");
    // Samples differ between readers (each draws its own start).
    let sizes: HashSet<u32> = views.iter().map(|v| v.services).collect();
    assert!(sizes.len() > 1, "{sizes:?}");
    // Sessions still open, through exits the clients' samples hold.
    assert!(!sampled.sessions.is_empty());
    let exits: HashSet<u32> = sampled.sessions.iter().map(|s| s.exit).collect();
    assert!(exits.len() > 1, "{exits:?}");
}
