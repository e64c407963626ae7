//! Reading a `repro` folder back: `repro.json`, and per scenario its
//! `sessions.parquet`, `summary.json` and `manifest.json`.

use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{REPRO_FILE, ReportError, tables};
use crate::dataset::read_parquet;
use crate::manifest::Manifest;
use crate::roc::{RocRow, RocSummary};
use crate::summary::PointSummary;
use peer2prompt_sim::adversary::selective_dos::DosStats;
use peer2prompt_sim::audit::AuditedSession;
use peer2prompt_sim::exposure::ExposureRecord;
use peer2prompt_sim::ledger::LedgerRecord;
use peer2prompt_sim::profiles::ProfileRecord;
use peer2prompt_sim::vantage::VantageRecord;
use peer2prompt_sim::views::DirectoryView;

/// `repro.json`: what a reproduction ran, and once the report is built,
/// every row's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Quick variant (`--quick`) or the full set.
    pub quick: bool,
    /// Tool and version.
    pub tool: String,
    /// Git commit.
    pub git_commit: String,
    /// Scenario folders, in order (each holds one scenario's datasets).
    pub scenarios: Vec<String>,
    /// Every report row's kind and result (written by the report).
    #[serde(default)]
    pub results: Vec<super::ResultLine>,
    /// Loaded per scenario (not stored).
    #[serde(skip)]
    pub data: Vec<ScenarioData>,
}

/// One session, the columns the report uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    /// Sweep point.
    pub point: u32,
    /// Replicate index within its sweep point.
    pub replicate: u32,
    /// Client index.
    pub client: u32,
    /// Entry and exit both adversarial.
    pub ends: bool,
    /// The adversary's matcher linked it.
    pub linked: bool,
    /// The matcher made a guess for it.
    pub guessed: bool,
    /// The guess named the session's client.
    pub guess_correct: bool,
    /// Start, ns.
    pub started_ns: u64,
    /// First token, ns.
    pub first_token_ns: Option<u64>,
    /// Completion, ns.
    pub completed_ns: Option<u64>,
    /// Every turn answered.
    pub ok: bool,
    /// The exit is the adversary's.
    pub exit_adversarial: bool,
    /// Entry relay (node index).
    pub entry: u32,
    /// The entry is the adversary's.
    pub entry_adversarial: bool,
    /// Mint-exit candidates (null unless attributed).
    pub mint_candidates: Option<u32>,
    /// Mint-exit entropy, bits.
    pub mint_entropy_bits: Option<f64>,
    /// Mint-exit linked (null unless the exit colludes with a mint).
    pub mint_linked: Option<bool>,
    /// Observers linked (null without observers).
    pub observer_linked: Option<bool>,
    /// Linked by any channel.
    pub linked_any: bool,
    /// Turns answered.
    pub turns: u32,
    /// The system it ran on (`peer2prompt` for outputs before issue 19).
    pub system: String,
    /// A baseline's operator attacker named the client (null unless it ran).
    pub operator_linked: Option<bool>,
    /// LLM-Tor purchase timing: accounts in the window.
    pub operator_candidates: Option<u32>,
}

/// One scenario's outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioData {
    /// Folder name (the scenario's name).
    pub name: String,
    /// Number of sessions.
    pub sessions: Vec<Session>,
    /// Per-point summaries.
    pub points: Vec<PointSummary>,
    /// The manifest.
    pub manifest: Manifest,
    /// Data-visibility audits (`visibility.json`) with their sweep point,
    /// if the scenario ran any.
    pub audits: Vec<(u32, AuditedSession)>,
    /// The observers' ROC per point (`roc.parquet`), if any.
    pub roc: Vec<RocRow>,
    /// The observers' operating points per point (`summary.json`).
    pub observers: Vec<RocSummary>,
    /// A market scenario's outputs.
    pub market: Option<MarketData>,
    /// Selective denial of service per replicate (`dos.parquet`), with its
    /// sweep point, if the scenario ran it.
    pub dos: Vec<(u32, DosStats)>,
    /// The services' accounts per measured session (`ledger.parquet`),
    /// with its sweep point, if clients double-spent.
    pub ledger: Vec<(u32, LedgerRecord)>,
    /// What prompt-harvesting exits kept of each measured session
    /// (`exposure.parquet`), with its (point, replicate), if the exits
    /// harvested.
    pub exposure: Vec<tables::Replicated<ExposureRecord>>,
    /// What a local vantage saw of each measured session
    /// (`vantage.parquet`), with its (point, replicate), if the observers
    /// kept vantage records.
    pub vantage: Vec<tables::Replicated<VantageRecord>>,
    /// Each client's directory view at the end (`views.parquet`), with its
    /// (point, replicate), if the scenario had Sybils.
    pub views: Vec<tables::Replicated<DirectoryView>>,
    /// Where the profile attacker put each measured session
    /// (`profiles.parquet`), with its (point, replicate), if it ran.
    pub profiles: Vec<tables::Replicated<ProfileRecord>>,
    /// Every answered turn (`turns.parquet`), with its (point, replicate),
    /// under verified inference and for the baselines.
    pub turns: Vec<tables::Replicated<peer2prompt_sim::record::TurnRecord>>,
}

