//! Double-spend exposure against chunk size (whitepaper "Payment Layer:
//! Cashu Ecash over Lightning", subsection "Token Lifecycle": the service "serves in
//! prepaid chunks to cap double-spend exposure"). Double-spending clients
//! take every payment back at the mint as they send it; each service's
//! ledger names the session whose proofs settlement found spent. A
//! session's loss is what its service delivered (at the quote's prices)
//! beyond what it kept. Tested: with immediate settlement, no double
//! spender's session costs more than one chunk (`protocol.chunk_msat`), a
//! bound any one session can refute. Measured: the loss per session and
//! per double spender against chunk size, immediate and batched.

use super::super::common::{loaded, mean_ci, param, param_f64, source};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use peer2prompt_sim::ledger::LedgerRecord;

const ID: &str = "double-spend";
const TITLE: &str = "Double-spend exposure and chunk size";
const SCENARIO: &str = "double_spend";
const TEST_CAP: &str = "With immediate settlement, a double spender's session costs its service \
                        at most one chunk (protocol.chunk_msat)";
const FIND_PAYMENT: &str = "With immediate settlement, share of double spenders' sessions that \
                            cost more than their largest single payment";
const FIND_LOSS: &str = "Service loss per double-spender session, by chunk size and settlement";
const SANITY: &str = "Honest clients' sessions cost their services nothing";
const CHUNK: &str = "protocol.chunk_msat";
const IMMEDIATE: &str = "protocol.immediate_settlement";
const LEVEL: f64 = 0.95;

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Token Lifecycle",
        paragraph: None,
        quote: "The service node verifies proof signatures and amount, then serves in prepaid \
                chunks to cap double-spend exposure.",
    }]
}

/// One sweep point's accounts.
struct Exposure {
    chunk_msat: f64,
    immediate: bool,
    /// Double spenders' sessions.
    cheats: Vec<LedgerRecord>,
    /// Mean of each double-spender session's largest payment, msat.
    largest_payment: f64,
    honest_lossy: Proportion,
    /// Mean loss per double-spender session, msat.
    loss: Mean,
    /// Mean loss per double spender over the run (per client and replicate), sat.
    per_spender: Mean,
    over_chunk: Proportion,
    over_payment: Proportion,
}

/// The scenario's own chunk and settlement where a point does not sweep them.
fn defaults(d: &ScenarioData) -> (f64, bool) {
    let spec = loaded(d).map_or_else(Default::default, |l| l.base.protocol);
    (spec.chunk_msat as f64, spec.immediate_settlement)
}

fn exposures(d: &ScenarioData) -> Vec<Exposure> {
    let (chunk0, immediate0) = defaults(d);
    d.points
        .iter()
        .map(|p| {
            let chunk_msat = param_f64(p, CHUNK).unwrap_or(chunk0);
            let immediate = param(p, IMMEDIATE)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(immediate0);
            let rows: Vec<&LedgerRecord> = d
                .ledger
                .iter()
                .filter(|(pt, _)| *pt == p.point)
                .map(|(_, r)| r)
                .collect();
            measure(chunk_msat, immediate, &rows)
        })
        .collect()
}

