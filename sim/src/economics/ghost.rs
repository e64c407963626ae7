//! A Ghost agent's economics (whitepaper "Ghost Node Unit Economics": cost
//! `C = C_api + C_bandwidth + C_ops + C_policy_risk` per request, price `P`,
//! profit `P − C`; "Terms-of-Service and Account Survival": accounts can be
//! banned): its pricing strategy, its account-ban hazard, and its decision
//! to stay in the market by trailing profit.

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pricing::ModelPrices;

/// How a Ghost sets its per-token prices each day (in scenarios:
/// `{kind: fixed_markup, factor: 2.0}` and so on).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// Upstream prices times a fixed factor (the whitepaper's 2x).
    FixedMarkup {
        /// The factor.
        factor: f64,
    },
    /// Upstream prices plus the Ghost's other costs per token, plus a risk
    /// margin on the total.
    CostPlus {
        /// Margin on cost (0.2: 20%).
        margin: f64,
    },
    /// A markup that rises when the Ghost is busier than its target and
    /// falls when idler, by `step` per day, within `[floor, cap]`.
    Adaptive {
        /// Target utilisation of capacity.
        target: f64,
        /// Relative change per day.
        step: f64,
        /// Lowest markup.
        floor: f64,
        /// Highest markup.
        cap: f64,
    },
    /// **Adversarial.** Upstream prices times `factor` (below 1: under
    /// cost), kept whatever the losses: an adversary buying market share,
    /// and so a larger share of sessions' exits (whitepaper "Attack
    /// Economics"). Never leaves by trailing profit.
    Subsidized {
        /// The factor.
        factor: f64,
    },
    /// Just under the cheapest competitor for the same model, never below
    /// its own cost.
    Undercut {
        /// How far under, relative (0.02: 2%).
        by: f64,
    },
}

/// A Ghost's costs beyond the API bill (whitepaper `C_bandwidth`, `C_ops`,
/// `C_policy_risk`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OtherCosts {
    /// Bandwidth, USD per million tokens carried (in and out).
    pub bandwidth_usd_per_mtok: f64,
    /// Operations (machine, monitoring, the operator's time), USD per day.
    pub ops_usd_per_day: f64,
    /// Expected cost of losing the account, USD per million tokens served
    /// (the policy risk priced in).
    pub policy_risk_usd_per_mtok: f64,
}

/// The Ghost's account-ban hazard: none up to the account's normal daily
/// usage, then rising linearly with the excess.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BanHazard {
    /// Tokens per day the account would use anyway.
    pub normal_tokens_per_day: f64,
    /// Daily ban probability per multiple of normal usage beyond normal.
    pub per_excess_multiple: f64,
}

impl BanHazard {
    /// Probability of a ban today after serving `tokens`.
    pub fn daily_probability(&self, tokens: f64) -> f64 {
        if self.normal_tokens_per_day <= 0.0 {
            return 0.0;
        }
        let excess = (tokens / self.normal_tokens_per_day - 1.0).max(0.0);
        (self.per_excess_multiple * excess).clamp(0.0, 1.0)
    }
}

/// A Ghost agent's state.
#[derive(Clone, Debug, PartialEq)]
pub struct GhostEconomics {
    /// Upstream prices of the model it resells.
    pub upstream: ModelPrices,
    /// Its strategy.
    pub strategy: Strategy,
    /// Its other costs.
    pub costs: OtherCosts,
    /// Its ban hazard.
    pub ban: BanHazard,
    /// Tokens per day it can serve (rate limits, capacity).
    pub capacity_tokens_per_day: f64,
    /// Days of profit it looks back over when deciding to stay.
    pub exit_window_days: usize,
    /// The adaptive strategy's current markup.
    markup: f64,
    /// Recent daily profits, USD, newest last.
    profits: VecDeque<f64>,
    /// Still in the market (has not exited).
    pub active: bool,
    /// Its account was banned.
    pub banned: bool,
}

/// One day of a Ghost's business.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Day {
    /// Revenue, USD.
    pub revenue_usd: f64,
    /// API bill, USD.
    pub api_usd: f64,
    /// Input tokens served.
    pub input_tokens: f64,
    /// Output tokens served.
    pub output_tokens: f64,
}

