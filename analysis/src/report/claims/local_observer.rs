//! Tier 2, a single local observer (whitepaper "Threat Model Tiers": "Single
//! Local Observer", outcome "Partial metadata only", "Residual risk:
//! traffic volume and timing fingerprints"). One vantage at a time, the
//! ISP of one client or the upstream of one Ghost, runs the observers'
//! correlation attacker over what crosses it. Measured per vantage: the
//! share of its sessions it sees end to end (against the first-order
//! expectation from the public relay counts), the share it links by
//! timing, and how closely the cells it counts on the leg it does see
//! track the session's tokens (the volume fingerprint).

use super::super::common::{param, point_label, source};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, bootstrap, spearman, wilson};
use crate::figure::{Figure, Point, Series, Style};
use peer2prompt_sim::vantage::VantageRecord;
use serde_json::Value as Json;

const ID: &str = "local-observer";
const TITLE: &str = "Tier 2: a single local observer";
const SCENARIO: &str = "local_observer";
const FIND_SEEN: &str = "Share of a vantage's sessions it sees end to end";
const FIND_LINKED: &str = "Share of a vantage's sessions it links by timing";
const FIND_VOLUME: &str = "How closely the cells one vantage counts track the session's tokens";
const SANITY: &str = "No session is linked unless its service leg crossed the vantage";
const VANTAGE: &str = "adversary.observers.vantage";
const LEVEL: f64 = 0.95;

fn citations() -> Vec<Citation> {
    let threat = |quote| Citation {
        source: Source::Whitepaper,
        section: "Threat Model Tiers",
        paragraph: Some("Tier 2: Single Local Observer"),
        quote,
    };
    vec![
        threat("One compromised relay, local ISP observer, or one malicious Ghost."),
        threat("Residual risk: traffic volume and timing fingerprints."),
    ]
}

/// One vantage and defence's measurements.
struct Vantage {
    label: String,
    /// Sessions with the client or the exit in a watched AS.
    sessions: u64,
    seen: Proportion,
    /// First-order expectation of `seen` (see [`expected_seen`]).
    expected: f64,
    linked: Proportion,
    linked_if_seen: Proportion,
    /// Linked although the session's own client leg never crossed the
    /// vantage: the match fell on a neighbouring session of the same
    /// client (a client's sessions follow one another).
    linked_unseen_leg: Proportion,
    /// Spearman's ρ of the cells toward the client on the vantage's own
    /// leg against the output tokens, complete sessions (95% bootstrap).
    output: Mean,
    /// The same for cells toward the service against prompt tokens.
    prompt: Mean,
    /// Linked sessions whose service leg was out of view.
    off: Proportion,
    /// (output tokens, cells toward the client) per complete session.
    scatter: Vec<(f64, f64)>,
}

/// The leg at the vantage's own endpoint: the client leg at a client's
/// ISP, the service leg at a Ghost's upstream.
fn own_leg(r: &VantageRecord) -> Option<[u32; 2]> {
    if r.client_watched && r.client_leg_seen {
        Some(r.client_leg_cells)
    } else if r.exit_watched && r.service_leg_seen {
        Some(r.service_leg_cells)
    } else {
        None
    }
}

/// P(both legs cross the vantage) to first order. A watched endpoint's
/// leg always crosses it. Routes never put two hops in one AS (the route
/// policy's AS diversity), so at a Ghost's upstream the entry is never in
/// the exit's AS: the client leg crosses only if the client sits there
/// too. At a client's ISP the service leg crosses when the last relay,
/// drawn from R relays, is one of the r_v in the watched AS.
fn expected_seen(r: &VantageRecord) -> f64 {
    match (r.client_watched, r.exit_watched) {
        (true, true) => 1.0,
        (true, false) => f64::from(r.watched_relays) / f64::from(r.relays.max(1)),
        _ => 0.0,
    }
}

/// Spearman's ρ over `pairs` with a 95% percentile bootstrap (resampling
/// pairs), seeded.
fn rho(pairs: &[(f64, f64)], seed: u64) -> Mean {
    let idx: Vec<f64> = (0..pairs.len()).map(|i| i as f64).collect();
    let stat = |v: &[f64]| {
        let sample: Vec<(f64, f64)> = v.iter().map(|&i| pairs[i as usize]).collect();
        spearman(&sample)
    };
    bootstrap(&idx, stat, 1000, LEVEL, seed)
}

