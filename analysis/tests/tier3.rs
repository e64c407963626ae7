//! The tier-3 test can fail: run on what a random guesser "linked", it
//! rejects P(link) ≈ m·g; run on the timing matcher's links, it does not.
//! Both runs go through `p2psim run` and the report, as a user's would.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use peer2prompt_analysis::report::{self, Kind, Outcome};

const SCENARIO: &str = r#"
name: link_probability
seed: 17
replications: 1
population: {relays: 40, ghosts: 10, gpus: 0, mints: 1, clients: 24}
network: {jitter_ms: 2.0}
workload:
  warmup_s: 60
  duration_s: 300
  drain_s: 60
  sessions_per_client_per_hour: 90
  prompt_tokens: {kind: log_normal, median: 200, sigma: 0.5}
  output_tokens: {kind: log_normal, median: 40, sigma: 0.5}
protocol: {relays_per_route: 3, shards: 1}
adversary:
  matcher: {guess: GUESS}
sweep:
  grid:
    adversary.entry_fraction_m: [0.5]
    adversary.exit_fraction_g: [0.3, 0.6]
"#;

fn repro_of(guess: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2psim-tier3-{}-{guess}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("scenario.yaml");
    std::fs::write(&yaml, SCENARIO.replace("GUESS", guess)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .args(["run", yaml.to_str().unwrap(), "--out"])
        .arg(dir.join("link_probability"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.join("repro.json"),
        r#"{"quick": true, "tool": "test", "git_commit": "test", "scenarios": ["link_probability"]}"#,
    )
    .unwrap();
    dir
}

fn tier3(dir: &Path) -> Outcome {
    let built = report::build(dir).unwrap();
    built
        .sections
        .iter()
        .flat_map(|s| &s.rows)
        .find(|r| r.kind == Kind::Test && r.name.contains("light load"))
        .map(|r| r.outcome)
        .unwrap()
}

#[test]
fn a_random_guesser_fails_the_tier3_test_and_the_timing_matcher_passes() {
    assert_eq!(tier3(&repro_of("timing")), Outcome::Consistent);
    assert_eq!(tier3(&repro_of("random")), Outcome::Inconsistent);
}
