//! Latency of 2 and 3 relays against a direct call (whitepaper "Route
//! Construction": h−1 relays, typically 2–3; "Traffic Analysis
//! Countermeasures": a low-latency system). The whitepaper gives no
//! figure, so this is a finding.

use super::super::common::{
    by_point, latencies_ms, median_ms, missing, of_point, param_f64, source,
};
use super::super::data::Run;
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::quantile;
use crate::figure::{Figure, Point, Series, Style};

const ID: &str = "latency";
const TITLE: &str = "Latency overhead of 2 and 3 relays";
const FINDING: &str = "median time to first token and to completion, against a direct call";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Route Construction",
            paragraph: None,
            quote: "h-1 relays from DHT (typically 2–3).",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Traffic Analysis Countermeasures",
            paragraph: None,
            quote: "Peer2Prompt is a low-latency system, so traffic analysis remains a \
                    first-class risk.",
        },
    ]
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &[(Kind::Finding, FINDING)]);
    };
    let points = by_point(d);
    let (mut ttft, mut done, mut measured) = (Vec::new(), Vec::new(), Vec::new());
    let mut table = Table::new(
        "Median latencies (ms) with 95% bootstrap intervals, and the ratio to the direct call.",
        &[
            "relays",
            "sessions",
            "TTFT median",
            "TTFT p90",
            "TTFT vs direct",
            "completion median",
            "completion vs direct",
        ],
    );
    let mut direct: Option<(f64, f64)> = None;
    for p in &d.points {
        let hops = param_f64(p, "protocol.relays_per_route").unwrap_or(f64::NAN);
        let ss = of_point(&points, p.point);
        let seed = 0x1a7e_0000 + u64::from(p.point);
        let f = median_ms(ss, seed, |s| s.first_token_ns);
        let c = median_ms(ss, seed + 1, |s| s.completed_ns);
        if hops == 0.0 {
            direct = Some((f.estimate, c.estimate));
        }
        ttft.push(Point::with_ci(hops, f.estimate, f.lo, f.hi));
        done.push(Point::with_ci(hops, c.estimate, c.lo, c.hi));
        let over = |x: f64, base: Option<f64>| {
            Value::Ratio(base.filter(|b| *b > 0.0).map_or(f64::NAN, |b| x / b))
        };
        let label = if hops == 0.0 {
            "0 (direct)".to_owned()
        } else {
            format!("{hops}")
        };
        table.rows.push(vec![
            Value::text(label.clone()),
            Value::count(f.n),
            Value::interval(f, 0, ""),
            Value::num(
                quantile(&latencies_ms(ss, |s| s.first_token_ns), 0.9),
                0,
                "",
            ),
            over(f.estimate, direct.map(|d| d.0)),
            Value::interval(c, 0, ""),
            over(c.estimate, direct.map(|d| d.1)),
        ]);
        measured.push((
            format!("{label} relays"),
            Value::List(vec![
                ("TTFT".into(), Value::interval(f, 0, " ms")),
                ("completion".into(), Value::interval(c, 0, " ms")),
            ]),
        ));
    }
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![Row::finding(
            FINDING,
            Value::List(measured),
            "What the onion route costs a user in time: each relay adds its links' latency \
             to the circuit build, the quote and the streamed answer. The whitepaper gives \
             no figure to test against.",
        )],
        notes: vec![
            "Time from the request (session opening included: circuit build and signed \
             quote) to the first streamed token and to the verified receipt, for sessions \
             answered in full. Medians with 95% percentile-bootstrap intervals (1,000 \
             resamples, fixed seeds): latencies are heavy-tailed. The direct call is a \
             one-hop circuit straight to the service: same service, network and payment, \
             no relays."
                .into(),
        ],
        tables: vec![table],
        figures: figures(ttft, done),
        source: source(d),
    }
}

/// The latency figure: medians with bootstrap bars against relays per route.
fn figures(ttft: Vec<Point>, done: Vec<Point>) -> Vec<Figure> {
    vec![Figure {
        name: "latency".into(),
        title: "End-to-end latency against relays per route".into(),
        caption: "Median time to first token and to completion; bars are 95% \
                  percentile-bootstrap intervals; 0 relays is the direct call."
            .into(),
        x_label: "relays per route".into(),
        y_label: "latency (ms)".into(),
        series: vec![
            Series {
                label: "time to first token".into(),
                style: Style::Points,
                points: ttft,
            },
            Series {
                label: "time to completion".into(),
                style: Style::Points,
                points: done,
            },
        ],
    }]
}
