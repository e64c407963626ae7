//! The whitepaper reproduction report. Every section is about one claim and
//! holds rows of three kinds, which the code keeps apart:
//! - a **test** of a whitepaper claim: a quantity the protocol and its
//!   adversary produced, compared with the whitepaper's value through a
//!   confidence interval; it can fail;
//! - a **sanity check** of the testbed: something that holds by
//!   construction when the code is right (a sampler, an identity, an
//!   arithmetic); never a reproduction;
//! - a **finding**: a measurement with intervals and no closed form, with a
//!   sentence on what it means and no verdict.
//!
//! Each section cites the whitepaper (or the design notes, labelled so)
//! with words the text contains and the heading they stand under; a test
//! checks every citation against copies of the texts.
//!
//! [`build`] works from the datasets of a `repro` folder alone, so
//! `p2psim report DIR` rebuilds everything without simulating. Values are
//! typed ([`Value`]) and rendered only in `render.rs`.

mod claims;
mod common;
mod data;
mod render;
mod tables;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::estimate::{Mean, Proportion};
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

/// Which text a citation quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The whitepaper (seed 002).
    Whitepaper,
    /// The design notes behind it (seed 001), not the whitepaper.
    DesignNotes,
}

/// Words quoted from a text, with the heading they stand under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Citation {
    /// Which text.
    pub source: Source,
    /// The section heading, verbatim.
    pub section: &'static str,
    /// A bold paragraph title within the section, verbatim, if any.
    pub paragraph: Option<&'static str>,
    /// The quoted words, verbatim up to whitespace and typst markup.
    pub quote: &'static str,
}

/// The three kinds of report rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A test of a whitepaper claim: it can fail.
    Test,
    /// A sanity check of the testbed: holds by construction.
    Sanity,
    /// A measurement with no closed form: no verdict.
    Finding,
}

/// A row's result. Tests are consistent or not, sanity checks hold or
/// break, findings are measured; anything may be not measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The data do not reject the whitepaper's value.
    Consistent,
    /// The data reject it.
    Inconsistent,
    /// The identity holds.
    Holds,
    /// The identity fails: a bug in the testbed.
    Broken,
    /// A finding was measured.
    Measured,
    /// Not measured (no usable data in this run).
    NotMeasured,
}

/// A typed value, rendered only in `render.rs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// Nothing (rendered as a dash).
    None,
    /// Free text.
    Text(String),
    /// A number with `digits` decimals and a unit suffix.
    Number {
        /// The value.
        value: f64,
        /// Decimals shown.
        digits: usize,
        /// Unit after the number ("" for none).
        unit: String,
    },
    /// A share, shown as a percentage.
    Percent(f64),
    /// A proportion with its interval and counts.
    Proportion(Proportion),
    /// An estimate with its interval.
    Interval {
        /// The estimate and its bounds.
        mean: Mean,
        /// Decimals shown.
        digits: usize,
        /// Unit after the numbers.
        unit: String,
    },
    /// A chi-square goodness of fit.
    ChiSquare {
        /// The statistic.
        stat: f64,
        /// Degrees of freedom.
        dof: usize,
        /// Its p-value.
        p: f64,
    },
    /// A multiple of a reference ("1.23x").
    Ratio(f64),
    /// Labelled values, in order.
    List(Vec<(String, Value)>),
}

impl Value {
    /// Free text.
    pub fn text(s: impl Into<String>) -> Self {
        Value::Text(s.into())
    }

    /// A number with `digits` decimals and `unit`.
    pub fn num(value: f64, digits: usize, unit: &str) -> Self {
        Value::Number {
            value,
            digits,
            unit: unit.to_owned(),
        }
    }

    /// An interval estimate with `digits` decimals and `unit`.
    pub fn interval(mean: Mean, digits: usize, unit: &str) -> Self {
        Value::Interval {
            mean,
            digits,
            unit: unit.to_owned(),
        }
    }

    /// A count.
    pub fn count(n: u64) -> Self {
        Value::num(n as f64, 0, "")
    }
}

/// One row of a section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Test, sanity check or finding.
    pub kind: Kind,
    /// What is tested, checked or measured.
    pub name: String,
    /// The whitepaper's value (tests), what construction implies (sanity
    /// checks), or nothing (findings).
    pub expected: Value,
    /// What the run gave.
    pub measured: Value,
    /// The interval and the test used (tests and sanity checks), or what
    /// the finding means.
    pub method: String,
    /// The result.
    pub outcome: Outcome,
}

impl Row {
    /// A test of a claim: `agrees` when the data do not reject it.
    pub fn test(name: &str, expected: Value, measured: Value, method: &str, agrees: bool) -> Self {
        Row {
            kind: Kind::Test,
            name: name.to_owned(),
            expected,
            measured,
            method: method.to_owned(),
            outcome: if agrees {
                Outcome::Consistent
            } else {
                Outcome::Inconsistent
            },
        }
    }

