//! Verified inference in the simulator (issue 19): substituting services
//! are caught by audits at the rate the audit size implies, honest ones
//! never, and the turns dataset records what each audit found.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::verify::detection_probability;
use peer2prompt_sim::record::TurnRecord;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const BASE: &str = r#"
name: verified
seed: 9
population: {relays: 10, ghosts: 3, gpus: 1, mints: 1, clients: 10}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 900
  drain_s: 60
  sessions_per_client_per_hour: 30
  turns_per_session: 2
  funding_sat: 400
  prompt_tokens: {kind: log_normal, median: 200, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 80, sigma: 0.5}
protocol: {relays_per_route: 2, shards: 1, service_shards: 1, verification: {audit_rate: 1.0, audit_steps: 4}}
faults:
  substituting_services: {count: 2, p_diff: 0.25}
"#;

fn turns(text: &str) -> Vec<TurnRecord> {
    let l = load_str(std::path::Path::new("v.yaml"), text).unwrap();
    run_replicate(&l.points[0], 0, 9, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
        .turns
        .expect("turns are kept under verification")
}

#[test]
fn audits_catch_substitutes_at_the_predicted_rate_and_never_honest_services() {
    let ts = turns(BASE);
    let audited = |sub: bool| {
        ts.iter()
            .filter(move |t| t.exit_substitutes == sub && t.audit.is_some())
    };
    let honest: Vec<_> = audited(false).collect();
    assert!(honest.len() >= 30, "{} honest audits", honest.len());
    assert!(honest.iter().all(|t| t.audit.as_deref() == Some("passed")));
    let subs: Vec<_> = audited(true).collect();
    assert!(!subs.is_empty());
    let caught = subs
        .iter()
        .filter(|t| t.audit.as_deref() == Some("logits_mismatch"))
        .count();
    let p = detection_probability(0.25, 4);
    let n = subs.len() as f64;
    let sd = (p * (1.0 - p) / n).sqrt();
    let rate = caught as f64 / n;
    assert!(
        (rate - p).abs() < 4.0 * sd + 0.05,
        "{caught} of {n} caught, expected {p}"
    );
}

#[test]
fn without_verification_no_turn_is_audited_and_none_kept_by_default() {
    let text = BASE.replace(", verification: {audit_rate: 1.0, audit_steps: 4}", "");
    // Substitutes alone still keep the turns (their transcripts exist).
    let ts = turns(&text);
    assert!(ts.iter().all(|t| t.audit.is_none()));
    let text = text.replace(
        "faults:\n  substituting_services: {count: 2, p_diff: 0.25}\n",
        "",
    );
    let l = load_str(std::path::Path::new("v.yaml"), &text).unwrap();
    let r = run_replicate(&l.points[0], 0, 9, &())
        .unwrap()
        .into_network()
        .unwrap();
    assert!(r.turns.is_none());
}

#[test]
fn probes_catch_substitutes_and_pass_honest_services() {
    let text = BASE.replace(
        "verification: {audit_rate: 1.0, audit_steps: 4}",
        "verification: {audit_rate: 0.0, audit_steps: 4, probe_rate: 1.0}",
    );
    let ts = turns(&text);
    let probes = |sub: bool| {
        ts.iter()
            .filter(move |t| t.exit_substitutes == sub && t.probe.is_some())
    };
    assert!(probes(false).count() >= 5 && probes(false).all(|t| t.probe == Some(true)));
    // A probe of ~80 tokens misses a p = 0.25 substitute with odds 0.75^80.
    assert!(probes(true).count() >= 1 && probes(true).all(|t| t.probe == Some(false)));
    assert!(ts.iter().all(|t| t.audit.is_none()), "no audits at rate 0");
}

#[test]
fn bad_verification_settings_name_their_field() {
    let e = load_str(
        std::path::Path::new("v.yaml"),
        &BASE.replace("audit_steps: 4", "audit_steps: 0"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("protocol.verification.audit_steps"), "{e}");
    let e = load_str(
        std::path::Path::new("v.yaml"),
        &BASE.replace("count: 2", "count: 9"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("faults.substituting_services.count"), "{e}");
}
