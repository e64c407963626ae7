//! Estimators (GUIDE "Compare against an analytic value only through a
//! confidence interval").

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// A proportion with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Successes.
    pub k: u64,
    /// Trials.
    pub n: u64,
    /// k / n (0 when n = 0).
    pub estimate: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Confidence level.
    pub level: f64,
}

/// The two-sided normal quantile for `level` (1.96 for 0.95).
pub fn z_for(level: f64) -> f64 {
    let n = Normal::standard();
    n.inverse_cdf(0.5 + level / 2.0)
}

/// Wilson score interval for `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64, level: f64) -> Proportion {
    assert!(k <= n, "more successes than trials");
    if n == 0 {
        return Proportion {
            k,
            n,
            estimate: 0.0,
            lo: 0.0,
            hi: 1.0,
            level,
        };
    }
    let z = z_for(level);
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = z / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Proportion {
        k,
        n,
        estimate: p,
        // Exactly 0 and 1 at the edges, whatever rounding did.
        lo: if k == 0 {
            0.0
        } else {
            (centre - half).clamp(0.0, p)
        },
        hi: if k == n {
            1.0
        } else {
            (centre + half).clamp(p, 1.0)
        },
        level,
    }
}

/// A measured proportion next to an analytic value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The analytic value.
    pub analytic: f64,
    /// Whether the interval covers it.
    pub covered: bool,
    /// (estimate − analytic) / standard error under the analytic value.
    pub z: f64,
}

/// Compares `p` with `analytic`.
pub fn compare(p: &Proportion, analytic: f64) -> Comparison {
    let se = (analytic * (1.0 - analytic) / p.n.max(1) as f64).sqrt();
    Comparison {
        analytic,
        covered: p.lo <= analytic && analytic <= p.hi,
        z: if se > 0.0 {
            (p.estimate - analytic) / se
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_textbook_value() {
        // 10 of 100 at 95%: Wilson interval [0.0552, 0.1744].
        let p = wilson(10, 100, 0.95);
        assert!((p.lo - 0.0552).abs() < 5e-4, "{p:?}");
        assert!((p.hi - 0.1744).abs() < 5e-4, "{p:?}");
        assert!((z_for(0.95) - 1.959964).abs() < 1e-5);
        let c = compare(&p, 0.1);
        assert!(c.covered);
        assert_eq!(c.z, 0.0);
        assert!(!compare(&p, 0.3).covered);
    }

    #[test]
    fn wilson_stays_in_the_unit_interval_at_the_edges() {
        for (k, n) in [(0, 10), (10, 10), (0, 1)] {
            let p = wilson(k, n, 0.95);
            assert!(p.lo >= 0.0 && p.hi <= 1.0 && p.lo <= p.estimate && p.estimate <= p.hi);
        }
    }
}
