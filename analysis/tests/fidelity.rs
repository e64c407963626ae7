//! Crypto fidelity changes wall time only (issue 21): swarm cases, small
//! random scenarios with loss, churn, NAT, outages and misbehaving peers,
//! give byte-identical datasets under `fidelity: full` and `elide_crypto`.
//! (The quickstart and the tiny reproduction are checked at both levels
//! against their pinned bytes in `golden.rs`.)
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use peer2prompt_sim::swarm;

/// The files compared (manifests record the fidelity, so they differ).
const DATASETS: [&str; 3] = ["sessions.parquet", "points.parquet", "summary.json"];

fn run(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let out = dir.join(name);
    let o = Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn swarm_cases_give_the_same_datasets_at_both_fidelities() {
    let dir = std::env::temp_dir().join(format!("p2psim-fidelity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..4 {
        let case = swarm::case(swarm::seed_of(20_261_207, i));
        let full = run(&dir, &format!("{i}-full"), &case.yaml);
        let elided = run(
            &dir,
            &format!("{i}-elided"),
            &format!("fidelity: elide_crypto\n{}", case.yaml),
        );
        for f in DATASETS {
            let (a, b) = (
                std::fs::read(full.join(f)).unwrap(),
                std::fs::read(elided.join(f)).unwrap(),
            );
            assert!(!a.is_empty(), "case {i}: {f} is empty");
            assert!(a == b, "case {i} (seed {}): {f} differs", case.seed);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
