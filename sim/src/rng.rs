//! Random streams (ARCHITECTURE.md, "Invariants": results depend only on
//! the seed).
//!
//! Every stream is derived from (master seed, entity, purpose) by hashing, so
//! adding a node or a component never shifts another stream, and the
//! cryptographic streams (keys, nonces) are separate from the streams that make
//! scenario decisions (routes, workload, adversary placement).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

/// What a stream is for. The discriminant is part of the derivation and must
/// never be reused for another purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// A node's keys and nonces.
    Crypto = 1,
    /// A node's protocol decisions: routes, delays, coin selection.
    Decisions = 2,
    /// A node's identity key and proof of work.
    Identity = 3,
    /// A service's simulated provider.
    Provider = 4,
    /// A client's workload: arrival times, prompt lengths, think times.
    Workload = 5,
    /// Placement of a node in the topology (region, AS, prefix, bandwidth).
    Placement = 6,
    /// Per-datagram network randomness (jitter, loss) of one sender.
    Network = 7,
    /// Which nodes the adversary runs.
    Adversary = 8,
    /// Churn decisions of one node.
    Churn = 9,
    /// Topology construction (AS numbers and prefixes).
    Topology = 10,
    /// What Lightning reveals about payers (candidate sets).
    Lightning = 11,
    /// Which autonomous systems passive observers watch.
    Observers = 12,
    /// The adversary's own randomness when it guesses (the random-guess
    /// matcher, the baseline a real attacker must beat).
    Guessing = 13,
    /// The market's clients: willingness to pay and jurisdiction.
    MarketClients = 14,
    /// The market's demand: arrivals, clients, models, lengths, choices.
    MarketDemand = 15,
    /// Ghosts' end-of-day fates in the market (account bans).
    MarketFates = 16,
    /// One market mint's rail: the mint's and the wallets' keys and nonces.
    MarketRail = 17,
    /// One market mint's onion carrier (full fidelity).
    MarketCarrier = 18,
    /// Each market Ghost's patience (its exit window).
    MarketPatience = 19,
    /// Swarm testing: what a case's scenario is made of.
    Swarm = 20,
    /// The bandwidth a relay advertises.
    Bandwidth = 21,
    /// A baseline operator's token key (LLM-Tor's blind-signing key).
    BaselineKeys = 22,
    /// Which conversations open with a challenge probe (the users' choice).
    Probes = 23,
}

/// Entity ids for streams that belong to no node.
pub mod entity {
    /// The world (topology, adversary placement).
    pub const WORLD: u64 = u64::MAX;
}

/// Derives independent ChaCha20 streams from one master seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    master: u64,
}

impl Streams {
    /// Streams of the run with this master seed.
    pub fn new(master: u64) -> Self {
        Streams { master }
    }

    /// The master seed.
    pub fn master(&self) -> u64 {
        self.master
    }

    /// The stream of `entity` for `purpose`.
    pub fn stream(&self, entity: u64, purpose: Purpose) -> ChaCha20Rng {
        let mut h = Sha256::new();
        h.update(b"peer2prompt-sim/stream/v1");
        h.update(self.master.to_le_bytes());
        h.update(entity.to_le_bytes());
        h.update([purpose as u8]);
        let seed: [u8; 32] = h.finalize().into();
        ChaCha20Rng::from_seed(seed)
    }

    /// The master seed of replicate `r` of sweep point `p`: a pure function
    /// of the scenario seed, so points can run in any order on any thread.
    pub fn replicate_seed(master: u64, point: u64, replicate: u64) -> u64 {
        let mut h = Sha256::new();
        h.update(b"peer2prompt-sim/replicate/v1");
        h.update(master.to_le_bytes());
        h.update(point.to_le_bytes());
        h.update(replicate.to_le_bytes());
        let d = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_le_bytes(b)
    }
}

/// A uniform float in `[0, 1)`.
pub fn unit(rng: &mut impl rand_core::Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// An exponential draw with this mean.
pub fn exponential(rng: &mut impl rand_core::Rng, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// A uniform index in `0..n` (`n > 0`), without modulo bias.
pub fn index(rng: &mut impl rand_core::Rng, n: usize) -> usize {
    assert!(n > 0, "index of an empty range");
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let v = rng.next_u64();
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// Chooses `k` distinct indices of `0..n` uniformly (partial Fisher–Yates),
/// returned sorted.
pub fn choose(rng: &mut impl rand_core::Rng, n: usize, k: usize) -> Vec<usize> {
    assert!(k <= n, "choose {k} of {n}");
    let mut v: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + index(rng, n - i);
        v.swap(i, j);
    }
    let mut out = v[..k].to_vec();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn streams_are_independent_of_each_other_and_stable() {
        let s = Streams::new(7);
        let a1 = s.stream(1, Purpose::Crypto).next_u64();
        let a2 = s.stream(1, Purpose::Crypto).next_u64();
        let b = s.stream(1, Purpose::Decisions).next_u64();
        let c = s.stream(2, Purpose::Crypto).next_u64();
        let d = Streams::new(8).stream(1, Purpose::Crypto).next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
        assert_ne!(a1, d);
    }

    #[test]
    fn choose_is_distinct_and_in_range() {
        let mut r = Streams::new(1).stream(0, Purpose::Adversary);
        for n in [1usize, 5, 100] {
            for k in [0, 1, n / 2, n] {
                let c = choose(&mut r, n, k);
                assert_eq!(c.len(), k);
                assert!(c.windows(2).all(|w| w[0] < w[1]));
                assert!(c.iter().all(|&i| i < n));
            }
        }
    }

    #[test]
    fn exponential_has_its_mean() {
        let mut r = Streams::new(3).stream(0, Purpose::Workload);
        let n = 20_000;
        let m: f64 = (0..n).map(|_| exponential(&mut r, 2.0)).sum::<f64>() / n as f64;
        assert!((m - 2.0).abs() < 0.06, "{m}");
    }
}
