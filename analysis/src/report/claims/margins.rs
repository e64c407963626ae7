//! The Ghost's margin at a 2x markup. The worked example (GPT-4o at
//! $2.50/$10 resold at $5/$20, "~50% margin per query") is the design
//! notes', not the whitepaper's, and its 50% holds by arithmetic: a sanity
//! check. The test is the margin the 2x Ghosts realised in the market,
//! before the documented other costs, against that ~50%; after them it is
//! a finding.

use polars::prelude::*;

use super::super::common::{f64s, missing, source};
use super::super::data::{MarketData, Run};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, bootstrap};
use crate::summary::LEVEL;
use peer2prompt::market::FxRate;
use peer2prompt_sim::economics::pricing::{self, ModelPrices};

const ID: &str = "worked_example";
const TITLE: &str = "Ghost margin at a 2x markup";
const SCENARIO: &str = "ghost_market";
const SANITY: &str = "the worked example: $5/$20 over $2.50/$10 is a 50% margin";
const TEST: &str = "realised margin of the 2x GPT-4o Ghosts, before other costs";
const FINDING: &str = "realised margin after bandwidth, operations and policy risk";

/// The worked example's upstream prices (GPT-4o).
const GPT_4O: ModelPrices = ModelPrices {
    input_usd_per_mtok: 2.50,
    output_usd_per_mtok: 10.00,
};

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::DesignNotes,
            section: "Economics:",
            paragraph: None,
            quote: "Ghost's profit: ~50% margin per query",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Ghost Node Unit Economics",
            paragraph: None,
            quote: "Rational Ghost serves if P > C.",
        },
    ]
}

/// The worked example through the protocol's price arithmetic.
fn worked_example() -> Row {
    let fx = FxRate::default();
    let (input, output) = (1_000u64, 500u64);
    let (pin, pout) = pricing::markup(GPT_4O, 2.0, fx);
    let price = pin.cost_msat(input) + pout.cost_msat(output);
    let cost = pricing::api_cost(GPT_4O, fx).cost_msat(input, output);
    let margin = pricing::margin(price, cost);
    Row::sanity(
        SANITY,
        Value::Percent(0.5),
        Value::List(vec![
            ("quoted".into(), Value::num(price as f64, 0, " msat")),
            ("API cost".into(), Value::num(cost as f64, 0, " msat")),
            ("margin".into(), Value::Percent(margin)),
        ]),
        "the protocol's `Price` and `CostModel` at $100,000 per bitcoin, for a job of 1,000 \
         input and 500 output tokens: twice the cost is a 50% margin by definition",
        margin == 0.5,
    )
}

/// Per 2x GPT-4o Ghost: (revenue, API bill, other costs), USD.
fn ghosts(m: &MarketData) -> Option<Vec<(f64, f64, f64)>> {
    let df = m
        .ghost_days
        .clone()
        .lazy()
        .filter(
            col("kind")
                .eq(lit("ghost"))
                .and(col("model").eq(lit("gpt-4o")))
                .and(col("quote_input_usd_per_mtok").eq(lit(5.0)))
                .and(col("adversary").not()),
        )
        .group_by([col("point"), col("replicate"), col("agent")])
        .agg([
            col("revenue_usd").sum().alias("revenue"),
            col("api_usd").sum().alias("api"),
            col("other_usd").sum().alias("other"),
        ])
        .filter(col("revenue").gt(lit(0.0)))
        .sort(
            ["point", "replicate", "agent"],
            SortMultipleOptions::default(),
        )
        .collect()
        .ok()?;
    let (r, a, o) = (f64s(&df, "revenue"), f64s(&df, "api"), f64s(&df, "other"));
    Some(
        r.iter()
            .zip(&a)
            .zip(&o)
            .filter_map(|((r, a), o)| Some(((*r)?, (*a)?, (*o)?)))
            .collect(),
    )
}

/// A margin over Ghosts, with a 95% bootstrap interval resampling Ghosts.
fn margin(g: &[(f64, f64, f64)], after_costs: bool, seed: u64) -> Mean {
    let idx: Vec<f64> = (0..g.len()).map(|i| i as f64).collect();
    let stat = |v: &[f64]| {
        let (mut rev, mut cost) = (0.0, 0.0);
        for &i in v {
            let (r, a, o) = g[i as usize];
            rev += r;
            cost += a + if after_costs { o } else { 0.0 };
        }
        if rev > 0.0 {
            (rev - cost) / rev
        } else {
            f64::NAN
        }
    };
    bootstrap(&idx, stat, 1000, LEVEL, seed)
}

/// The section.
pub fn section(run: &Run) -> Section {
    let sanity = worked_example();
    let Some(d) = run.scenario(SCENARIO) else {
        let mut s = missing(
            ID,
            TITLE,
            citations(),
            SCENARIO,
            &[(Kind::Test, TEST), (Kind::Finding, FINDING)],
        );
        s.rows.insert(0, sanity);
        return s;
    };
    let g = d.market.as_ref().and_then(ghosts).unwrap_or_default();
    let mut rows = vec![sanity];
    let mut table = Table::new(
        "The 2x GPT-4o Ghosts' margin (profit over revenue), 95% bootstrap over Ghosts.",
        &["case", "design notes", "measured"],
    );
    if g.is_empty() {
        rows.push(Row::not_measured(
            Kind::Test,
            TEST,
            "no 2x GPT-4o Ghost earned anything",
        ));
        rows.push(Row::not_measured(
            Kind::Finding,
            FINDING,
            "no 2x GPT-4o Ghost earned anything",
        ));
    } else {
        let before = margin(&g, false, 0x3a26_0001);
        let after = margin(&g, true, 0x3a26_0002);
        rows.push(Row::test(
            TEST,
            Value::Percent(0.5),
            Value::interval(before, 3, ""),
            &format!(
                "(Σ revenue − Σ API bill) / Σ revenue over the {} 2x GPT-4o Ghosts that \
                 earned anything; 95% percentile bootstrap resampling Ghosts (1,000 \
                 resamples); consistent when the interval covers 0.5",
                g.len()
            ),
            before.lo <= 0.5 && 0.5 <= before.hi,
        ));
        rows.push(Row::finding(
            FINDING,
            Value::interval(after, 3, ""),
            "With the scenario's documented other costs (bandwidth $0.02 and policy risk \
             $0.25 per million tokens, operations $0.17 a day) the margin depends on how \
             many jobs a Ghost wins, not on its markup: at tens of jobs a day the daily \
             operations outweigh the markup.",
        ));
        table.rows.push(vec![
            Value::text("before other costs"),
            Value::text("~50%"),
            Value::interval(before, 3, ""),
        ]);
        table.rows.push(vec![
            Value::text("after bandwidth, operations and policy risk"),
            Value::None,
            Value::interval(after, 3, ""),
        ]);
    }
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: vec![
            "Revenue is the ecash each Ghost received after the mint's settlement fees. The \
             realised margin before other costs can exceed 50%: clients prepay in whole \
             chunks of satoshi and a service keeps the unused part of the last one, a \
             property of the protocol's meters, not of the market model."
                .into(),
        ],
        tables: vec![table],
        figures: vec![],
        source: source(d),
    }
}
