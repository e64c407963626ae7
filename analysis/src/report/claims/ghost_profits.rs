//! Ghost profits against the whitepaper's fifth goal ("Rational
//! participants should profit by honest service under normal market
//! conditions"), and the design notes' "early adopters earn the most" as a
//! finding.

use polars::prelude::*;

use super::super::common::{f64s, missing, source};
use super::super::data::{MarketData, Run};
use super::super::{Citation, Kind, Row, Section, Source, Value};
use crate::estimate::{t_interval, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "ghost_profits";
const TITLE: &str = "Ghost profits and early adopters";
const SCENARIO: &str = "ghost_market";
const TEST: &str = "a majority of honest Ghosts profit over the run";
const FINDING: &str = "mean daily profit of day-0 Ghosts against entrants";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Goals",
            paragraph: None,
            quote: "Align incentives. Rational participants should profit by honest service \
                    under normal market conditions.",
        },
        Citation {
            source: Source::DesignNotes,
            section: "Idea 5: The Peer2Prompt Protocol (Current Best — Synthesis)",
            paragraph: None,
            quote: "Early adopters earn the most (fewer nodes competing for query volume).",
        },
    ]
}

/// Per honest Ghost: (entry day, total profit, profit per active day).
fn per_ghost(m: &MarketData) -> Option<Vec<(f64, f64, f64)>> {
    let g = m
        .ghost_days
        .clone()
        .lazy()
        .filter(col("kind").eq(lit("ghost")).and(col("adversary").not()))
        .group_by([col("point"), col("replicate"), col("agent")])
        .agg([
            col("entered_day").first().alias("entered_day"),
            col("profit_usd").sum().alias("profit_usd"),
            col("active").sum().alias("days_active"),
        ])
        .with_columns([when(col("days_active").gt(lit(0)))
            .then(col("profit_usd") / col("days_active").cast(DataType::Float64))
            .otherwise(col("profit_usd"))
            .alias("profit_per_day")])
        .sort(["profit_usd"], SortMultipleOptions::default())
        .collect()
        .ok()?;
    let (e, p, d) = (
        f64s(&g, "entered_day"),
        f64s(&g, "profit_usd"),
        f64s(&g, "profit_per_day"),
    );
    Some(
        e.iter()
            .zip(&p)
            .zip(&d)
            .filter_map(|((e, p), d)| Some(((*e)?, (*p)?, (*d)?)))
            .collect(),
    )
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [(Kind::Test, TEST), (Kind::Finding, FINDING)];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let ghosts = d.market.as_ref().and_then(per_ghost).unwrap_or_default();
    if ghosts.is_empty() {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    }
    let n = ghosts.len() as u64;
    let profitable = ghosts.iter().filter(|g| g.1 > 0.0).count() as u64;
    let share = wilson(profitable, n, LEVEL);
    let split = |early: bool| -> Vec<f64> {
        ghosts
            .iter()
            .filter(|g| (g.0 == 0.0) == early)
            .map(|g| g.2)
            .collect()
    };
    let (early, late) = (split(true), split(false));
    let (te, tl) = (t_interval(&early, LEVEL), t_interval(&late, LEVEL));
    let rows = vec![
        Row::test(
            TEST,
            Value::text("more than 50% of honest Ghosts with positive profit"),
            Value::Proportion(share),
            "share of honest Ghosts whose revenue exceeded API bill, bandwidth, operations \
             and policy risk over the days they were active, with its 95% Wilson interval; \
             the goal's \"should profit\" read as a majority; consistent unless the \
             interval lies below 50%",
            share.hi >= 0.5,
        ),
        Row::finding(
            FINDING,
            Value::List(vec![
                (
                    format!("{} day-0 Ghosts", early.len()),
                    Value::interval(te, 3, " USD/day"),
                ),
                (
                    format!("{} entrants", late.len()),
                    Value::interval(tl, 3, " USD/day"),
                ),
            ]),
            "Entrants arrive when the market is profitable and share it with the incumbents; \
             a lower daily profit for later entrants would support the design notes' claim, \
             overlapping intervals do not. The design notes' claim, not the whitepaper's.",
        ),
    ];
    let dist: Vec<Point> = ghosts
        .iter()
        .enumerate()
        .map(|(i, g)| Point::at((i + 1) as f64 / n as f64, g.1))
        .collect();
    let scatter: Vec<Point> = ghosts.iter().map(|g| Point::at(g.0, g.2)).collect();
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "Each Ghost's profit is its ecash revenue less its API bill, bandwidth, policy \
             risk and operations, over the days it was active; a Ghost leaves when its \
             trailing profit over its window is negative, and would-be Ghosts enter one a \
             day while the active Ghosts' mean daily profit clears the entry bar. The \
             market's conditions (supply, demand, costs) are the scenario's, stated in \
             `09_ghost_market.yaml`; whether they are \"normal\" is the reader's call."
                .into(),
        ],
        tables: vec![],
        figures: figures(dist, scatter),
        source: source(d),
    }
}

/// The profit distribution and profit-against-entry figures.
fn figures(dist: Vec<Point>, scatter: Vec<Point>) -> Vec<Figure> {
    vec![
        Figure {
            name: "ghost_profit_distribution".into(),
            title: "Profit across honest Ghosts".into(),
            caption: "Each honest Ghost's total profit over the run, Ghosts sorted by \
                      profit (x: cumulative share of Ghosts)."
                .into(),
            x_label: "share of Ghosts (sorted by profit)".into(),
            y_label: "profit over the run (USD)".into(),
            series: vec![Series {
                label: "Ghosts".into(),
                style: Style::Line,
                points: dist,
            }],
        },
        Figure {
            name: "ghost_profit_vs_entry".into(),
            title: "Earnings against entry day".into(),
            caption: "Each honest Ghost's mean profit per active day against the day it \
                      entered the market (0: present from the start)."
                .into(),
            x_label: "entry day".into(),
            y_label: "profit per active day (USD)".into(),
            series: vec![Series {
                label: "Ghosts".into(),
                style: Style::Points,
                points: scatter,
            }],
        },
    ]
}
