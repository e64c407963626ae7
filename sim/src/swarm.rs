//! Swarm testing (TigerBeetle's VOPR, FoundationDB's simulation): one seed
//! draws one small random scenario, with sizes, loss, churn, NAT, mint
//! outages and batching, misbehaving relays, services and mints, double
//! spenders, long answers (many reply blocks) and long multi-turn sessions,
//! and runs it with every checker on (conservation over every mint every
//! minute and at the end, no honest hop seeing both ends). A case fails on
//! an invariant violation, a panic, or a generated scenario the loader
//! refuses. The scenario is YAML, so a failing case can be kept and
//! replayed with `p2psim run`.

use std::path::Path;

use rand_chacha::ChaCha20Rng;

use crate::rng::{self, Purpose, Streams, entity};
use crate::run::run_replicate;
use crate::scenario::load_str;

/// One generated case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The seed it came from.
    pub seed: u64,
    /// Its scenario.
    pub yaml: String,
}

/// What a case came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every checker held.
    Passed {
        /// Sessions opened.
        sessions: u64,
        /// Events processed.
        events: u64,
        /// Invariant checks run.
        checks: u64,
    },
    /// Something broke.
    Failed {
        /// What it was about, in words.
        what: String,
    },
}

/// Draws from a case's stream.
struct Draw(ChaCha20Rng);

impl Draw {
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + rng::index(&mut self.0, (hi - lo + 1) as usize) as u64
    }

    fn pick<T: Copy>(&mut self, options: &[T]) -> T {
        options[rng::index(&mut self.0, options.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        rng::unit(&mut self.0) < p
    }
}

/// The case of `seed`.
pub fn case(seed: u64) -> Case {
    let mut d = Draw(Streams::new(seed).stream(entity::WORLD, Purpose::Swarm));
    let relays = d.int(5, 14);
    let hops = d.int(1, 3.min(relays - 1));
    let (ghosts, gpus) = (d.int(1, 3), d.int(0, 2));
    let (mints, clients) = (d.int(1, 2), d.int(2, 8));
    let mut yaml = format!(
        "name: swarm-{seed}\n\
         description: swarm case {seed} (p2psim swarm)\n\
         seed: {seed}\n\
         replications: 1\n\
         population: {{relays: {relays}, ghosts: {ghosts}, gpus: {gpus}, mints: {mints}, clients: {clients}, identity_pow_bits: {pow}}}\n\
         network: {{ases_per_region: 4, loss: {loss}, nat_clients: {nat}, jitter_ms: {jitter}}}\n",
        pow = d.int(0, 4),
        loss = d.pick(&[0.0, 0.0, 0.01, 0.05, 0.1]),
        nat = d.pick(&[0.0, 0.0, 0.5, 1.0]),
        jitter = d.pick(&[0.0, 2.0, 20.0]),
    );
    yaml += &workload(&mut d);
    yaml += &protocol(&mut d, hops);
    yaml += &format!(
        "adversary: {{entry_fraction_m: {}, exit_fraction_g: {}}}\n",
        d.pick(&[0.0, 0.2, 0.5]),
        d.pick(&[0.0, 0.3, 1.0]),
    );
    if d.chance(0.3) {
        yaml += "churn: {relay_rate: {mean_up_s: 120, mean_down_s: 30}}\n";
    }
    yaml += &faults(&mut d, relays, ghosts + gpus, mints, clients);
    let yaml = system(&mut d, &yaml);
    Case { seed, yaml }
}

/// The system under test: mostly Peer2Prompt, sometimes a baseline with
/// its client policy and, half the time, its operator as the adversary.
/// Drawn last, so Peer2Prompt cases keep their other draws.
fn system(d: &mut Draw, yaml: &str) -> String {
    let system = d.pick(&[
        "peer2prompt",
        "peer2prompt",
        "peer2prompt",
        "llm_tor",
        "direct",
    ]);
    if system == "peer2prompt" {
        return yaml.to_owned();
    }
    let llm_tor = format!(
        "protocol:\n  llm_tor: {{tokens_per_purchase: {}, circuit_lifetime_s: {}}}\n",
        d.pick(&[1, 5, 20]),
        d.pick(&[30.0, 600.0]),
    );
    let mut out = format!("system: {system}\n") + &yaml.replacen("protocol:\n", &llm_tor, 1);
    if d.chance(0.5) {
        out = out.replacen(
            "adversary: {",
            "adversary: {operator: {purchase_window_s: 60}, ",
            1,
        );
    }
    out
}

fn workload(d: &mut Draw) -> String {
    format!(
        "workload:\n  warmup_s: 60\n  duration_s: {}\n  drain_s: 60\n  \
         sessions_per_client_per_hour: {}\n  turns_per_session: {}\n  \
         think_time_s: {{kind: exponential, mean: 5}}\n  \
         prompt_tokens: {{kind: log_normal, median: 200, sigma: 0.8}}\n  \
         output_tokens: {{kind: log_normal, median: {}, sigma: 0.9}}\n  \
         max_output_tokens: {}\n  funding_sat: {}\n",
        d.int(60, 240),
        d.pick(&[20, 60, 120]),
        d.pick(&[1, 1, 3, 12]),
        d.pick(&[50, 150, 800]),
        d.pick(&[500, 2000, 4000]),
        d.pick(&[300, 3000, 20000]),
    )
}

fn protocol(d: &mut Draw, hops: u64) -> String {
    let delay = d.pick(&[0.0, 0.0, 50.0]);
    format!(
        "protocol:\n  relays_per_route: {hops}\n  shards: {}\n  service_shards: 2\n  \
         immediate_settlement: {}\n  chunk_msat: {}\n  mint_batch_s: {}\n  \
         cover_rate_per_s: {}\n  hop_delay_ms: [0, {delay}]\n  audit_keysets: {}\n  \
         guards: {{enabled: {}}}\n  turn_timeout_s: {}\n{}",
        d.pick(&[1, 2, 4]),
        d.chance(0.7),
        d.pick(&[1000, 2000, 8000]),
        d.pick(&[0.0, 0.0, 2.0]),
        d.pick(&[0.0, 0.0, 2.0]),
        d.chance(0.3),
        d.chance(0.3),
        d.pick(&[8.0, 20.0]),
        downstream(d),
    )
}

/// The endpoints' downstream padding and constant-rate streaming, often off.
fn downstream(d: &mut Draw) -> String {
    let cover = d.pick(&[0.0, 0.0, 5.0]);
    let mut s = format!("  downstream_cover_rate_per_s: {cover}\n");
    if d.chance(0.3) {
        s += &format!(
            "  constant_rate: {{cells_per_s: {}, tail_ms: {}, quantum_cells: {}}}\n",
            d.pick(&[5.0, 20.0, 100.0]),
            d.pick(&[0.0, 500.0]),
            d.pick(&[1, 4, 16]),
        );
    }
    s
}

fn faults(d: &mut Draw, relays: u64, services: u64, mints: u64, clients: u64) -> String {
    let mut f = String::new();
    if d.chance(0.3) {
        f += &format!(
            "  lossy_relays: {{count: {}, drop_ppm: {}, extra_delay_ms: {}}}\n",
            d.int(1, 2.min(relays)),
            d.pick(&[0, 50_000, 300_000]),
            d.pick(&[0.0, 200.0]),
        );
    }
    if d.chance(0.3) {
        let cheat = if d.chance(0.5) {
            "overbill_ppm: 1200000"
        } else {
            "drop_replies: true"
        };
        f += &format!(
            "  cheating_services: {{count: {}, {cheat}}}\n",
            d.int(1, services)
        );
    }
    if d.chance(0.15) {
        f += &format!("  refusing_mints: {}\n", d.int(1, mints));
    }
    if d.chance(0.3) {
        f += &format!("  double_spenders: {}\n", d.int(1, 2.min(clients)));
    }
    if d.chance(0.3) {
        f += &format!(
            "  mint_outages: [{{mint: {}, at_s: {}, for_s: {}}}]\n",
            d.int(0, mints - 1),
            d.int(0, 60),
            d.int(10, 90),
        );
    }
    if f.is_empty() {
        f
    } else {
        format!("faults:\n{f}")
    }
}

/// Runs `case` with every checker on.
pub fn run_case(case: &Case) -> Verdict {
    let file = Path::new("swarm.yaml");
    let loaded = match load_str(file, &case.yaml) {
        Ok(l) => l,
        Err(e) => {
            return Verdict::Failed {
                what: format!("the generated scenario was refused: {e}"),
            };
        }
    };
    let Some(point) = loaded.points.first() else {
        return Verdict::Failed {
            what: "the generated scenario has no point".into(),
        };
    };
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_replicate(point, 0, loaded.base.seed, &())
    }));
    match ran {
        Ok(Ok(r)) => match r.into_network() {
            Some(r) => Verdict::Passed {
                sessions: r.sessions.len() as u64,
                events: r.stats.events,
                checks: r.stats.invariant_checks,
            },
            None => Verdict::Failed {
                what: "a swarm case drew a market scenario".into(),
            },
        },
        Ok(Err(f)) => Verdict::Failed {
            what: f.violation.to_string(),
        },
        Err(p) => Verdict::Failed {
            what: format!("panicked: {}", panic_text(p.as_ref())),
        },
    }
}

