//! `p2psim swarm`: many random small scenarios, each run with every checker
//! on (ARCHITECTURE.md, "Swarm testing"). The cases come from
//! [`peer2prompt_sim::swarm`]; this module schedules them on a pool, shows
//! progress, and keeps every failing case as a YAML file that
//! `p2psim run` replays.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use peer2prompt_sim::swarm::{Case, Verdict, case, run_case, seed_of};
use rayon::prelude::*;

use crate::sweep::ProgressStyleKind;

/// When a swarm stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// After this many cases.
    Seeds(u64),
    /// After the batch running when this much wall time has passed.
    For(Duration),
}

/// How a swarm runs.
#[derive(Clone, Debug)]
pub struct SwarmOptions {
    /// The swarm's own seed: case `i` runs `seed_of(start, i)`.
    pub start: u64,
    /// When to stop.
    pub budget: Budget,
    /// Where failing cases are written.
    pub out: PathBuf,
    /// Worker threads.
    pub threads: usize,
    /// Progress display.
    pub progress: ProgressStyleKind,
}

/// A case that failed, kept on disk.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Its seed.
    pub seed: u64,
    /// What broke.
    pub what: String,
    /// The scenario file written for it.
    pub file: PathBuf,
}

impl Failure {
    /// The one line that replays it.
    pub fn replay(&self) -> String {
        format!(
            "p2psim run {} --out /tmp/p2psim-swarm-{}",
            self.file.display(),
            self.seed
        )
    }
}

/// What a swarm came to.
#[derive(Clone, Debug, Default)]
pub struct SwarmOutcome {
    /// Cases run.
    pub cases: u64,
    /// Sessions over the passing cases.
    pub sessions: u64,
    /// Events over the passing cases.
    pub events: u64,
    /// Invariant checks over the passing cases.
    pub checks: u64,
    /// The failing cases, by seed.
    pub failures: Vec<Failure>,
}

/// Swarm errors (the environment, never a failing case).
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// A file could not be written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why, in words for logs and errors.
        reason: String,
    },
    /// The pool could not start.
    #[error("thread pool: {0}")]
    Pool(String),
}

/// Cases per batch per thread: large enough to keep the pool busy, small
/// enough that a `--for` budget overshoots by only a few cases.
const BATCH_PER_THREAD: u64 = 4;

/// Runs cases until the budget is spent.
pub fn run(opts: &SwarmOptions) -> Result<SwarmOutcome, SwarmError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| SwarmError::Pool(e.to_string()))?;
    let bar = progress_bar(opts);
    let started = Instant::now();
    let batch = BATCH_PER_THREAD * opts.threads.max(1) as u64;
    let mut out = SwarmOutcome::default();
    while let Some(n) = next_batch(opts.budget, out.cases, batch, started) {
        let cases: Vec<Case> = (out.cases..out.cases + n)
            .map(|i| case(seed_of(opts.start, i)))
            .collect();
        let verdicts: Vec<Verdict> = pool.install(|| cases.par_iter().map(run_case).collect());
        for (c, v) in cases.iter().zip(verdicts) {
            record(&mut out, c, v, &opts.out)?;
        }
        out.cases += n;
        bar.set_position(out.cases);
        bar.set_message(format!("{} failed", out.failures.len()));
        if opts.progress == ProgressStyleKind::Lines {
            eprintln!(
                "swarm: {} case(s), {} failed, {:.0} s",
                out.cases,
                out.failures.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    Ok(out)
}

/// The size of the next batch, or `None` when the budget is spent.
fn next_batch(budget: Budget, done: u64, batch: u64, started: Instant) -> Option<u64> {
    match budget {
        Budget::Seeds(n) => (done < n).then(|| batch.min(n - done)),
        Budget::For(d) => (started.elapsed() < d).then_some(batch),
    }
}

fn progress_bar(opts: &SwarmOptions) -> ProgressBar {
    if opts.progress != ProgressStyleKind::Bar {
        return ProgressBar::hidden();
    }
    let bar = match opts.budget {
        Budget::Seeds(n) => ProgressBar::new(n),
        Budget::For(_) => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template("{spinner} {pos} case(s) {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar
}

/// Adds one case's verdict; a failing case is written to `dir`.
fn record(out: &mut SwarmOutcome, c: &Case, v: Verdict, dir: &Path) -> Result<(), SwarmError> {
    match v {
        Verdict::Passed {
            sessions,
            events,
            checks,
        } => {
            out.sessions += sessions;
            out.events += events;
            out.checks += checks;
        }
        Verdict::Failed { what } => {
            let file = dir.join(format!("swarm-{}.yaml", c.seed));
            let io = |path: &Path, e: std::io::Error| SwarmError::Io {
                path: path.to_owned(),
                reason: e.to_string(),
            };
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let text = format!("# failed: {}\n{}", what.replace('\n', " "), c.yaml);
            std::fs::write(&file, text).map_err(|e| io(&file, e))?;
            out.failures.push(Failure {
                seed: c.seed,
                what,
                file,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_budget_runs_exactly_that_many_cases() {
        let t = Instant::now();
        assert_eq!(next_batch(Budget::Seeds(10), 0, 8, t), Some(8));
        assert_eq!(next_batch(Budget::Seeds(10), 8, 8, t), Some(2));
        assert_eq!(next_batch(Budget::Seeds(10), 10, 8, t), None);
        assert_eq!(next_batch(Budget::For(Duration::ZERO), 0, 8, t), None);
    }

    #[test]
    fn a_failing_case_is_kept_with_its_reason_and_replays_with_p2psim_run() {
        let dir = std::env::temp_dir().join(format!("p2psim-swarm-test-{}", std::process::id()));
        let c = case(seed_of(3, 0));
        let mut out = SwarmOutcome::default();
        let v = Verdict::Failed {
            what: "a checker\nbroke".into(),
        };
        record(&mut out, &c, v, &dir).unwrap();
        let f = &out.failures[0];
        let text = std::fs::read_to_string(&f.file).unwrap();
        assert!(text.starts_with("# failed: a checker broke\n"));
        let loaded = peer2prompt_sim::scenario::load_str(&f.file, &text).unwrap();
        assert_eq!(
            loaded.base.seed, c.seed,
            "the kept file replays the same seed"
        );
        assert!(f.replay().starts_with("p2psim run "));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
