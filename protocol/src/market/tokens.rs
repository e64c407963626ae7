//! Counting tokens (whitepaper "Malicious Service Nodes": clients meter what
//! they are billed).
//!
//! Billing needs client and service to count the same way. The testbed does
//! not ship a model tokenizer; both sides count one token per
//! [`BYTES_PER_TOKEN`] bytes, a documented stand-in that keeps counts
//! verifiable by both ends. Simulated prompts and responses are generated
//! with exactly the token counts the workload asks for.

/// Bytes per token in the stand-in tokenizer.
pub const BYTES_PER_TOKEN: usize = 4;

/// Tokens in `bytes`: `ceil(len / 4)`.
pub fn count(bytes: &[u8]) -> u64 {
    bytes.len().div_ceil(BYTES_PER_TOKEN) as u64
}

/// Deterministic filler text of exactly `tokens` tokens, varied by `seed`.
pub fn synthetic(tokens: u64, seed: u64) -> Vec<u8> {
    const WORDS: [&[u8; 4]; 8] = [
        b"lore", b"mipu", b"dola", b"rsit", b"amet", b"cons", b"ecte", b"tura",
    ];
    let mut out = Vec::with_capacity(tokens as usize * BYTES_PER_TOKEN);
    let mut s = seed | 1;
    for _ in 0..tokens {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(WORDS[(s % 8) as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_text_has_the_requested_token_count() {
        for t in [0u64, 1, 7, 1000] {
            assert_eq!(count(&synthetic(t, 3)), t);
        }
        assert_eq!(count(b"abcde"), 2);
        assert_ne!(synthetic(10, 1), synthetic(10, 2));
    }
}
