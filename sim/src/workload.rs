//! What clients do (whitepaper "Request Flow"): conversations arrive as a
//! Poisson process per client; each runs `turns_per_session` turns separated
//! by think times; prompts and outputs follow the calibrated length
//! distributions. A client runs one conversation at a time; arrivals while it
//! is busy wait their turn.

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

    /// The next user message of conversation `conv` of `client`: a marker
    /// naming the conversation (ground truth for scoring; the adversary's
    /// matcher never reads it), then filler up to the drawn token count.
    pub fn message(&mut self, w: &Workload, client: u32, conv: u32) -> Vec<u8> {
        let want = w.prompt_tokens.sample(&mut self.rng).round().max(1.0) as u64;
        let mut text = marker(client, conv).into_bytes();
        let have = tokens::count(&text);
        text.resize(have as usize * tokens::BYTES_PER_TOKEN, b' ');
        let seed = rand_core::Rng::next_u64(&mut self.rng);
        text.extend(tokens::synthetic(want.saturating_sub(have), seed));
        text
    }
}

/// The conversation marker that starts every prompt of a conversation.
pub fn marker(client: u32, conv: u32) -> String {
    format!("<c{client}:v{conv}>")
}

/// Reads a conversation marker back from the start of a prompt.
pub fn parse_marker(prompt: &[u8]) -> Option<(u32, u32)> {
    let end = prompt.iter().position(|&b| b == b'>')?;
    let s = std::str::from_utf8(prompt.get(2..end)?).ok()?;
    if !prompt.starts_with(b"<c") {
        return None;
    }
    let (c, v) = s.split_once(":v")?;
    Some((c.parse().ok()?, v.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Streams};
    use crate::scenario::Distribution;

    #[test]
    fn messages_have_the_drawn_length_and_a_readable_marker() {
        let w: Workload = serde_yaml::from_str(
            "duration_s: 1\nsessions_per_client_per_hour: 1\nprompt_tokens: {kind: fixed, value: 120}\noutput_tokens: {kind: fixed, value: 1}",
        )
        .unwrap();
        assert_eq!(w.prompt_tokens, Distribution::Fixed { value: 120.0 });
        let mut c = ClientWork::new(Streams::new(1).stream(1, Purpose::Workload));
        let m = c.message(&w, 17, 3);
        assert_eq!(tokens::count(&m), 120);
        assert_eq!(parse_marker(&m), Some((17, 3)));
        assert_eq!(parse_marker(b"hello"), None);
    }
}
