//! Selective denial of service against tier 3 (whitepaper "Threat Model
//! Tiers", "Tier 3: Partial Collusion"; Borisov et al., CCS 2007): the
//! adversary kills every circuit it cannot see end to end, judged from its
//! own nodes' timing evidence, and clients retry under their own policy.
//! Tested: the compromised share of answered sessions against the closed
//! form under that policy (`crate::dos_model`), and against m·g as the
//! whitepaper states it. Sanity: with the attack off, P(ends) ≈ m·g.
//! Finding: what the attack costs users and the adversary.

use super::super::common::{
    by_point, chi_square_sanity, chi_square_test, count, loaded, median_ms, missing, of_point,
    param, source,
};
use super::super::data::{Run, ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::dos_model::{self, Counts, TurnOutcome};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::{LEVEL, PointSummary};

const ID: &str = "selective-dos";
const TITLE: &str = "Selective denial of service: where m·g fails";
const SCENARIO: &str = "selective_dos";
const TEST_FORM: &str =
    "compromised share of answered sessions ≈ the closed form under the retry policy";
const TEST_MG: &str = "P(linked | answered) ≈ m·g under selective denial of service";
const SANITY: &str = "attack off: P(ends compromised) ≈ m·g (the route sampler)";
const FINDING: &str = "the attack's cost to users and to the adversary";
const ENABLED: &str = "adversary.selective_dos.enabled";
/// The client's attempts per turn (`sim::population`, `max_attempts`).
const ATTEMPTS: u32 = 3;

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Threat Model Tiers",
            paragraph: Some("Tier 3: Partial Collusion"),
            quote: "simple first-order link probability per session is approximately \
                    P(link) ≈ m·g, assuming independent route sampling and no global timing \
                    oracle.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Adversary and Network Assumptions",
            paragraph: None,
            quote: "Packets can be delayed, dropped, replayed, or reordered.",
        },
    ]
}

/// One point with the attack on.
#[derive(Clone, Debug)]
struct Attacked {
    m: f64,
    g: f64,
    /// The closed forms: without memory, and with the policy's memory.
    no_memory: f64,
    policy: TurnOutcome,
    /// Both ends adversarial, over answered sessions.
    ends: Proportion,
    /// Linked by the adversary's matcher, over answered sessions.
    linked: Proportion,
    /// Turns answered, over turns tried.
    answered: Proportion,
    /// Sessions opened (attempts) per answered turn.
    attempts: f64,
    /// Circuits the adversary killed per answered turn.
    killed: f64,
    /// Attempts with both ends adversarial that went unanswered (the
    /// judge's own losses, or a killed mint circuit; scored on truth).
    lost: Proportion,
    /// Answered sessions with exactly one adversarial end: circuits the
    /// judge let through by mistake (scored on truth).
    one_end: Proportion,
    /// Median time to first token of answered sessions, ms.
    ttft: Mean,
}

fn enabled(p: &PointSummary) -> bool {
    param(p, ENABLED).and_then(serde_json::Value::as_bool) != Some(false)
}

/// The population a point drew from: counts of the adversary's relays and
/// exits as realised, and relays per route.
fn counts(d: &ScenarioData, p: &PointSummary) -> Option<(Counts, u32)> {
    let l = loaded(d)?;
    let s = &l.points.iter().find(|x| x.index == p.point)?.scenario;
    let relays = s.population.relays;
    let exits = s.population.ghosts + s.population.gpus;
    let ar = (p.m * f64::from(relays)).round() as u32;
    let ax = (p.g * f64::from(exits)).round() as u32;
    let c = Counts {
        adv_relays: ar,
        honest_relays: relays - ar,
        adv_exits: ax,
        honest_exits: exits - ax,
    };
    Some((c, s.protocol.relays_per_route))
}

