//! Selective denial of service (sim::adversary::selective_dos) acts on the
//! adversary's own observations only: scrambling the ground-truth table
//! (which session each service-side flow carries) as the run goes changes
//! none of its verdicts, while the attack does kill and keep circuits and
//! the scrambling does move what scoring would read.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::time::Instant;
use peer2prompt_sim::adversary::selective_dos::Verdict;
use peer2prompt_sim::scenario::load_str;
use peer2prompt_sim::world::World;

const SCENARIO: &str = r#"
name: selective_dos_test
seed: 41
population: {relays: 20, ghosts: 6, gpus: 0, mints: 1, clients: 16}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 300
  drain_s: 60
  sessions_per_client_per_hour: 30
  turns_per_session: 1
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 80, sigma: 0.5}
protocol: {relays_per_route: 3, shards: 1, service_shards: 1}
adversary:
  entry_fraction_m: 0.3
  exit_fraction_g: 0.5
  selective_dos: {enabled: true, decide_after_ms: 1000}
"#;

/// Runs the world in 40 slices; with `shuffle`, scrambles the ground
/// truth after each. Returns the verdicts and the final truth table's
/// session rows for the adversary's exit flows.
fn run(shuffle: bool) -> (Vec<Verdict>, Vec<Option<usize>>) {
    let s = load_str(std::path::Path::new("t.yaml"), SCENARIO)
        .unwrap()
        .base;
    let mut w = World::new(&s, 7);
    let end = w.arrivals_until.as_nanos() + 60_000_000_000;
    for k in 1..=40u64 {
        w.run_until(Instant::from_nanos(end / 40 * k)).unwrap();
        if shuffle {
            w.truth.shuffle_labels(k);
        }
    }
    let rows = w.pool.exits.keys().map(|f| w.truth.row_of(*f)).collect();
    (w.judge.take().unwrap().verdicts, rows)
}

#[test]
fn scrambling_ground_truth_changes_no_verdict() {
    let (a, rows_a) = run(false);
    let (b, rows_b) = run(true);
    let kills = a.iter().filter(|v| v.kill).count();
    assert!(kills >= 10, "{kills} kills of {}", a.len());
    assert!(a.len() - kills >= 5, "{} kept", a.len() - kills);
    assert_ne!(rows_a, rows_b, "the scrambling moved the labels");
    assert_eq!(a, b, "a verdict moved with the ground truth");
}
