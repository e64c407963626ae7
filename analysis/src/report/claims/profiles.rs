//! Evidence accumulated over time (whitepaper "Threat Model Tiers", "Tier 3:
//! Partial Collusion": the residual risk; "Attack Economics", "Comparison to
//! centralized breach"): the profile attacker joins what its entries, exits
//! and a colluding mint saw into per-client profiles over a long run. A test
//! that sessions off the adversary's routes are attributed no more often
//! than chance; findings for how much of each client's history it gathers,
//! and how pure its profiles stay.

use std::collections::BTreeMap;

use statrs::distribution::{Binomial, DiscreteCDF};

use super::super::common::{loaded, mean_ci, missing, source};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::{LEVEL, PointSummary};
use peer2prompt_sim::profiles::ProfileRecord;

const ID: &str = "profiles";
const TITLE: &str = "Evidence accumulated over time: per-client profiles";
const RETRO: &str = "sessions whose routes held no adversarial hop are attributed to their \
                     client no more often than chance";
const HISTORY: &str = "share of each client's history its profile attacker attributes to it";
const PURITY: &str = "purity of the profiles: share of profiled sessions whose profile names \
                      their own client";
const OBSERVED: &str = "with observers on part of the network: clean-route sessions attributed \
                        to their client";

/// Significance of the one-sided binomial test.
const ALPHA: f64 = 0.05;

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Tier 3: Partial Collusion"),
            quote: "Residual risk: colluding sets can accumulate partial evidence over time.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Attack Economics",
            paragraph: Some("Comparison to centralized breach"),
            quote: "cannot retroactively link sessions that used routes not under their \
                    control",
        },
    ]
}

/// One point's measurements.
struct Measured {
    label: String,
    /// The point has observers: a channel off the adversary's routes.
    observers: bool,
    /// Mint claims only when unambiguous (one candidate payer).
    strict: bool,
    mg: f64,
    clients: u32,
    /// Clean-route sessions attributed correctly, of clean-route sessions.
    clean: Proportion,
    /// P(X ≥ k) for X ~ Binomial(n, 1/clients).
    clean_p: f64,
    /// Mean over (replicate, client) of the share of its sessions attributed
    /// to it.
    history: Mean,
    /// Correct among profiled sessions.
    purity: Proportion,
    /// The most clients any one profile holds sessions of.
    widest: usize,
    /// (hours of history, mean share) for the figure.
    growth: Vec<(f64, f64)>,
}

type Records<'a> = Vec<&'a ProfileRecord>;

fn has_observers(p: &PointSummary) -> bool {
    p.params
        .get("adversary.observers")
        .is_some_and(|v| !v.is_null())
}

fn max_candidates(p: &PointSummary) -> u64 {
    p.params
        .get("adversary.profiles.mint_max_candidates")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1)
}

fn label(p: &PointSummary) -> String {
    let k = max_candidates(p);
    let rule = if k <= 1 {
        "unambiguous mint claims".to_owned()
    } else {
        format!("mint guesses with ≤{k} candidates")
    };
    let watch = if has_observers(p) { ", observers" } else { "" };
    format!("m {:.2}, g {:.2}, {rule}{watch}", p.m, p.g)
}

/// The mean over clients of the share of their sessions started by `until`
/// that are attributed to them (clients with such sessions only).
fn history_shares(rs: &[(u32, &ProfileRecord)], until: u64) -> Vec<f64> {
    let mut per: BTreeMap<(u32, u32), (u32, u32)> = BTreeMap::new();
    for (rep, r) in rs.iter().filter(|(_, r)| r.started_ns <= until) {
        let e = per.entry((*rep, r.client)).or_default();
        e.0 += u32::from(r.correct);
        e.1 += 1;
    }
    per.values()
        .map(|(k, n)| f64::from(*k) / f64::from(*n))
        .collect()
}

fn measure(d: &ScenarioData, p: &PointSummary, clients: u32) -> Measured {
    let rs: Vec<(u32, &ProfileRecord)> = d
        .profiles
        .iter()
        .filter(|((pt, _), _)| *pt == p.point)
        .map(|((_, rep), r)| (*rep, r))
        .collect();
    let clean: Records<'_> = rs
        .iter()
        .filter(|(_, r)| r.clean_route)
        .map(|x| x.1)
        .collect();
    let k = clean.iter().filter(|r| r.correct).count() as u64;
    let chance = 1.0 / f64::from(clients.max(1));
    let clean_p = tail(k, clean.len() as u64, chance);
    let profiled: Records<'_> = rs
        .iter()
        .filter(|(_, r)| r.profile.is_some())
        .map(|x| x.1)
        .collect();
    let mut members: BTreeMap<(u32, u32), std::collections::BTreeSet<u32>> = BTreeMap::new();
    for (rep, r) in &rs {
        if let Some(pr) = r.profile {
            members.entry((*rep, pr)).or_default().insert(r.client);
        }
    }
    let end = rs.iter().map(|(_, r)| r.started_ns).max().unwrap_or(0);
    let start = rs.iter().map(|(_, r)| r.started_ns).min().unwrap_or(0);
    let steps = 12u64;
    let growth = (1..=steps)
        .map(|i| {
            let t = start + (end - start) * i / steps;
            let xs = history_shares(&rs, t);
            let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
            ((t - start) as f64 / 3.6e12, mean)
        })
        .collect();
    Measured {
        label: label(p),
        observers: has_observers(p),
        strict: max_candidates(p) <= 1,
        mg: p.m * p.g,
        clients,
        clean: wilson(k, clean.len() as u64, LEVEL),
        clean_p,
        history: mean_ci(
            &history_shares(&rs, u64::MAX),
            0x9f0f_0000 + u64::from(p.point),
        ),
        purity: wilson(
            profiled.iter().filter(|r| r.correct).count() as u64,
            profiled.len() as u64,
            LEVEL,
        ),
        widest: members.values().map(|m| m.len()).max().unwrap_or(0),
        growth,
    }
}

