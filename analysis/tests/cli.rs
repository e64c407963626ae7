//! `p2psim` on tiny scenarios: validation, bad input of every kind (exit 2,
//! a message naming file, line and field, and no dataset left behind), and
//! determinism (same seed, thread counts, interrupted and resumed runs give
//! byte-identical Parquet files).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{p2psim, stderr};

const TINY: &str = "tests/data/tiny.yaml";

fn tmp(name: &str) -> PathBuf {
    common::tmp("test", name)
}

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn tiny_with(find: &str, replace: &str) -> String {
    let t = std::fs::read_to_string(TINY).unwrap();
    assert!(t.contains(find), "{find}");
    t.replace(find, replace)
}

#[test]
fn validate_and_schema() {
    let o = p2psim(&["validate", TINY]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 point(s) x 2 replicate(s)"));
    let o = p2psim(&["schema"]);
    assert!(o.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let props = &schema["properties"];
    assert!(props["population"].is_object() && props["adversary"].is_object());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("\"maximum\": 1.0"),
        "probabilities are bounded in the schema"
    );
}

#[test]
fn bad_input_exits_2_with_location_and_leaves_nothing() {
    let dir = tmp("bad");
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "unknown.yaml",
            tiny_with("  relays: 16\n", "  relays: 16\n  relayz: 3\n"),
            &[
                "unknown field `relayz`",
                "unknown.yaml:7:3:",
                "population.relayz",
            ],
        ),
        (
            "prob.yaml",
            tiny_with("loss: 0.0", "loss: 1.5"),
            &["between 0 and 1", "network.loss"],
        ),
        (
            "negative.yaml",
            tiny_with("clients: 6", "clients: -6"),
            &["population.clients", "`-6`, expected u32"],
        ),
        (
            "sweep.yaml",
            tiny_with(
                "adversary.exit_fraction_g: 0.25}",
                "adversary.exit_fraction_q: 0.25}",
            ),
            &["unknown parameter adversary.exit_fraction_q", "sweep"],
        ),
        (
            "sweep_range.yaml",
            tiny_with(
                "adversary.exit_fraction_g: 0.25}",
                "adversary.exit_fraction_g: 2.5}",
            ),
            &["sweep point 1", "between 0 and 1"],
        ),
        (
            "syntax.yaml",
            tiny_with("  ghosts: 4\n", "  ghosts: [4\n"),
            &["syntax.yaml:"],
        ),
    ];
    for (name, text, needles) in cases {
        let path = write_scenario(&dir, name, &text);
        let out = dir.join(format!("out-{name}"));
        for args in [
            vec!["validate", path.to_str().unwrap()],
            vec![
                "run",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        ] {
            let o = p2psim(&args);
            assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
            let e = stderr(&o);
            assert!(e.contains(name), "{name}: file not named: {e}");
            for n in needles {
                assert!(e.contains(n), "{name}: {n:?} missing from {e}");
            }
            assert!(!out.exists(), "{name}: left an output folder behind");
        }
    }
    // A missing file.
    let o = p2psim(&[
        "run",
        "no/such.yaml",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no/such.yaml: cannot read"),
        "{}",
        stderr(&o)
    );
    // An unwritable output folder (a file stands in its way).
    let blocker = dir.join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let out = blocker.join("out");
    let o = p2psim(&["run", TINY, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("blocker"), "{}", stderr(&o));
    // Replay selectors outside the scenario.
    let o = p2psim(&[
        "run",
        TINY,
        "--out",
        dir.join("o2").to_str().unwrap(),
        "--point",
        "9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn parquet_bytes(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("sessions.parquet")).unwrap(),
        std::fs::read(dir.join("points.parquet")).unwrap(),
    )
}

#[test]
fn runs_are_byte_identical_across_reruns_threads_and_resumes() {
    let a = tmp("det-a");
    let b = tmp("det-b");
    let c = tmp("det-c");
    let d = tmp("det-d");
    let run = |out: &Path, threads: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            TINY,
            "--out",
            out.to_str().unwrap(),
            "--threads",
            threads,
        ];
        args.extend_from_slice(extra);
        let o = p2psim(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&a, "1", &[]);
    run(&b, "1", &[]);
    run(&c, "2", &[]);
    assert_eq!(
        parquet_bytes(&a),
        parquet_bytes(&b),
        "same seed, different bytes"
    );
    assert_eq!(
        parquet_bytes(&a),
        parquet_bytes(&c),
        "--threads 1 and 2 differ"
    );
    for f in ["summary.json", "manifest.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(c.join(f)).unwrap()
        );
    }
    // Another seed gives other data.
    let e = tmp("det-e");
    run(&e, "2", &["--seed", "8"]);
    assert_ne!(parquet_bytes(&a).0, parquet_bytes(&e).0);

    // Interrupt a run after its first checkpoint, then resume it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .args(["run", TINY, "--out", d.to_str().unwrap(), "--threads", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cp = d.join("checkpoints");
    loop {
        let n = std::fs::read_dir(&cp)
            .map(|r| {
                // A finished checkpoint is a `.json`; a `.tmp` is one being written.
                r.filter(|e| {
                    e.as_ref().is_ok_and(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.starts_with("point") && name.ends_with(".json")
                    })
                })
                .count()
            })
            .unwrap_or(0);
        if n >= 1 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!d.join("sessions.parquet").exists());
    // Without --resume the folder is refused.
    let o = p2psim(&["run", TINY, "--out", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    let out = run(&d, "2", &["--resume"]);
    assert!(!out.contains(" 0 resumed"), "nothing was resumed: {out}");
    assert_eq!(parquet_bytes(&a), parquet_bytes(&d), "resumed run differs");
    assert!(!cp.exists(), "checkpoints left behind");
    for x in [a, b, c, d, e] {
        std::fs::remove_dir_all(x).unwrap();
    }
}

#[test]
fn sessions_have_the_documented_columns_and_sane_values() {
    let a = tmp("cols");
    let o = p2psim(&["run", TINY, "--out", a.to_str().unwrap(), "--csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let df = peer2prompt_analysis::dataset::read_parquet(&a.join("sessions.parquet")).unwrap();
    // --csv: the same table as CSV, one line per row after the header.
    let csv = std::fs::read_to_string(a.join("sessions.csv")).unwrap();
    assert_eq!(csv.lines().count(), df.height() + 1);
    assert!(csv.starts_with("point,replicate,session_id,client,"));
    assert!(a.join("points.csv").is_file());
    for c in [
        "point",
        "replicate",
        "session_id",
        "client",
        "entry",
        "exit",
        "exit_kind",
        "entry_adversarial",
        "exit_adversarial",
        "ends_compromised",
        "linked",
        "link_guess_correct",
        "turns",
        "prompt_tokens",
        "output_tokens",
        "started_ns",
        "first_token_ns",
        "completed_ns",
        "outcome",
    ] {
        assert!(df.column(c).is_ok(), "missing column {c}");
    }
    assert!(df.height() > 20, "only {} sessions", df.height());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    let pts = summary["points"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    for p in pts {
        let lo = p["ends_compromised"]["lo"].as_f64().unwrap();
        let hi = p["ends_compromised"]["hi"].as_f64().unwrap();
        assert!(lo <= hi);
        assert!((p["m_times_g"].as_f64().unwrap() - 0.125).abs() < 1e-9);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["seed"], 7);
    assert_eq!(manifest["scenario_sha256"].as_str().unwrap().len(), 64);
    std::fs::remove_dir_all(a).unwrap();
}

#[test]
fn a_market_run_writes_its_datasets_and_records_its_fidelity() {
    let out = tmp("market");
    let o = p2psim(&[
        "run",
        "tests/data/tiny_market.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("jobs served"), "{stdout}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["market_fidelity"], "rail");
    let read = |name: &str| peer2prompt_analysis::dataset::read_parquet(&out.join(name)).unwrap();
    let days = read("market_days.parquet");
    assert_eq!(days.height(), 3);
    for c in [
        "jobs",
        "unserved",
        "active_ghosts",
        "active_gpus",
        "gpu_token_share",
        "mean_premium",
        "negative_jobs",
        "consumer_surplus_usd",
        "price_index_gpt-4o",
        "price_index_claude-sonnet-4.5",
    ] {
        assert!(days.column(c).is_ok(), "market_days lacks {c}");
    }
    let ghost_days = read("ghost_days.parquet");
    assert_eq!(ghost_days.height(), 3 * 7, "7 agents a day");
    assert!(ghost_days.column("margin").is_ok() && ghost_days.column("utilisation").is_ok());
    let jobs = read("jobs.parquet");
    let total: f64 = days
        .column("jobs")
        .unwrap()
        .as_materialized_series()
        .sum()
        .unwrap();
    assert!(jobs.height() > 0 && (jobs.height() as f64) < total);
    // Claude jobs are frontier-exclusive: no GPU node served one.
    let served_by = jobs.column("served_by").unwrap().str().unwrap().clone();
    let model = jobs.column("model").unwrap().str().unwrap().clone();
    assert!(
        served_by
            .iter()
            .zip(model.iter())
            .all(|(s, m)| !(s == Some("gpu") && m == Some("claude-sonnet-4.5")))
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("market.json")).unwrap()).unwrap();
    assert_eq!(summary["points"][0]["negative_jobs"]["k"], 0);
    // One thread gives byte-identical tables.
    let again = tmp("market-again");
    let o = p2psim(&[
        "run",
        "tests/data/tiny_market.yaml",
        "--out",
        again.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["ghost_days.parquet", "market_days.parquet", "jobs.parquet"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs across thread counts"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&again);
}

#[test]
fn a_second_run_into_a_folder_in_use_is_refused_naming_the_holder() {
    let out = tmp("locked");
    let _ = std::fs::remove_dir_all(&out);
    // This test process holds the folder, as a running p2psim would.
    let held = peer2prompt_analysis::lock::take(&out).unwrap();
    let o = p2psim(&["run", TINY, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "in use by another p2psim run (pid {})",
            std::process::id()
        )),
        "{err}"
    );
    assert!(!out.join("sessions.parquet").exists());
    // Once the holder lets go, the run goes ahead.
    drop(held);
    let o = p2psim(&["run", TINY, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("sessions.parquet").exists());
}

#[test]
fn a_swarm_runs_its_cases_with_every_checker_and_needs_a_budget() {
    let out = tmp("swarm");
    let o = p2psim(&[
        "swarm",
        "--seeds",
        "3",
        "--start",
        "11",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}{}", stderr(&o));
    assert!(text.contains("3 case(s), 0 failed"), "{text}");
    assert!(!out.exists(), "no failing case, nothing kept");
    let o = p2psim(&["swarm", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "no budget: a usage error");
}

#[test]
fn a_manifest_names_the_commit_the_binary_was_built_from_wherever_it_runs() {
    let elsewhere = tmp("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join(TINY);
    let out = elsewhere.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .current_dir(&elsewhere)
        .args(["run", scenario.to_str().unwrap(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let recorded = m["git_commit"].as_str().unwrap();
    let head = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        // The binary was built from this checkout: its HEAD then (a commit
        // made after the build would not match, so tests run after a build).
        Some(h) => assert!(
            recorded == h || recorded == format!("{h}-dirty"),
            "{recorded} is not {h}"
        ),
        None => assert_eq!(recorded, "unknown"),
    }
}

#[test]
fn a_run_that_cannot_fit_is_refused_before_it_allocates() {
    let dir = tmp("huge");
    let text = tiny_with(&relays_line(), "  relays: 50000000");
    let s = write_scenario(&dir, "huge.yaml", &text);
    let s = s.to_str().unwrap();
    let o = p2psim(&["validate", s]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("estimated peak memory"), "{said}");
    let out = dir.join("out");
    let o = p2psim(&["run", s, "--out", out.to_str().unwrap(), "--threads", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for part in [
        "needs an estimated",
        "available",
        "population.relays = 50000000",
        "--force",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(!out.join("sessions.parquet").exists());
}

/// The tiny scenario's relay line, as written.
fn relays_line() -> String {
    let t = std::fs::read_to_string(TINY).unwrap();
    t.lines()
        .find(|l| l.trim_start().starts_with("relays:"))
        .unwrap()
        .to_owned()
}