fn measure(chunk_msat: f64, immediate: bool, rows: &[&LedgerRecord]) -> Exposure {
    let cheats: Vec<LedgerRecord> = rows
        .iter()
        .filter(|r| r.double_spender)
        .map(|r| (*r).clone())
        .collect();
    let honest: Vec<&&LedgerRecord> = rows.iter().filter(|r| !r.double_spender).collect();
    let share = |f: &dyn Fn(&LedgerRecord) -> bool| {
        let k = cheats.iter().filter(|r| f(r)).count() as u64;
        wilson(k, cheats.len() as u64, LEVEL)
    };
    let losses: Vec<f64> = cheats.iter().map(|r| r.loss_msat() as f64).collect();
    let mut by_client: std::collections::BTreeMap<u32, f64> = Default::default();
    for r in &cheats {
        *by_client.entry(r.client).or_default() += r.loss_msat() as f64 / 1000.0;
    }
    let spenders: Vec<f64> = by_client.into_values().collect();
    Exposure {
        chunk_msat,
        immediate,
        honest_lossy: wilson(
            honest.iter().filter(|r| r.loss_msat() > 0).count() as u64,
            honest.len() as u64,
            LEVEL,
        ),
        loss: mean_ci(&losses, 7301),
        per_spender: mean_ci(&spenders, 7301),
        over_chunk: share(&|r| r.loss_msat() as f64 > chunk_msat),
        over_payment: share(&|r| r.loss_msat() > r.largest_payment_msat),
        largest_payment: cheats
            .iter()
            .map(|r| r.largest_payment_msat as f64)
            .sum::<f64>()
            / cheats.len().max(1) as f64,
        cheats,
    }
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST_CAP),
        (Kind::Finding, FIND_PAYMENT),
        (Kind::Finding, FIND_LOSS),
        (Kind::Sanity, SANITY),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return super::super::common::missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let es = exposures(d);
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: rows(&es),
        notes: vec![
            "A double spender swaps each payment back at the mint the moment it sends it, \
             racing the service's settlement. With immediate settlement the service redeems \
             each payment on receipt and, when the mint says the proofs are gone, stops \
             serving that session; until then it streams what the payment covered. A \
             turn's first payment carries the prompt's price, max(chunk, input price), so \
             it is often larger than protocol.chunk_msat."
                .into(),
            "Loss = delivered at the quote's prices − (paid − found spent), per session, \
             from the service's own ledger (ServiceEvent::PaymentLost) joined to sessions \
             by ground truth for scoring only. Batched settlement redeems every 60 s, after \
             most turns end."
                .into(),
        ],
        tables: vec![table(&es)],
        figures: vec![figure(&es)],
        source: source(d),
    }
}

fn pooled(es: &[Exposure], f: fn(&Exposure) -> Proportion, immediate: bool) -> Proportion {
    let (k, n) = es
        .iter()
        .filter(|e| e.immediate == immediate)
        .map(f)
        .fold((0, 0), |(k, n), p| (k + p.k, n + p.n));
    wilson(k, n, LEVEL)
}

fn rows(es: &[Exposure]) -> Vec<Row> {
    let over = pooled(es, |e| e.over_chunk, true);
    let cap = if over.n == 0 {
        Row::not_measured(
            Kind::Test,
            TEST_CAP,
            "no double-spender session with immediate settlement",
        )
    } else {
        Row::test(
            TEST_CAP,
            Value::text("no session over one chunk"),
            Value::Proportion(over),
            "A bound, not a rate: one session over it refutes it. Measured: the share of \
             double spenders' sessions whose loss exceeds protocol.chunk_msat, pooled over \
             the immediate-settlement points (95% Wilson).",
            over.k == 0,
        )
    };
    let honest = pooled(es, |e| e.honest_lossy, true);
    let honest_all = {
        let b = pooled(es, |e| e.honest_lossy, false);
        wilson(honest.k + b.k, honest.n + b.n, LEVEL)
    };
    vec![
        cap,
        Row::finding(
            FIND_PAYMENT,
            Value::Proportion(pooled(es, |e| e.over_payment, true)),
            "A service accepts the next chunk before the mint has answered for the last, so \
             a session can lose two payments; this share says how often the mint's round \
             trip outlasts a payment's worth of streaming.",
        ),
        Row::finding(
            FIND_LOSS,
            Value::text("per point in the table and figure"),
            "Mean loss per double-spender session (95% percentile bootstrap), immediate against \
             batched settlement, against protocol.chunk_msat.",
        ),
        Row::sanity(
            SANITY,
            Value::text("no honest session with a loss"),
            Value::Proportion(honest_all),
            "Honest clients prepay every chunk and never reclaim: any loss is a ledger or \
             billing bug.",
            honest_all.k == 0,
        ),
    ]
}

