//! Sybil capital (whitepaper "Attack Economics", "Sybil capital
//! requirements"): A Sybil relays and Ghosts among N honest ones, each with
//! a real identity proof of work. The test is what the adversary linked
//! against (A/(A+N))² from the configured counts; its nodes' share of the
//! sessions' ends against the same is the sampler's sanity check. The
//! Sybils here are passive: the DHT eclipse attack is a later scenario.

use super::super::common::{
    by_point, chi_square_sanity, chi_square_test, cost_model_note, count, loaded, missing,
    of_point, share_of, source, sybil_capital_usd_per_month, sybil_nodes,
};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "sybil";
const TITLE: &str = "Sybil capital: P(link) ≈ (A/(A+N))²";
const TEST: &str = "P(linked) ≈ (A_r/(A_r+N_r))·(A_g/(A_g+N_g)) from the configured counts";
const SANITY: &str = "P(ends compromised) ≈ the same product (the sampler)";
const FINDING: &str = "the adversary's capital against its linked share";

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Attack Economics",
        paragraph: Some("Sybil capital requirements"),
        quote: "Full-link correlation per session requires controlling both, yielding \
                approximately (A/(A+N))² per session.",
    }]
}

/// One point: configured Sybil and honest counts, measurements, capital.
struct SybilPoint {
    sybil_relays: u32,
    sybil_ghosts: u32,
    share_relays: f64,
    share_ghosts: f64,
    linked: Proportion,
    ends: Proportion,
    pow_hashes: f64,
    usd_per_month: f64,
}

/// Each point's Sybil shares, linkage and cost.
fn sybil_points(d: &ScenarioData) -> Vec<SybilPoint> {
    let scenario = loaded(d);
    let points = by_point(d);
    let mut rows_data = Vec::new();
    for p in &d.points {
        let Some(sc) = scenario
            .as_ref()
            .and_then(|l| l.points.iter().find(|x| x.index == p.point))
            .map(|x| &x.scenario)
        else {
            continue;
        };
        let (sr, sg) = sc
            .adversary
            .sybil
            .as_ref()
            .map_or((0, 0), |s| (s.relays, s.ghosts));
        let (nr, ng) = (sc.population.relays, sc.population.ghosts);
        let ss = of_point(&points, p.point);
        let (kl, n) = count(ss, |s| s.linked);
        let (ke, _) = count(ss, |s| s.ends);
        let nodes = f64::from(sybil_nodes(sc));
        rows_data.push(SybilPoint {
            sybil_relays: sr,
            sybil_ghosts: sg,
            share_relays: share_of(sr, nr),
            share_ghosts: share_of(sg, ng),
            linked: wilson(kl, n, LEVEL),
            ends: wilson(ke, n, LEVEL),
            pow_hashes: p.adversary_pow_hashes,
            usd_per_month: sybil_capital_usd_per_month(nodes, p.adversary_pow_hashes),
        });
    }
    rows_data
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &planned);
    };
    let rows_data = sybil_points(d);
    let analytic = |s: &SybilPoint| s.share_relays * s.share_ghosts;
    let expected = Value::text("(A/(A+N))² per point");
    let mut rows = vec![
        chi_square_test(
            TEST,
            expected.clone(),
            &rows_data
                .iter()
                .map(|s| (s.linked, analytic(s)))
                .collect::<Vec<_>>(),
        ),
        chi_square_sanity(
            SANITY,
            expected,
            &rows_data
                .iter()
                .map(|s| (s.ends, analytic(s)))
                .collect::<Vec<_>>(),
        ),
    ];
    rows.push(if rows_data.is_empty() {
        Row::not_measured(Kind::Finding, FINDING, "no points")
    } else {
        Row::finding(
            FINDING,
            Value::List(
                rows_data
                    .iter()
                    .map(|s| {
                        (
                            format!("${:.0}/month", s.usd_per_month),
                            Value::Proportion(s.linked),
                        )
                    })
                    .collect(),
            ),
            "Under the documented cost model the linked share grows with the square of the \
             Sybil share while capital grows linearly with the nodes run: the floor the \
             whitepaper describes. Uptime and bandwidth, not the identity proof of work, \
             dominate the capital at the difficulty simulated.",
        )
    });
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![format!(
            "A_r and A_g are the Sybil relays and Ghosts the scenario adds, N_r and N_g the \
             honest ones; the analytic value is computed from those configured counts. \
             {} The Sybils here behave like any other node; attacks on the DHT itself \
             (eclipse, poisoning) are a separate scenario.",
            cost_model_note()
        )],
        tables: vec![table(&rows_data)],
        figures: figures(&rows_data),
        source: source(d),
    }
}

