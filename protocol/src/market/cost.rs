//! What serving a request costs the service (whitepaper "Ghost Node Unit
//! Economics": C per request; "GPU Node Competition": GPU nodes run open
//! models on their own hardware, with a different cost structure).

use serde::{Deserialize, Serialize};

use super::Price;

/// A service's marginal cost model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum CostModel {
    /// A Ghost: pays its provider account per token at the upstream list
    /// prices.
    PerToken {
        /// Upstream input price.
        input: Price,
        /// Upstream output price.
        output: Price,
    },
    /// A GPU node: owns hardware that costs a fixed amount per hour while it
    /// processes prompts (prefill) and generates output (decode).
    Hardware {
        /// Hardware, power and hosting, millisatoshi per hour.
        msat_per_hour: u64,
        /// Prompt tokens processed per second.
        prefill_tokens_per_s: f64,
        /// Output tokens generated per second.
        decode_tokens_per_s: f64,
    },
}

impl CostModel {
    /// Marginal cost of one request, millisatoshi (rounded up).
    pub fn cost_msat(&self, input_tokens: u64, output_tokens: u64) -> u64 {
        match *self {
            CostModel::PerToken { input, output } => input
                .cost_msat(input_tokens)
                .saturating_add(output.cost_msat(output_tokens)),
            CostModel::Hardware {
                msat_per_hour,
                prefill_tokens_per_s,
                decode_tokens_per_s,
            } => {
                let secs = input_tokens as f64 / prefill_tokens_per_s.max(1e-9)
                    + output_tokens as f64 / decode_tokens_per_s.max(1e-9);
                let msat = (secs * msat_per_hour as f64 / 3600.0).ceil();
                if msat >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    msat as u64
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::FxRate;

    #[test]
    fn per_token_cost_is_the_upstream_bill() {
        let fx = FxRate::default();
        let c = CostModel::PerToken {
            input: fx.price(2.5),
            output: fx.price(10.0),
        };
        // 1,000 in and 500 out: $0.0025 + $0.005 = $0.0075 = 7,500 msat.
        assert_eq!(c.cost_msat(1000, 500), 7_500);
    }

    #[test]
    fn hardware_cost_is_time_on_the_machine() {
        // $1.80/hour = 1,800,000 msat/hour = 500 msat/s.
        let c = CostModel::Hardware {
            msat_per_hour: 1_800_000,
            prefill_tokens_per_s: 2000.0,
            decode_tokens_per_s: 50.0,
        };
        // 2,000 prompt tokens (1 s) + 100 output tokens (2 s) = 3 s.
        assert_eq!(c.cost_msat(2000, 100), 1_500);
        assert_eq!(c.cost_msat(0, 0), 0);
    }
}