fn table(es: &[Exposure]) -> Table {
    let mut t = Table::new(
        "Per point: chunk size, settlement, double spenders' sessions, mean loss per \
         session (95% bootstrap), the largest, the share over one chunk and over the session's \
         largest payment (95% Wilson), and the loss per double spender over the run.",
        &[
            "chunk",
            "settlement",
            "sessions",
            "loss / session",
            "max loss",
            "> one chunk",
            "> largest payment",
            "loss / double spender",
        ],
    );
    for e in es {
        let max = e.cheats.iter().map(|r| r.loss_msat()).max().unwrap_or(0);
        t.rows.push(vec![
            Value::num(e.chunk_msat, 0, " msat"),
            Value::text(if e.immediate { "immediate" } else { "batched" }),
            Value::num(e.cheats.len() as f64, 0, ""),
            Value::interval(e.loss, 0, " msat"),
            Value::num(max as f64, 0, " msat"),
            Value::Proportion(e.over_chunk),
            Value::Proportion(e.over_payment),
            Value::interval(e.per_spender, 1, " sat"),
        ]);
    }
    t
}

fn figure(es: &[Exposure]) -> Figure {
    let series = |label: &str, immediate: bool| Series {
        label: label.into(),
        style: Style::Points,
        points: es
            .iter()
            .filter(|e| e.immediate == immediate && e.loss.n > 1)
            .map(|e| Point::with_ci(e.chunk_msat, e.loss.estimate, e.loss.lo, e.loss.hi))
            .collect(),
    };
    let mut chunks: Vec<f64> = es.iter().map(|e| e.chunk_msat).collect();
    chunks.sort_by(f64::total_cmp);
    chunks.dedup();
    Figure {
        name: "double_spend".into(),
        title: "Service loss per double-spender session against chunk size".into(),
        caption: "Mean loss per double spender's session (msat, 95% bootstrap) with immediate and \
                  with batched (60 s) settlement, against protocol.chunk_msat; the dashed lines are \
                  one chunk, the cap the tested bound names, and the mean largest \
                  payment of a double spender's session (the first carries the prompt's price)."
            .into(),
        x_label: "protocol.chunk_msat (msat)".into(),
        y_label: "loss per session (msat)".into(),
        series: vec![
            series("immediate settlement", true),
            series("batched settlement", false),
            Series {
                label: "largest payment (mean, immediate)".into(),
                style: Style::Dashed,
                points: es
                    .iter()
                    .filter(|e| e.immediate && !e.cheats.is_empty())
                    .map(|e| Point::at(e.chunk_msat, e.largest_payment))
                    .collect(),
            },
            Series {
                label: "one chunk".into(),
                style: Style::Dashed,
                points: chunks.iter().map(|&c| Point::at(c, c)).collect(),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    fn session(cheat: bool, delivered: u64, paid: u64, lost: u64, largest: u64) -> LedgerRecord {
        LedgerRecord {
            double_spender: cheat,
            delivered_msat: delivered,
            paid_msat: paid,
            lost_msat: lost,
            largest_payment_msat: largest,
            jobs: 1,
            payments: 1,
            ..LedgerRecord::default()
        }
    }

    #[test]
    fn one_session_over_a_chunk_refutes_the_cap() {
        let within = session(true, 1_500, 2_000, 2_000, 2_000);
        let over = session(true, 4_500, 2_000, 2_000, 2_000);
        let honest = session(false, 900, 1_000, 0, 1_000);
        let ok = measure(2_000.0, true, &[&within, &honest]);
        assert_eq!((ok.over_chunk.k, ok.over_chunk.n), (0, 1));
        assert!(rows(&[ok])[0].outcome == Outcome::Consistent);
        let bad = measure(2_000.0, true, &[&within, &over, &honest]);
        assert_eq!((bad.over_chunk.k, bad.over_payment.k), (1, 1));
        let r = rows(&[bad]);
        assert!(r[0].outcome == Outcome::Inconsistent);
        // The honest session lost nothing: the sanity check holds.
        assert!(r[3].outcome == Outcome::Holds);
    }

    #[test]
    fn batched_points_do_not_enter_the_test() {
        let over = session(true, 9_000, 2_000, 2_000, 2_000);
        let r = rows(&[measure(2_000.0, false, &[&over])]);
        assert!(r[0].outcome == Outcome::NotMeasured);
    }
}
