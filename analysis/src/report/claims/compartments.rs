//! Context-window compartmentalization (whitepaper "Threat Model",
//! subsection "Context-Window Compartmentalization": "A compromised Ghost
//! can observe one session's context window" and "Cross-session history
//! requires additional compromise and correlation"). The adversary's exits
//! harvest every prompt they serve (`adversary.harvest_prompts`); each
//! harvest is scored, by ground truth, against its client's whole history
//! (the tokens of all its sessions' context windows) under the rotation
//! policies the scenario lists. Tested: no harvested flow holds more than
//! its own session's context. Measured: the share of a client's history
//! one session, one Ghost and the whole coalition hold, against the
//! account-bound provider's 100%.

use std::collections::BTreeMap;

use super::super::common::{loaded, mean_ci, param, param_f64, source};
use super::super::data::{Run, ScenarioData};
use super::super::{Citation, Kind, Row, Section, Source, Table, Value};
use crate::estimate::{Mean, Proportion, wilson};
use crate::figure::{Figure, Point, Series, Style};
use peer2prompt_sim::exposure::ExposureRecord;
use peer2prompt_sim::scenario::ProtocolSpec;

const ID: &str = "context-window";
const TITLE: &str = "Context-window compartmentalization";
const SCENARIO: &str = "context_window";
const TEST_ONE: &str = "A harvesting Ghost holds at most one session's context window per \
                        session it serves";
const FIND_SESSION: &str = "Share of a client's history that one harvested session holds";
const FIND_GHOST: &str = "Share of a client's history that one harvesting Ghost holds, if it \
                          joins its own sessions";
const FIND_ALL: &str = "Share of a client's history that all harvesting Ghosts hold, if they \
                        join every session";
const SANITY: &str = "Harvesting exits keep a prompt of every turn they answer; honest exits \
                      keep none";
const ROTATE: &str = "protocol.rotate_after_turns";
const WINDOW: &str = "protocol.context_window_tokens";
const G: &str = "adversary.exit_fraction_g";
const LEVEL: f64 = 0.95;

fn citations() -> Vec<Citation> {
    vec![
        Citation {
            source: Source::Whitepaper,
            section: "Context-Window Compartmentalization",
            paragraph: None,
            quote: "A compromised Ghost can observe one session's context window.",
        },
        Citation {
            source: Source::Whitepaper,
            section: "Context-Window Compartmentalization",
            paragraph: None,
            quote: "Cross-session history requires additional compromise and correlation.",
        },
    ]
}

/// One rotation policy's measurements.
struct Policy {
    label: String,
    g: f64,
    /// Sessions at harvesting exits that broke compartmentalization, of
    /// those sessions.
    breaches: Proportion,
    /// Harvest bookkeeping: sessions whose harvest disagrees with their
    /// exit (fewer prompts than turns at a harvester, any at an honest one).
    harvest_off: Proportion,
    /// Per client: its largest harvested session over its history.
    one_session: Mean,
    /// Per client: the most one harvesting Ghost holds over its history.
    one_ghost: Mean,
    /// Per client: all harvests over its history.
    coalition: Mean,
    /// Clients with at least one harvested session.
    exposed: Proportion,
    /// Mean context window per session, tokens (what the model kept).
    context: Mean,
    /// Mean turns per session.
    turns: f64,
}

/// A session at a harvesting exit breaks compartmentalization when its
/// flow carried another session's requests, or when the exit holds more
/// than the session's own context (checked for sessions whose turns all
/// completed: a failed last turn's prompt is larger than the context).
fn breached(r: &ExposureRecord) -> bool {
    r.foreign_requests > 0 || (r.complete && r.harvested_tokens > r.context_tokens)
}

fn harvest_off(r: &ExposureRecord) -> bool {
    if r.exit_adversarial {
        r.harvested_prompts < r.turns
    } else {
        r.harvested_prompts > 0
    }
}

