//! Verified inference against cheating services (seed 003's Merkle audits
//! and fraud proofs; whitepaper "Malicious Service Nodes"; issue 19):
//! services commit to their transcripts, clients audit a share of their
//! turns and never use a service they catch again. How often a substitute
//! is caught, how fast its share of the traffic falls, and what auditing
//! costs. Two sanity checks (the detection rate the audit size implies by
//! construction of the simulated models, and no false positives) and two
//! findings.

use super::super::common::{loaded, missing, source};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;
use peer2prompt::verify::detection_probability;
use peer2prompt_sim::record::TurnRecord;

const ID: &str = "verified_inference";
const TITLE: &str =
    "Verified inference against model substitution: audits, fraud proofs, reputation";
const RATE: &str = "audited substitute turns caught at 1 − (1 − p_diff)^k";
const HONEST: &str = "no honest service's audited turn is ever caught";
const CURVE: &str = "substitute turns caught, and the substitutes' share of the traffic over \
                     time, against the audit rate and size";
const COST: &str = "what auditing costs: completion latency and bytes per turn";
const PROBES: &str = "challenge probes checked whole: substitutes caught per probe, against \
                      the probe rate";

/// Time bins of the measured period in the figure.
const BINS: usize = 4;

fn citations() -> Vec<Citation> {
    vec![Citation {
        source: Source::Whitepaper,
        section: "Malicious Service Nodes",
        paragraph: None,
        quote: "Response-integrity receipts and client challenge probes.",
    }]
}

/// One point's measurements.
struct Audited {
    label: String,
    rate: f64,
    steps: u32,
    substitutes: u32,
    p_diff: f64,
    turns: u64,
    /// Audited substitute turns caught.
    caught: Proportion,
    /// Audited honest turns and honest probes caught.
    false_pos: Proportion,
    /// Share of conversations opening with a probe.
    probe_rate: f64,
    /// Probes sent to substitutes that failed.
    probes_caught: Proportion,
    /// The substitutes' share of the turns, per time bin.
    share_by_bin: Vec<Proportion>,
    /// Median completion of audited and of unaudited turns, ms.
    latency: (Option<f64>, Option<f64>),
    bytes_per_turn: f64,
}

fn label(substitutes: u32, v: &peer2prompt_sim::scenario::VerificationSpec) -> String {
    let mut l = format!(
        "{} substitute(s), audit {:.0}% × {} steps",
        substitutes,
        100.0 * v.audit_rate.get(),
        v.audit_steps
    );
    if v.probe_rate.get() > 0.0 {
        l += &format!(
            ", probes on {:.0}% of conversations",
            100.0 * v.probe_rate.get()
        );
    }
    l
}

