//! Running a sweep: every (point, replicate) on a rayon pool, whose threads
//! also run each replicate's parallel windows; a replicate's bytes do not
//! depend on how many there are. Every finished replicate is written to
//! `DIR/checkpoints/` at once (atomically), so an interrupted sweep loses no
//! finished replicate and `--resume` completes it; the datasets are
//! assembled from the checkpoints in (point, replicate) order, so the bytes
//! do not depend on thread count or on interruptions. A sweep can also be
//! split across machines (`shard`): each runs every N-th job, and `merge`
//! assembles their checkpoints with the same code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use peer2prompt_sim::record::ReplicateResult;
use peer2prompt_sim::rng::Streams;
use peer2prompt_sim::run::{Progress, run_replicate};
use peer2prompt_sim::scenario::{Loaded, Point};
use peer2prompt_sim::swarm::panic_text;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::manifest;
use crate::market;
use crate::summary;

mod checkpoint;
mod outputs;
mod shard;

pub use shard::{MergeError, SHARD_FILE, Shard, ShardRecord, merge};

use checkpoint::{
    checkpoint_path, json_bytes, read_checkpoint, write_atomic, write_checkpoint,
    write_market_checkpoint,
};
use outputs::{write_market_outputs, write_outputs};

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A file or folder could not be used.
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// Why, in words for logs and errors.
        reason: String,
    },
    /// The output folder holds another run.
    #[error("{path}: {reason}")]
    Occupied {
        /// The file or folder concerned.
        path: PathBuf,
        /// Why, in words for logs and errors.
        reason: String,
    },
    /// A replicate broke an invariant or panicked.
    #[error(
        "point {point} replicate {replicate} failed (seed {seed}): {what}\n  replay: p2psim run {file} --seed {master} --point {point} --replicate {replicate} --out /tmp/p2psim-replay"
    )]
    Replicate {
        /// Sweep point index.
        point: u32,
        /// Replicate index within its sweep point.
        replicate: u32,
        /// Replicate seed.
        seed: u64,
        /// Master seed.
        master: u64,
        /// Scenario file.
        file: String,
        /// What happened.
        what: String,
    },
    /// Building a dataset failed.
    #[error("writing datasets: {0}")]
    Dataset(String),
    /// Another run writes into the output folder.
    #[error(transparent)]
    Locked(#[from] crate::lock::LockError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SweepError + '_ {
    move |e| SweepError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// What a sweep runs.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The scenario.
    pub loaded: Loaded,
    /// Master seed.
    pub seed: u64,
    /// Only this point (replay).
    pub only_point: Option<u32>,
    /// Also write `sessions.csv` and `points.csv`.
    pub csv: bool,
    /// Only this replicate (replay).
    pub only_replicate: Option<u32>,
    /// Only this machine's part of the jobs (`--shard I/N`).
    pub shard: Option<Shard>,
}

impl SweepSpec {
    /// The points run.
    pub fn points(&self) -> Vec<Point> {
        self.loaded
            .points
            .iter()
            .filter(|p| self.only_point.is_none_or(|o| o == p.index))
            .cloned()
            .collect()
    }

    /// The (point, replicate) jobs.
    pub fn jobs(&self) -> Vec<(u32, u32)> {
        let reps = self.loaded.base.replications;
        self.points()
            .iter()
            .flat_map(|p| (0..reps).map(move |r| (p.index, r)))
            .filter(|(_, r)| self.only_replicate.is_none_or(|o| o == *r))
            .collect()
    }

    /// The jobs `shard` runs: those whose position in [`Self::jobs`] is
    /// ≡ its index mod its count (all of them without a shard).
    pub fn shard_jobs(&self, shard: Option<Shard>) -> Vec<(u32, u32)> {
        self.jobs()
            .into_iter()
            .enumerate()
            .filter(|(g, _)| shard.is_none_or(|s| s.takes(*g)))
            .map(|(_, j)| j)
            .collect()
    }
}

/// Identifies the run a checkpoint folder belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RunKey {
    scenario_sha256: String,
    seed: u64,
    only_point: Option<u32>,
    only_replicate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shard: Option<Shard>,
}

/// What a finished sweep wrote.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// Replicates run now (not resumed).
    pub ran: usize,
    /// Replicates taken from checkpoints.
    pub resumed: usize,
    /// Per-point summaries.
    pub summary: Vec<summary::PointSummary>,
    /// Events processed over all replicates.
    pub events: u64,
    /// Sessions over all replicates.
    pub sessions: u64,
    /// A market scenario's summary (what `market.json` holds).
    pub market: Option<market::MarketSummary>,
}

