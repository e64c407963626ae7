//! The scaling study (issue 21, item 6): `p2psim scale DIR --out OUT` runs
//! every network scenario of `DIR` (`scenarios/scale/`), fewest nodes
//! first, each in its own `p2psim run` process so that each peak RSS is its
//! own, and writes `scale.csv` and figures of peak RSS per node, events/s,
//! sessions/s and wall time against the node count.
//!
//! Each scenario runs at every requested crypto fidelity (`--fidelity
//! full,elide_crypto`): a scenario that leaves `fidelity` unset runs as a
//! variant with the level put first (`OUT/variants/`).
//!
//! A scenario whose estimated peak memory exceeds what the machine has
//! available is recorded as refused, not run. Rows are kept in
//! `OUT/scale.json` as each scenario finishes, so an interrupted study
//! resumes where it stopped; each row keeps the commit of the binary that
//! measured it, and rows of another build run again.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use peer2prompt_sim::scenario::{FidelitySpec, Loaded, load_file, memory};
use serde::{Deserialize, Serialize};

use crate::figure::{self, Figure, Point, Series, Style};
use crate::manifest::sha256_hex;

/// Why the study stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// A file or folder could not be used.
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A scenario did not load.
    #[error(transparent)]
    Scenario(#[from] peer2prompt_sim::scenario::ScenarioError),
    /// A run failed.
    #[error("{scenario}: p2psim run failed ({status}):\n{stderr}")]
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Its exit status.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// A figure could not be drawn.
    #[error(transparent)]
    Figure(#[from] figure::FigureError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ScaleError + '_ {
    move |e| ScaleError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// One scenario of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleRow {
    /// The scenario's name.
    pub scenario: String,
    /// SHA-256 of its text (a changed scenario runs again).
    pub scenario_sha256: String,
    /// Nodes in its network.
    pub nodes: u64,
    /// Cryptographic fidelity (`full` or `elide_crypto`).
    pub fidelity: String,
    /// Worker threads.
    pub threads: usize,
    /// `ran`, or why it did not.
    pub status: String,
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// Virtual time simulated (warm-up, measured period, drain), s.
    pub virtual_s: f64,
    /// Events processed.
    pub events: u64,
    /// Sessions recorded.
    pub sessions: u64,
    /// Peak resident memory of the run's process, bytes.
    pub peak_rss_bytes: u64,
    /// Mean resident memory in the measured phase (after warm-up, before
    /// the drain), bytes; 0 for rows measured before it was recorded.
    #[serde(default)]
    pub steady_rss_bytes: u64,
    /// Git commit of the binary that measured it (`unknown` for rows
    /// recorded before it was kept).
    #[serde(default = "unknown_commit")]
    pub commit: String,
}

fn unknown_commit() -> String {
    "unknown".into()
}

/// Runs the study over the scenarios in `dir` into `out`, at each of
/// `fidelities`, with `threads`.
pub fn run(
    dir: &Path,
    out: &Path,
    threads: usize,
    fidelities: &[FidelitySpec],
) -> Result<Vec<ScaleRow>, ScaleError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let commit = crate::manifest::git_commit();
    let mut scenarios = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let loaded = load_file(&path)?;
            scenarios.push((memory::nodes(&loaded.base), path, loaded));
        }
    }
    scenarios.sort_by_key(|(n, p, _)| (*n, p.clone()));
    let kept = out.join("scale.json");
    let mut rows: Vec<ScaleRow> = match std::fs::read(&kept) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| ScaleError::Io {
            path: kept.clone(),
            reason: e.to_string(),
        })?,
        Err(_) => Vec::new(),
    };
    for (nodes, path, loaded) in &scenarios {
        for &fidelity in fidelities {
            let Some(run) = variant(path, loaded, fidelity, out)? else {
                eprintln!(
                    "scale: {}: sets another fidelity; no {} variant",
                    path.display(),
                    fidelity.crypto().name()
                );
                continue;
            };
            if keep_earlier(&mut rows, &run.sha, threads, &commit) {
                eprintln!("scale: {}: kept from an earlier run", run.file.display());
                continue;
            }
            eprintln!("scale: {} ({nodes} nodes)", run.file.display());
            let w = &loaded.base.workload;
            let row = ScaleRow {
                scenario: loaded.base.name.clone(),
                scenario_sha256: run.sha.clone(),
                nodes: *nodes,
                fidelity: fidelity.crypto().name().into(),
                threads,
                status: "ran".into(),
                wall_s: 0.0,
                virtual_s: w.warmup_s + w.duration_s + w.drain_s,
                events: 0,
                sessions: 0,
                peak_rss_bytes: 0,
                steady_rss_bytes: 0,
                commit: commit.clone(),
            };
            let row = run_one(&run, out, row)?;
            eprintln!(
                "scale: {} ({}): {}",
                row.scenario,
                row.fidelity,
                describe(&row)
            );
            rows.push(row);
            let bytes = serde_json::to_vec_pretty(&rows).map_err(|e| ScaleError::Io {
                path: kept.clone(),
                reason: e.to_string(),
            })?;
            write_atomic(&kept, &bytes)?;
        }
    }
    rows.sort_by(|a, b| (a.nodes, &a.fidelity, a.threads).cmp(&(b.nodes, &b.fidelity, b.threads)));
    write_atomic(&out.join("scale.csv"), csv(&rows).as_bytes())?;
    // The preflight's own estimate for each size on one thread, per node
    // (bounded refreshes).
    let estimates: Vec<(u64, f64)> = scenarios
        .iter()
        .filter(|(_, _, l)| l.base.protocol.directory_lookups.is_some())
        .filter_map(|(n, _, l)| memory::estimate(l, 1).map(|e| (*n, e.total)))
        .map(|(n, bytes)| (n, bytes / 1e3 / n.max(1) as f64))
        .collect();
    for fig in figures(&rows, &estimates) {
        figure::write(&fig, out)?;
    }
    Ok(rows)
}

