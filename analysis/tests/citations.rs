//! Every citation in the report quotes words its text contains, under a
//! heading the text has (issue: "Quote the whitepaper only with words it
//! contains, and name its section"). The texts are copies of the seeds
//! (tests/data/whitepaper.txt: the whitepaper, seed 002;
//! tests/data/design_notes.txt: the design notes, seed 001), so the test
//! needs nothing outside the project.
#![allow(clippy::unwrap_used, missing_docs)]

use peer2prompt_analysis::report::{self, Citation, Run, Source};

const WHITEPAPER: &str = include_str!("data/whitepaper.txt");
const DESIGN_NOTES: &str = include_str!("data/design_notes.txt");

/// Typst math as a reader sees it: `$P("link") approx m dot g$` reads
/// "P(link) ≈ m·g".
fn math(span: &str) -> String {
    span.replace("approx", "≈")
        .replace("dot", "·")
        .replace("^2", "²")
        .replace("arrow.r", "→")
}

/// Whitespace and typst markup removed, math spelled out.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('$').enumerate() {
        if i % 2 == 1 {
            out.push_str(&math(part));
        } else {
            out.push_str(part);
        }
    }
    out.replace("--", "–")
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '*' | '_' | '"' | '#' | '[' | ']' | '+'))
        .collect()
}

fn text_of(c: &Citation) -> &'static str {
    match c.source {
        Source::Whitepaper => WHITEPAPER,
        Source::DesignNotes => DESIGN_NOTES,
    }
}

fn has_heading(c: &Citation) -> bool {
    text_of(c).lines().any(|l| match c.source {
        Source::Whitepaper => {
            let t = l.trim_start_matches('=');
            t.len() < l.len() && t.trim() == c.section
        }
        Source::DesignNotes => l.trim() == c.section,
    })
}

fn has_paragraph(c: &Citation, p: &str) -> bool {
    text_of(c)
        .lines()
        .any(|l| l.starts_with(&format!("*{p}.*")) || l.starts_with(&format!("*{p}*")))
}

fn citations() -> Vec<(&'static str, Citation)> {
    report::sections(&Run::default())
        .into_iter()
        .flat_map(|s| s.citations.into_iter().map(move |c| (s.id, c)))
        .collect()
}

#[test]
fn every_quote_occurs_in_its_text_under_an_existing_heading() {
    let all = citations();
    assert!(all.len() >= 20, "{} citations", all.len());
    let (wp, notes) = (normalize(WHITEPAPER), normalize(DESIGN_NOTES));
    for (id, c) in &all {
        let hay = match c.source {
            Source::Whitepaper => &wp,
            Source::DesignNotes => &notes,
        };
        assert!(
            hay.contains(&normalize(c.quote)),
            "{id}: {:?} does not occur in the {:?} text",
            c.quote,
            c.source
        );
        assert!(
            has_heading(c),
            "{id}: no heading {:?} in the {:?}",
            c.section,
            c.source
        );
        if let Some(p) = c.paragraph {
            assert!(
                has_paragraph(c, p),
                "{id}: no paragraph {p:?} in the whitepaper"
            );
        }
    }
}

#[test]
fn the_check_catches_a_misquote_and_a_wrong_heading() {
    // The normalisation is not so loose that a paraphrase passes.
    let wp = normalize(WHITEPAPER);
    assert!(wp.contains(&normalize(
        "P(link) ≈ m·g, assuming independent route sampling"
    )));
    assert!(!wp.contains(&normalize(
        "P(link) = m·g, assuming independent route sampling"
    )));
    let wrong = Citation {
        source: Source::Whitepaper,
        section: "Backend Evolution",
        paragraph: None,
        quote: "",
    };
    assert!(!has_heading(&wrong), "not a heading of the whitepaper");
    let right = Citation {
        section: "Network Heterogeneity and Hardware Transitions",
        ..wrong
    };
    assert!(has_heading(&right));
    assert!(!has_paragraph(&right, "Tier 6: Nobody"));
    assert!(has_paragraph(&right, "Tier 3: Partial Collusion"));
}
