//! Entry guards against tier 3's n·m·g (whitepaper "Threat Model Tiers",
//! "Tier 3: Partial Collusion"; guards in "Route Construction"): a client
//! keeping G guards drawn from R relays of which A are the adversary's
//! holds at least one adversarial guard with 1 − C(R−A, G)/C(R, G) (the
//! guard sampler: a sanity check), and a client with j of them is linked at
//! j/G·g per session (a test on what the adversary's matcher linked). The
//! Tor anchors of shared/reference (1 − (1 − f)^G: 0.10 with one guard, 0.271
//! with three at f = 0.1) are the same formula with replacement. The run
//! keeps its guards; rotation is the `guard_rotation` section's.

use std::collections::{BTreeMap, BTreeSet};

use super::super::common::{
    chi_square_sanity, chi_square_test, loaded, missing, n_sessions_citation,
    p_any_adversarial_guard, param, source,
};
use super::super::data::{Run, ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Table, Value};
use crate::estimate::{Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::{LEVEL, PointSummary};

const ID: &str = "guards";
const TITLE: &str = "Entry guards: who holds an adversarial guard, and what it costs them";
const SCENARIO: &str = "sessions_n";
const SANITY: &str =
    "clients with ≥ 1 adversarial guard ≈ 1 − C(R−A, G)/C(R, G) (the guard sampler)";
const TEST: &str = "P(linked) per session of a client with j adversarial guards ≈ j/G·g";
/// Least sessions for a client's guard set to count as fully seen
/// (each guard missed with probability (1 − 1/G)^n).
const MIN_SESSIONS: usize = 30;

fn citations() -> Vec<Citation> {
    vec![n_sessions_citation()]
}

/// One guarded client: its adversarial guards, sessions and links.
struct Client {
    j: usize,
    sessions: u64,
    linked: u64,
}

/// Guarded clients whose guard set was fully seen, and how many had more
/// distinct entries than guards (a guard replaced; left out).
fn clients(ss: &[&Session], g_count: usize) -> (Vec<Client>, usize) {
    let mut by: BTreeMap<(u32, u32), Vec<&Session>> = BTreeMap::new();
    for s in ss {
        by.entry((s.replicate, s.client)).or_default().push(s);
    }
    let (mut out, mut replaced) = (Vec::new(), 0);
    for v in by.values() {
        let entries: BTreeSet<u32> = v.iter().map(|s| s.entry).collect();
        if entries.len() > g_count {
            replaced += 1;
            continue;
        }
        if v.len() < MIN_SESSIONS {
            continue;
        }
        let adv: BTreeSet<u32> = v
            .iter()
            .filter(|s| s.entry_adversarial)
            .map(|s| s.entry)
            .collect();
        out.push(Client {
            j: adv.len(),
            sessions: v.len() as u64,
            linked: v.iter().filter(|s| s.linked).count() as u64,
        });
    }
    (out, replaced)
}

/// The guarded point, its population and guard count.
fn guarded(d: &ScenarioData) -> Option<(&PointSummary, u32, u32, u32)> {
    let p = d.points.iter().find(|p| {
        param(p, "protocol.guards.enabled").and_then(serde_json::Value::as_bool) == Some(true)
    })?;
    let l = loaded(d)?;
    let s = &l.points.iter().find(|x| x.index == p.point)?.scenario;
    let r = s.population.relays;
    let a = (p.m * f64::from(r)).round() as u32;
    Some((p, r, a, s.protocol.guards.count))
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [(Kind::Sanity, SANITY), (Kind::Test, TEST)];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let Some((p, r, a, gc)) = guarded(d) else {
        let why = "no point of `sessions_n` ran with guards";
        return Section {
            rows: planned
                .iter()
                .map(|(k, n)| Row::not_measured(*k, n, why))
                .collect(),
            ..missing(ID, TITLE, citations(), SCENARIO, &planned)
        };
    };
    let ss: Vec<&Session> = d.sessions.iter().filter(|s| s.point == p.point).collect();
    let (cs, replaced) = clients(&ss, gc as usize);
    let any = cs.iter().filter(|c| c.j > 0).count() as u64;
    let expected_any = p_any_adversarial_guard(r, a, gc);
    let by_j = per_j(&cs, gc, p.g);
    let pairs: Vec<(Proportion, f64)> = by_j.iter().map(|(_, prop, e)| (*prop, *e)).collect();
    let rows = vec![
        chi_square_sanity(
            SANITY,
            Value::num(expected_any, 3, ""),
            &[(wilson(any, cs.len() as u64, LEVEL), expected_any)],
        ),
        chi_square_test(TEST, Value::text("j/G·g for each j"), &pairs),
    ];
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: notes(r, a, gc, cs.len(), replaced),
        tables: vec![table(&by_j)],
        figures: vec![figure(&by_j, p.m * p.g)],
        source: source(d),
    }
}

