//! Helpers every claim uses: sessions by point, counts, the chi-square
//! verdict, Bonferroni, a point's label, the scenario behind a dataset,
//! latencies, and reading the market's tables. Claims import this module
//! and `data`, never each other.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde_json::Value as Json;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use super::data::{MarketData, ScenarioData, Session};
use super::{Citation, Kind, Row, Section, Source, Value};
use crate::estimate::{Proportion, bootstrap, compare, quantile, wilson};
use crate::summary::{LEVEL, PointSummary};
use peer2prompt_sim::scenario::{Loaded, load_str};

/// The whitepaper's two sentences on tier 4 and its countermeasures, which
/// the observers and high-latency sections both answer.
pub fn tier4_citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Tier 4: Network-Wide Passive Observer"),
            quote: "Peer2Prompt can raise cost with padding and jitter, but cannot eliminate \
                    this class without heavy latency overhead.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Traffic Analysis Countermeasures",
            paragraph: None,
            quote: "These controls increase attack cost but do not provide mixnet-level \
                    anonymity guarantees.",
        },
    ]
}

/// The tier-3 sentence the guard sections test (whitepaper "Threat Model
/// Tiers", "Tier 3: Partial Collusion").
pub fn n_sessions_citation() -> Citation {
    Citation {
        source: Source::Whitepaper,
        section: "Threat Model Tiers",
        paragraph: Some("Tier 3: Partial Collusion"),
        quote: "For n independent sessions with re-sampled routes, naive full-link expectation \
                is n·m·g.",
    }
}

/// 1 − C(R−A, G)/C(R, G): a client drawing G guards without replacement
/// from R relays, A of them the adversary's, holds at least one of its.
pub fn p_any_adversarial_guard(r: u32, a: u32, g: u32) -> f64 {
    let mut none = 1.0;
    for i in 0..g {
        none *= f64::from((r - a).saturating_sub(i)) / f64::from(r - i);
    }
    1.0 - none
}

