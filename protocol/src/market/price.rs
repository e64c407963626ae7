//! Prices and costs (whitepaper "Ghost Node Unit Economics": C and P per
//! request; the worked example charges $5/$20 per million input/output
//! tokens).
//!
//! Ecash moves whole satoshi; quotes and meters count millisatoshi, and a
//! price is millisatoshi per million tokens. [`FxRate`] turns the dollar
//! list prices of `reference/llm_prices_usd_per_mtok.csv` into that unit.

use serde::{Deserialize, Serialize};

/// Millisatoshi per million tokens.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Price {
    /// The price.
    pub msat_per_mtok: u64,
}

impl Price {
    /// Cost of `tokens` at this price, rounded up to a millisatoshi.
    pub fn cost_msat(self, tokens: u64) -> u64 {
        let c = u128::from(tokens) * u128::from(self.msat_per_mtok);
        u64::try_from(c.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }
}

/// How many millisatoshi one US dollar buys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRate {
    /// Millisatoshi per dollar.
    pub msat_per_usd: u64,
}

impl Default for FxRate {
    /// $100,000 per bitcoin: 1 USD = 1,000 sat = 1,000,000 msat. A scenario
    /// parameter, not a forecast.
    fn default() -> Self {
        FxRate {
            msat_per_usd: 1_000_000,
        }
    }
}

impl FxRate {
    /// A price of `usd_per_mtok` dollars per million tokens.
    pub fn price(self, usd_per_mtok: f64) -> Price {
        let v = (usd_per_mtok.max(0.0) * self.msat_per_usd as f64).round();
        Price {
            msat_per_mtok: if v >= u64::MAX as f64 {
                u64::MAX
            } else {
                v as u64
            },
        }
    }

    /// Dollars for `msat`.
    pub fn usd(self, msat: u64) -> f64 {
        msat as f64 / self.msat_per_usd.max(1) as f64
    }
}

/// Whole satoshi needed to pay `msat` (rounded up).
pub fn sat_for_msat(msat: u64) -> u64 {
    msat.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example_in_millisatoshi() {
        let fx = FxRate::default();
        let input = fx.price(5.00);
        let output = fx.price(20.00);
        assert_eq!(input.msat_per_mtok, 5_000_000);
        // 1,000 input and 500 output tokens: $0.005 + $0.010 = $0.015.
        let cost = input.cost_msat(1000) + output.cost_msat(500);
        assert_eq!(cost, 15_000);
        assert!((fx.usd(cost) - 0.015).abs() < 1e-12);
        assert_eq!(sat_for_msat(15_000), 15);
        assert_eq!(sat_for_msat(15_001), 16);
    }

    #[test]
    fn costs_round_up_and_never_overflow() {
        let p = Price { msat_per_mtok: 3 };
        assert_eq!(p.cost_msat(1), 1);
        assert_eq!(p.cost_msat(0), 0);
        assert_eq!(
            Price {
                msat_per_mtok: u64::MAX
            }
            .cost_msat(u64::MAX),
            u64::MAX
        );
    }
}