    /// A sanity check: `holds` when the identity holds.
    pub fn sanity(name: &str, expected: Value, measured: Value, method: &str, holds: bool) -> Self {
        Row {
            kind: Kind::Sanity,
            name: name.to_owned(),
            expected,
            measured,
            method: method.to_owned(),
            outcome: if holds {
                Outcome::Holds
            } else {
                Outcome::Broken
            },
        }
    }

    /// A finding: `meaning` says what it means.
    pub fn finding(name: &str, measured: Value, meaning: &str) -> Self {
        Row {
            kind: Kind::Finding,
            name: name.to_owned(),
            expected: Value::None,
            measured,
            method: meaning.to_owned(),
            outcome: Outcome::Measured,
        }
    }

    /// A row of `kind` that this run could not measure, and why.
    pub fn not_measured(kind: Kind, name: &str, why: &str) -> Self {
        Row {
            kind,
            name: name.to_owned(),
            expected: Value::None,
            measured: Value::None,
            method: why.to_owned(),
            outcome: Outcome::NotMeasured,
        }
    }
}

/// A table in a section: typed cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// What the table shows, printed above it.
    pub caption: String,
    /// Column headers.
    pub header: Vec<String>,
    /// One row per entry, one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// A table with `header`.
    pub fn new(caption: &str, header: &[&str]) -> Self {
        Table {
            caption: caption.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// One claim's section.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// Short id (anchor).
    pub id: &'static str,
    /// The heading of the section.
    pub title: &'static str,
    /// What it cites.
    pub citations: Vec<Citation>,
    /// Its tests, sanity checks and findings.
    pub rows: Vec<Row>,
    /// Paragraphs: method, caveats.
    pub notes: Vec<String>,
    /// Tables of the measured values.
    pub tables: Vec<Table>,
    /// Figures of the measured values.
    pub figures: Vec<Figure>,
    /// Scenario(s) and seed(s) that produced it.
    pub source: String,
}

/// One row of the results list in `repro.json` and on the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultLine {
    /// Section id.
    pub section: String,
    /// Kind of row.
    pub kind: Kind,
    /// What it is.
    pub name: String,
    /// Its result.
    pub outcome: Outcome,
    /// The measured value, rendered.
    pub measured: String,
}

/// What [`build`] wrote.
#[derive(Clone, Debug)]
pub struct Built {
    /// The sections, in report order.
    pub sections: Vec<Section>,
    /// Every row, flattened, for `repro.json` and the command line.
    pub results: Vec<ResultLine>,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

/// Every section, in report order: the claims of the registry
/// ([`claims::REGISTRY`]), then the threat-tiers summary that reads them.
pub fn sections(run: &Run) -> Vec<Section> {
    let mut v: Vec<Section> = claims::REGISTRY.iter().map(|f| f(run)).collect();
    let tiers = claims::tiers::section(&v);
    v.push(tiers);
    v
}

/// Builds figures, `report.md` and `report.html` in `dir` from its
/// datasets, and records every row's result in `repro.json`.
pub fn build(dir: &Path) -> Result<Built, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::Missing(dir.to_owned()));
    }
    let mut run = data::load(dir)?;
    let sections = sections(&run);
    let figures = dir.join("figures");
    std::fs::create_dir_all(&figures).map_err(|source| ReportError::Io {
        file: figures.clone(),
        source,
    })?;
    for s in &sections {
        for f in &s.figures {
            figure::write(f, &figures)?;
        }
    }
    let results = render::results(&sections);
    let markdown = dir.join("report.md");
    let html = dir.join("report.html");
    write(&markdown, render::markdown(&run, &sections).as_bytes())?;
    write(&html, render::html(&run, &sections, &figures).as_bytes())?;
    run.results = results.clone();
    let marker = dir.join(REPRO_FILE);
    let json = serde_json::to_string_pretty(&run).map_err(|e| ReportError::Io {
        file: marker.clone(),
        source: std::io::Error::other(e),
    })?;
    write(&marker, json.as_bytes())?;
    Ok(Built {
        sections,
        results,
        markdown,
        html,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::atomic::write(path, bytes).map_err(|(file, source)| ReportError::Io { file, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_run_measures_nothing_and_claims_nothing() {
        let run = Run::default();
        let all = sections(&run);
        assert!(all.len() >= 15);
        for s in &all {
            assert!(!s.citations.is_empty(), "{} cites nothing", s.id);
            for r in &s.rows {
                // Without data no test may pass and no finding be measured;
                // sanity checks of pure arithmetic may still hold.
                assert!(
                    r.outcome == Outcome::NotMeasured
                        || (r.kind == Kind::Sanity && r.outcome == Outcome::Holds),
                    "{}: {} is {:?} without data",
                    s.id,
                    r.name,
                    r.outcome
                );
            }
        }
        let kinds: Vec<Kind> = all.iter().flat_map(|s| &s.rows).map(|r| r.kind).collect();
        for k in [Kind::Test, Kind::Sanity, Kind::Finding] {
            assert!(kinds.contains(&k), "no {k:?} row declared");
        }
    }
}
