//! `p2psim report` on a tiny checked-in reproduction (tests/data/repro_tiny:
//! every whitepaper scenario shrunk to a few clients): valid PNG and SVG
//! files, a CSV beside each, a report naming every claim, identical bytes
//! when rebuilt; missing or foreign folders exit 2.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{copy_dir, p2psim};

use peer2prompt_analysis::dataset::read_parquet;
use peer2prompt_analysis::report;

const TINY: &str = "tests/data/repro_tiny";

/// Per point of a sessions table: (linked, sessions), counted here.
fn linked_per_point(file: &Path) -> Vec<(u64, u64)> {
    let df = read_parquet(file).unwrap();
    let points = df.column("point").unwrap().u32().unwrap();
    let linked = df.column("linked").unwrap().bool().unwrap();
    let mut m: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for (p, l) in points.iter().zip(linked.iter()) {
        let e = m.entry(p.unwrap()).or_default();
        e.0 += u64::from(l.unwrap());
        e.1 += 1;
    }
    m.into_values().collect()
}

fn fresh(name: &str) -> PathBuf {
    let d = common::tmp("report", name);
    copy_dir(Path::new(TINY), &d);
    d
}

#[test]
fn report_rebuilds_figures_and_names_every_claim() {
    let d = fresh("ok");
    // A section run under elide_crypto says so where it names its source.
    let manifest = d.join("latency/manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m["crypto_fidelity"] = "elide_crypto".into();
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let o = p2psim(&["report", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(d.join("report.md")).unwrap();
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    let sections = report::sections(&report::Run::default());
    for s in &sections {
        let heading = format!("## {}", s.title);
        assert!(md.contains(&heading), "report.md lacks {heading}");
        let escaped = s.title.replace('&', "&amp;");
        assert!(html.contains(&escaped), "report.html lacks {}", s.title);
    }
    assert_eq!(md.matches("- **Produced by:**").count(), sections.len());
    // The three kinds each have their summary table, in this order.
    let at = |t: &str| md.find(t).unwrap_or_else(|| panic!("no table {t}"));
    assert!(
        at("*Tests of whitepaper claims*") < at("*Sanity checks of the testbed*")
            && at("*Sanity checks of the testbed*") < at("*Findings*")
    );
    // repro.json records every row with its kind; the command line printed
    // them grouped the same way.
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("repro.json")).unwrap()).unwrap();
    let results = run["results"].as_array().unwrap();
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    assert_eq!(results.len(), rows);
    let stdout = String::from_utf8_lossy(&o.stdout);
    for (kind, heading) in [
        ("Test", "tests of whitepaper claims:"),
        ("Sanity", "sanity checks of the testbed"),
        ("Finding", "findings (measured, no verdict):"),
    ] {
        let n = results.iter().filter(|r| r["kind"] == kind).count();
        assert!(n >= 3, "{n} rows of kind {kind}");
        assert!(stdout.contains(heading), "{stdout}");
    }
    // The tier-3 table's counts come from the sessions dataset.
    for (k, n) in linked_per_point(&d.join("link_probability/sessions.parquet")) {
        assert!(
            md.contains(&format!("({k} of {n})")),
            "no ({k} of {n}) in the report"
        );
    }
    // Every figure the report links exists as a valid PNG and SVG with its CSV.
    let figures: Vec<&str> = md
        .match_indices("](figures/")
        .filter_map(|(i, _)| {
            let rest = &md[i + 10..];
            rest[..rest.find(')').unwrap()].strip_suffix(".png")
        })
        .collect();
    assert!(figures.len() >= 14, "{figures:?}");
    for f in &figures {
        let png = std::fs::read(d.join("figures").join(format!("{f}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{f}.png");
        assert!(png.len() > 5_000, "{f}.png is {} bytes", png.len());
        let svg = std::fs::read_to_string(d.join("figures").join(format!("{f}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{f}.svg"
        );
        assert!(svg.contains("<text"), "{f}.svg has no labels");
        let csv = std::fs::read_to_string(d.join("figures").join(format!("{f}.csv"))).unwrap();
        assert!(csv.starts_with("series,x,y,lo,hi,note\n") && csv.lines().count() > 1);
        // The HTML page is self-contained: the figure is inlined.
        assert!(html.contains("data:image/png;base64,"));
    }
    // The tiers table reads the sections: tier 4 and mint-exit carry findings.
    assert!(md.contains("| 4 | Wide passive observer") && md.contains("finding measured"));
    assert!(md.contains("Mint-exit collusion (the Mint-Exit Collusion paragraph"));
    assert!(md.contains("![Price index per model](figures/price_index.png)"));
    assert!(md.contains("figures/subsidized_link.png"));
    assert_eq!(
        md.matches("crypto fidelity `elide_crypto`").count(),
        1,
        "{md}"
    );
    // The visibility matrix was measured, not asserted.
    assert!(md.contains("| Ingress hop | Client IP ("), "{md}");
    // Rebuilding gives the same bytes.
    let again = p2psim(&["report", d.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(md, std::fs::read_to_string(d.join("report.md")).unwrap());
}

#[test]
fn report_refuses_a_missing_or_foreign_folder() {
    let missing = std::env::temp_dir().join(format!("p2psim-none-{}", std::process::id()));
    let o = p2psim(&["report", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such folder"));

    let foreign = std::env::temp_dir().join(format!("p2psim-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "hello").unwrap();
    let o = p2psim(&["report", foreign.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a repro output folder"), "{err}");
    assert!(!foreign.join("report.md").exists());

    // A repro folder with a dataset missing names the file.
    let d = fresh("broken");
    std::fs::remove_file(d.join("sybil").join("sessions.parquet")).unwrap();
    let o = p2psim(&["report", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sessions.parquet"));
}

#[test]
fn repro_refuses_a_foreign_out_folder_and_bad_scenarios() {
    let foreign = std::env::temp_dir().join(format!("p2psim-rforeign-{}", std::process::id()));
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("data.csv"), "x").unwrap();
    let o = p2psim(&[
        "repro",
        "--quick",
        "--scenarios",
        "../scenarios/whitepaper",
        "--out",
        foreign.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!foreign.join("repro.json").exists());

    let empty = std::env::temp_dir().join(format!("p2psim-noscen-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = std::env::temp_dir().join(format!("p2psim-rout-{}", std::process::id()));
    let o = p2psim(&[
        "repro",
        "--scenarios",
        empty.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists(), "nothing is created for bad input");
}
