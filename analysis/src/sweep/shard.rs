//! Sweeps across machines (issue 21, item 4): `p2psim run --shard I/N` runs
//! the jobs whose global index (their position in the sweep's
//! (point, replicate) order) is ≡ I mod N, keeps their checkpoints and
//! writes `shard.json`; `p2psim merge` checks that a set of shards is one
//! whole run, gathers their checkpoints and assembles the datasets with the
//! same code a single-machine run uses, so the bytes are the same.
//!
//! A replicate's seed depends only on (master seed, point, replicate), so
//! what a shard computes does not depend on N.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use peer2prompt_sim::scenario::load_str;
use serde::{Deserialize, Serialize};

use super::checkpoint::{checkpoint_path, json_bytes, write_atomic};
use super::{CHECKPOINTS, SweepError, SweepOutcome, SweepSpec, assemble, io};
use crate::manifest;

/// The file a finished shard writes into its folder.
pub const SHARD_FILE: &str = "shard.json";

/// Which part of a sweep one machine runs: `I/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
}

impl Shard {
    /// Whether the job at `global` (its position in the sweep's job order)
    /// belongs to this shard.
    pub fn takes(&self, global: usize) -> bool {
        global % self.count as usize == self.index as usize
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}`: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// `shard.json`: what a shard ran, so that `merge` can check that its
/// shards are one run and rebuild the sweep without the scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Tool name and version.
    pub tool: String,
    /// The commit the shard's binary was built from.
    pub git_commit: String,
    /// Scenario file as given.
    pub scenario_file: String,
    /// SHA-256 of the scenario text.
    pub scenario_sha256: String,
    /// The scenario text, verbatim.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// `--point`, when given.
    pub only_point: Option<u32>,
    /// `--replicate`, when given.
    pub only_replicate: Option<u32>,
    /// `--csv`.
    pub csv: bool,
    /// Which shard this is.
    pub shard: Shard,
    /// The (point, replicate) jobs it ran, in order.
    pub jobs: Vec<(u32, u32)>,
}

impl ShardRecord {
    /// The record of `shard` of `spec`.
    pub fn new(spec: &SweepSpec, shard: Shard) -> Self {
        ShardRecord {
            tool: format!("p2psim {}", env!("CARGO_PKG_VERSION")),
            git_commit: manifest::git_commit(),
            scenario_file: spec.loaded.file.display().to_string(),
            scenario_sha256: manifest::sha256_hex(&spec.loaded.text),
            scenario: spec.loaded.text.clone(),
            seed: spec.seed,
            only_point: spec.only_point,
            only_replicate: spec.only_replicate,
            csv: spec.csv,
            shard,
            jobs: spec.shard_jobs(Some(shard)),
        }
    }

    /// The sweep this shard is part of (without the shard).
    fn spec(&self, dir: &Path) -> Result<SweepSpec, MergeError> {
        let loaded = load_str(Path::new(&self.scenario_file), &self.scenario).map_err(|e| {
            MergeError::Shard {
                dir: dir.to_owned(),
                reason: format!("its scenario no longer loads: {e}"),
            }
        })?;
        Ok(SweepSpec {
            loaded,
            seed: self.seed,
            only_point: self.only_point,
            only_replicate: self.only_replicate,
            csv: self.csv,
            shard: None,
        })
    }
}

/// Writes `shard.json` into a finished shard's folder.
pub(super) fn write_record(out: &Path, spec: &SweepSpec, shard: Shard) -> Result<(), SweepError> {
    write_atomic(
        &out.join(SHARD_FILE),
        &json_bytes(&ShardRecord::new(spec, shard))?,
    )
}

/// Why shards could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A folder is not a finished shard.
    #[error("{dir}: {reason}")]
    Shard {
        /// The folder.
        dir: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// Two shards are not parts of the same run.
    #[error("{a} and {b} are not parts of one run: their {field} differ ({va} vs {vb})")]
    Mismatch {
        /// The first shard's folder.
        a: PathBuf,
        /// The other shard's folder.
        b: PathBuf,
        /// What differs.
        field: &'static str,
        /// The first shard's value.
        va: String,
        /// The other shard's value.
        vb: String,
    },
    /// Two folders hold the same shard.
    #[error("{a} and {b} are both shard {shard}: shards overlap")]
    Overlap {
        /// One folder.
        a: PathBuf,
        /// The other.
        b: PathBuf,
        /// The shard both hold.
        shard: Shard,
    },
    /// Shards are missing.
    #[error("shard(s) {missing} of {count} missing: merge needs every shard")]
    Missing {
        /// The missing indices, comma-separated.
        missing: String,
        /// Shards in all.
        count: u32,
    },
    /// No shard was given.
    #[error("no shard folders given")]
    Empty,
    /// Assembling the datasets failed.
    #[error(transparent)]
    Sweep(#[from] SweepError),
}

/// Reads a shard folder's record and checks its checkpoints are all there.
fn read_shard(dir: &Path) -> Result<ShardRecord, MergeError> {
    let not = |reason: String| MergeError::Shard {
        dir: dir.to_owned(),
        reason,
    };
    let file = dir.join(SHARD_FILE);
    if !file.exists() {
        return Err(not(if dir.join("manifest.json").exists() {
            "holds a whole run, not a shard; merge takes only shards (from `p2psim run --shard I/N`)".into()
        } else {
            format!(
                "has no {SHARD_FILE}: not a finished shard (an unfinished one completes with `p2psim run --shard I/N --resume`)"
            )
        }));
    }
    let text = std::fs::read_to_string(&file).map_err(|e| not(e.to_string()))?;
    let record: ShardRecord = serde_json::from_str(&text)
        .map_err(|e| not(format!("{SHARD_FILE}: line {}: {e}", e.line())))?;
    let cp = dir.join(CHECKPOINTS);
    if let Some((p, r)) = record
        .jobs
        .iter()
        .find(|(p, r)| !checkpoint_path(&cp, *p, *r).exists())
    {
        return Err(not(format!(
            "checkpoint of point {p} replicate {r} is missing"
        )));
    }
    Ok(record)
}

/// Checks that `b` is another shard of `a`'s run.
fn same_run(a: (&Path, &ShardRecord), b: (&Path, &ShardRecord)) -> Result<(), MergeError> {
    let fields: [(&'static str, String, String); 5] = [
        (
            "scenarios",
            a.1.scenario_sha256.clone(),
            b.1.scenario_sha256.clone(),
        ),
        ("seeds", a.1.seed.to_string(), b.1.seed.to_string()),
        ("commits", a.1.git_commit.clone(), b.1.git_commit.clone()),
        (
            "shard counts",
            a.1.shard.count.to_string(),
            b.1.shard.count.to_string(),
        ),
        (
            "selections (--point, --replicate, --csv)",
            format!("{:?}", (a.1.only_point, a.1.only_replicate, a.1.csv)),
            format!("{:?}", (b.1.only_point, b.1.only_replicate, b.1.csv)),
        ),
    ];
    match fields.into_iter().find(|(_, va, vb)| va != vb) {
        None => Ok(()),
        Some((field, va, vb)) => Err(MergeError::Mismatch {
            a: a.0.to_owned(),
            b: b.0.to_owned(),
            field,
            va,
            vb,
        }),
    }
}

/// Checks the shards are exactly `0..N` of one run, made by this build.
fn check_set(shards: &[(PathBuf, ShardRecord)]) -> Result<(), MergeError> {
    let (first_dir, first) = shards.first().ok_or(MergeError::Empty)?;
    let mine = manifest::git_commit();
    if first.git_commit != mine {
        return Err(MergeError::Shard {
            dir: first_dir.clone(),
            reason: format!(
                "was run by commit {}, this p2psim is {}; merge with the binary that ran the shards",
                manifest::short_commit(&first.git_commit),
                manifest::short_commit(&mine)
            ),
        });
    }
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (dir, rec) in shards {
        same_run((first_dir, first), (dir, rec))?;
        if let Some(other) = seen.insert(rec.shard.index, dir) {
            return Err(MergeError::Overlap {
                a: other.to_owned(),
                b: dir.clone(),
                shard: rec.shard,
            });
        }
    }
    let count = first.shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            count,
        });
    }
    Ok(())
}

/// Merges finished shard folders into `out` (new or empty): the datasets,
/// summaries and manifest are those one single-machine run writes.
pub fn merge(out: &Path, dirs: &[PathBuf]) -> Result<SweepOutcome, MergeError> {
    let occupied = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if occupied || (out.exists() && !out.is_dir()) {
        return Err(SweepError::Occupied {
            path: out.to_owned(),
            reason: "merge writes into a new or empty folder".into(),
        }
        .into());
    }
    let shards = dirs
        .iter()
        .map(|d| read_shard(d).map(|r| (d.clone(), r)))
        .collect::<Result<Vec<_>, _>>()?;
    check_set(&shards)?;
    let (first_dir, first) = &shards[0];
    let spec = first.spec(first_dir)?;
    let _lock = crate::lock::take(out).map_err(SweepError::from)?;
    let cp = out.join(CHECKPOINTS);
    std::fs::create_dir_all(&cp).map_err(io(&cp))?;
    for (dir, rec) in &shards {
        gather(&dir.join(CHECKPOINTS), &cp, &rec.jobs)?;
    }
    let jobs = spec.jobs();
    let mut outcome = assemble(&spec, out, &cp, &jobs)?;
    outcome.resumed = jobs.len();
    Ok(outcome)
}

/// Copies the checkpoints of `jobs` (the JSON and any market tables) from
/// one shard's checkpoint folder into `to`.
fn gather(from: &Path, to: &Path, jobs: &[(u32, u32)]) -> Result<(), SweepError> {
    let stems: std::collections::BTreeSet<String> = jobs
        .iter()
        .filter_map(|(p, r)| {
            let path = checkpoint_path(from, *p, *r);
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let path = entry.map_err(io(from))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let stem = name.split('.').next().unwrap_or_default();
        if stems.contains(stem) {
            std::fs::copy(&path, to.join(&name)).map_err(io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_parses_and_refuses_what_is_not_one() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "0/0", "1", "a/2", "1/-2", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("I/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn shards_partition_the_jobs() {
        let n = 3;
        let mut owners = vec![0; 10];
        for i in 0..n {
            let s = Shard { index: i, count: n };
            for (g, o) in owners.iter_mut().enumerate() {
                *o += usize::from(s.takes(g));
            }
        }
        assert!(owners.iter().all(|&o| o == 1), "{owners:?}");
    }
}
