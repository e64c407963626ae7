//! The Ghost market, day by day (whitepaper "Inference Marketplace and Ghost
//! Nodes", "Ghost Node Unit Economics", "GPU Node Competition", "Why Users
//! Pay"). Ghost and GPU agents quote every day; jobs arrive on a diurnal
//! process, each asking for one model; each client chooses among the offers
//! it would pay for by logit; every job is paid through the [`Rail`] (the
//! protocol's quotes, meters and ecash). Ghosts close each day (profit, ban,
//! exit); would-be Ghosts enter, one a day, while the active Ghosts' mean
//! trailing profit clears a bar.
//!
//! A day runs in phases (`day.rs`): prices, then the choices (sequential,
//! cheap), then the payments, one independent rail per mint, in parallel
//! (clients are spread over the mints; every agent holds a wallet at each),
//! then the day's close and entry. The records are raw: per agent per day
//! and per job; `analysis` aggregates them.

use peer2prompt::ecash::MintConfig;
use peer2prompt::market::FxRate;

use super::choice::Tastes;
use super::demand::{Diurnal, Willingness};
use super::ghost::GhostEconomics;
use super::gpu::{GpuEconomics, Phases};
use super::lengths::OutputLengths;
use super::pricing::ModelPrices;
use super::rail::RailError;

mod day;
mod offers;
mod shard;

pub use day::AgentKind;

const DAY_S: f64 = 86_400.0;

/// Whether the market's sessions are onion-routed (recorded in the run
/// manifest; `Onion` and `Rail` give the same market, see the tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fidelity {
    /// Jobs are paid on the rail directly (long horizons).
    #[default]
    Rail,
    /// Every message of every job crosses a real onion circuit
    /// ([`super::carrier`]).
    Onion,
}

/// How Ghosts put their prices into quotes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PriceForm {
    /// Per input and output token, metered in prepaid chunks (the protocol's
    /// quotes as they are).
    #[default]
    PerToken,
    /// One price per request, set from the expected output length at the
    /// Ghost's per-token prices, carried by the quote as an input price
    /// (output tokens free). Exposed to heavy tails (whitepaper "Ghost Node
    /// Unit Economics": "quotes should include confidence margins or hard
    /// caps").
    PerRequest {
        /// Cap the output at the length the price still covers at the
        /// Ghost's own unit cost.
        capped: bool,
    },
}

/// A model clients ask for.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDemand {
    /// Name (as in the price list).
    pub name: String,
    /// The provider's own prices (what a job would cost directly).
    pub direct: ModelPrices,
    /// Capability, on the scale of the open-model quality `Phases`.
    pub quality: f64,
    /// Share of jobs asking for it (relative weight).
    pub weight: f64,
    /// Whether GPU nodes' open model can serve its jobs (false: a
    /// frontier-exclusive capability, whitepaper "Network Heterogeneity and Hardware Transitions": Ghost
    /// nodes retain advantage for frontier-exclusive capabilities).
    pub open_substitute: bool,
}

/// A Ghost in the market.
#[derive(Clone, Debug, PartialEq)]
pub struct GhostAgent {
    /// Index into [`MarketConfig::models`].
    pub model: usize,
    /// Its economics.
    pub economics: GhostEconomics,
    /// Run by the adversary (its sessions' exits are adversarial).
    pub adversary: bool,
    /// Expected time to first token through the network, s.
    pub latency_s: f64,
    /// Where it operates (clients may prefer their own).
    pub jurisdiction: u16,
}

/// A GPU node in the market: its hardware and the markup it asks over its
/// break-even price at an assumed utilisation. It serves every request with
/// the open model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuAgent {
    /// Hardware economics.
    pub hardware: GpuEconomics,
    /// Price = markup × break-even at `utilisation`.
    pub markup: f64,
    /// Utilisation assumed when pricing.
    pub utilisation: f64,
    /// Expected time to first token through the network, s.
    pub latency_s: f64,
    /// Where it operates.
    pub jurisdiction: u16,
}

/// A market to simulate.
#[derive(Clone, Debug)]
pub struct MarketConfig {
    /// Days simulated.
    pub days: u32,
    /// Master seed.
    pub seed: u64,
    /// The models asked for.
    pub models: Vec<ModelDemand>,
    /// The Ghosts present on day 0.
    pub ghosts: Vec<GhostAgent>,
    /// Would-be Ghosts, in order: at the end of a day on which the active
    /// Ghosts' mean trailing profit exceeds `entry_profit_usd_per_day`,
    /// the next one enters (at most one a day).
    pub entrants: Vec<GhostAgent>,
    /// The mean daily profit of active Ghosts that draws an entrant, USD.
    pub entry_profit_usd_per_day: f64,
    /// The GPU nodes.
    pub gpus: Vec<GpuAgent>,
    /// Open-model quality over time.
    pub phases: Phases,
    /// Number of clients.
    pub clients: u32,
    /// Jurisdictions; each client is in one, uniformly at random.
    pub jurisdictions: u16,
    /// Job arrivals, all clients together.
    pub arrivals: Diurnal,
    /// Willingness to pay over the direct price.
    pub willingness: Willingness,
    /// Clients' tastes.
    pub tastes: Tastes,
    /// Prompt tokens per job.
    pub input_tokens: u64,
    /// Output lengths asked for.
    pub output: OutputLengths,
    /// Output cap of every per-token quote (the model's limit).
    pub max_output_tokens: u32,
    /// How Ghosts quote.
    pub price_form: PriceForm,
    /// Prepaid chunk, msat.
    pub chunk_msat: u64,
    /// Funding per top-up, sat (a client tops up when it could not pay
    /// its next job's most expensive outcome).
    pub funding_sat: u64,
    /// Every mint's configuration.
    pub mint: MintConfig,
    /// Independent mints (clients are spread over them).
    pub mints: u32,
    /// Onion routing of the market's sessions.
    pub fidelity: Fidelity,
    /// Share of jobs kept in the job sample.
    pub job_sample: f64,
    /// Exchange rate.
    pub fx: FxRate,
}

