//! One replicate from start to records: build the world, run warm-up,
//! measured period and drain, check conservation, let the adversary match
//! its pooled observations, and score every session against ground truth.

use std::collections::HashSet;

use crate::adversary::observer::FlowSummary;
use crate::adversary::selective_dos::DosStats;
use crate::checks::Violation;
use crate::engine::Host;
use crate::population::Kind;
use crate::record::{
    MarketReplicate, NetworkReplicate, ReplicateKey, ReplicateResult, ReplicateStats,
};
use crate::rng::Streams;
use crate::scenario::Point;
use crate::scoring;
use crate::world::World;

/// Seconds after the drain in which in-flight payments settle before the
/// conservation check.
const SETTLE_S: u64 = 120;

/// A replicate that could not finish.
#[derive(Debug, thiserror::Error)]
#[error("point {point} replicate {replicate} (seed {seed}): {violation}")]
pub struct RunFailure {
    /// Sweep point.
    pub point: u32,
    /// Replicate index within its sweep point.
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
    let observer = w.engine.observer.take();
    let watched = observer.as_ref().and_then(|o| o.watched().cloned());
    let flows = observer.map(|o| o.finish());
    Ok(ReplicateResult::Network(records(
        &w,
        flows.as_deref().map(|f| (f, watched.as_ref())),
        point.index,
        replicate,
        seed,
    )))
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
    Ok(ReplicateResult::Market(MarketReplicate {
        key: ReplicateKey {
            point,
            replicate,
            seed,
        },
        run,
    }))
}

/// The services' accounts of the sessions opened in the measured period.
fn ledger_records(l: &crate::ledger::ServiceLedger, w: &World) -> Vec<crate::ledger::LedgerRecord> {
    let rows = &w.sessions.rows;
    let hosts = w.hosts();
    let cheats = w.scenario.faults.double_spenders;
    l.finish(
        |r| w.measured(r),
        |r| {
            let s = &rows[r];
            let cheat = hosts[s.client as usize].slot.nth < cheats;
            (s.id, s.client, s.exit, cheat)
        },
    )
}

/// Scores the attackers and gathers the replicate's records and counts.
fn records(
    w: &World,
    flows: Option<(&[FlowSummary], Option<&HashSet<u32>>)>,
    point: u32,
    replicate: u32,
    seed: u64,
) -> NetworkReplicate {
    let scored = scoring::score(w, flows, point, replicate, seed);
    let hosts = w.hosts();
    let count = |f: &dyn Fn(&Host) -> bool| hosts.iter().filter(|h| f(h)).count() as u64;
    let (keygens, hashes) =
        hosts
            .iter()
            .filter(|h| h.slot.adversarial)
            .fold((0, 0), |(k, p), h| {
                let c = h.node.identity().cost;
                (k + c.keygens, p + c.pow_hashes)
            });
    // The audited sessions paid at the first mint (the audit scenario has one).
    let mint = hosts
        .iter()
        .find(|h| h.slot.kind == Kind::Mint)
        .map(|h| h.node.addr());
    let visibility = match mint {
        Some(m) => w.audit.finish(|i| hosts[i as usize].node.addr(), m),
        None => Vec::new(),
    };
    let (flows_c, flows_s, true_pairs) = scored.observer_flows;
    let traffic = w.engine.traffic;
    NetworkReplicate {
        key: ReplicateKey {
            point,
            replicate,
            seed,
        },
        visibility,
        correlation: scored.correlation,
        sessions: scored.sessions,
        ledger: w.ledger.as_ref().map(|l| ledger_records(l, w)),
        vantage: scored.vantage,
        profiles: scored.profiles,
        turns: w.keeps_turns().then(|| w.turns.clone()),
        views: w
            .scenario
            .adversary
            .sybil
            .as_ref()
            .map(|_| crate::views::records(hosts)),
        exposure: w.scenario.adversary.harvest_prompts.then(|| {
            let rows = &w.sessions.rows;
            crate::exposure::records(hosts, &w.truth, rows, |r| w.measured(r))
        }),
        dos: w.scenario.adversary.selective_dos.as_ref().map(|_| {
            Box::new(match &w.judge {
                Some(j) => j.stats(w.turns_abandoned),
                None => DosStats {
                    turns_abandoned: w.turns_abandoned,
                    ..DosStats::default()
                },
            })
        }),
        stats: ReplicateStats {
            nodes: hosts.len() as u64,
            events: w.events(),
            datagrams: traffic.delivered,
            lost: traffic.lost,
            virtual_ns: w.now().as_nanos(),
            adversarial_relays: count(&|h| h.slot.kind == Kind::Relay && h.slot.adversarial),
            relays: count(&|h| h.slot.kind == Kind::Relay),
            adversarial_exits: count(&|h| h.slot.kind.is_service() && h.slot.adversarial),
            exits: count(&|h| h.slot.kind.is_service()),
            adversary_keygens: keygens,
            adversary_pow_hashes: hashes,
            failed_without_session: w.failed_without_session,
            conversations: w.conversations(),
            invariant_checks: w.invariant_checks(),
            departures: w.departures(),
            bytes_sent: traffic.bytes_sent,
            observer_client_flows: flows_c,
            observer_service_flows: flows_s,
            observer_true_pairs: true_pairs,
            clients: count(&|h| h.slot.kind == Kind::Client),
            clients_rejecting_a_mint: w.rejected_a_mint.len() as u64,
            adversary_relay_weight_share: w.relay_weight_share,
            peer_errors: w
                .engine
                .peer_errors
                .iter()
                .map(|((layer, kind), n)| (format!("{layer}/{kind}"), *n))
                .collect(),
        },
    }
}
