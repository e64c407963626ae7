//! Refusing what cannot fit, before it starts: a run's estimated peak
//! memory ([`peer2prompt_sim::scenario::memory`]) against what the machine
//! has available.

use peer2prompt_sim::scenario::Loaded;
use peer2prompt_sim::scenario::memory::{MemoryEstimate, estimate};
use thiserror::Error;

/// A run that would not fit.
#[derive(Debug, Error)]
#[error(
    "this run needs an estimated {need} at peak ({nodes} nodes per replicate, {parallel} replicate(s) at once), and {available} is available; \
     the estimate is driven by {drivers}; lower them (or --threads), or pass --force to run anyway"
)]
pub struct WouldNotFit {
    need: String,
    nodes: u64,
    parallel: u64,
    available: String,
    drivers: String,
}

/// Bytes as a person reads them.
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// The machine's available memory (Linux `MemAvailable`), bytes.
pub fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The estimate of `loaded` run with `threads`, or the refusal when it
/// exceeds `available` bytes.
pub fn check(
    loaded: &Loaded,
    threads: usize,
    available: Option<u64>,
) -> Result<Option<MemoryEstimate>, WouldNotFit> {
    let Some(e) = estimate(loaded, threads) else {
        return Ok(None);
    };
    match available {
        Some(a) if e.total > a as f64 => Err(WouldNotFit {
            need: human(e.total),
            nodes: e.nodes,
            parallel: e.parallel,
            available: human(a as f64),
            drivers: e
                .drivers
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        _ => Ok(Some(e)),
    }
}

/// One line for `validate` and `run`.
pub fn describe(e: &MemoryEstimate) -> String {
    format!(
        "estimated peak memory {} ({} nodes per replicate, {} at once)",
        human(e.total),
        e.nodes,
        e.parallel
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(relays: u64) -> Loaded {
        let text = format!(
            "name: t\nseed: 1\npopulation: {{relays: {relays}, ghosts: 2, gpus: 1, mints: 1, clients: 4}}\n\
             workload: {{duration_s: 60, sessions_per_client_per_hour: 1, \
             prompt_tokens: {{kind: fixed, value: 10}}, output_tokens: {{kind: fixed, value: 10}}}}\n"
        );
        peer2prompt_sim::scenario::load_str(Path::new("t.yaml"), &text).unwrap()
    }

    #[test]
    fn fifty_million_relays_are_refused_naming_estimate_availability_and_fields() {
        let err = check(&scenario(50_000_000), 1, Some(24_000_000_000))
            .unwrap_err()
            .to_string();
        assert!(err.contains("PB") || err.contains("EB"), "{err}");
        assert!(err.contains("24.0 GB is available"), "{err}");
        assert!(err.contains("population.relays = 50000000"), "{err}");
        assert!(err.contains("--force"), "{err}");
    }

    #[test]
    fn a_small_network_fits() {
        let e = check(&scenario(60), 2, Some(24_000_000_000))
            .unwrap()
            .unwrap();
        assert_eq!(e.nodes, 68);
        assert!(e.total < 1e9);
    }
}
