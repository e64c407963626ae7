//! Memory in use at steady state (issue 21's target is per node "at steady
//! state"): resident memory sampled against virtual time.
//!
//! Peak RSS (`VmHWM`, [`crate::scale::peak_rss_bytes`]) is the worst
//! instant: a run's start, when every node bootstraps and reads its
//! directory at once. Each progress report ([`sample`], at every hundredth
//! of a replicate's virtual time) also reads the resident memory now
//! (`VmRSS`); [`summary`] averages the samples of the measured phase, after
//! warm-up and before the drain. Resident memory counts what the allocator
//! keeps cached as well as what the simulation holds, so it is, if
//! anything, an over-estimate of the heap in use.

use std::sync::Mutex;

static SAMPLES: Mutex<Vec<(f64, u64)>> = Mutex::new(Vec::new());

/// The process's resident memory now (Linux `VmRSS`), bytes.
pub fn rss_bytes() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// A `/proc/self/status` field in kB.
pub(crate) fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Records the resident memory at `done` (a replicate's fraction of
/// virtual time).
pub fn sample(done: f64) {
    if let Some(b) = rss_bytes() {
        SAMPLES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((done, b));
    }
}

/// Resident memory over a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SteadyState {
    /// Mean of the samples in the measured phase.
    pub mean_bytes: u64,
    /// The largest of them.
    pub max_bytes: u64,
    /// How many there were.
    pub samples: usize,
}

/// The samples taken so far in the measured phase, the fraction range
/// `[from, to]` of virtual time; `None` without any.
pub fn summary(from: f64, to: f64) -> Option<SteadyState> {
    let samples = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    summarise(&samples, from, to)
}

fn summarise(samples: &[(f64, u64)], from: f64, to: f64) -> Option<SteadyState> {
    let steady: Vec<u64> = samples
        .iter()
        .filter(|(d, _)| (from..=to).contains(d))
        .map(|&(_, b)| b)
        .collect();
    let max_bytes = *steady.iter().max()?;
    Some(SteadyState {
        mean_bytes: steady.iter().sum::<u64>() / steady.len() as u64,
        max_bytes,
        samples: steady.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_state_is_the_measured_phase_only() {
        let s = [(0.1, 500), (0.3, 100), (0.5, 200), (0.7, 300), (0.95, 50)];
        let h = summarise(&s, 0.25, 0.75).expect("samples in range");
        assert_eq!(h.mean_bytes, 200);
        assert_eq!(h.max_bytes, 300);
        assert_eq!(h.samples, 3);
        assert!(summarise(&s, 0.8, 0.9).is_none());
    }

    #[test]
    fn this_process_is_resident() {
        let now = rss_bytes().expect("Linux /proc");
        assert!(now > 0);
        assert!(now <= crate::scale::peak_rss_bytes().expect("Linux /proc"));
    }
}
