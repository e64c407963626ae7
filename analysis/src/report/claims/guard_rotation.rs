//! Entry guards over time (whitepaper "Threat Model Tiers", "Tier 3:
//! Partial Collusion": "For n independent sessions with re-sampled routes,
//! naive full-link expectation is n·m·g"; guards in "Route Construction").
//! Clients keep G guards for a rotation period D, then draw a fresh set.
//! A client's guard periods are read off the entries of its sessions (see
//! [`clients`]), never off which are adversarial. Per period a guard set
//! holds j adversarial
//! guards, j hypergeometric over R relays of which A are the adversary's,
//! and each of the period's n_k sessions is linked at j/G·g. Tested: the
//! share of clients linked at least once against 1 − Π_k E_j[(1 −
//! j/G·g)^n_k] (and 1 − (1 − m·g)^n without guards). Sanity: guard sets
//! holding an adversarial guard against 1 − C(R−A, G)/C(R, G), beside Tor's
//! 0.10 and 0.271 at f = 0.1 (shared/reference). Finding: P(at least one of
//! a client's first n sessions linked) against n.

use std::collections::{BTreeMap, BTreeSet};

use super::super::common::{
    adversarial_guards, chi_square_sanity, chi_square_test, loaded, missing, n_sessions_citation,
    p_any_adversarial_guard, source,
};
use super::super::data::{Run, ScenarioData, Session};
use super::super::{Citation, Kind, Row, Section, Table, Value};
use crate::estimate::{Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use crate::summary::LEVEL;

const ID: &str = "guard-rotation";
const TITLE: &str = "Entry guards over time, with rotation";
const SCENARIO: &str = "guard_rotation";
const TEST: &str = "clients linked at least once over the run ≈ 1 − Π_k E_j[(1 − j/G·g)^n_k] \
                    (1 − (1 − m·g)^n without guards)";
const SANITY: &str = "guard sets holding ≥ 1 adversarial guard ≈ 1 − C(R−A, G)/C(R, G) per \
                      rotation period";
const FINDING: &str = "P(at least one of a client's first n sessions linked), with and \
                       without guards";
/// Least sessions in a period for its guard set to count as fully seen.
const MIN_PERIOD_SESSIONS: usize = 10;
/// The n of the finding's curve.
const NS: [usize; 8] = [1, 2, 5, 10, 20, 50, 100, 200];

fn citations() -> Vec<Citation> {
    vec![n_sessions_citation()]
}

/// A point's route policy and population.
#[derive(Clone, Copy, Debug)]
struct Policy {
    /// Guards per client (0: none).
    guards: u32,
    relays: u32,
    adversarial: u32,
    m: f64,
    g: f64,
}

impl Policy {
    /// P(j adversarial guards) for j = 0..=G.
    fn p_j(&self) -> Vec<f64> {
        adversarial_guards(self.relays, self.adversarial, self.guards)
    }

    /// P(a guard set holds ≥ 1 adversarial guard).
    fn p_any(&self) -> f64 {
        p_any_adversarial_guard(self.relays, self.adversarial, self.guards)
    }

    /// P(none of a client's sessions linked) given its sessions per guard
    /// period.
    fn p_none(&self, per_period: &[usize]) -> f64 {
        if self.guards == 0 {
            let n: usize = per_period.iter().sum();
            return (1.0 - self.m * self.g).powi(n as i32);
        }
        let pj = self.p_j();
        per_period
            .iter()
            .map(|&n| {
                pj.iter()
                    .enumerate()
                    .map(|(j, p)| {
                        let per = j as f64 / f64::from(self.guards) * self.g;
                        p * (1.0 - per).powi(n as i32)
                    })
                    .sum::<f64>()
            })
            .product()
    }
}

/// One client's sessions in start order, split into guard periods.
struct Client<'a> {
    periods: Vec<Vec<&'a Session>>,
}

impl Client<'_> {
    fn sizes(&self, first: usize) -> Vec<usize> {
        let mut left = first;
        self.periods
            .iter()
            .map(|p| {
                let n = p.len().min(left);
                left -= n;
                n
            })
            .filter(|&n| n > 0)
            .collect()
    }

    fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.periods.iter().flatten().copied()
    }
}

