//! `p2psim`: run, validate and describe Peer2Prompt simulation scenarios.

use std::path::PathBuf;

/// The simulator allocates and frees a packet buffer per datagram; with
/// glibc's allocator that was 6–7% of a 10,000-node run's CPU (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use peer2prompt_analysis::sweep::{self, SweepSpec};
use peer2prompt_analysis::{report, repro};
use peer2prompt_sim::scenario::{load_file, schema_json};

/// Peer2Prompt testbed: the real protocol in a deterministic virtual-time network.
#[derive(Parser, Debug)]
#[command(name = "p2psim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario (every sweep point and replicate) and write datasets.
    Run {
        /// Scenario YAML file.
        scenario: PathBuf,
        /// Output folder (created; must not hold another run unless --resume).
        #[arg(long)]
        out: PathBuf,
        /// Master seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (replicates run in parallel; each is single-threaded).
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
        /// Complete an interrupted run in --out.
        #[arg(long)]
        resume: bool,
        /// Only this sweep point (replaying a failure).
        #[arg(long)]
        point: Option<u32>,
        /// Only this replicate (replaying a failure).
        #[arg(long)]
        replicate: Option<u32>,
        /// Also write sessions.csv and points.csv.
        #[arg(long)]
        csv: bool,
    },
    /// Check a scenario; exits 0 if it is valid, 2 with the error if not.
    Validate {
        /// Scenario YAML file.
        scenario: PathBuf,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Run the whitepaper reproduction set and write datasets, figures and
    /// the report (report.md, report.html) into --out.
    Repro {
        /// Output folder (a new one, or an interrupted repro to resume).
        #[arg(long)]
        out: PathBuf,
        /// The quick variant of every scenario (a few minutes; what CI runs).
        #[arg(long)]
        quick: bool,
        /// Scenario folder (default: the set built into this binary, the
        /// checkout's scenarios/whitepaper).
        #[arg(long)]
        scenarios: Option<PathBuf>,
        /// Worker threads.
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
        /// Also write every table as CSV beside its Parquet file.
        #[arg(long)]
        csv: bool,
    },
    /// Rebuild figures and the report of a repro folder from its datasets.
    Report {
        /// A folder written by `p2psim repro`.
        dir: PathBuf,
    },
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Repro {
            out,
            quick,
            scenarios,
            threads,
            csv,
        } => {
            let started = std::time::Instant::now();
            let opts = repro::ReproOptions {
                scenarios: scenarios
                    .as_deref()
                    .map_or(repro::ScenarioSet::Embedded, repro::ScenarioSet::Dir),
                quick,
                threads,
                progress: sweep::ProgressStyleKind::for_stderr(),
                csv,
            };
            match repro::run(&out, opts) {
                Ok(b) => {
                    println!(
                        "reproduction finished in {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                    print_claims(&b);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(if e.is_run_failure() { 1 } else { 2 })
                }
            }
        }
        Command::Report { dir } => match report::build(&dir) {
            Ok(b) => {
                print_claims(&b);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Schema => {
            println!("{}", schema_json());
            ExitCode::SUCCESS
        }
        Command::Validate { scenario } => match load_file(&scenario) {
            Ok(l) => {
                println!(
                    "{}: valid ({} point(s) x {} replicate(s))",
                    scenario.display(),
                    l.points.len(),
                    l.base.replications
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            scenario,
            out,
            seed,
            threads,
            resume,
            point,
            replicate,
            csv,
        } => {
            let loaded = match load_file(&scenario) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(p) = point
                && !loaded.points.iter().any(|x| x.index == p)
            {
                eprintln!(
                    "error: --point {p}: the scenario has {} point(s)",
                    loaded.points.len()
                );
                return ExitCode::from(2);
            }
            if let Some(r) = replicate
                && r >= loaded.base.replications
            {
                eprintln!(
                    "error: --replicate {r}: the scenario has {} replicate(s)",
                    loaded.base.replications
                );
                return ExitCode::from(2);
            }
            let spec = SweepSpec {
                seed: seed.unwrap_or(loaded.base.seed),
                loaded,
                only_point: point,
                only_replicate: replicate,
                csv,
            };
            let started = std::time::Instant::now();
            let is_market = spec.loaded.base.market.is_some();
            let opts = sweep::RunOptions {
                resume,
                threads,
                progress: sweep::ProgressStyleKind::for_stderr(),
            };
            match sweep::run(&spec, &out, opts) {
                Ok(o) if is_market => {
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "{} market replicate(s) run, {} resumed in {secs:.1} s",
                        o.ran, o.resumed
                    );
                    print_market(&out);
                    println!("wrote {}", out.display());
                    ExitCode::SUCCESS
                }
                Ok(o) => {
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "{} replicate(s) run, {} resumed; {} sessions, {} events in {secs:.1} s ({:.0} events/s)",
                        o.ran,
                        o.resumed,
                        o.sessions,
                        o.events,
                        o.events as f64 / secs.max(1e-9)
                    );
                    for p in &o.summary {
                        println!(
                            "point {:>3} {:?}: P(ends) {:.4} [{:.4}, {:.4}]  P(linked) {:.4} [{:.4}, {:.4}]  m*g {:.4}",
                            p.point,
                            p.params,
                            p.ends_compromised.estimate,
                            p.ends_compromised.lo,
                            p.ends_compromised.hi,
                            p.linked.estimate,
                            p.linked.lo,
                            p.linked.hi,
                            p.m_times_g
                        );
                    }
                    println!("wrote {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e @ sweep::SweepError::Replicate { .. }) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// One line per point of a market run's `market.json`.
#[allow(clippy::print_stdout)]
fn print_market(out: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(out.join("market.json")) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    let f = |p: &serde_json::Value, k: &str| p.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    let est = |p: &serde_json::Value, k: &str| {
        p.get(k)
            .and_then(|x| x.get("estimate"))
            .and_then(|x| x.as_f64())
            .unwrap_or(f64::NAN)
    };
    for p in v
        .get("points")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        println!(
            "point {:>3} {}: {} jobs served, mean premium {:.2}x, Ghost margin {:.1}%, below cost {:.2}%, truncated {:.2}%, g {:.3} -> g_eff {:.3}",
            f(p, "point"),
            p.get("params").map(|x| x.to_string()).unwrap_or_default(),
            f(p, "served"),
            f(p, "mean_premium"),
            100.0 * f(p, "ghost_margin"),
            100.0 * est(p, "negative_jobs"),
            100.0 * est(p, "truncated_jobs"),
            f(p, "g"),
            est(p, "g_eff"),
        );
    }
}

#[allow(clippy::print_stdout)]
fn print_claims(b: &report::Built) {
    use report::Kind;
    for (kind, heading) in [
        (Kind::Test, "tests of whitepaper claims"),
        (
            Kind::Sanity,
            "sanity checks of the testbed (hold by construction)",
        ),
        (Kind::Finding, "findings (measured, no verdict)"),
    ] {
        println!("{heading}:");
        for r in b.results.iter().filter(|r| r.kind == kind) {
            let outcome = format!("{:?}", r.outcome).to_lowercase();
            let measured: String = r.measured.chars().take(90).collect();
            println!("  {outcome:<13} {:<17} {}: {measured}", r.section, r.name);
        }
    }
    println!(
        "wrote {} and {} (open the HTML file in a browser)",
        b.markdown.display(),
        b.html.display()
    );
}
