//! A sweep's datasets and metadata, assembled from its checkpoints in
//! (point, replicate) order: sessions, points, observers, visibility, the
//! market tables, the summary and the manifest.

use std::path::Path;

use peer2prompt_sim::record::{NetworkReplicate, ReplicateKey};
use polars::prelude::{DataFrame, PolarsResult};

use super::checkpoint::{json_bytes, market_checkpoint_path, write_atomic};
use super::{SweepError, SweepOutcome, SweepSpec};
use crate::manifest::{self, Manifest};
use crate::summary;
use crate::{dataset, market, roc};

/// The market datasets, from the replicates' checkpointed tables in job
/// order: `ghost_days`, `market_days`, the `jobs` sample, and the per-point
/// market summary in `market.json`.
pub(super) fn write_market_outputs(
    spec: &SweepSpec,
    out: &Path,
    cp: &Path,
    jobs: &[(u32, u32)],
    models: &[String],
) -> Result<market::MarketSummary, SweepError> {
    use polars::prelude::*;
    let ds = |e: PolarsError| SweepError::Dataset(e.to_string());
    let read = |table: &str| -> Result<LazyFrame, SweepError> {
        let frames = jobs
            .iter()
            .map(|(p, r)| {
                let path = market_checkpoint_path(cp, *p, *r, table);
                dataset::read_parquet(&path)
                    .map(DataFrame::lazy)
                    .map_err(|e| SweepError::Io {
                        path,
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        concat(frames, UnionArgs::default()).map_err(ds)
    };
    let agent_days = read("agent_days")?;
    let job_rows = read("jobs")?;
    let tables = [
        ("ghost_days", market::ghost_days(agent_days.clone())),
        (
            "market_days",
            market::market_days(job_rows.clone(), agent_days.clone(), models),
        ),
        ("jobs", market::jobs_sample(job_rows.clone())),
    ];
    for (name, lf) in tables {
        let mut df = lf.collect().map_err(ds)?;
        write_atomic(
            &out.join(format!("{name}.parquet")),
            &dataset::parquet_bytes(&mut df).map_err(ds)?,
        )?;
        if spec.csv {
            write_atomic(&out.join(format!("{name}.csv")), &dataset::csv_bytes(&df))?;
        }
    }
    let per_point = market::point_summary(job_rows, agent_days)
        .collect()
        .map_err(ds)?;
    let fidelity = spec.loaded.base.market.as_ref().map(|m| m.fidelity);
    let summary =
        market::MarketSummary::new(&per_point, &spec.points(), fidelity, models, summary::LEVEL);
    write_atomic(&out.join("market.json"), &json_bytes(&summary)?)?;
    Ok(summary)
}

pub(super) fn write_outputs(
    spec: &SweepSpec,
    out: &Path,
    results: &[NetworkReplicate],
) -> Result<SweepOutcome, SweepError> {
    let ds = |e: polars::prelude::PolarsError| SweepError::Dataset(e.to_string());
    let rows: Vec<_> = results
        .iter()
        .flat_map(|r| r.sessions.iter().cloned())
        .collect();
    let mut sessions = dataset::sessions_frame(&rows).map_err(ds)?;
    write_atomic(
        &out.join("sessions.parquet"),
        &dataset::parquet_bytes(&mut sessions).map_err(ds)?,
    )?;
    let points = spec.points();
    let summary = summary::summarise(&points, results);
    let mut pf = summary::points_frame(&summary).map_err(ds)?;
    write_atomic(
        &out.join("points.parquet"),
        &dataset::parquet_bytes(&mut pf).map_err(ds)?,
    )?;
    if spec.csv {
        write_atomic(&out.join("sessions.csv"), &dataset::csv_bytes(&sessions))?;
        write_atomic(&out.join("points.csv"), &dataset::csv_bytes(&pf))?;
    }
    let roc_summary = write_observers(spec, out, results)?;
    write_dos(spec, out, results)?;
    write_session_tables(spec, out, results)?;
    let summary_json = serde_json::json!({
        "scenario": spec.loaded.base.name,
        "seed": spec.seed,
        "confidence_level": summary::LEVEL,
        "interval": "wilson",
        "points": summary,
        "observers": roc_summary,
    });
    write_atomic(&out.join("summary.json"), &json_bytes(&summary_json)?)?;
    write_visibility(out, results)?;
    write_manifest(spec, out, results, points.len())?;
    Ok(SweepOutcome {
        ran: 0,
        resumed: 0,
        summary,
        events: results.iter().map(|r| r.stats.events).sum(),
        sessions: rows.len() as u64,
        market: None,
    })
}

/// `correlation.parquet` and `roc.parquet` when the scenario has
/// observers; returns the per-point ROC summary (empty without).
pub(super) fn write_observers(
    spec: &SweepSpec,
    out: &Path,
    results: &[NetworkReplicate],
) -> Result<Vec<roc::RocSummary>, SweepError> {
    let ds = |e: polars::prelude::PolarsError| SweepError::Dataset(e.to_string());
    let (roc_rows, roc_summary) = roc::curves(results);
    if !roc_summary.is_empty() {
        let mut corr = roc::correlation_frame(results).map_err(ds)?;
        let mut rf = roc::roc_frame(&roc_rows).map_err(ds)?;
        write_atomic(
            &out.join("correlation.parquet"),
            &dataset::parquet_bytes(&mut corr).map_err(ds)?,
        )?;
        write_atomic(
            &out.join("roc.parquet"),
            &dataset::parquet_bytes(&mut rf).map_err(ds)?,
        )?;
        if spec.csv {
            write_atomic(&out.join("correlation.csv"), &dataset::csv_bytes(&corr))?;
            write_atomic(&out.join("roc.csv"), &dataset::csv_bytes(&rf))?;
        }
    }
    Ok(roc_summary)
}

/// `dos.parquet` when the scenario has a selective denial of service: one
/// row per replicate, its verdicts by position and the turns abandoned.
pub(super) fn write_dos(
    spec: &SweepSpec,
    out: &Path,
    results: &[NetworkReplicate],
) -> Result<(), SweepError> {
    let rows: Vec<_> = results
        .iter()
        .filter_map(|r| r.dos.as_deref().map(|d| (r.key, *d)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    write_table(spec, out, "dos", dataset::dos_frame(&rows))
}

/// `NAME.parquet` of per-session records that only some scenarios keep
/// (`ledger` with double-spending clients, `exposure` with harvesting
/// exits): written when any replicate has them, one row per record, keyed
/// by its replicate.
fn write_per_session<T: Clone>(
    (spec, out, results): (&SweepSpec, &Path, &[NetworkReplicate]),
    name: &str,
    records: impl Fn(&NetworkReplicate) -> Option<&Vec<T>>,
    frame: impl Fn(&[(ReplicateKey, T)]) -> PolarsResult<DataFrame>,
) -> Result<(), SweepError> {
    if results.iter().all(|r| records(r).is_none()) {
        return Ok(());
    }
    let rows: Vec<_> = results
        .iter()
        .flat_map(|r| records(r).into_iter().flatten().map(|x| (r.key, x.clone())))
        .collect();
    write_table(spec, out, name, frame(&rows))
}

/// `ledger.parquet` (each measured session's account at its service),
/// `exposure.parquet` (what a harvesting exit kept of it),
/// `vantage.parquet` (what a local observer saw of it), `views.parquet`
/// (each client's directory view, one row per client, under a DHT attack),
/// and `profiles.parquet` (where the profile attacker put it).
pub(super) fn write_session_tables(
    spec: &SweepSpec,
    out: &Path,
    results: &[NetworkReplicate],
) -> Result<(), SweepError> {
    let at = (spec, out, results);
    write_per_session(at, "ledger", |r| r.ledger.as_ref(), dataset::ledger_frame)?;
    write_per_session(
        at,
        "exposure",
        |r| r.exposure.as_ref(),
        dataset::exposure_frame,
    )?;
    write_per_session(
        at,
        "vantage",
        |r| r.vantage.as_ref(),
        dataset::vantage_frame,
    )?;
    write_per_session(at, "views", |r| r.views.as_ref(), dataset::views_frame)?;
    write_per_session(
        at,
        "profiles",
        |r| r.profiles.as_ref(),
        dataset::profiles_frame,
    )?;
    write_per_session(at, "turns", |r| r.turns.as_ref(), dataset::turns_frame)
}

/// Writes `NAME.parquet` (and `NAME.csv` when asked) from a built frame.
fn write_table(
    spec: &SweepSpec,
    out: &Path,
    name: &str,
    df: PolarsResult<DataFrame>,
) -> Result<(), SweepError> {
    let ds = |e: polars::prelude::PolarsError| SweepError::Dataset(e.to_string());
    let mut df = df.map_err(ds)?;
    write_atomic(
        &out.join(format!("{name}.parquet")),
        &dataset::parquet_bytes(&mut df).map_err(ds)?,
    )?;
    if spec.csv {
        write_atomic(&out.join(format!("{name}.csv")), &dataset::csv_bytes(&df))?;
    }
    Ok(())
}

/// `visibility.json`: the audited sessions' matrices, when there are any.
pub(super) fn write_visibility(out: &Path, results: &[NetworkReplicate]) -> Result<(), SweepError> {
    let audited: Vec<serde_json::Value> = results
        .iter()
        .flat_map(|r| {
            r.visibility.iter().map(move |v| {
                serde_json::json!({"point": r.key.point, "replicate": r.key.replicate, "audit": v})
            })
        })
        .collect();
    if !audited.is_empty() {
        write_atomic(&out.join("visibility.json"), &json_bytes(&audited)?)?;
    }
    Ok(())
}

/// `manifest.json`: tool, commit, scenario text and hash, seeds.
pub(super) fn write_manifest(
    spec: &SweepSpec,
    out: &Path,
    results: &[NetworkReplicate],
    points: usize,
) -> Result<(), SweepError> {
    let m = Manifest {
        tool: format!("p2psim {}", env!("CARGO_PKG_VERSION")),
        git_commit: manifest::git_commit(),
        scenario_file: spec.loaded.file.display().to_string(),
        scenario_sha256: manifest::sha256_hex(&spec.loaded.text),
        scenario: spec.loaded.text.clone(),
        seed: spec.seed,
        points,
        replications: spec.loaded.base.replications,
        replicate_seeds: results
            .iter()
            .map(|r| (r.key.point, r.key.replicate, r.key.seed))
            .collect(),
        market_fidelity: spec.loaded.base.market.as_ref().map(|m| {
            match m.fidelity {
                peer2prompt_sim::scenario::market::FidelitySpec::Rail => "rail",
                peer2prompt_sim::scenario::market::FidelitySpec::Onion => "onion",
            }
            .to_owned()
        }),
        crypto_fidelity: spec
            .loaded
            .base
            .market
            .is_none()
            .then(|| spec.loaded.base.fidelity.crypto().name().to_owned()),
    };
    write_atomic(&out.join("manifest.json"), &json_bytes(&m)?)
}
