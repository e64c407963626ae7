//! Real time as protocol time: a monotonic clock mapped to the protocol's
//! [`Instant`]s (nanoseconds since the network started), the same unit the
//! simulator's virtual clock uses.

use peer2prompt::time::Instant;

/// The live network's clock: protocol instants count from `start`.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: tokio::time::Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Clock {
            start: tokio::time::Instant::now(),
        }
    }

    /// The protocol instant of now.
    pub fn now(&self) -> Instant {
        self.protocol(tokio::time::Instant::now())
    }

    /// The protocol instant of a real instant (before the start reads as
    /// the start).
    pub fn protocol(&self, t: tokio::time::Instant) -> Instant {
        let nanos = t.saturating_duration_since(self.start).as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The real instant of a protocol instant, for a timer; `None` for
    /// "never" (and for instants too far off to represent).
    pub fn real(&self, t: Instant) -> Option<tokio::time::Instant> {
        if t == Instant::MAX {
            return None;
        }
        self.start
            .checked_add(std::time::Duration::from_nanos(t.as_nanos()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_and_real_instants_round_trip() {
        let c = Clock::start();
        let t = Instant::from_nanos(1_234_567_890);
        let real = c.real(t).expect("representable");
        assert_eq!(c.protocol(real), t);
        assert_eq!(c.real(Instant::MAX), None);
        assert!(
            c.now() < Instant::from_nanos(60_000_000_000),
            "starts near zero"
        );
    }
}
