//! Tier 4 up to the high-latency end (whitepaper "Threat Model Tiers",
//! "Tier 4: Network-Wide Passive Observer"; "Traffic Analysis
//! Countermeasures"): the correlation attacker against per-hop delays of up
//! to seconds, with and without full padding (client cover upstream; the
//! endpoint's padding replies and constant-rate streaming downstream), each
//! point priced by its latency and bandwidth multipliers. The whitepaper
//! gives no number: findings.

use super::super::common::{
    by_point, hop_delay_max_ms, median_ms, missing, observer_linked, of_point, param, param_f64,
    source, tier4_citations,
};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Table, Value};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::roc::RocSummary;
use crate::summary::{LEVEL, PointSummary};

const ID: &str = "high_latency";
const TITLE: &str = "Tier 4 up to the high-latency end: delays of seconds, downstream padding and \
                     constant-rate streaming";
const CURVE: &str = "sessions linked and pair TPR against the latency and bandwidth multipliers";
const FLOOR: &str = "the cheapest defence that links under 5% of sessions";

/// Linkage the issue names as "eliminated enough" for this sweep.
const TARGET: f64 = 0.05;

fn citations() -> Vec<Citation> {
    tier4_citations()
}

/// One point: its defence and what it cost and bought.
struct Defence {
    padded: bool,
    delay_ms: f64,
    /// Answered sessions, of all the point's sessions.
    answered: Proportion,
    linked: Proportion,
    roc: Option<RocSummary>,
    ttft: Mean,
    done: Mean,
    bytes: f64,
}

impl Defence {
    fn family(&self) -> &'static str {
        if self.padded {
            "full padding"
        } else {
            "delays only"
        }
    }

    fn label(&self) -> String {
        if self.delay_ms > 0.0 {
            format!("{}, delays ≤{} ms/hop", self.family(), self.delay_ms)
        } else {
            format!("{}, no delays", self.family())
        }
    }
}

/// Whether a point pads: client cover, endpoint cover or constant rate.
fn padded(p: &PointSummary) -> bool {
    let rate = |k: &str| param_f64(p, k).unwrap_or(0.0) > 0.0;
    rate("protocol.cover_rate_per_s")
        || rate("protocol.downstream_cover_rate_per_s")
        || param(p, "protocol.constant_rate").is_some_and(|v| !v.is_null())
}

fn defences(d: &ScenarioData) -> Vec<Defence> {
    let points = by_point(d);
    d.points
        .iter()
        .map(|p| {
            let ss = of_point(&points, p.point);
            let ok = ss.iter().filter(|s| s.ok).count() as u64;
            let seed = 0x41a7_0000 + 2 * u64::from(p.point);
            Defence {
                padded: padded(p),
                delay_ms: hop_delay_max_ms(p),
                answered: wilson(ok, ss.len() as u64, LEVEL),
                linked: observer_linked(p),
                roc: d.observers.iter().find(|o| o.point == p.point).cloned(),
                ttft: median_ms(ss, seed, |s| s.first_token_ns),
                done: median_ms(ss, seed + 1, |s| s.completed_ns),
                bytes: p.bytes_per_turn,
            }
        })
        .collect()
}

/// Multipliers against the undefended point (no padding, no delay).
struct Base {
    ttft: f64,
    done: f64,
    bytes: f64,
}

impl Base {
    fn of(data: &[Defence]) -> Option<Base> {
        data.iter()
            .find(|x| !x.padded && x.delay_ms == 0.0)
            .map(|x| Base {
                ttft: x.ttft.estimate,
                done: x.done.estimate,
                bytes: x.bytes,
            })
    }

    fn ratio(x: f64, b: f64) -> f64 {
        if b > 0.0 { x / b } else { f64::NAN }
    }

    fn latency(&self, x: &Defence) -> f64 {
        Self::ratio(x.done.estimate, self.done)
    }

    fn bandwidth(&self, x: &Defence) -> f64 {
        Self::ratio(x.bytes, self.bytes)
    }
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some(d) = run.scenario(ID) else {
        return missing(
            ID,
            TITLE,
            citations(),
            ID,
            &[(Kind::Finding, CURVE), (Kind::Finding, FLOOR)],
        );
    };
    let data = defences(d);
    let base = Base::of(&data);
    let rows = match &base {
        Some(base) => vec![curve_row(&data, base), floor_row(&data, base)],
        None => vec![
            Row::not_measured(Kind::Finding, CURVE, "no undefended point to compare with"),
            Row::not_measured(Kind::Finding, FLOOR, "no undefended point to compare with"),
        ],
    };
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: notes(),
        tables: vec![table(&data, base.as_ref())],
        figures: base.map_or_else(Vec::new, |b| figures(&data, &b)),
        source: source(d),
    }
}