/// True when `rows` hold a run of scenario text `sha` on `threads` by the
/// binary of `commit`; otherwise drops the runs of it by other builds,
/// which run again.
fn keep_earlier(rows: &mut Vec<ScaleRow>, sha: &str, threads: usize, commit: &str) -> bool {
    let same = |r: &ScaleRow| r.scenario_sha256 == sha && r.threads == threads;
    if rows.iter().any(|r| same(r) && r.commit == commit) {
        return true;
    }
    rows.retain(|r| !same(r));
    false
}

/// One scenario file to run: the scenario itself, or its variant at
/// another fidelity.
struct Variant {
    file: PathBuf,
    /// Its name in `OUT/runs/`.
    label: String,
    sha: String,
}

/// The file that runs `loaded` at `fidelity`: the scenario itself when it
/// already is at that level, a variant with `fidelity:` put first when it
/// leaves the level unset, none when it sets another.
fn variant(
    path: &Path,
    loaded: &Loaded,
    fidelity: FidelitySpec,
    out: &Path,
) -> Result<Option<Variant>, ScaleError> {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = fidelity.crypto().name();
    let label = format!("{stem}-{name}");
    if loaded.base.fidelity == fidelity {
        return Ok(Some(Variant {
            file: path.to_owned(),
            label,
            sha: sha256_hex(&loaded.text),
        }));
    }
    if !loaded.base.fidelity.is_full() {
        return Ok(None);
    }
    let text = format!("fidelity: {name}\n{}", loaded.text);
    let dir = out.join("variants");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let file = dir.join(format!("{label}.yaml"));
    write_atomic(&file, text.as_bytes())?;
    Ok(Some(Variant {
        file,
        label,
        sha: sha256_hex(&text),
    }))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ScaleError> {
    crate::atomic::write(path, bytes).map_err(|(p, e)| io(&p)(e))
}

/// A row in words, for the progress line.
pub fn describe(r: &ScaleRow) -> String {
    if r.status != "ran" {
        return r.status.clone();
    }
    format!(
        "{:.0} s wall, {:.0} events/s, {:.2} sessions/s, peak RSS {} ({:.0} KB per node)",
        r.wall_s,
        r.events as f64 / r.wall_s.max(1e-9),
        r.sessions as f64 / r.wall_s.max(1e-9),
        crate::preflight::human(r.peak_rss_bytes as f64),
        r.peak_rss_bytes as f64 / 1e3 / r.nodes.max(1) as f64
    )
}

/// Runs `p2psim run` on `run` in a child process and fills `row` from what
/// it printed; a run refused for memory is a row, not an error.
fn run_one(run: &Variant, out: &Path, mut row: ScaleRow) -> Result<ScaleRow, ScaleError> {
    let scenario = run.file.as_path();
    let threads = row.threads;
    let exe = std::env::current_exe().map_err(io(scenario))?;
    let dest = out.join("runs").join(format!("{}-{threads}t", run.label));
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
    }
    let mut child = Command::new(exe)
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(&dest)
        .args(["--threads", &threads.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(scenario))?;
    // The run's progress lines pass through as they come, and are kept.
    let err_pipe = child.stderr.take();
    let echo = std::thread::spawn(move || {
        let mut kept = String::new();
        for line in err_pipe
            .map(BufReader::new)
            .into_iter()
            .flat_map(|r| r.lines())
        {
            let Ok(line) = line else { break };
            eprintln!("  {line}");
            kept.push_str(&line);
            kept.push('\n');
        }
        kept
    });
    let mut stdout = String::new();
    if let Some(mut out_pipe) = child.stdout.take() {
        out_pipe.read_to_string(&mut stdout).map_err(io(scenario))?;
    }
    let status = child.wait().map_err(io(scenario))?;
    let stderr = echo.join().unwrap_or_default();
    if status.code() == Some(2) && stderr.contains("estimated") && stderr.contains("--force") {
        row.status = format!("refused: {}", stderr.trim().trim_start_matches("error: "));
        return Ok(row);
    }
    let parsed = status.success().then(|| parse_run(&stdout)).flatten();
    let Some(RunTotals {
        sessions,
        events,
        wall_s,
        peak_rss,
        steady_rss,
    }) = parsed
    else {
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        return Err(ScaleError::Run {
            scenario: scenario.to_owned(),
            status: status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    };
    Ok(ScaleRow {
        sessions,
        events,
        wall_s,
        peak_rss_bytes: peak_rss,
        steady_rss_bytes: steady_rss.unwrap_or(0),
        ..row
    })
}

/// What a `p2psim run` printed about itself.
#[derive(Debug, PartialEq)]
struct RunTotals {
    sessions: u64,
    events: u64,
    wall_s: f64,
    peak_rss: u64,
    steady_rss: Option<u64>,
}

/// A run's totals from `p2psim run`'s output: "...; S sessions, E events
/// in W s (...)", "peak RSS ... (B bytes)" and, when printed, "steady RSS
/// ... (B bytes; ...)".
fn parse_run(stdout: &str) -> Option<RunTotals> {
    let totals = stdout.lines().find(|l| l.contains(" events in "))?;
    let after = totals.split("; ").nth(1)?;
    let mut words = after.split_whitespace();
    let sessions = words.next()?.parse().ok()?;
    let events = words.nth(1)?.parse().ok()?;
    let wall_s = words.nth(2)?.parse().ok()?;
    let bytes_in = |prefix: &str| -> Option<u64> {
        let line = stdout.lines().find(|l| l.starts_with(prefix))?;
        let (_, paren) = line.split_once('(')?;
        paren.split_whitespace().next()?.parse().ok()
    };
    Some(RunTotals {
        sessions,
        events,
        wall_s,
        peak_rss: bytes_in("peak RSS ")?,
        steady_rss: bytes_in("steady RSS "),
    })
}

fn csv(rows: &[ScaleRow]) -> String {
    let mut s = String::from(
        "scenario,nodes,fidelity,threads,status,wall_s,virtual_s,events,sessions,peak_rss_bytes,events_per_s,sessions_per_s,rss_per_node_bytes,steady_rss_bytes,commit\n",
    );
    for r in rows {
        let per = |x: f64| x / r.wall_s.max(1e-9);
        s.push_str(&format!(
            "{},{},{},{},\"{}\",{:.1},{:.0},{},{},{},{:.0},{:.3},{:.0},{},{}\n",
            r.scenario,
            r.nodes,
            r.fidelity,
            r.threads,
            r.status.replace('"', "'"),
            r.wall_s,
            r.virtual_s,
            r.events,
            r.sessions,
            r.peak_rss_bytes,
            per(r.events as f64),
            per(r.sessions as f64),
            r.peak_rss_bytes as f64 / r.nodes.max(1) as f64,
            r.steady_rss_bytes,
            crate::manifest::short_commit(&r.commit)
        ));
    }
    s
}

/// Peak RSS per node, events/s, sessions/s and wall time against N, one
/// series per (fidelity, threads).
fn figures(rows: &[ScaleRow], estimates: &[(u64, f64)]) -> Vec<Figure> {
    type Metric = (
        &'static str,
        &'static str,
        &'static str,
        fn(&ScaleRow) -> f64,
    );
    let metrics: [Metric; 4] = [
        (
            "scale_memory",
            "Memory per node",
            "RSS per node (KB)",
            |r| r.peak_rss_bytes as f64 / 1e3 / r.nodes as f64,
        ),
        (
            "scale_events",
            "Events per wall second",
            "events/s (thousands)",
            |r| r.events as f64 / r.wall_s / 1e3,
        ),
        (
            "scale_sessions",
            "Sessions per wall second",
            "sessions/s",
            |r| r.sessions as f64 / r.wall_s,
        ),
        (
            "scale_wall",
            "Wall time per virtual second",
            "wall s per virtual s",
            |r| r.wall_s / r.virtual_s,
        ),
    ];
    let ran: Vec<&ScaleRow> = rows.iter().filter(|r| r.status == "ran").collect();
    let mut kinds: Vec<(String, usize)> = ran
        .iter()
        .map(|r| (r.fidelity.clone(), r.threads))
        .collect();
    kinds.sort();
    kinds.dedup();
    let mut figs: Vec<Figure> = metrics
        .iter()
        .map(|(name, title, y, f)| Figure {
            name: (*name).into(),
            title: (*title).into(),
            caption: format!(
                "{title} against the number of nodes (scenarios/scale/, one replicate each, \
                 one run per point: no intervals)."
            ),
            x_label: "nodes".into(),
            y_label: (*y).into(),
            series: kinds
                .iter()
                .map(|(fid, t)| Series {
                    label: format!("{fid}, {t} thread(s)"),
                    style: Style::Points,
                    points: ran
                        .iter()
                        .filter(|r| r.fidelity == *fid && r.threads == *t)
                        .map(|r| Point::at(r.nodes as f64, f(r)))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    if let Some(memory) = figs.first_mut() {
        add_steady(memory, &ran, &kinds);
        add_references(memory, &ran, estimates);
    }
    figs
}

/// The memory figure's steady-state series: mean RSS after warm-up per
/// node, for the rows that recorded it.
fn add_steady(fig: &mut Figure, ran: &[&ScaleRow], kinds: &[(String, usize)]) {
    for (fid, t) in kinds {
        let points: Vec<Point> = ran
            .iter()
            .filter(|r| r.fidelity == *fid && r.threads == *t && r.steady_rss_bytes > 0)
            .map(|r| {
                Point::at(
                    r.nodes as f64,
                    r.steady_rss_bytes as f64 / 1e3 / r.nodes as f64,
                )
            })
            .collect();
        if !points.is_empty() {
            fig.series.push(Series {
                label: format!("steady state, {fid}, {t} thread(s)"),
                style: Style::Points,
                points,
            });
        }
    }
    fig.caption.push_str(
        " Steady state is the mean RSS sampled after warm-up, before the drain; the other points are each run's peak.",
    );
}

/// The memory figure's references: what `p2psim validate` estimates for
/// each size of the study (the bounded-refresh model, KB per node, from
/// `estimates`) and issue 21's target.
fn add_references(fig: &mut Figure, ran: &[&ScaleRow], estimates: &[(u64, f64)]) {
    let mut sizes: Vec<u64> = ran.iter().map(|r| r.nodes).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let (Some(&lo), Some(&hi)) = (sizes.first(), sizes.last()) else {
        return;
    };
    let mut line: Vec<(u64, f64)> = estimates
        .iter()
        .filter(|(n, _)| sizes.contains(n))
        .copied()
        .collect();
    line.sort_by_key(|(n, _)| *n);
    line.dedup_by_key(|(n, _)| *n);
    fig.series.push(Series {
        label: "estimate (memory model, bounded refresh)".into(),
        style: Style::Line,
        points: line
            .iter()
            .map(|&(n, kb)| Point::at(n as f64, kb))
            .collect(),
    });
    fig.series.push(Series {
        label: "target: 50 KB per node".into(),
        style: Style::Dashed,
        points: vec![Point::at(lo as f64, 50.0), Point::at(hi as f64, 50.0)],
    });
    fig.caption.push_str(
        " The line is the preflight estimate (sim/src/scenario/memory.rs); the dashed line is issue 21's target.",
    );
}

/// The process's peak resident memory (Linux `VmHWM`), bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    crate::memory::status_kb("VmHWM:").map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_output_is_read_back() {
        let out = "1 replicate(s) run, 0 resumed; 472 sessions, 4259010 events in 265.2 s (16061 events/s)\n\
                   peak RSS 495.2 MB (495160000 bytes)\nwrote x\n";
        let totals = RunTotals {
            sessions: 472,
            events: 4_259_010,
            wall_s: 265.2,
            peak_rss: 495_160_000,
            steady_rss: None,
        };
        assert_eq!(parse_run(out), Some(totals));
        assert_eq!(parse_run("wrote x\n"), None);
        let with_steady = format!(
            "{out}steady RSS 85.2 MB (85153410 bytes; mean of 59 samples after warm-up, largest 105.3 MB)\n"
        );
        let parsed = parse_run(&with_steady).expect("parsed");
        assert_eq!(parsed.steady_rss, Some(85_153_410));
        assert_eq!(parsed.peak_rss, 495_160_000);
    }

    fn row(sha: &str, threads: usize, commit: &str) -> ScaleRow {
        ScaleRow {
            scenario: "s".into(),
            scenario_sha256: sha.into(),
            nodes: 1000,
            fidelity: "full".into(),
            threads,
            status: "ran".into(),
            wall_s: 1.0,
            virtual_s: 1.0,
            events: 1,
            sessions: 1,
            peak_rss_bytes: 1,
            steady_rss_bytes: 1,
            commit: commit.into(),
        }
    }

    #[test]
    fn only_rows_of_this_build_are_kept() {
        let mut rows = vec![row("a", 1, "old"), row("a", 2, "new"), row("b", 1, "new")];
        assert!(
            !keep_earlier(&mut rows, "a", 1, "new"),
            "another build's row runs again"
        );
        assert_eq!(rows.len(), 2, "and is dropped");
        assert!(keep_earlier(&mut rows, "a", 2, "new"));
        assert!(keep_earlier(&mut rows, "b", 1, "new"));
        assert!(!keep_earlier(&mut rows, "c", 1, "new"));
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn a_row_recorded_before_commits_were_kept_reads_as_unknown() {
        let mut v = serde_json::to_value(row("a", 1, "x")).unwrap();
        v.as_object_mut().unwrap().remove("commit");
        let r: ScaleRow = serde_json::from_value(v).unwrap();
        assert_eq!(r.commit, "unknown");
    }

    #[test]
    fn this_process_has_a_peak() {
        assert!(peak_rss_bytes().is_some_and(|b| b > 1_000_000));
    }
}
