//! Data visibility by role (whitepaper "Data Visibility by Role"), measured
//! from the observations of audited sessions' nodes, and what the mint
//! learns from a wallet's funding record under each Lightning mode.

use std::collections::BTreeMap;

use super::super::common::{lightning_label, missing, source};
use super::super::data::Run;
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use peer2prompt_sim::audit::AuditedSession;

const ID: &str = "visibility";
const TITLE: &str = "Data visibility by role";
const TABLE_TEST: &str = "every cell of the table but the mint's Sees IP";
const FUNDING_FINDING: &str = "what the mint learns from the funding record, per Lightning mode";
const FUNDING_SANITY: &str = "the mint's funding view is what the Lightning model revealed";

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Data Visibility by Role",
            paragraph: None,
            quote: "Data visibility matrix by network role.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Mint-Exit Collusion"),
            quote: "When a client funds a Cashu mint via Lightning, the mint learns the client's \
                    Lightning node identity or IP from the funding invoice.",
        },
    ]
}

/// Column names of the audit rows after the role.
const COLUMNS: [&str; 4] = ["sees IP", "sees prompt", "sees payment ID", "sees response"];

/// What the Lightning mode should let the mint see of the payer.
fn expected_funding(mode: &serde_json::Value) -> String {
    match mode.get("kind").and_then(serde_json::Value::as_str) {
        Some("candidates") => format!(
            "one of {} payers (funding)",
            mode.get("size")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        ),
        Some("hidden") => "No".into(),
        _ => "Lightning node (funding)".into(),
    }
}

/// Tallies of measured values per (row, column) against the table.
#[derive(Default)]
struct Tally {
    seen: BTreeMap<String, u32>,
    agree: u32,
    n: u32,
}

fn is_mint_ip(row: &[String; 5], col: usize) -> bool {
    row[0] == "Mint" && col == 0
}

/// The section.
pub fn section(run: &Run) -> Section {
    let rows = [
        (Kind::Test, TABLE_TEST),
        (Kind::Finding, FUNDING_FINDING),
        (Kind::Sanity, FUNDING_SANITY),
    ];
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &rows);
    };
    let mode_of = |point: u32| -> serde_json::Value {
        d.points
            .iter()
            .find(|p| p.point == point)
            .and_then(|p| p.params.get("protocol.lightning").cloned())
            .unwrap_or_else(|| serde_json::json!({"kind": "node"}))
    };
    let Some((_, first)) = d.audits.first() else {
        let mut s = missing(ID, TITLE, citations(), ID, &rows);
        s.notes = vec!["No audited session was answered in this run.".into()];
        return s;
    };
    let (cells, disagreements) = tally(&d.audits, &first.whitepaper);
    let mut table = Table::new(
        "Measured data visibility by role (sessions agreeing with the whitepaper's table / \
         audited), over every Lightning mode.",
        &["role", COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3]],
    );
    for (r, expected) in first.whitepaper.iter().enumerate() {
        let mut row = vec![Value::text(expected[0].clone())];
        for c in 0..4 {
            row.push(Value::text(cell_text(&cells[&(r, c)], &expected[c + 1])));
        }
        table.rows.push(row);
    }
    let (funding, funding_ok) = funding_views(&d.audits, mode_of);
    let n = d.audits.len();
    let mut out = Vec::new();
    out.push(Row::test(
        TABLE_TEST,
        Value::text("the whitepaper's table (3 relays: one ingress, two mid relays)"),
        Value::text(if disagreements.is_empty() {
            format!("all cells agree in all {n} audited sessions")
        } else {
            disagreements.join("; ")
        }),
        "each audited session's matrix is computed by the protocol's `VisibilityMatrix::audit` \
         from the observations of the nodes on its path and of the mint; every cell must \
         equal the table's in every session",
        disagreements.is_empty(),
    ));
    out.push(Row::finding(
        FUNDING_FINDING,
        Value::List(funding.clone()),
        "The table's Mint row says the mint sees no IP; that holds only when Lightning hides \
         the payer. Without Lightning privacy the mint learns the payer's node from the \
         funding invoice, as the whitepaper's Mint-Exit Collusion paragraph says, and with a \
         candidate set it learns that the payer is one of its members.",
    ));
    out.push(Row::sanity(
        FUNDING_SANITY,
        Value::text("node: the Lightning node; candidates of k: one of k; hidden: No"),
        Value::List(funding),
        "the engine's Lightning model decides what a funding payment reveals; the audit must \
         find exactly that in the mint's log",
        funding_ok,
    ));
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: out,
        notes: vec![format!(
            "For each of {n} audited sessions (the first opened in each point's measured \
             period), every observation of the nodes on its path and of the mint was kept, \
             with every funding record the mint logged since the start, and the protocol's \
             `VisibilityMatrix::audit` decided what each role learned: addresses from what \
             it saw on the session's circuit (and, for the mint, the payer Lightning named \
             in a funding record), the prompt and the response if their bytes appear in \
             anything it observed, payment identifiers from the proofs it handled. The \
             scenario sweeps the Lightning modes: node (no privacy), a candidate set, \
             hidden."
        )],
        tables: vec![table],
        figures: vec![],
        source: source(d),
    }
}

