//! The `market:` block (whitepaper "Inference Marketplace and Ghost Nodes",
//! "Ghost Node Unit Economics", "GPU Node Competition"): a scenario with it
//! runs the Ghost market ([`crate::economics::market`]) instead of the
//! network. Prices come from the embedded provider price list and output
//! lengths from the embedded trace table, both by name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use peer2prompt::ecash::MintConfig;
use peer2prompt::market::FxRate;

use crate::economics::choice::Tastes;
use crate::economics::demand::{Diurnal, Willingness};
use crate::economics::ghost::{BanHazard, GhostEconomics, OtherCosts, Strategy};
use crate::economics::gpu::{GpuEconomics, Phases};
use crate::economics::lengths::OutputLengths;
use crate::economics::market::{
    Fidelity, GhostAgent, GpuAgent, MarketConfig, ModelDemand, PriceForm,
};
use crate::economics::reference;
use rand_chacha::ChaCha20Rng;

use crate::rng::{Purpose, Streams, entity};

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

type Bad = (String, String);

fn bad(path: &str, msg: impl Into<String>) -> Bad {
    (format!("market.{path}"), msg.into())
}

/// Where an agent is and how fast it answers.
#[derive(Clone, Copy)]
struct Placement {
    latency_s: f64,
    jurisdiction: u16,
}

fn ghost(
    model: usize,
    strategy: Strategy,
    c: &GhostCostsSpec,
    upstream: crate::economics::pricing::ModelPrices,
    adversary: bool,
    at: Placement,
    rng: &mut ChaCha20Rng,
) -> GhostAgent {
    let base = c.exit_window_days.max(1) as u64;
    let lo = (base / 2).max(1);
    let window = lo + crate::rng::index(rng, (base + base / 2 - lo + 1) as usize) as u64;
    GhostAgent {
        model,
        economics: GhostEconomics::new(
            upstream,
            strategy,
            OtherCosts {
                bandwidth_usd_per_mtok: c.bandwidth_usd_per_mtok,
                ops_usd_per_day: c.ops_usd_per_day,
                policy_risk_usd_per_mtok: c.policy_risk_usd_per_mtok,
            },
            BanHazard {
                normal_tokens_per_day: c.normal_tokens_per_day,
                per_excess_multiple: c.ban_per_excess_multiple,
            },
            c.capacity_tokens_per_day,
            window as usize,
        ),
        adversary,
        latency_s: at.latency_s,
        jurisdiction: at.jurisdiction,
    }
}

impl MarketSpec {
    /// Checks every field; `Err((dotted path, message))`.
    pub fn validate(&self) -> Result<(), Bad> {
        self.config(0).map(|_| ())
    }