fn curve_row(data: &[Defence], base: &Base) -> Row {
    Row::finding(
        CURVE,
        Value::List(
            data.iter()
                .map(|x| {
                    let mut v = vec![("sessions linked".into(), Value::Proportion(x.linked))];
                    if let Some(r) = &x.roc {
                        v.push(("TPR @ FPR 1e-3".into(), Value::Percent(r.tpr_at_fpr_1e3)));
                    }
                    v.push(("latency".into(), Value::Ratio(base.latency(x))));
                    v.push(("bandwidth".into(), Value::Ratio(base.bandwidth(x))));
                    (x.label(), Value::List(v))
                })
                .collect(),
        ),
        "What each step towards a high-latency design buys against an observer that knows the \
         public delay bound, and what it costs: latency is the median time to the verified \
         receipt, bandwidth the bytes sent over the network per answered turn, each against \
         the undefended point.",
    )
}

/// The cheapest point (by latency multiplier) whose linked share's upper
/// bound is under [`TARGET`], or where the curve stands if none is.
fn floor_row(data: &[Defence], base: &Base) -> Row {
    let under = data
        .iter()
        .filter(|x| x.linked.n > 0 && x.linked.hi < TARGET)
        .min_by(|a, b| base.latency(a).total_cmp(&base.latency(b)));
    let lowest = data
        .iter()
        .filter(|x| x.linked.n > 0)
        .min_by(|a, b| a.linked.estimate.total_cmp(&b.linked.estimate));
    let (measured, meaning) = match (under, lowest) {
        (Some(x), _) => (
            Value::List(vec![
                ("defence".into(), Value::text(x.label())),
                ("sessions linked".into(), Value::Proportion(x.linked)),
                ("latency".into(), Value::Ratio(base.latency(x))),
                ("bandwidth".into(), Value::Ratio(base.bandwidth(x))),
            ]),
            "The first point whose 95% interval lies wholly under 5% linked, and its price.",
        ),
        (None, Some(x)) => (
            Value::List(vec![
                ("not reached; lowest".into(), Value::text(x.label())),
                ("sessions linked".into(), Value::Proportion(x.linked)),
                ("latency".into(), Value::Ratio(base.latency(x))),
                ("bandwidth".into(), Value::Ratio(base.bandwidth(x))),
            ]),
            "No point's 95% interval lies wholly under 5% linked; the lowest share measured \
             and its price. See the figure for whether the curve has flattened.",
        ),
        (None, None) => {
            return Row::not_measured(Kind::Finding, FLOOR, "no observed sessions");
        }
    };
    Row::finding(FLOOR, measured, meaning)
}

fn table(data: &[Defence], base: Option<&Base>) -> Table {
    let mut t = Table::new(
        "Per point: sessions, answered share and observer-linked share (95% Wilson), pair TPR \
         at FPR 10⁻³ and AUC, median TTFT and completion (ms, 95% bootstrap) with their \
         multipliers, and kB sent over the network per answered turn with its multiplier; \
         multipliers are against the undefended point.",
        &[
            "defence",
            "delay bound (ms/hop)",
            "sessions",
            "answered",
            "observer linked",
            "TPR @ 1e-3",
            "AUC",
            "TTFT median",
            "TTFT ×",
            "completion median",
            "latency ×",
            "kB/turn",
            "bandwidth ×",
        ],
    );
    let ratio = |x: f64, b: Option<f64>| Value::Ratio(b.map_or(f64::NAN, |b| Base::ratio(x, b)));
    for x in data {
        t.rows.push(vec![
            Value::text(x.family()),
            Value::num(x.delay_ms, 0, ""),
            Value::count(x.answered.n),
            Value::Proportion(x.answered),
            Value::Proportion(x.linked),
            x.roc
                .as_ref()
                .map_or(Value::None, |r| Value::Percent(r.tpr_at_fpr_1e3)),
            x.roc
                .as_ref()
                .map_or(Value::None, |r| Value::num(r.auc, 4, "")),
            Value::interval(x.ttft, 0, ""),
            ratio(x.ttft.estimate, base.map(|b| b.ttft)),
            Value::interval(x.done, 0, ""),
            ratio(x.done.estimate, base.map(|b| b.done)),
            Value::num(x.bytes / 1e3, 0, ""),
            ratio(x.bytes, base.map(|b| b.bytes)),
        ]);
    }
    t
}

fn notes() -> Vec<String> {
    vec![
        "Defences. Delays: every relay hop holds each cell for a uniform random time up to \
         the bound. Full padding: clients send 10 cover cells per second upstream, dropped \
         by the last relay; the endpoint (Ghost or mint) sends 10 padding replies per second \
         down each open session through the client's own reply blocks, which every return \
         hop forwards like any reply and only the client can tell apart; and it streams at a \
         constant 20 cells per second from each request until the answer is out, 1 s has \
         passed with nothing real to send, and the burst holds a multiple of 16 cells."
            .into(),
        "The attacker is the observers' correlation attacker (section observers) on every \
         AS. It knows the public delay bound D: its largest shift is 1.5 s plus 4·D, its \
         bins widen to max(50 ms, D/10) and the idle gap that splits a flow grows with D, \
         so a falling curve measures the defence, not an attacker looking in the wrong \
         place. Sessions linked: each service-side flow's best client flow above the \
         threshold is the right one."
            .into(),
        "Timeouts (turn 300 s, circuit build and mint 120 s) are the same at every point so \
         that points differ only in their defence; the answered share shows what delays of \
         seconds cost in failed turns."
            .into(),
    ]
}

