//! The Ghost market's datasets (whitepaper "Ghost Node Unit Economics",
//! "GPU Node Competition"): raw per-agent-day and per-job records become
//! `ghost_days.parquet`, `market_days.parquet` and the seeded
//! `jobs.parquet` sample. Every aggregation is a polars expression.

use std::collections::BTreeMap;

use peer2prompt_sim::economics::market::MarketRun;
use peer2prompt_sim::scenario::Point;
use peer2prompt_sim::scenario::market::FidelitySpec;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::frame;
use crate::estimate::{Proportion, wilson};

/// `market.json`: what a market scenario measured, per sweep point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketSummary {
    /// Rail or onion fidelity.
    pub fidelity: Option<FidelitySpec>,
    /// Model names, by index.
    pub models: Vec<String>,
    /// One row per point.
    pub points: Vec<MarketPoint>,
}

/// One point's market: jobs served, who served them, prices and margins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketPoint {
    /// Sweep point.
    pub point: u32,
    /// Its swept values.
    pub params: Option<BTreeMap<String, serde_json::Value>>,
    /// Jobs paid and served.
    pub served: u64,
    /// The adversary's share of agent-days at the exits (configured).
    pub g: f64,
    /// The adversary's share of served jobs.
    pub g_eff: Proportion,
    /// Jobs whose payment was below the agent's cost.
    pub negative_jobs: Proportion,
    /// Jobs the quote's cap cut short.
    pub truncated_jobs: Proportion,
    /// Mean premium paid over the direct API price (none without jobs).
    pub mean_premium: Option<f64>,
    /// Ghosts' margin before other costs.
    pub ghost_margin: Option<f64>,
    /// The adversary's profit, USD.
    pub adversary_profit_usd: Option<f64>,
}

