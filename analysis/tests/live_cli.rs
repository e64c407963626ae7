//! `p2psim live up` as a user runs it: it announces its entrance, answers,
//! stops cleanly on Ctrl-C (SIGINT), and leaves its records: the sessions
//! in the simulator's schema, a manifest that says the run was live and
//! that the books balanced, and the client's remaining ecash.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peer2prompt_analysis::dataset::read_parquet;

#[test]
fn live_up_answers_then_stops_on_ctrl_c_with_its_records() {
    let out = std::env::temp_dir().join(format!("p2p-live-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut child = Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .args([
            "live", "up", "--relays", "4", "--ghosts", "1", "--gpus", "0",
        ])
        .args(["--listen", "127.0.0.1:0", "--for", "120s", "--out"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let entrance = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.trim().strip_prefix("entrance: ").map(str::to_owned))
        .expect("announces its entrance");
    let reply = Command::new("curl")
        .args(["-s", "-m", "60", &format!("{entrance}/chat/completions")])
        .args(["-H", "content-type: application/json", "-d"])
        .arg(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)
        .output();
    if let Ok(r) = reply {
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(v["peer2prompt"]["relays"], 3, "{v}");
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "stops after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["mode"], "live");
    assert_eq!(manifest["books"], "balanced");
    let sessions = read_parquet(&out.join("sessions.parquet")).unwrap();
    assert!(sessions.height() >= 1);
    assert!(sessions.column("system").is_ok());
    assert!(out.join("wallets.json").exists());
    let _ = std::fs::remove_dir_all(&out);
}
