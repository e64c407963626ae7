//! The `market:` block (whitepaper "Inference Marketplace and Ghost Nodes",
//! "Ghost Node Unit Economics", "GPU Node Competition"): a scenario with it
//! runs the Ghost market ([`crate::economics::market`]) instead of the
//! network. Prices come from the embedded provider price list and output
//! lengths from the embedded trace table, both by name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::economics::ghost::Strategy;

mod config;
#[cfg(test)]
mod tests;

/// The market to simulate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    /// Simulated days.
    pub days: u32,
    /// `rail` (sessions paid on the rail, no onion routing: long horizons)
    /// or `onion` (every job's messages cross a real onion circuit). Recorded
    /// in the manifest with the scenario.
    #[serde(default)]
    pub fidelity: FidelitySpec,
    /// Independent mints; clients are spread over them and their payments
    /// run in parallel.
    #[serde(default = "one")]
    pub mints: u32,
    /// Mint input fee, parts per thousand per proof (NUT-02).
    #[serde(default)]
    pub mint_fee_ppk: u64,
    /// Number of clients.
    pub clients: u32,
    /// Jurisdictions: clients and agents are each in one (clients at
    /// random; Ghost groups and GPU nodes as set, or spread in turn), and
    /// `tastes.jurisdiction` rewards a match.
    #[serde(default = "one_u16")]
    pub jurisdictions: u16,
    /// Jobs per client per day, on average.
    pub jobs_per_client_per_day: f64,
    /// Daily cycle of arrivals: relative amplitude (0..1).
    #[serde(default = "half")]
    pub diurnal_amplitude: f64,
    /// Hour of the daily peak (0..24).
    #[serde(default = "peak_hour")]
    pub peak_hour: f64,
    /// Willingness to pay: the median premium over the direct API price a
    /// client accepts (1.5: 50% more), log-normal with `sigma`.
    pub willingness: WillingnessSpec,
    /// Logit weights of the clients' choice.
    pub tastes: TastesSpec,
    /// Prompt tokens per job.
    pub input_tokens: u64,
    /// The trace of `request_lengths.csv` output lengths are fitted to.
    pub output_trace: String,
    /// Output cap of per-token quotes (the model's limit), tokens.
    #[serde(default = "max_output")]
    pub max_output_tokens: u32,
    /// How Ghosts quote: `per_token` (metered) or `per_request`.
    #[serde(default)]
    pub price_form: PriceFormSpec,
    /// Prepaid chunk, msat.
    #[serde(default = "chunk")]
    pub chunk_msat: u64,
    /// Sat per wallet top-up.
    #[serde(default = "funding")]
    pub funding_sat: u64,
    /// Exchange rate, USD per bitcoin.
    #[serde(default = "btc_usd")]
    pub btc_usd: f64,
    /// Share of jobs kept in `jobs.parquet`.
    #[serde(default = "sample")]
    pub job_sample: f64,
    /// Models asked for, by price-list name.
    pub models: Vec<ModelSpec>,
    /// Ghosts present on day 0, in groups.
    pub ghosts: Vec<GhostGroup>,
    /// **Adversarial** Ghosts (whitepaper "Attack Economics": an adversary
    /// running exits, here possibly pricing below cost to attract
    /// sessions); their `adversary` flag is implied.
    #[serde(default)]
    pub adversary: Option<GhostGroup>,
    /// Would-be Ghosts entering while the market is profitable.
    #[serde(default)]
    pub entrants: Option<EntrantsSpec>,
    /// GPU nodes.
    #[serde(default)]
    pub gpus: Option<GpuSpec>,
    /// Open-model quality over time (scale of the models' `quality`).
    pub phases: PhasesSpec,
}

fn one() -> u32 {
    1
}
fn one_u16() -> u16 {
    1
}
fn half() -> f64 {
    0.5
}
fn peak_hour() -> f64 {
    14.0
}
fn max_output() -> u32 {
    4096
}
fn chunk() -> u64 {
    20_000
}
fn funding() -> u64 {
    2_000
}
fn btc_usd() -> f64 {
    100_000.0
}
fn sample() -> f64 {
    0.01
}
fn window() -> usize {
    7
}

/// Fidelity of the market's sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FidelitySpec {
    /// Paid on the rail, no onion routing.
    #[default]
    Rail,
    /// Onion-routed in process.
    Onion,
}

/// How Ghosts quote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PriceFormSpec {
    /// Per token, metered.
    #[default]
    PerToken,
    /// One price per request from the expected output.
    PerRequest {
        /// Cap the output where the price stops covering the cost.
        #[serde(default)]
        capped: bool,
    },
}

