//! Wallet privacy policies (whitepaper "Practical Leakage and Mitigations",
//! "Mint-Exit Collusion": swap before spend, randomized hold periods).

use rand_core::Rng;

use crate::time::Duration;

/// Wallet behaviour switches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalletPolicy {
    /// Swap freshly minted proofs at the mint before their first spend, so the
    /// proofs a payee sees were not the ones issued against a funding event.
    pub swap_before_spend: bool,
    /// How blind signatures are checked and unblinded, and outputs blinded
    /// (`Full`: NUT-00 and NUT-12; see [`crate::fidelity`]).
    pub fidelity: crate::fidelity::CryptoFidelity,
}

/// How long freshly minted proofs wait before their first spend.
pub trait HoldPolicy: Send {
    /// The hold period for a batch minted now.
    fn hold_period(&mut self) -> Duration;
}

/// No hold: proofs are spendable at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHold;

impl HoldPolicy for NoHold {
    fn hold_period(&mut self) -> Duration {
        Duration::ZERO
    }
}

/// A fixed hold period.
#[derive(Clone, Copy, Debug)]
pub struct FixedHold(pub Duration);

impl HoldPolicy for FixedHold {
    fn hold_period(&mut self) -> Duration {
        self.0
    }
}

/// A hold drawn uniformly from `[min, max]`, from the caller's decision stream.
#[derive(Debug)]
pub struct UniformHold<R> {
    min: Duration,
    max: Duration,
    rng: R,
}

impl<R: Rng> UniformHold<R> {
    /// Uniform on `[min, max]`; `max < min` is treated as `max = min`.
    pub fn new(min: Duration, max: Duration, rng: R) -> Self {
        UniformHold {
            min,
            max: max.max(min),
            rng,
        }
    }
}

impl<R: Rng + Send> HoldPolicy for UniformHold<R> {
    fn hold_period(&mut self) -> Duration {
        let span = self.max.as_nanos() - self.min.as_nanos();
        let offset = if span == u64::MAX {
            self.rng.next_u64()
        } else {
            self.rng.next_u64() % (span + 1)
        };
        Duration::from_nanos(self.min.as_nanos() + offset)
    }
}

/// A hold drawn from an exponential distribution with the given mean.
#[derive(Debug)]
pub struct ExponentialHold<R> {
    mean: Duration,
    rng: R,
}

impl<R: Rng> ExponentialHold<R> {
    /// Exponential with mean `mean`.
    pub fn new(mean: Duration, rng: R) -> Self {
        ExponentialHold { mean, rng }
    }
}

impl<R: Rng + Send> HoldPolicy for ExponentialHold<R> {
    fn hold_period(&mut self) -> Duration {
        exponential(&mut self.rng, self.mean)
    }
}

/// An exponentially distributed duration of mean `mean` from `rng` (hold
/// periods; the client's cover-traffic gaps).
pub fn exponential(rng: &mut impl Rng, mean: Duration) -> Duration {
    // u in (0, 1]: 53 random bits, shifted away from zero.
    let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    Duration::from_secs_f64(-u.ln() * mean.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn uniform_hold_stays_in_range_and_varies() {
        let mut h = UniformHold::new(
            Duration::from_secs(10),
            Duration::from_secs(20),
            ChaCha8Rng::seed_from_u64(1),
        );
        let draws: Vec<Duration> = (0..200).map(|_| h.hold_period()).collect();
        assert!(
            draws
                .iter()
                .all(|d| *d >= Duration::from_secs(10) && *d <= Duration::from_secs(20))
        );
        assert!(draws.iter().any(|d| *d != draws[0]));
    }

    #[test]
    fn exponential_hold_has_the_requested_mean() {
        let mut h = ExponentialHold::new(Duration::from_secs(60), ChaCha8Rng::seed_from_u64(2));
        let n = 20_000;
        let mean = (0..n).map(|_| h.hold_period().as_secs_f64()).sum::<f64>() / n as f64;
        // Standard error is 60/sqrt(20000) ~ 0.42 s; allow 5 standard errors.
        assert!((mean - 60.0).abs() < 2.2, "mean {mean}");
    }
}