/// Splits each client's sessions into guard periods, read off its entries:
/// a period's guard set fills with the first `guards` distinct entries,
/// and an entry outside a full set starts the next period (a rotation
/// redraws every guard; a guard replaced mid-period also starts one).
/// Without guards a client has one period.
fn clients<'a>(ss: &[&'a Session], guards: u32) -> Vec<Client<'a>> {
    let mut by: BTreeMap<(u32, u32), Vec<&Session>> = BTreeMap::new();
    for s in ss {
        by.entry((s.replicate, s.client)).or_default().push(s);
    }
    by.into_values()
        .map(|mut v| {
            v.sort_by_key(|s| s.started_ns);
            let mut periods: Vec<Vec<&Session>> = Vec::new();
            let mut set: BTreeSet<u32> = BTreeSet::new();
            for s in v {
                let fresh = !set.contains(&s.entry) && set.len() >= guards as usize;
                match periods.last_mut() {
                    Some(p) if guards == 0 || !fresh => p.push(s),
                    _ => {
                        set.clear();
                        periods.push(vec![s]);
                    }
                }
                set.insert(s.entry);
            }
            Client { periods }
        })
        .collect()
}

/// One point's measurements.
struct Measured {
    label: String,
    policy: Policy,
    /// Clients linked at least once, against the mean closed form.
    linked: (Proportion, f64),
    /// Guard sets with an adversarial guard, over periods of at least
    /// [`MIN_PERIOD_SESSIONS`] that used all G guards, and how many such
    /// periods used fewer (left out).
    any_guard: Option<(Proportion, usize)>,
    /// Per n of [`NS`]: (n, measured, closed form) over clients with ≥ n
    /// sessions.
    curve: Vec<(usize, Proportion, f64)>,
    periods_per_client: f64,
}

fn measure(label: String, policy: Policy, cs: &[Client<'_>]) -> Measured {
    let linked_once = |c: &Client<'_>, n: usize| c.sessions().take(n).any(|s| s.linked);
    let expected = |c: &Client<'_>, n: usize| 1.0 - policy.p_none(&c.sizes(n));
    let over = |n: usize| -> (Proportion, f64) {
        let with: Vec<&Client<'_>> = cs.iter().filter(|c| c.sessions().count() >= n).collect();
        let k = with.iter().filter(|c| linked_once(c, n)).count() as u64;
        let e = with.iter().map(|c| expected(c, n)).sum::<f64>() / with.len().max(1) as f64;
        (wilson(k, with.len() as u64, LEVEL), e)
    };
    let k = cs.iter().filter(|c| linked_once(c, usize::MAX)).count() as u64;
    let e = cs.iter().map(|c| expected(c, usize::MAX)).sum::<f64>() / cs.len().max(1) as f64;
    let periods: Vec<&Vec<&Session>> = cs.iter().flat_map(|c| &c.periods).collect();
    let any_guard = (policy.guards > 0).then(|| {
        let (mut any, mut seen, mut partial) = (0u64, 0u64, 0usize);
        for p in periods.iter().filter(|p| p.len() >= MIN_PERIOD_SESSIONS) {
            let entries: BTreeSet<u32> = p.iter().map(|s| s.entry).collect();
            if entries.len() < policy.guards as usize {
                partial += 1;
                continue;
            }
            seen += 1;
            any += u64::from(p.iter().any(|s| s.entry_adversarial));
        }
        (wilson(any, seen, LEVEL), partial)
    });
    Measured {
        label,
        policy,
        linked: (wilson(k, cs.len() as u64, LEVEL), e),
        any_guard,
        curve: NS
            .iter()
            .map(|&n| {
                let (p, e) = over(n);
                (n, p, e)
            })
            .filter(|(_, p, _)| p.n > 0)
            .collect(),
        periods_per_client: periods.len() as f64 / cs.len().max(1) as f64,
    }
}

fn points(d: &ScenarioData) -> Vec<Measured> {
    let Some(l) = loaded(d) else {
        return Vec::new();
    };
    d.points
        .iter()
        .filter_map(|p| {
            let s = &l.points.iter().find(|x| x.index == p.point)?.scenario;
            let gp = &s.protocol.guards;
            let relays = s.population.relays;
            let policy = Policy {
                guards: if gp.enabled { gp.count } else { 0 },
                relays,
                adversarial: (p.m * f64::from(relays)).round() as u32,
                m: p.m,
                g: p.g,
            };
            let label = match policy.guards {
                0 => "no guards".to_owned(),
                g => format!(
                    "{g} guard(s), rotated every {:.0} s",
                    gp.rotation_days * 86_400.0
                ),
            };
            let ss: Vec<&Session> = d.sessions.iter().filter(|s| s.point == p.point).collect();
            Some(measure(label, policy, &clients(&ss, policy.guards)))
        })
        .collect()
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST),
        (Kind::Sanity, SANITY),
        (Kind::Finding, FINDING),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let ms = points(d);
    let linked: Vec<(Proportion, f64)> = ms.iter().map(|m| m.linked).collect();
    let guards: Vec<(Proportion, f64)> = ms
        .iter()
        .filter_map(|m| m.any_guard.map(|(p, _)| (p, m.policy.p_any())))
        .collect();
    let rows = vec![
        chi_square_test(
            TEST,
            Value::text("per policy, the mean over clients"),
            &linked,
        ),
        chi_square_sanity(SANITY, Value::text("per guard count"), &guards),
        Row::finding(
            FINDING,
            Value::text(finding_text(&ms)),
            "Clients with at least n sessions whose first n hold a linked session (95% \
             Wilson), beside the closed form of the test over the same sessions. Without \
             guards the curve is 1 − (1 − m·g)^n, close to n·m·g while small; with guards a \
             share of clients is exposed from the first session and the rest only after a \
             rotation.",
        ),
    ];
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows,
        notes: notes(&ms),
        tables: vec![table(&ms)],
        figures: vec![figure(&ms)],
        source: source(d),
    }
}

