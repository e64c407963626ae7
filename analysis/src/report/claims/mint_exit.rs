//! Mint-exit collusion and its mitigations (whitepaper "Threat Model
//! Tiers", "Mint-Exit Collusion"; "Practical Leakage and Mitigations"):
//! the attacker's effective anonymity set per paid session, and how often
//! it names the payer, per mitigation. No closed form: findings.

use super::super::common::{by_point, missing, of_point, point_label, source};
use super::super::data::Run;
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{bootstrap, quantile, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "mint_exit";
const TITLE: &str = "Mint-exit collusion and its mitigations";
const FINDING: &str = "effective anonymity set and payer named, per mitigation";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Mint-Exit Collusion"),
            quote: "Failure to implement these mitigations reduces the anonymity set to users \
                    who minted matching denominations within the correlation window.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Practical Leakage and Mitigations",
            paragraph: None,
            quote: "Token batching and random delays between mint and first spend.",
        },
    ]
}

/// One point's measurements.
struct MintPoint {
    label: String,
    hold_s: Option<f64>,
    effective: Vec<f64>,
    median: crate::estimate::Mean,
    attributed: usize,
    named_nobody: usize,
    named: crate::estimate::Proportion,
    answered: crate::estimate::Proportion,
}

fn hold_of(p: &crate::summary::PointSummary) -> Option<f64> {
    let h = p.params.get("protocol.wallet.hold")?;
    h.get("mean_s")
        .and_then(serde_json::Value::as_f64)
        .or_else(|| {
            (h.get("kind").and_then(serde_json::Value::as_str) == Some("none")).then_some(0.0)
        })
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &[(Kind::Finding, FINDING)]);
    };
    let points = by_point(d);
    let data: Vec<MintPoint> = d
        .points
        .iter()
        .map(|p| {
            let ss = of_point(&points, p.point);
            let effective: Vec<f64> = ss
                .iter()
                .filter_map(|s| s.mint_entropy_bits.map(f64::exp2))
                .collect();
            let (k, n) = (
                ss.iter().filter(|s| s.mint_linked == Some(true)).count() as u64,
                ss.iter().filter(|s| s.mint_linked.is_some()).count() as u64,
            );
            MintPoint {
                label: point_label(p),
                hold_s: hold_of(p),
                median: bootstrap(
                    &effective,
                    |v| quantile(v, 0.5),
                    1000,
                    LEVEL,
                    0x3e70_0000 + u64::from(p.point),
                ),
                effective,
                attributed: ss.iter().filter(|s| s.mint_candidates.is_some()).count(),
                named_nobody: ss.iter().filter(|s| s.mint_candidates == Some(0)).count(),
                named: wilson(k, n, LEVEL),
                answered: wilson(
                    ss.iter().filter(|s| s.ok).count() as u64,
                    ss.len() as u64,
                    LEVEL,
                ),
            }
        })
        .collect();
    let row = if data.is_empty() {
        Row::not_measured(Kind::Finding, FINDING, "no points")
    } else {
        Row::finding(
            FINDING,
            Value::List(
                data.iter()
                    .map(|m| {
                        (
                            m.label.clone(),
                            Value::List(vec![
                                ("effective set".into(), median_value(m)),
                                ("named".into(), Value::Proportion(m.named)),
                            ]),
                        )
                    })
                    .collect(),
            ),
            "Without mitigation a colluding mint and exit narrow each paid session's payer \
             to about a dozen candidates and name it far more often than chance; long \
             random holds, mint batching, more mints and Lightning privacy widen the set, \
             and swapping before spending does not (the attacker follows the swap).",
        )
    };
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![row],
        notes: notes(),
        tables: vec![table(&data)],
        figures: figures(&data),
        source: source(d),
    }
}

fn median_value(m: &MintPoint) -> Value {
    if m.effective.is_empty() {
        Value::text("no payer named")
    } else {
        Value::interval(m.median, 1, "")
    }
}

