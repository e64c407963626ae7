//! Downstream shaping at a session's endpoint (whitepaper "Traffic Analysis
//! Countermeasures": cover packets and padding; "Threat Model Tiers", tier 4:
//! padding and jitter raise the observer's cost).
//!
//! Client cover cells pad only the upstream. Here the endpoint (a Ghost, a
//! GPU node or a mint) pads the downstream: a *padding reply* is an ordinary
//! reply cell sent through one of the client's reply blocks, with a flag
//! inside the end-to-end seal. Every return hop forwards it like any reply;
//! only the client, which opens the seal, can tell it apart and drops it.
//!
//! Two policies, either or both:
//! - **cover**: padding replies at exponential gaps while the session is open
//!   (from its first request);
//! - **constant rate**: once a request arrives, one reply cell leaves every
//!   `gap` (a real fragment if one waits, else padding) until nothing real
//!   has waited for `tail` and the burst's cell count is a multiple of
//!   `quantum`. The answer's timing and, to within `quantum` cells, its
//!   length are hidden behind the rate; a rate slower than the backend's
//!   stream delays the answer.
//!
//! This module holds the policy and the per-session schedule; the relay
//! engine sends the cells.

use rand_core::Rng;

use crate::ecash::wallet::exponential;
use crate::time::{Duration, Instant};

/// Constant-rate streaming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConstantRate {
    /// One reply cell per `gap` while a burst lasts.
    pub gap: Duration,
    /// A burst ends once nothing real has waited for this long...
    pub tail: Duration,
    /// ...at a cell count that is a multiple of this (at least 1).
    pub quantum: u32,
}

/// How an endpoint shapes the cells it sends back (both off by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DownstreamShaping {
    /// Padding replies at exponential gaps of this mean while a session is
    /// open.
    pub cover_mean_gap: Option<Duration>,
    /// Constant-rate streaming.
    pub constant_rate: Option<ConstantRate>,
}

impl DownstreamShaping {
    /// Whether anything is shaped.
    pub fn is_on(&self) -> bool {
        self.cover_mean_gap.is_some() || self.constant_rate.is_some()
    }
}

/// What a due timer asks the endpoint to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// A constant-rate slot: a waiting real fragment, else padding.
    Slot,
    /// A cover padding reply.
    Cover,
}

/// One session's downstream schedule at its endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Shaper {
    slot: Option<Instant>,
    burst_cells: u64,
    last_real: Instant,
    cover: Option<Instant>,
}

impl Shaper {
    /// A request (or a reply) arrived: starts a burst and the cover clock if
    /// they are not running. Returns the timers newly set.
    pub fn start(
        &mut self,
        now: Instant,
        policy: &DownstreamShaping,
        rng: &mut impl Rng,
    ) -> Vec<Instant> {
        let mut set = Vec::new();
        if policy.constant_rate.is_some() && self.slot.is_none() {
            self.slot = Some(now);
            self.burst_cells = 0;
            self.last_real = now;
            set.push(now);
        }
        if let (Some(mean), None) = (policy.cover_mean_gap, self.cover) {
            let at = now + exponential(rng, mean);
            self.cover = Some(at);
            set.push(at);
        }
        set
    }

    /// Whether a timer set for `at` is still this session's, and for what.
    pub fn due(&self, at: Instant) -> Option<Due> {
        if self.slot == Some(at) {
            Some(Due::Slot)
        } else if self.cover == Some(at) {
            Some(Due::Cover)
        } else {
            None
        }
    }

    /// After a slot at `now`: `sent` whether a cell left, `real` whether it
    /// was a fragment, `waiting` whether fragments still wait. Returns the
    /// next slot, or `None` when the burst ends.
    pub fn after_slot(
        &mut self,
        now: Instant,
        rate: &ConstantRate,
        sent: bool,
        real: bool,
        waiting: bool,
    ) -> Option<Instant> {
        if sent {
            self.burst_cells += 1;
        }
        if real {
            self.last_real = now;
        }
        let quiet = now.saturating_duration_since(self.last_real) >= rate.tail;
        let whole = self
            .burst_cells
            .is_multiple_of(u64::from(rate.quantum.max(1)));
        self.slot = (waiting || !quiet || !whole).then(|| now + rate.gap);
        self.slot
    }

    /// After a cover reply at `now`: the next one.
    pub fn after_cover(&mut self, now: Instant, mean: Duration, rng: &mut impl Rng) -> Instant {
        let at = now + exponential(rng, mean);
        self.cover = Some(at);
        at
    }

    /// Whether a burst is running (real fragments wait for its slots).
    #[cfg(test)]
    fn in_burst(&self) -> bool {
        self.slot.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    fn rate() -> ConstantRate {
        ConstantRate {
            gap: Duration::from_millis(50),
            tail: Duration::from_millis(200),
            quantum: 8,
        }
    }

    fn policy() -> DownstreamShaping {
        DownstreamShaping {
            cover_mean_gap: None,
            constant_rate: Some(rate()),
        }
    }

    /// Runs a burst in which real fragments wait for the first `real` slots;
    /// returns the cells sent.
    fn burst(real: u64) -> u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut s = Shaper::default();
        let mut at = s.start(Instant::ZERO, &policy(), &mut rng)[0];
        let mut sent = 0;
        loop {
            assert_eq!(s.due(at), Some(Due::Slot));
            sent += 1;
            match s.after_slot(at, &rate(), true, sent <= real, sent < real) {
                Some(next) => {
                    assert_eq!(next, at + rate().gap, "slots are evenly spaced");
                    at = next;
                }
                None => return sent,
            }
        }
    }

    #[test]
    fn a_burst_pads_to_a_whole_quantum_after_the_tail() {
        for real in [1, 7, 8, 9, 30] {
            let sent = burst(real);
            assert_eq!(sent % 8, 0, "{real} real cells gave {sent}");
            // The tail (4 slots) passes before the burst may end.
            assert!(sent >= real + 4, "{real} real cells gave {sent}");
            assert!(sent < real + 4 + 8, "{real} real cells gave {sent}");
        }
    }

    #[test]
    fn a_second_start_during_a_burst_sets_no_timer() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut s = Shaper::default();
        assert_eq!(s.start(Instant::ZERO, &policy(), &mut rng).len(), 1);
        assert!(
            s.start(Instant::from_nanos(10), &policy(), &mut rng)
                .is_empty()
        );
        assert!(s.in_burst());
        assert_eq!(s.due(Instant::from_nanos(10)), None, "a stale timer");
    }

    #[test]
    fn cover_gaps_are_exponential_with_the_mean() {
        let mean = Duration::from_millis(100);
        let p = DownstreamShaping {
            cover_mean_gap: Some(mean),
            constant_rate: None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut s = Shaper::default();
        let mut at = s.start(Instant::ZERO, &p, &mut rng)[0];
        assert_eq!(s.due(at), Some(Due::Cover));
        let n = 20_000;
        for _ in 1..n {
            at = s.after_cover(at, mean, &mut rng);
        }
        let avg = at.as_nanos() as f64 / f64::from(n) / 1e6;
        assert!((avg - 100.0).abs() < 3.0, "mean gap {avg} ms");
        assert!(!s.in_burst(), "cover alone starts no burst");
    }
}
