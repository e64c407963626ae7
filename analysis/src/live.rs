//! `p2psim live up`: a local Peer2Prompt network on real sockets behind an
//! OpenAI-compatible entrance (the `peer2prompt-live` driver), until
//! Ctrl-C or `--for`; then its records: `sessions.parquet` in the
//! simulator's schema, `manifest.json` (stating the run was live, and
//! whether the books balanced) and `wallets.json` (the ecash the clients
//! still hold, so no value is lost with the process).

use std::path::{Path, PathBuf};
use std::time::Duration;

use peer2prompt::node::Node;
use peer2prompt_live::records::session_records;
use peer2prompt_live::{LiveSpec, Stopped};
use peer2prompt_sim::population::Kind;
use serde::Serialize;
use thiserror::Error;

use crate::dataset::{parquet_bytes, sessions_frame};
use crate::manifest::git_commit;

/// Why `live up` failed.
#[derive(Debug, Error)]
pub enum LiveCmdError {
    /// The network could not start.
    #[error(transparent)]
    Start(#[from] peer2prompt_live::LiveError),
    /// The records could not be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The books did not balance at shutdown.
    #[error("the books do not balance at shutdown: {0}")]
    Books(String),
    /// Interrupted before the network was up.
    #[error("interrupted before the network started")]
    Interrupted,
    /// No async runtime.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// What `manifest.json` of a live run says.
#[derive(Debug, Serialize)]
pub struct LiveManifest {
    /// Always `live`: the analysis tells live runs from simulated ones by it.
    pub mode: &'static str,
    /// Tool name and version.
    pub tool: String,
    /// Git commit the tool was built from.
    pub git_commit: String,
    /// The scenario the network was built from (its population and
    /// protocol parts), as YAML.
    pub scenario: String,
    /// Nodes by kind.
    pub nodes: Vec<(String, usize)>,
    /// The model offered.
    pub model: String,
    /// The Ghosts' and GPU nodes' upstream base URLs (no keys), if any.
    pub upstreams: Vec<String>,
    /// Seconds the network ran.
    pub ran_s: f64,
    /// Sat paid in and out over the Lightning stand-in.
    pub funded_sat: u64,
    /// Sat paid out.
    pub paid_out_sat: u64,
    /// `balanced`, or the violation.
    pub books: String,
    /// Peer input refused at the application layer, by kind.
    pub peer_errors: Vec<(String, u64)>,
}

/// Runs the network of `spec` until Ctrl-C or `run_for`, printing its
/// entrance, then writes its records into `out`.
pub fn up(
    spec: &LiveSpec,
    out: &Path,
    run_for: Option<Duration>,
    turn_timeout: Duration,
) -> Result<(), LiveCmdError> {
    std::fs::create_dir_all(out).map_err(|e| write_err(out, &e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LiveCmdError::Runtime)?;
    let stopped = rt.block_on(async {
        // Ctrl-C is caught from before the network starts (the handler is
        // installed on the first poll), so an early one still stops cleanly.
        let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
        tokio::select! {
            biased;
            _ = &mut ctrl_c => return Err(LiveCmdError::Interrupted),
            () = std::future::ready(()) => {}
        }
        let run = peer2prompt_live::up(spec, turn_timeout).await?;
        announce(&run, spec);
        let limit = async {
            match run_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            () = limit => {}
        }
        eprintln!("stopping: open requests finish, then the books are checked");
        Ok::<_, LiveCmdError>(run.down().await)
    })?;
    write_records(spec, out, &stopped)?;
    eprintln!(
        "{} sessions recorded in {}; books {}",
        stopped.book.rows.len(),
        out.display(),
        if stopped.books.is_ok() {
            "balanced"
        } else {
            "NOT balanced"
        }
    );
    stopped
        .books
        .map_err(|v| LiveCmdError::Books(v.to_string()))
}

fn announce(run: &peer2prompt_live::Running, spec: &LiveSpec) {
    let url = run.base_url();
    eprintln!(
        "ready: {} nodes on loopback, each client funded with {} sat; model `{}`\n  entrance: {url}\n  try: curl -s {url}/chat/completions -H 'content-type: application/json' -d '{{\"model\":\"{}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}]}}'\nCtrl-C stops the network.",
        run.net.nodes.len(),
        spec.fund_sat,
        run.net.model,
        run.net.model,
    );
}

fn write_records(spec: &LiveSpec, out: &Path, s: &Stopped) -> Result<(), LiveCmdError> {
    let rows = session_records(&s.book);
    let mut df = sessions_frame(&rows).map_err(|e| write_err(out, &e))?;
    let bytes = parquet_bytes(&mut df).map_err(|e| write_err(out, &e))?;
    write_atomic(&out.join("sessions.parquet"), &bytes)?;
    let manifest = manifest(spec, s);
    write_json(&out.join("manifest.json"), &manifest)?;
    write_json(&out.join("wallets.json"), &wallets(&s.nodes))
}

fn manifest(spec: &LiveSpec, s: &Stopped) -> LiveManifest {
    let kinds = [
        Kind::Relay,
        Kind::Ghost,
        Kind::Gpu,
        Kind::Mint,
        Kind::Client,
    ];
    LiveManifest {
        mode: "live",
        tool: format!("p2psim {}", env!("CARGO_PKG_VERSION")),
        git_commit: git_commit(),
        scenario: serde_yaml::to_string(&spec.scenario).unwrap_or_default(),
        nodes: kinds
            .iter()
            .map(|k| {
                (
                    k.name().to_owned(),
                    s.nodes.iter().filter(|(i, _)| i.slot.kind == *k).count(),
                )
            })
            .collect(),
        model: spec.model(),
        upstreams: [&spec.ghost_upstream, &spec.gpu_upstream]
            .into_iter()
            .flatten()
            .map(|u| u.base_url.clone())
            .collect(),
        ran_s: s.stopped_ns as f64 / 1e9,
        funded_sat: s.lightning.funded,
        paid_out_sat: s.lightning.paid_out,
        books: match &s.books {
            Ok(()) => "balanced".into(),
            Err(v) => v.to_string(),
        },
        peer_errors: s.peer_errors.clone(),
    }
}

/// The ecash each client still holds, by mint.
#[derive(Debug, Serialize)]
struct HeldEcash {
    client: usize,
    mint: String,
    proofs: Vec<peer2prompt::ecash::Proof>,
}

fn wallets(nodes: &[(peer2prompt_live::network::NodeInfo, Node)]) -> Vec<HeldEcash> {
    let mut out = Vec::new();
    for (i, (_, n)) in nodes.iter().enumerate() {
        let Some(w) = n.client_wallet() else { continue };
        for mint in w.mints() {
            out.push(HeldEcash {
                client: i,
                mint: mint.to_string(),
                proofs: w.proofs(mint).iter().map(|h| h.proof.clone()).collect(),
            });
        }
    }
    out
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<(), LiveCmdError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| write_err(path, &e))?;
    write_atomic(path, &bytes)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LiveCmdError> {
    crate::atomic::write(path, bytes).map_err(|(p, e)| write_err(&p, &e))
}

fn write_err(path: &Path, e: &dyn std::fmt::Display) -> LiveCmdError {
    LiveCmdError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}
