//! `p2psim scale` (issue 21, item 6) on a folder of two tiny scenarios and
//! one that cannot fit: a row per scenario from the fewest nodes up, with
//! what each run printed (sessions, events, wall time, peak RSS), the
//! refusal recorded as a row, the figures written, and a second call
//! keeping the finished rows instead of running them again. A third call
//! adds the `elide_crypto` variants, which process the same events and
//! sessions as `full`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

/// The CSV's data rows, split into fields.
fn fields(csv: &str) -> Vec<Vec<&str>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect()
}

#[test]
fn the_scaling_study_runs_each_scenario_once_and_records_refusals() {
    let dir = std::env::temp_dir().join(format!("p2psim-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let tiny = std::fs::read_to_string("tests/data/tiny.yaml").unwrap();
    let variant = |relays: &str, name: &str| {
        tiny.replace("relays: 16", &format!("relays: {relays}"))
            .replace("name: tiny", &format!("name: {name}"))
    };
    std::fs::write(scenarios.join("b.yaml"), variant("24", "bigger")).unwrap();
    std::fs::write(scenarios.join("a.yaml"), &tiny).unwrap();
    std::fs::write(scenarios.join("c.yaml"), variant("50000000", "huge")).unwrap();
    let out = dir.join("out");
    let run_at = |fidelity: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_p2psim"))
            .args([
                "scale",
                scenarios.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--fidelity",
                fidelity,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        err
    };
    let run = || run_at("full");
    run();
    let csv = std::fs::read_to_string(out.join("scale.csv")).unwrap();
    let rows = fields(&csv);
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, ["tiny", "bigger", "huge"], "{csv}");
    for r in &rows[..2] {
        assert_eq!(r[4], "\"ran\"");
        let (wall, events, sessions, rss): (f64, u64, u64, u64) = (
            r[5].parse().unwrap(),
            r[7].parse().unwrap(),
            r[8].parse().unwrap(),
            r[9].parse().unwrap(),
        );
        assert!(wall > 0.0 && events > 10_000 && sessions > 10, "{r:?}");
        assert!(rss > 10_000_000, "{r:?}");
    }
    assert!(
        rows[2][4].starts_with("\"refused: this run needs an estimated"),
        "{csv}"
    );
    for f in [
        "scale_memory.png",
        "scale_events.png",
        "scale_sessions.png",
        "scale_wall.png",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1_000, "{f}");
    }
    let again = run();
    assert_eq!(
        again.matches("kept from an earlier run").count(),
        3,
        "{again}"
    );
    assert_eq!(std::fs::read_to_string(out.join("scale.csv")).unwrap(), csv);
    let both = run_at("full,elide_crypto");
    assert_eq!(
        both.matches("kept from an earlier run").count(),
        3,
        "{both}"
    );
    let csv = std::fs::read_to_string(out.join("scale.csv")).unwrap();
    let rows = fields(&csv);
    assert_eq!(rows.len(), 6, "{csv}");
    for pair in rows.chunks(2) {
        let (elided, full) = (&pair[0], &pair[1]);
        assert_eq!((elided[2], full[2]), ("elide_crypto", "full"), "{csv}");
        assert_eq!(elided[0], full[0]);
        // Same events and sessions; only wall time may differ.
        assert_eq!(elided[7..9], full[7..9], "{csv}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