fn figures(data: &[Defence], base: &Base) -> Vec<Figure> {
    let series = |padded: bool, x: &dyn Fn(&Defence) -> f64| {
        let mut pts: Vec<Point> = data
            .iter()
            .filter(|d| d.padded == padded && d.linked.n > 0)
            .map(|d| {
                Point::with_ci(x(d), d.linked.estimate, d.linked.lo, d.linked.hi)
                    .noted(format!("≤{} ms", d.delay_ms).replace("≤0 ms", " no delay"))
            })
            .collect();
        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
        Series {
            label: if padded {
                "full padding"
            } else {
                "delays only"
            }
            .into(),
            style: Style::Points,
            points: pts,
        }
    };
    let target = |xs: &[f64]| {
        let hi = xs.iter().copied().fold(1.0, f64::max);
        Series {
            label: "5% linked".into(),
            style: Style::Dashed,
            points: vec![Point::at(1.0, TARGET), Point::at(hi, TARGET)],
        }
    };
    let lat: Vec<f64> = data.iter().map(|d| base.latency(d)).collect();
    let bw: Vec<f64> = data.iter().map(|d| base.bandwidth(d).log10()).collect();
    vec![
        Figure {
            name: "high_latency_linked_vs_latency".into(),
            title: "Tier 4: sessions linked against the latency multiplier".into(),
            caption: "Share of sessions the global observer links (95% Wilson) against the \
                      median time to the receipt relative to the undefended point; each \
                      marker is a per-hop delay bound, without and with full padding; the \
                      dashed line is 5%."
                .into(),
            x_label: "latency multiplier (median completion / undefended)".into(),
            y_label: "sessions linked".into(),
            series: vec![
                series(false, &|d| base.latency(d)),
                series(true, &|d| base.latency(d)),
                target(&lat),
            ],
        },
        Figure {
            name: "high_latency_linked_vs_bandwidth".into(),
            title: "Tier 4: sessions linked against the bandwidth multiplier".into(),
            caption: "The same points against log10 of the bytes sent per answered turn \
                      relative to the undefended point."
                .into(),
            x_label: "log10 bandwidth multiplier".into(),
            y_label: "sessions linked".into(),
            series: vec![
                series(false, &|d| base.bandwidth(d).log10()),
                series(true, &|d| base.bandwidth(d).log10()),
                Series {
                    points: vec![
                        Point::at(0.0, TARGET),
                        Point::at(bw.iter().copied().fold(0.0, f64::max), TARGET),
                    ],
                    ..target(&[])
                },
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defence(padded: bool, delay_ms: f64, k: u64, done_ms: f64, bytes: f64) -> Defence {
        let mean = |v: f64| Mean {
            estimate: v,
            lo: v,
            hi: v,
            n: 100,
            level: LEVEL,
        };
        Defence {
            padded,
            delay_ms,
            answered: wilson(100, 100, LEVEL),
            linked: wilson(k, 100, LEVEL),
            roc: None,
            ttft: mean(done_ms / 2.0),
            done: mean(done_ms),
            bytes,
        }
    }

    fn measured(r: &Row) -> String {
        format!("{:?}", r.measured)
    }

    #[test]
    fn the_floor_is_the_cheapest_point_wholly_under_five_percent() {
        let data = vec![
            defence(false, 0.0, 90, 1_000.0, 1e6),
            defence(true, 4000.0, 0, 20_000.0, 3e7),
            defence(true, 1000.0, 0, 5_000.0, 3e7),
            defence(false, 1000.0, 4, 5_000.0, 1e6),
        ];
        let base = Base::of(&data).expect("an undefended point");
        assert_eq!(base.latency(&data[2]), 5.0);
        let row = floor_row(&data, &base);
        // 4 of 100 has an upper bound above 5%; 0 of 100 does not.
        let m = measured(&row);
        assert!(m.contains("full padding, delays ≤1000 ms/hop"), "{m}");
        assert!(!m.contains("not reached"), "{m}");
    }

    #[test]
    fn without_a_point_under_five_percent_the_floor_says_so() {
        let data = vec![
            defence(false, 0.0, 90, 1_000.0, 1e6),
            defence(false, 2000.0, 30, 9_000.0, 1e6),
        ];
        let base = Base::of(&data).expect("an undefended point");
        let m = measured(&floor_row(&data, &base));
        assert!(m.contains("not reached"), "{m}");
        assert!(m.contains("delays ≤2000"), "{m}");
    }

    #[test]
    fn no_undefended_point_means_no_multipliers() {
        let data = vec![defence(true, 0.0, 1, 1_000.0, 1e6)];
        assert!(Base::of(&data).is_none());
    }
}