impl GhostEconomics {
    /// A new, active Ghost.
    pub fn new(
        upstream: ModelPrices,
        strategy: Strategy,
        costs: OtherCosts,
        ban: BanHazard,
        capacity_tokens_per_day: f64,
        exit_window_days: usize,
    ) -> Self {
        let markup = match strategy {
            Strategy::FixedMarkup { factor } | Strategy::Subsidized { factor } => factor,
            Strategy::Adaptive { floor, cap, .. } => (floor * cap).sqrt(),
            _ => 1.0,
        };
        GhostEconomics {
            upstream,
            strategy,
            costs,
            ban,
            capacity_tokens_per_day,
            exit_window_days: exit_window_days.max(1),
            markup,
            profits: VecDeque::new(),
            active: true,
            banned: false,
        }
    }

    /// Its variable cost per million (input, output) tokens: API bill,
    /// bandwidth and priced-in policy risk (operations are per day).
    pub fn unit_cost_usd_per_mtok(&self) -> (f64, f64) {
        let extra = self.costs.bandwidth_usd_per_mtok + self.costs.policy_risk_usd_per_mtok;
        (
            self.upstream.input_usd_per_mtok + extra,
            self.upstream.output_usd_per_mtok + extra,
        )
    }

    /// Today's quoted (input, output) prices, USD per million tokens, given
    /// the cheapest competitor's prices for the same model, if any.
    pub fn prices(&self, cheapest_rival: Option<(f64, f64)>) -> (f64, f64) {
        let up = self.upstream;
        let (cin, cout) = self.unit_cost_usd_per_mtok();
        match self.strategy {
            Strategy::FixedMarkup { .. }
            | Strategy::Adaptive { .. }
            | Strategy::Subsidized { .. } => (
                up.input_usd_per_mtok * self.markup,
                up.output_usd_per_mtok * self.markup,
            ),
            Strategy::CostPlus { margin } => (cin * (1.0 + margin), cout * (1.0 + margin)),
            Strategy::Undercut { by } => match cheapest_rival {
                Some((rin, rout)) => ((rin * (1.0 - by)).max(cin), (rout * (1.0 - by)).max(cout)),
                None => (2.0 * up.input_usd_per_mtok, 2.0 * up.output_usd_per_mtok),
            },
        }
    }

    /// Profit of a day, USD: revenue less the API bill, bandwidth, policy
    /// risk and a day of operations.
    pub fn profit(&self, d: &Day) -> f64 {
        let mtok = (d.input_tokens + d.output_tokens) / 1e6;
        d.revenue_usd
            - d.api_usd
            - mtok * (self.costs.bandwidth_usd_per_mtok + self.costs.policy_risk_usd_per_mtok)
            - self.costs.ops_usd_per_day
    }

    /// Closes a day: records its profit, adapts the markup, applies the ban
    /// (`ban_draw` uniform in [0, 1) from the caller's stream), and leaves
    /// the market if the trailing profit over a full window is negative.
    /// Returns the day's profit.
    pub fn end_day(&mut self, d: &Day, ban_draw: f64) -> f64 {
        let p = self.profit(d);
        if !self.active {
            return p;
        }
        self.profits.push_back(p);
        while self.profits.len() > self.exit_window_days {
            self.profits.pop_front();
        }
        if let Strategy::Adaptive {
            target,
            step,
            floor,
            cap,
        } = self.strategy
        {
            let util = (d.input_tokens + d.output_tokens) / self.capacity_tokens_per_day.max(1.0);
            let f = if util > target {
                1.0 + step
            } else {
                1.0 - step
            };
            self.markup = (self.markup * f).clamp(floor, cap);
        }
        if ban_draw < self.ban.daily_probability(d.input_tokens + d.output_tokens) {
            self.banned = true;
            self.active = false;
        } else if self.profits.len() == self.exit_window_days
            && self.trailing_profit() < 0.0
            && !matches!(self.strategy, Strategy::Subsidized { .. })
        {
            self.active = false;
        }
        p
    }

    /// Sum of the recorded daily profits in the window, USD.
    pub fn trailing_profit(&self) -> f64 {
        self.profits.iter().sum()
    }

