//! One replicate from start to records: build the world, run warm-up,
//! measured period and drain, check conservation, let the adversary match
//! its pooled observations, and score every session against ground truth.

use std::collections::HashMap;

use peer2prompt::ecash::{Amount, MintObservation, PayerId};

use crate::adversary::matcher::{self, MatcherParams};
use crate::adversary::mint_exit::{Attribution, GhostReceipt, MintExitAttacker, Params};
use crate::adversary::observer::FlowSummary;
use crate::observer_scoring;
use crate::population::Kind;
use crate::record::{ReplicateResult, ReplicateStats, SessionRecord};
use crate::rng::{Purpose, Streams, entity};
use crate::scenario::{GuessKind, Point};
use crate::world::{Violation, World};

/// Seconds after the drain in which in-flight payments settle before the
/// conservation check.
const SETTLE_S: u64 = 120;

/// A replicate that could not finish.
#[derive(Debug, thiserror::Error)]
#[error("point {point} replicate {replicate} (seed {seed}): {violation}")]
pub struct RunFailure {
    /// Sweep point.
    pub point: u32,
    /// Replicate.
    pub replicate: u32,
    /// The replicate's master seed.
    pub seed: u64,
    /// What broke.
    pub violation: Violation,
}

/// Observes progress: called with virtual-time fraction done, now and then.
pub trait Progress {
    /// `done` in [0, 1].
    fn advance(&self, done: f64);
}

impl Progress for () {
    fn advance(&self, _: f64) {}
}

/// Runs replicate `replicate` of `point` of a scenario whose master seed is
/// `master`.
pub fn run_replicate(
    point: &Point,
    replicate: u32,
    master: u64,
    progress: &dyn Progress,
) -> Result<ReplicateResult, RunFailure> {
    let seed = Streams::replicate_seed(master, u64::from(point.index), u64::from(replicate));
    let fail = |violation| RunFailure {
        point: point.index,
        replicate,
        seed,
        violation,
    };
    let s = &point.scenario;
    if let Some(m) = &s.market {
        return run_market(m, point.index, replicate, seed, progress);
    }
    let mut w = World::new(s, seed);
    let end = w.arrivals_until + peer2prompt::time::Duration::from_secs_f64(s.workload.drain_s);
    // Run in slices so progress can be reported.
    let slices = 100u64;
    let total = end.as_nanos();
    for k in 1..=slices {
        let t = peer2prompt::time::Instant::from_nanos(total / slices * k);
        w.run_until(t).map_err(fail)?;
        progress.advance(k as f64 / slices as f64);
    }
    // Let payments, settlements and reclaims in flight finish (no new
    // turns start after the drain), then check that value was conserved.
    let settle = end + peer2prompt::time::Duration::from_secs(SETTLE_S);
    w.stop_workload();
    w.run_until(settle).map_err(fail)?;
    w.check_conservation().map_err(fail)?;
    let flows = w.observer.take().map(|o| o.finish());
    Ok(score(&w, flows.as_deref(), point.index, replicate, seed))
}

/// Runs a market scenario's replicate: the market is checked for value
/// conservation (client funding = service balances + mint fees + client
/// balances) before its records are returned.
fn run_market(
    spec: &crate::scenario::market::MarketSpec,
    point: u32,
    replicate: u32,
    seed: u64,
    progress: &dyn Progress,
) -> Result<ReplicateResult, RunFailure> {
    let fail = |what: String| RunFailure {
        point,
        replicate,
        seed,
        violation: Violation { at_ns: 0, what },
    };
    let cfg = spec
        .config(seed)
        .map_err(|(p, m)| fail(format!("{p}: {m}")))?;
    let run = crate::economics::market::run_with_progress(&cfg, &|f| progress.advance(f))
        .map_err(|e| fail(e.to_string()))?;
    if run.service_sat + run.client_sat + run.fees_sat != run.funded_sat {
        return Err(fail(format!(
            "market value not conserved: funded {} sat, services {} + clients {} + fees {}",
            run.funded_sat, run.service_sat, run.client_sat, run.fees_sat
        )));
    }
    progress.advance(1.0);
    Ok(ReplicateResult {
        point,
        replicate,
        seed,
        market: Some(run),
        ..ReplicateResult::default()
    })
}