fn of_point(d: &ScenarioData, point: u32) -> Vec<&TurnRecord> {
    d.turns
        .iter()
        .filter(|((p, _), _)| *p == point)
        .map(|(_, t)| t)
        .collect()
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn share_by_bin(ts: &[&TurnRecord]) -> Vec<Proportion> {
    let (lo, hi) = ts.iter().fold((u64::MAX, 0), |(a, b), t| {
        (a.min(t.started_ns), b.max(t.started_ns))
    });
    let width = (hi.saturating_sub(lo) / BINS as u64).max(1);
    (0..BINS)
        .map(|b| {
            let in_bin: Vec<_> = ts
                .iter()
                .filter(|t| ((t.started_ns - lo) / width).min(BINS as u64 - 1) == b as u64)
                .collect();
            let k = in_bin.iter().filter(|t| t.exit_substitutes).count() as u64;
            wilson(k, in_bin.len() as u64, LEVEL)
        })
        .collect()
}

fn measure(d: &ScenarioData) -> Vec<Audited> {
    let Some(l) = loaded(d) else {
        return Vec::new();
    };
    l.points
        .iter()
        .filter_map(|pt| {
            let sc = &pt.scenario;
            let v = sc.protocol.verification.as_ref()?;
            let (substitutes, p_diff) = sc
                .faults
                .substituting_services
                .as_ref()
                .map_or((0, 0.0), |f| (f.count, f.p_diff.get()));
            let ts = of_point(d, pt.index);
            let audited = |sub: bool| {
                ts.iter()
                    .filter(move |t| t.exit_substitutes == sub && t.audit.is_some())
            };
            let caught = |sub: bool| {
                audited(sub)
                    .filter(|t| t.audit.as_deref() != Some("passed"))
                    .count() as u64
            };
            let probes = |sub: bool| {
                ts.iter()
                    .filter(move |t| t.exit_substitutes == sub && t.probe.is_some())
            };
            let failed = |sub: bool| probes(sub).filter(|t| t.probe == Some(false)).count() as u64;
            let lat = |a: bool| {
                median(
                    ts.iter()
                        .filter(|t| t.audit.is_some() == a)
                        .map(|t| (t.done_ns - t.started_ns) as f64 / 1e6)
                        .collect(),
                )
            };
            let bytes = d
                .points
                .iter()
                .find(|p| p.point == pt.index)
                .map_or(0.0, |p| p.bytes_per_turn);
            Some(Audited {
                label: label(substitutes, v),
                rate: v.audit_rate.get(),
                steps: v.audit_steps,
                substitutes,
                p_diff,
                turns: ts.len() as u64,
                caught: wilson(caught(true), audited(true).count() as u64, LEVEL),
                false_pos: wilson(
                    caught(false) + failed(false),
                    (audited(false).count() + probes(false).count()) as u64,
                    LEVEL,
                ),
                probe_rate: v.probe_rate.get(),
                probes_caught: wilson(failed(true), probes(true).count() as u64, LEVEL),
                share_by_bin: share_by_bin(&ts),
                latency: (lat(true), lat(false)),
                bytes_per_turn: bytes,
            })
        })
        .collect()
}

/// The section.
pub fn section(run: &Run) -> Section {
    let all = [
        (Kind::Sanity, RATE),
        (Kind::Sanity, HONEST),
        (Kind::Finding, CURVE),
        (Kind::Finding, COST),
        (Kind::Finding, PROBES),
    ];
    let Some(d) = run.scenario(ID) else {
        return missing(ID, TITLE, citations(), ID, &all);
    };
    let data = measure(d);
    if data.is_empty() {
        return missing(ID, TITLE, citations(), ID, &all);
    }
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: vec![
            rate_row(&data),
            honest_row(&data),
            curve_row(&data),
            cost_row(&data),
            probes_row(&data),
        ],
        notes: notes(),
        tables: vec![table(&data)],
        figures: vec![figure(&data)],
        source: source(d),
    }
}

fn rate_row(data: &[Audited]) -> Row {
    let judged: Vec<&Audited> = data.iter().filter(|a| a.caught.n > 0).collect();
    if judged.is_empty() {
        return Row::not_measured(Kind::Sanity, RATE, "no audited substitute turn");
    }
    let holds = judged.iter().all(|a| {
        let p = detection_probability(a.p_diff, a.steps);
        a.caught.lo <= p && p <= a.caught.hi
    });
    Row::sanity(
        RATE,
        Value::List(
            judged
                .iter()
                .map(|a| {
                    (
                        a.label.clone(),
                        Value::Percent(detection_probability(a.p_diff, a.steps)),
                    )
                })
                .collect(),
        ),
        Value::List(
            judged
                .iter()
                .map(|a| (a.label.clone(), Value::Proportion(a.caught)))
                .collect(),
        ),
        "By construction of the simulated models: a substitute's step differs from the \
         advertised model's with probability p_diff, independently, so an audit of k random \
         steps catches it with probability 1 − (1 − p_diff)^k. Holds when every point's 95% \
         Wilson interval covers it; a miss would mean the commitments, openings or checks \
         lose frauds.",
        holds,
    )
}

fn honest_row(data: &[Audited]) -> Row {
    let (k, n) = data
        .iter()
        .fold((0, 0), |(k, n), a| (k + a.false_pos.k, n + a.false_pos.n));
    if n == 0 {
        return Row::not_measured(Kind::Sanity, HONEST, "no audited honest turn");
    }
    Row::sanity(
        HONEST,
        Value::count(0),
        Value::Proportion(wilson(k, n, LEVEL)),
        "Honest services commit to what they ran and the reference reproduces it bit for \
         bit, so no audit of theirs may fail; one failure would be a bug in the commitment, \
         the openings or the check.",
        k == 0,
    )
}

