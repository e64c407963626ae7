//! n sessions with re-sampled routes (whitepaper "Threat Model Tiers",
//! "Tier 3: Partial Collusion": "naive full-link expectation is n·m·g"),
//! tested per n on the sessions the adversary linked, with a Bonferroni
//! correction over every n and statistic; the same on sessions with both
//! ends adversarial is the sampler's sanity check; entry guards are a
//! finding.

use std::collections::BTreeMap;

use super::super::common::{by_point, missing, of_point, param, source, two_sided_p};
use super::super::data::{Run, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{t_interval, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "sessions-n";
const TITLE: &str = "n sessions with re-sampled routes";
const SCENARIO: &str = "sessions_n";
const TEST: &str = "linked sessions among each client's first n: mean n·m·g, P(≥1) 1-(1-m·g)^n";
const SANITY: &str = "sessions with both ends adversarial among the first n (the sampler)";
const FINDING: &str = "with entry guards: share of clients with at least one linked session";

/// Family-wise level of the per-n tests (Bonferroni over all of them).
const FAMILY_ALPHA: f64 = 0.01;
/// The n at which clients are cut.
const N_GRID: [usize; 11] = [1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 1000];
/// Least clients for an n to be tested.
const MIN_CLIENTS: usize = 3;

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Threat Model Tiers",
        paragraph: Some("Tier 3: Partial Collusion"),
        quote: "For n independent sessions with re-sampled routes, naive full-link expectation \
                is n·m·g. Residual risk: colluding sets can accumulate partial evidence over \
                time.",
    }]
}

/// Per client, `flag` of its sessions in start order.
fn per_client(ss: &[&Session], flag: fn(&Session) -> bool) -> Vec<Vec<bool>> {
    let mut m: BTreeMap<(u32, u32), Vec<(u64, bool)>> = BTreeMap::new();
    for s in ss {
        m.entry((s.replicate, s.client))
            .or_default()
            .push((s.started_ns, flag(s)));
    }
    m.into_values()
        .map(|mut v| {
            v.sort_unstable();
            v.into_iter().map(|(_, e)| e).collect()
        })
        .collect()
}

/// One n's statistics over the clients with at least n sessions.
struct AtN {
    n: usize,
    clients: usize,
    mean: crate::estimate::Mean,
    any: crate::estimate::Proportion,
    /// Two-sided p-values of the mean and of P(≥1) under the analytic
    /// values (none where the analytic value leaves nothing to test).
    p_mean: Option<f64>,
    p_any: Option<f64>,
}

fn at_n(clients: &[Vec<bool>], n: usize, mg: f64) -> Option<AtN> {
    let with: Vec<&Vec<bool>> = clients.iter().filter(|c| c.len() >= n).collect();
    if with.len() < MIN_CLIENTS {
        return None;
    }
    let c = with.len() as f64;
    let counts: Vec<f64> = with
        .iter()
        .map(|s| s[..n].iter().filter(|&&e| e).count() as f64)
        .collect();
    let hit = counts.iter().filter(|&&k| k > 0.0).count() as u64;
    let mean = t_interval(&counts, LEVEL);
    let any = wilson(hit, with.len() as u64, LEVEL);
    // Under the claim each client's count is Binomial(n, m·g).
    let var = n as f64 * mg * (1.0 - mg);
    let p_mean =
        (var > 0.0).then(|| two_sided_p((mean.estimate - n as f64 * mg) / (var / c).sqrt()));
    let a = 1.0 - (1.0 - mg).powi(n as i32);
    let p_any = (a > 1e-3 && a < 1.0 - 1e-3)
        .then(|| two_sided_p((any.estimate - a) / (a * (1.0 - a) / c).sqrt()));
    Some(AtN {
        n,
        clients: with.len(),
        mean,
        any,
        p_mean,
        p_any,
    })
}

