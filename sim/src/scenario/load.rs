//! Loading, validating and expanding scenarios, with errors that name the
//! file, line, column and field path and say what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::locate::{locate, locate_value, refused_value};
use super::sweep::{self, Overrides};
use super::{Scenario, topology_regions};

/// A scenario that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// File.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// Bad YAML or a field of the wrong type, unknown or out of range.
    #[error("{file}:{line}:{column}: {path}: {message}")]
    Field {
        /// File.
        file: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// Dotted field path (`.` for the document).
        path: String,
        /// What was wrong and what was expected.
        message: String,
    },
}

/// One sweep point: its parameter values and the scenario they give.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Index in sweep order.
    pub index: u32,
    /// The swept parameters' values (dotted path -> value); empty without a sweep.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

impl Point {
    /// The swept values as a person reads them ([`point_label`]).
    pub fn label(&self) -> String {
        point_label(&self.params)
    }
}

/// Swept values as a person reads them: `m=0.1 g=0.25` (the last segment of
/// each path, or its trailing one-letter symbol such as `entry_fraction_m`
/// -> `m`); `(no sweep)` without any.
pub fn point_label(params: &BTreeMap<String, serde_json::Value>) -> String {
    if params.is_empty() {
        return "(no sweep)".into();
    }
    let name = |path: &str| {
        let last = path.rsplit('.').next().unwrap_or(path);
        match last.rsplit_once('_') {
            Some((_, sym)) if sym.len() == 1 => sym.to_owned(),
            _ => last.to_owned(),
        }
    };
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", name(k), value(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A loaded scenario: the text, the base scenario and its points.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Where it came from.
    pub file: PathBuf,
    /// The file's text, verbatim.
    pub text: String,
    /// The scenario as written.
    pub base: Scenario,
    /// Sweep points (one when there is no sweep).
    pub points: Vec<Point>,
}

/// Loads and validates `path`.
pub fn load_file(path: &Path) -> Result<Loaded, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
        file: path.to_owned(),
        reason: e.to_string(),
    })?;
    load_str(path, &text)
}

/// Loads and validates scenario `text`, reporting errors against `file`.
pub fn load_str(file: &Path, text: &str) -> Result<Loaded, ScenarioError> {
    let field = |path: String, message: String| {
        let (line, column) = locate_value(text, &path);
        ScenarioError::Field {
            file: file.to_owned(),
            line,
            column,
            path,
            message,
        }
    };
    let de = serde_yaml::Deserializer::from_str(text);
    let base: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // A value its type refused (a range check) is reported by the YAML
        // parser at its parent mapping: point at the value itself instead.
        let message = inner.to_string();
        let refused = message.contains("invalid value:");
        let (path, (line, column)) = match inner.location() {
            Some(l) if !refused => (path, (l.line(), l.column())),
            _ => refused_value(text, &path, &message),
        };
        ScenarioError::Field {
            file: file.to_owned(),
            line,
            column,
            message: strip_prefix(&path, &strip_location(&message)),
            path,
        }
    })?;
    validate(&base).map_err(|(p, m)| field(p, m))?;
    let base_value = serde_json::to_value(&base).map_err(|e| field(".".into(), e.to_string()))?;
    let overrides: Vec<Overrides> = match &base.sweep {
        None => vec![Overrides::new()],
        Some(s) => sweep::expand(s).map_err(|(p, m)| field(p, m))?,
    };
    let mut points = Vec::with_capacity(overrides.len());
    for (i, o) in overrides.into_iter().enumerate() {
        let mut v = base_value.clone();
        for (path, value) in &o {
            sweep::apply(&mut v, path, value.clone())
                .map_err(|m| field(format!("sweep.{path}"), m))?;
        }
        let de = v.clone();
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            field(
                sweep_key(&o, &path),
                format!(
                    "sweep point {i} sets {path}: {}",
                    strip_location(&e.into_inner().to_string())
                ),
            )
        })?;
        validate(&scenario)
            .map_err(|(p, m)| field(sweep_key(&o, &p), format!("sweep point {i}: {m}")))?;
        points.push(Point {
            index: i as u32,
            params: o,
            scenario: Scenario {
                sweep: None,
                ..scenario
            },
        });
    }
    Ok(Loaded {
        file: file.to_owned(),
        text: text.to_owned(),
        base,
        points,
    })
}

