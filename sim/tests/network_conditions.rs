//! The network model's harder conditions (issue 6): relay churn, clients
//! behind NAT (mailboxes), scheduled departures and datagram loss. Sessions
//! still complete and failures are named. Value conservation under these
//! failures is a known finding (a few sat end up held by no one); the
//! ignored test below keeps it as a failing property.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::time::{Duration, Instant};
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;
use peer2prompt_sim::world::World;

fn run_world(text: &str) -> World {
    let l = load_str(std::path::Path::new("harsh.yaml"), text).unwrap();
    let s = &l.points[0].scenario;
    let mut w = World::new(s, 99);
    let end = w.arrivals_until + Duration::from_secs_f64(s.workload.drain_s);
    w.run_until(end).unwrap();
    assert!(w.now() <= end && w.now() > Instant::ZERO);
    w
}

const HARSH: &str = r#"
name: harsh
seed: 5
population: {relays: 30, ghosts: 5, gpus: 1, mints: 1, clients: 12}
network: {loss: 0.0, nat_clients: 0.5, jitter_ms: 5.0}
workload:
  warmup_s: 60
  duration_s: 300
  drain_s: 90
  sessions_per_client_per_hour: 60
  turns_per_session: 2
  think_time_s: {kind: fixed, value: 3}
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 60, sigma: 0.5}
protocol: {relays_per_route: 3, shards: 1, hop_delay_ms: [0, 20]}
churn:
  relay_rate: {mean_up_s: 600, mean_down_s: 60}
  schedule:
    - {at_s: 100, role: ghost, leave: 2}
    - {at_s: 200, role: ghost, join: 2}
"#;

#[test]
fn sessions_survive_churn_nat_and_departures() {
    let w = run_world(HARSH);
    let n = w.sessions.rows.len();
    let ok = w.sessions.rows.iter().filter(|s| s.outcome == "ok").count();
    assert!(n > 30, "only {n} sessions");
    // Two of six services leave for 100 s and relays churn: many sessions
    // fail over, but a good share is answered.
    assert!(ok * 5 >= n * 2, "{ok} of {n} sessions answered");
    assert!(
        w.sessions
            .rows
            .iter()
            .any(|s| s.outcome != "ok" && s.outcome != "unfinished")
    );
    assert!(w.departures() >= 2, "no churn happened");
    assert!(
        w.engine.traffic.lost > 0,
        "nothing was sent to an offline node"
    );
    assert!(
        w.sessions.rows.iter().any(|s| s.turns == 2),
        "no two-turn session"
    );
    for s in &w.sessions.rows {
        if let (Some(f), Some(c)) = (s.first_token, s.completed) {
            assert!(s.started < f && f <= c, "{s:?}");
        }
    }
    // Same seed, same sessions.
    let again = run_world(HARSH);
    assert_eq!(
        format!("{:?}", w.sessions.rows),
        format!("{:?}", again.sessions.rows)
    );
}

/// Value is conserved under churn and datagram loss. This property found
/// four protocol bugs (issue 6): payments minted for a turn that had failed
/// meanwhile were dropped; a mint access abandoned every circuit still being
/// built when an older request expired (a livelock under loss); a client
/// forgot its pending swaps when it re-fetched a mint's keys; and the
/// checker did not count value still being recovered through NUT-09.
#[test]
fn value_is_conserved_under_datagram_loss() {
    let text = HARSH.replace("loss: 0.0,", "loss: 0.03,");
    let l = load_str(std::path::Path::new("lossy.yaml"), &text).unwrap();
    for seed in [2, 9, 14] {
        let r = run_replicate(&l.points[0], 0, seed, &())
            .unwrap()
            .into_network()
            .expect("a network scenario");
        assert!(
            r.stats.invariant_checks > 0 && r.stats.lost > 0,
            "{:?}",
            r.stats
        );
    }
}
