//! The market as a type with one method per phase of a day (whitepaper
//! "Inference Marketplace and Ghost Nodes", "Ghost Node Unit Economics"):
//! price the day, arrivals and choice, settle, close the day, admit an
//! entrant. Every draw comes from the run's [`Streams`]; every quote is a
//! [`SignedQuote`] under the agent's own identity, checked by the client's
//! side of the rail before it pays.

use std::sync::Arc;

use peer2prompt::identity::{Identity, IdentityParams};
use peer2prompt::market::{Quote, SignedQuote};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;

use super::super::choice::{self, Offer};
use super::super::ghost::Day;
use super::super::rail::{Rail, RailError};
use super::offers::{Load, Priced, direct_usd, ghost_quote_prices, job_usd};
use super::shard::{Planned, Settled, Shard, shard};
use super::{
    AgentDay, DAY_S, GhostAgent, GpuAgent, JobRecord, MarketConfig, MarketRun, MarketRunError,
};
use crate::rng::{self, Purpose, Streams, entity};

/// What an agent is.
#[derive(Clone, Debug)]
pub enum AgentKind {
    /// Resells a provider's model.
    Ghost(GhostAgent),
    /// Serves the open model on its own hardware.
    Gpu(GpuAgent),
}

pub(super) struct Agent {
    entered: u32,
    pub kind: AgentKind,
    identity: Arc<Identity>,
    day: AgentDay,
}

impl Agent {
    fn ghost(&self) -> Option<&GhostAgent> {
        match &self.kind {
            AgentKind::Ghost(g) => Some(g),
            AgentKind::Gpu(_) => None,
        }
    }

    fn active(&self) -> bool {
        self.ghost().is_none_or(|g| g.economics.active)
    }

    fn adversary(&self) -> bool {
        self.ghost().is_some_and(|g| g.adversary)
    }

    fn model_name(&self, cfg: &MarketConfig) -> String {
        self.ghost()
            .map_or("open".into(), |g| cfg.models[g.model].name.clone())
    }
}

/// One client: how much over the direct price it would pay, and where.
struct Client {
    willing: f64,
    home: u16,
}

/// The day's offers and quotes, by agent.
struct Today {
    priced: Vec<Option<Priced>>,
    quotes: Vec<Option<SignedQuote>>,
    /// The cheapest active Ghost's prices per model.
    cheapest: Vec<Option<(f64, f64)>>,
}

/// The day's choices: jobs to pay per mint, and demand nobody served.
struct Choices {
    planned: Vec<Vec<(f64, Planned)>>,
    unserved: Vec<u64>,
}

/// The market over one configuration.
pub(super) struct Market<'a> {
    cfg: &'a MarketConfig,
    streams: Streams,
    /// Arrivals, clients, models, lengths and choices.
    demand: ChaCha20Rng,
    /// Ghosts' end-of-day fates (bans).
    fates: ChaCha20Rng,
    shards: Vec<Shard>,
    agents: Vec<Agent>,
    clients: Vec<Client>,
    entered: Vec<bool>,
    t: f64,
    out: MarketRun,
}

impl<'a> Market<'a> {
    /// Agents, clients and mints, every client funded once at its mint
    /// (client `c` banks at mint `c mod M`; mints in parallel).
    pub fn new(cfg: &'a MarketConfig) -> Result<Self, MarketRunError> {
        let streams = Streams::new(cfg.seed);
        let mut clients_rng = streams.stream(entity::WORLD, Purpose::MarketClients);
        let clients = (0..cfg.clients)
            .map(|_| Client {
                willing: cfg.willingness.draw(&mut clients_rng),
                home: rng::index(&mut clients_rng, usize::from(cfg.jurisdictions.max(1))) as u16,
            })
            .collect();
        let mut m = Market {
            cfg,
            streams,
            demand: streams.stream(entity::WORLD, Purpose::MarketDemand),
            fates: streams.stream(entity::WORLD, Purpose::MarketFates),
            shards: (0..cfg.mints.max(1))
                .map(|i| shard(cfg, &streams, i))
                .collect(),
            agents: Vec::new(),
            clients,
            entered: vec![false; cfg.entrants.len()],
            t: 0.0,
            out: MarketRun {
                models: cfg.models.iter().map(|m| m.name.clone()).collect(),
                ..MarketRun::default()
            },
        };
        let kinds: Vec<AgentKind> = cfg
            .ghosts
            .iter()
            .cloned()
            .map(AgentKind::Ghost)
            .chain(cfg.gpus.iter().copied().map(AgentKind::Gpu))
            .collect();
        for kind in kinds {
            m.add_agent(kind, 0);
        }
        m.fund_clients()?;
        Ok(m)
    }

