//! The clients' conversations (whitepaper "Session Semantics for Multi-Turn
//! Chat"): Poisson arrivals per client, one conversation at a time (later
//! arrivals wait), `turns_per_session` turns separated by think times.
//! Each conversation starts a new session: the client re-samples route and
//! service, as the whitepaper asks of new sessions.

use std::collections::HashMap;

use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;

use crate::scenario::Workload;
use crate::workload::ClientWork;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Every client's conversation state.
#[derive(Debug, Default)]
pub struct Conversations {
    work: HashMap<u32, ClientWork>,
    /// Conversations started.
    pub started: u64,
}

impl Conversations {
    /// Client `c`, drawing from `rng`; returns its first arrival at or after
    /// `from`.
    pub fn add(&mut self, c: u32, rng: ChaCha20Rng, w: &Workload, from: Instant) -> Instant {
        let mut work = ClientWork::new(rng);
        let first = from + secs(work.next_arrival_s(w));
        self.work.insert(c, work);
        first
    }

    /// A conversation arrives at client `c` at `at`; returns when the next
    /// one arrives (or `None` once the workload stopped).
    pub fn arrive(&mut self, c: u32, w: &Workload, at: Instant) -> Option<Instant> {
        let work = self.work.get_mut(&c)?;
        let next = at + secs(work.next_arrival_s(w));
        work.queued += 1;
        Some(next)
    }

    /// Starts client `c`'s next waiting conversation if it is idle; true
    /// when one started.
    pub fn begin(&mut self, c: u32, w: &Workload) -> bool {
        let Some(work) = self.work.get_mut(&c) else {
            return false;
        };
        if work.busy || work.queued == 0 {
            return false;
        }
        work.queued -= 1;
        work.busy = true;
        work.conversations += 1;
        self.started += 1;
        work.turns_left = w.turns_per_session;
        true
    }

    /// Client `c`'s next user message.
    pub fn message(&mut self, c: u32, w: &Workload) -> Option<Vec<u8>> {
        Some(self.work.get_mut(&c)?.message(w))
    }

    /// Client `c` finished a turn at `now`: when its next turn starts, or
    /// `None` when the conversation is over.
    pub fn turn_done(&mut self, c: u32, w: &Workload, now: Instant) -> Option<Instant> {
        let work = self.work.get_mut(&c)?;
        work.turns_left = work.turns_left.saturating_sub(1);
        (work.turns_left > 0).then(|| now + secs(work.think_s(w)))
    }

    /// Client `c`'s conversation is over; true when another is waiting.
    pub fn end(&mut self, c: u32) -> bool {
        self.work.get_mut(&c).is_some_and(|work| {
            work.busy = false;
            work.queued > 0
        })
    }

    /// No further turns or conversations start.
    pub fn stop(&mut self) {
        self.work.clear();
    }
}