/// Per j: clients, P(linked) per session, and j/G·g.
fn per_j(cs: &[Client], gc: u32, g: f64) -> Vec<(usize, Proportion, f64)> {
    (0..=gc as usize)
        .filter_map(|j| {
            let group: Vec<&Client> = cs.iter().filter(|c| c.j == j).collect();
            if group.is_empty() {
                return None;
            }
            let (k, n) = group
                .iter()
                .fold((0, 0), |(k, n), c| (k + c.linked, n + c.sessions));
            Some((j, wilson(k, n, LEVEL), j as f64 / f64::from(gc) * g))
        })
        .collect()
}

fn notes(r: u32, a: u32, gc: u32, seen: usize, replaced: usize) -> Vec<String> {
    let f = 0.1_f64;
    vec![
        format!(
            "A client's guard set is the distinct entries of its sessions; {seen} guarded \
             clients with at least {MIN_SESSIONS} sessions count ({replaced} left out because \
             a guard was replaced during the run). R = {r} relays, A = {a} adversarial, \
             G = {gc} guards."
        ),
        format!(
            "Without replacement 1 − C(R−A, G)/C(R, G); with replacement (Tor's figures in \
             shared/reference) 1 − (1 − f)^G: at f = 0.1, {:.2} with one guard and {:.3} with \
             three. A client with j adversarial guards is compromised at j/G·g per session, \
             so its n sessions are not n·m·g: a client with no adversarial guard is never \
             linked through its entry, and one with j is linked at about n·j/G·g.",
            1.0 - (1.0 - f),
            1.0 - (1.0 - f).powi(3)
        ),
    ]
}

fn table(by_j: &[(usize, Proportion, f64)]) -> Table {
    let mut t = Table::new(
        "Per number j of adversarial guards: P(linked) per session (95% Wilson) and j/G·g.",
        &["j", "P(linked) per session", "j/G·g"],
    );
    for (j, p, e) in by_j {
        t.rows.push(vec![
            Value::count(*j as u64),
            Value::Proportion(*p),
            Value::num(*e, 3, ""),
        ]);
    }
    t
}

fn figure(by_j: &[(usize, Proportion, f64)], mg: f64) -> Figure {
    let top = by_j.iter().map(|(j, _, _)| *j as f64).fold(1.0, f64::max);
    Figure {
        name: "guards".into(),
        title: "Guarded clients: P(linked) per session by adversarial guards".into(),
        caption: "Per session P(linked) of guarded clients grouped by how many of their \
                  guards were adversarial (95% Wilson), against j/G·g; the dashed line is the \
                  unguarded m·g."
            .into(),
        x_label: "adversarial guards j".into(),
        y_label: "P(linked) per session".into(),
        series: vec![
            Series {
                label: "measured".into(),
                style: Style::Points,
                points: by_j
                    .iter()
                    .map(|(j, p, _)| Point::with_ci(*j as f64, p.estimate, p.lo, p.hi))
                    .collect(),
            },
            Series {
                label: "j/G·g".into(),
                style: Style::Points,
                points: by_j
                    .iter()
                    .map(|(j, _, e)| Point::at(*j as f64 + 0.05, *e))
                    .collect(),
            },
            Series {
                label: "m·g without guards".into(),
                style: Style::Dashed,
                points: vec![Point::at(0.0, mg), Point::at(top, mg)],
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_sampler_closed_form() {
        // 16 of 80 relays, three guards: 1 − (64·63·62)/(80·79·78).
        let p = p_any_adversarial_guard(80, 16, 3);
        assert!((p - (1.0 - 64.0 * 63.0 * 62.0 / (80.0 * 79.0 * 78.0))).abs() < 1e-12);
        assert_eq!(p_any_adversarial_guard(80, 0, 3), 0.0);
        // One guard: exactly A/R.
        assert!((p_any_adversarial_guard(80, 8, 1) - 0.1).abs() < 1e-12);
    }
}