/// The quick variant of `loaded`: its `quick` values applied, as a new
/// scenario document (its text is what the manifest records). A scenario
/// without `quick` is its own quick variant.
pub fn quick_variant(loaded: &Loaded) -> Result<Loaded, ScenarioError> {
    let Some(quick) = &loaded.base.quick else {
        return Ok(loaded.clone());
    };
    let field = |path: String, message: String| {
        let (line, column) = locate(&loaded.text, &path);
        ScenarioError::Field {
            file: loaded.file.clone(),
            line,
            column,
            path,
            message,
        }
    };
    let mut doc =
        serde_json::to_value(&loaded.base).map_err(|e| field(".".into(), e.to_string()))?;
    for (path, value) in quick {
        let at = format!("quick.{path}");
        if path == "replications" {
            if let Some(o) = doc.as_object_mut() {
                o.insert(path.clone(), value.clone());
            }
        } else if let Some(axis) = path.strip_prefix("sweep.grid.") {
            let grid = doc
                .pointer_mut("/sweep/grid")
                .and_then(|g| g.as_object_mut())
                .filter(|g| g.contains_key(axis))
                .ok_or_else(|| field(at.clone(), format!("the sweep has no grid axis {axis:?}")))?;
            grid.insert(axis.to_owned(), value.clone());
        } else if path == "sweep.list" {
            let sweep = doc
                .pointer_mut("/sweep")
                .and_then(|g| g.as_object_mut())
                .filter(|g| g.get("list").is_some_and(serde_json::Value::is_array))
                .ok_or_else(|| field(at.clone(), "the sweep has no list".into()))?;
            sweep.insert("list".to_owned(), value.clone());
        } else {
            sweep::apply(&mut doc, path, value.clone()).map_err(|m| field(at, m))?;
        }
    }
    if let Some(o) = doc.as_object_mut() {
        o.remove("quick");
    }
    let yaml = serde_yaml::to_string(&doc).map_err(|e| field("quick".into(), e.to_string()))?;
    let text = format!(
        "# Quick variant of {} (its `quick` values applied).\n{yaml}",
        loaded.file.display()
    );
    load_str(&loaded.file, &text)
}

/// The sweep key responsible for a problem at `path` (for its location).
fn sweep_key(o: &Overrides, path: &str) -> String {
    o.keys()
        .find(|k| path.starts_with(k.as_str()) || k.starts_with(path))
        .map(|k| format!("sweep.{k}"))
        .unwrap_or_else(|| path.to_owned())
}

