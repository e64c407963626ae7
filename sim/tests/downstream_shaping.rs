//! Downstream shaping (whitepaper "Traffic Analysis Countermeasures";
//! "Threat Model Tiers", tier 4): a client's ISP counts the cells coming
//! down to its customer. Without shaping they track the answer's length
//! almost exactly. With endpoint padding and constant-rate streaming the
//! padding crosses the ISP, every answer still arrives, the padding costs
//! bytes, and the count tracks the answer less closely, though not much
//! less: a burst lasts as long as the answer streams, and the client tears
//! the circuit down at the receipt, cutting the burst's padding short.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::record::NetworkReplicate;
use peer2prompt_sim::run::run_replicate;
use peer2prompt_sim::scenario::load_str;

const SCENARIO: &str = r#"
name: downstream_shaping
seed: 29
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
protocol: {relays_per_route: 2, shards: 1, service_shards: 1SHAPING}
adversary:
  entry_fraction_m: 0.0
  exit_fraction_g: 0.0
  observers: {vantage: {kind: endpoints, clients: 3, services: 0}, threshold: 0.6, vantage_records: true}
"#;

fn run(shaping: &str) -> NetworkReplicate {
    let text = SCENARIO.replace("SHAPING", shaping);
    let l = load_str(std::path::Path::new("shaping.yaml"), &text).unwrap();
    run_replicate(&l.points[0], 0, 29, &())
        .unwrap()
        .into_network()
        .expect("a network scenario")
}

/// Ranks with ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            r[idx[k]] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Spearman's rho of the cells down the watched clients' legs against the
/// answers' tokens, and the number of sessions it is over.
fn downstream_rho(r: &NetworkReplicate) -> (f64, usize) {
    let v = r.vantage.as_ref().expect("vantage records");
    let own: Vec<_> = v
        .iter()
        .filter(|x| x.client_watched && x.complete && x.turns > 0)
        .collect();
    let cells: Vec<f64> = own
        .iter()
        .map(|x| f64::from(x.client_leg_cells[1]))
        .collect();
    let tokens: Vec<f64> = own.iter().map(|x| x.output_tokens as f64).collect();
    (spearman(&cells, &tokens), own.len())
}

fn answered(r: &NetworkReplicate) -> f64 {
    let ok = r.sessions.iter().filter(|s| s.outcome == "ok").count();
    ok as f64 / r.sessions.len() as f64
}

#[test]
fn endpoint_padding_crosses_a_clients_isp_and_every_answer_still_arrives() {
    let plain = run("");
    let shaped = run(", downstream_cover_rate_per_s: 2, \
         constant_rate: {cells_per_s: 20, tail_ms: 500, quantum_cells: 64}");
    let (rho_plain, n_plain) = downstream_rho(&plain);
    let (rho_shaped, n_shaped) = downstream_rho(&shaped);
    assert!(
        n_plain >= 10 && n_shaped >= 10,
        "{n_plain} and {n_shaped} sessions"
    );
    assert!(rho_plain > 0.8, "unshaped rho {rho_plain}");
    assert!(
        rho_shaped < rho_plain - 0.05,
        "shaped rho {rho_shaped} against {rho_plain}"
    );
    let down = |r: &NetworkReplicate| {
        let v = r.vantage.as_ref().expect("vantage records");
        let own: Vec<f64> = v
            .iter()
            .filter(|x| x.client_watched && x.complete)
            .map(|x| f64::from(x.client_leg_cells[1]))
            .collect();
        own.iter().sum::<f64>() / own.len() as f64
    };
    assert!(
        down(&shaped) > 2.0 * down(&plain),
        "{} against {} cells down per session",
        down(&shaped),
        down(&plain)
    );
    // Every answer still arrives, and the padding costs bytes.
    assert!(answered(&shaped) >= answered(&plain) - 0.02);
    assert!(answered(&shaped) > 0.9, "answered {}", answered(&shaped));
    let bytes = |r: &NetworkReplicate| r.stats.bytes_sent as f64 / r.sessions.len() as f64;
    assert!(
        bytes(&shaped) > 1.5 * bytes(&plain),
        "{} against {} bytes per session",
        bytes(&shaped),
        bytes(&plain)
    );
}
