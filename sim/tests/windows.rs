//! Parallel windows (issue 21): a replicate's run does not depend on the
//! number of threads its windows use, nor on how long the windows are, as
//! long as they are no longer than the lookahead. A harsh network (relay
//! churn, NAT, loss, scheduled departures, a mint outage) and a colluding
//! adversary exercise every path: deliveries, timers, the world's reactions
//! (Lightning, payouts, next turns) and the adversary's pool.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::time::Duration;
use peer2prompt_sim::scenario::load_str;
use peer2prompt_sim::world::World;

const HARSH: &str = r#"
name: windows
seed: 5
population: {relays: 30, ghosts: 5, gpus: 1, mints: 2, clients: 12}
network: {loss: 0.02, nat_clients: 0.5, jitter_ms: 5.0}
workload:
  warmup_s: 60
  duration_s: 240
  drain_s: 90
  sessions_per_client_per_hour: 60
  turns_per_session: 2
  think_time_s: {kind: fixed, value: 3}
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 60, sigma: 0.5}
protocol: {relays_per_route: 3, shards: 1}
adversary: {entry_fraction_m: 0.3, exit_fraction_g: 0.3}
churn:
  relay_rate: {mean_up_s: 600, mean_down_s: 60}
  schedule:
    - {at_s: 100, role: ghost, leave: 2}
    - {at_s: 200, role: ghost, join: 2}
faults:
  mint_outages: [{mint: 1, at_s: 50, for_s: 40}]
"#;

/// Everything a run leaves that the records are made of, as text.
fn fingerprint(w: &World) -> String {
    let p = &w.pool;
    format!(
        "{:?}\n{:?}\n{} events\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\nnow {:?}",
        w.sessions.rows,
        w.engine.traffic,
        w.events(),
        p.entries,
        p.exits,
        p.middles,
        p.entry_cells,
        p.receipts,
        w.engine.peer_errors,
        w.now()
    )
}

/// Runs the scenario with windows `shrink` times shorter than the lookahead
/// on a pool of `threads`.
fn run(threads: usize, shrink: u64) -> String {
    let l = load_str(std::path::Path::new("windows.yaml"), HARSH).unwrap();
    let s = &l.points[0].scenario;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut w = World::new(s, 11);
        let window = w.engine.window();
        w.engine
            .shorten_window(Duration::from_nanos(window.as_nanos() / shrink));
        let end = w.arrivals_until + Duration::from_secs_f64(s.workload.drain_s);
        w.run_until(end).unwrap();
        assert!(w.sessions.rows.len() > 20, "too few sessions to compare");
        fingerprint(&w)
    })
}

#[test]
fn the_run_is_the_same_on_one_two_and_eight_threads() {
    let one = run(1, 1);
    assert_eq!(one, run(2, 1), "two threads");
    assert_eq!(one, run(8, 1), "eight threads");
}

#[test]
fn the_run_is_the_same_whatever_the_window() {
    let whole = run(2, 1);
    assert_eq!(whole, run(2, 7), "windows of a seventh of the lookahead");
}