/// P(j of the G guards are the adversary's), j = 0..=G, drawn as in
/// [`p_any_adversarial_guard`] (hypergeometric).
pub fn adversarial_guards(r: u32, a: u32, g: u32) -> Vec<f64> {
    let c = |n: u32, k: u32| -> f64 {
        (0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
    };
    (0..=g)
        .map(|j| {
            if j > a || g - j > r - a {
                0.0
            } else {
                c(a, j) * c(r - a, g - j) / c(r, g)
            }
        })
        .collect()
}

/// The report's documented cost model for adversary capital (whitepaper
/// "Attack Economics"): identity proof of work on a cloud vCPU at 0.04
/// USD/hour computing 2·10⁷ SHA-256 hashes per second.
pub const USD_PER_HASH: f64 = 0.04 / (2.0e7 * 3600.0);
/// Running one Sybil node (a small VPS with bandwidth), USD per month.
pub const NODE_USD_PER_MONTH: f64 = 5.0;
/// One Ed25519 key generation (grinding node ids) on the same vCPU: 5·10⁴
/// per second.
pub const USD_PER_KEYGEN: f64 = 0.04 / (5.0e4 * 3600.0);
/// Days in a month: key epochs last a day, so ids ground near one epoch's
/// advert keys must be ground afresh 30 times a month.
pub const EPOCHS_PER_MONTH: f64 = 30.0;
/// One legal order to, or breach of, a centralized operator (the direct
/// API's provider, LLM-Tor's proxy, a Peer2Prompt mint), USD: an
/// assumption of the report's cost model, not a cited figure (the
/// whitepaper calls its marginal cost per user "near-zero"; only the order
/// of magnitude matters for the comparison).
pub const LEGAL_ORDER_USD: f64 = 10_000.0;
/// Hours in a month, for per-month session counts.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Capital, USD per month, of running `nodes` Sybil nodes whose identities
/// cost `pow_hashes` hashes (the cost model above).
pub fn sybil_capital_usd_per_month(nodes: f64, pow_hashes: f64) -> f64 {
    nodes * NODE_USD_PER_MONTH + pow_hashes * USD_PER_HASH
}

/// The nodes the adversary runs as Sybils under `sc`: its relays, Ghosts
/// and DHT-only nodes (`adversary.sybil`), each paid for by the month.
pub fn sybil_nodes(sc: &peer2prompt_sim::scenario::Scenario) -> u32 {
    sc.adversary
        .sybil
        .as_ref()
        .map_or(0, |s| s.relays + s.ghosts)
        + peer2prompt_sim::adversary::dht_attack::sybil_count(sc)
}

/// A/(A+N): `a` adversarial nodes beside `n` honest ones (0 with none).
pub fn share_of(a: u32, n: u32) -> f64 {
    f64::from(a) / f64::from(a + n).max(1.0)
}

/// The cost model as the report states it.
pub fn cost_model_note() -> String {
    format!(
        "Capital is a documented model, not a measurement: each Sybil node costs \
         {NODE_USD_PER_MONTH} USD per month to run, plus its identity proof of work (hashes \
         counted in the run) at {USD_PER_HASH:.2e} USD per hash (a vCPU at 0.04 USD/h doing \
         2·10⁷ SHA-256/s). Grinding node ids near advert keys costs Ed25519 key generations \
         at {USD_PER_KEYGEN:.2e} USD each (5·10⁴/s on that vCPU), paid again each daily key \
         epoch ({EPOCHS_PER_MONTH} a month)."
    )
}

/// p-value below which the data reject a whitepaper value.
pub const REJECT_P: f64 = 0.01;

/// How the chi-square verdicts decide, for the rows' method column.
pub const CHI_SQUARE_METHOD: &str = "χ² over the points' z-scores of the measured proportion \
     against the row's expected value, the whitepaper's or a closed form (binomial standard \
     error under that value), rejected at p < 0.01; each point's interval is a 95% Wilson interval";

/// A section for a scenario this run did not include: its rows, not measured.
pub fn missing(
    id: &'static str,
    title: &'static str,
    citations: Vec<Citation>,
    scenario: &str,
    rows: &[(Kind, &str)],
) -> Section {
    let why = format!("the scenario `{scenario}` is not part of this run's output folder");
    Section {
        id,
        title,
        citations,
        rows: rows
            .iter()
            .map(|(k, n)| Row::not_measured(*k, n, &why))
            .collect(),
        notes: vec![format!("Not measured: {why}.")],
        tables: vec![],
        figures: vec![],
        source: "-".into(),
    }
}

/// The scenario(s), seed and crypto fidelity behind a section.
pub fn source(d: &ScenarioData) -> String {
    let fidelity = d
        .manifest
        .crypto_fidelity
        .as_ref()
        .map(|f| format!(", crypto fidelity `{f}`"))
        .unwrap_or_default();
    format!(
        "`{}` (scenarios/whitepaper), seed {}, {} point(s) x {} replicate(s), git {}{fidelity}",
        d.name,
        d.manifest.seed,
        d.manifest.points,
        d.manifest.replications,
        crate::manifest::short_commit(&d.manifest.git_commit)
    )
}

/// The scenario a dataset was produced from (its manifest holds the text
/// that ran, quick variants included).
pub fn loaded(d: &ScenarioData) -> Option<Loaded> {
    load_str(
        std::path::Path::new(&d.manifest.scenario_file),
        &d.manifest.scenario,
    )
    .ok()
}

/// The mean with a 95% percentile-bootstrap interval (1,000 resamples,
/// fixed `seed`): for skewed, bounded quantities such as losses and
/// shares, where a t interval would mislead.
pub fn mean_ci(xs: &[f64], seed: u64) -> crate::estimate::Mean {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    bootstrap(xs, mean, 1000, 0.95, seed)
}

/// Sessions grouped by sweep point.
pub fn by_point(d: &ScenarioData) -> BTreeMap<u32, Vec<&Session>> {
    let mut m: BTreeMap<u32, Vec<&Session>> = BTreeMap::new();
    for s in &d.sessions {
        m.entry(s.point).or_default().push(s);
    }
    m
}

/// The sessions of `point`.
pub fn of_point<'a>(m: &'a BTreeMap<u32, Vec<&'a Session>>, point: u32) -> &'a [&'a Session] {
    m.get(&point).map_or(&[], Vec::as_slice)
}

/// (sessions with `f`, sessions).
pub fn count(ss: &[&Session], f: impl Fn(&Session) -> bool) -> (u64, u64) {
    (ss.iter().filter(|s| f(s)).count() as u64, ss.len() as u64)
}

/// A chi-square goodness of fit of proportions to analytic values: the
/// sum of squared z-scores over the points whose analytic value is inside
/// (0, 1) and that have sessions. `None` when no point is usable (then
/// nothing was measured, and nothing may read "consistent").
pub fn chi_square(pairs: &[(Proportion, f64)]) -> Option<(f64, usize, f64)> {
    let zs: Vec<f64> = pairs
        .iter()
        .filter(|(p, a)| *a > 0.0 && *a < 1.0 && p.n > 0)
        .map(|(p, a)| compare(p, *a).z)
        .collect();
    if zs.is_empty() {
        return None;
    }
    let stat: f64 = zs.iter().map(|z| z * z).sum();
    let pv = ChiSquared::new(zs.len() as f64)
        .map(|d| 1.0 - d.cdf(stat))
        .unwrap_or(f64::NAN);
    Some((stat, zs.len(), pv))
}

/// A test row from [`chi_square`]: not measured without usable points.
pub fn chi_square_test(name: &str, expected: Value, pairs: &[(Proportion, f64)]) -> Row {
    match chi_square(pairs) {
        None => Row::not_measured(Kind::Test, name, "no point with sessions"),
        Some((stat, dof, p)) => Row::test(
            name,
            expected,
            Value::ChiSquare { stat, dof, p },
            CHI_SQUARE_METHOD,
            p >= REJECT_P,
        ),
    }
}

/// A sanity row from [`chi_square`].
pub fn chi_square_sanity(name: &str, expected: Value, pairs: &[(Proportion, f64)]) -> Row {
    match chi_square(pairs) {
        None => Row::not_measured(Kind::Sanity, name, "no point with sessions"),
        Some((stat, dof, p)) => Row::sanity(
            name,
            expected,
            Value::ChiSquare { stat, dof, p },
            CHI_SQUARE_METHOD,
            p >= REJECT_P,
        ),
    }
}

/// Two-sided p-value of a z-score.
pub fn two_sided_p(z: f64) -> f64 {
    let n = Normal::standard();
    2.0 * (1.0 - n.cdf(z.abs()))
}

/// The swept parameter `key` of a point.
pub fn param<'a>(p: &'a PointSummary, key: &str) -> Option<&'a Json> {
    p.params.get(key)
}