/// (one session, one Ghost, all Ghosts) shares of each client's history.
fn client_shares(rows: &[(u32, &ExposureRecord)]) -> Vec<(f64, f64, f64)> {
    #[derive(Default)]
    struct Client {
        history: u64,
        largest: u64,
        by_ghost: BTreeMap<u32, u64>,
    }
    let mut clients: BTreeMap<(u32, u32), Client> = BTreeMap::new();
    for &(rep, r) in rows {
        let c = clients.entry((rep, r.client)).or_default();
        c.history += r.context_tokens;
        if r.harvested_tokens > 0 {
            c.largest = c.largest.max(r.harvested_tokens);
            *c.by_ghost.entry(r.exit).or_default() += r.harvested_tokens;
        }
    }
    clients
        .into_values()
        .filter(|c| c.history > 0)
        .map(|c| {
            let h = c.history as f64;
            let ghost = c.by_ghost.values().copied().max().unwrap_or(0);
            let all: u64 = c.by_ghost.values().sum();
            (
                (c.largest as f64 / h).min(1.0),
                (ghost as f64 / h).min(1.0),
                (all as f64 / h).min(1.0),
            )
        })
        .collect()
}

fn label(rotate: Option<u64>, window: u64, default_window: u64) -> String {
    match rotate {
        Some(1) => "every turn".into(),
        Some(n) => format!("after {n} turns"),
        None if window < default_window => format!("full window ({window} tokens)"),
        None => "per conversation".into(),
    }
}

fn policies(d: &ScenarioData) -> Vec<Policy> {
    let base = loaded(d).map(|l| l.base);
    let default_window = ProtocolSpec::default().context_window_tokens;
    let window0 = base
        .as_ref()
        .map_or(default_window, |b| b.protocol.context_window_tokens);
    let rotate0 = base.as_ref().and_then(|b| b.protocol.rotate_after_turns);
    let g0 = base
        .as_ref()
        .map_or(0.0, |b| b.adversary.exit_fraction_g.get());
    d.points
        .iter()
        .map(|p| {
            let rotate = match param(p, ROTATE) {
                Some(v) => v.as_u64(),
                None => rotate0.map(u64::from),
            };
            let window = param_f64(p, WINDOW).map_or(window0, |w| w as u64);
            let rows: Vec<(u32, &ExposureRecord)> = d
                .exposure
                .iter()
                .filter(|((pt, _), r)| *pt == p.point && r.turns > 0)
                .map(|((_, rep), r)| (*rep, r))
                .collect();
            let mut m = measure(&rows);
            m.label = label(rotate, window, default_window);
            m.g = param_f64(p, G).unwrap_or(g0);
            m
        })
        .collect()
}

fn measure(rows: &[(u32, &ExposureRecord)]) -> Policy {
    let harvested: Vec<&ExposureRecord> = rows
        .iter()
        .map(|(_, r)| *r)
        .filter(|r| r.exit_adversarial)
        .collect();
    let share = |xs: &[&ExposureRecord], f: fn(&ExposureRecord) -> bool| {
        wilson(
            xs.iter().filter(|r| f(r)).count() as u64,
            xs.len() as u64,
            LEVEL,
        )
    };
    let all: Vec<&ExposureRecord> = rows.iter().map(|(_, r)| *r).collect();
    let shares = client_shares(rows);
    let col = |f: fn(&(f64, f64, f64)) -> f64| shares.iter().map(f).collect::<Vec<f64>>();
    let contexts: Vec<f64> = all.iter().map(|r| r.context_tokens as f64).collect();
    Policy {
        label: String::new(),
        g: 0.0,
        breaches: share(&harvested, breached),
        harvest_off: share(&all, harvest_off),
        one_session: mean_ci(&col(|s| s.0), 1601),
        one_ghost: mean_ci(&col(|s| s.1), 1602),
        coalition: mean_ci(&col(|s| s.2), 1603),
        exposed: wilson(
            shares.iter().filter(|s| s.0 > 0.0).count() as u64,
            shares.len() as u64,
            LEVEL,
        ),
        context: mean_ci(&contexts, 1604),
        turns: all.iter().map(|r| f64::from(r.turns)).sum::<f64>() / all.len().max(1) as f64,
    }
}