/// P(X ≥ k) for X ~ Binomial(n, p); 1 when k is 0.
fn tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 || n == 0 {
        return 1.0;
    }
    Binomial::new(p, n).map_or(f64::NAN, |b| b.sf(k - 1))
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, RETRO),
        (Kind::Finding, HISTORY),
        (Kind::Finding, PURITY),
        (Kind::Finding, OBSERVED),
    ];
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &planned);
    };
    let clients = loaded(d).map_or(0, |l| l.base.population.clients);
    let data: Vec<Measured> = d.points.iter().map(|p| measure(d, p, clients)).collect();
    if d.profiles.is_empty() || data.is_empty() {
        let rows = planned
            .iter()
            .map(|(k, n)| Row::not_measured(*k, n, "no profiles.parquet (adversary.profiles off)"))
            .collect();
        return Section {
            rows,
            ..missing(ID, TITLE, citations(), ID, &planned)
        };
    }
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![
            retro_row(&data),
            history_row(&data),
            purity_row(&data),
            observed_row(&data),
        ],
        notes: notes(),
        tables: vec![table(&data)],
        figures: figures(&data),
        source: source(d),
    }
}

/// The claim is about node colluders ("Sybil attacker"): its test reads the
/// points without observers.
fn retro_row(data: &[Measured]) -> Row {
    let nodes: Vec<&Measured> = data.iter().filter(|m| !m.observers).collect();
    let Some(worst) = nodes.iter().min_by(|a, b| a.clean_p.total_cmp(&b.clean_p)) else {
        return Row::not_measured(Kind::Test, RETRO, "no point without observers");
    };
    let k: u64 = nodes.iter().map(|m| m.clean.k).sum();
    let n: u64 = nodes.iter().map(|m| m.clean.n).sum();
    Row::test(
        RETRO,
        Value::List(vec![(
            "chance (1 / clients)".into(),
            Value::Percent(1.0 / f64::from(worst.clients.max(1))),
        )]),
        Value::List(vec![
            ("all points".into(), Value::Proportion(wilson(k, n, LEVEL))),
            (
                format!("lowest p ({})", worst.label),
                Value::num(worst.clean_p, 3, ""),
            ),
        ]),
        "Per point without observers (the claim's Sybil attacker: relays, exits and a \
         colluding mint), a one-sided exact binomial test of the clean-route sessions \
         attributed to their own client against 1 / clients (a guess among the clients); \
         consistent when no point rejects at 5%. A clean route has no adversarial entry, \
         last relay or exit. It fails when a channel reaches sessions off the adversary's \
         routes, as the observers' row below shows.",
        nodes.iter().all(|m| m.clean_p >= ALPHA),
    )
}

fn observed_row(data: &[Measured]) -> Row {
    let watched: Vec<&Measured> = data.iter().filter(|m| m.observers).collect();
    if watched.is_empty() {
        return Row::not_measured(Kind::Finding, OBSERVED, "no point with observers");
    }
    Row::finding(
        OBSERVED,
        Value::List(
            watched
                .iter()
                .map(|m| {
                    (
                        m.label.clone(),
                        Value::List(vec![
                            ("clean routes attributed".into(), Value::Proportion(m.clean)),
                            ("p against chance".into(), Value::num(m.clean_p, 3, "")),
                        ]),
                    )
                })
                .collect(),
        ),
        "The same nodes with passive observers on part of the ASes: the observers' \
         correlation attacker names a client for service-side flows whatever their route, so \
         sessions the adversary's nodes never carried join the profiles. The whitepaper's \
         claim holds for the Sybil attacker it names, not for one that also watches links.",
    )
}

