//! Tier 2, a single local observer (whitepaper "Threat Model", "Single
//! Local Observer"): the ISP of one client sees that client's leg of every
//! session it opens, counts cells that grow with the answer, and sees the
//! service leg only of sessions whose last relay or exit shares its AS.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;
use peer2prompt_sim::vantage::VantageRecord;

const SCENARIO: &str = r#"
name: local_observer
seed: 23
population: {relays: 16, ghosts: 4, gpus: 0, mints: 1, clients: 12}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 300
  drain_s: 60
  sessions_per_client_per_hour: 60
  turns_per_session: 1
  prompt_tokens: {kind: log_normal, median: 300, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 120, sigma: 0.9}
protocol: {relays_per_route: 2, shards: 1, service_shards: 1}
adversary:
  entry_fraction_m: 0.0
  exit_fraction_g: 0.0
  observers: {vantage: {kind: endpoints, clients: VANTAGE_CLIENTS, services: 0}, threshold: 0.6, vantage_records: RECORDS}
"#;

fn run(clients: u32, records: bool) -> NetworkReplicate {
    let text = SCENARIO
        .replace("VANTAGE_CLIENTS", &clients.to_string())
        .replace("RECORDS", &records.to_string());
    let l = load_str(std::path::Path::new("local.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, 23, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

#[test]
fn a_clients_isp_sees_its_leg_and_counts_cells_that_grow_with_the_answer() {
    let r = run(1, true);
    let v = r.vantage.as_ref().expect("vantage records were asked for");
    let own: Vec<&VantageRecord> = v
        .iter()
        .filter(|x| x.client_watched && x.complete && x.turns > 0)
        .collect();
    assert!(own.len() >= 4, "{} sessions of watched clients", own.len());
    // The ISP carries every packet of its own customer's sessions.
    assert!(
        own.iter()
            .all(|x| x.client_leg_seen && x.client_leg_cells[1] > 0)
    );
    // Longer answers take more cells toward the client.
    let mut by_output = own.clone();
    by_output.sort_by_key(|x| x.output_tokens);
    let (short, long) = (by_output[0], by_output[by_output.len() - 1]);
    assert!(long.output_tokens > short.output_tokens);
    assert!(
        long.client_leg_cells[1] > short.client_leg_cells[1],
        "{} tokens in {} cells, {} in {}",
        long.output_tokens,
        long.client_leg_cells[1],
        short.output_tokens,
        short.client_leg_cells[1]
    );
    // Public counts: the watched AS holds some of the relays, not all.
    let first = &v[0];
    assert_eq!((first.relays, first.services), (16, 4));
    assert!(first.watched_relays < first.relays);
    // A session with neither endpoint nor relay leg in view is never linked.
    assert!(
        v.iter()
            .filter(|x| !x.service_leg_seen)
            .all(|x| !x.observer_linked)
    );
    // The records follow the sessions table, measured sessions only.
    assert!(v.len() <= r.sessions.len());
    let ids: Vec<u64> = r.sessions.iter().map(|s| s.session_id).collect();
    assert!(v.iter().all(|x| ids.contains(&x.session_id)));
}

#[test]
fn vantage_records_are_kept_only_when_asked_for() {
    assert!(run(1, false).vantage.is_none());
}