/// Drops serde_yaml's own "path: " prefix (the path is reported separately).
fn strip_prefix(path: &str, msg: &str) -> String {
    match msg.split_once(": ") {
        Some((head, rest)) if path.starts_with(head) => rest.to_owned(),
        _ => msg.to_owned(),
    }
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Checks what the types cannot: counts, ranges and consistency between
/// fields; the error names the field's path.
fn validate(s: &Scenario) -> Result<(), (String, String)> {
    if s.replications == 0 {
        return Err((
            "replications".into(),
            "expected at least 1 replication".into(),
        ));
    }
    if let Some(m) = &s.market {
        return m.validate();
    }
    validate_population(s)?;
    validate_workload(&s.workload, &s.network)?;
    validate_network(&s.network)?;
    validate_adversary(s)?;
    validate_protocol(s)?;
    validate_rest(s)
}

type Checked = Result<(), (String, String)>;

fn err(p: &str, m: String) -> Checked {
    Err((p.to_owned(), m))
}

/// Population, and the route length it must support.
fn validate_population(s: &Scenario) -> Checked {
    let p = &s.population;
    if p.clients == 0 {
        return err("population.clients", "expected at least 1 client".into());
    }
    if p.mints == 0 {
        return err("population.mints", "expected at least 1 mint".into());
    }
    if p.ghosts + p.gpus == 0 {
        return err(
            "population.ghosts",
            "expected at least one Ghost or GPU node".into(),
        );
    }
    if p.identity_pow_bits > 24 {
        return err(
            "population.identity_pow_bits",
            "expected at most 24 bits".into(),
        );
    }
    let hops = s.protocol.relays_per_route;
    if hops > 4 {
        return err(
            "protocol.relays_per_route",
            "expected 0 to 4 relays (0: a one-hop circuit straight to the service)".into(),
        );
    }
    if p.relays < hops + 1 {
        return err(
            "population.relays",
            format!("expected more relays than relays_per_route ({hops})"),
        );
    }
    if s.protocol.shards == 0 {
        return err("protocol.shards", "expected at least 1 shard".into());
    }
    let [lo, hi] = s.protocol.hop_delay_ms;
    if !(lo >= 0.0 && hi >= lo && hi.is_finite()) {
        return err(
            "protocol.hop_delay_ms",
            "expected [low, high] with 0 <= low <= high".into(),
        );
    }
    if s.protocol.turn_timeout_s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return err(
            "protocol.turn_timeout_s",
            "expected a positive number of seconds".into(),
        );
    }
    Ok(())
}

/// Workload lengths, rates and distributions.
fn validate_workload(w: &super::Workload, network: &super::NetworkSpec) -> Checked {
    for (name, v) in [
        ("workload.duration_s", w.duration_s),
        (
            "workload.sessions_per_client_per_hour",
            w.sessions_per_client_per_hour,
        ),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return err(name, format!("expected a positive number, got {v}"));
        }
    }
    for (name, v) in [
        ("workload.warmup_s", w.warmup_s),
        ("workload.drain_s", w.drain_s),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return err(name, format!("expected a non-negative number, got {v}"));
        }
    }
    if w.warmup_s < 60.0 {
        return err(
            "workload.warmup_s",
            "expected at least 60 s for DHT bootstrap".into(),
        );
    }
    if w.turns_per_session == 0 {
        return err(
            "workload.turns_per_session",
            "expected at least 1 turn".into(),
        );
    }
    for (name, d) in [
        ("workload.think_time_s", &w.think_time_s),
        ("workload.prompt_tokens", &w.prompt_tokens),
        ("workload.output_tokens", &w.output_tokens),
        ("network.access_latency_ms", &network.access_latency_ms),
        (
            "network.access_bandwidth_mbps",
            &network.access_bandwidth_mbps,
        ),
    ] {
        d.check().or_else(|m| err(name, m))?;
    }
    Ok(())
}

/// Regions, ASes and jitter.
fn validate_network(n: &super::NetworkSpec) -> Checked {
    let regions = topology_regions();
    for (r, weight) in &n.region_weights {
        if !regions.contains(&r.as_str()) {
            return err(
                &format!("network.region_weights.{r}"),
                format!("unknown region; expected one of {}", regions.join(", ")),
            );
        }
        if !(weight.is_finite() && *weight >= 0.0) {
            return err(
                &format!("network.region_weights.{r}"),
                "expected a weight >= 0".into(),
            );
        }
    }
    if n.region_weights.values().sum::<f64>() <= 0.0 {
        return err(
            "network.region_weights",
            "expected some region with weight > 0".into(),
        );
    }
    if n.ases_per_region == 0 {
        return err("network.ases_per_region", "expected at least 1".into());
    }
    if !(n.jitter_ms.is_finite() && n.jitter_ms >= 0.0) {
        return err("network.jitter_ms", "expected a non-negative number".into());
    }
    Ok(())
}

