//! The cost of blanket monitoring (whitepaper "Attack Economics": the cost
//! of blanket monitoring "scales with the number of targets and sessions").
//! Read from the Sybil scenario: per point, the adversary's capital under
//! the documented cost model against the share of all sessions it linked,
//! the share of one target's sessions (the mean over clients) and the share
//! of targets with at least one session linked. A finding: no closed form
//! is claimed for the per-target spread.

use super::super::common::{
    HOURS_PER_MONTH, by_point, cost_model_note, loaded, mean_ci, missing, of_point, source,
    sybil_capital_usd_per_month, sybil_nodes,
};
use super::super::data::{ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;
use std::collections::BTreeMap;

const ID: &str = "blanket-monitoring";
const SCENARIO: &str = "sybil";
const TITLE: &str = "The cost of blanket monitoring";
const ALL: &str = "capital against the share of all sessions linked";
const TARGET: &str = "capital against the share of one target's sessions linked";
const PER_SESSION: &str = "capital per linked session";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Attack Economics",
            paragraph: None,
            quote: "it is to ensure that the cost of blanket monitoring scales with the number \
                    of targets and sessions, rather than collapsing to a single point of \
                    compromise.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Attack Economics",
            paragraph: Some("Sybil capital requirements"),
            quote: "The marginal cost per Sybil node sets a floor on the capital required for \
                    a given correlation rate.",
        },
    ]
}

/// One Sybil point: its capital and what it linked.
struct Blanket {
    usd_per_month: f64,
    /// Share of all sessions linked.
    all: Proportion,
    /// Mean over targets (client and replicate) of the share of its sessions linked.
    target: Mean,
    /// Targets with at least one session linked.
    any: Proportion,
    /// Sessions the network runs per month at the configured rate.
    sessions_per_month: f64,
    /// Lowest and highest per-target share.
    spread: (f64, f64),
}

impl Blanket {
    /// USD per linked session, at the measured share (∞ if none was linked).
    fn usd_per_linked_session(&self) -> f64 {
        self.usd_per_month / (self.all.estimate * self.sessions_per_month)
    }
}

/// Per target (replicate, client): the share of its sessions linked.
fn target_shares(ss: &[&Session]) -> Vec<f64> {
    let mut by: BTreeMap<(u32, u32), (u32, u32)> = BTreeMap::new();
    for s in ss {
        let e = by.entry((s.replicate, s.client)).or_default();
        e.0 += u32::from(s.linked);
        e.1 += 1;
    }
    by.values()
        .map(|&(k, n)| f64::from(k) / f64::from(n))
        .collect()
}

fn blanket_points(d: &ScenarioData) -> Vec<Blanket> {
    let Some(scenario) = loaded(d) else {
        return Vec::new();
    };
    let points = by_point(d);
    let mut out = Vec::new();
    for p in &d.points {
        let Some(sc) = scenario.points.iter().find(|x| x.index == p.point) else {
            continue;
        };
        let sc = &sc.scenario;
        let nodes = f64::from(sybil_nodes(sc));
        let ss = of_point(&points, p.point);
        let shares = target_shares(ss);
        if shares.is_empty() {
            continue;
        }
        let linked = ss.iter().filter(|s| s.linked).count() as u64;
        let any = shares.iter().filter(|&&x| x > 0.0).count() as u64;
        out.push(Blanket {
            usd_per_month: sybil_capital_usd_per_month(nodes, p.adversary_pow_hashes),
            all: wilson(linked, ss.len() as u64, LEVEL),
            target: mean_ci(&shares, 0xb1a2_0000 + u64::from(p.point)),
            any: wilson(any, shares.len() as u64, LEVEL),
            sessions_per_month: f64::from(sc.population.clients)
                * sc.workload.sessions_per_client_per_hour
                * HOURS_PER_MONTH,
            spread: shares
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                }),
        });
    }
    out
}

/// The section.
pub fn section(run: &super::super::Run) -> Section {
    let planned = [
        (Kind::Finding, ALL),
        (Kind::Finding, TARGET),
        (Kind::Finding, PER_SESSION),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let pts = blanket_points(d);
    let rows = if pts.is_empty() {
        planned
            .iter()
            .map(|(k, n)| Row::not_measured(*k, n, "no Sybil points"))
            .collect()
    } else {
        rows(&pts)
    };
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![format!(
            "Read from the Sybil scenario (section sybil): each point adds A relays and A/5 \
             Ghosts, all passive. A target is one client in one replicate; its share is the \
             share of its sessions the matcher linked, and the interval on the mean over \
             targets is a 95% percentile bootstrap. {} Sessions per month are the scenario's \
             clients times their session rate times {HOURS_PER_MONTH} hours. The baselines \
             (a centralized operator, the direct API) join this figure in the head-to-head \
             comparison.",
            cost_model_note()
        )],
        tables: vec![table(&pts)],
        figures: vec![figure(&pts)],
        source: source(d),
    }
}

