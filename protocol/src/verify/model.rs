//! What an auditor needs to recheck a step, and the simulated models.
//!
//! Rechecking step `s` means running the advertised model on the prompt
//! and the `s` tokens streamed before it (teacher forcing) and comparing
//! its quantized logits with the committed ones. [`ReferenceModel`] is
//! that ability; a real auditor implements it with the model's weights.
//!
//! The simulated models stand in for weights: each step's token and
//! logits are SHA-256 of the model's name, the prompt and the tokens so
//! far, so honest runs agree bit for bit with the reference (real
//! deployments need a tolerance for nondeterministic kernels; out of
//! scope). A substitute serves a cheaper model while advertising a better
//! one: at each step its logits differ from the advertised model's with
//! probability `p_diff`. That probability is an **assumption** of the
//! scenario, not a measured property of any model pair: it stands for how
//! often two models' quantized top-k logits disagree at a step.

use sha2::{Digest, Sha256};

use super::transcript::{MAX_LOGITS, Step, Transcript};

/// Quantized logits a simulated step carries.
pub const SIM_LOGITS: usize = 8;
/// Token ids of the simulated vocabulary.
pub const SIM_VOCAB: u32 = 50_000;

/// The simulated tokenizer's alphabet: a token is four of these letters.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Tokens as text, [`BYTES_PER_TOKEN`](crate::market::tokens::BYTES_PER_TOKEN)
/// bytes each, so the stand-in token count of the text is the step count.
pub fn render(tokens: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tokens.len() * 4);
    for &t in tokens {
        for shift in [15, 10, 5, 0] {
            out.push(ALPHABET[((t >> shift) & 31) as usize]);
        }
    }
    out
}

/// The tokens of rendered text; `None` if it is not [`render`]'s output.
pub fn parse(text: &[u8]) -> Option<Vec<u32>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    text.chunks(4)
        .map(|c| {
            c.iter().try_fold(0u32, |acc, b| {
                let v = ALPHABET.iter().position(|a| a == b)? as u32;
                Some(acc << 5 | v)
            })
        })
        .collect()
}

/// Recomputes the advertised model's step.
pub trait ReferenceModel {
    /// Model `model`'s step after `prompt` and the tokens `prefix`.
    fn step(&self, model: &str, prompt: &[u8], prefix: &[u32]) -> Step;
}

/// A simulated model: honest, or a substitute for another.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedModel {
    /// The model it really is.
    pub name: String,
    /// If it substitutes: the model it advertises, and the per-step
    /// probability that its logits differ from that model's.
    pub substitutes: Option<(String, f64)>,
}

/// The running state of a decode: a hash over prompt and tokens so far.
fn context(prompt: &[u8], prefix: &[u32]) -> [u8; 32] {
    let mut ctx: [u8; 32] = Sha256::digest(prompt).into();
    for t in prefix {
        ctx = next(&ctx, *t);
    }
    ctx
}

fn next(ctx: &[u8; 32], token: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ctx);
    h.update(token.to_be_bytes());
    h.finalize().into()
}

/// Model `model`'s step in context `ctx`.
fn honest_step(model: &str, ctx: &[u8; 32]) -> Step {
    let mut h = Sha256::new();
    h.update(b"peer2prompt/sim-model/v1");
    h.update((model.len() as u32).to_be_bytes());
    h.update(model.as_bytes());
    h.update(ctx);
    let d: [u8; 32] = h.finalize().into();
    let token = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % SIM_VOCAB;
    let logits_q = d[4..4 + SIM_LOGITS].iter().map(|&b| b as i8).collect();
    Step { token, logits_q }
}

/// A uniform draw in [0, 1) from the substitute's name and the context.
fn coin(model: &str, ctx: &[u8; 32]) -> f64 {
    let mut h = Sha256::new();
    h.update(b"peer2prompt/sim-substitute/v1");
    h.update(model.as_bytes());
    h.update(ctx);
    let d: [u8; 32] = h.finalize().into();
    (u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) >> 11) as f64
        / (1u64 << 53) as f64
}

impl SimulatedModel {
    /// An honest model.
    pub fn honest(name: &str) -> Self {
        SimulatedModel {
            name: name.to_owned(),
            substitutes: None,
        }
    }

    /// `name`, served in place of `advertised`.
    pub fn substitute(name: &str, advertised: &str, p_diff: f64) -> Self {
        SimulatedModel {
            name: name.to_owned(),
            substitutes: Some((advertised.to_owned(), p_diff.clamp(0.0, 1.0))),
        }
    }

    /// The model it claims to be.
    pub fn advertised(&self) -> &str {
        self.substitutes.as_ref().map_or(&self.name, |(a, _)| a)
    }

    fn step_in(&self, ctx: &[u8; 32]) -> Step {
        match &self.substitutes {
            Some((advertised, p)) if coin(&self.name, ctx) >= *p => honest_step(advertised, ctx),
            _ => honest_step(&self.name, ctx),
        }
    }

    /// Generates `steps` steps after `prompt`.
    pub fn generate(&self, prompt: &[u8], steps: u32) -> Transcript {
        let mut t = Transcript::default();
        let mut ctx = context(prompt, &[]);
        for _ in 0..steps {
            let s = self.step_in(&ctx);
            ctx = next(&ctx, s.token);
            t.push(s);
        }
        t
    }
}

/// The simulated reference: every model is its honest simulation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimulatedReference;

impl ReferenceModel for SimulatedReference {
    fn step(&self, model: &str, prompt: &[u8], prefix: &[u32]) -> Step {
        let s = honest_step(model, &context(prompt, prefix));
        debug_assert!(s.logits_q.len() <= MAX_LOGITS);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_round_trips_and_counts_one_token_per_step() {
        let tokens = vec![0, 1, 31, 32, SIM_VOCAB - 1, (1 << 20) - 1];
        let text = render(&tokens);
        assert_eq!(crate::market::tokens::count(&text), tokens.len() as u64);
        assert_eq!(parse(&text), Some(tokens));
        assert_eq!(parse(b"abc"), None);
        assert_eq!(parse(b"ab!d"), None);
    }

    #[test]
    fn honest_runs_match_the_reference_at_every_step() {
        let m = SimulatedModel::honest("big");
        let t = m.generate(b"prompt", 20);
        let tokens = t.tokens();
        for i in 0..20u32 {
            let (step, _) = t.open(i).expect("in range");
            assert_eq!(
                *step,
                SimulatedReference.step("big", b"prompt", &tokens[..i as usize])
            );
        }
    }

    #[test]
    fn a_substitute_differs_at_about_p_diff_of_its_steps() {
        let m = SimulatedModel::substitute("small", "big", 0.3);
        let t = m.generate(b"a long prompt", 2000);
        let tokens = t.tokens();
        let differ = (0..t.len())
            .filter(|&i| {
                let (step, _) = t.open(i).expect("in range");
                *step != SimulatedReference.step("big", b"a long prompt", &tokens[..i as usize])
            })
            .count() as f64;
        let share = differ / 2000.0;
        // Binomial(2000, 0.3): sd ≈ 0.0102; 5 sd either side.
        assert!((share - 0.3).abs() < 0.052, "{share}");
    }
}