/// The adversary's switches against the population.
fn validate_adversary(s: &Scenario) -> Checked {
    let (a, p) = (&s.adversary, &s.population);
    if a.sybil.is_some() && (a.entry_fraction_m.get() > 0.0 || a.exit_fraction_g.get() > 0.0) {
        return err(
            "adversary.sybil",
            "sybil counts and the fractions m, g are exclusive; set m and g to 0".into(),
        );
    }
    if let Some(me) = &a.mint_exit {
        if me.mints == 0 || me.mints > p.mints {
            return err(
                "adversary.mint_exit.mints",
                format!(
                    "expected 1 to {} colluding mints (population.mints)",
                    p.mints
                ),
            );
        }
        if me.recency_s.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return err(
                "adversary.mint_exit.recency_s",
                "expected a positive number of seconds".into(),
            );
        }
        if !(me.window_s.is_finite() && me.window_s > 0.0) {
            return err(
                "adversary.mint_exit.window_s",
                "expected a positive number of seconds".into(),
            );
        }
    }
    if let super::LightningPrivacySpec::Candidates { size } = s.protocol.lightning
        && (size == 0 || size > p.clients)
    {
        return err(
            "protocol.lightning.size",
            format!("expected 1 to {} payers (population.clients)", p.clients),
        );
    }
    if let Some(k) = &a.key_tagging
        && (k.mints == 0 || k.mints > p.mints)
    {
        return err(
            "adversary.key_tagging.mints",
            format!("expected 1 to {} tagging mints (population.mints)", p.mints),
        );
    }
    if let Some(o) = &a.observers {
        for (name, v) in [
            ("adversary.observers.bin_ms", o.bin_ms),
            ("adversary.observers.idle_gap_ms", o.idle_gap_ms),
            ("adversary.observers.max_lag_ms", o.max_lag_ms),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return err(name, format!("expected a positive number, got {v}"));
            }
        }
        if !(4..=4096).contains(&o.bins) {
            return err("adversary.observers.bins", "expected 4 to 4096 bins".into());
        }
        if !(-1.0..=1.0).contains(&o.threshold) {
            return err(
                "adversary.observers.threshold",
                "expected a correlation score in [-1, 1]".into(),
            );
        }
        if let super::VantageSpec::Endpoints { clients, services } = o.vantage
            && (clients > p.clients || services > p.ghosts + p.gpus)
        {
            return err(
                "adversary.observers.vantage",
                format!(
                    "expected at most {} clients and {} services",
                    p.clients,
                    p.ghosts + p.gpus
                ),
            );
        }
    }
    Ok(())
}

/// Defences and wallet policy.
fn validate_protocol(s: &Scenario) -> Checked {
    let pr = &s.protocol;
    if !(pr.cover_rate_per_s.is_finite() && pr.cover_rate_per_s >= 0.0) {
        return err(
            "protocol.cover_rate_per_s",
            "expected a non-negative rate".into(),
        );
    }
    if !(pr.mint_batch_s.is_finite() && (0.0..10.0).contains(&pr.mint_batch_s)) {
        return err(
            "protocol.mint_batch_s",
            "expected 0 (off) to under 10 s (the clients' mint timeout)".into(),
        );
    }
    if pr.rotate_after_turns == Some(0) {
        return err(
            "protocol.rotate_after_turns",
            "expected at least 1 turn".into(),
        );
    }
    let hold_ok = match pr.wallet.hold {
        super::HoldSpec::None => true,
        super::HoldSpec::Fixed { s } => s.is_finite() && s >= 0.0,
        super::HoldSpec::Uniform { min_s, max_s } => {
            min_s.is_finite() && max_s.is_finite() && 0.0 <= min_s && min_s <= max_s
        }
        super::HoldSpec::Exponential { mean_s } => mean_s.is_finite() && mean_s > 0.0,
    };
    if !hold_ok {
        return err(
            "protocol.wallet.hold",
            "expected non-negative seconds (uniform: min_s <= max_s; exponential: mean_s > 0)"
                .into(),
        );
    }
    Ok(())
}