    fn add_agent(&mut self, kind: AgentKind, entered: u32) {
        let i = self.agents.len() as u64;
        let mut r = self.streams.stream(i, Purpose::Identity);
        let identity = Arc::new(Identity::generate_with(&mut r, IdentityParams::default()));
        self.agents.push(Agent {
            entered,
            kind,
            identity,
            day: AgentDay::default(),
        });
    }

    fn fund_clients(&mut self) -> Result<(), RailError> {
        let (cfg, mints) = (self.cfg, self.shards.len());
        self.shards
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(m, s)| -> Result<(), RailError> {
                for _ in (m..cfg.clients as usize).step_by(mints) {
                    let w = s.rail.open_wallet()?;
                    s.rail.fund(w, cfg.funding_sat)?;
                    s.clients.push(w);
                }
                Ok(())
            })
    }

    /// Runs every day, telling `progress` the share done after each.
    pub fn run(mut self, progress: &dyn Fn(f64)) -> Result<MarketRun, MarketRunError> {
        for day in 0..self.cfg.days {
            self.open_agent_wallets()?;
            let today = self.price_day(day);
            let choices = self.arrivals(day, &today);
            self.settle(&today, &choices.planned)?;
            self.close_day();
            progress(f64::from(day + 1) / f64::from(self.cfg.days));
            self.admit_entrant(day, &today, &choices.unserved);
        }
        Ok(self.finish())
    }

    /// Every agent holds a wallet at every mint.
    fn open_agent_wallets(&mut self) -> Result<(), RailError> {
        for s in &mut self.shards {
            while s.agents.len() < self.agents.len() {
                let w = s.rail.open_wallet()?;
                s.agents.push(w);
            }
        }
        Ok(())
    }

    // ----- price the day ----------------------------------------------------

    /// Today's prices: each active Ghost by its strategy (undercutting the
    /// cheapest rival for the same model), each GPU node at its break-even
    /// at the assumed utilisation times its markup; each signed into the
    /// agent's quote for the day.
    fn price_day(&mut self, day: u32) -> Today {
        let cfg = self.cfg;
        let mut cheapest: Vec<Option<(f64, f64)>> = vec![None; cfg.models.len()];
        for g in self.agents.iter().filter_map(Agent::ghost) {
            if g.economics.active {
                let p = g.economics.prices(None);
                let c = &mut cheapest[g.model];
                *c = Some(c.map_or(p, |c| (c.0.min(p.0), c.1.min(p.1))));
            }
        }
        let open_quality = cfg.phases.quality(f64::from(day));
        let mut today = Today {
            priced: Vec::with_capacity(self.agents.len()),
            quotes: Vec::with_capacity(self.agents.len()),
            cheapest,
        };
        for a in &self.agents {
            let offer = self.offer(a, &today.cheapest, open_quality);
            today.priced.push(offer.map(|o| o.0));
            today
                .quotes
                .push(offer.map(|(_, terms)| self.sign_quote(a, day, terms)));
        }
        for (i, a) in self.agents.iter_mut().enumerate() {
            a.day = agent_day(cfg, a, i, day, today.priced[i], today.quotes[i].is_some());
        }
        today
    }

    /// An agent's offer today and its quote terms (input, output USD/Mtok,
    /// output cap); `None` for a Ghost that left.
    fn offer(
        &self,
        a: &Agent,
        cheapest: &[Option<(f64, f64)>],
        open_quality: f64,
    ) -> Option<(Priced, (f64, f64, u32))> {
        let cfg = self.cfg;
        match &a.kind {
            AgentKind::Ghost(g) if g.economics.active => {
                let p = g.economics.prices(cheapest[g.model]);
                let priced = Priced {
                    input: p.0,
                    output: p.1,
                    quality: cfg.models[g.model].quality,
                    model: Some(g.model),
                    latency_s: g.latency_s,
                    jurisdiction: g.jurisdiction,
                };
                Some((priced, ghost_quote_prices(g, p, cfg, mean_out(cfg))))
            }
            AgentKind::Ghost(_) => None,
            AgentKind::Gpu(gpu) => {
                let h = &gpu.hardware;
                let per_s = h.usd_per_hour / 3600.0 / gpu.utilisation.max(1e-9) * gpu.markup;
                let pi = per_s / h.prefill_tokens_per_s.max(1e-9) * 1e6;
                let po = per_s / h.decode_tokens_per_s.max(1e-9) * 1e6;
                let priced = Priced {
                    input: pi,
                    output: po,
                    quality: open_quality,
                    model: None,
                    latency_s: gpu.latency_s,
                    jurisdiction: gpu.jurisdiction,
                };
                Some((priced, (pi, po, cfg.max_output_tokens)))
            }
        }
    }

    /// The agent's quote for the day, signed with its identity key.
    fn sign_quote(&self, a: &Agent, day: u32, (qi, qo, cap): (f64, f64, u32)) -> SignedQuote {
        let cfg = self.cfg;
        let start = f64::from(day) * DAY_S;
        let quote = Quote {
            service: a.identity.node_id(),
            model: a.model_name(cfg),
            input: cfg.fx.price(qi),
            output: cfg.fx.price(qo),
            max_output_tokens: cap,
            chunk_msat: cfg.chunk_msat,
            mints: vec![Rail::MINT_URL.into()],
            valid_from: Instant::ZERO + Duration::from_secs_f64(start),
            valid_until: Instant::ZERO + Duration::from_secs_f64(start + DAY_S),
            serial: u64::from(day),
        };
        SignedQuote::sign(&a.identity, quote)
    }

    // ----- arrivals and choice ------------------------------------------------

    /// The day's jobs: each arrives for one client and one model, and the
    /// client picks among the offers it would pay for by logit.
    fn arrivals(&mut self, day: u32, today: &Today) -> Choices {
        let cfg = self.cfg;
        let end = f64::from(day + 1) * DAY_S;
        let mints = self.shards.len();
        let mut choices = Choices {
            planned: (0..mints).map(|_| Vec::new()).collect(),
            unserved: vec![0; cfg.models.len()],
        };
        let mut load = Load::new(self.agents.len());
        while let Some(next) = cfg.arrivals.next_after(self.t, &mut self.demand) {
            self.t = next;
            if self.t >= end {
                break;
            }
            let (rec, chosen) = self.arrival(day, today, &load);
            match chosen {
                Some((i, asked)) => {
                    let c = rec.client as usize;
                    let served = asked.min(u64::from(rec.max_output_tokens));
                    load.serve(&self.agents[i], i, cfg.input_tokens as f64, served as f64);
                    let job = Planned {
                        record: self.out.jobs.len(),
                        client: c / mints,
                        agent: i,
                        output: asked,
                    };
                    choices.planned[c % mints].push((self.t, job));
                }
                None => choices.unserved[rec.model as usize] += 1,
            }
            self.out.jobs.push(rec);
        }
        choices
    }

    /// One arrival: its record and, if an offer was taken, the agent and
    /// the output length asked for.
    fn arrival(
        &mut self,
        day: u32,
        today: &Today,
        load: &Load,
    ) -> (JobRecord, Option<(usize, u64)>) {
        let cfg = self.cfg;
        let input = cfg.input_tokens as f64;
        let c = rng::index(&mut self.demand, cfg.clients.max(1) as usize);
        let model = self.pick_model();
        let client = self.clients.get(c);
        let willing_usd = client.map_or(1.0, |k| k.willing)
            * direct_usd(cfg.models[model].direct, input, mean_out(cfg));
        let (idx, offers) =
            self.acceptable(today, load, model, willing_usd, client.map(|k| k.home));
        let shares = choice::shares(&offers, &cfg.tastes);
        let asked = cfg.output.sample(&mut self.demand);
        let sampled = rng::unit(&mut self.demand) < cfg.job_sample;
        let mut rec = JobRecord {
            day,
            t_s: self.t,
            client: c as u32,
            model: model as u32,
            offers: offers.len() as u32,
            input_tokens: cfg.input_tokens,
            asked_tokens: asked,
            willing_usd,
            sampled,
            ..JobRecord::default()
        };
        let Some(k) = choice::choose(&shares, &mut self.demand) else {
            return (rec, None);
        };
        let i = idx[k];
        let Some(q) = today.quotes[i].as_ref().map(|q| &q.quote) else {
            return (rec, None);
        };
        rec.agent = Some(i as u32);
        rec.jurisdiction_match = offers[k].jurisdiction_match;
        rec.gpu = matches!(self.agents[i].kind, AgentKind::Gpu(_));
        rec.adversary = self.agents[i].adversary();
        rec.quote_input_msat = q.input.msat_per_mtok as f64 / 1e6;
        rec.quote_output_msat = q.output.msat_per_mtok as f64 / 1e6;
        rec.max_output_tokens = q.max_output_tokens;
        (rec, Some((i, asked)))
    }

    /// A model by the demand weights.
    fn pick_model(&mut self) -> usize {
        let weights: Vec<f64> = self.cfg.models.iter().map(|m| m.weight.max(0.0)).collect();
        let mut pick = rng::unit(&mut self.demand) * weights.iter().sum::<f64>();
        weights
            .iter()
            .position(|w| {
                pick -= w;
                pick < 0.0
            })
            .unwrap_or(weights.len() - 1)
    }

    /// The offers for `model` with room today that cost at most
    /// `willing_usd`, and the agents behind them.
    fn acceptable(
        &self,
        today: &Today,
        load: &Load,
        model: usize,
        willing_usd: f64,
        home: Option<u16>,
    ) -> (Vec<usize>, Vec<Offer>) {
        let cfg = self.cfg;
        let (input, out) = (cfg.input_tokens as f64, mean_out(cfg));
        let (mut idx, mut offers) = (Vec::new(), Vec::new());
        for (i, p) in today.priced.iter().enumerate() {
            let Some(p) = p else { continue };
            let serves = match p.model {
                Some(m) => m == model,
                None => cfg.models[model].open_substitute,
            };
            let price = job_usd(p.input, p.output, input, out);
            if serves && !load.full(&self.agents[i], i, input, out) && price <= willing_usd {
                idx.push(i);
                offers.push(Offer {
                    quality: p.quality,
                    price_usd: price,
                    latency_s: p.latency_s,
                    jurisdiction_match: home == Some(p.jurisdiction),
                });
            }
        }
        (idx, offers)
    }

    // ----- settle ---------------------------------------------------------------

    /// The day's payments, one rail per mint, in parallel; then each job's
    /// record and its agent's day.
    fn settle(&mut self, today: &Today, planned: &[Vec<(f64, Planned)>]) -> Result<(), RailError> {
        let cfg = self.cfg;
        let settled: Vec<Settled> = self
            .shards
            .par_iter_mut()
            .zip(planned.par_iter())
            .map(|(s, jobs)| s.pay(jobs, &today.quotes, cfg))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        for s in settled {
            self.book(&s);
        }
        Ok(())
    }

    /// Books one paid job into its record and its agent's day.
    fn book(&mut self, s: &Settled) {
        let cfg = self.cfg;
        let input = cfg.input_tokens as f64;
        let usd = |sat: u64| sat as f64 * 1000.0 / cfg.fx.msat_per_usd as f64;
        let rec = &mut self.out.jobs[s.record];
        let Some(i) = rec.agent.map(|i| i as usize) else {
            return;
        };
        let served = s.output_tokens as f64;
        rec.output_tokens = s.output_tokens;
        rec.paid_usd = usd(s.paid_sat);
        rec.chunks = s.chunks;
        rec.direct_usd = direct_usd(cfg.models[rec.model as usize].direct, input, served);
        let a = &mut self.agents[i];
        a.day.requests += 1;
        a.day.input_tokens += cfg.input_tokens;
        a.day.output_tokens += s.output_tokens;
        a.day.revenue_usd += usd(s.received_sat);
        rec.cost_usd = match &a.kind {
            AgentKind::Ghost(g) => {
                a.day.api_usd += direct_usd(g.economics.upstream, input, served);
                let (cin, cout) = g.economics.unit_cost_usd_per_mtok();
                job_usd(cin, cout, input, served)
            }
            AgentKind::Gpu(gpu) => {
                let c = gpu.hardware.break_even_usd(input, served, 1.0);
                a.day.api_usd += c;
                c
            }
        };
    }

    // ----- close the day --------------------------------------------------------

    /// Ghosts take their day's profit (and may be banned or leave); GPU
    /// nodes pay for their hardware all day, busy or not.
    fn close_day(&mut self) {
        for a in &mut self.agents {
            match &mut a.kind {
                AgentKind::Ghost(g) => {
                    let g = &mut g.economics;
                    let was_active = g.active;
                    let d = Day {
                        revenue_usd: a.day.revenue_usd,
                        api_usd: a.day.api_usd,
                        input_tokens: a.day.input_tokens as f64,
                        output_tokens: a.day.output_tokens as f64,
                    };
                    if was_active {
                        let p = g.end_day(&d, rng::unit(&mut self.fates));
                        a.day.profit_usd = p;
                        a.day.other_usd = d.revenue_usd - d.api_usd - p;
                    }
                    a.day.banned = g.banned && was_active;
                    a.day.active = g.active;
                }
                AgentKind::Gpu(gpu) => {
                    let hw = gpu.hardware.usd_per_hour * 24.0;
                    a.day.other_usd = (hw - a.day.api_usd).max(0.0);
                    a.day.profit_usd = a.day.revenue_usd - hw;
                }
            }
            self.out.agent_days.push(a.day.clone());
        }
    }

    // ----- admit an entrant -----------------------------------------------------

    /// Entry: the first waiting would-be Ghost whose model has room enters
    /// (at most one a day): when the active Ghosts' mean daily profit clears
    /// the bar, or when the demand left unserved today for its model would
    /// pay it more than the bar after its own costs (shared with the Ghosts
    /// already selling that model).
    fn admit_entrant(&mut self, day: u32, today: &Today, unserved: &[u64]) {
        let cfg = self.cfg;
        let trailing: Vec<f64> = self
            .agents
            .iter()
            .filter_map(|a| a.ghost().filter(|g| g.economics.active))
            .map(|g| g.economics.trailing_profit() / g.economics.exit_window_days as f64)
            .collect();
        let mean = trailing.iter().sum::<f64>() / trailing.len().max(1) as f64;
        let profitable = !trailing.is_empty() && mean > cfg.entry_profit_usd_per_day;
        let room = |g: &GhostAgent| {
            let rivals = self
                .agents
                .iter()
                .filter_map(Agent::ghost)
                .filter(|r| r.economics.active && r.model == g.model)
                .count();
            let e = &g.economics;
            let (pi, po) = e.prices(today.cheapest[g.model]);
            let (ci, co) = e.unit_cost_usd_per_mtok();
            let per_job = job_usd(pi - ci, po - co, cfg.input_tokens as f64, mean_out(cfg));
            let opportunity =
                unserved[g.model] as f64 * per_job / (rivals + 1) as f64 - e.costs.ops_usd_per_day;
            profitable || opportunity > cfg.entry_profit_usd_per_day
        };
        let next = (0..cfg.entrants.len()).find(|&k| !self.entered[k] && room(&cfg.entrants[k]));
        if let Some(k) = next {
            self.entered[k] = true;
            self.add_agent(AgentKind::Ghost(cfg.entrants[k].clone()), day + 1);
        }
    }

    /// What is left in every wallet, and the carrier's counters.
    fn finish(mut self) -> MarketRun {
        for s in &self.shards {
            let r = &s.rail;
            self.out.funded_sat += r.funded_sat();
            self.out.service_sat += s.agents.iter().map(|w| r.balance(*w)).sum::<u64>();
            self.out.client_sat += s.clients.iter().map(|w| r.balance(*w)).sum::<u64>();
            self.out.fees_sat += r.fees_sat();
            let (cells, circuits) = r.onion_stats();
            self.out.onion_cells += cells;
            self.out.onion_circuits += circuits;
        }
        self.out
    }
}

/// The mean output length asked for, within the cap.
fn mean_out(cfg: &MarketConfig) -> f64 {
    cfg.output.mean().min(f64::from(cfg.max_output_tokens))
}

/// An agent's row for the day, before any job.
fn agent_day(
    cfg: &MarketConfig,
    a: &Agent,
    i: usize,
    day: u32,
    priced: Option<Priced>,
    quoted: bool,
) -> AgentDay {
    let (input, out) = (cfg.input_tokens as f64, mean_out(cfg));
    AgentDay {
        day,
        agent: i as u32,
        gpu: matches!(a.kind, AgentKind::Gpu(_)),
        adversary: a.adversary(),
        model: a.model_name(cfg),
        entered_day: a.entered,
        quote_input_usd_per_mtok: priced.map_or(0.0, |p| p.input),
        quote_output_usd_per_mtok: priced.map_or(0.0, |p| p.output),
        capacity_tokens: match &a.kind {
            AgentKind::Ghost(g) => g.economics.capacity_tokens_per_day,
            AgentKind::Gpu(gpu) => gpu.hardware.capacity_jobs_per_day(input, out) * (input + out),
        },
        active: a.active() && quoted,
        ..AgentDay::default()
    }
}
