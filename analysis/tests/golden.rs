//! Datasets stay byte-identical unless a change means them to move: the
//! tiny reproduction's network scenarios, rerun from the scenario text and
//! seed their manifests recorded, give exactly the fixture's bytes
//! (tests/data/repro_tiny), and the quickstart gives the pinned digests
//! below. A change that alters results on purpose regenerates the fixture
//! (`python3 tools/repro_tiny.py`) and the digests, and says so in its
//! commit; a refactor must leave both alone.
//!
//! Both hold at either crypto fidelity: the same scenarios run with
//! `fidelity: elide_crypto` give the same bytes (issue 21: only wall time
//! may differ).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::at_fidelity;
use sha2::{Digest, Sha256};

const TINY: &str = "tests/data/repro_tiny";

/// The fixture's network scenarios rerun here: every engine component
/// (audit, Lightning privacy, observers, mint-exit, guards, price choice,
/// the loaded matcher) without the slowest two (link_probability, sybil),
/// which the same code paths cover.
const RERUN: [&str; 9] = [
    "visibility",
    "sessions_n",
    "latency",
    "observers",
    "mint_exit",
    "combined",
    "key_tagging",
    "subsidized_exits",
    "link_probability_load",
];

/// The files compared (manifests hold the commit and are not).
const DATASETS: [&str; 4] = [
    "sessions.parquet",
    "points.parquet",
    "summary.json",
    "roc.parquet",
];

/// SHA-256 of the quickstart's datasets (scenarios/quickstart.yaml, its own
/// seed), as of the commit that last changed results on purpose.
const QUICKSTART: [(&str, &str); 3] = [
    (
        "sessions.parquet",
        "963a943e3db6ee02386e516b1f115349ee9cc91b118f25e839feb8d65ac42c5d",
    ),
    (
        "points.parquet",
        "25f32458c28820b73ec07525e0036a4314ee6b777c2fae10ae9e55788beb582c",
    ),
    (
        "summary.json",
        "20085abafc5c3a73e7f632e66f2ba3d1c2847bbf4d769d9fcf0113ecd0dad1f2",
    ),
];

fn out_dir(name: &str) -> PathBuf {
    common::tmp("golden", name)
}

fn run(scenario: &Path, seed: Option<u64>, out: &Path) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p2psim"));
    cmd.args([
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    if let Some(s) = seed {
        cmd.args(["--seed", &s.to_string()]);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_tiny_reproductions_network_datasets_are_byte_identical() {
    tiny_reproduction_at("full");
}

#[test]
fn the_tiny_reproductions_network_datasets_are_byte_identical_under_elide_crypto() {
    tiny_reproduction_at("elide_crypto");
}

fn tiny_reproduction_at(fidelity: &str) {
    for name in RERUN {
        let fixture = Path::new(TINY).join(name);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture.join("manifest.json")).unwrap()).unwrap();
        let out = out_dir(&format!("{name}-{fidelity}"));
        std::fs::create_dir_all(&out).unwrap();
        let yaml = out.join("scenario.yaml");
        let text = at_fidelity(manifest["scenario"].as_str().unwrap(), fidelity);
        std::fs::write(&yaml, text).unwrap();
        let result = out.join("result");
        run(&yaml, manifest["seed"].as_u64(), &result);
        for f in DATASETS {
            let want = fixture.join(f);
            if !want.exists() {
                continue;
            }
            let got = std::fs::read(result.join(f)).unwrap();
            assert!(
                got == std::fs::read(&want).unwrap(),
                "{name}/{f} at fidelity {fidelity} differs from the fixture: results changed"
            );
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn the_quickstarts_datasets_match_their_pinned_digests() {
    quickstart_at("full");
}

#[test]
fn the_quickstarts_datasets_match_their_pinned_digests_under_elide_crypto() {
    quickstart_at("elide_crypto");
}

fn quickstart_at(fidelity: &str) {
    let dir = out_dir(&format!("quickstart-{fidelity}"));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("quickstart.yaml");
    let text = std::fs::read_to_string("../scenarios/quickstart.yaml").unwrap();
    std::fs::write(&yaml, at_fidelity(&text, fidelity)).unwrap();
    let out = dir.join("result");
    run(&yaml, None, &out);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["crypto_fidelity"], fidelity,
        "the manifest records it"
    );
    for (f, digest) in QUICKSTART {
        let bytes = std::fs::read(out.join(f)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            digest,
            "quickstart {f} at fidelity {fidelity} changed"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