fn listed(pts: &[Blanket], v: impl Fn(&Blanket) -> Value) -> Value {
    Value::List(
        pts.iter()
            .map(|b| (format!("${:.0}/month", b.usd_per_month), v(b)))
            .collect(),
    )
}

fn rows(pts: &[Blanket]) -> Vec<Row> {
    vec![
        Row::finding(
            ALL,
            listed(pts, |b| Value::Proportion(b.all)),
            "The share of everyone's sessions the capital buys (section sybil tests it against \
             (A/(A+N))²), while capital grows linearly with the nodes run.",
        ),
        Row::finding(
            TARGET,
            listed(pts, |b| Value::Interval {
                mean: b.target,
                digits: 3,
                unit: String::new(),
            }),
            "A passive Sybil cannot aim: one target's sessions are linked at the same rate as \
             everyone's, so watching one user costs what watching all of them at that rate \
             costs. The cost scales with the share of sessions sought, not with the number of \
             targets.",
        ),
        Row::finding(
            PER_SESSION,
            listed(pts, |b| Value::num(b.usd_per_linked_session(), 4, " USD")),
            "Capital divided by the sessions linked per month at the scenario's load. It \
             falls as the adversary grows, since the linked share grows faster than the nodes \
             run, and it falls with the network's load: capital is paid per month, not per \
             session.",
        ),
    ]
}

fn table(pts: &[Blanket]) -> Table {
    let mut t = Table::new(
        "Per Sybil point: capital (USD/month, documented model), share of all sessions \
         linked (95% Wilson), mean share of one target's sessions (95% bootstrap) with the \
         lowest and highest target, targets with ≥ 1 linked session (95% Wilson), and USD per \
         linked session.",
        &[
            "capital USD/month",
            "all sessions linked",
            "one target's sessions linked",
            "lowest / highest target",
            "targets with ≥ 1 linked",
            "USD per linked session",
        ],
    );
    for b in pts {
        t.rows.push(vec![
            Value::num(b.usd_per_month, 2, ""),
            Value::Proportion(b.all),
            Value::Interval {
                mean: b.target,
                digits: 3,
                unit: String::new(),
            },
            Value::text(format!("{:.3} / {:.3}", b.spread.0, b.spread.1)),
            Value::Proportion(b.any),
            Value::num(b.usd_per_linked_session(), 4, ""),
        ]);
    }
    t
}

fn figure(pts: &[Blanket]) -> Figure {
    let all = pts
        .iter()
        .map(|b| Point::with_ci(b.usd_per_month, b.all.estimate, b.all.lo, b.all.hi))
        .collect();
    let target = pts
        .iter()
        .map(|b| Point::with_ci(b.usd_per_month, b.target.estimate, b.target.lo, b.target.hi))
        .collect();
    let any = pts
        .iter()
        .map(|b| Point::with_ci(b.usd_per_month, b.any.estimate, b.any.lo, b.any.hi))
        .collect();
    Figure {
        name: "blanket_monitoring".into(),
        title: "Adversary capital against what it links".into(),
        caption: "Sybil capital (USD per month, documented cost model) against the share of all \
                  sessions linked, the mean share of one target's sessions linked, and the \
                  share of targets with at least one session linked; bars are 95% intervals \
                  (Wilson; bootstrap for the per-target mean). The first two coincide: a \
                  passive Sybil cannot aim."
            .into(),
        x_label: "adversary capital (USD per month)".into(),
        y_label: "share linked".into(),
        series: vec![
            Series {
                label: "all sessions".into(),
                style: Style::Points,
                points: all,
            },
            Series {
                label: "one target's sessions (mean over targets)".into(),
                style: Style::Points,
                points: target,
            },
            Series {
                label: "targets with ≥ 1 session linked".into(),
                style: Style::Points,
                points: any,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(replicate: u32, client: u32, linked: bool) -> Session {
        Session {
            replicate,
            client,
            linked,
            ..Session::default()
        }
    }

    #[test]
    fn target_shares_are_per_client_and_replicate() {
        let ss = [
            session(0, 0, true),
            session(0, 0, false),
            session(1, 0, false),
            session(0, 1, true),
        ];
        let refs: Vec<&Session> = ss.iter().collect();
        assert_eq!(target_shares(&refs), vec![0.5, 1.0, 0.0]);
    }

    #[test]
    fn cost_per_linked_session_divides_capital_by_linked_per_month() {
        let b = Blanket {
            usd_per_month: 100.0,
            all: wilson(10, 100, LEVEL),
            target: mean_ci(&[0.1], 1),
            any: wilson(1, 1, LEVEL),
            sessions_per_month: 1000.0,
            spread: (0.1, 0.1),
        };
        assert!((b.usd_per_linked_session() - 1.0).abs() < 1e-12);
    }
}
