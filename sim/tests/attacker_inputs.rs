//! No ground truth within the adversary's reach (ARCHITECTURE.md, "nodes
//! report what they see"): every attacker decides from what its nodes and
//! vantage points observed. Two runs whose prompts differ only in their
//! text (same lengths, every other draw the same) must give identical
//! guesses from the entry–exit matcher, the mint-exit attacker, the
//! observers' correlation attacker and the profile attacker; and since
//! prompts carry no marker,
//! scoring still finds every session's flows.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const ALL_ATTACKERS: &str = r#"
name: attackers
seed: 31
population: {relays: 16, ghosts: 4, gpus: 0, mints: 1, clients: 10}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 240
  drain_s: 60
  sessions_per_client_per_hour: 60
  turns_per_session: 2
  think_time_s: {kind: exponential, mean: 5}
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 80, sigma: 0.5}
  text_seed: TEXT_SEED
protocol: {relays_per_route: 2, shards: 1, service_shards: 1}
adversary:
  entry_fraction_m: 0.5
  exit_fraction_g: 0.5
  mint_exit: {mints: 1}
  observers: {vantage: {kind: as_fraction, share: 0.3}}
  profiles: {mint_max_candidates: 64}
"#;

fn run(text_seed: u64) -> NetworkReplicate {
    let text = ALL_ATTACKERS.replace("TEXT_SEED", &text_seed.to_string());
    let l = load_str(std::path::Path::new("attackers.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, l.base.seed, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

#[test]
fn attackers_guess_the_same_whatever_the_prompts_say() {
    let (a, b) = (run(0), run(0x5eed_cafe));
    assert!(a.sessions.len() >= 20, "{} sessions", a.sessions.len());
    // Every attacker had something to decide on, so agreement is not vacuous.
    assert!(a.sessions.iter().any(|s| s.link_guess.is_some()));
    assert!(a.sessions.iter().any(|s| s.mint_candidates.is_some()));
    assert!(!a.correlation.is_empty());
    assert_eq!(a.sessions.len(), b.sessions.len());
    for (x, y) in a.sessions.iter().zip(&b.sessions) {
        assert_eq!(
            x.link_guess, y.link_guess,
            "matcher, session {}",
            x.session_id
        );
        assert_eq!(x.link_score, y.link_score);
        assert_eq!(x.linked, y.linked);
        assert_eq!(
            (x.mint_candidates, x.mint_entropy_bits, x.mint_linked),
            (y.mint_candidates, y.mint_entropy_bits, y.mint_linked),
            "mint-exit, session {}",
            x.session_id
        );
        assert_eq!(x.observer_linked, y.observer_linked, "observers");
    }
    assert_eq!(a.correlation, b.correlation, "observers' pair scores");
    let (pa, pb) = (a.profiles.unwrap(), b.profiles.unwrap());
    assert!(
        pa.iter().any(|r| r.profile.is_some()),
        "profiles were built"
    );
    assert_eq!(pa, pb, "profile attacker");
}

#[test]
fn scoring_finds_the_session_of_every_adversarial_exit_flow_without_markers() {
    let r = run(0);
    // Every answered session at an adversarial exit whose entry was
    // adversarial too was matched and scored: with this light load the
    // matcher names its client, so ground truth reached the scorer.
    let both: Vec<_> = r
        .sessions
        .iter()
        .filter(|s| s.ends_compromised && s.turns > 0)
        .collect();
    assert!(both.len() >= 5, "{} sessions with both ends", both.len());
    let linked = both.iter().filter(|s| s.linked).count();
    assert!(linked * 10 >= both.len() * 8, "{linked} of {}", both.len());
    // The mint-exit attacker attributed the payments at its exits.
    let at_exits = r
        .sessions
        .iter()
        .filter(|s| s.exit_adversarial && s.turns > 0)
        .count();
    let attributed = r
        .sessions
        .iter()
        .filter(|s| s.mint_candidates.is_some())
        .count();
    assert!(
        attributed * 10 >= at_exits * 9,
        "{attributed} of {at_exits}"
    );
}