/// The family of per-n tests as one row: consistent when no p-value falls
/// below `FAMILY_ALPHA / k` (Bonferroni over the k tests made).
fn family_row(kind: Kind, name: &str, stats: &[AtN], mg: f64) -> Row {
    let ps: Vec<f64> = stats
        .iter()
        .flat_map(|s| [s.p_mean, s.p_any])
        .flatten()
        .collect();
    if ps.is_empty() {
        return Row::not_measured(kind, name, "no n with enough clients and a testable value");
    }
    let k = ps.len();
    let min = ps.iter().copied().fold(1.0, f64::min);
    let agrees = min >= FAMILY_ALPHA / k as f64;
    let measured = Value::List(vec![
        ("tests".into(), Value::count(k as u64)),
        ("smallest p".into(), Value::num(min, 4, "")),
        (
            "largest n".into(),
            Value::count(stats.last().map_or(0, |s| s.n) as u64),
        ),
    ]);
    let expected = Value::text(format!("m·g = {mg:.4}"));
    let method = format!(
        "for every n with at least {MIN_CLIENTS} clients: a z-test of the mean count among \
         the first n against n·m·g (binomial variance) and of the share with at least one \
         against 1-(1-m·g)^n (where that is inside (0.001, 0.999)); the family of {k} tests \
         is rejected when any p-value is below {FAMILY_ALPHA}/{k} (Bonferroni)"
    );
    if kind == Kind::Test {
        Row::test(name, expected, measured, &method, agrees)
    } else {
        Row::sanity(name, expected, measured, &method, agrees)
    }
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let points = by_point(d);
    let mut rows = Vec::new();
    let mut table = Table::new(
        "Linked sessions among each client's first n (95% t and Wilson intervals).",
        &[
            "guards",
            "n",
            "clients",
            "mean linked",
            "n·m·g",
            "P(≥1 linked)",
            "1-(1-m·g)^n",
        ],
    );
    let (mut any_series, mut mean_series) = (Vec::new(), Vec::new());
    let (mut mg_off, mut n_max) = (0.0, 1usize);
    let mut guarded = None;
    for p in &d.points {
        let guards =
            param(p, "protocol.guards.enabled").and_then(serde_json::Value::as_bool) == Some(true);
        let ss = of_point(&points, p.point);
        let mg = p.m_times_g;
        let linked = per_client(ss, |s| s.linked);
        let stats: Vec<AtN> = N_GRID
            .iter()
            .filter_map(|&n| at_n(&linked, n, mg))
            .collect();
        let label = if guards { "guards on" } else { "guards off" };
        for s in &stats {
            n_max = n_max.max(s.n);
            table.rows.push(vec![
                Value::text(label),
                Value::count(s.n as u64),
                Value::count(s.clients as u64),
                Value::interval(s.mean, 3, ""),
                Value::num(s.n as f64 * mg, 3, ""),
                Value::Proportion(s.any),
                Value::num(1.0 - (1.0 - mg).powi(s.n as i32), 3, ""),
            ]);
        }
        let (any, mean) = series_of(label, &stats);
        any_series.push(any);
        mean_series.push(mean);
        if guards {
            guarded = stats.last().map(|s| (s.n, s.any));
        } else {
            mg_off = mg;
            rows.push(family_row(Kind::Test, TEST, &stats, mg));
            let ends = per_client(ss, |s| s.ends);
            let ends: Vec<AtN> = N_GRID.iter().filter_map(|&n| at_n(&ends, n, mg)).collect();
            rows.push(family_row(Kind::Sanity, SANITY, &ends, mg));
        }
    }
    if !rows.iter().any(|r| r.kind == Kind::Test) {
        rows.push(Row::not_measured(
            Kind::Test,
            TEST,
            "no point without guards",
        ));
        rows.push(Row::not_measured(
            Kind::Sanity,
            SANITY,
            "no point without guards",
        ));
    }
    rows.push(guarded_row(guarded));
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "Each client's sessions in start order; for each n, the clients with at least n \
             sessions: the mean number of sessions the adversary linked among their first n \
             (95% t interval) and the share with at least one (95% Wilson interval). Counts \
             at different n share sessions, so the tests are dependent; Bonferroni holds \
             under any dependence."
                .into(),
        ],
        tables: vec![table],
        figures: figures(any_series, mean_series, mg_off, n_max),
        source: source(d),
    }
}

/// Each client's P(≥1 linked) and mean linked against n, for one point.
fn series_of(label: &str, stats: &[AtN]) -> (Series, Series) {
    let series = |name: &str, pick: &dyn Fn(&AtN) -> (f64, f64, f64)| Series {
        label: format!("{name}, {label}"),
        style: Style::Points,
        points: stats
            .iter()
            .map(|s| {
                let (estimate, lo, hi) = pick(s);
                Point::with_ci(s.n as f64, estimate, lo, hi)
            })
            .collect(),
    };
    (
        series("P(≥1 linked)", &|s| (s.any.estimate, s.any.lo, s.any.hi)),
        series("mean linked", &|s| (s.mean.estimate, s.mean.lo, s.mean.hi)),
    )
}

/// The finding for guarded clients: the largest n measured.
fn guarded_row(guarded: Option<(usize, crate::estimate::Proportion)>) -> Row {
    match guarded {
        Some((n, any)) => Row::finding(
            FINDING,
            Value::List(vec![
                ("n".into(), Value::count(n as u64)),
                ("P(≥1 linked)".into(), Value::Proportion(any)),
            ]),
            "With three fixed entry guards a client whose guards are honest is never linked \
             and one with an adversarial guard is linked at about g per session, so the \
             share of clients ever linked saturates near the share holding a bad guard \
             instead of approaching 1: n·m·g does not describe guarded clients.",
        ),
        None => Row::not_measured(Kind::Finding, FINDING, "no point with guards"),
    }
}

fn figures(mut any: Vec<Series>, mut mean: Vec<Series>, mg: f64, n_max: usize) -> Vec<Figure> {
    let dense: Vec<f64> = (0..=60)
        .map(|i| (n_max as f64).powf(f64::from(i) / 60.0))
        .collect();
    any.push(Series {
        label: "1-(1-m·g)^n".into(),
        style: Style::Line,
        points: dense
            .iter()
            .map(|&n| Point::at(n, 1.0 - (1.0 - mg).powf(n)))
            .collect(),
    });
    mean.push(Series {
        label: "n·m·g".into(),
        style: Style::Dashed,
        points: vec![
            Point::at(0.0, 0.0),
            Point::at(n_max as f64, n_max as f64 * mg),
        ],
    });
    vec![
        Figure {
            name: "sessions_n_at_least_one".into(),
            title: "P(at least one linked session) over n sessions".into(),
            caption: "Share of clients with at least one session linked by the adversary \
                      among their first n, without and with entry guards; bars are 95% \
                      Wilson intervals; the line is 1-(1-m·g)^n (guards off)."
                .into(),
            x_label: "n (sessions per client)".into(),
            y_label: "P(≥1 linked)".into(),
            series: any,
        },
        Figure {
            name: "sessions_n_expected".into(),
            title: "Expected linked sessions over n sessions".into(),
            caption: "Mean number of sessions linked by the adversary among each client's \
                      first n; bars are 95% t intervals; the dashed line is n·m·g."
                .into(),
            x_label: "n (sessions per client)".into(),
            y_label: "linked sessions (mean per client)".into(),
            series: mean,
        },
    ]
}
