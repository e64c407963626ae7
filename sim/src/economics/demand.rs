//! Client demand (whitepaper "Why Users Pay": "as long as perceived privacy
//! value exceeds premium, demand persists"): job arrivals following a daily
//! cycle, and each client's willingness to pay an anonymity premium over
//! the direct API price.

use rand_core::Rng;

use crate::rng;

const DAY_S: f64 = 86_400.0;

/// A diurnal arrival rate: `mean · (1 + amplitude · cos(2π (t − peak) / day))`
/// jobs per second, `t` in seconds of virtual time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diurnal {
    /// Mean rate, jobs per second.
    pub mean_per_s: f64,
    /// Relative swing, in [0, 1].
    pub amplitude: f64,
    /// Time of day of the peak, s after midnight.
    pub peak_s: f64,
}

impl Diurnal {
    /// The rate at `t`.
    pub fn rate(&self, t_s: f64) -> f64 {
        let a = self.amplitude.clamp(0.0, 1.0);
        let phase = std::f64::consts::TAU * (t_s - self.peak_s) / DAY_S;
        self.mean_per_s * (1.0 + a * phase.cos())
    }

    /// The next arrival after `t_s` (thinning of a Poisson process at the
    /// peak rate), or `None` if the rate is zero.
    pub fn next_after(&self, t_s: f64, rng: &mut impl Rng) -> Option<f64> {
        let top = self.mean_per_s * (1.0 + self.amplitude.clamp(0.0, 1.0));
        if top <= 0.0 || !top.is_finite() {
            return None;
        }
        let mut t = t_s;
        loop {
            t += rng::exponential(rng, 1.0 / top);
            if rng::unit(rng) * top <= self.rate(t) {
                return Some(t);
            }
        }
    }
}

/// Willingness to pay: the largest multiple of the direct API price a
/// client accepts, `1 + premium` with the premium log-normal (median and
/// spread), so a few clients value privacy far above the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Willingness {
    /// Median anonymity premium over the direct price (1.0: pays up to 2x).
    pub median_premium: f64,
    /// Log-normal sigma of the premium.
    pub sigma: f64,
}

impl Willingness {
    /// One client's maximum price multiple.
    pub fn draw(&self, rng: &mut impl Rng) -> f64 {
        // Box–Muller from two uniforms.
        // 1 − u is in (0, 1]: its logarithm is finite.
        let z = (-2.0 * (1.0 - rng::unit(rng)).ln()).sqrt()
            * (std::f64::consts::TAU * rng::unit(rng)).cos();
        1.0 + self.median_premium.max(0.0) * (self.sigma * z).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn arrivals_follow_the_daily_cycle_and_its_mean() {
        let d = Diurnal {
            mean_per_s: 0.05,
            amplitude: 0.6,
            peak_s: 14.0 * 3600.0,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (mut t, mut per_hour) = (0.0, [0u32; 24]);
        let days = 20.0;
        while let Some(next) = d.next_after(t, &mut rng) {
            if next >= days * DAY_S {
                break;
            }
            per_hour[((next % DAY_S) / 3600.0) as usize] += 1;
            t = next;
        }
        let total: u32 = per_hour.iter().sum();
        let expected = d.mean_per_s * days * DAY_S;
        assert!(
            (f64::from(total) - expected).abs() < 4.0 * expected.sqrt(),
            "{total}"
        );
        // The peak hour sees about (1 + 0.6) / (1 − 0.6) = 4x the trough's.
        let ratio = f64::from(per_hour[14]) / f64::from(per_hour[2]);
        assert!((3.0..5.5).contains(&ratio), "{ratio} {per_hour:?}");
    }

    #[test]
    fn willingness_to_pay_has_the_median_premium() {
        let w = Willingness {
            median_premium: 1.0,
            sigma: 0.5,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let mut xs: Vec<f64> = (0..20_001).map(|_| w.draw(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        assert!((xs[10_000] - 2.0).abs() < 0.03, "{}", xs[10_000]);
        assert!(xs[0] > 1.0);
    }
}