    /// The current markup (fixed and adaptive strategies).
    pub fn markup(&self) -> f64 {
        self.markup
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPT_4O: ModelPrices = ModelPrices {
        input_usd_per_mtok: 2.50,
        output_usd_per_mtok: 10.00,
    };

    fn costs() -> OtherCosts {
        OtherCosts {
            bandwidth_usd_per_mtok: 0.05,
            ops_usd_per_day: 2.0,
            policy_risk_usd_per_mtok: 0.20,
        }
    }

    fn no_ban() -> BanHazard {
        BanHazard {
            normal_tokens_per_day: 1e9,
            per_excess_multiple: 0.0,
        }
    }

    fn ghost(strategy: Strategy) -> GhostEconomics {
        GhostEconomics::new(GPT_4O, strategy, costs(), no_ban(), 2e6, 7)
    }

    /// A day serving `mtok_in` and `mtok_out` million tokens at `prices`.
    fn day(g: &GhostEconomics, prices: (f64, f64), mtok_in: f64, mtok_out: f64) -> Day {
        Day {
            revenue_usd: prices.0 * mtok_in + prices.1 * mtok_out,
            api_usd: g.upstream.input_usd_per_mtok * mtok_in
                + g.upstream.output_usd_per_mtok * mtok_out,
            input_tokens: mtok_in * 1e6,
            output_tokens: mtok_out * 1e6,
        }
    }

    #[test]
    fn strategies_price_as_documented() {
        assert_eq!(
            ghost(Strategy::FixedMarkup { factor: 2.0 }).prices(None),
            (5.0, 20.0)
        );
        let cp = ghost(Strategy::CostPlus { margin: 0.2 }).prices(None);
        assert!((cp.0 - 2.75 * 1.2).abs() < 1e-12 && (cp.1 - 10.25 * 1.2).abs() < 1e-12);
        let u = ghost(Strategy::Undercut { by: 0.1 });
        assert_eq!(u.prices(Some((4.0, 16.0))), (3.6, 14.4));
        // Never below its own unit cost.
        assert_eq!(u.prices(Some((2.0, 8.0))), (2.75, 10.25));
    }

    #[test]
    fn a_ghost_with_negative_trailing_profit_leaves() {
        let mut g = ghost(Strategy::FixedMarkup { factor: 1.05 });
        let prices = g.prices(None);
        // 0.1 M tokens a day at a 5% markup earns cents; $2 of ops a day
        // makes every day a loss.
        for k in 0..7 {
            assert!(g.active, "left early, day {k}");
            let d = day(&g, prices, 0.08, 0.02);
            assert!(g.end_day(&d, 0.99) < 0.0);
        }
        assert!(!g.active && !g.banned);
        assert!(g.trailing_profit() < 0.0);
        // A profitable Ghost stays.
        let mut ok = ghost(Strategy::FixedMarkup { factor: 2.0 });
        let prices = ok.prices(None);
        for _ in 0..30 {
            let d = day(&ok, prices, 0.8, 0.2);
            assert!(ok.end_day(&d, 0.99) > 0.0);
        }
        assert!(ok.active);
    }

    #[test]
    fn the_ban_hazard_rises_with_volume_beyond_normal_usage() {
        let b = BanHazard {
            normal_tokens_per_day: 1e6,
            per_excess_multiple: 0.01,
        };
        assert_eq!(b.daily_probability(5e5), 0.0);
        assert_eq!(b.daily_probability(1e6), 0.0);
        assert!((b.daily_probability(3e6) - 0.02).abs() < 1e-12);
        let mut g = GhostEconomics::new(
            GPT_4O,
            Strategy::FixedMarkup { factor: 2.0 },
            costs(),
            b,
            1e8,
            7,
        );
        let d = day(&g, (5.0, 20.0), 2.0, 1.0);
        g.end_day(&d, 0.015);
        assert!(g.banned && !g.active);
    }

    #[test]
    fn the_adaptive_markup_follows_utilisation_within_bounds() {
        let s = Strategy::Adaptive {
            target: 0.5,
            step: 0.1,
            floor: 1.2,
            cap: 3.0,
        };
        let mut g = ghost(s);
        let start = g.markup();
        let busy = day(&g, g.prices(None), 1.5, 0.3); // 90% of 2 M tokens
        g.end_day(&busy, 0.99);
        assert!((g.markup() - start * 1.1).abs() < 1e-12);
        for _ in 0..100 {
            let idle = day(&g, g.prices(None), 0.01, 0.0);
            g.end_day(&idle, 0.99);
        }
        assert_eq!(g.markup(), 1.2);
    }
}