fn curve_row(data: &[Audited]) -> Row {
    Row::finding(
        CURVE,
        Value::List(
            data.iter()
                .filter(|a| a.substitutes > 0)
                .map(|a| {
                    let first = a.share_by_bin.first().copied();
                    let last = a.share_by_bin.last().copied();
                    let mut v = vec![("audited caught".into(), Value::Proportion(a.caught))];
                    if let (Some(f), Some(l)) = (first, last) {
                        v.push(("share of turns, first quarter".into(), Value::Proportion(f)));
                        v.push(("last quarter".into(), Value::Proportion(l)));
                    }
                    (a.label.clone(), Value::List(v))
                })
                .collect(),
        ),
        "With reputation (a client never returns to a service it caught), the substitutes' \
         share of the turns falls over the run as clients catch them; without audits it stays \
         at the share exit choice gives them. The quarters split the measured period.",
    )
}

fn cost_row(data: &[Audited]) -> Row {
    let honest: Vec<&Audited> = data.iter().filter(|a| a.substitutes == 0).collect();
    let none = honest.iter().find(|a| a.rate == 0.0);
    let all = honest.iter().find(|a| a.rate >= 1.0);
    let (Some(none), Some(all)) = (none, all) else {
        return Row::not_measured(
            Kind::Finding,
            COST,
            "no honest points at audit rates 0 and 1",
        );
    };
    let ms = |v: Option<f64>| v.map_or(Value::None, |x| Value::num(x, 0, " ms"));
    Row::finding(
        COST,
        Value::List(vec![
            ("completion, audited turns".into(), ms(all.latency.0)),
            ("completion, no audits".into(), ms(none.latency.1)),
            (
                "bytes per turn, every turn audited".into(),
                Value::num(all.bytes_per_turn / 1e3, 1, " kB"),
            ),
            (
                "bytes per turn, no audits".into(),
                Value::num(none.bytes_per_turn / 1e3, 1, " kB"),
            ),
            (
                "bytes ×".into(),
                Value::Ratio(all.bytes_per_turn / none.bytes_per_turn.max(1.0)),
            ),
        ]),
        "In an honest network: the median time from a turn's start to its completion (an \
         audited turn completes when the openings have been checked: one more round trip \
         through the circuit), and the bytes sent over the network per answered turn with \
         every turn audited against none. The honest service's own cost is answering: \
         k openings of a few hundred bytes each and one signature per turn.",
    )
}

fn probes_row(data: &[Audited]) -> Row {
    let probed: Vec<&Audited> = data.iter().filter(|a| a.probe_rate > 0.0).collect();
    if probed.is_empty() {
        return Row::not_measured(Kind::Finding, PROBES, "no point sends probes");
    }
    let entry = |a: &Audited| {
        let mut v = vec![(
            "probes to substitutes failed".into(),
            Value::Proportion(a.probes_caught),
        )];
        if let (Some(f), Some(l)) = (a.share_by_bin.first(), a.share_by_bin.last()) {
            v.push((
                "substitutes' share, first quarter".into(),
                Value::Proportion(*f),
            ));
            v.push(("last quarter".into(), Value::Proportion(*l)));
        }
        let label = format!("probes on {:.0}% of conversations", 100.0 * a.probe_rate);
        (label, Value::List(v))
    };
    Row::finding(
        PROBES,
        Value::List(probed.iter().map(|a| entry(a)).collect()),
        "A probe is a paid request whose every token the client checks against the \
         advertised model, so one of L tokens catches a substitute with probability \
         1 − (1 − p_diff)^L (near 1 at these lengths): probes trade a full paid request for \
         near-certain detection, audits a few openings for a per-audit rate. A failed probe \
         is retried elsewhere and its service never used again.",
    )
}

fn table(data: &[Audited]) -> Table {
    let mut t = Table::new(
        "Per point: answered turns, audited substitute turns caught against the closed form \
         1 − (1 − p_diff)^k (95% Wilson), audited honest turns caught, the substitutes' share \
         of the turns in the first and last quarter of the measured period, median \
         completion of audited and unaudited turns (ms) and bytes per turn (kB).",
        &[
            "point",
            "turns",
            "substitute turns caught",
            "1 − (1 − p)^k",
            "honest caught",
            "substitutes' share, first quarter",
            "last quarter",
            "completion audited",
            "completion not audited",
            "kB/turn",
        ],
    );
    let ms = |v: Option<f64>| v.map_or(Value::None, |x| Value::num(x, 0, ""));
    for a in data {
        t.rows.push(vec![
            Value::text(a.label.clone()),
            Value::count(a.turns),
            Value::Proportion(a.caught),
            if a.substitutes > 0 {
                Value::Percent(detection_probability(a.p_diff, a.steps))
            } else {
                Value::None
            },
            Value::Proportion(a.false_pos),
            a.share_by_bin
                .first()
                .map_or(Value::None, |p| Value::Proportion(*p)),
            a.share_by_bin
                .last()
                .map_or(Value::None, |p| Value::Proportion(*p)),
            ms(a.latency.0),
            ms(a.latency.1),
            Value::num(a.bytes_per_turn / 1e3, 1, ""),
        ]);
    }
    t
}

