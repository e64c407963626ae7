//! The whitepaper reproduction report: one section per quantitative claim
//! with the claim quoted, its section, the analytic value, the measured
//! estimate with its confidence interval, a verdict, figures, and the
//! scenario and seed that produced it. Written as `report.md` and a
//! self-contained `report.html` (figures inlined).
//!
//! [`build`] works from the datasets of a `repro` folder alone, so
//! `p2psim report DIR` rebuilds everything without simulating.

mod claims;
mod data;
mod economics;
mod linkage;
mod render;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::figure::{self, Figure, FigureError};
pub use data::{Run, ScenarioData, Session};

/// The file that marks a folder as a `repro` output.
pub const REPRO_FILE: &str = "repro.json";

/// Failures building a report.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The folder does not exist.
    #[error("{0}: no such folder")]
    Missing(PathBuf),
    /// The folder is not a `repro` output.
    #[error("{0}: not a repro output folder (no {REPRO_FILE}); run `p2psim repro --out DIR` first")]
    Foreign(PathBuf),
    /// A dataset is missing or unreadable.
    #[error("{file}: {message}")]
    Dataset {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A figure could not be drawn.
    #[error(transparent)]
    Figure(#[from] FigureError),
    /// Writing an output failed.
    #[error("writing {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Whether a measurement agrees with the whitepaper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The analytic value is within what the data allow.
    Consistent,
    /// The data reject the analytic value.
    Inconsistent,
    /// The whitepaper makes no numeric claim here; the measurement is reported.
    NotAnalytic,
    /// Not measured by this version of the testbed (the section says why).
    NotMeasured,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Consistent => "consistent",
            Verdict::Inconsistent => "inconsistent",
            Verdict::NotAnalytic => "not an analytic claim",
            Verdict::NotMeasured => "not measured yet",
        })
    }
}

/// A table in a claim's section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Caption.
    pub caption: String,
    /// Column headers.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

/// One claim's section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Short id (anchor).
    pub id: String,
    /// Title.
    pub title: String,
    /// The claim, quoted from the whitepaper.
    pub quote: String,
    /// Its whitepaper section.
    pub section: String,
    /// The analytic value (or "none").
    pub analytic: String,
    /// The measured estimate with its interval.
    pub measured: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Paragraphs: method, caveats, findings.
    pub notes: Vec<String>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Figures.
    pub figures: Vec<Figure>,
    /// Scenario(s) and seed(s) that produced it.
    pub source: String,
}

/// What [`build`] wrote.
#[derive(Clone, Debug)]
pub struct Built {
    /// The claims, in report order.
    pub claims: Vec<Claim>,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

/// Builds figures, `report.md` and `report.html` in `dir` from its datasets.
pub fn build(dir: &Path) -> Result<Built, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::Missing(dir.to_owned()));
    }
    let run = data::load(dir)?;
    let claims = claims::all(&run);
    let figures = dir.join("figures");
    std::fs::create_dir_all(&figures).map_err(|source| ReportError::Io {
        file: figures.clone(),
        source,
    })?;
    for c in &claims {
        for f in &c.figures {
            figure::write(f, &figures)?;
        }
    }
    let markdown = dir.join("report.md");
    let html = dir.join("report.html");
    write(&markdown, render::markdown(&run, &claims).as_bytes())?;
    write(&html, render::html(&run, &claims, &figures).as_bytes())?;
    Ok(Built {
        claims,
        markdown,
        html,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| ReportError::Io {
            file: path.to_owned(),
            source,
        })
}
