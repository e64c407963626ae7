//! From a `market:` block to the market's configuration: every field is
//! checked (errors name the dotted path) and each Ghost's patience is drawn
//! from the run's `Streams` (ARCHITECTURE.md, "Invariants": results depend
//! only on the seed).

use peer2prompt::ecash::MintConfig;
use peer2prompt::market::FxRate;
use rand_chacha::ChaCha20Rng;

use super::{FidelitySpec, GhostCostsSpec, GhostGroup, MarketSpec, PriceFormSpec, ghost_latency};
use crate::economics::choice::Tastes;
use crate::economics::demand::{Diurnal, Willingness};
use crate::economics::ghost::{BanHazard, GhostEconomics, OtherCosts, Strategy};
use crate::economics::gpu::{GpuEconomics, Phases};
use crate::economics::lengths::OutputLengths;
use crate::economics::market::{
    Fidelity, GhostAgent, GpuAgent, MarketConfig, ModelDemand, PriceForm,
};
use crate::economics::pricing::ModelPrices;
use crate::economics::reference;
use crate::rng::{Purpose, Streams, entity};

/// A refusal: (dotted path under `market.`, message).
type Bad = (String, String);

fn bad(path: &str, msg: impl Into<String>) -> Bad {
    (format!("market.{path}"), msg.into())
}

fn positive(v: f64, path: &str) -> Result<f64, Bad> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(path, format!("expected a positive number, got {v}")))
    }
}

/// The market's agents as checked and drawn.
struct Agents {
    ghosts: Vec<GhostAgent>,
    entrants: Vec<GhostAgent>,
    /// Mean daily profit of the active Ghosts that admits an entrant.
    entry_profit: f64,
    gpus: Vec<GpuAgent>,
}

/// Where an agent is and how fast it answers.
#[derive(Clone, Copy)]
struct Placement {
    latency_s: f64,
    jurisdiction: u16,
}