impl MarketSummary {
    /// The summary of `per_point` (from [`point_summary`]) at `level`.
    pub fn new(
        per_point: &DataFrame,
        points: &[Point],
        fidelity: Option<FidelitySpec>,
        models: &[String],
        level: f64,
    ) -> Self {
        let get = |c: &str, i: usize| -> Option<f64> {
            per_point
                .column(c)
                .ok()
                .and_then(|s| s.get(i).ok())
                .and_then(|v| v.try_extract::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let row = |i: usize| {
            let point = get("point", i).unwrap_or(0.0) as u32;
            let count = |c: &str| get(c, i).unwrap_or(0.0).max(0.0) as u64;
            let (served, exits) = (count("served"), count("exits"));
            MarketPoint {
                point,
                params: points
                    .iter()
                    .find(|p| p.index == point)
                    .map(|p| p.params.clone()),
                served,
                g: if exits > 0 {
                    count("adversary_exits") as f64 / exits as f64
                } else {
                    0.0
                },
                g_eff: wilson(count("adversary_jobs").min(served), served, level),
                negative_jobs: wilson(count("negative_jobs").min(served), served, level),
                truncated_jobs: wilson(count("truncated_jobs").min(served), served, level),
                mean_premium: get("mean_premium", i),
                ghost_margin: get("ghost_margin", i),
                adversary_profit_usd: get("adversary_profit_usd", i),
            }
        };
        MarketSummary {
            fidelity,
            models: models.to_vec(),
            points: (0..per_point.height()).map(row).collect(),
        }
    }
}

/// The raw per-agent-day table of one replicate.
pub fn agent_days_frame(run: &MarketRun, point: u32, replicate: u32) -> PolarsResult<DataFrame> {
    frame!(run.agent_days;
        "point" => |_| point,
        "replicate" => |_| replicate,
        "day" => |d| d.day,
        "agent" => |d| d.agent,
        "kind" => |d| if d.gpu { "gpu" } else { "ghost" },
        "adversary" => |d| d.adversary,
        "model" => |d| d.model.clone(),
        "entered_day" => |d| d.entered_day,
        "quote_input_usd_per_mtok" => |d| d.quote_input_usd_per_mtok,
        "quote_output_usd_per_mtok" => |d| d.quote_output_usd_per_mtok,
        "capacity_tokens" => |d| d.capacity_tokens,
        "requests" => |d| d.requests,
        "input_tokens" => |d| d.input_tokens,
        "output_tokens" => |d| d.output_tokens,
        "revenue_usd" => |d| d.revenue_usd,
        "api_usd" => |d| d.api_usd,
        "other_usd" => |d| d.other_usd,
        "profit_usd" => |d| d.profit_usd,
        "banned" => |d| d.banned,
        "active" => |d| d.active,
    )
}

/// The raw per-job table of one replicate.
pub fn jobs_frame(run: &MarketRun, point: u32, replicate: u32) -> PolarsResult<DataFrame> {
    let model = |i: u32| run.models.get(i as usize).cloned().unwrap_or_default();
    frame!(run.jobs;
        "point" => |_| point,
        "replicate" => |_| replicate,
        "day" => |j| j.day,
        "t_s" => |j| j.t_s,
        "client" => |j| j.client,
        "model" => |j| model(j.model),
        "agent" => |j| j.agent,
        "served_by" => |j| match (j.agent, j.gpu) {
            (None, _) => None,
            (Some(_), true) => Some("gpu"),
            (Some(_), false) => Some("ghost"),
        },
        "adversary" => |j| j.adversary,
        "offers" => |j| j.offers,
        "jurisdiction_match" => |j| j.jurisdiction_match,
        "input_tokens" => |j| j.input_tokens,
        "asked_tokens" => |j| j.asked_tokens,
        "output_tokens" => |j| j.output_tokens,
        "quote_input_msat_per_token" => |j| j.quote_input_msat,
        "quote_output_msat_per_token" => |j| j.quote_output_msat,
        "max_output_tokens" => |j| j.max_output_tokens,
        "paid_usd" => |j| j.paid_usd,
        "cost_usd" => |j| j.cost_usd,
        "direct_usd" => |j| j.direct_usd,
        "willing_usd" => |j| j.willing_usd,
        "chunks" => |j| j.chunks,
        "sampled" => |j| j.sampled,
    )
}

fn ratio(num: Expr, den: Expr) -> Expr {
    let den = den.cast(DataType::Float64);
    when(den.clone().gt(lit(0.0)))
        .then(num.cast(DataType::Float64) / den)
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// `ghost_days.parquet`: every agent-day with its margin (profit over
/// revenue; null without revenue) and utilisation (tokens over capacity).
pub fn ghost_days(agent_days: LazyFrame) -> LazyFrame {
    agent_days.with_columns([
        ratio(col("profit_usd"), col("revenue_usd")).alias("margin"),
        ratio(
            col("input_tokens") + col("output_tokens"),
            col("capacity_tokens"),
        )
        .alias("utilisation"),
    ])
}

/// `market_days.parquet`: per point, replicate and day: jobs, unserved,
/// active Ghost and GPU counts, the GPU share of output tokens, the mean
/// premium over the direct API price, the share of negative-expectation
/// jobs (paid below the server's realised cost), consumer surplus, the
/// adversary's share of served jobs (g_eff), and a price index per model
/// (Σ paid / Σ direct price of its served jobs; 1 = the provider's price).
pub fn market_days(jobs: LazyFrame, agent_days: LazyFrame, models: &[String]) -> LazyFrame {
    let keys = [col("point"), col("replicate"), col("day")];
    let served = || col("agent").is_not_null();
    let mut aggs = vec![
        len().alias("jobs"),
        col("agent").is_null().sum().alias("unserved"),
        ratio(
            col("output_tokens")
                .filter(col("served_by").eq(lit("gpu")))
                .sum(),
            col("output_tokens").filter(served()).sum(),
        )
        .alias("gpu_token_share"),
        (col("paid_usd") / col("direct_usd"))
            .filter(served())
            .mean()
            .alias("mean_premium"),
        col("paid_usd")
            .lt(col("cost_usd"))
            .filter(served())
            .cast(DataType::Float64)
            .mean()
            .alias("negative_jobs"),
        (col("willing_usd") - col("paid_usd"))
            .filter(served())
            .sum()
            .alias("consumer_surplus_usd"),
        col("adversary")
            .filter(served())
            .cast(DataType::Float64)
            .mean()
            .alias("adversary_share"),
    ];
    for m in models {
        let this = served().and(col("model").eq(lit(m.as_str())));
        aggs.push(
            ratio(
                col("paid_usd").filter(this.clone()).sum(),
                col("direct_usd").filter(this).sum(),
            )
            .alias(format!("price_index_{m}")),
        );
    }
    let by_jobs = jobs.group_by(keys.clone()).agg(aggs);
    let by_agents = agent_days.group_by(keys).agg([
        col("active")
            .and(col("kind").eq(lit("ghost")))
            .sum()
            .alias("active_ghosts"),
        col("active")
            .and(col("kind").eq(lit("gpu")))
            .sum()
            .alias("active_gpus"),
        col("profit_usd")
            .filter(col("kind").eq(lit("ghost")).and(col("active")))
            .mean()
            .alias("mean_ghost_profit_usd"),
    ]);
    by_agents
        .join(
            by_jobs,
            [col("point"), col("replicate"), col("day")],
            [col("point"), col("replicate"), col("day")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(
            ["point", "replicate", "day"],
            SortMultipleOptions::default(),
        )
}

/// `jobs.parquet`: the seeded sample of jobs.
pub fn jobs_sample(jobs: LazyFrame) -> LazyFrame {
    jobs.filter(col("sampled")).drop(cols(["sampled"]))
}

/// Per point: the adversary's share of exits (g: its Ghosts among all
/// Ghosts and GPU nodes present on day 0) and of served jobs (g_eff), the
/// negative-expectation and truncated jobs, and the Ghosts' margin (Σ profit
/// / Σ revenue over active Ghost-days).
pub fn point_summary(jobs: LazyFrame, agent_days: LazyFrame) -> LazyFrame {
    let served = || col("agent").is_not_null();
    let by_jobs = jobs.group_by([col("point")]).agg([
        served().sum().alias("served"),
        col("adversary")
            .filter(served())
            .sum()
            .alias("adversary_jobs"),
        col("paid_usd")
            .lt(col("cost_usd"))
            .filter(served())
            .sum()
            .alias("negative_jobs"),
        col("output_tokens")
            .lt(col("asked_tokens"))
            .filter(served())
            .sum()
            .alias("truncated_jobs"),
        (col("paid_usd") / col("direct_usd"))
            .filter(served())
            .mean()
            .alias("mean_premium"),
    ]);
    let ghost = || col("kind").eq(lit("ghost"));
    let first_day = || col("day").eq(lit(0u32)).and(col("replicate").eq(lit(0u32)));
    let by_agents = agent_days.group_by([col("point")]).agg([
        first_day().sum().alias("exits"),
        first_day()
            .and(col("adversary"))
            .sum()
            .alias("adversary_exits"),
        ratio(
            col("profit_usd").filter(ghost().and(col("active"))).sum(),
            col("revenue_usd").filter(ghost().and(col("active"))).sum(),
        )
        .alias("ghost_margin"),
        col("profit_usd")
            .filter(col("adversary"))
            .sum()
            .alias("adversary_profit_usd"),
    ]);
    by_agents
        .join(
            by_jobs,
            [col("point")],
            [col("point")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(["point"], SortMultipleOptions::default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use peer2prompt_sim::economics::market::{AgentDay, JobRecord};

    fn run() -> MarketRun {
        let job = |day, agent: Option<u32>, gpu, paid, cost, out| JobRecord {
            day,
            agent,
            gpu,
            model: 0,
            output_tokens: out,
            paid_usd: paid,
            cost_usd: cost,
            direct_usd: 1.0,
            willing_usd: 3.0,
            sampled: day == 0,
            ..JobRecord::default()
        };
        let ad = |day, agent, gpu, active| AgentDay {
            day,
            agent,
            gpu,
            active,
            revenue_usd: 2.0,
            profit_usd: 1.0,
            input_tokens: 50,
            output_tokens: 50,
            capacity_tokens: 400.0,
            ..AgentDay::default()
        };
        MarketRun {
            models: vec!["gpt-4o".into()],
            agent_days: vec![
                ad(0, 0, false, true),
                ad(0, 1, true, true),
                ad(1, 0, false, false),
                ad(1, 1, true, true),
            ],
            jobs: vec![
                job(0, Some(0), false, 2.0, 1.0, 100),
                job(0, Some(1), true, 1.0, 1.5, 300),
                job(0, None, false, 0.0, 0.0, 0),
                job(1, Some(1), true, 1.5, 0.5, 10),
            ],
            ..MarketRun::default()
        }
    }

    #[test]
    fn market_days_aggregate_the_jobs_of_each_day() {
        let r = run();
        let jobs = jobs_frame(&r, 0, 0).unwrap().lazy();
        let days = agent_days_frame(&r, 0, 0).unwrap().lazy();
        let md = market_days(jobs.clone(), days, &r.models)
            .collect()
            .unwrap();
        assert_eq!(md.height(), 2);
        let f = |c: &str, i: usize| {
            md.column(c)
                .unwrap()
                .get(i)
                .unwrap()
                .try_extract::<f64>()
                .unwrap()
        };
        assert_eq!(f("jobs", 0), 3.0);
        assert_eq!(f("unserved", 0), 1.0);
        assert_eq!(f("gpu_token_share", 0), 0.75);
        assert_eq!(f("mean_premium", 0), 1.5);
        assert_eq!(f("negative_jobs", 0), 0.5);
        assert_eq!(f("consumer_surplus_usd", 0), 3.0);
        assert_eq!(f("price_index_gpt-4o", 0), 1.5);
        assert_eq!(f("active_ghosts", 0), 1.0);
        assert_eq!(f("active_ghosts", 1), 0.0);
        assert_eq!(f("active_gpus", 1), 1.0);
        assert_eq!(f("gpu_token_share", 1), 1.0);
        let sample = jobs_sample(jobs).collect().unwrap();
        assert_eq!(sample.height(), 3);
        assert!(sample.column("sampled").is_err());
        let gd = ghost_days(agent_days_frame(&r, 0, 0).unwrap().lazy())
            .collect()
            .unwrap();
        let g = |c: &str| {
            gd.column(c)
                .unwrap()
                .get(0)
                .unwrap()
                .try_extract::<f64>()
                .unwrap()
        };
        assert_eq!(g("margin"), 0.5);
        assert_eq!(g("utilisation"), 0.25);
    }
}