/// Matches the pool and writes one record per session.
fn score(
    w: &World,
    flows: Option<&[FlowSummary]>,
    point: u32,
    replicate: u32,
    seed: u64,
) -> ReplicateResult {
    let m = &w.scenario.adversary.matcher;
    let params = MatcherParams {
        max_lag_ns: (m.max_lag_ms * 1e6) as u64,
        tolerance_ns: (m.tolerance_ms * 1e6) as u64,
        min_score: m.min_score.get(),
    };
    let guesses = match m.guess {
        GuessKind::Timing => matcher::match_all(&w.pool, params),
        GuessKind::Random => {
            let mut rng = Streams::new(seed).stream(entity::WORLD, Purpose::Guessing);
            matcher::guess_randomly(&w.pool, params, &mut rng)
        }
    };
    let mut verdict: HashMap<usize, (u32, bool, f64, (u32, u32))> = HashMap::new();
    for (xk, g) in guesses {
        // Ground truth, from the engine's table: which session it was.
        let Some(row) = w.truth.row_of(xk) else {
            continue;
        };
        let entry = &w.pool.entries[&g.entry];
        let Some(guess) = entry.client.and_then(|a| w.index_of(&a)) else {
            continue;
        };
        let r = &w.sessions[row];
        let first = entry.times.first().copied().unwrap_or(0);
        let end = r.closed.map(|t| t.as_nanos()).unwrap_or(u64::MAX);
        let own_flow = g.entry.0 == r.entry && first >= r.started.as_nanos() && first <= end;
        verdict.insert(row, (guess, own_flow, g.score, g.entry));
    }
    let mint_exit = mint_exit_attributions(w);
    let observed = match (flows, &w.scenario.adversary.observers) {
        (Some(f), Some(spec)) => Some(observer_scoring::score(w, f, spec, point, replicate)),
        _ => None,
    };
    let adv = |i: u32| w.hosts.get(i as usize).is_some_and(|h| h.slot.adversarial);
    let sessions = w
        .sessions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = verdict.get(&i);
            let correct = v.is_some_and(|v| v.0 == r.client);
            let entry_adversarial = adv(r.entry);
            let exit_adversarial = adv(r.exit);
            let linked = correct && v.is_some_and(|v| v.1);
            let mint = mint_exit.get(&i);
            let mint_linked = (w.scenario.adversary.mint_exit.is_some() && exit_adversarial)
                .then(|| mint.is_some_and(|a| a.guess == Some(PayerId(u64::from(r.client)))));
            let observer_linked = observed.as_ref().map(|o| o.linked[i]);
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
                link_guess: v.map(|v| v.0),
                link_guess_correct: correct,
                link_score: v.map(|v| v.2),
                turns: r.turns,
                prompt_tokens: r.prompt_tokens,
                output_tokens: r.output_tokens,
                started_ns: r.started.as_nanos(),
                first_token_ns: r.first_token.map(|t| t.as_nanos()),
                completed_ns: r.completed.map(|t| t.as_nanos()),
                outcome: r.outcome.clone(),
                mint_candidates: mint.map(|a| a.candidates as u32),
                // A payment whose fundings name nobody (Lightning hid every
                // payer) has no payer distribution: null, with 0 candidates.
                mint_entropy_bits: mint.filter(|a| a.candidates > 0).map(|a| a.entropy_bits),
                mint_linked,
                observer_linked,
                linked_any: linked || mint_linked == Some(true) || observer_linked == Some(true),
            }
        })
        .collect();
    let count =
        |f: &dyn Fn(&crate::world::Host) -> bool| w.hosts.iter().filter(|h| f(h)).count() as u64;
    let adversary = w.hosts.iter().filter(|h| h.slot.adversarial);
    let (keygens, hashes) = adversary.fold((0, 0), |(k, p), h| {
        let c = h.node.identity().cost;
        (k + c.keygens, p + c.pow_hashes)
    });
    // The audited sessions paid at the first mint (the audit scenario has one).
    let mint = w
        .hosts
        .iter()
        .find(|h| h.slot.kind == Kind::Mint)
        .map(|h| h.node.addr());
    let visibility = match mint {
        Some(m) => w.audit.finish(|i| w.hosts[i as usize].node.addr(), m),
        None => Vec::new(),
    };
    let (correlation, flows_c, flows_s, true_pairs) = match observed {
        Some(o) => (o.pairs, o.client_flows, o.service_flows, o.true_pairs),
        None => (Vec::new(), 0, 0, 0),
    };
    ReplicateResult {
        point,
        replicate,
        seed,
        visibility,
        correlation,
        sessions,
        stats: ReplicateStats {
            nodes: w.hosts.len() as u64,
            events: w.queue.popped(),
            datagrams: w.delivered,
            lost: w.lost,
            virtual_ns: w.now().as_nanos(),
            adversarial_relays: count(&|h| h.slot.kind == Kind::Relay && h.slot.adversarial),
            relays: count(&|h| h.slot.kind == Kind::Relay),
            adversarial_exits: count(&|h| {
                matches!(h.slot.kind, Kind::Ghost | Kind::Gpu) && h.slot.adversarial
            }),
            exits: count(&|h| matches!(h.slot.kind, Kind::Ghost | Kind::Gpu)),
            adversary_keygens: keygens,
            adversary_pow_hashes: hashes,
            failed_without_session: w.failed_without_session,
            conversations: w.conversations(),
            invariant_checks: w.checks,
            departures: w.departures,
            bytes_sent: w.bytes_sent,
            observer_client_flows: flows_c,
            observer_service_flows: flows_s,
            observer_true_pairs: true_pairs,
            clients: count(&|h| h.slot.kind == Kind::Client),
            clients_rejecting_a_mint: w.rejected_a_mint.len() as u64,
        },
        market: None,
    }
}

/// Mint-exit collusion: the attacker attributes each session's first
/// payment at a colluding exit from the pooled mint logs. Denominations
/// come from the mint's own log (the Ghost's redemption shows each `Y`'s
/// amount); a payment none of whose proofs reached a colluding mint is not
/// attributed.
fn mint_exit_attributions(w: &World) -> HashMap<usize, Attribution> {
    let Some(spec) = &w.scenario.adversary.mint_exit else {
        return HashMap::new();
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
    let mut out = HashMap::new();
    for (&(exit, handle), receipts) in &w.pool.receipts {
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
        let Some(row) = w.truth.row_of((exit, handle)) else {
            continue;
        };
        out.entry(row).or_insert_with(|| {
            attacker.attribute(&GhostReceipt {
                at: first.at,
                amounts,
            })
        });
    }
    out
}