/// The matcher and churn.
fn validate_rest(s: &Scenario) -> Checked {
    let a = &s.adversary;
    if !(a.matcher.max_lag_ms > 0.0 && a.matcher.tolerance_ms >= 0.0) {
        return err(
            "adversary.matcher",
            "expected max_lag_ms > 0 and tolerance_ms >= 0".into(),
        );
    }
    if let Some(r) = &s.churn.relay_rate
        && !(r.mean_up_s > 0.0 && r.mean_down_s > 0.0)
    {
        return err(
            "churn.relay_rate",
            "expected positive mean up and down times".into(),
        );
    }
    Ok(())
}

/// The JSON Schema of scenario files, pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_reads_as_its_swept_symbols() {
        let mut params = BTreeMap::new();
        params.insert(
            "adversary.entry_fraction_m".to_owned(),
            serde_json::json!(0.1),
        );
        params.insert(
            "adversary.exit_fraction_g".to_owned(),
            serde_json::json!(0.25),
        );
        params.insert("protocol.lightning".to_owned(), serde_json::json!("hidden"));
        assert_eq!(point_label(&params), "m=0.1 g=0.25 lightning=hidden");
        assert_eq!(point_label(&BTreeMap::new()), "(no sweep)");
    }

    const BASE: &str = r#"name: q
seed: 1
replications: 3
population: {relays: 10, ghosts: 2, gpus: 0, mints: 1, clients: 4}
workload:
  warmup_s: 60
  duration_s: 100
  drain_s: 10
  sessions_per_client_per_hour: 10
  prompt_tokens: {kind: fixed, value: 10}
  output_tokens: {kind: fixed, value: 10}
sweep:
  grid:
    adversary.entry_fraction_m: [0.1, 0.2, 0.3]
"#;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn quick_variant_applies_its_values() {
        let text = format!(
            "{BASE}quick:\n  replications: 1\n  workload.duration_s: 20\n  sweep.grid.adversary.entry_fraction_m: [0.5]\n"
        );
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        assert_eq!(l.points.len(), 3);
        let q = quick_variant(&l).unwrap();
        assert_eq!(q.base.replications, 1);
        assert_eq!(q.points.len(), 1);
        assert_eq!(q.points[0].scenario.workload.duration_s, 20.0);
        assert_eq!(q.points[0].scenario.adversary.entry_fraction_m.get(), 0.5);
        assert!(q.base.quick.is_none() && q.text.starts_with("# Quick variant of q.yaml"));
        // Without `quick`, the scenario is its own quick variant.
        let plain = load_str(Path::new("p.yaml"), BASE).unwrap();
        assert_eq!(quick_variant(&plain).unwrap().text, BASE);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_bad_quick_value_names_its_line() {
        let text = format!("{BASE}quick:\n  workload.no_such: 1\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        let e = quick_variant(&l).unwrap_err().to_string();
        assert!(
            e.starts_with("q.yaml:") && e.contains("quick.workload.no_such"),
            "{e}"
        );
        let text = format!("{BASE}quick:\n  sweep.grid.adversary.exit_fraction_g: [0.5]\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        let e = quick_variant(&l).unwrap_err().to_string();
        assert!(e.contains("no grid axis"), "{e}");
        // A list can be replaced only where the sweep is a list.
        let text = format!("{BASE}quick:\n  sweep.list: [{{workload.duration_s: 5}}]\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        let e = quick_variant(&l).unwrap_err().to_string();
        assert!(e.contains("the sweep has no list"), "{e}");
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_quick_variant_can_replace_a_sweep_list() {
        let listed = BASE.replace(
            "  grid:\n    adversary.entry_fraction_m: [0.1, 0.2, 0.3]\n",
            "  list:\n    - {adversary.entry_fraction_m: 0.1}\n    - {adversary.entry_fraction_m: 0.2}\n",
        );
        let text =
            format!("{listed}quick:\n  sweep.list:\n    - {{adversary.entry_fraction_m: 0.4}}\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        assert_eq!(l.points.len(), 2);
        let q = quick_variant(&l).unwrap();
        assert_eq!(q.points.len(), 1);
        assert_eq!(q.points[0].scenario.adversary.entry_fraction_m.get(), 0.4);
    }
}