/// A market scenario's datasets.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketData {
    /// `ghost_days.parquet`.
    pub ghost_days: DataFrame,
    /// `market_days.parquet`.
    pub market_days: DataFrame,
    /// `market.json`: fidelity, models and per-point summaries.
    pub summary: serde_json::Value,
}

fn market(d: &Path) -> Result<Option<MarketData>, ReportError> {
    let json = d.join("market.json");
    if !json.is_file() {
        return Ok(None);
    }
    let read = |name: &str| {
        let f = d.join(name);
        read_parquet(&f).map_err(|e| ReportError::Dataset {
            file: f.clone(),
            message: e.to_string(),
        })
    };
    Ok(Some(MarketData {
        ghost_days: read("ghost_days.parquet")?,
        market_days: read("market_days.parquet")?,
        summary: read_json(&json)?,
    }))
}

impl Run {
    /// The scenario named `name`, if it ran.
    pub fn scenario(&self, name: &str) -> Option<&ScenarioData> {
        self.data.iter().find(|d| d.name == name)
    }
}

fn dataset_err(file: &Path) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Dataset {
        file: file.to_owned(),
        message,
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(file: &Path) -> Result<T, ReportError> {
    let err = dataset_err(file);
    let bytes = std::fs::read(file).map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))
}

/// Loads `dir` (a `repro` output).
pub fn load(dir: &Path) -> Result<Run, ReportError> {
    let marker = dir.join(REPRO_FILE);
    if !marker.is_file() {
        return Err(ReportError::Foreign(dir.to_owned()));
    }
    let mut run: Run = read_json(&marker)?;
    for name in run.scenarios.clone() {
        let d = dir.join(&name);
        #[derive(Deserialize)]
        struct Summary {
            points: Vec<PointSummary>,
            #[serde(default)]
            observers: Vec<RocSummary>,
        }
        let summary: Summary = read_json(&d.join("summary.json"))?;
        #[derive(Deserialize)]
        struct Audit {
            point: u32,
            audit: AuditedSession,
        }
        let vis = d.join("visibility.json");
        let audits: Vec<Audit> = if vis.is_file() {
            read_json(&vis)?
        } else {
            Vec::new()
        };
        run.data.push(ScenarioData {
            sessions: sessions(&d.join("sessions.parquet"))?,
            points: summary.points,
            manifest: read_json(&d.join("manifest.json"))?,
            audits: audits.into_iter().map(|a| (a.point, a.audit)).collect(),
            roc: roc_rows(&d.join("roc.parquet"))?,
            observers: summary.observers,
            market: market(&d)?,
            dos: tables::dos_rows(&d.join("dos.parquet"))?,
            ledger: tables::ledger_rows(&d.join("ledger.parquet"))?,
            exposure: tables::exposure_rows(&d.join("exposure.parquet"))?,
            vantage: tables::vantage_rows(&d.join("vantage.parquet"))?,
            views: tables::views_rows(&d.join("views.parquet"))?,
            profiles: tables::profiles_rows(&d.join("profiles.parquet"))?,
            turns: tables::turns_rows(&d.join("turns.parquet"))?,
            name,
        });
    }
    Ok(run)
}

