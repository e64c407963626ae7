//! `manifest.json`: what produced an output folder (ARCHITECTURE.md,
//! invariant "datasets are Parquet, one row per entity": each output
//! folder has a manifest with the scenario hash, seed, git commit and tool
//! version). It holds no timestamps, so reruns produce the same bytes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Tool name and version.
    pub tool: String,
    /// Git commit of the checkout that ran (`unknown` outside a checkout).
    pub git_commit: String,
    /// Scenario file as given.
    pub scenario_file: String,
    /// SHA-256 of the scenario text.
    pub scenario_sha256: String,
    /// The scenario text, verbatim.
    pub scenario: String,
    /// Master seed used.
    pub seed: u64,
    /// Sweep points.
    pub points: usize,
    /// Replicates per point.
    pub replications: u32,
    /// Every (point, replicate) seed, for replay.
    pub replicate_seeds: Vec<(u32, u32, u64)>,
    /// Market scenarios: whether the market's sessions were onion-routed
    /// (`onion`) or paid on the rail without routing (`rail`), stated even
    /// when the scenario leaves it to the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_fidelity: Option<String>,
}

/// SHA-256 of `text`, hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The current git commit, if this runs inside a checkout.
pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}