    /// The market configuration for `seed`.
    pub fn config(&self, seed: u64) -> Result<MarketConfig, Bad> {
        let positive = |v: f64, path: &str| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(bad(path, format!("expected a positive number, got {v}")))
            }
        };
        if self.days == 0 {
            return Err(bad("days", "expected at least 1 day"));
        }
        if self.clients == 0 {
            return Err(bad("clients", "expected at least 1 client"));
        }
        if self.mints == 0 || self.mints > 64 {
            return Err(bad("mints", "expected 1 to 64 mints"));
        }
        positive(self.jobs_per_client_per_day, "jobs_per_client_per_day")?;
        if !(0.0..1.0).contains(&self.diurnal_amplitude) {
            return Err(bad("diurnal_amplitude", "expected 0 <= amplitude < 1"));
        }
        if !(0.0..=1.0).contains(&self.job_sample) {
            return Err(bad("job_sample", "expected a share in [0, 1]"));
        }
        positive(self.btc_usd, "btc_usd")?;
        positive(
            self.willingness.median_premium,
            "willingness.median_premium",
        )?;
        if self.input_tokens == 0 {
            return Err(bad("input_tokens", "expected at least 1 token"));
        }
        let stats = reference::trace(&self.output_trace).ok_or_else(|| {
            let names: Vec<String> = reference::traces().into_iter().map(|t| t.0).collect();
            bad(
                "output_trace",
                format!(
                    "unknown trace {:?}; request_lengths.csv lists {}",
                    self.output_trace,
                    names.join(", ")
                ),
            )
        })?;
        let output = OutputLengths::fit(&stats).map_err(|e| bad("output_trace", e))?;
        if self.models.is_empty() {
            return Err(bad("models", "expected at least one model"));
        }
        let mut models = Vec::new();
        for (i, m) in self.models.iter().enumerate() {
            let direct = reference::list_price(&m.name).ok_or_else(|| {
                let names: Vec<String> = reference::price_list()
                    .into_iter()
                    .map(|p| p.model)
                    .collect();
                bad(
                    &format!("models[{i}].name"),
                    format!(
                        "{:?} is not in llm_prices_usd_per_mtok.csv ({})",
                        m.name,
                        names.join(", ")
                    ),
                )
            })?;
            positive(m.weight, &format!("models[{i}].weight"))?;
            models.push(ModelDemand {
                name: m.name.clone(),
                direct,
                quality: m.quality,
                weight: m.weight,
                open_substitute: m.open_substitute,
            });
        }
        let model_of = |name: &str, path: &str| {
            models
                .iter()
                .position(|m| m.name == name)
                .ok_or_else(|| bad(path, format!("{name:?} is not one of the market's models")))
        };
        let check_costs = |c: &GhostCostsSpec, path: &str| -> Result<(), Bad> {
            positive(
                c.capacity_tokens_per_day,
                &format!("{path}.capacity_tokens_per_day"),
            )?;
            positive(
                c.normal_tokens_per_day,
                &format!("{path}.normal_tokens_per_day"),
            )?;
            for (v, f) in [
                (c.bandwidth_usd_per_mtok, "bandwidth_usd_per_mtok"),
                (c.ops_usd_per_day, "ops_usd_per_day"),
                (c.policy_risk_usd_per_mtok, "policy_risk_usd_per_mtok"),
                (c.ban_per_excess_multiple, "ban_per_excess_multiple"),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(&format!("{path}.{f}"), "expected a number >= 0"));
                }
            }
            Ok(())
        };
        if self.jurisdictions == 0 {
            return Err(bad("jurisdictions", "expected at least 1"));
        }
        let jurisdictions = self.jurisdictions;
        // Each Ghost's patience (exit window), drawn from the run's seed.
        let mut rng = Streams::new(seed).stream(entity::WORLD, Purpose::MarketPatience);
        let mut ghosts = Vec::new();
        for (i, g) in self.ghosts.iter().enumerate() {
            let path = format!("ghosts[{i}]");
            let m = model_of(&g.model, &format!("{path}.model"))?;
            check_costs(&g.costs, &format!("{path}.costs"))?;
            for _ in 0..g.count {
                let at = Placement {
                    latency_s: g.latency_s,
                    jurisdiction: g
                        .jurisdiction
                        .unwrap_or(ghosts.len() as u16 % jurisdictions),
                };
                let (s, c, up) = (g.strategy, &g.costs, models[m].direct);
                ghosts.push(ghost(m, s, c, up, g.adversary, at, &mut rng));
            }
        }
        if let Some(g) = &self.adversary {
            let m = model_of(&g.model, "adversary.model")?;
            check_costs(&g.costs, "adversary.costs")?;
            for _ in 0..g.count {
                let at = Placement {
                    latency_s: g.latency_s,
                    jurisdiction: g
                        .jurisdiction
                        .unwrap_or(ghosts.len() as u16 % jurisdictions),
                };
                let (s, c, up) = (g.strategy, &g.costs, models[m].direct);
                ghosts.push(ghost(m, s, c, up, true, at, &mut rng));
            }
        }
        let (entrants, entry_profit) = match &self.entrants {
            Some(e) => {
                check_costs(&e.costs, "entrants.costs")?;
                let list = (0..e.count as usize)
                    .map(|k| {
                        let m = k % models.len();
                        let at = Placement {
                            latency_s: ghost_latency(),
                            jurisdiction: (k % usize::from(jurisdictions)) as u16,
                        };
                        ghost(
                            m,
                            e.strategy,
                            &e.costs,
                            models[m].direct,
                            false,
                            at,
                            &mut rng,
                        )
                    })
                    .collect();
                (list, e.entry_profit_usd_per_day)
            }
            None => (Vec::new(), f64::INFINITY),
        };
        let gpus = match &self.gpus {
            Some(g) => {
                positive(g.usd_per_hour, "gpus.usd_per_hour")?;
                positive(g.prefill_tokens_per_s, "gpus.prefill_tokens_per_s")?;
                positive(g.decode_tokens_per_s, "gpus.decode_tokens_per_s")?;
                positive(g.markup, "gpus.markup")?;
                positive(g.utilisation, "gpus.utilisation")?;
                (0..g.count)
                    .map(|k| GpuAgent {
                        hardware: GpuEconomics {
                            usd_per_hour: g.usd_per_hour,
                            prefill_tokens_per_s: g.prefill_tokens_per_s,
                            decode_tokens_per_s: g.decode_tokens_per_s,
                        },
                        markup: g.markup,
                        utilisation: g.utilisation,
                        latency_s: g.latency_s,
                        jurisdiction: (k % u32::from(jurisdictions)) as u16,
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        if ghosts.is_empty() && gpus.is_empty() {
            return Err(bad("ghosts", "expected at least one Ghost or GPU node"));
        }
        if self.phases.to_day < self.phases.from_day {
            return Err(bad("phases.to_day", "expected to_day >= from_day"));
        }
        Ok(MarketConfig {
            days: self.days,
            seed,
            models,
            ghosts,
            entrants,
            entry_profit_usd_per_day: entry_profit,
            gpus,
            phases: Phases {
                start: self.phases.start,
                end: self.phases.end,
                from_day: self.phases.from_day,
                to_day: self.phases.to_day,
            },
            clients: self.clients,
            jurisdictions,
            arrivals: Diurnal {
                mean_per_s: f64::from(self.clients) * self.jobs_per_client_per_day / 86_400.0,
                amplitude: self.diurnal_amplitude,
                peak_s: self.peak_hour * 3600.0,
            },
            willingness: Willingness {
                median_premium: self.willingness.median_premium,
                sigma: self.willingness.sigma,
            },
            tastes: Tastes {
                quality: self.tastes.quality,
                price_per_usd: self.tastes.price_per_usd,
                latency_per_s: self.tastes.latency_per_s,
                jurisdiction: self.tastes.jurisdiction,
            },
            input_tokens: self.input_tokens,
            output,
            max_output_tokens: self.max_output_tokens.max(1),
            price_form: match self.price_form {
                PriceFormSpec::PerToken => PriceForm::PerToken,
                PriceFormSpec::PerRequest { capped } => PriceForm::PerRequest { capped },
            },
            chunk_msat: self.chunk_msat.max(1000),
            funding_sat: self.funding_sat.max(1),
            mint: MintConfig {
                input_fee_ppk: self.mint_fee_ppk,
                ..MintConfig::default()
            },
            mints: self.mints,
            fidelity: match self.fidelity {
                FidelitySpec::Rail => Fidelity::Rail,
                FidelitySpec::Onion => Fidelity::Onion,
            },
            job_sample: self.job_sample,
            fx: FxRate {
                msat_per_usd: (1e11 / self.btc_usd).round().max(1.0) as u64,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use super::super::{ScenarioError, load_str};

    const DOC: &str = "name: m
seed: 3
market:
  days: 3
  clients: 10
  jobs_per_client_per_day: 2.0
  willingness: {median_premium: 2.0, sigma: 0.3}
  tastes: {quality: 2.0, price_per_usd: 100.0}
  input_tokens: 500
  output_trace: sharegpt
  models:
    - {name: gpt-4o}
    - {name: MODEL}
  ghosts:
    - count: 4
      model: gpt-4o
      strategy: {kind: fixed_markup, factor: 2.0}
      costs: {bandwidth_usd_per_mtok: 0.0, ops_usd_per_day: 0.0, policy_risk_usd_per_mtok: 0.0, capacity_tokens_per_day: 1.0e6, normal_tokens_per_day: 1.0e6, ban_per_excess_multiple: 0.0, exit_window_days: 8}
  adversary:
    count: 2
    model: gpt-4o
    strategy: {kind: subsidized, factor: 0.8}
    costs: {bandwidth_usd_per_mtok: 0.0, ops_usd_per_day: 0.0, policy_risk_usd_per_mtok: 0.0, capacity_tokens_per_day: 1.0e6, normal_tokens_per_day: 1.0e6, ban_per_excess_multiple: 0.0}
  phases: {start: 0.5, end: 0.9, from_day: 1, to_day: 2}
sweep:
  list:
    - {market.adversary.strategy: {kind: subsidized, factor: 0.8}}
    - {market.adversary.strategy: {kind: subsidized, factor: 0.6}}
";

    #[test]
    fn a_market_scenario_loads_without_a_network_and_sweeps() {
        let l = load_str(Path::new("m.yaml"), &DOC.replace("MODEL", "gpt-5-mini")).unwrap();
        assert_eq!(l.points.len(), 2);
        let m = l.points[1].scenario.market.as_ref().unwrap();
        let cfg = m.config(7).unwrap();
        assert_eq!(cfg.ghosts.len(), 6);
        assert_eq!(cfg.ghosts.iter().filter(|g| g.adversary).count(), 2);
        assert_eq!(cfg.models[1].direct.output_usd_per_mtok, 2.0);
        assert!((cfg.arrivals.mean_per_s - 20.0 / 86_400.0).abs() < 1e-12);
        // Exit windows: uniform on [4, 12] around 8, drawn per Ghost.
        let windows: Vec<usize> = cfg.ghosts[..4]
            .iter()
            .map(|g| g.economics.exit_window_days)
            .collect();
        assert!(windows.iter().all(|w| (4..=12).contains(w)), "{windows:?}");
        assert_eq!(m.config(7).unwrap().ghosts, cfg.ghosts);
        let r = crate::economics::market::run(&cfg).unwrap();
        assert_eq!(r.service_sat + r.client_sat + r.fees_sat, r.funded_sat);
    }

    #[test]
    fn a_bad_model_is_named_with_its_file_line_and_field() {
        let e = load_str(Path::new("m.yaml"), DOC).unwrap_err();
        let ScenarioError::Field {
            file,
            line,
            path,
            message,
            ..
        } = e
        else {
            panic!("{e}");
        };
        assert_eq!(file, Path::new("m.yaml"));
        assert_eq!(path, "market.models[1].name");
        assert_eq!(line, 13, "{message}");
        assert!(
            message.contains("MODEL") && message.contains("gpt-4o"),
            "{message}"
        );
        let e = load_str(
            Path::new("m.yaml"),
            &DOC.replace("MODEL", "gpt-4o").replace("sharegpt", "nope"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("market.output_trace") && e.contains("burstgpt"),
            "{e}"
        );
        let e = load_str(
            Path::new("m.yaml"),
            &DOC.replace("MODEL", "gpt-4o")
                .replace("  days: 3", "  dayz: 3"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("dayz"), "{e}");
    }
}