fn notes() -> Vec<String> {
    vec![
        "Scheme (seed 003, built in protocol/src/verify): each service commits to every \
         answered request with a signed RFC 6962 Merkle root over its steps (token and \
         quantized logits), sent just before its receipt; the client challenges k random \
         steps of an audited turn, drawn from its own randomness (the seed's VRF is future \
         work), and rechecks each opening against the advertised model; a mismatch is a fraud \
         proof anyone with the model can recheck. Reputation: a client never chooses a service \
         it caught again."
            .into(),
        "Detection model (an assumption): the simulated models are hashes of model, prompt \
         and tokens so far; a substitute's step differs from the advertised model's with \
         probability p_diff = 0.2 here, independently per step. Real model pairs differ at \
         rates this testbed does not measure, and real kernels need a tolerance the simulated \
         ones do not. Only services whose backend exposes logits can commit (GPU nodes with \
         local models; a Ghost behind a provider API cannot)."
            .into(),
        "Probes (whitepaper: client challenge probes) are checked whole in verification mode: \
         every token of the answer must be the advertised model's next token, so a probe of L \
         tokens catches a substitute with probability 1 − (1 − p_diff)^L at the price of a \
         paid request. Which conversations open with a probe is the users' choice, drawn by \
         the workload (`protocol.verification.probe_rate`)."
            .into(),
    ]
}

fn figure(data: &[Audited]) -> Figure {
    let shown: Vec<&Audited> = data
        .iter()
        .filter(|a| a.substitutes > 0 && a.steps == 8 && a.probe_rate == 0.0)
        .collect();
    // Each series is nudged sideways so that the intervals do not overlap.
    let nudge = |i: usize| (i as f64 - (shown.len() as f64 - 1.0) / 2.0) * 0.08;
    let series: Vec<Series> = shown
        .iter()
        .enumerate()
        .map(|(j, a)| Series {
            label: format!("audit {:.0}%", 100.0 * a.rate),
            style: Style::Points,
            points: a
                .share_by_bin
                .iter()
                .enumerate()
                .filter(|(_, p)| p.n > 0)
                .map(|(i, p)| Point::with_ci(i as f64 + 1.0 + nudge(j), p.estimate, p.lo, p.hi))
                .collect(),
        })
        .collect();
    Figure {
        name: "verified_inference_substitute_share".into(),
        title: "Model substitutes' share of the turns over the run, per audit rate".into(),
        caption: "Share of answered turns served by the two substituting services (95% Wilson) \
                  in each quarter of the measured period, at audit rates 0 to 100% with 8 \
                  steps per audit (series nudged sideways to keep their intervals apart); \
                  clients drop a service once they catch it."
            .into(),
        x_label: "quarter of the measured period".into(),
        y_label: "substitutes' share of turns".into(),
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(at_s: u64, subs: bool) -> TurnRecord {
        TurnRecord {
            session_id: 0,
            client: 0,
            exit: 0,
            exit_substitutes: subs,
            started_ns: at_s * 1_000_000_000,
            first_token_ns: 0,
            done_ns: 0,
            input_tokens: 0,
            output_tokens: 0,
            charged_msat: 0,
            audit: None,
            probe: None,
        }
    }

    #[test]
    fn shares_are_binned_over_the_period() {
        let ts = [
            turn(0, true),
            turn(10, true),
            turn(50, false),
            turn(99, false),
            turn(100, false),
        ];
        let refs: Vec<&TurnRecord> = ts.iter().collect();
        let bins = share_by_bin(&refs);
        assert_eq!(bins.len(), BINS);
        assert_eq!((bins[0].k, bins[0].n), (2, 2));
        assert_eq!((bins[3].k, bins[3].n), (0, 2));
    }
}
