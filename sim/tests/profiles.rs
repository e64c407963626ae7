//! The profile attacker (whitepaper "Threat Model Tiers", tier 3 residual;
//! "Attack Economics": no retroactive link off the adversary's routes): it
//! attributes only sessions that reached its own exits, unambiguous claims
//! keep its profiles pure, and joining on every mint guess merges clients;
//! with observers on the links, sessions off its routes join profiles too.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

use peer2prompt_sim::profiles::ProfileRecord;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const SCENARIO: &str = r#"
name: profiles
seed: 37
population: {relays: 16, ghosts: 4, gpus: 0, mints: 1, clients: 10}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 900
  drain_s: 60
  sessions_per_client_per_hour: 40
  turns_per_session: 2
  think_time_s: {kind: exponential, mean: 5}
  funding_sat: 60
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 80, sigma: 0.5}
protocol: {relays_per_route: 2, shards: 1, service_shards: 1}
adversary:
  entry_fraction_m: 0.3
  exit_fraction_g: 0.5
  mint_exit: {mints: 1, window_s: 600, recency_s: 60}
  profiles: {mint_max_candidates: CANDIDATES}
  OBSERVERS
"#;

fn run(candidates: u32) -> Vec<ProfileRecord> {
    run_with(candidates, "")
}

fn run_with(candidates: u32, observers: &str) -> Vec<ProfileRecord> {
    let text = SCENARIO
        .replace("CANDIDATES", &candidates.to_string())
        .replace("OBSERVERS", observers);
    let l = load_str(std::path::Path::new("profiles.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, l.base.seed, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
        .profiles
        .expect("adversary.profiles asks for records")
}

/// The most clients whose sessions one profile holds.
fn widest(rs: &[ProfileRecord]) -> usize {
    let mut m: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for r in rs {
        if let Some(p) = r.profile {
            m.entry(p).or_default().insert(r.client);
        }
    }
    m.values().map(BTreeSet::len).max().unwrap_or(0)
}

#[test]
fn only_sessions_on_the_adversarys_routes_are_attributed_and_strict_profiles_stay_pure() {
    let strict = run(1);
    assert!(strict.len() >= 60, "{} sessions", strict.len());
    let clean = strict.iter().filter(|r| r.clean_route).count();
    assert!(clean >= 10, "{clean} clean-route sessions");
    assert!(
        strict
            .iter()
            .all(|r| !(r.clean_route && r.profile.is_some())),
        "a session off the adversary's routes landed in a profile"
    );
    let profiled: Vec<_> = strict.iter().filter(|r| r.profile.is_some()).collect();
    let correct = profiled.iter().filter(|r| r.correct).count();
    assert!(profiled.len() >= 10, "{} profiled", profiled.len());
    assert!(
        correct * 10 >= profiled.len() * 9,
        "{correct} of {}",
        profiled.len()
    );
    // A profile without a session names nobody; one with sessions holds
    // at least one identifier.
    assert!(profiled.iter().all(|r| r.profile_idents >= 1));
    assert!(
        strict
            .iter()
            .all(|r| r.profile.is_some() || (r.profile_idents == 0 && !r.correct))
    );
}

#[test]
fn joining_on_every_mint_guess_merges_clients_into_one_profile() {
    let (strict, loose) = (run(1), run(64));
    let (ws, wl) = (widest(&strict), widest(&loose));
    assert!(wl > ws, "widest profile: {wl} clients loose, {ws} strict");
    let profiled = |rs: &[ProfileRecord]| rs.iter().filter(|r| r.profile.is_some()).count();
    assert!(
        profiled(&loose) > profiled(&strict),
        "loose claims cover more"
    );
}

#[test]
fn observers_attribute_sessions_the_adversarys_nodes_never_carried() {
    let watched = run_with(1, "observers: {vantage: {kind: as_fraction, share: 0.5}}");
    let clean: Vec<_> = watched.iter().filter(|r| r.clean_route).collect();
    let attributed = clean.iter().filter(|r| r.correct).count();
    assert!(clean.len() >= 10, "{} clean-route sessions", clean.len());
    // Chance is one in ten clients.
    assert!(
        attributed * 5 >= clean.len(),
        "{attributed} of {} clean-route sessions attributed",
        clean.len()
    );
    assert!(clean.iter().all(|r| r.profile.is_none() || r.by_observers));
    assert!(
        run(1).iter().all(|r| !r.by_observers),
        "no observers, no such claims"
    );
}
