//! `p2psim repro`: runs the reproduction set (scenarios/whitepaper/*.yaml,
//! or their quick variants) into one folder, one sub-folder per scenario,
//! then builds the report. Finished replicates are checkpointed and
//! finished scenarios are kept, so an interrupted reproduction resumes
//! where it stopped, and a rerun only simulates scenarios that changed.

use std::path::{Path, PathBuf};

use peer2prompt_sim::scenario::{ScenarioError, load_file, quick_variant};
use thiserror::Error;

use crate::manifest;
use crate::report::{self, Built, REPRO_FILE, ReportError, Run};
use crate::sweep::{self, SweepError, SweepSpec};

/// Failures of a reproduction.
#[derive(Debug, Error)]
pub enum ReproError {
    /// No scenarios to run.
    #[error("{0}: no *.yaml scenarios")]
    NoScenarios(PathBuf),
    /// A scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The output folder holds something else.
    #[error("{0}: exists and is not a repro output folder; choose another --out")]
    Foreign(PathBuf),
    /// A sweep failed.
    #[error("{name}: {source}")]
    Sweep {
        /// Scenario.
        name: String,
        /// The failure.
        source: SweepError,
    },
    /// The report failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Writing failed.
    #[error("writing {file}: {source}")]
    Io {
        /// File.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl ReproError {
    /// True for failures of the run itself (an invariant violated), as
    /// opposed to bad input.
    pub fn is_run_failure(&self) -> bool {
        matches!(
            self,
            ReproError::Sweep {
                source: SweepError::Replicate { .. },
                ..
            }
        )
    }
}

/// The scenario files of the set, in name order.
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, ReproError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|_| ReproError::NoScenarios(dir.to_owned()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ReproError::NoScenarios(dir.to_owned()));
    }
    Ok(files)
}

/// True if `dir` holds the finished outputs of the scenario `text`.
fn finished(dir: &Path, text: &str) -> bool {
    let Ok(bytes) = std::fs::read(dir.join("manifest.json")) else {
        return false;
    };
    let Ok(m) = serde_json::from_slice::<manifest::Manifest>(&bytes) else {
        return false;
    };
    m.scenario_sha256 == manifest::sha256_hex(text)
        && dir.join("sessions.parquet").is_file()
        && dir.join("summary.json").is_file()
}

/// Runs the set in `scenarios` into `out` and builds the report; with
/// `csv`, every table is also written as CSV.
pub fn run(
    scenarios: &Path,
    out: &Path,
    quick: bool,
    threads: usize,
    progress: bool,
    csv: bool,
) -> Result<Built, ReproError> {
    // Validate everything before creating anything.
    let mut loaded = Vec::new();
    for f in scenario_files(scenarios)? {
        let l = load_file(&f)?;
        loaded.push(if quick { quick_variant(&l)? } else { l });
    }
    let marker = out.join(REPRO_FILE);
    if out.exists()
        && !marker.is_file()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(ReproError::Foreign(out.to_owned()));
    }
    let io = |file: &Path| {
        let file = file.to_owned();
        move |source| ReproError::Io { file, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let run = Run {
        quick,
        tool: format!("p2psim {}", env!("CARGO_PKG_VERSION")),
        git_commit: manifest::git_commit(),
        scenarios: loaded.iter().map(|l| l.base.name.clone()).collect(),
        results: Vec::new(),
        data: Vec::new(),
    };
    let json = serde_json::to_string_pretty(&run).unwrap_or_default();
    std::fs::write(&marker, json).map_err(io(&marker))?;
    for l in loaded {
        let name = l.base.name.clone();
        if finished(&out.join(&name), &l.text) {
            eprintln!("repro: {name}: already complete");
            continue;
        }
        eprintln!("repro: {name} ({} point(s))", l.points.len());
        let started = std::time::Instant::now();
        let spec = SweepSpec {
            seed: l.base.seed,
            loaded: l,
            only_point: None,
            only_replicate: None,
            csv,
        };
        sweep::run(&spec, &out.join(&name), true, threads, progress, true).map_err(|source| {
            ReproError::Sweep {
                name: name.clone(),
                source,
            }
        })?;
        eprintln!(
            "repro: {name} done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(report::build(out)?)
}
