//! Churn (whitepaper "Adversary and Network Assumptions": nodes come and
//! go): relays alternating between up and down with exponential times, and
//! scheduled departures and returns of a role. It decides who goes offline
//! or comes back when; the engine applies it.

use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;

use crate::engine::Host;
use crate::population::Kind;
use crate::rng;
use crate::scenario::{ChurnRole, ChurnSpec};

/// Churn of one replicate.
#[derive(Debug)]
pub struct Churn {
    spec: ChurnSpec,
    rng: ChaCha20Rng,
    /// Nodes that went offline.
    pub departures: u64,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl Churn {
    /// Churn following `spec`, drawing from `rng`.
    pub fn new(spec: ChurnSpec, rng: ChaCha20Rng) -> Self {
        Churn {
            spec,
            rng,
            departures: 0,
        }
    }

    /// When each churning relay first flips, from `from` on: (host, time).
    pub fn first_flips(&mut self, hosts: &[Host], from: Instant) -> Vec<(u32, Instant)> {
        let Some(rate) = self.spec.relay_rate.clone() else {
            return Vec::new();
        };
        (0..hosts.len() as u32)
            .filter(|&i| hosts[i as usize].slot.kind == Kind::Relay)
            .map(|i| {
                (
                    i,
                    from + secs(rng::exponential(&mut self.rng, rate.mean_up_s)),
                )
            })
            .collect()
    }

    /// The scheduled steps: (index, time), from `from` on.
    pub fn steps(&self, from: Instant) -> Vec<(usize, Instant)> {
        self.spec
            .schedule
            .iter()
            .enumerate()
            .map(|(k, s)| (k, from + secs(s.at_s)))
            .collect()
    }

    /// Relay `online` just flipped at `at`: when it flips back.
    pub fn next_flip(&mut self, online: bool, at: Instant) -> Option<Instant> {
        let rate = self.spec.relay_rate.clone()?;
        let mean = if online {
            rate.mean_up_s
        } else {
            rate.mean_down_s
        };
        Some(at + secs(rng::exponential(&mut self.rng, mean)))
    }

    /// Whether relays churn at all.
    pub fn relays_churn(&self) -> bool {
        self.spec.relay_rate.is_some()
    }

    /// Step `k`: the hosts that go offline, then those that come back.
    pub fn step(&mut self, hosts: &[Host], k: usize) -> Vec<(u32, bool)> {
        let step = self.spec.schedule[k].clone();
        let kind = match step.role {
            ChurnRole::Relay => Kind::Relay,
            ChurnRole::Ghost => Kind::Ghost,
            ChurnRole::Gpu => Kind::Gpu,
        };
        let mut changes = Vec::new();
        for (want_online, n) in [(false, step.leave), (true, step.join)] {
            // Who is online now, after the changes already decided.
            let is_online = |i: u32| {
                changes
                    .iter()
                    .rev()
                    .find(|(h, _)| *h == i)
                    .map_or(hosts[i as usize].online, |(_, o)| *o)
            };
            let cands: Vec<u32> = (0..hosts.len() as u32)
                .filter(|&i| hosts[i as usize].slot.kind == kind && is_online(i) != want_online)
                .collect();
            let n = (n as usize).min(cands.len());
            for j in rng::choose(&mut self.rng, cands.len(), n) {
                changes.push((cands[j], want_online));
            }
        }
        changes
    }
}