/// One Ghost; its exit window is drawn uniformly from ½–1½ × the
/// configured days.
fn ghost(
    model: usize,
    strategy: Strategy,
    c: &GhostCostsSpec,
    upstream: ModelPrices,
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

fn check_costs(c: &GhostCostsSpec, path: &str) -> Result<(), Bad> {
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
}

impl MarketSpec {
    /// Checks every field; `Err((dotted path, message))`.
    pub fn validate(&self) -> Result<(), Bad> {
        self.config(0).map(|_| ())
    }

    /// The market configuration for `seed`.
    pub fn config(&self, seed: u64) -> Result<MarketConfig, Bad> {
        self.check_scalars()?;
        let output = self.output_lengths()?;
        let models = self.model_demand()?;
        if self.jurisdictions == 0 {
            return Err(bad("jurisdictions", "expected at least 1"));
        }
        // Each Ghost's patience (exit window), drawn from the run's seed.
        let mut rng = Streams::new(seed).stream(entity::WORLD, Purpose::MarketPatience);
        let ghosts = self.ghost_agents(&models, &mut rng)?;
        let (entrants, entry_profit) = self.entrant_agents(&models, &mut rng)?;
        let gpus = self.gpu_agents()?;
        if ghosts.is_empty() && gpus.is_empty() {
            return Err(bad("ghosts", "expected at least one Ghost or GPU node"));
        }
        if self.phases.to_day < self.phases.from_day {
            return Err(bad("phases.to_day", "expected to_day >= from_day"));
        }
        let agents = Agents {
            ghosts,
            entrants,
            entry_profit,
            gpus,
        };
        Ok(self.assemble(seed, output, models, agents))
    }

    /// The fields that stand alone, in the order they are checked.
    fn check_scalars(&self) -> Result<(), Bad> {
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
        Ok(())
    }

    /// The output-length sampler fitted to the named trace.
    fn output_lengths(&self) -> Result<OutputLengths, Bad> {
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
        OutputLengths::fit(&stats).map_err(|e| bad("output_trace", e))
    }

    /// Each model's direct list price and demand weight.
    fn model_demand(&self) -> Result<Vec<ModelDemand>, Bad> {
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
        Ok(models)
    }

    /// The Ghost groups, then the adversary's group, in that order.
    fn ghost_agents(
        &self,
        models: &[ModelDemand],
        rng: &mut ChaCha20Rng,
    ) -> Result<Vec<GhostAgent>, Bad> {
        let mut ghosts = Vec::new();
        for (i, g) in self.ghosts.iter().enumerate() {
            self.push_group(
                g,
                &format!("ghosts[{i}]"),
                g.adversary,
                models,
                &mut ghosts,
                rng,
            )?;
        }
        if let Some(g) = &self.adversary {
            self.push_group(g, "adversary", true, models, &mut ghosts, rng)?;
        }
        Ok(ghosts)
    }

    /// Appends `g.count` Ghosts; without a jurisdiction they are dealt
    /// round-robin by their index in the market.
    fn push_group(
        &self,
        g: &GhostGroup,
        path: &str,
        adversary: bool,
        models: &[ModelDemand],
        ghosts: &mut Vec<GhostAgent>,
        rng: &mut ChaCha20Rng,
    ) -> Result<(), Bad> {
        let m = models
            .iter()
            .position(|d| d.name == g.model)
            .ok_or_else(|| {
                bad(
                    &format!("{path}.model"),
                    format!("{:?} is not one of the market's models", g.model),
                )
            })?;
        check_costs(&g.costs, &format!("{path}.costs"))?;
        for _ in 0..g.count {
            let at = Placement {
                latency_s: g.latency_s,
                jurisdiction: g
                    .jurisdiction
                    .unwrap_or(ghosts.len() as u16 % self.jurisdictions),
            };
            let (s, c, up) = (g.strategy, &g.costs, models[m].direct);
            ghosts.push(ghost(m, s, c, up, adversary, at, rng));
        }
        Ok(())
    }

    /// Would-be Ghosts (models dealt round-robin) and the profit that
    /// admits them; none without an `entrants:` block.
    fn entrant_agents(
        &self,
        models: &[ModelDemand],
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<GhostAgent>, f64), Bad> {
        let Some(e) = &self.entrants else {
            return Ok((Vec::new(), f64::INFINITY));
        };
        check_costs(&e.costs, "entrants.costs")?;
        let list = (0..e.count as usize)
            .map(|k| {
                let m = k % models.len();
                let at = Placement {
                    latency_s: ghost_latency(),
                    jurisdiction: (k % usize::from(self.jurisdictions)) as u16,
                };
                ghost(m, e.strategy, &e.costs, models[m].direct, false, at, rng)
            })
            .collect();
        Ok((list, e.entry_profit_usd_per_day))
    }

    /// The GPU nodes, dealt round-robin over the jurisdictions.
    fn gpu_agents(&self) -> Result<Vec<GpuAgent>, Bad> {
        let Some(g) = &self.gpus else {
            return Ok(Vec::new());
        };
        positive(g.usd_per_hour, "gpus.usd_per_hour")?;
        positive(g.prefill_tokens_per_s, "gpus.prefill_tokens_per_s")?;
        positive(g.decode_tokens_per_s, "gpus.decode_tokens_per_s")?;
        positive(g.markup, "gpus.markup")?;
        positive(g.utilisation, "gpus.utilisation")?;
        Ok((0..g.count)
            .map(|k| GpuAgent {
                hardware: GpuEconomics {
                    usd_per_hour: g.usd_per_hour,
                    prefill_tokens_per_s: g.prefill_tokens_per_s,
                    decode_tokens_per_s: g.decode_tokens_per_s,
                },
                markup: g.markup,
                utilisation: g.utilisation,
                latency_s: g.latency_s,
                jurisdiction: (k % u32::from(self.jurisdictions)) as u16,
            })
            .collect())
    }

    /// The checked parts with demand, clients' tastes, phases and payment
    /// read as written.
    fn assemble(
        &self,
        seed: u64,
        output: OutputLengths,
        models: Vec<ModelDemand>,
        agents: Agents,
    ) -> MarketConfig {
        MarketConfig {
            days: self.days,
            seed,
            models,
            ghosts: agents.ghosts,
            entrants: agents.entrants,
            entry_profit_usd_per_day: agents.entry_profit,
            gpus: agents.gpus,
            phases: Phases {
                start: self.phases.start,
                end: self.phases.end,
                from_day: self.phases.from_day,
                to_day: self.phases.to_day,
            },
            clients: self.clients,
            jurisdictions: self.jurisdictions,
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
        }
    }
}
