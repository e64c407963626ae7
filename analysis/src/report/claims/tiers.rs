//! The threat tiers table (whitepaper "Threat Model Tiers"), filled in
//! from the sections above: it reads their rows and measures nothing of
//! its own, so it adds no row.

use super::super::render;
use super::super::{Citation, Kind, Outcome, Section, Source, Table, Value};

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Threat Model Tiers",
        paragraph: None,
        quote: "Peer2Prompt defines tiers by adversary capability.",
    }]
}

/// What the rows named `names` of section `id` gave, or "not measured".
fn from(sections: &[Section], id: &str, kinds: &[Kind]) -> String {
    let Some(s) = sections.iter().find(|s| s.id == id) else {
        return "not measured in this run".into();
    };
    let rows: Vec<String> = s
        .rows
        .iter()
        .filter(|r| kinds.contains(&r.kind) && r.outcome != Outcome::NotMeasured)
        .map(|r| {
            format!(
                "{} {}: {}",
                match r.kind {
                    Kind::Test => "test",
                    Kind::Sanity => "sanity check",
                    Kind::Finding => "finding",
                },
                render::outcome(r.kind, r.outcome),
                r.name
            )
        })
        .collect();
    if rows.is_empty() {
        "not measured in this run".into()
    } else {
        format!("[{}](#{}): {}", s.title, s.id, rows.join("; "))
    }
}

/// The section.
pub fn section(sections: &[Section]) -> Section {
    let tests = [Kind::Test];
    let findings = [Kind::Finding];
    let row = |tier: &str, who: &str, power: &str, outcome: &str, measured: String| {
        vec![
            Value::text(tier),
            Value::text(who),
            Value::text(power),
            Value::text(outcome),
            Value::Text(measured),
        ]
    };
    let mut t = Table::new(
        "The whitepaper's tiers with what this run measured (tier, adversary, primary power \
         and outcome as the whitepaper's table gives them).",
        &[
            "tier",
            "adversary",
            "primary power",
            "whitepaper outcome",
            "measured here",
        ],
    );
    t.rows = vec![
        row(
            "1",
            "Provider/account observer",
            "Prompt + Ghost billing",
            "No direct user identity",
            from(sections, "visibility", &tests),
        ),
        row(
            "2",
            "Single node / local observer",
            "One vantage point",
            "Partial metadata only",
            format!(
                "{}; {}",
                from(sections, "visibility", &tests),
                from(sections, "local-observer", &findings)
            ),
        ),
        row(
            "3",
            "Colluding subset",
            "Entry-exit correlation",
            "Session compromise prob.",
            format!(
                "{}; {}; {}",
                from(sections, "link-probability", &tests),
                from(sections, "sessions-n", &tests),
                from(sections, "subsidized", &tests)
            ),
        ),
        row(
            "-",
            "Mint-exit collusion (the Mint-Exit Collusion paragraph; not a row of the table)",
            "-",
            "-",
            from(sections, "mint_exit", &findings),
        ),
        row(
            "4",
            "Wide passive observer",
            "Timing/volume correlation",
            "Weakened unlinkability",
            format!(
                "{}; {}; {}",
                from(sections, "observers", &findings),
                from(sections, "high_latency", &findings),
                from(sections, "combined", &findings)
            ),
        ),
        row(
            "5",
            "Global active state actor",
            "Coercion + infiltration",
            "Targeted deanonymization",
            "out of scope: not simulated".into(),
        ),
    ];
    Section {
        id: "tiers",
        title: "Threat model tiers",
        citations: citations(),
        rows: vec![],
        notes: vec![],
        tables: vec![t],
        figures: vec![],
        source: "the sections above".into(),
    }
}
