//! The adversary (whitepaper "Threat Model", tiers 2–4): which nodes it runs
//! (fractions m and g, or Sybil counts A beside N), the observations those
//! nodes pool, and the entry–exit matcher that tries to link clients to
//! prompts from those observations alone; colluding mints' logs and the
//! mint-exit attacker; passive observers on links and their timing
//! correlation attacker; the selective denial of service that kills what
//! the adversary cannot see end to end; the profile attacker that joins
//! what every channel saw into per-client profiles.

pub mod correlation;
pub mod dht_attack;
pub mod matcher;
pub mod mint_exit;
pub mod observer;
pub mod operator;
pub mod pool;
pub mod profile;
pub mod selective_dos;

use crate::population::{Kind, Slot};
use crate::rng::{self, Purpose, Streams, entity};
use crate::scenario::Scenario;

/// Plans every node of a scenario, marking the adversary's: with fractions,
/// `round(m · relays)` relays and `round(g · exits)` exits chosen uniformly;
/// with Sybil counts, extra relays and Ghosts appended, all adversarial.
pub fn plan(s: &Scenario, streams: &Streams) -> Vec<Slot> {
    let p = &s.population;
    let mut rng = streams.stream(entity::WORLD, Purpose::Adversary);
    let relays = p.relays as usize;
    let exits = (p.ghosts + p.gpus) as usize;
    let a = &s.adversary;
    let bad_relays = rng::choose(
        &mut rng,
        relays,
        (a.entry_fraction_m.get() * relays as f64).round() as usize,
    );
    let bad_exits = rng::choose(
        &mut rng,
        exits,
        (a.exit_fraction_g.get() * exits as f64).round() as usize,
    );
    let mut slots = Vec::new();
    let mut push = |kind: Kind, n: u32, bad: &dyn Fn(usize) -> bool| {
        for i in 0..n {
            slots.push(Slot {
                kind,
                nth: i,
                adversarial: bad(i as usize),
            });
        }
    };
    // A baseline runs one operator in place of the services and mints.
    let baseline = s.system.is_baseline();
    let (mints, ghosts, gpus) = match baseline {
        true => (0, 0, 0),
        false => (p.mints, p.ghosts, p.gpus),
    };
    let operator_bad = s.adversary.operator.is_some();
    push(Kind::Operator, u32::from(baseline), &|_| operator_bad);
    push(Kind::Mint, mints, &|_| false);
    push(Kind::Relay, p.relays, &|i| {
        bad_relays.binary_search(&i).is_ok()
    });
    push(Kind::Ghost, ghosts, &|i| {
        bad_exits.binary_search(&i).is_ok()
    });
    push(Kind::Gpu, gpus, &|i| {
        bad_exits.binary_search(&(i + p.ghosts as usize)).is_ok()
    });
    push(Kind::Client, p.clients, &|_| false);
    if let Some(sy) = &a.sybil {
        for i in 0..sy.relays {
            slots.push(Slot {
                kind: Kind::Relay,
                nth: p.relays + i,
                adversarial: true,
            });
        }
        for i in 0..sy.ghosts * u32::from(!baseline) {
            slots.push(Slot {
                kind: Kind::Ghost,
                nth: p.ghosts + i,
                adversarial: true,
            });
        }
        for i in 0..dht_attack::sybil_count(s) {
            slots.push(Slot {
                kind: Kind::DhtSybil,
                nth: i,
                adversarial: true,
            });
        }
    }
    slots
}

/// The analytic P(ends compromised) for this population: the adversary's
/// share of relays times its share of exits (m·g; (A/(A+N))² for Sybils
/// with equal shares).
pub fn analytic_p(slots: &[Slot]) -> f64 {
    let share = |f: &dyn Fn(Kind) -> bool| {
        let all = slots.iter().filter(|s| f(s.kind)).count();
        let bad = slots.iter().filter(|s| f(s.kind) && s.adversarial).count();
        if all == 0 {
            0.0
        } else {
            bad as f64 / all as f64
        }
    };
    share(&|k| k == Kind::Relay) * share(&|k| matches!(k, Kind::Ghost | Kind::Gpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(m: f64, g: f64) -> Scenario {
        let text = format!(
            "name: t\nseed: 3\npopulation: {{relays: 40, ghosts: 8, gpus: 2, clients: 3}}\n\
             workload: {{duration_s: 60, sessions_per_client_per_hour: 60, prompt_tokens: {{kind: fixed, value: 10}}, output_tokens: {{kind: fixed, value: 10}}}}\n\
             adversary: {{entry_fraction_m: {m}, exit_fraction_g: {g}}}\n"
        );
        crate::scenario::load_str(std::path::Path::new("t.yaml"), &text)
            .unwrap()
            .base
    }

    #[test]
    fn fractions_give_exact_counts() {
        let slots = plan(&scenario(0.25, 0.5), &Streams::new(1));
        let bad = |k: Kind| {
            slots
                .iter()
                .filter(|s| s.kind == k && s.adversarial)
                .count()
        };
        assert_eq!(bad(Kind::Relay), 10);
        assert_eq!(bad(Kind::Ghost) + bad(Kind::Gpu), 5);
        assert_eq!(bad(Kind::Client) + bad(Kind::Mint), 0);
        assert!((analytic_p(&slots) - 0.125).abs() < 1e-12);
    }
}
