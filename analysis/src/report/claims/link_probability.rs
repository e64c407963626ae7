//! Tier 3 (whitepaper "Threat Model Tiers", "Tier 3: Partial Collusion"),
//! tested on what the adversary achieved: the share of all sessions its
//! timing matcher linked correctly, against m·g, over a grid of (m, g) at a
//! light load and at a load where concurrent circuits confuse it. The share
//! with both ends adversarial against m·g is the route sampler's sanity
//! check, not a reproduction.

use super::super::common::{
    by_point, chi_square_sanity, chi_square_test, count, loaded, missing, of_point, source,
};
use super::super::data::{Run, ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::{LEVEL, PointSummary};

const ID: &str = "link-probability";
const TITLE: &str = "Tier 3: P(link) ≈ m·g, tested on what the adversary linked";
const GRID: &str = "link_probability";
const LOAD: &str = "link_probability_load";
const TEST_GRID: &str = "P(linked) ≈ m·g over the (m, g) grid, light load";
const TEST_LOAD: &str = "P(linked) ≈ m·g at a load that confuses the matcher";
const SANITY: &str = "P(ends compromised) ≈ m·g (the route sampler)";
const FINDING: &str = "the matcher's precision, recall and false links per session, by load";

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Threat Model Tiers",
        paragraph: Some("Tier 3: Partial Collusion"),
        quote: "If ingress-candidate malicious fraction is m and Ghost malicious fraction is g, \
                simple first-order link probability per session is approximately P(link) ≈ m·g, \
                assuming independent route sampling and no global timing oracle.",
    }]
}

/// One point's measurements, from its sessions.
#[derive(Clone, Debug)]
pub struct PointStats {
    /// The load it ran at, as a reader says it.
    pub load: String,
    /// Realised m and g.
    pub m: f64,
    /// Realised g.
    pub g: f64,
    /// Correct links over all sessions.
    pub linked: Proportion,
    /// Both ends adversarial over all sessions.
    pub ends: Proportion,
    /// Linked over ends compromised.
    pub recall: Proportion,
    /// Correct guesses over guesses.
    pub precision: Proportion,
    /// Wrong guesses over all sessions.
    pub false_links: Proportion,
}

/// Per-point statistics of the sessions `ss` at realised (m, g).
pub fn stats(ss: &[&Session], m: f64, g: f64, load: String) -> PointStats {
    let (linked, n) = count(ss, |s| s.linked);
    let (ends, _) = count(ss, |s| s.ends);
    let (guesses, _) = count(ss, |s| s.guessed);
    let (right, _) = count(ss, |s| s.guessed && s.guess_correct);
    PointStats {
        load,
        m,
        g,
        linked: wilson(linked, n, LEVEL),
        ends: wilson(ends, n, LEVEL),
        recall: wilson(linked.min(ends), ends, LEVEL),
        precision: wilson(right, guesses, LEVEL),
        false_links: wilson(guesses - right, n, LEVEL),
    }
}

/// The tier-3 test on a set of points: P(linked) against m·g.
pub fn tier3_test(name: &str, points: &[PointStats]) -> Row {
    let pairs: Vec<(Proportion, f64)> = points.iter().map(|p| (p.linked, p.m * p.g)).collect();
    chi_square_test(name, Value::text("m·g at each point"), &pairs)
}

fn load_of(d: &ScenarioData, p: &PointSummary) -> String {
    let Some(l) = loaded(d) else {
        return "-".into();
    };
    let Some(pt) = l.points.iter().find(|x| x.index == p.point) else {
        return "-".into();
    };
    let s = &pt.scenario;
    let per_s = f64::from(s.population.clients) * s.workload.sessions_per_client_per_hour / 3600.0;
    format!(
        "{} clients x {}/h = {per_s:.2} sessions/s",
        s.population.clients, s.workload.sessions_per_client_per_hour
    )
}

fn scenario_stats(d: &ScenarioData) -> Vec<PointStats> {
    let points = by_point(d);
    d.points
        .iter()
        .map(|p| stats(of_point(&points, p.point), p.m, p.g, load_of(d, p)))
        .collect()
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST_GRID),
        (Kind::Test, TEST_LOAD),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some(d) = run.scenario(GRID) else {
        return missing(ID, TITLE, citations(), GRID, &planned);
    };
    let grid = scenario_stats(d);
    let heavy = run.scenario(LOAD).map(scenario_stats).unwrap_or_default();
    let mut rows = vec![tier3_test(TEST_GRID, &grid)];
    rows.push(if heavy.is_empty() {
        Row::not_measured(
            Kind::Test,
            TEST_LOAD,
            "the scenario `link_probability_load` did not run",
        )
    } else {
        tier3_test(TEST_LOAD, &heavy)
    });
    let all: Vec<&PointStats> = grid.iter().chain(&heavy).collect();
    let ends: Vec<(Proportion, f64)> = all.iter().map(|p| (p.ends, p.m * p.g)).collect();
    rows.push(chi_square_sanity(
        SANITY,
        Value::text("m·g at each point"),
        &ends,
    ));
    rows.push(Row::finding(
        FINDING,
        Value::List(
            [grid.first(), heavy.first()]
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p.load.clone(),
                        Value::List(vec![
                            ("precision".into(), Value::Proportion(p.precision)),
                            ("recall".into(), Value::Proportion(p.recall)),
                            ("false links".into(), Value::Proportion(p.false_links)),
                        ]),
                    )
                })
                .collect(),
        ),
        "Recall stays near 1 where both ends are the adversary's, so P(linked) tracks m·g; \
         but under load the matcher also names a wrong client for sessions whose entry was \
         honest, so its precision falls below 1: the adversary does not know which of its \
         links are true.",
    ));
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "`linked` is what the adversary achieved: its matcher aligned the cell timings \
             its exits saw with those its entries saw (pooled observations only), named a \
             client, and the guess was right. P(linked) is correct links over all sessions; \
             recall is P(linked | both ends adversarial); precision is correct guesses over \
             all guesses; false links are wrong guesses over all sessions. Ground truth \
             (which session an exit flow carried) comes from the engine's own table and only \
             scores the guesses."
                .into(),
            "`ends_compromised` (entry and exit both adversarial) against m·g holds by the \
             route sampler's construction when selection is uniform: it is the sanity row. \
             A matcher that guessed at random among the same candidate flows falls far below \
             m·g and fails the test (sim/tests/link_probability.rs, \
             analysis/tests/tier3.rs)."
                .into(),
        ],
        tables: vec![table(&grid, &heavy)],
        figures: vec![figure(&grid, &heavy), matcher_figure(&grid, &heavy)],
        source: match run.scenario(LOAD) {
            Some(l) => format!("{}; {}", source(d), source(l)),
            None => source(d),
        },
    }
}

