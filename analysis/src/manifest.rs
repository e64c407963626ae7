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
    /// Git commit the tool was built from (`-dirty` with uncommitted
    /// changes, `unknown` when built outside a checkout).
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
    /// Network scenarios: the crypto fidelity that ran (`full` or
    /// `elide_crypto`), stated even when the scenario leaves it to the
    /// default. Absent from market scenarios and older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto_fidelity: Option<String>,
}

/// SHA-256 of `text`, hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The git commit this binary was built from, `-dirty` appended when the
/// checkout had uncommitted changes to tracked files, `unknown` when it was
/// built outside a checkout (embedded by `build.rs`, so it names the code
/// that ran, wherever the binary runs).
pub fn git_commit() -> String {
    env!("P2PSIM_GIT_COMMIT").to_owned()
}

/// A commit as a reader sees it: 12 hex digits, and `-dirty` kept.
pub fn short_commit(commit: &str) -> String {
    let (hash, dirty) = match commit.strip_suffix("-dirty") {
        Some(h) => (h, "-dirty"),
        None => (commit, ""),
    };
    format!("{}{dirty}", &hash[..hash.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_commit_keeps_twelve_digits_and_the_dirty_mark() {
        let h = "8fe9a3142b7b519d4aa9a8a3de7e811d2b8c3546";
        assert_eq!(short_commit(h), "8fe9a3142b7b");
        assert_eq!(short_commit(&format!("{h}-dirty")), "8fe9a3142b7b-dirty");
        assert_eq!(short_commit("unknown"), "unknown");
    }

    #[test]
    fn the_embedded_commit_is_a_commit_or_unknown() {
        let c = git_commit();
        let hash = c.strip_suffix("-dirty").unwrap_or(&c);
        assert!(
            c == "unknown" || (hash.len() == 40 && hash.chars().all(|x| x.is_ascii_hexdigit())),
            "{c}"
        );
    }
}
