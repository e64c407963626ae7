//! Prompt-harvesting exits and what they hold (sim::exposure, whitepaper
//! "Context-Window Compartmentalization"): a harvesting exit keeps a prompt
//! of every turn it answers and nothing of other sessions; rotation every
//! turn splits a conversation over many exits, so no single session holds
//! more than one turn's context; honest exits keep nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::time::Instant;
use peer2prompt_sim::exposure::{self, ExposureRecord};
use peer2prompt_sim::scenario::load_str;
use peer2prompt_sim::world::World;

fn scenario(rotate: &str) -> String {
    format!(
        r#"
name: context_window_test
seed: 47
population: {{relays: 12, ghosts: 4, gpus: 2, mints: 1, clients: 10}}
network: {{jitter_ms: 2.0}}
workload:
  warmup_s: 60
  duration_s: 240
  drain_s: 240
  sessions_per_client_per_hour: 20
  turns_per_session: 4
  think_time_s: {{kind: exponential, mean: 5.0}}
  prompt_tokens: {{kind: log_normal, median: 300, sigma: 0.5}}
  output_tokens: {{kind: log_normal, median: 80, sigma: 0.5}}
  max_output_tokens: 400
protocol: {{relays_per_route: 3, shards: 1, service_shards: 1, rotate_after_turns: {rotate}}}
adversary: {{exit_fraction_g: 0.5, harvest_prompts: true}}
"#
    )
}

fn run(rotate: &str) -> Vec<ExposureRecord> {
    let s = load_str(std::path::Path::new("t.yaml"), &scenario(rotate))
        .unwrap()
        .base;
    let mut w = World::new(&s, 5);
    let end = w.arrivals_until.as_nanos() + 240_000_000_000;
    w.run_until(Instant::from_nanos(end)).unwrap();
    exposure::records(w.hosts(), &w.truth, &w.sessions.rows, |_| true)
}

#[test]
fn harvesting_exits_hold_their_own_sessions_and_nothing_else() {
    let rows: Vec<ExposureRecord> = run("null").into_iter().filter(|r| r.turns > 0).collect();
    let (harvested, honest): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.exit_adversarial);
    assert!(
        harvested.len() >= 5 && honest.len() >= 5,
        "{} / {}",
        harvested.len(),
        honest.len()
    );
    assert!(
        honest
            .iter()
            .all(|r| r.harvested_prompts == 0 && r.harvested_tokens == 0)
    );
    for r in &harvested {
        assert!(r.harvested_prompts >= r.turns, "{r:?}");
        assert_eq!(r.foreign_requests, 0, "{r:?}");
        if r.complete {
            // The last prompt carried the whole session but its reply.
            assert!(r.harvested_tokens <= r.context_tokens, "{r:?}");
            assert!(r.harvested_tokens > r.context_tokens / 2, "{r:?}");
        }
    }
    // Conversations of 4 turns, one route each: some sessions carried more
    // than one turn.
    assert!(harvested.iter().any(|r| r.turns > 1));
}

#[test]
fn rotating_every_turn_leaves_one_turn_per_session() {
    let rows: Vec<ExposureRecord> = run("1").into_iter().filter(|r| r.turns > 0).collect();
    assert!(rows.len() >= 20, "{}", rows.len());
    assert!(rows.iter().all(|r| r.turns == 1), "one turn per session");
    // A fresh session starts with an empty context: what a harvester holds
    // is one message, never the conversation so far.
    let per_conversation = run("null");
    let mean = |rs: &[ExposureRecord]| {
        let h: Vec<u64> = rs
            .iter()
            .filter(|r| r.harvested_tokens > 0)
            .map(|r| r.harvested_tokens)
            .collect();
        h.iter().sum::<u64>() as f64 / h.len().max(1) as f64
    };
    assert!(
        mean(&rows) * 1.5 < mean(&per_conversation),
        "{} vs {}",
        mean(&rows),
        mean(&per_conversation)
    );
}