struct Bar<'a> {
    bar: &'a ProgressBar,
    shown: std::cell::Cell<u64>,
    /// Without a terminal: a line on stderr at every tenth of the work.
    log: Option<&'a LogProgress>,
}

/// Progress lines for runs without a terminal (batch jobs, CI logs).
struct LogProgress {
    total: u64,
    done: AtomicU64,
    logged: AtomicU64,
    started: std::time::Instant,
}

impl LogProgress {
    fn add(&self, units: u64) {
        let done = self.done.fetch_add(units, Ordering::Relaxed) + units;
        let tenth = done * 10 / self.total.max(1);
        let before = self.logged.fetch_max(tenth, Ordering::Relaxed);
        if tenth > before && tenth < 10 {
            let secs = self.started.elapsed().as_secs_f64();
            let left = secs * (self.total - done.min(self.total)) as f64 / done.max(1) as f64;
            eprintln!(
                "progress: {}% after {secs:.0} s, about {left:.0} s left",
                tenth * 10
            );
        }
    }
}

impl Progress for Bar<'_> {
    fn advance(&self, done: f64) {
        crate::memory::sample(done);
        let now = (done * 100.0) as u64;
        let before = self.shown.replace(now);
        self.bar.inc(now.saturating_sub(before));
        if let Some(l) = self.log {
            l.add(now.saturating_sub(before));
        }
    }
}

const CHECKPOINTS: &str = "checkpoints";

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressStyleKind {
    /// A bar (on a terminal).
    Bar,
    /// A line on stderr at every tenth of the work (batch jobs, CI logs).
    Lines,
    /// No progress output.
    Quiet,
}

impl ProgressStyleKind {
    /// A bar on a terminal, lines otherwise.
    pub fn for_stderr() -> Self {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressStyleKind::Bar
        } else {
            ProgressStyleKind::Lines
        }
    }
}

/// How a sweep runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep the finished replicates of an earlier, interrupted run.
    pub resume: bool,
    /// Worker threads.
    pub threads: usize,
    /// Progress display.
    pub progress: ProgressStyleKind,
}