/// Log-normal willingness to pay.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WillingnessSpec {
    /// Median multiple of the direct price.
    pub median_premium: f64,
    /// Log-scale spread.
    pub sigma: f64,
}

/// Logit weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TastesSpec {
    /// Per unit of quality.
    pub quality: f64,
    /// Per USD of expected price (a disutility).
    pub price_per_usd: f64,
    /// Per second of expected time to first token (a disutility).
    #[serde(default)]
    pub latency_per_s: f64,
    /// Bonus of an agent in the client's jurisdiction.
    #[serde(default)]
    pub jurisdiction: f64,
}

/// A model clients ask for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Name in `llm_prices_usd_per_mtok.csv`.
    pub name: String,
    /// Capability (1: the frontier).
    #[serde(default = "unit")]
    pub quality: f64,
    /// Share of jobs (relative).
    #[serde(default = "unit")]
    pub weight: f64,
    /// Whether GPU nodes' open model can serve its jobs (false: a
    /// frontier-exclusive capability only Ghosts sell).
    #[serde(default = "yes")]
    pub open_substitute: bool,
}

fn yes() -> bool {
    true
}

fn unit() -> f64 {
    1.0
}

/// Costs, limits and hazards of a Ghost (whitepaper `C_bandwidth`, `C_ops`,
/// `C_policy_risk`; "Terms-of-Service and Account Survival").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GhostCostsSpec {
    /// Bandwidth, USD per million tokens.
    pub bandwidth_usd_per_mtok: f64,
    /// Operations, USD per day.
    pub ops_usd_per_day: f64,
    /// Priced-in policy risk, USD per million tokens.
    pub policy_risk_usd_per_mtok: f64,
    /// Rate limit, tokens per day.
    pub capacity_tokens_per_day: f64,
    /// The account's normal daily volume, tokens.
    pub normal_tokens_per_day: f64,
    /// Daily ban probability per multiple of normal volume beyond it.
    pub ban_per_excess_multiple: f64,
    /// Leaves when the profit over its window is negative; each Ghost's
    /// window is drawn uniformly from half to one and a half times this
    /// many days (operators differ in patience, so a losing market sheds
    /// Ghosts gradually rather than all on one day).
    #[serde(default = "window")]
    pub exit_window_days: usize,
}

/// A group of identical Ghosts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GhostGroup {
    /// How many.
    pub count: u32,
    /// Model resold (a `models` name).
    pub model: String,
    /// How this agent sets its daily price.
    pub strategy: Strategy,
    /// Costs and limits.
    pub costs: GhostCostsSpec,
    /// Run by the adversary.
    #[serde(default)]
    pub adversary: bool,
    /// Expected time to first token through the network, s (provider
    /// latency plus the onion route).
    #[serde(default = "ghost_latency")]
    pub latency_s: f64,
    /// Jurisdiction of the group (unset: Ghosts spread over them in turn).
    #[serde(default)]
    pub jurisdiction: Option<u16>,
}

fn ghost_latency() -> f64 {
    1.5
}
fn gpu_latency() -> f64 {
    1.0
}

/// Would-be Ghosts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntrantsSpec {
    /// How many may come (one a day at most), reselling the `models` in
    /// turn.
    pub count: u32,
    /// Mean daily profit of the active Ghosts that draws the next one, USD.
    pub entry_profit_usd_per_day: f64,
    /// How this agent sets its daily price.
    pub strategy: Strategy,
    /// Costs and limits.
    pub costs: GhostCostsSpec,
}

/// GPU nodes (all alike).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// How many.
    pub count: u32,
    /// Hardware, USD per hour.
    pub usd_per_hour: f64,
    /// Prompt throughput, tokens/s.
    pub prefill_tokens_per_s: f64,
    /// Generation throughput, tokens/s.
    pub decode_tokens_per_s: f64,
    /// Price = markup × break-even at `utilisation`.
    pub markup: f64,
    /// Utilisation assumed when pricing.
    pub utilisation: f64,
    /// Expected time to first token through the network, s.
    #[serde(default = "gpu_latency")]
    pub latency_s: f64,
}

/// Open-model quality: `start` until `from_day`, rising linearly to `end`
/// at `to_day`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhasesSpec {
    /// Quality at first.
    pub start: f64,
    /// Quality at the end.
    pub end: f64,
    /// Day the rise starts.
    pub from_day: f64,
    /// Day it ends.
    pub to_day: f64,
}