/// A point's swept parameter as a number.
pub fn param_f64(p: &PointSummary, key: &str) -> Option<f64> {
    param(p, key).and_then(Json::as_f64)
}

/// Milliseconds from each fully answered session's start to `end` (first
/// token, completion).
pub fn latencies_ms(ss: &[&Session], end: impl Fn(&Session) -> Option<u64>) -> Vec<f64> {
    ss.iter()
        .filter(|s| s.ok)
        .filter_map(|s| end(s).map(|t| t.saturating_sub(s.started_ns) as f64 / 1e6))
        .collect()
}

/// The median of `end` latencies with a 95% percentile-bootstrap interval.
pub fn median_ms(
    ss: &[&Session],
    seed: u64,
    end: impl Fn(&Session) -> Option<u64>,
) -> crate::estimate::Mean {
    bootstrap(
        &latencies_ms(ss, end),
        |v| quantile(v, 0.5),
        1000,
        LEVEL,
        seed,
    )
}

/// A human label for a point from the parameters its scenario sweeps.
pub fn point_label(p: &PointSummary) -> String {
    let get = |k: &str| p.params.get(k);
    let mut parts = Vec::new();
    if let Some(h) = get("protocol.wallet.hold") {
        match h.get("kind").and_then(Json::as_str) {
            Some("exponential") => parts.push(format!(
                "hold ~exp({} s)",
                h.get("mean_s").map(|v| v.to_string()).unwrap_or_default()
            )),
            Some("none") | None => parts.push("no mitigation".into()),
            Some(k) => parts.push(format!("hold {k}")),
        }
    }
    if get("protocol.wallet.swap_before_spend").and_then(Json::as_bool) == Some(true) {
        parts.push("swap before spend".into());
    }
    if let Some(k) = get("population.mints").and_then(Json::as_u64) {
        parts.push(format!("{k} mints, 1 colluding"));
    }
    if let Some(b) = get("protocol.mint_batch_s").and_then(Json::as_f64) {
        parts.push(format!("mint batches every {b} s"));
    }
    if let Some(l) = get("protocol.lightning") {
        parts.push(lightning_label(l));
    }
    let delay = hop_delay_max_ms(p);
    let cover = get("protocol.cover_rate_per_s")
        .and_then(Json::as_f64)
        .unwrap_or(0.0);
    if let Some(k) = get("protocol.rotate_after_turns").and_then(Json::as_u64) {
        parts.push(format!("route rotation every {k} turn(s)"));
    } else if get("protocol.hop_delay_ms").is_some() || get("protocol.cover_rate_per_s").is_some() {
        parts.push(match (delay > 0.0, cover > 0.0) {
            (false, false) => "no defence".into(),
            (true, false) => format!("delays ≤{delay} ms/hop"),
            (false, true) => format!("cover {cover}/s"),
            (true, true) => format!("delays ≤{delay} ms + cover {cover}/s"),
        });
    }
    if parts.is_empty() {
        format!("point {}", p.point)
    } else {
        parts.join(", ")
    }
}

