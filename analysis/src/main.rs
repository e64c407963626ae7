//! `p2psim`: run, validate and describe Peer2Prompt simulation scenarios.

use std::path::{Path, PathBuf};

/// The simulator allocates and frees a packet buffer per datagram; with
/// glibc's allocator that was 6–7% of a 10,000-node run's CPU (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use peer2prompt_analysis::market::MarketSummary;
use peer2prompt_analysis::sweep::{self, SweepSpec};
use peer2prompt_analysis::{preflight, report, repro, scale, swarm};
use peer2prompt_sim::scenario::{FidelitySpec, load_file, point_label, schema_json};

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
        /// Worker threads, one budget shared by replicates and the parallel windows inside each.
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
        /// Run even when the estimated peak memory exceeds what the
        /// machine has available.
        #[arg(long)]
        force: bool,
        /// Run only this machine's part of the sweep: the (point,
        /// replicate) jobs whose index is I mod N. The folder keeps the
        /// checkpoints and a shard.json; `p2psim merge` assembles the
        /// shards into the datasets of one whole run.
        #[arg(long, value_name = "I/N")]
        shard: Option<sweep::Shard>,
    },
    /// Merge the folders of every shard of one run (`p2psim run --shard
    /// I/N`) into the datasets, summaries and manifest a single-machine run
    /// writes, byte for byte. Refuses shards of another scenario, seed or
    /// commit, overlapping or missing shards, and whole runs.
    Merge {
        /// Output folder (new or empty).
        #[arg(long)]
        out: PathBuf,
        /// The shard folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
    /// Check a scenario and print its estimated peak memory; exits 0 if it
    /// is valid, 2 with the error if not.
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
    /// Swarm testing: random small scenarios (sizes, loss, churn, NAT, mint
    /// outages, misbehaving relays, services and mints, double spenders,
    /// long sessions), each run with every checker on. Exits 1 if any
    /// case fails, and keeps each failing case as a YAML file in --out.
    Swarm {
        /// Run this many cases.
        #[arg(long, conflicts_with = "for_", required_unless_present = "for_")]
        seeds: Option<u64>,
        /// Run cases for this long (e.g. 30s, 2m, 1h).
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        for_: Option<std::time::Duration>,
        /// The swarm's seed (case i runs a seed derived from it and i).
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Where failing cases are written.
        #[arg(long, default_value = "swarm-failures")]
        out: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
    },
    /// The scaling study: run every scenario of a folder (default
    /// scenarios/scale) in its own process, fewest nodes first, and write
    /// scale.csv and figures of peak memory per node, events/s, sessions/s
    /// and wall time against the node count. A scenario that cannot fit in
    /// the available memory is recorded as refused; an interrupted study
    /// resumes.
    Scale {
        /// Scenario folder.
        #[arg(default_value = "scenarios/scale")]
        scenarios: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads per run.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Crypto fidelity levels to run each scenario at (`full`,
        /// `elide_crypto`), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "full", value_parser = parse_fidelity)]
        fidelity: Vec<FidelitySpec>,
    },
    /// A live network: the same protocol nodes on real sockets.
    Live {
        #[command(subcommand)]
        command: LiveCommand,
    },
}

#[derive(Subcommand, Debug)]
enum LiveCommand {
    /// Start a local network on loopback behind an OpenAI-compatible
    /// entrance (`POST /v1/chat/completions`, `GET /v1/models`); Ctrl-C
    /// stops it and writes its records into --out. Ghosts call the
    /// upstream named by P2P_UPSTREAM_URL (or OPENAI_BASE_URL) with
    /// P2P_UPSTREAM_API_KEY (or OPENAI_API_KEY) for P2P_UPSTREAM_MODEL;
    /// GPU nodes call P2P_GPU_URL (a local server: Ollama, vLLM, llama.cpp)
    /// for P2P_GPU_MODEL; unset, both use the simulated provider.
    Up {
        /// Onion relays.
        #[arg(long)]
        relays: Option<u32>,
        /// Ghost nodes.
        #[arg(long)]
        ghosts: Option<u32>,
        /// GPU nodes.
        #[arg(long)]
        gpus: Option<u32>,
        /// Mints.
        #[arg(long)]
        mints: Option<u32>,
        /// Clients behind the entrance (requests are spread over them).
        #[arg(long)]
        clients: Option<u32>,
        /// Where the entrance listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// A scenario YAML: its population and protocol parts (the flags
        /// above override its counts).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fund each client's wallet with this many sat (default: the
        /// scenario's workload.funding_sat).
        #[arg(long)]
        fund_sat: Option<u64>,
        /// Stop after this long instead of at Ctrl-C (e.g. 30s, 10m).
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        for_: Option<std::time::Duration>,
        /// A request with no outcome by then is answered with 504.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "120s")]
        turn_timeout: std::time::Duration,
        /// Where the records go.
        #[arg(long, default_value = "live-out")]
        out: PathBuf,
    },
}

/// `full` or `elide_crypto` (the names scenarios use).
fn parse_fidelity(s: &str) -> Result<FidelitySpec, String> {
    match s {
        "full" => Ok(FidelitySpec::Full),
        "elide_crypto" => Ok(FidelitySpec::ElideCrypto),
        other => Err(format!(
            "unknown fidelity `{other}`: expected full or elide_crypto"
        )),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Repro {
            out,
            quick,
            scenarios,
            threads,
            csv,
        } => repro_cmd(&out, quick, scenarios.as_deref(), threads, csv),
        Command::Report { dir } => report_cmd(&dir),
        Command::Swarm {
            seeds,
            for_,
            start,
            out,
            threads,
        } => {
            let budget = match (seeds, for_) {
                (Some(n), _) => swarm::Budget::Seeds(n),
                (None, Some(d)) => swarm::Budget::For(d),
                (None, None) => return fail(&"give --seeds N or --for DURATION", 2),
            };
            swarm_cmd(&swarm::SwarmOptions {
                start,
                budget,
                out,
                threads,
                progress: sweep::ProgressStyleKind::for_stderr(),
            })
        }
        Command::Live {
            command:
                LiveCommand::Up {
                    relays,
                    ghosts,
                    gpus,
                    mints,
                    clients,
                    listen,
                    config,
                    fund_sat,
                    for_,
                    turn_timeout,
                    out,
                },
        } => {
            let counts = |c: &mut peer2prompt_live::Counts| {
                let set = |v: &mut u32, o: Option<u32>| *v = o.unwrap_or(*v);
                set(&mut c.relays, relays);
                set(&mut c.ghosts, ghosts);
                set(&mut c.gpus, gpus);
                set(&mut c.mints, mints);
                set(&mut c.clients, clients);
            };
            let mut spec = match peer2prompt_live::LiveSpec::new(config.as_deref(), counts, listen)
            {
                Ok(s) => s,
                Err(e) => return fail(&e, 2),
            };
            spec.ghost_upstream = peer2prompt_live::UpstreamConfig::from_env();
            spec.gpu_upstream = peer2prompt_live::UpstreamConfig::gpu_from_env();
            spec.fund_sat = fund_sat.unwrap_or(spec.fund_sat);
            match peer2prompt_analysis::live::up(&spec, &out, for_, turn_timeout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e @ peer2prompt_analysis::live::LiveCmdError::Books(_)) => fail(&e, 1),
                Err(e) => fail(&e, 2),
            }
        }
        Command::Schema => {
            print_line(&schema_json());
            ExitCode::SUCCESS
        }
        Command::Validate { scenario } => validate_cmd(&scenario),
        Command::Merge { out, shards } => merge_cmd(&out, &shards),
        Command::Scale {
            scenarios,
            out,
            threads,
            fidelity,
        } => match scale::run(&scenarios, &out, threads, &fidelity) {
            Ok(rows) => {
                for r in &rows {
                    print_line(&format!(
                        "{:>8} nodes {} ({}, {} thread(s)): {}",
                        r.nodes,
                        r.scenario,
                        r.fidelity,
                        r.threads,
                        scale::describe(r)
                    ));
                }
                print_line(&format!("wrote {}", out.display()));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, 2),
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
            force,
            shard,
        } => {
            let spec = match run_spec(&scenario, seed, point, replicate, csv) {
                Ok(s) => SweepSpec { shard, ..s },
                Err(e) => return fail(&e, 2),
            };
            let available = preflight::available_bytes();
            match preflight::check(&spec.loaded, threads, available) {
                Ok(Some(e)) => eprintln!("{}", preflight::describe(&e)),
                Ok(None) => {}
                Err(e) if force => eprintln!("warning (--force): {e}"),
                Err(e) => return fail(&e, 2),
            }
            let opts = sweep::RunOptions {
                resume,
                threads,
                progress: sweep::ProgressStyleKind::for_stderr(),
            };
            run_cmd(&spec, &out, opts)
        }
    }
}

