//! Tier 4, a wide passive observer (whitepaper "Threat Model Tiers",
//! "Tier 4: Network-Wide Passive Observer"; "Traffic Analysis
//! Countermeasures"): the correlation attacker's per-session linked share
//! and its pair ROC at low false-positive rates, against the defences'
//! latency and bandwidth costs. Qualitative in the whitepaper: findings.

use super::super::common::{
    by_point, median_ms, missing, observer_linked, of_point, point_label, source, tier4_citations,
};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Table, Value};
use crate::estimate::Proportion;
use crate::figure::{Figure, Point, Series, Style};
use crate::roc::{FPR_TARGETS, RocSummary};

const ID: &str = "observers";
const TITLE: &str = "Tier 4: a wide passive observer against delays and cover traffic";
const FINDING: &str = "sessions linked and pair TPR at low FPR, per defence, with its costs";

/// Published operating points for comparison (reference/README.md).
const ANCHORS: [(&str, f64, f64); 2] = [
    ("DeepCoFFEA (TPR 0.89 at FPR 7e-4)", 7e-4, 0.89),
    ("ESPRESSO (TPR > 0.9 at FPR 1e-6)", 1e-6, 0.9),
];

fn citations() -> Vec<Citation> {
    tier4_citations()
}

/// One defence's measurements.
struct Defence {
    label: String,
    linked: Proportion,
    roc: Option<RocSummary>,
    ttft: crate::estimate::Mean,
    bytes: f64,
}

fn defences(d: &ScenarioData) -> Vec<Defence> {
    let points = by_point(d);
    d.points
        .iter()
        .map(|p| {
            let ss = of_point(&points, p.point);
            Defence {
                label: point_label(p),
                linked: observer_linked(p),
                roc: d.observers.iter().find(|o| o.point == p.point).cloned(),
                ttft: median_ms(ss, 0x0b5e_0000 + u64::from(p.point), |s| s.first_token_ns),
                bytes: p.bytes_per_turn,
            }
        })
        .collect()
}

/// TPR at each resolvable FPR target, as labelled values.
fn tprs(roc: &Option<RocSummary>) -> Vec<(String, Value)> {
    roc.iter()
        .flat_map(|r| &r.operating)
        .map(|o| (format!("TPR @ FPR {:.0e}", o.fpr), Value::Percent(o.tpr)))
        .collect()
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &[(Kind::Finding, FINDING)]);
    };
    let data = defences(d);
    let base = data
        .first()
        .map_or((f64::NAN, f64::NAN), |b| (b.ttft.estimate, b.bytes));
    let ratio = |x: f64, b: f64| if b > 0.0 { x / b } else { f64::NAN };
    let row = if data.is_empty() {
        Row::not_measured(Kind::Finding, FINDING, "no points")
    } else {
        Row::finding(
            FINDING,
            Value::List(
                data.iter()
                    .map(|x| {
                        let mut v = vec![("sessions linked".into(), Value::Proportion(x.linked))];
                        v.extend(tprs(&x.roc));
                        v.push(("TTFT".into(), Value::Ratio(ratio(x.ttft.estimate, base.0))));
                        v.push(("bandwidth".into(), Value::Ratio(ratio(x.bytes, base.1))));
                        (x.label.clone(), Value::List(v))
                    })
                    .collect(),
            ),
            "Two views of one attacker. Pair TPR at a low FPR thresholds every (client flow, \
             service flow) pair and collapses under delays; the per-session share is what \
             an observer naming each service flow's best candidate achieves, and stays \
             high: bounded delays and upstream cover raise the cost without removing the \
             attack, at a latency and bandwidth price.",
        )
    };
    let mut table = Table::new(
        "Per defence: sessions linked at the operating point (95% Wilson), pair TPR at each \
         FPR the negatives resolve, negatives (false pairs), AUC, median TTFT (ms, 95% \
         bootstrap) and bandwidth (kB sent over the network per answered turn).",
        &[
            "defence",
            "observer linked",
            "TPR @ 1e-3",
            "TPR @ 1e-4",
            "TPR @ 1e-5",
            "TPR @ 1e-6",
            "negatives",
            "AUC",
            "TTFT median",
            "TTFT vs none",
            "kB/turn",
            "bandwidth vs none",
        ],
    );
    for x in &data {
        let mut cells = vec![Value::text(x.label.clone()), Value::Proportion(x.linked)];
        for f in FPR_TARGETS {
            let o = x
                .roc
                .as_ref()
                .and_then(|r| r.operating.iter().find(|o| o.fpr == f));
            cells.push(o.map_or(Value::text("too few negatives"), |o| Value::Percent(o.tpr)));
        }
        cells.push(
            x.roc
                .as_ref()
                .map_or(Value::None, |r| Value::count(r.negatives)),
        );
        cells.push(
            x.roc
                .as_ref()
                .map_or(Value::None, |r| Value::num(r.auc, 4, "")),
        );
        cells.push(Value::interval(x.ttft, 0, ""));
        cells.push(Value::Ratio(ratio(x.ttft.estimate, base.0)));
        cells.push(Value::num(x.bytes / 1e3, 0, ""));
        cells.push(Value::Ratio(ratio(x.bytes, base.1)));
        table.rows.push(cells);
    }
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![row],
        notes: notes(),
        tables: vec![table],
        figures: figures(d, &data),
        source: source(d),
    }
}

