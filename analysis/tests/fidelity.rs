//! Crypto fidelity changes wall time only (issue 21): swarm cases, small
//! random scenarios with loss, churn, NAT, outages and misbehaving peers,
//! give byte-identical datasets under `fidelity: full` and `elide_crypto`.
//! (The quickstart and the tiny reproduction are checked at both levels
//! against their pinned bytes in `golden.rs`.)
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};

use common::at_fidelity;

use peer2prompt_sim::swarm;

/// The files compared (manifests record the fidelity, so they differ).
const DATASETS: [&str; 3] = ["sessions.parquet", "points.parquet", "summary.json"];

fn run(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let out = dir.join(name);
    let o = common::p2psim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn swarm_cases_give_the_same_datasets_at_both_fidelities() {
    let dir = common::tmp("fidelity", "swarm");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..4 {
        let case = swarm::case(swarm::seed_of(20_261_207, i));
        let full = run(&dir, &format!("{i}-full"), &case.yaml);
        let elided = run(
            &dir,
            &format!("{i}-elided"),
            &at_fidelity(&case.yaml, "elide_crypto"),
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

fn p2psim(args: &[&str]) -> (bool, String) {
    let o = common::p2psim(args);
    (o.status.success(), common::stderr(&o))
}

#[test]
fn elide_crypto_is_refused_where_it_does_not_belong() {
    let dir = common::tmp("fidelity", "refused");
    std::fs::create_dir_all(&dir).unwrap();
    let elided = |from: &str, to: &str| {
        let text = std::fs::read_to_string(from).unwrap();
        let file = dir.join(to);
        std::fs::write(&file, at_fidelity(&text, "elide_crypto")).unwrap();
        file.to_str().unwrap().to_owned()
    };
    // A market scenario: the field, at its line.
    let market = elided("../scenarios/market_90d.yaml", "market.yaml");
    let (ok, err) = p2psim(&["validate", &market]);
    assert!(!ok, "a market scenario took elide_crypto");
    assert!(
        err.contains("market.yaml:1:") && err.contains("fidelity"),
        "{err}"
    );
    // The live driver: real sockets, real cryptography.
    let live = elided("../scenarios/quickstart.yaml", "live.yaml");
    let (ok, err) = p2psim(&["live", "up", "--config", &live, "--for", "1s"]);
    assert!(!ok, "the live driver took elide_crypto");
    assert!(
        err.contains("live.yaml:1:") && err.contains("real cryptography only"),
        "{err}"
    );
    // A level that does not exist.
    let (ok, err) = p2psim(&["scale", ".", "--out", "x", "--fidelity", "fast"]);
    assert!(!ok && err.contains("unknown fidelity `fast`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