fn attacked(d: &ScenarioData, p: &PointSummary, ss: &[&Session]) -> Option<Attacked> {
    let (c, hops) = counts(d, p)?;
    let answered: Vec<&Session> = ss.iter().copied().filter(|s| s.ok).collect();
    let n = answered.len() as u64;
    let (ends, _) = count(&answered, |s| s.ends);
    let (linked, _) = count(&answered, |s| s.linked);
    let (one_end, _) = count(&answered, |s| s.entry_adversarial != s.exit_adversarial);
    let compromised: Vec<&Session> = ss.iter().copied().filter(|s| s.ends).collect();
    let (lost, _) = count(&compromised, |s| !s.ok);
    let dos: Vec<_> = d.dos.iter().filter(|(pt, _)| *pt == p.point).collect();
    let abandoned: u64 = dos.iter().map(|(_, x)| x.turns_abandoned).sum();
    let killed: u64 = dos
        .iter()
        .map(|(_, x)| x.killed_entry + x.killed_middle + x.killed_exit)
        .sum();
    let per = |v: u64| {
        if n == 0 {
            f64::NAN
        } else {
            v as f64 / n as f64
        }
    };
    Some(Attacked {
        m: p.m,
        g: p.g,
        no_memory: dos_model::no_memory(p.m, p.g, hops),
        policy: dos_model::turn(c, hops, ATTEMPTS),
        ends: wilson(ends, n, LEVEL),
        linked: wilson(linked, n, LEVEL),
        answered: wilson(n, n + abandoned, LEVEL),
        attempts: per(ss.len() as u64),
        killed: per(killed),
        lost: wilson(lost, compromised.len() as u64, LEVEL),
        one_end: wilson(one_end, n, LEVEL),
        ttft: median_ms(ss, u64::from(p.point), |s| s.first_token_ns),
    })
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST_FORM),
        (Kind::Test, TEST_MG),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let points = by_point(d);
    let on: Vec<Attacked> = d
        .points
        .iter()
        .filter(|p| enabled(p))
        .filter_map(|p| attacked(d, p, of_point(&points, p.point)))
        .collect();
    let off: Vec<(Proportion, f64)> = d
        .points
        .iter()
        .filter(|p| !enabled(p))
        .map(|p| (p.ends_compromised, p.m * p.g))
        .collect();
    let form: Vec<(Proportion, f64)> = on
        .iter()
        .map(|a| (a.ends, a.policy.compromised_share()))
        .collect();
    let mg: Vec<(Proportion, f64)> = on.iter().map(|a| (a.linked, a.m * a.g)).collect();
    let mut rows = vec![
        chi_square_test(
            TEST_FORM,
            Value::text("the policy's closed form at each point"),
            &form,
        ),
        chi_square_test(TEST_MG, Value::text("m·g at each point"), &mg),
    ];
    rows.push(if off.is_empty() {
        Row::not_measured(Kind::Sanity, SANITY, "no point ran with the attack off")
    } else {
        chi_square_sanity(SANITY, Value::text("m·g at each point"), &off)
    });
    rows.push(finding(&on));
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: notes(),
        tables: vec![table(&on)],
        figures: vec![figure(&on)],
        source: source(d),
    }
}

fn finding(on: &[Attacked]) -> Row {
    Row::finding(
        FINDING,
        Value::List(
            on.iter()
                .map(|a| {
                    (
                        format!("m {:.2}, g {:.2}", a.m, a.g),
                        Value::List(vec![
                            ("turns answered".into(), Value::Proportion(a.answered)),
                            ("attempts per answer".into(), Value::num(a.attempts, 2, "")),
                            (
                                "circuits killed per answer".into(),
                                Value::num(a.killed, 2, ""),
                            ),
                            (
                                "compromised attempts lost".into(),
                                Value::Proportion(a.lost),
                            ),
                            (
                                "answered with one end only".into(),
                                Value::Proportion(a.one_end),
                            ),
                            ("median TTFT".into(), Value::interval(a.ttft, 0, " ms")),
                        ]),
                    )
                })
                .collect(),
        ),
        "Each killed attempt costs the user a turn timeout before the retry, and a killed mint \
         circuit can fail a turn's payment outright (no retry); the adversary pays nothing \
         but the circuits it refuses. It also loses some of its own compromised attempts: \
         its judge kills them when an exit's claim comes late or fails to align, or the \
         client's mint circuit through it dies. That loss, and cross-turn memory, is where \
         the measured share falls below the closed form.",
    )
}

