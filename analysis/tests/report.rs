//! `p2psim report` on a tiny checked-in reproduction (tests/data/repro_tiny:
//! every whitepaper scenario shrunk to a few clients): valid PNG and SVG
//! files, a CSV beside each, a report naming every claim, identical bytes
//! when rebuilt; missing or foreign folders exit 2.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TINY: &str = "tests/data/repro_tiny";

fn p2psim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .args(args)
        .output()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("p2psim-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    copy_dir(Path::new(TINY), &d);
    d
}

const CLAIMS: [&str; 15] = [
    "Data visibility by role",
    "P(link) ≈ m·g per session",
    "n sessions with re-sampled routes",
    "Sybil capital",
    "Latency overhead of 2 and 3 relays",
    "Mint-exit collusion and its mitigations",
    "Tier 4: a wide passive observer",
    "Combined linkage",
    "Key tagging caught by the keyset audit",
    "Ghost margin at a 2x markup",
    "Heavy-tailed outputs need caps or margins",
    "Ghost profits and early adopters",
    "Supply over the backend phases",
    "Subsidized surveillance",
    "Threat model tiers",
];

#[test]
fn report_rebuilds_figures_and_names_every_claim() {
    let d = fresh("ok");
    let o = p2psim(&["report", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(d.join("report.md")).unwrap();
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    for c in CLAIMS {
        assert!(md.contains(c), "report.md lacks {c}");
        assert!(
            html.contains(c.replace('&', "&amp;").as_str()),
            "report.html lacks {c}"
        );
    }
    for field in [
        "**Section:**",
        "**Analytic value:**",
        "**Measured:**",
        "**Verdict:**",
        "**Produced by:**",
    ] {
        assert_eq!(md.matches(field).count(), CLAIMS.len(), "{field}");
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
    // The new channels were measured: tier 4 and mint-exit rows carry numbers.
    assert!(md.contains("| 4 | Wide passive observer") && md.contains("of sessions linked, TPR"));
    assert!(md.contains("| 3b | Mint-exit collusion") && md.contains("effective set"));
    // The market claims were measured from the market datasets.
    assert!(md.contains("15000 msat quoted against 7500 msat"));
    assert!(md.contains("![Price index per model](figures/price_index.png)"));
    assert!(md.contains("figures/subsidized_link.png"));
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
