//! The services' ledgers (sim::ledger) under double-spending clients: the
//! double spenders' sessions are the ones that lose their services money,
//! the services find it at settlement (`ServiceEvent::PaymentLost`), and no
//! honest session loses anything.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt::time::Instant;
use peer2prompt_sim::scenario::load_str;
use peer2prompt_sim::world::World;

const SCENARIO: &str = r#"
name: double_spend_test
seed: 43
population: {relays: 12, ghosts: 4, gpus: 2, mints: 1, clients: 10}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 240
  drain_s: 60
  sessions_per_client_per_hour: 40
  turns_per_session: 1
  prompt_tokens: {kind: log_normal, median: 600, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 120, sigma: 0.5}
protocol: {relays_per_route: 3, shards: 1, service_shards: 1, chunk_msat: 1000}
faults: {double_spenders: 2}
"#;

#[test]
fn double_spenders_and_only_they_cost_services_money() {
    let s = load_str(std::path::Path::new("t.yaml"), SCENARIO)
        .unwrap()
        .base;
    let mut w = World::new(&s, 5);
    let end = w.arrivals_until.as_nanos() + 120_000_000_000;
    w.run_until(Instant::from_nanos(end)).unwrap();
    let rows = &w.sessions.rows;
    let hosts = w.hosts();
    let records = w.ledger.as_ref().unwrap().finish(
        |_| true,
        |r| {
            let c = rows[r].client;
            (rows[r].id, c, rows[r].exit, hosts[c as usize].slot.nth < 2)
        },
    );
    let (cheats, honest): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.double_spender);
    assert!(
        cheats.len() >= 5 && honest.len() >= 20,
        "{} / {}",
        cheats.len(),
        honest.len()
    );
    assert!(
        honest
            .iter()
            .all(|r| r.loss_msat() == 0 && r.lost_msat == 0)
    );
    assert!(
        honest
            .iter()
            .all(|r| r.payments >= 1 && r.paid_msat >= r.delivered_msat)
    );
    let found: u64 = cheats.iter().map(|r| r.lost_msat).sum();
    let lossy = cheats.iter().filter(|r| r.loss_msat() > 0).count();
    assert!(found > 0, "settlement found no spent proof");
    assert!(
        lossy * 2 >= cheats.len(),
        "{lossy} of {} cheats cost anything",
        cheats.len()
    );
}
