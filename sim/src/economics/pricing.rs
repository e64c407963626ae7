//! Ghost pricing (whitepaper "Ghost Node Unit Economics": `C = C_api +
//! C_bandwidth + C_ops + C_policy_risk`, profit `P − C`; "Why Ghost Nodes Are
//! New": the worked example resells GPT-4o at $2.50/$10 per million tokens
//! for $5/$20, a 2x markup). Prices and costs are the protocol's own
//! (`market::Price`, `market::CostModel`), in millisatoshi.

use peer2prompt::market::{CostModel, FxRate, Price};

/// A Ghost's list prices for one model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelPrices {
    /// Upstream input price, USD per million tokens.
    pub input_usd_per_mtok: f64,
    /// Upstream output price, USD per million tokens.
    pub output_usd_per_mtok: f64,
}

/// A fixed markup over the upstream prices: the Ghost's quoted (input,
/// output) prices.
pub fn markup(upstream: ModelPrices, factor: f64, fx: FxRate) -> (Price, Price) {
    (
        fx.price(upstream.input_usd_per_mtok * factor),
        fx.price(upstream.output_usd_per_mtok * factor),
    )
}

/// The Ghost's API cost model for `upstream`.
pub fn api_cost(upstream: ModelPrices, fx: FxRate) -> CostModel {
    CostModel::PerToken {
        input: fx.price(upstream.input_usd_per_mtok),
        output: fx.price(upstream.output_usd_per_mtok),
    }
}

/// Margin `(P − C) / P` of a job priced at `price_msat` costing `cost_msat`.
pub fn margin(price_msat: u64, cost_msat: u64) -> f64 {
    if price_msat == 0 {
        return 0.0;
    }
    (price_msat as f64 - cost_msat as f64) / price_msat as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GPT-4o's row of the reference prices (llm_prices_usd_per_mtok.csv).
    const GPT_4O: ModelPrices = ModelPrices {
        input_usd_per_mtok: 2.50,
        output_usd_per_mtok: 10.00,
    };

    #[test]
    fn the_worked_example_is_a_fifty_percent_margin_before_other_costs() {
        let fx = FxRate::default();
        let (pin, pout) = markup(GPT_4O, 2.0, fx);
        // $5 / $20 per million tokens, as the whitepaper quotes.
        assert_eq!((pin, pout), (fx.price(5.0), fx.price(20.0)));
        let cost = api_cost(GPT_4O, fx);
        for (input, output) in [(1_000u64, 500u64), (120_000, 4_000), (1, 1), (0, 2_000)] {
            let price = pin.cost_msat(input).saturating_add(pout.cost_msat(output));
            let c = cost.cost_msat(input, output);
            // Exactly half, whatever the job, up to msat rounding.
            assert!(
                (margin(price, c) - 0.5).abs() <= 1.0 / price as f64,
                "{input}/{output}: {price} vs {c}"
            );
        }
        // 1,000 in and 500 out: price 15,000 msat, API cost 7,500 msat.
        let price = pin.cost_msat(1_000) + pout.cost_msat(500);
        assert_eq!((price, cost.cost_msat(1_000, 500)), (15_000, 7_500));
        assert_eq!(margin(price, 7_500), 0.5);
    }
}
