//! Scoring one replicate: the attackers decide from their pooled
//! observations (`crate::adversary`), and only here are their decisions
//! joined to ground truth (`crate::truth`, the session book) to give one
//! record per session.

use std::collections::{HashMap, HashSet};

use peer2prompt::ecash::{Amount, MintObservation, PayerId};

use crate::adversary::matcher::{self, Guess, MatcherParams};
use crate::adversary::mint_exit::{Attribution, GhostReceipt, MintExitAttacker, Params};
use crate::adversary::observer::FlowSummary;
use crate::adversary::pool::FlowKey;
use crate::adversary::profile::{self, Claim, Ident, Unit};
use crate::observer_scoring::{self, ObserverOutcome};
use crate::profiles::ProfileRecord;
use crate::record::{CorrelationRecord, SessionRecord};
use crate::rng::{Purpose, Streams, entity};
use crate::scenario::{GuessKind, System};
use crate::sessions::SessionRow;
use crate::vantage::VantageRecord;
use crate::world::World;

/// The entry–exit matcher's guess for one session, scored.
#[derive(Clone, Copy, Debug)]
struct LinkGuess {
    /// The client host it named.
    client: u32,
    /// The entry flow it matched is the session's own (its entry relay,
    /// active while the session was open).
    own_flow: bool,
    /// The matcher's score.
    score: f64,
}

/// What every attacker decided, scored per session row.
pub struct Scored {
    /// One record per session.
    pub sessions: Vec<SessionRecord>,
    /// The observers' compared pairs, labelled.
    pub correlation: Vec<CorrelationRecord>,
    /// Client-side and service-side flows observed, and true pairs among them.
    pub observer_flows: (u64, u64, u64),
    /// What the vantage saw of each measured session (`vantage_records`).
    pub vantage: Option<Vec<VantageRecord>>,
    /// Where the profile attacker put each measured session
    /// (`adversary.profiles`).
    pub profiles: Option<Vec<ProfileRecord>>,
}

/// The entry–exit matcher's guesses, in the scenario's guessing rule.
fn guesses(w: &World, seed: u64) -> Vec<(FlowKey, Guess)> {
    let m = &w.scenario.adversary.matcher;
    let params = MatcherParams::from(m);
    match m.guess {
        GuessKind::Timing => matcher::match_all(&w.pool, params),
        GuessKind::Random => {
            let mut rng = Streams::new(seed).stream(entity::WORLD, Purpose::Guessing);
            matcher::guess_randomly(&w.pool, params, &mut rng)
        }
    }
}

/// Each guessed exit flow's session row and what the guess named.
fn link_guesses(w: &World, guessed: &[(FlowKey, Guess)]) -> HashMap<usize, LinkGuess> {
    let mut out = HashMap::new();
    for &(xk, g) in guessed {
        // Ground truth, from the engine's table: which session it was.
        let Some(row) = w.truth.row_of(xk) else {
            continue;
        };
        let entry = &w.pool.entries[&g.entry];
        let Some(client) = entry.client.and_then(|a| w.index_of(&a)) else {
            continue;
        };
        let r = &w.sessions.rows[row];
        let first = entry.times.first().copied().unwrap_or(0);
        let end = r.closed.map_or(u64::MAX, |t| t.as_nanos());
        let own_flow = g.entry.0 == r.entry && first >= r.started.as_nanos() && first <= end;
        out.insert(
            row,
            LinkGuess {
                client,
                own_flow,
                score: g.score,
            },
        );
    }
    out
}

/// Mint-exit collusion: the attacker attributes each session's first
/// payment at a colluding exit from the pooled mint logs. Denominations
/// come from the mint's own log (the Ghost's redemption shows each `Y`'s
/// amount); a payment none of whose proofs reached a colluding mint is not
/// attributed.
fn mint_exit_attributions(
    w: &World,
    by_flow: &[(FlowKey, Attribution)],
) -> HashMap<usize, Attribution> {
    let mut out = HashMap::new();
    for (flow, a) in by_flow {
        if let Some(row) = w.truth.row_of(*flow) {
            out.entry(row).or_insert_with(|| a.clone());
        }
    }
    out
}

