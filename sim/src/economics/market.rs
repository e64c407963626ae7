//! The Ghost market, day by day (whitepaper "Inference Marketplace and Ghost
//! Nodes", "Ghost Node Unit Economics", "GPU Node Competition", "Why Users
//! Pay"). Ghost and GPU agents quote every day; jobs arrive on a diurnal
//! process, each asking for one model; each client chooses among the offers
//! it would pay for by logit; every job is paid through the [`Rail`] (the
//! protocol's quotes, meters and ecash). Ghosts close each day (profit, ban,
//! exit); would-be Ghosts enter, one a day, while the active Ghosts' mean
//! trailing profit clears a bar.
//!
//! A day runs in two steps: the choices (sequential, cheap) and then the
//! payments, one independent rail per mint, in parallel (clients are spread
//! over the mints; every agent holds a wallet at each). The records are raw:
//! per agent per day and per job; `analysis` aggregates them.

use peer2prompt::ecash::MintConfig;
use peer2prompt::identity::NodeId;
use peer2prompt::market::{FxRate, Quote};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;

use super::choice::{self, Offer, Tastes};
use super::demand::{Diurnal, Willingness};
use super::ghost::{Day, GhostEconomics};
use super::gpu::{GpuEconomics, Phases};
use super::lengths::OutputLengths;
use super::pricing::ModelPrices;
use super::rail::{Rail, RailError};

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
    /// Days.
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
    /// Clients.
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
    /// Day.
    pub day: u32,
    /// Arrival, seconds since the start.
    pub t_s: f64,
    /// Client.
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

struct Agent {
    entered: u32,
    ghost: Option<GhostAgent>,
    gpu: Option<GpuAgent>,
    day: AgentDay,
}

impl Agent {
    fn active(&self) -> bool {
        self.ghost.as_ref().is_none_or(|g| g.economics.active)
    }
}

/// One mint's rail with its clients' and the agents' wallets.
struct Shard {
    rail: Rail,
    clients: Vec<usize>,
    agents: Vec<usize>,
}

/// A job chosen and waiting for payment.
struct Planned {
    record: usize,
    client: usize,
    agent: usize,
    quote: usize,
    output: u64,
}

/// What paying a job gave.
struct Settled {
    record: usize,
    paid_sat: u64,
    received_sat: u64,
    output_tokens: u64,
    chunks: u32,
}

impl Shard {
    fn pay(
        &mut self,
        jobs: &[(f64, Planned)],
        quotes: &[Option<Quote>],
        cfg: &MarketConfig,
    ) -> Result<Vec<Settled>, RailError> {
        let mut out = Vec::with_capacity(jobs.len());
        for (t, j) in jobs {
            self.rail
                .set_time(Instant::ZERO + Duration::from_secs_f64(*t));
            let Some(q) = quotes.get(j.quote).and_then(Option::as_ref) else {
                continue;
            };
            let wallet = self.clients[j.client];
            let service = self.agents[j.agent];
            // Enough for the most this job can cost, plus fees.
            let most_msat = q.input.cost_msat(cfg.input_tokens)
                + q.output.cost_msat(u64::from(q.max_output_tokens))
                + q.chunk_msat;
            let need = most_msat / 1000 + 64;
            if self.rail.balance(wallet) < need {
                self.rail.fund(wallet, cfg.funding_sat.max(2 * need))?;
            }
            let before = self.rail.balance(service);
            let paid = self
                .rail
                .job(wallet, service, q, cfg.input_tokens, j.output, 25)?;
            out.push(Settled {
                record: j.record,
                paid_sat: paid.paid_sat,
                received_sat: self.rail.balance(service).saturating_sub(before),
                output_tokens: paid.output_tokens,
                chunks: paid.chunks,
            });
        }
        Ok(out)
    }
}

/// Today's offer of one agent: per-Mtok prices, quality, the model it
/// serves (`None`: any, a GPU node), and its quote.
#[derive(Clone, Copy)]
struct Priced {
    input: f64,
    output: f64,
    quality: f64,
    model: Option<usize>,
    latency_s: f64,
    jurisdiction: u16,
}