/// The section.
pub fn section(run: &Run) -> Section {
    let planned = [
        (Kind::Test, TEST_ONE),
        (Kind::Finding, FIND_SESSION),
        (Kind::Finding, FIND_GHOST),
        (Kind::Finding, FIND_ALL),
        (Kind::Sanity, SANITY),
    ];
    let Some(d) = run.scenario(SCENARIO) else {
        return super::super::common::missing(ID, TITLE, citations(), SCENARIO, &planned);
    };
    let ps = policies(d);
    Section {
        id: ID,
        title: TITLE,
        citations: citations(),
        rows: rows(&ps),
        notes: vec![
            "The adversary's exits (share g) keep every prompt they serve, with the onion \
             session it came on. A client's history is the sum of its sessions' context \
             windows (prompt and reply tokens after each session's last answered turn). \
             Harvests are joined to clients by ground truth, for scoring only: the shares \
             are what an adversary holding those harvests could read if it knew whose they \
             are."
                .into(),
            "The protocol starts every session with an empty context: a rotation mid-\
             conversation hands the next Ghost none of the earlier turns, so the model \
             loses them too. The context column is that cost. An account-bound provider \
             (the direct API) holds 100% of every client's history by its account; it is \
             drawn as the reference line, not measured here."
                .into(),
        ],
        tables: vec![table(&ps)],
        figures: vec![figure(&ps)],
        source: source(d),
    }
}

fn pooled(ps: &[Policy], f: fn(&Policy) -> Proportion) -> Proportion {
    let (k, n) = ps
        .iter()
        .map(f)
        .fold((0, 0), |(k, n), p| (k + p.k, n + p.n));
    wilson(k, n, LEVEL)
}