/// Reads the columns the report needs from a sessions table.
pub fn sessions(file: &Path) -> Result<Vec<Session>, ReportError> {
    let err = dataset_err(file);
    let df = read_parquet(file).map_err(|e| err(e.to_string()))?;
    let p = |e: PolarsError| err(e.to_string());
    let u32s = |name: &str| -> Result<Vec<Option<u32>>, ReportError> {
        Ok(df
            .column(name)
            .map_err(p)?
            .u32()
            .map_err(p)?
            .iter()
            .collect())
    };
    let u64s = |name: &str| -> Result<Vec<Option<u64>>, ReportError> {
        Ok(df
            .column(name)
            .map_err(p)?
            .u64()
            .map_err(p)?
            .iter()
            .collect())
    };
    let bools = |name: &str| -> Result<Vec<Option<bool>>, ReportError> {
        Ok(df
            .column(name)
            .map_err(p)?
            .bool()
            .map_err(p)?
            .iter()
            .collect())
    };
    // Columns later issues added are optional: older outputs lack them.
    let n = df.height();
    let opt_u32 = |name: &str| -> Vec<Option<u32>> {
        df.column(name)
            .ok()
            .and_then(|c| c.u32().ok().map(|c| c.iter().collect()))
            .unwrap_or_else(|| vec![None; n])
    };
    let opt_f64 = |name: &str| -> Vec<Option<f64>> {
        df.column(name)
            .ok()
            .and_then(|c| c.f64().ok().map(|c| c.iter().collect()))
            .unwrap_or_else(|| vec![None; n])
    };
    let opt_bool = |name: &str| -> Vec<Option<bool>> {
        df.column(name)
            .ok()
            .and_then(|c| c.bool().ok().map(|c| c.iter().collect()))
            .unwrap_or_else(|| vec![None; n])
    };
    let (mint_candidates, mint_entropy) =
        (opt_u32("mint_candidates"), opt_f64("mint_entropy_bits"));
    let (mint_linked, observer_linked) = (opt_bool("mint_linked"), opt_bool("observer_linked"));
    let (linked_any, exit_adv) = (opt_bool("linked_any"), bools("exit_adversarial")?);
    let (point, replicate, client) = (u32s("point")?, u32s("replicate")?, u32s("client")?);
    let (entry, entry_adv) = (u32s("entry")?, bools("entry_adversarial")?);
    let (ends, linked) = (bools("ends_compromised")?, bools("linked")?);
    let guess_correct = bools("link_guess_correct")?;
    let guessed: Vec<bool> = df
        .column("link_guess")
        .map_err(p)?
        .is_not_null()
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect();
    let (operator_linked, operator_candidates) =
        (opt_bool("operator_linked"), opt_u32("operator_candidates"));
    let turns = u32s("turns")?;
    let system: Vec<Option<String>> = match df.column("system") {
        Ok(c) => c
            .str()
            .map_err(p)?
            .iter()
            .map(|o| o.map(str::to_owned))
            .collect(),
        Err(_) => vec![None; n],
    };
    let (started, first, completed) = (
        u64s("started_ns")?,
        u64s("first_token_ns")?,
        u64s("completed_ns")?,
    );
    let outcome: Vec<Option<String>> = df
        .column("outcome")
        .map_err(p)?
        .str()
        .map_err(p)?
        .iter()
        .map(|o| o.map(str::to_owned))
        .collect();
    Ok((0..df.height())
        .map(|i| Session {
            point: point[i].unwrap_or(0),
            replicate: replicate[i].unwrap_or(0),
            client: client[i].unwrap_or(0),
            ends: ends[i].unwrap_or(false),
            linked: linked[i].unwrap_or(false),
            guessed: guessed[i],
            guess_correct: guess_correct[i].unwrap_or(false),
            started_ns: started[i].unwrap_or(0),
            first_token_ns: first[i],
            completed_ns: completed[i],
            ok: outcome[i].as_deref() == Some("ok"),
            exit_adversarial: exit_adv[i].unwrap_or(false),
            entry: entry[i].unwrap_or(u32::MAX),
            entry_adversarial: entry_adv[i].unwrap_or(false),
            mint_candidates: mint_candidates[i],
            mint_entropy_bits: mint_entropy[i],
            mint_linked: mint_linked[i],
            observer_linked: observer_linked[i],
            linked_any: linked_any[i].unwrap_or(linked[i].unwrap_or(false)),
            turns: turns[i].unwrap_or(0),
            system: system[i].clone().unwrap_or_else(|| "peer2prompt".into()),
            operator_linked: operator_linked[i],
            operator_candidates: operator_candidates[i],
        })
        .collect())
}

/// Reads `roc.parquet` if present (scenarios with observers).
fn roc_rows(file: &Path) -> Result<Vec<RocRow>, ReportError> {
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let err = dataset_err(file);
    let df = read_parquet(file).map_err(|e| err(e.to_string()))?;
    let p = |e: PolarsError| err(e.to_string());
    let col = |name: &str| df.column(name).map_err(p);
    let point: Vec<Option<u32>> = col("point")?.u32().map_err(p)?.iter().collect();
    let f64s = |name: &str| -> Result<Vec<Option<f64>>, ReportError> {
        Ok(col(name)?.f64().map_err(p)?.iter().collect())
    };
    let u64s = |name: &str| -> Result<Vec<Option<u64>>, ReportError> {
        Ok(col(name)?.u64().map_err(p)?.iter().collect())
    };
    let (threshold, tpr, fpr) = (f64s("threshold")?, f64s("tpr")?, f64s("fpr")?);
    let (tp, fp) = (u64s("tp")?, u64s("fp")?);
    Ok((0..df.height())
        .map(|i| RocRow {
            point: point[i].unwrap_or(0),
            threshold: threshold[i].unwrap_or(f64::NAN),
            tp: tp[i].unwrap_or(0),
            fp: fp[i].unwrap_or(0),
            tpr: tpr[i].unwrap_or(0.0),
            fpr: fpr[i].unwrap_or(0.0),
        })
        .collect())
}
