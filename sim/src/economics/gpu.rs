//! GPU-node agents and the supply phases (whitepaper "GPU Node
//! Competition": GPU nodes serve open models on their own hardware and
//! "cheaper GPU inference can displace some Ghost demand as open models
//! improve"; "Roadmap": API-dominant, hybrid, inference-dominant phases).

use peer2prompt::market::{CostModel, FxRate};

/// The phase schedule: open-model quality (relative to the frontier models
/// Ghosts resell, 1.0 = equal) rising linearly from `start` to `end` over
/// `[from_day, to_day]`, flat outside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phases {
    /// Quality before the transition (API-dominant).
    pub start: f64,
    /// Quality after it (inference-dominant).
    pub end: f64,
    /// First day of the transition.
    pub from_day: f64,
    /// Last day of the transition.
    pub to_day: f64,
}

/// Which phase the market is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before the transition: Ghosts supply most of the market.
    ApiDominant,
    /// During it.
    Hybrid,
    /// After it: open models on GPU nodes compete head-on.
    InferenceDominant,
}

impl Phases {
    /// Open-model quality on `day`.
    pub fn quality(&self, day: f64) -> f64 {
        if day <= self.from_day || self.to_day <= self.from_day {
            return if day <= self.from_day {
                self.start
            } else {
                self.end
            };
        }
        let t = ((day - self.from_day) / (self.to_day - self.from_day)).min(1.0);
        self.start + t * (self.end - self.start)
    }

    /// The phase on `day`.
    pub fn phase(&self, day: f64) -> Phase {
        if day < self.from_day {
            Phase::ApiDominant
        } else if day < self.to_day {
            Phase::Hybrid
        } else {
            Phase::InferenceDominant
        }
    }
}

/// A GPU node's hardware economics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuEconomics {
    /// Hardware, power and hosting, USD per hour (paid whether busy or not).
    pub usd_per_hour: f64,
    /// Prompt tokens processed per second.
    pub prefill_tokens_per_s: f64,
    /// Output tokens generated per second.
    pub decode_tokens_per_s: f64,
}

impl GpuEconomics {
    /// The protocol's cost model of this hardware.
    pub fn cost_model(&self, fx: FxRate) -> CostModel {
        CostModel::Hardware {
            msat_per_hour: (self.usd_per_hour * fx.msat_per_usd as f64).round() as u64,
            prefill_tokens_per_s: self.prefill_tokens_per_s,
            decode_tokens_per_s: self.decode_tokens_per_s,
        }
    }

    /// Machine-seconds a job takes.
    pub fn busy_s(&self, input_tokens: f64, output_tokens: f64) -> f64 {
        input_tokens / self.prefill_tokens_per_s.max(1e-9)
            + output_tokens / self.decode_tokens_per_s.max(1e-9)
    }

    /// Jobs of this shape it can serve per day, fully busy.
    pub fn capacity_jobs_per_day(&self, input_tokens: f64, output_tokens: f64) -> f64 {
        86_400.0 / self.busy_s(input_tokens, output_tokens).max(1e-9)
    }

    /// Break-even price of a job at utilisation `u` (the idle hours are paid
    /// for too), USD.
    pub fn break_even_usd(&self, input_tokens: f64, output_tokens: f64, u: f64) -> f64 {
        self.busy_s(input_tokens, output_tokens) * self.usd_per_hour / 3600.0 / u.max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_rises_through_the_phases() {
        let p = Phases {
            start: 0.6,
            end: 1.0,
            from_day: 30.0,
            to_day: 60.0,
        };
        assert_eq!(p.quality(0.0), 0.6);
        assert!((p.quality(45.0) - 0.8).abs() < 1e-12);
        assert_eq!(p.quality(90.0), 1.0);
        assert_eq!(p.phase(10.0), Phase::ApiDominant);
        assert_eq!(p.phase(45.0), Phase::Hybrid);
        assert_eq!(p.phase(60.0), Phase::InferenceDominant);
    }

    #[test]
    fn gpu_costs_agree_with_the_protocol_cost_model() {
        let g = GpuEconomics {
            usd_per_hour: 1.80,
            prefill_tokens_per_s: 2_000.0,
            decode_tokens_per_s: 50.0,
        };
        let fx = FxRate::default();
        // 1,000 in (0.5 s) and 100 out (2 s): 2.5 s at $1.80/h = $0.00125.
        let usd = g.break_even_usd(1_000.0, 100.0, 1.0);
        assert!((usd - 0.00125).abs() < 1e-12);
        let msat = g.cost_model(fx).cost_msat(1_000, 100);
        assert!((fx.usd(msat) - usd).abs() < 2e-6, "{msat}");
        // Half busy, each job carries its share of the idle hours.
        assert!((g.break_even_usd(1_000.0, 100.0, 0.5) - 0.0025).abs() < 1e-12);
        assert!((g.capacity_jobs_per_day(1_000.0, 100.0) - 34_560.0).abs() < 1e-6);
    }
}