fn finding_text(ms: &[Measured]) -> String {
    ms.iter()
        .map(|m| {
            let at = |n: usize| {
                m.curve
                    .iter()
                    .find(|(k, _, _)| *k == n)
                    .map_or("-".to_owned(), |(_, p, _)| {
                        format!("{:.1}%", 100.0 * p.estimate)
                    })
            };
            format!(
                "{}: n = 1 {}, n = 10 {}, n = 50 {}",
                m.label,
                at(1),
                at(10),
                at(50)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn notes(ms: &[Measured]) -> Vec<String> {
    let f = 0.1_f64;
    let mut out = vec![format!(
        "Tor's figures (shared/reference) draw guards with replacement: at f = 0.1, \
         1 − (1 − f)^G is {:.2} with one guard and {:.3} with three per guard set. Here \
         guards are drawn without replacement from R relays, 1 − C(R−A, G)/C(R, G).",
        1.0 - (1.0 - f),
        1.0 - (1.0 - f).powi(3)
    )];
    for m in ms {
        if let Some((_, partial)) = m.any_guard {
            out.push(format!(
                "{}: {:.1} guard periods per client (a guard replaced mid-period starts one \
                 too, and the closed form then redraws the whole set); {partial} period(s) \
                 that used fewer than G guards left out of the sanity check; R = {}, \
                 A = {}.",
                m.label, m.periods_per_client, m.policy.relays, m.policy.adversarial
            ));
        }
    }
    out
}

fn table(ms: &[Measured]) -> Table {
    let mut t = Table::new(
        "Per policy: guard periods per client, guard sets with an adversarial guard against \
         1 − C(R−A, G)/C(R, G), and clients linked at least once against the closed form \
         (95% Wilson).",
        &[
            "policy",
            "periods / client",
            "sets with an adversarial guard",
            "1 − C(R−A, G)/C(R, G)",
            "clients linked ≥ once",
            "closed form",
        ],
    );
    for m in ms {
        let (set, p_any) = match m.any_guard {
            Some((p, _)) => (Value::Proportion(p), Value::num(m.policy.p_any(), 3, "")),
            None => (Value::text("-"), Value::text("-")),
        };
        t.rows.push(vec![
            Value::text(m.label.clone()),
            Value::num(m.periods_per_client, 1, ""),
            set,
            p_any,
            Value::Proportion(m.linked.0),
            Value::num(m.linked.1, 3, ""),
        ]);
    }
    t
}

fn figure(ms: &[Measured]) -> Figure {
    let mut series = Vec::new();
    for m in ms {
        series.push(Series {
            label: m.label.clone(),
            style: Style::Points,
            points: m
                .curve
                .iter()
                .map(|(n, p, _)| Point::with_ci(*n as f64, p.estimate, p.lo, p.hi))
                .collect(),
        });
        series.push(Series {
            label: format!("{}, closed form", m.label),
            style: Style::Line,
            points: m
                .curve
                .iter()
                .map(|(n, _, e)| Point::at(*n as f64, *e))
                .collect(),
        });
    }
    Figure {
        name: "guard_rotation".into(),
        title: "P(at least one of a client's first n sessions linked)".into(),
        caption: "Clients whose first n sessions hold a linked session (95% Wilson), per \
                  route policy, against the closed form over the same sessions (lines): \
                  1 − (1 − m·g)^n without guards, 1 − Π_k E_j[(1 − j/G·g)^n_k] over the \
                  client's guard periods with them."
            .into(),
        x_label: "n, the client's first sessions".into(),
        y_label: "P(at least one linked)".into(),
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(guards: u32) -> Policy {
        Policy {
            guards,
            relays: 80,
            adversarial: 8,
            m: 0.1,
            g: 0.25,
        }
    }

    #[test]
    fn the_closed_forms_reduce_to_their_known_values() {
        // One guard: P(adversarial) = A/R = m.
        assert!((policy(1).p_any() - 0.1).abs() < 1e-12);
        // Three without replacement: 1 − (72·71·70)/(80·79·78).
        let three = 1.0 - (72.0 * 71.0 * 70.0) / (80.0 * 79.0 * 78.0);
        assert!((policy(3).p_any() - three).abs() < 1e-12);
        assert!((policy(3).p_j().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((policy(3).p_any() - (1.0 - policy(3).p_j()[0])).abs() < 1e-12);
        // No guards: 1 − (1 − m·g)^n.
        assert!((1.0 - policy(0).p_none(&[4, 6]) - (1.0 - 0.975f64.powi(10))).abs() < 1e-12);
        // One guard, one session: m·g; one period of many sessions: → m.
        assert!((1.0 - policy(1).p_none(&[1]) - 0.025).abs() < 1e-12);
        assert!((1.0 - policy(1).p_none(&[400]) - 0.1).abs() < 1e-6);
        // Two periods: two independent draws.
        assert!((1.0 - policy(1).p_none(&[400, 400]) - 0.19).abs() < 1e-6);
    }

    fn s(client: u32, at_s: u64, entry: u32, linked: bool) -> Session {
        Session {
            point: 0,
            replicate: 0,
            client,
            ends: linked,
            linked,
            guessed: linked,
            guess_correct: linked,
            started_ns: at_s * 1_000_000_000,
            first_token_ns: None,
            completed_ns: None,
            ok: true,
            exit_adversarial: linked,
            entry,
            entry_adversarial: entry < 8,
            mint_candidates: None,
            mint_entropy_bits: None,
            mint_linked: None,
            observer_linked: None,
            linked_any: linked,
            ..Session::default()
        }
    }

    #[test]
    fn periods_are_read_off_the_entries() {
        // One guard: every new entry is a new period.
        let ss = [
            s(1, 0, 20, false),
            s(1, 5, 20, false),
            s(1, 9, 3, true),
            s(1, 13, 30, false),
        ];
        let refs: Vec<&Session> = ss.iter().collect();
        let cs = clients(&refs, 1);
        let sizes: Vec<usize> = cs[0].periods.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 1, 1]);
        assert_eq!(cs[0].sizes(3), vec![2, 1]);
        let m = measure("x".into(), policy(1), &cs);
        assert_eq!(m.linked.0.k, 1);
        // Linked in its third session, not in its first two.
        assert_eq!((m.curve[0].0, m.curve[1].1.k), (1, 0));
        // Two guards: the set fills before an outside entry starts a period.
        let cs = clients(&refs, 2);
        let sizes: Vec<usize> = cs[0].periods.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 1]);
        // No guards: one period.
        assert_eq!(clients(&refs, 0)[0].periods.len(), 1);
    }
}
