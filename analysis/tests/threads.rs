//! In-replicate parallelism changes wall time only (issue 21): one
//! replicate's datasets are byte-identical for `--threads 1`, 2 and 8. The
//! scenarios have one point and one replicate, so every thread works inside
//! the replicate's windows (`sim/src/window.rs`).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};

use peer2prompt_sim::swarm;

/// The files compared (manifests record the thread count).
const DATASETS: [&str; 3] = ["sessions.parquet", "points.parquet", "summary.json"];

fn run(dir: &Path, name: &str, yaml: &str, threads: usize) -> PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let out = dir.join(format!("{name}-{threads}"));
    let o = common::p2psim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        &threads.to_string(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    out
}

fn same_on_1_2_and_8_threads(dir: &Path, name: &str, yaml: &str) {
    let one = run(dir, name, yaml, 1);
    for threads in [2, 8] {
        let other = run(dir, name, yaml, threads);
        for f in DATASETS {
            let a = std::fs::read(one.join(f)).unwrap();
            let b = std::fs::read(other.join(f)).unwrap();
            assert!(!a.is_empty(), "{name}: {f} is empty");
            assert!(a == b, "{name}: {f} differs on {threads} threads");
        }
    }
}

#[test]
fn one_replicate_gives_the_same_datasets_on_1_2_and_8_threads() {
    let dir = common::tmp("threads", "datasets");
    std::fs::create_dir_all(&dir).unwrap();
    // The quickstart's first grid point alone.
    let quickstart = std::fs::read_to_string("../scenarios/quickstart.yaml").unwrap();
    let one_point = quickstart.split("\nsweep:").next().unwrap();
    same_on_1_2_and_8_threads(&dir, "quickstart", one_point);
    // Swarm cases: loss, churn, NAT, outages and misbehaving peers.
    for i in 0..2 {
        let case = swarm::case(swarm::seed_of(20_261_207, i));
        same_on_1_2_and_8_threads(&dir, &format!("swarm{i}"), &case.yaml);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
