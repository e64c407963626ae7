//! Per-user key tagging caught by wallets that audit keysets. The whitepaper
//! asks wallets to prefer mints with "public key continuity" (Mint Trust
//! and Federation); a tagging mint breaks it for a share p of key
//! requests. The mint tags each request with probability p and an auditing
//! wallet fetches the keys twice, so detection 1 − (1 − p)² holds by
//! construction: a sanity check of the mint's tagging hook and the
//! wallet's audit, not a reproduction.

use super::super::common::{chi_square_sanity, missing, param_f64, source};
use super::super::data::Run;
use super::super::{Citation, Kind, Section, Source, Table, Value};
use crate::estimate::Proportion;
use crate::figure::{Figure, Point, Series, Style};

const ID: &str = "key_tagging";
const TITLE: &str = "Key tagging caught by the keyset audit";
const SANITY: &str = "share of auditing clients that catch the tagging ≈ 1 − (1 − p)²";

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Mint Trust and Federation",
        paragraph: None,
        quote: "Prefer mints with transparent reserves, uptime history, and public key \
                continuity.",
    }]
}

/// The section.
pub fn section(run: &Run) -> Section {
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &[(Kind::Sanity, SANITY)]);
    };
    let mut table = Table::new(
        "Per tagged share p: the detection probability by construction and the share of \
         clients that rejected the mint (95% Wilson).",
        &["p", "1 − (1 − p)²", "clients detecting"],
    );
    let (mut pts, mut pairs) = (Vec::new(), Vec::<(Proportion, f64)>::new());
    for p in &d.points {
        let (Some(det), Some(share)) = (
            p.key_tagging_detected,
            param_f64(p, "adversary.key_tagging.share"),
        ) else {
            continue;
        };
        let analytic = 1.0 - (1.0 - share).powi(2);
        table.rows.push(vec![
            Value::num(share, 2, ""),
            Value::Percent(analytic),
            Value::Proportion(det),
        ]);
        pts.push(Point::with_ci(share, det.estimate, det.lo, det.hi));
        pairs.push((det, analytic));
    }
    let curve: Vec<Point> = (0..=50)
        .map(|i| {
            let x = f64::from(i) / 50.0;
            Point::at(x, 1.0 - (1.0 - x).powi(2))
        })
        .collect();
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![chi_square_sanity(
            SANITY,
            Value::text("1 − (1 − p)² per point"),
            &pairs,
        )],
        notes: vec![
            "A tagging mint answers a share p of requests for its keys with a private keyset \
             (one per requesting circuit), so that ecash it later issues under that keyset \
             identifies the requester when spent. A wallet with the audit fetches the keys a \
             second time over a fresh circuit and rejects the mint if the answers differ. \
             Without the audit, tagged ecash fails at services, which verify against the \
             public keysets (a protocol test)."
                .into(),
        ],
        tables: vec![table],
        figures: vec![Figure {
            name: "key_tagging".into(),
            title: "Keyset audit catching a tagging mint".into(),
            caption: "Share of clients that rejected the mint (95% Wilson) against the share \
                      of key requests it tagged, with 1 - (1 - p)^2."
                .into(),
            x_label: "share of key requests tagged, p".into(),
            y_label: "P(client detects the tagging)".into(),
            series: vec![
                Series {
                    label: "measured".into(),
                    style: Style::Points,
                    points: pts,
                },
                Series {
                    label: "1 - (1 - p)^2".into(),
                    style: Style::Line,
                    points: curve,
                },
            ],
        }],
        source: source(d),
    }
}
