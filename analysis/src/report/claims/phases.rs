//! Supply over the backend phases (whitepaper "GPU Node Competition";
//! "Network Heterogeneity and Hardware Transitions"): the GPU nodes' share
//! of output tokens and each model's price index as open models improve.
//! Qualitative in the whitepaper: a finding.

use serde_json::Value as Json;

use super::super::common::{f64s, missing, source};
use super::super::data::Run;
use super::super::{Citation, Kind, Row, Section, Source, Value};
use crate::figure::{Figure, Point, Series, Style};

const ID: &str = "phases";
const TITLE: &str = "Supply over the backend phases";
const SCENARIO: &str = "ghost_market";
const FINDING: &str = "GPU share of output tokens and active Ghosts, first week against last";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "GPU Node Competition",
            paragraph: None,
            quote: "Over time, cheaper GPU inference can displace some Ghost demand as open \
                    models improve.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Network Heterogeneity and Hardware Transitions",
            paragraph: None,
            quote: "Hybrid phase: GPU nodes running open models compete on price while Ghost \
                    nodes retain advantage for frontier-exclusive capabilities.",
        },
    ]
}

/// The mean of the first (or last) week of a daily series.
fn week(v: &[Point], first: bool) -> f64 {
    let k = v.len().min(7);
    let it: Box<dyn Iterator<Item = &Point>> = if first {
        Box::new(v.iter().take(k))
    } else {
        Box::new(v.iter().rev().take(k))
    };
    it.map(|p| p.y).sum::<f64>() / k.max(1) as f64
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some((d, m)) = run
        .scenario(SCENARIO)
        .and_then(|d| d.market.as_ref().map(|m| (d, m)))
    else {
        return missing(
            ID,
            TITLE,
            citations(),
            SCENARIO,
            &[(Kind::Finding, FINDING)],
        );
    };
    let md = &m.market_days;
    let days: Vec<f64> = f64s(md, "day")
        .into_iter()
        .map(|v| v.unwrap_or(0.0))
        .collect();
    let line = |c: &str| -> Vec<Point> {
        days.iter()
            .zip(f64s(md, c))
            .filter_map(|(x, y)| y.map(|y| Point::at(*x, y)))
            .collect()
    };
    let models: Vec<String> = m
        .summary
        .get("models")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut prices: Vec<Series> = models
        .iter()
        .map(|name| Series {
            label: name.clone(),
            style: Style::Line,
            points: line(&format!("price_index_{name}")),
        })
        .collect();
    prices.push(Series {
        label: "direct API price".into(),
        style: Style::Dashed,
        points: days.iter().map(|x| Point::at(*x, 1.0)).collect(),
    });
    let share = line("gpu_token_share");
    let ghosts = line("active_ghosts");
    let row = Row::finding(
        FINDING,
        Value::List(vec![
            (
                "GPU share, first week".into(),
                Value::Percent(week(&share, true)),
            ),
            (
                "GPU share, last week".into(),
                Value::Percent(week(&share, false)),
            ),
            (
                "active Ghosts, first day".into(),
                Value::num(ghosts.first().map_or(f64::NAN, |p| p.y), 0, ""),
            ),
            (
                "active Ghosts, last day".into(),
                Value::num(ghosts.last().map_or(f64::NAN, |p| p.y), 0, ""),
            ),
        ]),
        "As the scenario's open-model quality rises through the phases, GPU nodes take a \
         growing share of the tokens, prices of models with open substitutes fall towards the \
         GPU nodes' break-even, and Ghosts persist where no open model substitutes.",
    );
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![row],
        notes: vec![
            "Open-model quality follows the scenario's phase schedule (API-dominant, then \
             hybrid, then inference-dominant); GPU nodes price at their hardware break-even \
             at an assumed utilisation times a markup. The price index of a model is what \
             clients paid for its jobs over what the same jobs cost at the provider \
             directly; a cheap model's index is dominated by ecash granularity (a job pays \
             at least its first prepaid chunk in whole satoshi)."
                .into(),
        ],
        tables: vec![],
        figures: figures(prices, share),
        source: source(d),
    }
}

/// The price-index and GPU-share figures.
fn figures(prices: Vec<Series>, share: Vec<Point>) -> Vec<Figure> {
    vec![
        Figure {
            name: "price_index".into(),
            title: "Price index per model".into(),
            caption: "Σ paid / Σ direct API price of each model's served jobs, per day.".into(),
            x_label: "day".into(),
            y_label: "price over the direct API price".into(),
            series: prices,
        },
        Figure {
            name: "gpu_share".into(),
            title: "GPU nodes' share of output tokens".into(),
            caption: "Share of the day's output tokens served by GPU nodes.".into(),
            x_label: "day".into(),
            y_label: "GPU share of output tokens".into(),
            series: vec![Series {
                label: "GPU share".into(),
                style: Style::Line,
                points: share,
            }],
        },
    ]
}