/// The (input, output) USD-per-Mtok prices a Ghost puts in its quote, and
/// its output cap, for `form`.
fn ghost_quote_prices(
    g: &GhostEconomics,
    (pi, po): (f64, f64),
    cfg: &MarketConfig,
    mean_out: f64,
) -> (f64, f64, u32) {
    match cfg.price_form {
        PriceForm::PerToken => (pi, po, cfg.max_output_tokens),
        PriceForm::PerRequest { capped } => {
            let input = cfg.input_tokens as f64;
            let flat_usd = (pi * input + po * mean_out) / 1e6;
            let cap = if capped {
                let (cin, cout) = g.unit_cost_usd_per_mtok();
                let covered = (flat_usd * 1e6 - cin * input) / cout.max(1e-12);
                (covered.floor().max(1.0) as u32).min(cfg.max_output_tokens)
            } else {
                cfg.max_output_tokens
            };
            (flat_usd * 1e6 / input.max(1.0), 0.0, cap)
        }
    }
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
    let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed);
    let mints = cfg.mints.max(1) as usize;
    let mut shards: Vec<Shard> = (0..mints)
        .map(|m| {
            let seed = cfg.seed ^ 0x5eed ^ ((m as u64) << 32);
            let rail = Rail::new(cfg.mint.clone(), seed);
            let rail = match cfg.fidelity {
                Fidelity::Rail => rail,
                Fidelity::Onion => rail.with_onion(8, seed ^ 0x0a10),
            };
            Shard {
                rail,
                clients: Vec::new(),
                agents: Vec::new(),
            }
        })
        .collect();
    let mut agents: Vec<Agent> = cfg
        .ghosts
        .iter()
        .map(|g| Agent {
            entered: 0,
            ghost: Some(g.clone()),
            gpu: None,
            day: AgentDay::default(),
        })
        .chain(cfg.gpus.iter().map(|g| Agent {
            entered: 0,
            ghost: None,
            gpu: Some(*g),
            day: AgentDay::default(),
        }))
        .collect();
    // Client c banks at mint c mod M.
    let mut willing = Vec::with_capacity(cfg.clients as usize);
    let mut home = Vec::with_capacity(cfg.clients as usize);
    for _ in 0..cfg.clients {
        willing.push(cfg.willingness.draw(&mut rng));
        home.push((rng.next_u64() % u64::from(cfg.jurisdictions.max(1))) as u16);
    }
    // Every client's first funding, at its mint (mints in parallel).
    shards
        .par_iter_mut()
        .enumerate()
        .try_for_each(|(m, s)| -> Result<(), RailError> {
            for _ in (m..cfg.clients as usize).step_by(mints) {
                let w = s.rail.open_wallet()?;
                s.rail.fund(w, cfg.funding_sat)?;
                s.clients.push(w);
            }
            Ok(())
        })?;
    let weights: Vec<f64> = cfg.models.iter().map(|m| m.weight.max(0.0)).collect();
    let total_weight: f64 = weights.iter().sum();
    let mean_out = cfg.output.mean().min(f64::from(cfg.max_output_tokens));
    let input = cfg.input_tokens as f64;
    let job_usd = |p: ModelPrices, out: f64| {
        (p.input_usd_per_mtok * input + p.output_usd_per_mtok * out) / 1e6
    };
    let usd = |sat: u64| sat as f64 * 1000.0 / cfg.fx.msat_per_usd as f64;
    let mut out = MarketRun {
        models: cfg.models.iter().map(|m| m.name.clone()).collect(),
        ..MarketRun::default()
    };
    let mut t = 0.0;
    let mut entered = vec![false; cfg.entrants.len()];
    for day in 0..cfg.days {
        let start = f64::from(day) * DAY_S;
        let end = start + DAY_S;
        for s in &mut shards {
            while s.agents.len() < agents.len() {
                let w = s.rail.open_wallet()?;
                s.agents.push(w);
            }
        }
        // Today's prices: each active Ghost by its strategy (undercutting
        // the cheapest rival for the same model), each GPU node at its
        // break-even at the assumed utilisation times its markup.
        let open_quality = cfg.phases.quality(f64::from(day));
        let mut cheapest: Vec<Option<(f64, f64)>> = vec![None; cfg.models.len()];
        for g in agents.iter().filter_map(|a| a.ghost.as_ref()) {
            if g.economics.active {
                let p = g.economics.prices(None);
                let c = &mut cheapest[g.model];
                *c = Some(c.map_or(p, |c| (c.0.min(p.0), c.1.min(p.1))));
            }
        }
        let mut priced: Vec<Option<Priced>> = Vec::with_capacity(agents.len());
        let mut quotes: Vec<Option<Quote>> = Vec::with_capacity(agents.len());
        for (i, a) in agents.iter().enumerate() {
            let p = match (&a.ghost, &a.gpu) {
                (Some(g), _) if g.economics.active => {
                    let p = g.economics.prices(cheapest[g.model]);
                    Some((
                        Priced {
                            input: p.0,
                            output: p.1,
                            quality: cfg.models[g.model].quality,
                            model: Some(g.model),
                            latency_s: g.latency_s,
                            jurisdiction: g.jurisdiction,
                        },
                        ghost_quote_prices(&g.economics, p, cfg, mean_out),
                    ))
                }
                (_, Some(gpu)) => {
                    let h = &gpu.hardware;
                    let per_s = h.usd_per_hour / 3600.0 / gpu.utilisation.max(1e-9) * gpu.markup;
                    let pi = per_s / h.prefill_tokens_per_s.max(1e-9) * 1e6;
                    let po = per_s / h.decode_tokens_per_s.max(1e-9) * 1e6;
                    Some((
                        Priced {
                            input: pi,
                            output: po,
                            quality: open_quality,
                            model: None,
                            latency_s: gpu.latency_s,
                            jurisdiction: gpu.jurisdiction,
                        },
                        (pi, po, cfg.max_output_tokens),
                    ))
                }
                _ => None,
            };
            priced.push(p.map(|p| p.0));
            quotes.push(p.map(|(_, (qi, qo, cap))| {
                Quote {
                    service: NodeId([(i % 251) as u8; 32]),
                    model: a
                        .ghost
                        .as_ref()
                        .map_or("open".into(), |g| cfg.models[g.model].name.clone()),
                    input: cfg.fx.price(qi),
                    output: cfg.fx.price(qo),
                    max_output_tokens: cap,
                    chunk_msat: cfg.chunk_msat,
                    mints: vec!["mint://rail".into()],
                    valid_from: Instant::ZERO + Duration::from_secs_f64(start),
                    valid_until: Instant::ZERO + Duration::from_secs_f64(end),
                    serial: u64::from(day),
                }
            }));
        }
        for (i, a) in agents.iter_mut().enumerate() {
            let q = quotes[i].as_ref();
            a.day = AgentDay {
                day,
                agent: i as u32,
                gpu: a.gpu.is_some(),
                adversary: a.ghost.as_ref().is_some_and(|g| g.adversary),
                model: a
                    .ghost
                    .as_ref()
                    .map_or("open".into(), |g| cfg.models[g.model].name.clone()),
                entered_day: a.entered,
                quote_input_usd_per_mtok: priced[i].map_or(0.0, |p| p.input),
                quote_output_usd_per_mtok: priced[i].map_or(0.0, |p| p.output),
                capacity_tokens: match (&a.ghost, &a.gpu) {
                    (Some(g), _) => g.economics.capacity_tokens_per_day,
                    (_, Some(gpu)) => {
                        gpu.hardware.capacity_jobs_per_day(input, mean_out) * (input + mean_out)
                    }
                    _ => 0.0,
                },
                active: a.active() && q.is_some(),
                ..AgentDay::default()
            };
        }
        // The day's choices.
        let first_record = out.jobs.len();
        let mut planned: Vec<Vec<(f64, Planned)>> = (0..mints).map(|_| Vec::new()).collect();
        let mut busy_s = vec![0.0; agents.len()];
        let mut unserved = vec![0u64; cfg.models.len()];
        let mut tokens = vec![0.0; agents.len()];
        let (mut idx, mut offers) = (Vec::new(), Vec::new());
        while let Some(next) = cfg.arrivals.next_after(t, &mut rng) {
            t = next;
            if t >= end {
                break;
            }
            let c = (rng.next_u64() % u64::from(cfg.clients.max(1))) as usize;
            let mut pick = crate::rng::unit(&mut rng) * total_weight;
            let model = weights
                .iter()
                .position(|w| {
                    pick -= w;
                    pick < 0.0
                })
                .unwrap_or(weights.len() - 1);
            let direct = cfg.models[model].direct;
            let willing_usd = willing.get(c).copied().unwrap_or(1.0) * job_usd(direct, mean_out);
            idx.clear();
            offers.clear();
            for (i, p) in priced.iter().enumerate() {
                let Some(p) = p else { continue };
                let serves = match p.model {
                    Some(m) => m == model,
                    None => cfg.models[model].open_substitute,
                };
                if !serves {
                    continue;
                }
                let full = match (&agents[i].ghost, &agents[i].gpu) {
                    (Some(g), _) => tokens[i] >= g.economics.capacity_tokens_per_day,
                    (_, Some(gpu)) => busy_s[i] + gpu.hardware.busy_s(input, mean_out) > DAY_S,
                    _ => true,
                };
                if full {
                    continue;
                }
                let price = (p.input * input + p.output * mean_out) / 1e6;
                if price <= willing_usd {
                    idx.push(i);
                    offers.push(Offer {
                        quality: p.quality,
                        price_usd: price,
                        latency_s: p.latency_s,
                        jurisdiction_match: home.get(c) == Some(&p.jurisdiction),
                    });
                }
            }
            let shares = choice::shares(&offers, &cfg.tastes);
            let asked = cfg.output.sample(&mut rng);
            let sampled = crate::rng::unit(&mut rng) < cfg.job_sample;
            let mut rec = JobRecord {
                day,
                t_s: t,
                client: c as u32,
                model: model as u32,
                offers: offers.len() as u32,
                input_tokens: cfg.input_tokens,
                asked_tokens: asked,
                willing_usd,
                sampled,
                ..JobRecord::default()
            };
            if let Some(k) = choice::choose(&shares, &mut rng)
                && let Some(q) = quotes[idx[k]].as_ref()
            {
                let i = idx[k];
                let served = asked.min(u64::from(q.max_output_tokens));
                tokens[i] += input + served as f64;
                if let Some(gpu) = &agents[i].gpu {
                    busy_s[i] += gpu.hardware.busy_s(input, served as f64);
                }
                rec.agent = Some(i as u32);
                rec.jurisdiction_match = offers[k].jurisdiction_match;
                rec.gpu = agents[i].gpu.is_some();
                rec.adversary = agents[i].ghost.as_ref().is_some_and(|g| g.adversary);
                rec.quote_input_msat = q.input.msat_per_mtok as f64 / 1e6;
                rec.quote_output_msat = q.output.msat_per_mtok as f64 / 1e6;
                rec.max_output_tokens = q.max_output_tokens;
                planned[c % mints].push((
                    t,
                    Planned {
                        record: out.jobs.len(),
                        client: c / mints,
                        agent: i,
                        quote: i,
                        output: asked,
                    },
                ));
            }
            if rec.agent.is_none() {
                unserved[model] += 1;
            }
            out.jobs.push(rec);
        }
        // The day's payments, one rail per mint, in parallel.
        let settled: Vec<Settled> = shards
            .par_iter_mut()
            .zip(planned.par_iter())
            .map(|(s, jobs)| s.pay(jobs, &quotes, cfg))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        for s in settled {
            let rec = &mut out.jobs[s.record];
            let Some(i) = rec.agent.map(|i| i as usize) else {
                continue;
            };
            rec.output_tokens = s.output_tokens;
            rec.paid_usd = usd(s.paid_sat);
            rec.chunks = s.chunks;
            rec.direct_usd = job_usd(
                cfg.models[rec.model as usize].direct,
                s.output_tokens as f64,
            );
            let a = &mut agents[i];
            a.day.requests += 1;
            a.day.input_tokens += cfg.input_tokens;
            a.day.output_tokens += s.output_tokens;
            a.day.revenue_usd += usd(s.received_sat);
            let served = s.output_tokens as f64;
            rec.cost_usd = match (&a.ghost, &a.gpu) {
                (Some(g), _) => {
                    let up = g.economics.upstream;
                    a.day.api_usd += job_usd(up, served);
                    let (cin, cout) = g.economics.unit_cost_usd_per_mtok();
                    (cin * input + cout * served) / 1e6
                }
                (_, Some(gpu)) => {
                    let c = gpu.hardware.break_even_usd(input, served, 1.0);
                    a.day.api_usd += c;
                    c
                }
                _ => 0.0,
            };
        }
        debug_assert!(out.jobs[first_record..].iter().all(|j| j.day == day));
        // Close the day.
        for a in &mut agents {
            match (&mut a.ghost, &a.gpu) {
                (Some(g), _) => {
                    let g = &mut g.economics;
                    let was_active = g.active;
                    let d = Day {
                        revenue_usd: a.day.revenue_usd,
                        api_usd: a.day.api_usd,
                        input_tokens: a.day.input_tokens as f64,
                        output_tokens: a.day.output_tokens as f64,
                    };
                    if was_active {
                        let p = g.end_day(&d, crate::rng::unit(&mut rng));
                        a.day.profit_usd = p;
                        a.day.other_usd = d.revenue_usd - d.api_usd - p;
                    }
                    a.day.banned = g.banned && was_active;
                    a.day.active = g.active;
                }
                (_, Some(gpu)) => {
                    // The hardware is paid all day, busy or not.
                    let hw = gpu.hardware.usd_per_hour * 24.0;
                    a.day.other_usd = (hw - a.day.api_usd).max(0.0);
                    a.day.profit_usd = a.day.revenue_usd - hw;
                }
                _ => {}
            }
            out.agent_days.push(a.day.clone());
        }
        progress(f64::from(day + 1) / f64::from(cfg.days));
        // Entry: the next would-be Ghost enters when the active Ghosts' mean
        // daily profit clears the bar, or when the demand left unserved today
        // for its model would pay it more than the bar after its own costs
        // (shared with the Ghosts already selling that model).
        let trailing: Vec<f64> = agents
            .iter()
            .filter_map(|a| a.ghost.as_ref().filter(|g| g.economics.active))
            .map(|g| g.economics.trailing_profit() / g.economics.exit_window_days as f64)
            .collect();
        let mean = trailing.iter().sum::<f64>() / trailing.len().max(1) as f64;
        // The first waiting entrant whose model has room enters (at most
        // one a day).
        let room = |g: &GhostAgent| {
            let rivals = agents
                .iter()
                .filter_map(|a| a.ghost.as_ref())
                .filter(|r| r.economics.active && r.model == g.model)
                .count();
            let e = &g.economics;
            let (pi, po) = e.prices(cheapest[g.model]);
            let (ci, co) = e.unit_cost_usd_per_mtok();
            let per_job = ((pi - ci) * input + (po - co) * mean_out) / 1e6;
            let opportunity =
                unserved[g.model] as f64 * per_job / (rivals + 1) as f64 - e.costs.ops_usd_per_day;
            (!trailing.is_empty() && mean > cfg.entry_profit_usd_per_day)
                || opportunity > cfg.entry_profit_usd_per_day
        };
        if let Some(k) = (0..cfg.entrants.len()).find(|&k| !entered[k] && room(&cfg.entrants[k])) {
            entered[k] = true;
            agents.push(Agent {
                entered: day + 1,
                ghost: Some(cfg.entrants[k].clone()),
                gpu: None,
                day: AgentDay::default(),
            });
        }
    }
    for s in &shards {
        out.funded_sat += s.rail.funded_sat();
        out.service_sat += s.agents.iter().map(|w| s.rail.balance(*w)).sum::<u64>();
        out.client_sat += s.clients.iter().map(|w| s.rail.balance(*w)).sum::<u64>();
        out.fees_sat += s.rail.fees_sat();
        let (cells, circuits) = s.rail.onion_stats();
        out.onion_cells += cells;
        out.onion_circuits += circuits;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::ghost::{BanHazard, OtherCosts, Strategy};
    use super::super::lengths::TraceStats;
    use super::*;

    const GPT_4O: ModelPrices = ModelPrices {
        input_usd_per_mtok: 2.50,
        output_usd_per_mtok: 10.00,
    };

    fn ghost(strategy: Strategy, ops_usd_per_day: f64) -> GhostAgent {
        GhostAgent {
            model: 0,
            economics: GhostEconomics::new(
                GPT_4O,
                strategy,
                OtherCosts {
                    bandwidth_usd_per_mtok: 0.05,
                    ops_usd_per_day,
                    policy_risk_usd_per_mtok: 0.1,
                },
                BanHazard {
                    normal_tokens_per_day: 1e9,
                    per_excess_multiple: 0.0,
                },
                1e9,
                3,
            ),
            adversary: false,
            latency_s: 1.5,
            jurisdiction: 0,
        }
    }

    fn markup(factor: f64, ops: f64) -> GhostAgent {
        ghost(Strategy::FixedMarkup { factor }, ops)
    }

    pub(crate) fn config() -> MarketConfig {
        MarketConfig {
            days: 6,
            seed: 4,
            models: vec![ModelDemand {
                name: "gpt-4o".into(),
                direct: GPT_4O,
                quality: 1.0,
                weight: 1.0,
                open_substitute: true,
            }],
            ghosts: vec![markup(2.0, 0.01), markup(2.2, 0.01), markup(1.02, 50.0)],
            entrants: Vec::new(),
            entry_profit_usd_per_day: f64::INFINITY,
            gpus: vec![GpuAgent {
                hardware: GpuEconomics {
                    usd_per_hour: 1.0,
                    prefill_tokens_per_s: 5_000.0,
                    decode_tokens_per_s: 100.0,
                },
                markup: 1.5,
                utilisation: 0.5,
                latency_s: 1.0,
                jurisdiction: 1,
            }],
            phases: Phases {
                start: 0.6,
                end: 0.9,
                from_day: 2.0,
                to_day: 5.0,
            },
            clients: 20,
            jurisdictions: 2,
            arrivals: Diurnal {
                mean_per_s: 60.0 / DAY_S,
                amplitude: 0.5,
                peak_s: 50_000.0,
            },
            willingness: Willingness {
                median_premium: 1.5,
                sigma: 0.3,
            },
            tastes: Tastes {
                quality: 3.0,
                price_per_usd: 300.0,
                latency_per_s: 0.2,
                jurisdiction: 0.5,
            },
            input_tokens: 1_000,
            output: OutputLengths::fit(&TraceStats {
                mean: 125.0,
                median: None,
                p90: 276.0,
                p99: Some(1586.0),
                max: Some(12_500.0),
            })
            .unwrap(),
            max_output_tokens: 2_000,
            price_form: PriceForm::PerToken,
            chunk_msat: 5_000,
            funding_sat: 500,
            mint: MintConfig {
                input_fee_ppk: 100,
                ..MintConfig::default()
            },
            mints: 1,
            fidelity: Fidelity::Rail,
            job_sample: 0.5,
            fx: FxRate::default(),
        }
    }

    fn conserved(r: &MarketRun) {
        // Client payments in = service revenue + mint fees + unspent.
        assert_eq!(r.service_sat + r.client_sat + r.fees_sat, r.funded_sat);
    }

    #[test]
    fn market_value_is_conserved_and_a_losing_ghost_leaves() {
        let cfg = config();
        let r = run(&cfg).unwrap();
        conserved(&r);
        assert!(r.jobs.len() > 200);
        assert!(r.jobs.iter().all(|j| j.day < 6));
        // The 1.02x Ghost with $50 of operations a day loses money daily and
        // is gone once its 3-day window is full; the 2x Ghosts stay.
        let last = |agent: u32| {
            r.agent_days
                .iter()
                .rfind(|d| d.agent == agent)
                .unwrap()
                .clone()
        };
        assert!(!last(2).active && !last(2).banned);
        assert!(last(0).active && last(1).active);
        let left_on = r
            .agent_days
            .iter()
            .find(|d| d.agent == 2 && !d.active)
            .unwrap()
            .day;
        assert_eq!(left_on, 2);
        // Same seed, same market.
        assert_eq!(run(&cfg).unwrap(), r);
        // Revenue is what clients paid less settlement fees.
        let paid: f64 = r.jobs.iter().map(|j| j.paid_usd).sum();
        let revenue: f64 = r.agent_days.iter().map(|d| d.revenue_usd).sum();
        // (10% input fees on small chunks take a visible share.)
        assert!(revenue <= paid && revenue > 0.5 * paid, "{revenue} {paid}");
    }

    #[test]
    fn parallel_mints_conserve_value_and_are_deterministic() {
        let mut cfg = config();
        cfg.mints = 3;
        let r = run(&cfg).unwrap();
        conserved(&r);
        assert_eq!(run(&cfg).unwrap(), r);
        let served = r.jobs.iter().filter(|j| j.agent.is_some()).count();
        assert!(served > 200, "{served}");
    }

    #[test]
    fn onion_fidelity_gives_the_same_market() {
        let mut cfg = config();
        cfg.days = 2;
        cfg.clients = 6;
        cfg.arrivals.mean_per_s = 15.0 / DAY_S;
        let rail = run(&cfg).unwrap();
        cfg.fidelity = Fidelity::Onion;
        let onion = run(&cfg).unwrap();
        // The onion path really ran: a circuit per served job, cells on it.
        let served = onion.jobs.iter().filter(|j| j.agent.is_some()).count() as u64;
        assert!(served >= 10, "{served}");
        assert_eq!(onion.onion_circuits, served);
        assert!(onion.onion_cells > 6 * served);
        // And changed nothing in the market.
        let strip = |r: &MarketRun| MarketRun {
            onion_cells: 0,
            onion_circuits: 0,
            ..r.clone()
        };
        assert_eq!(strip(&onion), strip(&rail));
        assert_eq!(rail.onion_circuits, 0);
    }

    #[test]
    fn per_request_prices_lose_on_heavy_tails_unless_capped() {
        let mut cfg = config();
        cfg.gpus.clear();
        cfg.ghosts = vec![markup(2.0, 0.0), markup(2.0, 0.0)];
        cfg.price_form = PriceForm::PerRequest { capped: false };
        let loose = run(&cfg).unwrap();
        conserved(&loose);
        let below = |r: &MarketRun| {
            r.jobs
                .iter()
                .filter(|j| j.agent.is_some() && j.paid_usd < j.cost_usd)
                .count()
        };
        assert!(below(&loose) > 0);
        cfg.price_form = PriceForm::PerRequest { capped: true };
        let capped = run(&cfg).unwrap();
        conserved(&capped);
        assert_eq!(below(&capped), 0);
        assert!(capped.jobs.iter().any(|j| j.output_tokens < j.asked_tokens));
        // Metered per-token prices at 2x never lose on a job.
        cfg.price_form = PriceForm::PerToken;
        assert_eq!(below(&run(&cfg).unwrap()), 0);
    }

    #[test]
    fn a_profitable_market_draws_entrants_one_a_day() {
        let mut cfg = config();
        cfg.ghosts = vec![markup(2.5, 0.0)];
        cfg.entrants = vec![markup(2.0, 0.0), markup(2.0, 0.0), markup(2.0, 0.0)];
        cfg.entry_profit_usd_per_day = 0.0;
        let r = run(&cfg).unwrap();
        // The GPU node is agent 1 (agents are Ghosts, GPU nodes, then
        // entrants), so entrants are agents 2, 3 and 4.
        let entrants: Vec<u32> = (2..=4)
            .map(|a| {
                r.agent_days
                    .iter()
                    .find(|d| d.agent == a)
                    .map_or(u32::MAX, |d| d.entered_day)
            })
            .collect();
        assert_eq!(entrants, vec![1, 2, 3]);
        let active_day4 = r
            .agent_days
            .iter()
            .filter(|d| d.day == 4 && !d.gpu && d.active)
            .count();
        assert_eq!(active_day4, 4);
        conserved(&r);
        // A market that never clears the bar draws nobody.
        cfg.entry_profit_usd_per_day = 1e9;
        let none = run(&cfg).unwrap();
        assert!(none.agent_days.iter().all(|d| d.agent < 2));
    }

    #[test]
    fn unserved_demand_draws_an_entrant_into_an_empty_market() {
        let mut cfg = config();
        cfg.gpus.clear();
        // The only Ghost loses $50 a day and leaves; nobody serves GPT-4o.
        cfg.ghosts = vec![markup(1.02, 50.0)];
        // The first would-be Ghost resells a model nobody asks for: it
        // waits, and the GPT-4o one behind it enters.
        cfg.models.push(ModelDemand {
            name: "gpt-5-mini".into(),
            direct: GPT_4O,
            quality: 1.0,
            weight: 1e-9,
            open_substitute: true,
        });
        let mut idle = markup(2.0, 0.01);
        idle.model = 1;
        cfg.entrants = vec![idle, markup(2.0, 0.01)];
        cfg.entry_profit_usd_per_day = 0.05;
        cfg.days = 8;
        let r = run(&cfg).unwrap();
        // The GPT-4o entrant came first (agent 1); the other only once the
        // active Ghosts' profit cleared the bar.
        let first = r.agent_days.iter().find(|d| d.agent == 1).unwrap();
        assert_eq!(first.model, "gpt-4o");
        if let Some(second) = r.agent_days.iter().find(|d| d.agent == 2) {
            assert!(second.entered_day > first.entered_day);
        }
        let entered = r
            .agent_days
            .iter()
            .find(|d| d.agent == 1)
            .map(|d| d.entered_day);
        let left = r
            .agent_days
            .iter()
            .find(|d| d.agent == 0 && !d.active)
            .map(|d| d.day);
        assert!(
            matches!((entered, left), (Some(e), Some(l)) if e == l + 2),
            "{entered:?} {left:?}"
        );
        assert!(
            r.jobs
                .iter()
                .filter(|j| j.day == 7)
                .all(|j| j.agent == Some(1) || j.offers == 0)
        );
    }

    #[test]
    fn gpu_share_grows_as_open_models_improve() {
        let mut cfg = config();
        cfg.days = 8;
        cfg.phases = Phases {
            start: 0.3,
            end: 1.2,
            from_day: 1.0,
            to_day: 6.0,
        };
        let r = run(&cfg).unwrap();
        let share = |day: u32| {
            let (gpu, all) = r
                .jobs
                .iter()
                .filter(|j| j.day == day)
                .fold((0, 0), |(g, a), j| {
                    (g + u64::from(j.gpu) * j.output_tokens, a + j.output_tokens)
                });
            gpu as f64 / all.max(1) as f64
        };
        let (early, late) = (share(0), share(7));
        assert!(late > early + 0.2, "{early} -> {late}");
    }

    #[test]
    fn a_subsidized_adversary_gains_share_and_stays() {
        let mut cfg = config();
        cfg.gpus.clear();
        let mut adv = ghost(Strategy::Subsidized { factor: 0.8 }, 5.0);
        adv.adversary = true;
        cfg.ghosts = vec![markup(2.0, 0.0), markup(2.0, 0.0), markup(2.0, 0.0), adv];
        let r = run(&cfg).unwrap();
        let served: Vec<&JobRecord> = r.jobs.iter().filter(|j| j.agent.is_some()).collect();
        let g_eff = served.iter().filter(|j| j.adversary).count() as f64 / served.len() as f64;
        // One Ghost in four, but the cheapest by far.
        assert!(g_eff > 0.5, "{g_eff}");
        let adv_days: Vec<&AgentDay> = r.agent_days.iter().filter(|d| d.adversary).collect();
        assert!(adv_days.iter().all(|d| d.active));
        assert!(adv_days.iter().map(|d| d.profit_usd).sum::<f64>() < 0.0);
    }

    #[test]
    fn clients_prefer_fast_agents_in_their_own_jurisdiction() {
        let mut cfg = config();
        cfg.gpus.clear();
        cfg.days = 3;
        let mut slow = markup(2.0, 0.0);
        slow.latency_s = 6.0;
        let mut abroad = markup(2.0, 0.0);
        abroad.jurisdiction = 1;
        cfg.ghosts = vec![markup(2.0, 0.0), slow, abroad];
        cfg.jurisdictions = 2;
        cfg.tastes.latency_per_s = 0.5;
        cfg.tastes.jurisdiction = 1.0;
        let r = run(&cfg).unwrap();
        let share = |a: u32| {
            r.jobs.iter().filter(|j| j.agent == Some(a)).count() as f64
                / r.jobs.iter().filter(|j| j.agent.is_some()).count() as f64
        };
        // Utilities 0, -2.25 and 0 (+1 at home): the slow Ghost gets
        // e^-2.25 of the fast one's weight.
        assert!(share(1) < 0.15, "{}", share(1));
        assert!(share(0) > 0.3 && share(2) > 0.3);
        // A home agent is worth e^1 more: about 73% of jobs stay at home
        // (50% without the preference).
        let served: Vec<&JobRecord> = r.jobs.iter().filter(|j| j.agent.is_some()).collect();
        let home = served.iter().filter(|j| j.jurisdiction_match).count() as f64;
        assert!(
            home / served.len() as f64 > 0.62,
            "{home} of {}",
            served.len()
        );
        cfg.tastes.jurisdiction = 0.0;
        let r = run(&cfg).unwrap();
        let served: Vec<&JobRecord> = r.jobs.iter().filter(|j| j.agent.is_some()).collect();
        let home = served.iter().filter(|j| j.jurisdiction_match).count() as f64;
        assert!(
            home / (served.len() as f64) < 0.6,
            "{home} of {}",
            served.len()
        );
    }

    #[test]
    fn a_bad_configuration_is_an_error_not_a_panic() {
        let mut cfg = config();
        cfg.ghosts[0].model = 5;
        assert!(matches!(run(&cfg), Err(MarketRunError::Config(_))));
        cfg.models.clear();
        assert!(matches!(run(&cfg), Err(MarketRunError::Config(_))));
    }
}
