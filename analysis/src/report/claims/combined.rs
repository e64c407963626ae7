//! All channels together, beside the tier-3 test: the same sessions face
//! colluding entries and exits, a mint colluding with those exits, and
//! passive observers on a share of the ASes. The whitepaper's m·g assumes
//! "no global timing oracle"; this shows how far the linked share moves
//! once that assumption is relaxed even partly.

use super::super::common::{by_point, missing, of_point, param, source};
use super::super::data::{Run, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::wilson;
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "combined";
const TITLE: &str = "All channels together: how far m·g moves without its assumptions";
const FINDING: &str = "P(linked by any channel) against entry-exit alone, per m·g";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Tier 3: Partial Collusion"),
            quote: "assuming independent route sampling and no global timing oracle",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Tier 4: Network-Wide Passive Observer"),
            quote: "Low-latency onion systems are vulnerable to advanced traffic analysis.",
        },
    ]
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &[(Kind::Finding, FINDING)]);
    };
    let points = by_point(d);
    let mut table = Table::new(
        "Per point: the share of all sessions linked by each channel and by any (95% Wilson), \
         and P(linked_any) / m·g.",
        &[
            "m·g",
            "m = g",
            "sessions",
            "ends compromised",
            "entry-exit linked",
            "mint-exit linked",
            "observer linked",
            "linked (any)",
            "any / m·g",
        ],
    );
    let (mut entry_exit, mut any, mut mg, mut measured) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in &d.points {
        let ss = of_point(&points, p.point);
        let n = ss.len() as u64;
        let share = |f: &dyn Fn(&Session) -> bool| {
            wilson(ss.iter().filter(|s| f(s)).count() as u64, n, LEVEL)
        };
        let (e, l) = (share(&|s| s.ends), share(&|s| s.linked));
        let (m, o) = (
            share(&|s| s.mint_linked == Some(true)),
            share(&|s| s.observer_linked == Some(true)),
        );
        let a = share(&|s| s.linked_any);
        let x = p.m_times_g;
        entry_exit.push(Point::with_ci(x, l.estimate, l.lo, l.hi));
        any.push(Point::with_ci(x, a.estimate, a.lo, a.hi));
        mg.push(Point::at(x, x));
        table.rows.push(vec![
            Value::num(x, 3, ""),
            param(p, "adversary.entry_fraction_m")
                .map_or(Value::None, |v| Value::text(v.to_string())),
            Value::count(n),
            Value::Proportion(e),
            Value::Proportion(l),
            Value::Proportion(m),
            Value::Proportion(o),
            Value::Proportion(a),
            Value::Ratio(a.estimate / x.max(f64::MIN_POSITIVE)),
        ]);
        measured.push((
            format!("m·g = {x:.3}"),
            Value::List(vec![
                ("any channel".into(), Value::Proportion(a)),
                ("entry-exit".into(), Value::Proportion(l)),
            ]),
        ));
    }
    let row = if measured.is_empty() {
        Row::not_measured(Kind::Finding, FINDING, "no points")
    } else {
        Row::finding(
            FINDING,
            Value::List(measured),
            "With observers on 30% of the ASes and a mint colluding with the adversary's \
             exits, the share of sessions linked by some channel is many times m·g: the \
             estimate describes the entry-exit channel under its own assumptions, and is a \
             lower bound once a partial timing oracle exists.",
        )
    };
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![row],
        notes: vec![
            "The same sessions face three channels at once: the entry-exit timing matcher \
             (fractions m and g), a mint colluding with the adversary's exits (the \
             mint-exit attacker), and passive observers watching 30% of the ASes (the \
             correlation attacker). P(linked_any) is the share of sessions linked by at \
             least one. m·g describes the first alone."
                .into(),
        ],
        tables: vec![table],
        figures: figures(entry_exit, any, mg),
        source: source(d),
    }
}

/// The linkage figure: each channel against m·g.
fn figures(entry_exit: Vec<Point>, any: Vec<Point>, mg: Vec<Point>) -> Vec<Figure> {
    vec![Figure {
        name: "combined_linkage".into(),
        title: "Linkage by any channel against m·g".into(),
        caption: "Share of sessions linked by the entry-exit matcher alone and by any \
                  channel (with a colluding mint and observers on 30% of ASes), 95% \
                  Wilson bars, against the whitepaper's m·g (dashed)."
            .into(),
        x_label: "m·g".into(),
        y_label: "P(linked)".into(),
        series: vec![
            Series {
                label: "entry-exit matcher".into(),
                style: Style::Points,
                points: entry_exit,
            },
            Series {
                label: "any channel".into(),
                style: Style::Points,
                points: any,
            },
            Series {
                label: "m·g".into(),
                style: Style::Dashed,
                points: mg,
            },
        ],
    }]
}