fn history_row(data: &[Measured]) -> Row {
    Row::finding(
        HISTORY,
        Value::List(
            data.iter()
                .map(|m| {
                    (
                        m.label.clone(),
                        Value::List(vec![
                            ("mean per client".into(), Value::interval(m.history, 3, "")),
                            ("m·g".into(), Value::num(m.mg, 3, "")),
                        ]),
                    )
                })
                .collect(),
        ),
        "The mean over clients of the share of their measured sessions whose profile names \
         them, over the whole run (95% bootstrap over clients), beside m·g, the entry-exit \
         channel's first-order share. The figure shows it growing with the hours of history.",
    )
}

fn purity_row(data: &[Measured]) -> Row {
    Row::finding(
        PURITY,
        Value::List(
            data.iter()
                .map(|m| {
                    (
                        m.label.clone(),
                        Value::List(vec![
                            ("purity".into(), Value::Proportion(m.purity)),
                            (
                                "clients in the widest profile".into(),
                                Value::count(m.widest as u64),
                            ),
                        ]),
                    )
                })
                .collect(),
        ),
        "Joining on every claim trades purity for coverage: a wrong claim merges two \
         clients' identifiers, and union-find never splits them again.",
    )
}

fn table(data: &[Measured]) -> Table {
    let mut t = Table::new(
        "Per point: clean-route sessions attributed to their own client (95% Wilson) with \
         the one-sided binomial p against chance, the mean share of a client's history \
         attributed to it (95% bootstrap) beside m·g, the purity of the profiles, and the \
         most clients whose sessions one profile holds.",
        &[
            "point",
            "clean routes attributed",
            "p (vs 1/clients)",
            "history attributed",
            "m·g",
            "purity",
            "widest profile (clients)",
        ],
    );
    for m in data {
        t.rows.push(vec![
            Value::text(m.label.clone()),
            Value::Proportion(m.clean),
            Value::num(m.clean_p, 3, ""),
            Value::interval(m.history, 3, ""),
            Value::num(m.mg, 3, ""),
            Value::Proportion(m.purity),
            Value::count(m.widest as u64),
        ]);
    }
    t
}

fn notes() -> Vec<String> {
    vec![
        "Channels: each entry-exit timing match names the client's address (guards are \
         entries too, and a pinned session's turns are one exit flow); each mint-exit \
         attribution of a session's first payment names a Lightning payer when it leaves at \
         most the point's number of candidate payers. Flows and identifiers are joined by \
         union-find; a profile names the identifier most flows claimed. A session is \
         attributed to its client when its profile names that client's address or payer. \
         At the point with observers, the observers' correlation attacker names a \
         client address for each service-side flow whose best client-side flow scores \
         above its threshold, a third channel; an observed flow and the exit flow of the \
         same session stay separate units."
            .into(),
        "Ground truth is used only to score: which session an exit flow carried, and whose \
         address and payer an identifier is."
            .into(),
    ]
}

/// One figure per evidence rule, so that no palette colour repeats.
fn figures(data: &[Measured]) -> Vec<Figure> {
    let curve = |m: &&Measured| Series {
        label: m.label.clone(),
        style: Style::Line,
        points: m.growth.iter().map(|(x, y)| Point::at(*x, *y)).collect(),
    };
    let figure = |name: &str, rule: &str, series: Vec<Series>| Figure {
        name: name.into(),
        title: format!("Share of each client's history attributed to it ({rule})"),
        caption: format!(
            "Mean over clients of the share of their sessions started so far whose profile \
             names them, against the hours of measured history, per point; {rule}."
        ),
        x_label: "hours of history".into(),
        y_label: "mean share attributed".into(),
        series,
    };
    let (strict, loose): (Vec<&Measured>, Vec<&Measured>) = data.iter().partition(|m| m.strict);
    let mut out = Vec::new();
    if !strict.is_empty() {
        let series = strict.iter().map(curve).collect();
        out.push(figure(
            "profiles_history",
            "unambiguous mint claims",
            series,
        ));
    }
    if !loose.is_empty() {
        let series = loose.iter().map(curve).collect();
        out.push(figure("profiles_history_loose", "every mint guess", series));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binomial_tail_rejects_only_what_beats_chance() {
        assert_eq!(tail(0, 100, 0.1), 1.0);
        // 10 of 100 at p = 0.1 is unremarkable; 25 of 100 is not.
        assert!(tail(10, 100, 0.1) > 0.4);
        assert!(tail(25, 100, 0.1) < 1e-4);
    }

    #[test]
    fn history_shares_count_each_client_once_per_replicate() {
        let r = |client, correct, started_ns| ProfileRecord {
            client,
            correct,
            started_ns,
            ..ProfileRecord::default()
        };
        let (a, b, c) = (r(1, true, 10), r(1, false, 20), r(2, false, 10));
        let rs = vec![(0, &a), (0, &b), (0, &c)];
        let mut all = history_shares(&rs, u64::MAX);
        all.sort_by(f64::total_cmp);
        assert_eq!(all, vec![0.0, 0.5]);
        // Before client 1's second session, its history is all attributed.
        let mut early = history_shares(&rs, 15);
        early.sort_by(f64::total_cmp);
        assert_eq!(early, vec![0.0, 1.0]);
    }
}
