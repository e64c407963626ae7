//! A sweep's checkpoints (ARCHITECTURE.md, "Code map", `sweep/`): one
//! file per finished replicate, written atomically (a temporary file, then
//! a rename), so an interrupted sweep loses no finished replicate.

use std::path::{Path, PathBuf};

use peer2prompt_sim::record::NetworkReplicate;
use serde::Serialize;

use super::{SweepError, io};
use crate::{dataset, market};

pub(super) fn checkpoint_path(cp: &Path, p: u32, r: u32) -> PathBuf {
    cp.join(format!("point{p:05}-rep{r:05}.json"))
}

/// Pretty JSON of `value`; a value that cannot be serialised is an error,
/// never an empty file.
pub(super) fn json_bytes(value: &impl Serialize) -> Result<Vec<u8>, SweepError> {
    serde_json::to_vec_pretty(value).map_err(|e| SweepError::Dataset(format!("JSON: {e}")))
}

pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    crate::atomic::write(path, bytes).map_err(|(p, e)| io(&p)(e))
}

pub(super) fn write_checkpoint(cp: &Path, r: &NetworkReplicate) -> Result<(), SweepError> {
    let bytes = serde_json::to_vec(r).map_err(|e| SweepError::Dataset(e.to_string()))?;
    write_atomic(&checkpoint_path(cp, r.key.point, r.key.replicate), &bytes)
}

pub(super) fn read_checkpoint(cp: &Path, p: u32, r: u32) -> Result<NetworkReplicate, SweepError> {
    let path = checkpoint_path(cp, p, r);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    serde_json::from_slice(&bytes).map_err(|e| SweepError::Io {
        path,
        reason: format!("corrupt checkpoint: {e}"),
    })
}

pub(super) fn market_checkpoint_path(cp: &Path, p: u32, r: u32, table: &str) -> PathBuf {
    cp.join(format!("point{p:05}-rep{r:05}.{table}.parquet"))
}

pub(super) fn write_market_checkpoint(
    cp: &Path,
    p: u32,
    r: u32,
    run: &peer2prompt_sim::economics::market::MarketRun,
) -> Result<(), SweepError> {
    let ds = |e: polars::prelude::PolarsError| SweepError::Dataset(e.to_string());
    let mut days = market::agent_days_frame(run, p, r).map_err(ds)?;
    let mut jobs = market::jobs_frame(run, p, r).map_err(ds)?;
    write_atomic(
        &market_checkpoint_path(cp, p, r, "agent_days"),
        &dataset::parquet_bytes(&mut days).map_err(ds)?,
    )?;
    write_atomic(
        &market_checkpoint_path(cp, p, r, "jobs"),
        &dataset::parquet_bytes(&mut jobs).map_err(ds)?,
    )
}