/// One agent's day (Ghost or GPU node).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentDay {
    /// Day number.
    pub day: u32,
    /// Agent index (Ghosts, then GPU nodes, then entrants as they come).
    pub agent: u32,
    /// Whether a GPU node (else a Ghost).
    pub gpu: bool,
    /// Run by the adversary.
    pub adversary: bool,
    /// The model it serves (`open` for GPU nodes).
    pub model: String,
    /// Day it entered the market.
    pub entered_day: u32,
    /// Quoted input price, USD per million tokens (0 when inactive).
    pub quote_input_usd_per_mtok: f64,
    /// Quoted output price, USD per million tokens.
    pub quote_output_usd_per_mtok: f64,
    /// Capacity, tokens a day (GPU nodes: at the day's mean job shape).
    pub capacity_tokens: f64,
    /// Jobs served.
    pub requests: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Revenue, USD (ecash received, after the mint's settlement fees).
    pub revenue_usd: f64,
    /// Provider bill (Ghosts) or hardware busy time (GPU nodes), USD.
    pub api_usd: f64,
    /// Bandwidth, operations and policy risk (GPU nodes: idle hardware), USD.
    pub other_usd: f64,
    /// Profit, USD.
    pub profit_usd: f64,
    /// Banned today.
    pub banned: bool,
    /// Serving at the end of the day.
    pub active: bool,
}

/// One job: the quote it ran under and what came of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobRecord {
    /// Day of the run, from 0.
    pub day: u32,
    /// Arrival, seconds since the start.
    pub t_s: f64,
    /// Client index.
    pub client: u32,
    /// Model asked for (index into the run's `models`).
    pub model: u32,
    /// The chosen agent, if any offer was acceptable.
    pub agent: Option<u32>,
    /// Served by a GPU node.
    pub gpu: bool,
    /// Served by an adversarial Ghost.
    pub adversary: bool,
    /// Offers the client would have paid for.
    pub offers: u32,
    /// The chosen agent is in the client's jurisdiction.
    pub jurisdiction_match: bool,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens the answer would have had.
    pub asked_tokens: u64,
    /// Output tokens served (capped by the quote).
    pub output_tokens: u64,
    /// Quoted input price, msat per token.
    pub quote_input_msat: f64,
    /// Quoted output price, msat per token.
    pub quote_output_msat: f64,
    /// The quote's output cap.
    pub max_output_tokens: u32,
    /// Paid, USD.
    pub paid_usd: f64,
    /// The serving agent's variable cost of the job as served, USD.
    pub cost_usd: f64,
    /// The same job at the provider's direct price, USD.
    pub direct_usd: f64,
    /// The most the client would pay for it, USD.
    pub willing_usd: f64,
    /// Prepaid chunks paid.
    pub chunks: u32,
    /// In the seeded job sample.
    pub sampled: bool,
}

/// What a market run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MarketRun {
    /// Model names, by index.
    pub models: Vec<String>,
    /// Per agent per day.
    pub agent_days: Vec<AgentDay>,
    /// Every job.
    pub jobs: Vec<JobRecord>,
    /// Sat paid in by clients.
    pub funded_sat: u64,
    /// Sat held by services at the end.
    pub service_sat: u64,
    /// Sat held by clients at the end.
    pub client_sat: u64,
    /// Mint fees, sat.
    pub fees_sat: u64,
    /// Onion cells moved (full fidelity only).
    pub onion_cells: u64,
    /// Onion circuits built (full fidelity only).
    pub onion_circuits: u64,
}

/// Why a market could not run.
#[derive(Debug, thiserror::Error)]
pub enum MarketRunError {
    /// A payment failed.
    #[error("{0}")]
    Rail(#[from] RailError),
    /// The configuration is unusable.
    #[error("market configuration: {0}")]
    Config(&'static str),
}

/// Runs the market.
pub fn run(cfg: &MarketConfig) -> Result<MarketRun, MarketRunError> {
    run_with_progress(cfg, &|_| {})
}

/// Runs the market, telling `progress` the share of days done after each.
pub fn run_with_progress(
    cfg: &MarketConfig,
    progress: &dyn Fn(f64),
) -> Result<MarketRun, MarketRunError> {
    if cfg.models.is_empty() || cfg.models.iter().all(|m| m.weight <= 0.0) {
        return Err(MarketRunError::Config("no model with a positive weight"));
    }
    if cfg
        .ghosts
        .iter()
        .chain(&cfg.entrants)
        .any(|g| g.model >= cfg.models.len())
    {
        return Err(MarketRunError::Config("a Ghost serves an unknown model"));
    }
    day::Market::new(cfg)?.run(progress)
}

#[cfg(test)]
mod tests;