/// The mint-exit attacker's attribution of each exit flow's first payment,
/// from the adversary's pool alone.
fn mint_exit_by_flow(w: &World) -> Vec<(FlowKey, Attribution)> {
    let Some(spec) = &w.scenario.adversary.mint_exit else {
        return Vec::new();
    };
    let evidence = &w.pool.mint;
    let mut amount_of: HashMap<[u8; 33], Amount> = HashMap::new();
    for o in &evidence.mint_log {
        if let MintObservation::Swap { inputs, .. } | MintObservation::Melt { inputs, .. } = o {
            for p in inputs {
                amount_of.insert(p.y.serialize(), p.amount);
            }
        }
    }
    let attacker = MintExitAttacker::new(
        evidence,
        Params {
            window_ns: (spec.window_s * 1e9) as u64,
            depth: spec.depth,
            recency_ns: spec.recency_s.map(|r| (r * 1e9) as u64),
        },
    );
    let mut out = Vec::new();
    for (&flow, receipts) in &w.pool.receipts {
        let Some(first) = receipts.first() else {
            continue;
        };
        let amounts: Vec<Amount> = first
            .ys
            .iter()
            .filter_map(|y| amount_of.get(&y.serialize()).copied())
            .collect();
        if amounts.is_empty() {
            continue;
        }
        let receipt = GhostReceipt {
            at: first.at,
            amounts,
        };
        out.push((flow, attacker.attribute(&receipt)));
    }
    out
}

/// The profile attacker's node and mint claims (`adversary.profiles`): the
/// client address of every entry flow the matcher aligned with an exit
/// flow, and the payer of every mint-exit attribution with at most
/// `mint_max_candidates` candidate payers. Pool only; the observers' claims
/// come from their own decisions.
fn profile_claims(
    w: &World,
    guessed: &[(FlowKey, Guess)],
    mint: &[(FlowKey, Attribution)],
    max_candidates: u32,
) -> Vec<Claim> {
    let mut claims: Vec<Claim> = guessed
        .iter()
        .filter_map(|(flow, g)| {
            let client = w.pool.entries.get(&g.entry)?.client?;
            Some(Claim {
                unit: Unit::Exit(*flow),
                ident: Ident::Address(client),
            })
        })
        .collect();
    for (flow, a) in mint {
        if let Some(payer) = a.guess.filter(|_| a.candidates <= max_candidates as usize) {
            claims.push(Claim {
                unit: Unit::Exit(*flow),
                ident: Ident::Payer(payer),
            });
        }
    }
    claims
}

/// Scores every attacker of `w` (observers from their `flows`, seen from
/// the ASes they watched, `None`: all).
pub fn score(
    w: &World,
    flows: Option<(&[FlowSummary], Option<&HashSet<u32>>)>,
    point: u32,
    replicate: u32,
    seed: u64,
) -> Scored {
    let guessed = guesses(w, seed);
    let links = link_guesses(w, &guessed);
    let mint_by_flow = mint_exit_by_flow(w);
    let mint_exit = mint_exit_attributions(w, &mint_by_flow);
    let observed = match (flows, &w.scenario.adversary.observers) {
        (Some(f), Some(spec)) => Some(observer_scoring::score(w, f, spec, point, replicate)),
        _ => None,
    };
    let profiles = w.scenario.adversary.profiles.as_ref().map(|spec| {
        let mut claims = profile_claims(w, &guessed, &mint_by_flow, spec.mint_max_candidates);
        let named = observed.as_ref().map_or(&[][..], |o| &o.named[..]);
        claims.extend(named.iter().map(|(g, client)| Claim {
            unit: Unit::Observed(*g),
            ident: Ident::Address(*client),
        }));
        let service_flows_of = observed.as_ref().map(|o| &o.service_flows_of[..]);
        crate::profiles::records(w, &profile::build(&claims), service_flows_of)
    });
    let sessions = w
        .sessions
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let verdicts = Verdicts {
                link: links.get(&i).copied(),
                mint: mint_exit.get(&i),
                observer_linked: observed.as_ref().map(|o| o.linked[i]),
            };
            record(w, r, &verdicts, (point, replicate))
        })
        .collect();
    let (correlation, flows, vantage) = match observed {
        Some(ObserverOutcome {
            pairs,
            client_flows,
            service_flows,
            true_pairs,
            vantage,
            ..
        }) => (pairs, (client_flows, service_flows, true_pairs), vantage),
        None => (Vec::new(), (0, 0, 0), None),
    };
    Scored {
        sessions,
        correlation,
        observer_flows: flows,
        vantage,
        profiles,
    }
}

