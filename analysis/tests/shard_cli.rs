//! Sweeps across machines (issue 21, item 4): `p2psim run --shard I/N` on
//! every shard, then `p2psim merge`, writes the same bytes as one whole
//! run, for a network and a market scenario; merge refuses shards that are
//! not one run (another scenario, seed, commit or shard count), overlapping
//! or missing shards, whole runs, and an occupied output folder.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{copy_dir, p2psim};

const TINY: &str = "tests/data/tiny.yaml";

fn tmp(name: &str) -> PathBuf {
    common::tmp("shard", name)
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Refused with exit 2 and a message containing every one of `words`.
fn refused(o: &Output, words: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for w in words {
        assert!(err.contains(w), "`{w}` not in: {err}");
    }
}

/// Every file under `dir` (but the lock, which holds a pid), by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != ".p2psim.lock")
        .map(|e| {
            assert!(e.file_type().unwrap().is_file(), "{:?} left", e.path());
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `scenario` whole and as `n` shards, merges the shards (given in
/// reverse order) and asserts the folders hold the same bytes.
fn whole_equals_merged(scenario: &str, n: u32, dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let whole = dir.join("whole");
    let mut args = vec!["run", scenario, "--out", s(&whole), "--threads", "2"];
    args.extend_from_slice(extra);
    ok(&p2psim(&args));
    let shards: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("shard{i}"))).collect();
    for (i, sh) in shards.iter().enumerate() {
        let spec = format!("{i}/{n}");
        let mut args = vec!["run", scenario, "--out", s(sh), "--threads", "1"];
        args.extend_from_slice(&["--shard", &spec]);
        args.extend_from_slice(extra);
        let out = ok(&p2psim(&args));
        assert!(out.contains(&format!("shard {spec}")), "{out}");
        assert!(sh.join("shard.json").exists());
        assert!(!sh.join("manifest.json").exists(), "a shard wrote datasets");
    }
    let merged = dir.join("merged");
    let mut args = vec!["merge", "--out", s(&merged)];
    args.extend(shards.iter().rev().map(|p| s(p)));
    let out = ok(&p2psim(&args));
    assert!(out.contains(&format!("merged {n} shard(s)")), "{out}");
    let (w, m) = (files(&whole), files(&merged));
    assert_eq!(w.keys().collect::<Vec<_>>(), m.keys().collect::<Vec<_>>());
    for (name, bytes) in &w {
        assert!(bytes == &m[name], "{name} differs between whole and merged");
    }
    assert!(w.contains_key("manifest.json"));
    shards
}

#[test]
fn merged_shards_are_byte_identical_to_a_whole_run() {
    let dir = tmp("network");
    // Four jobs over three shards: one shard runs two, the others one.
    let shards = whole_equals_merged(TINY, 3, &dir, &["--csv"]);

    // A folder that is not a shard, or a whole run, is refused.
    let other = |name: &str| s(&dir.join(name)).to_owned();
    let merge = |out: &str, from: &[&Path]| {
        let mut args = vec!["merge".to_owned(), "--out".into(), other(out)];
        args.extend(from.iter().map(|p| s(p).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p2psim(&args)
    };
    let (s0, s1, s2) = (&shards[0], &shards[1], &shards[2]);
    let whole = dir.join("whole");
    refused(&merge("m1", &[s0, s1, &whole]), &["whole run", "whole"]);
    refused(&merge("m2", &[s0, s1]), &["shard(s) 2 of 3 missing"]);
    // Overlap: the same shard twice, from two folders.
    let copy = dir.join("shard0-copy");
    copy_dir(s0, &copy);
    refused(&merge("m3", &[s0, &copy, s1, s2]), &["both shard 0/3"]);
    // Another seed, another scenario, another shard count, another commit.
    let alien = dir.join("alien");
    ok(&p2psim(&[
        "run",
        TINY,
        "--out",
        s(&alien),
        "--shard",
        "2/3",
        "--seed",
        "8",
        "--csv",
    ]));
    refused(&merge("m4", &[s0, s1, &alien]), &["seeds differ", "alien"]);
    let four = dir.join("four");
    ok(&p2psim(&[
        "run",
        TINY,
        "--out",
        s(&four),
        "--shard",
        "2/4",
        "--csv",
    ]));
    refused(&merge("m5", &[s0, s1, &four]), &["shard counts differ"]);
    let text = std::fs::read_to_string(TINY)
        .unwrap()
        .replace("jitter_ms: 3.0", "jitter_ms: 4.0");
    let changed = dir.join("changed.yaml");
    std::fs::write(&changed, text).unwrap();
    let scen = dir.join("scen");
    ok(&p2psim(&[
        "run",
        s(&changed),
        "--out",
        s(&scen),
        "--shard",
        "2/3",
        "--csv",
    ]));
    refused(&merge("m6", &[s0, s1, &scen]), &["scenarios differ"]);
    let record = copy.join("shard.json");
    let forged = std::fs::read_to_string(&record).unwrap().replace(
        "\"git_commit\": \"",
        "\"git_commit\": \"0000000000000000000000000000000000000000",
    );
    std::fs::write(&record, forged).unwrap();
    refused(
        &merge("m7", &[&copy, s1, s2]),
        &["was run by commit 000000000000"],
    );
    // A missing checkpoint is named.
    let cp = std::fs::read_dir(s1.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("point")
        })
        .unwrap();
    std::fs::remove_file(&cp).unwrap();
    refused(
        &merge("m8", &[s0, s1, s2]),
        &["checkpoint of point", "missing"],
    );
    // An occupied output folder is refused; so is rerunning a finished shard.
    refused(&merge("whole", &[s0, s2]), &["new or empty folder"]);
    refused(
        &p2psim(&["run", TINY, "--out", s(s0), "--shard", "0/3", "--csv"]),
        &["finished shard", "p2psim merge"],
    );
    refused(
        &p2psim(&["run", TINY, "--out", s(s0), "--shard", "3/3"]),
        &["I/N"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merged_market_shards_are_byte_identical_to_a_whole_run() {
    let dir = tmp("market");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string("tests/data/tiny_market.yaml")
        .unwrap()
        .replace("seed: 5\n", "seed: 5\nreplications: 3\n");
    let scenario = dir.join("market.yaml");
    std::fs::write(&scenario, text).unwrap();
    whole_equals_merged(s(&scenario), 2, &dir, &[]);
    std::fs::remove_dir_all(&dir).unwrap();
}
