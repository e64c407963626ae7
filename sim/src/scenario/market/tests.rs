//! The `market:` block: loading, sweeping, and errors that name the field.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::scenario::{ScenarioError, load_str};

const DOC: &str = "name: m
seed: 3
market:
  days: 3
  clients: 10
  jobs_per_client_per_day: 2.0
  willingness: {median_premium: 2.0, sigma: 0.3}
  tastes: {quality: 2.0, price_per_usd: 100.0}
  input_tokens: 500
  output_trace: sharegpt
  models:
    - {name: gpt-4o}
    - {name: MODEL}
  ghosts:
    - count: 4
      model: gpt-4o
      strategy: {kind: fixed_markup, factor: 2.0}
      costs: {bandwidth_usd_per_mtok: 0.0, ops_usd_per_day: 0.0, policy_risk_usd_per_mtok: 0.0, capacity_tokens_per_day: 1.0e6, normal_tokens_per_day: 1.0e6, ban_per_excess_multiple: 0.0, exit_window_days: 8}
  adversary:
    count: 2
    model: gpt-4o
    strategy: {kind: subsidized, factor: 0.8}
    costs: {bandwidth_usd_per_mtok: 0.0, ops_usd_per_day: 0.0, policy_risk_usd_per_mtok: 0.0, capacity_tokens_per_day: 1.0e6, normal_tokens_per_day: 1.0e6, ban_per_excess_multiple: 0.0}
  phases: {start: 0.5, end: 0.9, from_day: 1, to_day: 2}
sweep:
  list:
    - {market.adversary.strategy: {kind: subsidized, factor: 0.8}}
    - {market.adversary.strategy: {kind: subsidized, factor: 0.6}}
";

#[test]
fn a_market_scenario_loads_without_a_network_and_sweeps() {
    let l = load_str(Path::new("m.yaml"), &DOC.replace("MODEL", "gpt-5-mini")).unwrap();
    assert_eq!(l.points.len(), 2);
    let m = l.points[1].scenario.market.as_ref().unwrap();
    let cfg = m.config(7).unwrap();
    assert_eq!(cfg.ghosts.len(), 6);
    assert_eq!(cfg.ghosts.iter().filter(|g| g.adversary).count(), 2);
    assert_eq!(cfg.models[1].direct.output_usd_per_mtok, 2.0);
    assert!((cfg.arrivals.mean_per_s - 20.0 / 86_400.0).abs() < 1e-12);
    // Exit windows: uniform on [4, 12] around 8, drawn per Ghost.
    let windows: Vec<usize> = cfg.ghosts[..4]
        .iter()
        .map(|g| g.economics.exit_window_days)
        .collect();
    assert!(windows.iter().all(|w| (4..=12).contains(w)), "{windows:?}");
    assert_eq!(m.config(7).unwrap().ghosts, cfg.ghosts);
    let r = crate::economics::market::run(&cfg).unwrap();
    assert_eq!(r.service_sat + r.client_sat + r.fees_sat, r.funded_sat);
    // The runner answers a market scenario with a market replicate.
    let ran = crate::run::run_replicate(&l.points[1], 0, 3, &()).unwrap();
    let crate::record::ReplicateResult::Market(m) = ran else {
        panic!("a market scenario gave a network replicate");
    };
    let seed = crate::rng::Streams::replicate_seed(3, 1, 0);
    assert_eq!(
        m.key,
        crate::record::ReplicateKey {
            point: 1,
            replicate: 0,
            seed
        }
    );
    assert!(!m.run.agent_days.is_empty(), "the market ran its days");
    assert_eq!(m.network_part().sessions.len(), 0);
}

#[test]
fn a_bad_model_is_named_with_its_file_line_and_field() {
    let e = load_str(Path::new("m.yaml"), DOC).unwrap_err();
    let ScenarioError::Field {
        file,
        line,
        path,
        message,
        ..
    } = e
    else {
        panic!("{e}");
    };
    assert_eq!(file, Path::new("m.yaml"));
    assert_eq!(path, "market.models[1].name");
    assert_eq!(line, 13, "{message}");
    assert!(
        message.contains("MODEL") && message.contains("gpt-4o"),
        "{message}"
    );
    let e = load_str(
        Path::new("m.yaml"),
        &DOC.replace("MODEL", "gpt-4o").replace("sharegpt", "nope"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("market.output_trace") && e.contains("burstgpt"),
        "{e}"
    );
    let e = load_str(
        Path::new("m.yaml"),
        &DOC.replace("MODEL", "gpt-4o")
            .replace("  days: 3", "  dayz: 3"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("dayz"), "{e}");
}