fn notes() -> Vec<String> {
    vec![
        "The colluding mint pools its operator log (Lightning fundings with what Lightning \
         revealed, issuances, swaps with their inputs and output denominations) with the \
         colluding Ghosts' received payments. For each payment the attacker walks back: \
         operations in the window that signed its denominations, the inputs those swaps \
         revealed, to issuances and their fundings. Candidate fundings are weighted by \
         exp(-(payment - issuance) / recency). The effective set is 2^H of the resulting \
         payer distribution; a session counts as linked when the most probable payer is its \
         client."
            .into(),
        "Multi-mint distribution is modelled across the population: each client funds and \
         pays at one mint drawn at random, so with k mints the colluding one sees about 1/k \
         of the clients. One wallet splitting its funds over several mints (wallet-side mint \
         rotation) is not implemented in the protocol client and is not measured. Standard \
         denominations are always on."
            .into(),
        "Sessions answered: the hold periods cost availability, because these wallets are \
         small (60 sat, topped up when low) and a turn whose funds are still held fails \
         instead of waiting."
            .into(),
    ]
}

fn table(data: &[MintPoint]) -> Table {
    let mut t = Table::new(
        "Per point: paid sessions attributed, of which naming nobody (hidden Lightning); \
         median (95% bootstrap) and 10th-percentile effective set; P(named correctly) (95% \
         Wilson); sessions answered in full.",
        &[
            "mitigation",
            "attributed",
            "no payer named",
            "effective set, median",
            "effective set, p10",
            "P(named correctly)",
            "answered",
        ],
    );
    for m in data {
        t.rows.push(vec![
            Value::text(m.label.clone()),
            Value::count(m.attributed as u64),
            Value::count(m.named_nobody as u64),
            median_value(m),
            if m.effective.is_empty() {
                Value::None
            } else {
                Value::num(quantile(&m.effective, 0.1), 1, "")
            },
            Value::Proportion(m.named),
            Value::Percent(m.answered.estimate),
        ]);
    }
    t
}

fn figures(data: &[MintPoint]) -> Vec<Figure> {
    let held: Vec<&MintPoint> = data
        .iter()
        .filter(|m| m.hold_s.is_some() && !m.effective.is_empty())
        .collect();
    let at = |m: &MintPoint| m.hold_s.unwrap_or(0.0);
    let mut out = Vec::new();
    if !held.is_empty() {
        out.push(Figure {
            name: "mint_exit_hold".into(),
            title: "Mint-exit anonymity against the hold period".into(),
            caption: "Effective anonymity set 2^H of the attacker's payer distribution per \
                      paid session (median with 95% bootstrap interval, and 10th percentile) \
                      against the mean of an exponential hold between minting and first \
                      spend."
                .into(),
            x_label: "mean hold period (s)".into(),
            y_label: "effective anonymity set (payers)".into(),
            series: vec![
                Series {
                    label: "median".into(),
                    style: Style::Points,
                    points: held
                        .iter()
                        .map(|m| Point::with_ci(at(m), m.median.estimate, m.median.lo, m.median.hi))
                        .collect(),
                },
                Series {
                    label: "10th percentile".into(),
                    style: Style::Dashed,
                    points: held
                        .iter()
                        .map(|m| Point::at(at(m), quantile(&m.effective, 0.1)))
                        .collect(),
                },
            ],
        });
        out.push(Figure {
            name: "mint_exit_linked".into(),
            title: "Mint-exit attacker naming the right payer against the hold period".into(),
            caption: "Share of paid sessions at colluding exits whose payer the attacker \
                      named correctly (95% Wilson)."
                .into(),
            x_label: "mean hold period (s)".into(),
            y_label: "P(mint-exit linked)".into(),
            series: vec![Series {
                label: "P(named correctly)".into(),
                style: Style::Points,
                points: held
                    .iter()
                    .map(|m| Point::with_ci(at(m), m.named.estimate, m.named.lo, m.named.hi))
                    .collect(),
            }],
        });
    }
    let by: Vec<Point> = data
        .iter()
        .filter(|m| !m.effective.is_empty())
        .enumerate()
        .map(|(i, m)| {
            Point::with_ci(i as f64, m.median.estimate, m.median.lo, m.median.hi)
                .noted(m.label.clone())
        })
        .collect();
    if !by.is_empty() {
        out.push(Figure {
            name: "mint_exit_mitigations".into(),
            title: "Mint-exit anonymity per mitigation".into(),
            caption: "Median effective anonymity set (95% bootstrap) per scenario point; \
                      Lightning that hides the payer names nobody and is not plotted."
                .into(),
            x_label: "scenario point".into(),
            y_label: "effective anonymity set (payers)".into(),
            series: vec![Series {
                label: "median effective set".into(),
                style: Style::Points,
                points: by,
            }],
        });
    }
    out
}