fn table(grid: &[PointStats], heavy: &[PointStats]) -> Table {
    let mut t = Table::new(
        "Per point: realised m and g, P(linked) (95% Wilson) and whether it covers m·g, \
         P(ends compromised), recall, precision and false links per session.",
        &[
            "load",
            "m",
            "g",
            "m·g",
            "P(linked)",
            "covers m·g",
            "P(ends)",
            "recall",
            "precision",
            "false links",
        ],
    );
    for p in grid.iter().chain(heavy) {
        let mg = p.m * p.g;
        t.rows.push(vec![
            Value::text(p.load.clone()),
            Value::num(p.m, 3, ""),
            Value::num(p.g, 3, ""),
            Value::num(mg, 4, ""),
            Value::Proportion(p.linked),
            Value::text(if p.linked.lo <= mg && mg <= p.linked.hi {
                "yes"
            } else {
                "no"
            }),
            Value::Proportion(p.ends),
            Value::Proportion(p.recall),
            Value::Proportion(p.precision),
            Value::Proportion(p.false_links),
        ]);
    }
    t
}

fn figure(grid: &[PointStats], heavy: &[PointStats]) -> Figure {
    let max = grid
        .iter()
        .chain(heavy)
        .map(|p| p.m * p.g)
        .fold(0.0, f64::max);
    // Overlapping series are dodged along x so each stays visible.
    let dodge = 0.012 * max;
    let pts = |v: &[PointStats], dx: f64, f: fn(&PointStats) -> Proportion| -> Vec<Point> {
        v.iter()
            .map(|p| {
                let e = f(p);
                Point::with_ci(p.m * p.g + dx, e.estimate, e.lo, e.hi)
            })
            .collect()
    };
    let mut series = vec![
        Series {
            label: "linked by the matcher, light load".into(),
            style: Style::Points,
            points: pts(grid, -dodge, |p| p.linked),
        },
        Series {
            label: "ends compromised (sanity)".into(),
            style: Style::Points,
            points: pts(grid, dodge, |p| p.ends),
        },
    ];
    if !heavy.is_empty() {
        series.push(Series {
            label: "linked by the matcher, heavy load".into(),
            style: Style::Points,
            points: pts(heavy, 0.0, |p| p.linked),
        });
    }
    series.push(Series {
        label: "y = m·g".into(),
        style: Style::Dashed,
        points: vec![Point::at(0.0, 0.0), Point::at(max, max)],
    });
    Figure {
        name: "link_probability".into(),
        title: "P(linked) against m·g".into(),
        caption: "Share of all sessions the adversary's matcher linked correctly, at a light \
                  and a heavy load, and share with both ends adversarial (the sampler's \
                  sanity check), against m·g; bars are 95% Wilson intervals; the dashed \
                  line is y = m·g. The light-load series are drawn slightly left and right \
                  of their m·g so that coinciding points stay visible."
            .into(),
        x_label: "m·g".into(),
        y_label: "share of sessions".into(),
        series,
    }
}

fn matcher_figure(grid: &[PointStats], heavy: &[PointStats]) -> Figure {
    let all: Vec<(&PointStats, &str)> = grid
        .iter()
        .map(|p| (p, "light"))
        .chain(heavy.iter().map(|p| (p, "heavy")))
        .collect();
    let series = |label: &str, dx: f64, f: fn(&PointStats) -> Proportion| Series {
        label: label.into(),
        style: Style::Points,
        points: all
            .iter()
            .enumerate()
            .map(|(i, (p, load))| {
                let e = f(p);
                let pt = Point::with_ci(i as f64 + dx, e.estimate, e.lo, e.hi);
                if dx == 0.0 {
                    pt.noted(format!(" {load} load, m·g {:.3}", p.m * p.g))
                } else {
                    pt
                }
            })
            .collect(),
    };
    Figure {
        name: "link_probability_matcher".into(),
        title: "The matcher's precision and recall per point".into(),
        caption: "Precision (correct guesses over guesses), recall (P(linked | both ends)) and \
                  false links per session, 95% Wilson, per point of the light-load grid and \
                  the heavy load; precision and recall are drawn slightly left and right of \
                  their point."
            .into(),
        x_label: "point".into(),
        y_label: "share".into(),
        series: vec![
            series("precision", -0.12, |p| p.precision),
            series("recall", 0.12, |p| p.recall),
            series("false links per session", 0.0, |p| p.false_links),
        ],
    }
}
