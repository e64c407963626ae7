//! One mint's rail in the market: its clients' and the agents' wallets,
//! and the day's jobs paid there in order (mints run in parallel).

use peer2prompt::market::SignedQuote;
use peer2prompt::time::{Duration, Instant};

use super::super::rail::{Rail, RailError};
use super::{Fidelity, MarketConfig};
use crate::rng::{Purpose, Streams};

/// Relays of the onion carrier at full fidelity.
const CARRIER_RELAYS: usize = 8;

/// Output tokens a job is served in between payment checks (the service's
/// meter step).
const METER_STEP_TOKENS: u64 = 25;

/// One mint's rail with its clients' and the agents' wallets.
pub(super) struct Shard {
    pub rail: Rail,
    pub clients: Vec<usize>,
    pub agents: Vec<usize>,
}

/// A job chosen and waiting for payment.
pub(super) struct Planned {
    pub record: usize,
    pub client: usize,
    pub agent: usize,
    pub output: u64,
}

/// What paying a job gave.
pub(super) struct Settled {
    pub record: usize,
    pub paid_sat: u64,
    pub received_sat: u64,
    pub output_tokens: u64,
    pub chunks: u32,
}

/// Mint `m`'s rail, from its own streams.
pub(super) fn shard(cfg: &MarketConfig, streams: &Streams, m: u32) -> Shard {
    let m = u64::from(m);
    let rail = Rail::new(cfg.mint.clone(), streams.stream(m, Purpose::MarketRail));
    let rail = match cfg.fidelity {
        Fidelity::Rail => rail,
        Fidelity::Onion => {
            rail.with_onion(CARRIER_RELAYS, streams.stream(m, Purpose::MarketCarrier))
        }
    };
    Shard {
        rail,
        clients: Vec::new(),
        agents: Vec::new(),
    }
}

impl Shard {
    /// Pays this mint's jobs of the day in order: tops up a client that
    /// could not cover a job's most expensive outcome, then runs the job
    /// under the agent's signed quote.
    pub fn pay(
        &mut self,
        jobs: &[(f64, Planned)],
        quotes: &[Option<SignedQuote>],
        cfg: &MarketConfig,
    ) -> Result<Vec<Settled>, RailError> {
        let mut out = Vec::with_capacity(jobs.len());
        for (t, j) in jobs {
            self.rail
                .set_time(Instant::ZERO + Duration::from_secs_f64(*t));
            let Some(q) = quotes.get(j.agent).and_then(Option::as_ref) else {
                continue;
            };
            let wallet = self.clients[j.client];
            let service = self.agents[j.agent];
            // Enough for the most this job can cost, plus fees.
            let most_msat = q.quote.cap_msat(cfg.input_tokens) + q.quote.chunk_msat;
            let need = most_msat / 1000 + 64;
            if self.rail.balance(wallet) < need {
                self.rail.fund(wallet, cfg.funding_sat.max(2 * need))?;
            }
            let before = self.rail.balance(service);
            let paid = self.rail.job(
                wallet,
                service,
                q,
                cfg.input_tokens,
                j.output,
                METER_STEP_TOKENS,
            )?;
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