/// Prints `error: ...` and exits with `code` (1: a replicate failed, 2: the
/// input or the environment is wrong).
fn fail(e: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(code)
}

#[allow(clippy::print_stdout)]
fn print_line(s: &str) {
    println!("{s}");
}

fn repro_cmd(
    out: &Path,
    quick: bool,
    scenarios: Option<&Path>,
    threads: usize,
    csv: bool,
) -> ExitCode {
    let started = std::time::Instant::now();
    let opts = repro::ReproOptions {
        scenarios: scenarios.map_or(repro::ScenarioSet::Embedded, repro::ScenarioSet::Dir),
        quick,
        threads,
        progress: sweep::ProgressStyleKind::for_stderr(),
        csv,
    };
    match repro::run(out, opts) {
        Ok(b) => {
            let secs = started.elapsed().as_secs_f64();
            print_line(&format!("reproduction finished in {secs:.1} s"));
            print_claims(&b);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, if e.is_run_failure() { 1 } else { 2 }),
    }
}

fn report_cmd(dir: &Path) -> ExitCode {
    match report::build(dir) {
        Ok(b) => {
            print_claims(&b);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 2),
    }
}

fn validate_cmd(scenario: &Path) -> ExitCode {
    match load_file(scenario) {
        Ok(l) => {
            let memory = peer2prompt_sim::scenario::memory::estimate(&l, default_threads())
                .map(|e| format!("; {}", preflight::describe(&e)))
                .unwrap_or_default();
            print_line(&format!(
                "{}: valid ({} point(s) x {} replicate(s)){memory}",
                scenario.display(),
                l.points.len(),
                l.base.replications
            ));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 2),
    }
}