fn notes() -> Vec<String> {
    vec![
        "The observer sees, on the links it watches, each packet's time, size and endpoints, \
         nothing else. Knowing the advertised relays and services and the onion cell size, \
         it keeps client-side flows (a client and its entry) and service-side flows (last \
         relay and service), split at 1 s idle gaps, as packet counts per 50 ms bin and \
         direction. For each service-side flow it correlates (Pearson) the first 128 bins \
         with every client-side flow active nearby, maximising over a one-sided shift up to \
         1.5 s, per direction."
            .into(),
        "Pair TPR and FPR are over all F x G pairs (pruned pairs count as rejected); a TPR is \
         reported at an FPR only where the negatives can resolve it (N·FPR ≥ 1), with N \
         stated. For comparison, published attacks on Tor traffic: DeepCoFFEA reaches a TPR \
         of about 0.89 at an FPR of about 7·10⁻⁴, ESPRESSO over 0.9 at 10⁻⁶ \
         (reference/README.md); they are drawn on the ROC as anchors. Per session, \
         `observer_linked` names, for each service-side flow, its best-scoring client flow \
         above the threshold."
            .into(),
        "Defences: bounded uniform random delays at every relay hop, client cover cells \
         (Poisson) dropped at the last relay, which pad the client's upstream only, and \
         route rotation after every turn. Fixed-size cells are always on. Costs: median \
         time to first token and bytes sent over the whole network per answered turn, \
         against no defence."
            .into(),
    ]
}

fn figures(d: &ScenarioData, data: &[Defence]) -> Vec<Figure> {
    let mut curves: Vec<Series> = d
        .points
        .iter()
        .zip(data)
        .filter_map(|(p, x)| {
            let pts: Vec<Point> = d
                .roc
                .iter()
                .filter(|r| r.point == p.point && r.fpr > 0.0)
                .map(|r| Point::at(r.fpr.log10(), r.tpr))
                .collect();
            (!pts.is_empty()).then(|| Series {
                label: x.label.clone(),
                style: Style::Line,
                points: pts,
            })
        })
        .collect();
    let mut out = Vec::new();
    if !curves.is_empty() {
        curves.push(Series {
            label: "published attacks (anchors)".into(),
            style: Style::Points,
            points: ANCHORS
                .iter()
                .map(|(name, fpr, tpr)| Point::at(fpr.log10(), *tpr).noted(*name))
                .collect(),
        });
        out.push(Figure {
            name: "observers_roc".into(),
            title: "Passive observer: ROC of the correlation attacker".into(),
            caption: "Pair true-positive rate against false-positive rate (log10) over all \
                      client-side x service-side flow pairs, per defence; pruned pairs count \
                      as rejected; the points are published attacks' operating points."
                .into(),
            x_label: "log10 false-positive rate".into(),
            y_label: "true-positive rate (pairs)".into(),
            series: curves,
        });
    }
    let at_1e3 = |x: &Defence| x.roc.as_ref().map(|r| r.tpr_at_fpr_1e3);
    out.push(Figure {
        name: "observers_linked_vs_tpr".into(),
        title: "Per-session linked share beside pair TPR, per defence".into(),
        caption: "Two measures of the same attacker per defence (x: the table's rows in \
                  order): the share of sessions it links by naming each service flow's best \
                  client flow (95% Wilson), and the pair TPR at FPR 10⁻³, which thresholds \
                  every pair on its own. Delays drive the second towards 0 while the first \
                  stays high."
            .into(),
        x_label: "defence (table row)".into(),
        y_label: "share".into(),
        series: vec![
            Series {
                label: "sessions linked (per session)".into(),
                style: Style::Points,
                points: data
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        Point::with_ci(i as f64, x.linked.estimate, x.linked.lo, x.linked.hi)
                            .noted(x.label.clone())
                    })
                    .collect(),
            },
            Series {
                label: "pair TPR at FPR 1e-3".into(),
                style: Style::Points,
                points: data
                    .iter()
                    .enumerate()
                    .filter_map(|(i, x)| at_1e3(x).map(|t| Point::at(i as f64, t)))
                    .collect(),
            },
        ],
    });
    out
}
