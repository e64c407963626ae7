//! Estimators (ARCHITECTURE.md, invariant "the report knows what
//! each row is": an analytic value is compared only through a confidence
//! interval).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF, Normal, StudentsT};

/// A proportion with its confidence interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Successes counted.
    pub k: u64,
    /// Trials counted.
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

/// Clopper–Pearson ("exact") interval for `k` successes in `n` trials, from
/// Beta quantiles: conservative, never narrower than the nominal level.
pub fn clopper_pearson(k: u64, n: u64, level: f64) -> Proportion {
    assert!(k <= n, "more successes than trials");
    let alpha = 1.0 - level;
    let (kf, nf) = (k as f64, n as f64);
    let beta_q = |a: f64, b: f64, q: f64| {
        Beta::new(a, b)
            .map(|d| d.inverse_cdf(q))
            .unwrap_or(f64::NAN)
    };
    Proportion {
        k,
        n,
        estimate: if n == 0 { 0.0 } else { kf / nf },
        lo: if k == 0 {
            0.0
        } else {
            beta_q(kf, nf - kf + 1.0, alpha / 2.0)
        },
        hi: if k == n {
            1.0
        } else {
            beta_q(kf + 1.0, nf - kf, 1.0 - alpha / 2.0)
        },
        level,
    }
}

/// A mean with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mean {
    /// Observations the interval is computed from.
    pub n: u64,
    /// Sample mean (0 when n = 0).
    pub estimate: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Confidence level.
    pub level: f64,
}

/// Student-t interval for the mean of `xs` (unbounded when fewer than two).
pub fn t_interval(xs: &[f64], level: f64) -> Mean {
    let n = xs.len();
    let mean = if n == 0 {
        0.0
    } else {
        xs.iter().sum::<f64>() / n as f64
    };
    if n < 2 {
        return Mean {
            n: n as u64,
            estimate: mean,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            level,
        };
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(0.5 + level / 2.0))
        .unwrap_or(f64::NAN);
    Mean {
        n: n as u64,
        estimate: mean,
        lo: mean - t * se,
        hi: mean + t * se,
        level,
    }
}

/// Percentile bootstrap interval of `stat` over `xs`: `resamples` resamples
/// drawn from a ChaCha20 stream seeded with `seed`, so the interval is
/// reproducible. For heavy-tailed quantities (latencies, token counts) where
/// a t interval's normality assumption is poor.
pub fn bootstrap(
    xs: &[f64],
    stat: impl Fn(&[f64]) -> f64,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Mean {
    let estimate = stat(xs);
    if xs.is_empty() || resamples == 0 {
        return Mean {
            n: xs.len() as u64,
            estimate,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            level,
        };
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut buf = vec![0.0; xs.len()];
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            for b in buf.iter_mut() {
                *b = xs[(rng.next_u64() % xs.len() as u64) as usize];
            }
            stat(&buf)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Mean {
        n: xs.len() as u64,
        estimate,
        lo: at((1.0 - level) / 2.0),
        hi: at(1.0 - (1.0 - level) / 2.0),
        level,
    }
}

/// Ranks of `xs` from 1, ties given their average rank.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation of the pairs (Pearson's over average
/// ranks); NaN with fewer than two pairs or a constant side.
pub fn spearman(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len();
    if n < 2 {
        return f64::NAN;
    }
    let a = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let b = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        sab += (x - mean) * (y - mean);
        saa += (x - mean).powi(2);
        sbb += (y - mean).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

/// The `q` quantile of `xs` (linear interpolation between order statistics).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    match v.get(i + 1) {
        Some(next) => v[i] + frac * (next - v[i]),
        None => v[i],
    }
}

/// A measured proportion next to an analytic value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    fn spearman_is_one_for_any_increasing_map_and_handles_ties() {
        let up: Vec<(f64, f64)> = (1..=6)
            .map(|i| (f64::from(i), f64::from(i).powi(3)))
            .collect();
        assert!((spearman(&up) - 1.0).abs() < 1e-12);
        let down: Vec<(f64, f64)> = up.iter().map(|&(x, y)| (x, -y)).collect();
        assert!((spearman(&down) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // x = (1, 2, 3, 4), y = (1, 3, 2, 4): 1 - 6·2/(4·15) = 0.8.
        let swapped = [(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)];
        assert!((spearman(&swapped) - 0.8).abs() < 1e-12);
        assert!(spearman(&[(1.0, 2.0)]).is_nan());
    }

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
    fn clopper_pearson_matches_known_bounds() {
        // Exact 95% bounds: 0/10 -> [0, 0.3085]; 5/10 -> [0.1871, 0.8129];
        // 10/10 -> [0.6915, 1].
        let close = |a: f64, b: f64| (a - b).abs() < 5e-4;
        let p = clopper_pearson(0, 10, 0.95);
        assert!(p.lo == 0.0 && close(p.hi, 0.3085), "{p:?}");
        let p = clopper_pearson(5, 10, 0.95);
        assert!(close(p.lo, 0.1871) && close(p.hi, 0.8129), "{p:?}");
        let p = clopper_pearson(10, 10, 0.95);
        assert!(close(p.lo, 0.6915) && p.hi == 1.0, "{p:?}");
        // Never narrower than Wilson.
        let (c, w) = (clopper_pearson(7, 50, 0.95), wilson(7, 50, 0.95));
        assert!(c.lo <= w.lo && c.hi >= w.hi);
    }

    #[test]
    fn t_interval_matches_a_hand_computation() {
        // 1..=5: mean 3, s = 1.5811, t(0.975, 4) = 2.7764 -> 3 +- 1.9632.
        let m = t_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert!((m.estimate - 3.0).abs() < 1e-12);
        assert!((m.hi - m.estimate - 1.9632).abs() < 1e-3, "{m:?}");
        assert!(t_interval(&[1.0], 0.95).hi.is_infinite());
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_statistic() {
        let xs: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let a = bootstrap(&xs, mean, 500, 0.95, 7);
        assert_eq!(a, bootstrap(&xs, mean, 500, 0.95, 7));
        assert_ne!(a, bootstrap(&xs, mean, 500, 0.95, 8));
        assert!(a.lo < a.estimate && a.estimate < a.hi, "{a:?}");
        // Close to the t interval for a well-behaved mean.
        let t = t_interval(&xs, 0.95);
        assert!((a.hi - a.lo) / (t.hi - t.lo) > 0.8 && (a.hi - a.lo) / (t.hi - t.lo) < 1.2);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[0.0, 10.0], 0.25), 2.5);
    }

    #[test]
    fn wilson_stays_in_the_unit_interval_at_the_edges() {
        for (k, n) in [(0, 10), (10, 10), (0, 1)] {
            let p = wilson(k, n, 0.95);
            assert!(p.lo >= 0.0 && p.hi <= 1.0 && p.lo <= p.estimate && p.estimate <= p.hi);
        }
    }
}