/// Runs `spec` into `out` (created if missing). With `resume`, finished
/// replicates in `out/checkpoints` are kept; without it, a folder holding
/// an earlier run is refused. The folder is locked for the run.
pub fn run(spec: &SweepSpec, out: &Path, opts: RunOptions) -> Result<SweepOutcome, SweepError> {
    let RunOptions {
        resume,
        threads,
        progress,
    } = opts;
    let show_progress = progress == ProgressStyleKind::Bar;
    let log_progress = progress == ProgressStyleKind::Lines;
    let key = RunKey {
        scenario_sha256: manifest::sha256_hex(&spec.loaded.text),
        seed: spec.seed,
        only_point: spec.only_point,
        only_replicate: spec.only_replicate,
        shard: spec.shard,
    };
    let cp = out.join(CHECKPOINTS);
    let key_file = cp.join("run.json");
    if out.exists() && !out.is_dir() {
        return Err(SweepError::Occupied {
            path: out.to_owned(),
            reason: "exists and is not a folder".into(),
        });
    }
    let _lock = crate::lock::take(out)?;
    prepare(out, &cp, &key_file, &key, resume)?;
    let jobs = spec.shard_jobs(spec.shard);
    let done: Vec<(u32, u32)> = jobs
        .iter()
        .copied()
        .filter(|(p, r)| checkpoint_path(&cp, *p, *r).exists())
        .collect();
    let todo: Vec<(u32, u32)> = jobs.iter().copied().filter(|j| !done.contains(j)).collect();
    let bar = progress_bar(show_progress, todo.len() as u64 * 100);
    let finished = AtomicU64::new(0);
    let log = LogProgress {
        total: todo.len() as u64 * 100,
        done: AtomicU64::new(0),
        logged: AtomicU64::new(0),
        started: std::time::Instant::now(),
    };
    bar.set_message(format!("0/{} replicates", todo.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| SweepError::Dataset(e.to_string()))?;
    let points = spec.points();
    pool.install(|| {
        todo.par_iter().try_for_each(|&(p, r)| {
            let progress = Bar {
                bar: &bar,
                shown: std::cell::Cell::new(0),
                log: log_progress.then_some(&log),
            };
            run_one(spec, &points, (p, r), &cp, &progress)?;
            let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{n}/{} replicates", todo.len()));
            Ok::<(), SweepError>(())
        })
    })?;
    bar.finish_and_clear();
    let outcome = match spec.shard {
        // A shard keeps its checkpoints for `merge`.
        Some(s) => {
            shard::write_record(out, spec, s)?;
            shard_outcome(&cp, &jobs)?
        }
        None => assemble(spec, out, &cp, &jobs)?,
    };
    Ok(SweepOutcome {
        ran: todo.len(),
        resumed: done.len(),
        ..outcome
    })
}

/// Writes the datasets from the checkpoints of `jobs` in `cp`, in job
/// order, then removes the checkpoints.
fn assemble(
    spec: &SweepSpec,
    out: &Path,
    cp: &Path,
    jobs: &[(u32, u32)],
) -> Result<SweepOutcome, SweepError> {
    let mut results = Vec::with_capacity(jobs.len());
    for (p, r) in jobs {
        results.push(read_checkpoint(cp, *p, *r)?);
    }
    let mut outcome = write_outputs(spec, out, &results)?;
    if let Some(spec_market) = &spec.loaded.base.market {
        let names: Vec<String> = spec_market.models.iter().map(|m| m.name.clone()).collect();
        outcome.market = Some(write_market_outputs(spec, out, cp, jobs, &names)?);
        outcome.sessions = 0;
    }
    std::fs::remove_dir_all(cp).map_err(io(cp))?;
    Ok(outcome)
}

/// A shard's totals, from its checkpoints (no datasets: `merge` writes them).
fn shard_outcome(cp: &Path, jobs: &[(u32, u32)]) -> Result<SweepOutcome, SweepError> {
    let (mut events, mut sessions) = (0, 0);
    for (p, r) in jobs {
        let n = read_checkpoint(cp, *p, *r)?;
        events += n.stats.events;
        sessions += n.sessions.len() as u64;
    }
    Ok(SweepOutcome {
        ran: 0,
        resumed: 0,
        summary: Vec::new(),
        events,
        sessions,
        market: None,
    })
}

/// A bar over `total` hundredths of replicates, or a hidden one.
fn progress_bar(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent}% ({msg}) eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// Runs replicate `r` of point `p` (a panic or a violation is an error
/// naming its seed) and checkpoints what it recorded.
fn run_one(
    spec: &SweepSpec,
    points: &[Point],
    (p, r): (u32, u32),
    cp: &Path,
    progress: &Bar<'_>,
) -> Result<(), SweepError> {
    let point = points
        .iter()
        .find(|x| x.index == p)
        .ok_or_else(|| SweepError::Dataset(format!("no point {p}")))?;
    let fail = |seed: u64, what: String| SweepError::Replicate {
        point: p,
        replicate: r,
        seed,
        master: spec.seed,
        file: spec.loaded.file.display().to_string(),
        what,
    };
    let seed = Streams::replicate_seed(spec.seed, u64::from(p), u64::from(r));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_replicate(point, r, spec.seed, progress)
    }))
    .map_err(|e| fail(seed, format!("panicked: {}", panic_text(e.as_ref()))))?
    .map_err(|f| fail(f.seed, f.violation.to_string()))?;
    let network = match result {
        ReplicateResult::Network(n) => n,
        ReplicateResult::Market(m) => {
            // The tables first: a JSON checkpoint means they are there.
            write_market_checkpoint(cp, p, r, &m.run)?;
            m.network_part()
        }
    };
    write_checkpoint(cp, &network)
}

fn prepare(
    out: &Path,
    cp: &Path,
    key_file: &Path,
    key: &RunKey,
    resume: bool,
) -> Result<(), SweepError> {
    let earlier = key_file.exists();
    if earlier && !resume && out.join(SHARD_FILE).exists() {
        return Err(SweepError::Occupied {
            path: out.to_owned(),
            reason: "holds a finished shard; merge it with `p2psim merge`, or choose another --out"
                .into(),
        });
    }
    if earlier && !resume {
        return Err(SweepError::Occupied {
            path: out.to_owned(),
            reason:
                "holds an unfinished run; pass --resume to complete it, or choose another --out"
                    .into(),
        });
    }
    if earlier {
        let text = std::fs::read_to_string(key_file).map_err(io(key_file))?;
        let theirs: RunKey = serde_json::from_str(&text).map_err(|e| SweepError::Io {
            path: key_file.to_owned(),
            reason: e.to_string(),
        })?;
        if theirs != *key {
            return Err(SweepError::Occupied {
                path: out.to_owned(),
                reason: "its unfinished run used another scenario, seed or selection; cannot resume it with these".into(),
            });
        }
        return Ok(());
    }
    std::fs::create_dir_all(cp).map_err(io(out))?;
    write_atomic(key_file, &json_bytes(key)?)
}
