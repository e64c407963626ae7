//! # peer2prompt-analysis
//!
//! Turns simulation records into Parquet datasets, confidence intervals,
//! figures and reports, and will host the `p2psim` command line
//! (see `ARCHITECTURE.md`).
//!
//! **Status:** empty on purpose. Datasets, estimators and the command line
//! arrive with the simulator and analysis issues; until then this crate exports
//! nothing and ships no binary.