fn table(points: &[SybilPoint]) -> Table {
    let mut t = Table::new(
        "Per point: Sybil nodes added, their configured shares, the analytic value, P(linked) \
         and P(ends compromised) (95% Wilson), identity cost and capital.",
        &[
            "Sybil relays",
            "Sybil Ghosts",
            "A/(A+N) relays",
            "A/(A+N) Ghosts",
            "analytic",
            "P(linked)",
            "P(ends)",
            "PoW hashes",
            "capital USD/month",
        ],
    );
    for s in points {
        t.rows.push(vec![
            Value::count(u64::from(s.sybil_relays)),
            Value::count(u64::from(s.sybil_ghosts)),
            Value::num(s.share_relays, 3, ""),
            Value::num(s.share_ghosts, 3, ""),
            Value::num(s.share_relays * s.share_ghosts, 4, ""),
            Value::Proportion(s.linked),
            Value::Proportion(s.ends),
            Value::num(s.pow_hashes, 0, ""),
            Value::num(s.usd_per_month, 2, ""),
        ]);
    }
    t
}

fn figures(points: &[SybilPoint]) -> Vec<Figure> {
    let max = points.iter().map(|s| s.share_relays).fold(0.0, f64::max);
    let meas: Vec<Point> = points
        .iter()
        .map(|s| {
            Point::with_ci(s.share_relays, s.linked.estimate, s.linked.lo, s.linked.hi)
                .noted(format!("  ${:.0}/mo", s.usd_per_month))
        })
        .collect();
    let cost: Vec<Point> = points
        .iter()
        .map(|s| Point::with_ci(s.usd_per_month, s.linked.estimate, s.linked.lo, s.linked.hi))
        .collect();
    let curve: Vec<Point> = (0..=40)
        .map(|i| {
            let x = max * f64::from(i) / 40.0;
            Point::at(x, x * x)
        })
        .collect();
    vec![
        Figure {
            name: "sybil_share".into(),
            title: "Sybil share against P(linked)".into(),
            caption: "Share of sessions the adversary's matcher linked against the Sybil \
                      share A/(A+N); bars are 95% Wilson intervals; the line is (A/(A+N))²; \
                      each point is labelled with the adversary's capital (USD per month, \
                      documented cost model)."
                .into(),
            x_label: "A/(A+N) (Sybil share of relays and of Ghosts)".into(),
            y_label: "P(linked) per session".into(),
            series: vec![
                Series {
                    label: "linked by the matcher".into(),
                    style: Style::Points,
                    points: meas,
                },
                Series {
                    label: "(A/(A+N))²".into(),
                    style: Style::Line,
                    points: curve,
                },
            ],
        },
        Figure {
            name: "sybil_capital".into(),
            title: "Sybil capital against P(linked)".into(),
            caption: "Share of sessions linked against the adversary's monthly capital under \
                      the documented cost model; bars are 95% Wilson intervals."
                .into(),
            x_label: "adversary capital (USD per month)".into(),
            y_label: "P(linked) per session".into(),
            series: vec![Series {
                label: "linked by the matcher".into(),
                style: Style::Points,
                points: cost,
            }],
        },
    ]
}
