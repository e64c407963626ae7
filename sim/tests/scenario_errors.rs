//! Every range-checked field of a scenario, set to a value it refuses, is
//! reported at the value's own line and column (not at its parent
//! mapping's), with the field's path. The scenario is written in block
//! style with each field on its own line, so the expected position is
//! known exactly.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_sim::scenario::{ScenarioError, load_str};
use serde_json::Value;

const BASE: &str = r#"
name: errors
seed: 1
replications: 1
population: {relays: 12, ghosts: 2, gpus: 0, mints: 2, clients: 4}
network: {loss: 0.0, nat_clients: 0.0, jitter_ms: 1.0, ases_per_region: 3}
workload:
  warmup_s: 60
  duration_s: 100
  drain_s: 10
  sessions_per_client_per_hour: 10
  turns_per_session: 1
  prompt_tokens: {kind: fixed, value: 10}
  output_tokens: {kind: fixed, value: 10}
protocol:
  relays_per_route: 3
  shards: 1
  hop_delay_ms: [0.0, 0.0]
  turn_timeout_s: 60
  lightning: {kind: node}
adversary:
  entry_fraction_m: 0.1
  exit_fraction_g: 0.1
  matcher: {min_score: 0.8}
  mint_exit: {mints: 1, window_s: 600}
  key_tagging: {mints: 1, share: 0.5}
  observers: {vantage: {kind: as_fraction, share: 0.3}, bins: 128, threshold: 0.5, bin_ms: 50}
"#;

/// A value to set at a path: a placeholder the renderer replaces with
/// `raw` verbatim, recording where it put it.
const PLACEHOLDER: &str = "\u{1}raw";

/// Block-style YAML of `v` (flow style for lists); returns where the
/// placeholder's value starts (1-based line, column).
fn render(v: &Value, raw: &str) -> (String, (usize, usize)) {
    let mut out = String::new();
    let mut at = (0, 0);
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => format!("[{}]", a.iter().map(scalar).collect::<Vec<_>>().join(", ")),
            other => other.to_string(),
        }
    }
    fn walk(v: &Value, indent: usize, raw: &str, out: &mut String, at: &mut (usize, usize)) {
        let Value::Object(m) = v else { return };
        for (k, v) in m {
            let prefix = format!("{}{k}: ", " ".repeat(indent));
            match v {
                Value::Object(_) => {
                    out.push_str(&format!("{}{k}:\n", " ".repeat(indent)));
                    walk(v, indent + 2, raw, out, at);
                }
                Value::String(s) if s == PLACEHOLDER => {
                    *at = (out.lines().count() + 1, prefix.len() + 1);
                    out.push_str(&format!("{prefix}{raw}\n"));
                }
                other => out.push_str(&format!("{prefix}{}\n", scalar(other))),
            }
        }
    }
    walk(v, 0, raw, &mut out, &mut at);
    (out, at)
}

fn set(doc: &mut Value, path: &str, v: Value) {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur
            .as_object_mut()
            .unwrap()
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    cur.as_object_mut()
        .unwrap()
        .insert(parts[parts.len() - 1].to_string(), v);
}

/// Sets `path` to the YAML `raw` and returns (error, expected position).
fn refuse(path: &str, raw: &str, also: &[(&str, &str)]) -> (ScenarioError, (usize, usize)) {
    let mut doc: Value = serde_yaml::from_str(BASE).unwrap();
    for (p, v) in also {
        set(&mut doc, p, serde_yaml::from_str(v).unwrap());
    }
    set(&mut doc, path, Value::String(PLACEHOLDER.into()));
    let (text, at) = render(&doc, raw);
    let err = load_str(std::path::Path::new("e.yaml"), &text)
        .err()
        .unwrap_or_else(|| panic!("{path}: {raw} was accepted:\n{text}"));
    (err, at)
}

#[test]
fn the_base_scenario_is_valid_as_rendered() {
    let doc: Value = serde_yaml::from_str(BASE).unwrap();
    let (text, _) = render(&doc, "");
    load_str(std::path::Path::new("e.yaml"), &text).unwrap();
}

