//! Small, seedable distributions for simulated backends: token counts and
//! latencies. They draw from the caller's decision stream.

use rand_core::Rng;
use serde::{Deserialize, Serialize};

/// A distribution over non-negative values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Dist {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// `exp(N(mu, sigma^2))`: heavy right tail, as LLM output lengths are.
    LogNormal {
        /// Mean of the log.
        mu: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Exponential with this mean.
    Exponential {
        /// The mean.
        mean: f64,
    },
}

/// A uniform float in (0, 1).
pub fn unit(rng: &mut impl Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A standard normal draw (Box-Muller).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1 = unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
}

impl Dist {
    /// One draw (never negative).
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let v = match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { low, high } => low + (high - low) * unit(rng),
            Dist::LogNormal { mu, sigma } => (mu + sigma * normal(rng)).exp(),
            Dist::Exponential { mean } => -mean * unit(rng).ln(),
        };
        if v.is_finite() { v.max(0.0) } else { 0.0 }
    }

    /// The mean of the distribution.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { low, high } => (low + high) / 2.0,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Exponential { mean } => mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn sample_means_match_analytic_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for d in [
            Dist::Uniform {
                low: 10.0,
                high: 30.0,
            },
            Dist::LogNormal {
                mu: 4.0,
                sigma: 0.8,
            },
            Dist::Exponential { mean: 50.0 },
        ] {
            let n = 200_000;
            let m = (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64;
            assert!(
                (m - d.mean()).abs() / d.mean() < 0.02,
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
    }
}
