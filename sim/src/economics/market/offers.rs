//! What agents offer in the market: the day's prices, the quote terms a
//! Ghost derives from them, and the load that fills an agent's day.

use super::super::pricing::ModelPrices;
use super::day::{Agent, AgentKind};
use super::{DAY_S, GhostAgent, MarketConfig, PriceForm};

/// Today's offer of one agent: per-Mtok prices, quality, the model it
/// serves (`None`: any, a GPU node).
#[derive(Clone, Copy)]
pub(super) struct Priced {
    pub input: f64,
    pub output: f64,
    pub quality: f64,
    pub model: Option<usize>,
    pub latency_s: f64,
    pub jurisdiction: u16,
}

/// USD of a job of `input` and `output` tokens at per-Mtok prices.
pub(crate) fn job_usd(input_per_mtok: f64, output_per_mtok: f64, input: f64, output: f64) -> f64 {
    (input_per_mtok * input + output_per_mtok * output) / 1e6
}

pub(super) fn direct_usd(p: ModelPrices, input: f64, output: f64) -> f64 {
    job_usd(p.input_usd_per_mtok, p.output_usd_per_mtok, input, output)
}

/// The (input, output) USD-per-Mtok prices a Ghost puts in its quote, and
/// its output cap, for the configured price form.
pub(super) fn ghost_quote_prices(
    g: &GhostAgent,
    (pi, po): (f64, f64),
    cfg: &MarketConfig,
    mean_out: f64,
) -> (f64, f64, u32) {
    match cfg.price_form {
        PriceForm::PerToken => (pi, po, cfg.max_output_tokens),
        PriceForm::PerRequest { capped } => {
            let input = cfg.input_tokens as f64;
            let flat_usd = job_usd(pi, po, input, mean_out);
            let cap = if capped {
                let (cin, cout) = g.economics.unit_cost_usd_per_mtok();
                let covered = (flat_usd * 1e6 - cin * input) / cout.max(1e-12);
                (covered.floor().max(1.0) as u32).min(cfg.max_output_tokens)
            } else {
                cfg.max_output_tokens
            };
            (flat_usd * 1e6 / input.max(1.0), 0.0, cap)
        }
    }
}

/// What each agent has taken on today: tokens (Ghosts' rate limits) and
/// busy seconds (GPU nodes' hardware).
pub(super) struct Load {
    tokens: Vec<f64>,
    busy_s: Vec<f64>,
}

impl Load {
    pub fn new(agents: usize) -> Self {
        Load {
            tokens: vec![0.0; agents],
            busy_s: vec![0.0; agents],
        }
    }

    pub fn full(&self, a: &Agent, i: usize, input: f64, output: f64) -> bool {
        match &a.kind {
            AgentKind::Ghost(g) => self.tokens[i] >= g.economics.capacity_tokens_per_day,
            AgentKind::Gpu(gpu) => self.busy_s[i] + gpu.hardware.busy_s(input, output) > DAY_S,
        }
    }

    pub fn serve(&mut self, a: &Agent, i: usize, input: f64, served: f64) {
        self.tokens[i] += input + served;
        if let AgentKind::Gpu(gpu) = &a.kind {
            self.busy_s[i] += gpu.hardware.busy_s(input, served);
        }
    }
}