fn notes() -> Vec<String> {
    vec![
        "The adversary's hops judge each circuit from their own pooled observations only: an \
         exit keeps a circuit whose first cells follow one of the adversary's entry flows cell \
         for cell (times within the matcher's tolerance, after the one extension per hop), a \
         middle relay keeps one that follows an adversarial entry, and an entry keeps one an \
         exit claimed; everything else stops through the protocol's hook \
         (`dangerous_stop_forwarding`). Ground truth only scores."
            .into(),
        "Closed form (sim policy: at most 3 attempts per turn; a timed-out route's relays are \
         suspected and its exit avoided). One attempt is compromised with m·g, clean with \
         q = (1−m)^h·(1−g) (h relays per route), killed otherwise. Without memory the \
         compromised share of answered turns is m·g / (m·g + q) for any number of attempts. \
         With the policy's memory the draws of later attempts leave out the killed route's \
         relays and exit; the exact recursion over those hypergeometric draws gives the \
         'policy' column. Both assume a turn starts from the full population (the scenario \
         gives each client about one turn)."
            .into(),
    ]
}

fn table(on: &[Attacked]) -> Table {
    let mut t = Table::new(
        "Per point with the attack on: realised m and g, m·g, the closed forms (without \
         memory; with the policy's memory), the compromised share of answered sessions and \
         P(linked | answered) (95% Wilson), turns answered against the policy's form, \
         attempts and killed circuits per answered turn, the share of attempts with both \
         ends adversarial that went unanswered, and the share of answered sessions with \
         exactly one adversarial end (the judge's mistakes).",
        &[
            "m",
            "g",
            "m·g",
            "form, no memory",
            "form, policy",
            "P(ends | answered)",
            "P(linked | answered)",
            "turns answered",
            "policy P(answered)",
            "attempts",
            "killed",
            "compromised lost",
            "one end only",
        ],
    );
    for a in on {
        t.rows.push(vec![
            Value::num(a.m, 3, ""),
            Value::num(a.g, 3, ""),
            Value::num(a.m * a.g, 3, ""),
            Value::num(a.no_memory, 3, ""),
            Value::num(a.policy.compromised_share(), 3, ""),
            Value::Proportion(a.ends),
            Value::Proportion(a.linked),
            Value::Proportion(a.answered),
            Value::num(a.policy.answered(), 3, ""),
            Value::num(a.attempts, 2, ""),
            Value::num(a.killed, 2, ""),
            Value::Proportion(a.lost),
            Value::Proportion(a.one_end),
        ]);
    }
    t
}

fn figure(on: &[Attacked]) -> Figure {
    let x = |a: &Attacked| a.m * a.g;
    let measured = |label: &str, dx: f64, f: fn(&Attacked) -> Proportion| Series {
        label: label.into(),
        style: Style::Points,
        points: on
            .iter()
            .map(|a| {
                let e = f(a);
                Point::with_ci(x(a) + dx, e.estimate, e.lo, e.hi)
            })
            .collect(),
    };
    let model = |label: &str, f: fn(&Attacked) -> f64| Series {
        label: label.into(),
        style: Style::Points,
        points: on.iter().map(|a| Point::at(x(a), f(a))).collect(),
    };
    let max = on.iter().map(x).fold(0.0, f64::max);
    let dodge = 0.01 * max.max(0.01);
    Figure {
        name: "selective_dos".into(),
        title: "Compromised share of answered sessions under selective DoS".into(),
        caption: "Per point with the attack on: the share of answered sessions whose entry and \
                  exit were both adversarial, and the share the adversary linked (95% Wilson, \
                  drawn slightly left and right), beside the closed form without memory, the \
                  closed form under the client's retry policy, and the dashed y = m·g the \
                  whitepaper's first-order estimate gives."
            .into(),
        x_label: "m·g".into(),
        y_label: "share of answered sessions".into(),
        series: vec![
            measured("ends compromised (measured)", -dodge, |a| a.ends),
            measured("linked (measured)", dodge, |a| a.linked),
            model("closed form, no memory", |a| a.no_memory),
            model("closed form, retry policy", |a| {
                a.policy.compromised_share()
            }),
            Series {
                label: "y = m·g".into(),
                style: Style::Dashed,
                points: vec![Point::at(0.0, 0.0), Point::at(max, max)],
            },
        ],
    }
}
