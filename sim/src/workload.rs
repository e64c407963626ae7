//! What clients do (whitepaper "Request Flow"): conversations arrive as a
//! Poisson process per client; each runs `turns_per_session` turns separated
//! by think times; prompts and outputs follow the calibrated length
//! distributions. A client runs one conversation at a time; arrivals while it
//! is busy wait their turn.
//!
//! Prompts carry no marker of who sent them: the scorer learns which
//! session an exit flow belongs to from the engine's own ground truth
//! (`crate::truth`), never from anything an attacker could read.

use peer2prompt::market::tokens;
use rand_chacha::ChaCha20Rng;

use crate::rng;
use crate::scenario::Workload;

/// One client's workload state.
#[derive(Debug)]
pub struct ClientWork {
    /// The client's workload stream.
    pub rng: ChaCha20Rng,
    /// A conversation is running.
    pub busy: bool,
    /// Arrivals waiting.
    pub queued: u32,
    /// Turns left in the running conversation.
    pub turns_left: u32,
    /// Conversations started.
    pub conversations: u32,
}

impl ClientWork {
    /// Fresh state drawing from `rng`.
    pub fn new(rng: ChaCha20Rng) -> Self {
        ClientWork {
            rng,
            busy: false,
            queued: 0,
            turns_left: 0,
            conversations: 0,
        }
    }

    /// Seconds to the next conversation arrival.
    pub fn next_arrival_s(&mut self, w: &Workload) -> f64 {
        rng::exponential(&mut self.rng, 3_600.0 / w.sessions_per_client_per_hour)
    }

    /// Seconds of thinking before the next turn.
    pub fn think_s(&mut self, w: &Workload) -> f64 {
        w.think_time_s.sample(&mut self.rng).max(0.0)
    }

    /// The next user message: filler text of the drawn token count. The
    /// text is varied by a draw from the client's stream XORed with
    /// `text_seed`, so two runs that differ only in `text_seed` send
    /// prompts of the same lengths with different bytes.
    pub fn message(&mut self, w: &Workload) -> Vec<u8> {
        let want = w.prompt_tokens.sample(&mut self.rng).round().max(1.0) as u64;
        let seed = rand_core::Rng::next_u64(&mut self.rng) ^ w.text_seed.rotate_left(1);
        tokens::synthetic(want, seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Streams};

    #[test]
    fn messages_have_the_drawn_length_and_text_seed_changes_only_the_bytes() {
        let w: Workload = serde_yaml::from_str(
            "duration_s: 1\nsessions_per_client_per_hour: 1\nprompt_tokens: {kind: log_normal, median: 120, sigma: 0.5}\noutput_tokens: {kind: fixed, value: 1}",
        )
        .unwrap();
        let salted = Workload {
            text_seed: 99,
            ..w.clone()
        };
        let stream = || ClientWork::new(Streams::new(1).stream(1, Purpose::Workload));
        let (mut a, mut b) = (stream(), stream());
        for _ in 0..20 {
            let (x, y) = (a.message(&w), b.message(&salted));
            assert_eq!(x.len(), y.len());
            assert_eq!(x.len() % tokens::BYTES_PER_TOKEN, 0);
            assert_ne!(x, y, "the salt must change the text");
        }
        // The streams stayed in step: the next draw agrees.
        assert_eq!(a.next_arrival_s(&w), b.next_arrival_s(&w));
    }
}