fn per_policy(ps: &[Policy], f: fn(&Policy) -> Mean) -> String {
    ps.iter()
        .map(|p| {
            let m = f(p);
            format!("{}: {:.1}%", p.label, 100.0 * m.estimate)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn rows(ps: &[Policy]) -> Vec<Row> {
    let breaches = pooled(ps, |p| p.breaches);
    let test = if breaches.n == 0 {
        Row::not_measured(Kind::Test, TEST_ONE, "no session reached a harvesting exit")
    } else {
        Row::test(
            TEST_ONE,
            Value::text("no harvested session holds more than its own context"),
            Value::Proportion(breaches),
            "A bound: one session at a harvesting exit whose flow carried another session's \
             request, or whose harvest exceeds its own final context, refutes it. Share of \
             such sessions over every policy (95% Wilson).",
            breaches.k == 0,
        )
    };
    let off = pooled(ps, |p| p.harvest_off);
    vec![
        test,
        Row::finding(
            FIND_SESSION,
            Value::text(per_policy(ps, |p| p.one_session)),
            "Mean over clients of the largest harvested session's context over the client's \
             history (95% bootstrap in the table): what one Ghost can attribute to one \
             pseudonymous conversation without any correlation.",
        ),
        Row::finding(
            FIND_GHOST,
            Value::text(per_policy(ps, |p| p.one_ghost)),
            "The same for the most any single harvesting Ghost holds of a client over all its \
             sessions: an upper bound on what that Ghost gains by joining its own sessions \
             (by stylometry or content), which needs correlation the protocol does not give.",
        ),
        Row::finding(
            FIND_ALL,
            Value::text(per_policy(ps, |p| p.coalition)),
            "Every harvest of the coalition over the client's history, were every session \
             joined: near g when exits are chosen uniformly. The account-bound provider's \
             share is 100%.",
        ),
        Row::sanity(
            SANITY,
            Value::text("every answered turn at a harvester kept; none elsewhere"),
            Value::Proportion(off),
            "Sessions whose harvest disagrees with their exit: fewer prompts than answered \
             turns at a harvesting exit, or any prompt at an honest one.",
            off.k == 0,
        ),
    ]
}

fn table(ps: &[Policy]) -> Table {
    let mut t = Table::new(
        "Per rotation policy: turns and context per session (what the model keeps), the \
         share of clients with a harvested session, and the mean share of a client's history \
         held by one harvested session, by one harvesting Ghost and by all of them (95% \
         bootstrap), against g.",
        &[
            "rotation",
            "turns / session",
            "context / session",
            "clients exposed",
            "one session",
            "one Ghost",
            "all Ghosts",
            "g",
        ],
    );
    let pct = |m: Mean| {
        Value::interval(
            Mean {
                estimate: 100.0 * m.estimate,
                lo: 100.0 * m.lo,
                hi: 100.0 * m.hi,
                ..m
            },
            1,
            "%",
        )
    };
    for p in ps {
        t.rows.push(vec![
            Value::text(p.label.clone()),
            Value::num(p.turns, 2, ""),
            Value::interval(p.context, 0, " tok"),
            Value::Proportion(p.exposed),
            pct(p.one_session),
            pct(p.one_ghost),
            pct(p.coalition),
            Value::num(p.g, 2, ""),
        ]);
    }
    t
}

fn figure(ps: &[Policy]) -> Figure {
    // Only the lowest series names its policies, so labels do not overlap.
    let series = |label: &str, f: fn(&Policy) -> Mean, named: bool| Series {
        label: label.into(),
        style: Style::Points,
        points: ps
            .iter()
            .filter(|p| f(p).n > 1)
            .map(|p| {
                let m = f(p);
                let pt = Point::with_ci(p.context.estimate, m.estimate, m.lo, m.hi);
                if named { pt.noted(p.label.clone()) } else { pt }
            })
            .collect(),
    };
    let xs: Vec<f64> = ps.iter().map(|p| p.context.estimate).collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::MAX, 0.0_f64), |(a, b), &x| (a.min(x), b.max(x)));
    let line = |label: &str, y: f64| Series {
        label: label.into(),
        style: Style::Dashed,
        points: if lo <= hi {
            vec![Point::at(lo, y), Point::at(hi, y)]
        } else {
            vec![]
        },
    };
    let g = ps.first().map_or(0.0, |p| p.g);
    Figure {
        name: "context_window".into(),
        title: "Share of a client's history a harvesting adversary holds, by rotation policy"
            .into(),
        caption: "Mean share of each client's history (all its sessions' context windows) held \
                  by one harvested session, by the one harvesting Ghost that holds most, and \
                  by every harvesting Ghost together (95% bootstrap), against the context a \
                  session keeps under each rotation policy (points are labelled); dashed: g, \
                  and the account-bound provider's 100%."
            .into(),
        x_label: "context per session (tokens)".into(),
        y_label: "share of the client's history".into(),
        series: vec![
            series("one session", |p| p.one_session, true),
            series("one Ghost, its sessions joined", |p| p.one_ghost, false),
            series("all harvesting Ghosts, joined", |p| p.coalition, false),
            line("g", g),
            line("account-bound provider", 1.0),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    fn session(client: u32, exit: u32, adv: bool, context: u64, harvested: u64) -> ExposureRecord {
        ExposureRecord {
            client,
            exit,
            exit_adversarial: adv,
            turns: 2,
            complete: true,
            context_tokens: context,
            harvested_prompts: if adv { 2 } else { 0 },
            harvested_tokens: harvested,
            ..ExposureRecord::default()
        }
    }

    #[test]
    fn shares_split_a_clients_history_by_session_ghost_and_coalition() {
        let a = session(1, 10, true, 300, 250);
        let b = session(1, 10, true, 100, 90);
        let c = session(1, 11, true, 200, 150);
        let d = session(1, 12, false, 400, 0);
        let s = client_shares(&[(0, &a), (0, &b), (0, &c), (0, &d)]);
        assert_eq!(s.len(), 1);
        let (one, ghost, all) = s[0];
        assert!((one - 0.25).abs() < 1e-12, "{one}");
        assert!((ghost - 0.34).abs() < 1e-12, "{ghost}");
        assert!((all - 0.49).abs() < 1e-12, "{all}");
    }

    #[test]
    fn a_harvest_beyond_its_own_session_refutes_the_bound() {
        let ok = session(1, 10, true, 300, 250);
        let mut leaked = session(2, 10, true, 300, 420);
        let p = measure(&[(0, &ok)]);
        assert!(rows(&[p])[0].outcome == Outcome::Consistent);
        let p = measure(&[(0, &ok), (0, &leaked)]);
        assert!(rows(&[p])[0].outcome == Outcome::Inconsistent);
        // A failed last turn's prompt may exceed the context: not a breach,
        // unless the flow carried another session's request.
        leaked.complete = false;
        assert!(!breached(&leaked));
        leaked.foreign_requests = 1;
        assert!(breached(&leaked));
    }

    #[test]
    fn the_sanity_check_catches_a_harvest_at_an_honest_exit() {
        let mut honest = session(1, 12, false, 400, 0);
        let p = measure(&[(0, &honest)]);
        assert!(rows(&[p])[4].outcome == Outcome::Holds);
        honest.harvested_prompts = 1;
        let p = measure(&[(0, &honest)]);
        assert!(rows(&[p])[4].outcome == Outcome::Broken);
    }
}