fn measure(label: String, rows: &[&VantageRecord]) -> Vantage {
    let share = |xs: &[&VantageRecord], f: &dyn Fn(&VantageRecord) -> bool| {
        wilson(
            xs.iter().filter(|r| f(r)).count() as u64,
            xs.len() as u64,
            LEVEL,
        )
    };
    let both = |r: &VantageRecord| r.client_leg_seen && r.service_leg_seen;
    let seen_rows: Vec<&VantageRecord> = rows.iter().copied().filter(|r| both(r)).collect();
    let legs: Vec<(&VantageRecord, [u32; 2])> = rows
        .iter()
        .filter(|r| r.complete)
        .filter_map(|r| own_leg(r).map(|c| (*r, c)))
        .collect();
    let pairs = |f: fn(&VantageRecord, [u32; 2]) -> (f64, f64)| {
        legs.iter().map(|&(r, c)| f(r, c)).collect::<Vec<_>>()
    };
    let scatter = pairs(|r, c| (r.output_tokens as f64, f64::from(c[1])));
    Vantage {
        label,
        sessions: rows.len() as u64,
        seen: share(rows, &both),
        expected: rows.iter().map(|r| expected_seen(r)).sum::<f64>() / rows.len().max(1) as f64,
        linked: share(rows, &|r| r.observer_linked),
        linked_if_seen: share(&seen_rows, &|r| r.observer_linked),
        linked_unseen_leg: share(rows, &|r| r.observer_linked && !r.client_leg_seen),
        output: rho(&scatter, 1701),
        prompt: rho(
            &pairs(|r, c| (r.prompt_tokens as f64, f64::from(c[0]))),
            1702,
        ),
        off: share(rows, &|r| r.observer_linked && !r.service_leg_seen),
        scatter,
    }
}

fn vantage_label(v: Option<&Json>) -> &'static str {
    let n = |k: &str| v.and_then(|v| v.get(k)).and_then(Json::as_u64).unwrap_or(0);
    match (n("clients"), n("services")) {
        (c, 0) if c > 0 => "one client's ISP",
        (0, s) if s > 0 => "one Ghost's upstream",
        _ => "the configured vantage",
    }
}

fn vantages(d: &ScenarioData) -> Vec<Vantage> {
    d.points
        .iter()
        .map(|p| {
            let rows: Vec<&VantageRecord> = d
                .vantage
                .iter()
                .filter(|((pt, _), r)| *pt == p.point && (r.client_watched || r.exit_watched))
                .map(|(_, r)| r)
                .collect();
            let label = format!("{}, {}", vantage_label(param(p, VANTAGE)), point_label(p));
            measure(label, &rows)
        })
        .collect()
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Finding, FIND_SEEN),
        (Kind::Finding, FIND_LINKED),
        (Kind::Finding, FIND_VOLUME),
        (Kind::Sanity, SANITY),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return super::super::common::missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let vs = vantages(d);
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: rows(&vs),
        notes: vec![
            "A vantage is the AS of the first client (its ISP) or of the first Ghost (its \
             upstream): it sees every packet entering or leaving a host there, and of each \
             only time, size and addresses. Its sessions are those whose client or exit sits \
             in that AS. Which flows carried a session comes from ground truth, for scoring \
             only; the cells counted are what the vantage itself saw on them while the \
             session was open."
                .into(),
            "The defence point adds bounded random per-hop delays and client cover traffic. \
             Cover pads only the client's upstream: the answer streamed back is not padded, \
             so the cells toward the client still count the output (relay-originated \
             downstream padding is issue 18, item 9)."
                .into(),
        ],
        tables: vec![table(&vs)],
        figures: vec![figure(&vs)],
        source: source(d),
    }
}