/// The text of a panic payload.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".into())
}

/// The seed of the `i`-th case of a swarm started from `start`.
pub fn seed_of(start: u64, i: u64) -> u64 {
    Streams::replicate_seed(start, u64::MAX, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_valid_scenarios_and_differ_by_seed() {
        let mut faults = 0;
        for i in 0..40 {
            let c = case(seed_of(7, i));
            let loaded = load_str(Path::new("t.yaml"), &c.yaml)
                .unwrap_or_else(|e| panic!("case {i} refused: {e}\n{}", c.yaml));
            if !loaded.base.faults.is_empty() {
                faults += 1;
            }
            assert_eq!(case(c.seed), c, "a case is a function of its seed");
        }
        assert!(faults > 10, "faults drawn in {faults} of 40 cases");
        assert_ne!(case(1).yaml, case(2).yaml);
    }

    #[test]
    fn baselines_are_drawn_and_their_cases_run() {
        use crate::scenario::System;
        let systems: Vec<(u64, System)> = (0..60)
            .map(|i| {
                let c = case(seed_of(11, i));
                let l = load_str(Path::new("t.yaml"), &c.yaml)
                    .unwrap_or_else(|e| panic!("case {i} refused: {e}\n{}", c.yaml));
                (c.seed, l.base.system)
            })
            .collect();
        for want in [System::LlmTor, System::Direct] {
            let Some(&(seed, _)) = systems.iter().find(|(_, s)| *s == want) else {
                panic!("no {want:?} case in 60 seeds");
            };
            let c = case(seed);
            if let Verdict::Failed { what } = run_case(&c) {
                panic!("{what}\n{}", c.yaml);
            }
        }
    }

    #[test]
    fn a_small_case_runs_with_its_checkers() {
        let c = case(seed_of(1, 0));
        match run_case(&c) {
            Verdict::Passed { checks, events, .. } => {
                assert!(events > 1000);
                assert!(checks > 0, "the checkers ran");
            }
            Verdict::Failed { what } => panic!("{what}\n{}", c.yaml),
        }
    }
}