/// Every attacker's decision about one session.
struct Verdicts<'a> {
    link: Option<LinkGuess>,
    mint: Option<&'a Attribution>,
    observer_linked: Option<bool>,
}

fn record(
    w: &World,
    r: &SessionRow,
    v: &Verdicts<'_>,
    (point, replicate): (u32, u32),
) -> SessionRecord {
    let adv = |i: u32| {
        w.hosts()
            .get(i as usize)
            .is_some_and(|h| h.slot.adversarial)
    };
    let correct = v.link.is_some_and(|g| g.client == r.client);
    let operator = operator_verdict(w, r);
    let (entry_adversarial, exit_adversarial) = (adv(r.entry), adv(r.exit));
    let linked = correct && v.link.is_some_and(|g| g.own_flow);
    let mint_linked = (w.scenario.adversary.mint_exit.is_some() && exit_adversarial).then(|| {
        v.mint
            .is_some_and(|a| a.guess == Some(PayerId(u64::from(r.client))))
    });
    SessionRecord {
        point,
        replicate,
        session_id: r.id,
        client: r.client,
        entry: r.entry,
        exit: r.exit,
        exit_kind: r.exit_kind.name().to_owned(),
        hops: r.hops,
        entry_adversarial,
        exit_adversarial,
        ends_compromised: entry_adversarial && exit_adversarial,
        linked,
        link_guess: v.link.map(|g| g.client),
        link_guess_correct: correct,
        link_score: v.link.map(|g| g.score),
        turns: r.turns,
        prompt_tokens: r.prompt_tokens,
        output_tokens: r.output_tokens,
        started_ns: r.started.as_nanos(),
        first_token_ns: r.first_token.map(|t| t.as_nanos()),
        completed_ns: r.completed.map(|t| t.as_nanos()),
        outcome: r.outcome.clone(),
        mint_candidates: v.mint.map(|a| a.candidates as u32),
        // A payment whose fundings name nobody (Lightning hid every payer)
        // has no payer distribution: null, with 0 candidates.
        mint_entropy_bits: v.mint.filter(|a| a.candidates > 0).map(|a| a.entropy_bits),
        mint_linked,
        observer_linked: v.observer_linked,
        linked_any: linked
            || mint_linked == Some(true)
            || v.observer_linked == Some(true)
            || operator.linked == Some(true),
        system: w.scenario.system.name().to_owned(),
        operator_linked: operator.linked,
        operator_candidates: operator.candidates,
    }
}

/// The baseline operator attacker's verdict on one session.
struct OperatorVerdict {
    linked: Option<bool>,
    candidates: Option<u32>,
}

/// What the operator, working for the adversary, decided about `r`
/// (`sim::adversary::operator`); the session's own token and client (ground
/// truth) only pick its log entry and score the guess.
fn operator_verdict(w: &World, r: &SessionRow) -> OperatorVerdict {
    let none = OperatorVerdict {
        linked: None,
        candidates: None,
    };
    let Some(spec) = &w.scenario.adversary.operator else {
        return none;
    };
    let account = w
        .hosts()
        .get(r.client as usize)
        .map(|h| crate::baseline::account(h.slot));
    match w.scenario.system {
        System::LlmTor => {
            let Some(a) = r
                .token
                .and_then(|t| w.operator_log.attribute(&t, spec.purchase_window_s))
            else {
                return none;
            };
            OperatorVerdict {
                linked: Some(a.guess.is_some() && a.guess == account),
                candidates: Some(a.candidates),
            }
        }
        System::Direct => {
            let Some(done) = r.completed else {
                return none;
            };
            let seen = w.operator_log.api_accounts(r.started, done);
            OperatorVerdict {
                linked: Some(account.is_some_and(|a| seen.contains(&a.as_str()))),
                candidates: None,
            }
        }
        System::Peer2prompt => none,
    }
}