fn per_point(vs: &[Vantage], f: &dyn Fn(&Vantage) -> String) -> String {
    vs.iter()
        .map(|v| format!("{}: {}", v.label, f(v)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn pct(p: Proportion) -> String {
    format!(
        "{:.1}% [{:.1}, {:.1}]",
        100.0 * p.estimate,
        100.0 * p.lo,
        100.0 * p.hi
    )
}

fn rows(vs: &[Vantage]) -> Vec<Row> {
    let (k, n) = vs
        .iter()
        .fold((0, 0), |(k, n), v| (k + v.off.k, n + v.off.n));
    let off = wilson(k, n, LEVEL);
    vec![
        Row::finding(
            FIND_SEEN,
            Value::text(per_point(vs, &|v| {
                format!("{} (first order {:.1}%)", pct(v.seen), 100.0 * v.expected)
            })),
            "Sessions whose client leg and service leg both crossed the vantage, of its \
             sessions (95% Wilson), beside the first-order expectation: the leg at the \
             watched endpoint always crosses it; at a client's ISP the service leg crosses \
             when the last relay is one of the advertised relays in the watched AS; at a \
             Ghost's upstream the client leg crosses only when the client is there too, \
             since routes never put the entry in the exit's AS.",
        ),
        Row::finding(
            FIND_LINKED,
            Value::text(per_point(vs, &|v| {
                format!(
                    "{} ({} with the client leg unseen)",
                    pct(v.linked),
                    pct(v.linked_unseen_leg)
                )
            })),
            "Sessions the correlation attacker linked to their client at its threshold, of \
             the vantage's sessions (95% Wilson). A link needs a client-side flow of the \
             client, but not always the session's own: a client's next session starts as \
             its last ends, so the tail of a flow the vantage saw can match the next \
             session's service leg (shown in brackets).",
        ),
        Row::finding(
            FIND_VOLUME,
            Value::text(per_point(vs, &|v| {
                format!(
                    "ρ(output) {:.2} [{:.2}, {:.2}], ρ(prompt) {:.2}",
                    v.output.estimate, v.output.lo, v.output.hi, v.prompt.estimate
                )
            })),
            "Spearman's rank correlation, over the vantage's complete sessions, of the cells \
             it counted toward the client on its own leg against the session's output tokens, \
             and toward the service against its prompt tokens (95% bootstrap over sessions): \
             near 1, the volume alone tells the vantage how long each answer and prompt was.",
        ),
        Row::sanity(
            SANITY,
            Value::text("0 linked sessions with the service leg out of view"),
            Value::Proportion(off),
            "Linked sessions whose service leg never crossed the vantage, of all the \
             vantages' sessions: the attacker links service-side flows it saw, so any is a \
             scoring error.",
            off.k == 0,
        ),
    ]
}

fn table(vs: &[Vantage]) -> Table {
    let mut t = Table::new(
        "Per vantage and defence: the sessions with an endpoint in the watched AS, the share \
         seen end to end against the first-order expectation, the share linked by timing \
         (of all, of those seen end to end, and of all with the session's own client leg \
         unseen), and Spearman's ρ of the counted cells \
         against output and prompt tokens (95% intervals).",
        &[
            "vantage",
            "sessions",
            "seen end to end",
            "first order",
            "linked",
            "linked if seen",
            "linked, own leg unseen",
            "ρ cells / output",
            "ρ cells / prompt",
        ],
    );
    for v in vs {
        t.rows.push(vec![
            Value::text(v.label.clone()),
            Value::count(v.sessions),
            Value::Proportion(v.seen),
            Value::num(100.0 * v.expected, 1, "%"),
            Value::Proportion(v.linked),
            Value::Proportion(v.linked_if_seen),
            Value::Proportion(v.linked_unseen_leg),
            Value::interval(v.output, 2, ""),
            Value::interval(v.prompt, 2, ""),
        ]);
    }
    t
}

fn figure(vs: &[Vantage]) -> Figure {
    Figure {
        name: "local_observer".into(),
        title: "What one local vantage counts of each answer".into(),
        caption: "Per complete session with an endpoint in the watched AS: the onion cells \
                  the vantage counted toward the client on its own leg (the client's link \
                  at its ISP, the Ghost's link at its upstream) against the session's \
                  output tokens, one series per vantage and defence."
            .into(),
        x_label: "output tokens in the session".into(),
        y_label: "cells toward the client at the vantage".into(),
        series: vs
            .iter()
            .map(|v| Series {
                label: v.label.clone(),
                style: Style::Points,
                points: v.scatter.iter().map(|&(x, y)| Point::at(x, y)).collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    fn session(output: u64, down: u32, linked: bool) -> VantageRecord {
        VantageRecord {
            client_watched: true,
            client_leg_seen: true,
            service_leg_seen: linked,
            client_leg_cells: [10, down],
            complete: true,
            prompt_tokens: 1000,
            output_tokens: output,
            observer_linked: linked,
            watched_relays: 3,
            relays: 60,
            ..VantageRecord::default()
        }
    }

    #[test]
    fn the_volume_fingerprint_is_the_rank_correlation_of_cells_and_tokens() {
        let rows: Vec<VantageRecord> = (1..=20)
            .map(|i| session(100 * i, 7 * i as u32 + 3, false))
            .collect();
        let v = measure("x".into(), &rows.iter().collect::<Vec<_>>());
        assert!((v.output.estimate - 1.0).abs() < 1e-12);
        // Cells unrelated to output: a reversed order gives -1.
        let rows: Vec<VantageRecord> = (1..=20)
            .map(|i| session(100 * i, 500 - 7 * i as u32, false))
            .collect();
        let v = measure("x".into(), &rows.iter().collect::<Vec<_>>());
        assert!((v.output.estimate + 1.0).abs() < 1e-12);
        assert!((v.expected - 0.05).abs() < 1e-12, "{}", v.expected);
        // At a Ghost's upstream the entry is never in the exit's AS.
        let mut upstream = session(100, 30, false);
        (upstream.client_watched, upstream.exit_watched) = (false, true);
        assert_eq!(expected_seen(&upstream), 0.0);
        upstream.client_watched = true;
        assert_eq!(expected_seen(&upstream), 1.0);
        assert_eq!(v.seen.k, 0);
    }

    #[test]
    fn the_sanity_check_catches_a_link_with_a_leg_out_of_view() {
        let ok = session(100, 30, true);
        let v = measure("x".into(), &[&ok]);
        assert!(rows(&[v])[3].outcome == Outcome::Holds);
        let mut bad = session(100, 30, true);
        bad.client_leg_seen = false;
        let v = measure("x".into(), &[&ok, &bad]);
        assert!(rows(&[v])[3].outcome == Outcome::Holds);
        bad.service_leg_seen = false;
        let v = measure("x".into(), &[&ok, &bad]);
        assert!(rows(&[v])[3].outcome == Outcome::Broken);
    }
}
