//! `p2psim repro`: runs the reproduction set (scenarios/whitepaper/*.yaml,
//! embedded in the binary, or another folder; or their quick variants) into one folder, one sub-folder per scenario,
//! then builds the report. Finished replicates are checkpointed and
//! finished scenarios are kept, so an interrupted reproduction resumes
//! where it stopped, and a rerun only simulates scenarios that changed.

use std::path::{Path, PathBuf};

use peer2prompt_sim::scenario::{Loaded, ScenarioError, load_file, load_str, quick_variant};
use thiserror::Error;

use crate::manifest;
use crate::report::{self, Built, REPRO_FILE, ReportError, Run};
use crate::sweep::{self, ProgressStyleKind, RunOptions, SweepError, SweepSpec};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Where the reproduction set comes from.
#[derive(Clone, Copy, Debug)]
pub enum ScenarioSet<'a> {
    /// The set embedded in the binary at build time (scenarios/whitepaper).
    Embedded,
    /// Every `*.yaml` of a folder.
    Dir(&'a Path),
}

impl ScenarioSet<'_> {
    /// Loads and validates every scenario of the set, in name order.
    pub fn load(self) -> Result<Vec<Loaded>, ReproError> {
        match self {
            ScenarioSet::Embedded => WHITEPAPER
                .iter()
                .map(|(name, text)| {
                    Ok(load_str(
                        &Path::new("scenarios/whitepaper").join(name),
                        text,
                    )?)
                })
                .collect(),
            ScenarioSet::Dir(dir) => scenario_files(dir)?
                .iter()
                .map(|f| Ok(load_file(f)?))
                .collect(),
        }
    }
}

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
        /// The scenario's name.
        name: String,
        /// The failure.
        source: SweepError,
    },
    /// The report failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Another run writes into the output folder.
    #[error(transparent)]
    Locked(#[from] crate::lock::LockError),
    /// Writing failed.
    #[error("writing {file}: {source}")]
    Io {
        /// The scenario file.
        file: PathBuf,
        /// The I/O error behind it.
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

/// What a reproduction runs.
#[derive(Clone, Copy, Debug)]
pub struct ReproOptions<'a> {
    /// The scenarios.
    pub scenarios: ScenarioSet<'a>,
    /// Their quick variants.
    pub quick: bool,
    /// Worker threads.
    pub threads: usize,
    /// Progress display.
    pub progress: ProgressStyleKind,
    /// Also write every table as CSV.
    pub csv: bool,
}

/// Runs the set into `out` and builds the report.
pub fn run(out: &Path, opts: ReproOptions<'_>) -> Result<Built, ReproError> {
    let ReproOptions {
        scenarios,
        quick,
        threads,
        progress,
        csv,
    } = opts;
    // Validate everything before creating anything.
    let mut loaded = Vec::new();
    for l in scenarios.load()? {
        loaded.push(if quick { quick_variant(&l)? } else { l });
    }
    let marker = out.join(REPRO_FILE);
    let holds_something = |d: std::fs::ReadDir| {
        d.filter_map(Result::ok)
            .any(|e| e.file_name() != crate::lock::LOCK_FILE)
    };
    if out.exists()
        && !marker.is_file()
        && std::fs::read_dir(out).map(holds_something).unwrap_or(true)
    {
        return Err(ReproError::Foreign(out.to_owned()));
    }
    let io = |file: &Path| {
        let file = file.to_owned();
        move |source| ReproError::Io { file, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let _lock = crate::lock::take(out)?;
    let run = Run {
        quick,
        tool: format!("p2psim {}", env!("CARGO_PKG_VERSION")),
        git_commit: manifest::git_commit(),
        scenarios: loaded.iter().map(|l| l.base.name.clone()).collect(),
        results: Vec::new(),
        data: Vec::new(),
    };
    let json = serde_json::to_string_pretty(&run).map_err(|e| ReproError::Io {
        file: marker.clone(),
        source: std::io::Error::other(e),
    })?;
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
            shard: None,
        };
        let opts = RunOptions {
            resume: true,
            threads,
            progress,
        };
        sweep::run(&spec, &out.join(&name), opts).map_err(|source| ReproError::Sweep {
            name: name.clone(),
            source,
        })?;
        eprintln!(
            "repro: {name} done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(report::build(out)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_embedded_set_is_the_checkouts_scenarios_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/whitepaper");
        let files = scenario_files(&dir).unwrap();
        assert_eq!(files.len(), WHITEPAPER.len());
        for (f, (name, text)) in files.iter().zip(WHITEPAPER) {
            assert_eq!(f.file_name().unwrap().to_str().unwrap(), *name);
            assert_eq!(std::fs::read_to_string(f).unwrap(), *text);
        }
        let loaded = ScenarioSet::Embedded.load().unwrap();
        assert!(loaded.iter().any(|l| l.base.name == "link_probability"));
    }
}