/// Per (row, column): what was measured; and the disagreements with the
/// table outside the mint's Sees IP cell.
fn tally(
    audits: &[(u32, AuditedSession)],
    table: &[[String; 5]],
) -> (BTreeMap<(usize, usize), Tally>, Vec<String>) {
    let mut cells: BTreeMap<(usize, usize), Tally> = BTreeMap::new();
    for (r, expected) in table.iter().enumerate() {
        for c in 0..4 {
            let t = cells.entry((r, c)).or_default();
            for (_, a) in audits {
                let v = a
                    .measured
                    .get(r)
                    .map(|m| m[c + 1].clone())
                    .unwrap_or_default();
                t.n += 1;
                t.agree += u32::from(v == expected[c + 1]);
                *t.seen.entry(v).or_default() += 1;
            }
        }
    }
    let mut wrong = Vec::new();
    for ((r, c), t) in &cells {
        if t.agree < t.n && !is_mint_ip(&table[*r], *c) {
            wrong.push(format!(
                "{} / {}: {} of {} agree with {}",
                table[*r][0],
                COLUMNS[*c],
                t.agree,
                t.n,
                table[*r][c + 1]
            ));
        }
    }
    (cells, wrong)
}

fn cell_text(t: &Tally, expected: &str) -> String {
    if t.agree == t.n {
        return format!("{expected} ({}/{})", t.agree, t.n);
    }
    let other: Vec<String> = t
        .seen
        .iter()
        .filter(|(v, _)| v.as_str() != expected)
        .map(|(v, c)| format!("{v} ×{c}"))
        .collect();
    format!(
        "{} ({}/{}; whitepaper: {expected})",
        other.join(", "),
        t.agree,
        t.n
    )
}

/// Per Lightning mode: the mint's measured Sees IP values, and whether
/// they are all what the mode reveals.
fn funding_views(
    audits: &[(u32, AuditedSession)],
    mode_of: impl Fn(u32) -> serde_json::Value,
) -> (Vec<(String, Value)>, bool) {
    let mut by_mode: BTreeMap<u32, (serde_json::Value, BTreeMap<String, u32>)> = BTreeMap::new();
    for (point, a) in audits {
        let ip = a
            .measured
            .iter()
            .find(|r| r[0] == "Mint")
            .map(|r| r[1].clone())
            .unwrap_or_default();
        let e = by_mode
            .entry(*point)
            .or_insert_with(|| (mode_of(*point), BTreeMap::new()));
        *e.1.entry(ip).or_default() += 1;
    }
    let mut ok = !by_mode.is_empty();
    let list = by_mode
        .values()
        .map(|(mode, seen)| {
            let want = expected_funding(mode);
            ok &= seen.len() == 1 && seen.contains_key(&want);
            let n: u32 = seen.values().sum();
            let text = seen
                .iter()
                .map(|(v, c)| format!("{v} ({c}/{n})"))
                .collect::<Vec<_>>()
                .join(", ");
            (lightning_label(mode), Value::Text(text))
        })
        .collect();
    (list, ok)
}