/// The upper bound of a point's swept per-hop delay, ms (0 when unswept).
pub fn hop_delay_max_ms(p: &PointSummary) -> f64 {
    param(p, "protocol.hop_delay_ms")
        .and_then(Json::as_array)
        .and_then(|a| a.get(1))
        .and_then(Json::as_f64)
        .unwrap_or(0.0)
}

/// The observers' linked share of a point, from its summary (an empty
/// proportion without observers).
pub fn observer_linked(p: &PointSummary) -> Proportion {
    p.observer_linked.unwrap_or_else(|| wilson(0, 0, LEVEL))
}

/// A Lightning privacy setting as a reader says it.
pub fn lightning_label(l: &Json) -> String {
    match l.get("kind").and_then(Json::as_str) {
        Some("candidates") => format!(
            "Lightning set of {}",
            l.get("size").map(|v| v.to_string()).unwrap_or_default()
        ),
        Some(k) => format!("Lightning {k}"),
        None => "Lightning".into(),
    }
}

// ----- the market's tables -------------------------------------------------

/// A column of `df` as floats (missing or mistyped: empty).
pub fn f64s(df: &DataFrame, c: &str) -> Vec<Option<f64>> {
    df.column(c)
        .ok()
        .and_then(|s| s.cast(&DataType::Float64).ok())
        .and_then(|s| s.f64().ok().map(|a| a.iter().collect()))
        .unwrap_or_default()
}

/// The per-point summaries of `market.json`.
pub fn market_points(m: &MarketData) -> Vec<Json> {
    m.summary
        .get("points")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A proportion stored under `key` of a `market.json` point.
pub fn market_proportion(v: &Json, key: &str) -> Proportion {
    v.get(key)
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::wilson;

    #[test]
    fn no_usable_point_is_not_measured_and_a_bad_fit_is_rejected() {
        assert!(chi_square(&[]).is_none());
        // An analytic value of 0 or 1 has no variance to test against.
        assert!(chi_square(&[(wilson(0, 10, 0.95), 0.0)]).is_none());
        let row = chi_square_test("x", Value::None, &[]);
        assert_eq!(row.outcome, super::super::Outcome::NotMeasured);
        let good = chi_square_test("x", Value::None, &[(wilson(25, 100, 0.95), 0.25)]);
        assert_eq!(good.outcome, super::super::Outcome::Consistent);
        let bad = chi_square_test("x", Value::None, &[(wilson(5, 100, 0.95), 0.25)]);
        assert_eq!(bad.outcome, super::super::Outcome::Inconsistent);
        assert!((two_sided_p(1.959964) - 0.05).abs() < 1e-5);
    }
}