fn swarm_cmd(opts: &swarm::SwarmOptions) -> ExitCode {
    let started = std::time::Instant::now();
    let o = match swarm::run(opts) {
        Ok(o) => o,
        Err(e) => return fail(&e, 2),
    };
    print_line(&format!(
        "swarm from seed {}: {} case(s), {} failed; {} sessions, {} events, {} invariant checks in {:.1} s",
        opts.start,
        o.cases,
        o.failures.len(),
        o.sessions,
        o.events,
        o.checks,
        started.elapsed().as_secs_f64()
    ));
    for f in &o.failures {
        print_line(&format!("FAILED seed {}: {}", f.seed, f.what));
        print_line(&format!(
            "  kept {}; replay: {}",
            f.file.display(),
            f.replay()
        ));
    }
    if o.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The sweep `p2psim run` asked for, with `--point` and `--replicate`
/// checked against the scenario.
fn run_spec(
    scenario: &Path,
    seed: Option<u64>,
    point: Option<u32>,
    replicate: Option<u32>,
    csv: bool,
) -> Result<SweepSpec, String> {
    let loaded = load_file(scenario).map_err(|e| e.to_string())?;
    if let Some(p) = point
        && !loaded.points.iter().any(|x| x.index == p)
    {
        return Err(format!(
            "--point {p}: the scenario has {} point(s)",
            loaded.points.len()
        ));
    }
    if let Some(r) = replicate
        && r >= loaded.base.replications
    {
        return Err(format!(
            "--replicate {r}: the scenario has {} replicate(s)",
            loaded.base.replications
        ));
    }
    Ok(SweepSpec {
        seed: seed.unwrap_or(loaded.base.seed),
        loaded,
        only_point: point,
        only_replicate: replicate,
        csv,
        shard: None,
    })
}

fn merge_cmd(out: &Path, shards: &[PathBuf]) -> ExitCode {
    let started = std::time::Instant::now();
    match sweep::merge(out, shards) {
        Ok(o) => {
            let secs = started.elapsed().as_secs_f64();
            print_line(&format!(
                "merged {} shard(s) in {secs:.1} s: {} replicate(s); {} sessions, {} events",
                shards.len(),
                o.resumed,
                o.sessions,
                o.events
            ));
            match &o.market {
                Some(m) => print_market(m),
                None => print_points(&o),
            }
            print_line(&format!("wrote {}", out.display()));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, 2),
    }
}

fn run_cmd(spec: &SweepSpec, out: &Path, opts: sweep::RunOptions) -> ExitCode {
    let started = std::time::Instant::now();
    let o = match sweep::run(spec, out, opts) {
        Ok(o) => o,
        Err(e @ sweep::SweepError::Replicate { .. }) => return fail(&e, 1),
        Err(e) => return fail(&e, 2),
    };
    let secs = started.elapsed().as_secs_f64();
    match &o.market {
        Some(m) => {
            print_line(&format!(
                "{} market replicate(s) run, {} resumed in {secs:.1} s",
                o.ran, o.resumed
            ));
            print_market(m);
        }
        None => print_network(&o, secs),
    }
    if let Some(b) = scale::peak_rss_bytes() {
        print_line(&format!(
            "peak RSS {} ({b} bytes)",
            preflight::human(b as f64)
        ));
    }
    print_steady_memory(spec);
    if let Some(s) = spec.shard {
        print_line(&format!(
            "shard {s}: kept its checkpoints and {} for `p2psim merge --out DIR SHARD_DIR...`",
            sweep::SHARD_FILE
        ));
    }
    print_line(&format!("wrote {}", out.display()));
    ExitCode::SUCCESS
}

/// Resident memory at steady state (the measured phase: after warm-up,
/// before the drain), from samples at each hundredth of virtual time.
fn print_steady_memory(spec: &SweepSpec) {
    let Some(p) = spec.loaded.points.first() else {
        return;
    };
    let w = &p.scenario.workload;
    let total = w.warmup_s + w.duration_s + w.drain_s;
    if p.scenario.market.is_some() || total <= 0.0 {
        return;
    }
    let (from, to) = (w.warmup_s / total, (w.warmup_s + w.duration_s) / total);
    if let Some(m) = peer2prompt_analysis::memory::summary(from, to) {
        print_line(&format!(
            "steady RSS {} ({} bytes; mean of {} samples after warm-up, largest {})",
            preflight::human(m.mean_bytes as f64),
            m.mean_bytes,
            m.samples,
            preflight::human(m.max_bytes as f64),
        ));
    }
}

/// One line per point of a network run.
fn print_network(o: &sweep::SweepOutcome, secs: f64) {
    print_line(&format!(
        "{} replicate(s) run, {} resumed; {} sessions, {} events in {secs:.1} s ({:.0} events/s)",
        o.ran,
        o.resumed,
        o.sessions,
        o.events,
        o.events as f64 / secs.max(1e-9)
    ));
    print_points(o);
}

/// One line per point of a network run's summary.
fn print_points(o: &sweep::SweepOutcome) {
    for p in &o.summary {
        let (e, l) = (&p.ends_compromised, &p.linked);
        print_line(&format!(
            "point {:>3} {}: P(ends) {:.4} [{:.4}, {:.4}]  P(linked) {:.4} [{:.4}, {:.4}]  m*g {:.4}",
            p.point,
            point_label(&p.params),
            e.estimate,
            e.lo,
            e.hi,
            l.estimate,
            l.lo,
            l.hi,
            p.m_times_g
        ));
    }
}

/// One line per point of a market run.
fn print_market(m: &MarketSummary) {
    let pct = |x: Option<f64>| x.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v));
    let premium = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.2}x"));
    for p in &m.points {
        let label = p.params.as_ref().map_or("(no sweep)".into(), point_label);
        print_line(&format!(
            "point {:>3} {label}: {} jobs served, mean premium {}, Ghost margin {}, below cost {:.2}%, truncated {:.2}%, g {:.3} -> g_eff {:.3}",
            p.point,
            p.served,
            premium(p.mean_premium),
            pct(p.ghost_margin),
            100.0 * p.negative_jobs.estimate,
            100.0 * p.truncated_jobs.estimate,
            p.g,
            p.g_eff.estimate,
        ));
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
