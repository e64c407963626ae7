//! Where runs become results: records to Parquet datasets (polars),
//! estimates with confidence intervals (statrs), the sweep runner with
//! checkpoints, and the `p2psim` command line on top.
//!
//! - [`dataset`]: typed records to DataFrames and Parquet files.
//! - [`estimate`]: proportions with Wilson intervals, comparison with an
//!   analytic value.
//! - [`sweep`]: runs every (point, replicate) on a rayon pool, checkpoints
//!   each finished replicate, resumes, and assembles the outputs.
//! - [`summary`], [`manifest`]: `summary.json` and `manifest.json`.
//! - [`lock`]: one run per output folder.
//! - [`swarm`]: `p2psim swarm`, random small scenarios with every checker
//!   on; failing cases kept as replayable YAML.
//! - [`roc`]: the passive observers' ROC, `correlation.parquet` and
//!   `roc.parquet`.

pub mod atomic;
pub mod dataset;
pub mod dos_model;
pub mod estimate;
pub mod figure;
pub mod live;
pub mod lock;
pub mod manifest;
pub mod market;
pub mod memory;
pub mod preflight;
pub mod report;
pub mod repro;
pub mod roc;
pub mod scale;
pub mod summary;
pub mod swarm;
pub mod sweep;