/// (path, refused value, other fields it needs, path the error names)
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Every range-checked field of the schema with a value it refuses.
const RANGE_CASES: &[Case] = &[
    // Typed probabilities, checked while parsing.
    ("network.loss", "1.5", &[], "network.loss"),
    ("network.nat_clients", "-0.1", &[], "network.nat_clients"),
    (
        "adversary.entry_fraction_m",
        "2.0",
        &[],
        "adversary.entry_fraction_m",
    ),
    (
        "adversary.exit_fraction_g",
        ".nan",
        &[],
        "adversary.exit_fraction_g",
    ),
    (
        "adversary.matcher.min_score",
        "1.2",
        &[],
        "adversary.matcher.min_score",
    ),
    (
        "adversary.key_tagging.share",
        "1.5",
        &[],
        "adversary.key_tagging.share",
    ),
    (
        "adversary.observers.vantage.share",
        "7",
        &[],
        "adversary.observers.vantage.share",
    ),
    // Checked after parsing.
    ("replications", "0", &[], "replications"),
    ("population.clients", "0", &[], "population.clients"),
    (
        "population.mints",
        "0",
        &[
            ("adversary.mint_exit", "null"),
            ("adversary.key_tagging", "null"),
        ],
        "population.mints",
    ),
    ("population.ghosts", "0", &[], "population.ghosts"),
    (
        "population.identity_pow_bits",
        "30",
        &[],
        "population.identity_pow_bits",
    ),
    (
        "protocol.relays_per_route",
        "5",
        &[],
        "protocol.relays_per_route",
    ),
    ("population.relays", "3", &[], "population.relays"),
    ("protocol.shards", "0", &[], "protocol.shards"),
    (
        "protocol.relay_shards_read",
        "0",
        &[],
        "protocol.relay_shards_read",
    ),
    (
        "protocol.exit_shards_read",
        "0",
        &[],
        "protocol.exit_shards_read",
    ),
    (
        "protocol.hop_delay_ms",
        "[5.0, 1.0]",
        &[],
        "protocol.hop_delay_ms",
    ),
    (
        "protocol.turn_timeout_s",
        "0",
        &[],
        "protocol.turn_timeout_s",
    ),
    ("workload.duration_s", "0", &[], "workload.duration_s"),
    (
        "workload.sessions_per_client_per_hour",
        "-1",
        &[],
        "workload.sessions_per_client_per_hour",
    ),
    ("workload.warmup_s", "10", &[], "workload.warmup_s"),
    ("workload.drain_s", "-1", &[], "workload.drain_s"),
    (
        "workload.turns_per_session",
        "0",
        &[],
        "workload.turns_per_session",
    ),
    (
        "workload.prompt_tokens",
        "{kind: fixed, value: -1}",
        &[],
        "workload.prompt_tokens",
    ),
    (
        "network.ases_per_region",
        "0",
        &[],
        "network.ases_per_region",
    ),
    ("network.jitter_ms", "-1", &[], "network.jitter_ms"),
    (
        "adversary.mint_exit.mints",
        "5",
        &[],
        "adversary.mint_exit.mints",
    ),
    (
        "adversary.mint_exit.window_s",
        "0",
        &[],
        "adversary.mint_exit.window_s",
    ),
    (
        "adversary.mint_exit.recency_s",
        "-5",
        &[],
        "adversary.mint_exit.recency_s",
    ),
    (
        "protocol.lightning.size",
        "0",
        &[("protocol.lightning.kind", "candidates")],
        "protocol.lightning.size",
    ),
    (
        "adversary.key_tagging.mints",
        "9",
        &[],
        "adversary.key_tagging.mints",
    ),
    (
        "adversary.observers.bins",
        "2",
        &[],
        "adversary.observers.bins",
    ),
    (
        "adversary.observers.threshold",
        "3.0",
        &[],
        "adversary.observers.threshold",
    ),
    (
        "adversary.observers.bin_ms",
        "0",
        &[],
        "adversary.observers.bin_ms",
    ),
];

#[test]
fn every_range_checked_field_is_reported_at_its_value() {
    let cases = RANGE_CASES;
    for (path, raw, also, named) in cases {
        let (err, at) = refuse(path, raw, also);
        let shown = err.to_string();
        match err {
            ScenarioError::Field {
                line,
                column,
                path: p,
                ..
            } => {
                assert_eq!(&p, named, "{path} = {raw}: {shown}");
                assert_eq!((line, column), at, "{path} = {raw}: {shown}");
            }
            other => panic!("{path} = {raw}: {other}"),
        }
    }
}
