//! Scoring the passive observers' attacker against ground truth (whitepaper
//! "Threat Model", tier 4). The attacker (`adversary::correlation`) sees
//! only flow summaries; this module, which knows every session's route,
//! labels each compared pair and decides `observer_linked` per session.
//!
//! A (client-side flow, service-side flow) pair is true when both carry one
//! session at the same time: the client flow runs between the session's
//! client and entry, the service flow between its last relay and its exit,
//! both are active while the session is open, and they are active within
//! `max_lag` of each other (one turn's flows, not turn 1's client leg
//! against turn 2's service leg, which share no traffic).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::adversary::correlation::{self, CorrelationParams};
use crate::adversary::observer::{FlowSummary, Side};
use crate::record::CorrelationRecord;
use crate::scenario::ObserverSpec;
use crate::vantage::{self, SessionFlows, VantageRecord};
use crate::world::World;

/// The observers' results for one replicate.
#[derive(Debug, Default)]
pub struct ObserverOutcome {
    /// Per session row: linked at the operating point.
    pub linked: Vec<bool>,
    /// Every compared pair with its truth label.
    pub pairs: Vec<CorrelationRecord>,
    /// Client-side flows observed.
    pub client_flows: u64,
    /// Service-side flows observed.
    pub service_flows: u64,
    /// True pairs among all `client_flows × service_flows`, compared or not.
    pub true_pairs: u64,
    /// Per measured session, what the vantage saw of it (with
    /// `vantage_records`).
    pub vantage: Option<Vec<VantageRecord>>,
    /// The attacker's decisions: each service-side flow (index into the
    /// flows) whose best client-side flow scored at least the threshold,
    /// with that flow's client address. No ground truth.
    pub named: Vec<(u32, SocketAddr)>,
    /// Ground truth, for scoring only: each session row's service-side
    /// flows.
    pub service_flows_of: Vec<Vec<u32>>,
}

/// Runs the attacker over `flows`, seen from the ASes `watched` (`None`:
/// all), and scores it.
pub fn score(
    w: &World,
    (flows, watched): (&[FlowSummary], Option<&HashSet<u32>>),
    spec: &ObserverSpec,
    point: u32,
    replicate: u32,
) -> ObserverOutcome {
    let scores = correlation::correlate(
        flows,
        CorrelationParams {
            bin_ns: (spec.bin_ms * 1e6) as u64,
            bins: spec.bins as usize,
            max_lag_bins: (spec.max_lag_ms / spec.bin_ms).ceil() as usize,
        },
    );
    let truth = GroundTruth::of(w, flows, (spec.max_lag_ms * 1e6) as u64);
    let best = correlation::best_per_service(&scores);
    let linked: Vec<bool> = w
        .sessions
        .rows
        .iter()
        .zip(&truth.service_flows_of)
        .map(|(s, gs)| {
            let client = host_addr(w, s.client);
            gs.iter().any(|g| {
                best.get(g).is_some_and(|b| {
                    b.score >= spec.threshold && Some(flows[b.client as usize].near) == client
                })
            })
        })
        .collect();
    let pairs = scores
        .iter()
        .map(|p| CorrelationRecord {
            point,
            replicate,
            client_flow: p.client,
            service_flow: p.service,
            client_flow_start_ns: flows[p.client as usize].start_ns,
            service_flow_start_ns: flows[p.service as usize].start_ns,
            score: p.score,
            truth: truth.pairs.contains(&(p.client, p.service)),
        })
        .collect();
    let count = |side| flows.iter().filter(|f| f.side == side).count() as u64;
    let vantage = spec.vantage_records.then(|| {
        let seen = SessionFlows {
            flows,
            client_flows_of: &truth.client_flows_of,
            service_flows_of: &truth.service_flows_of,
            bin_ns: (spec.bin_ms * 1e6) as u64,
        };
        let rows = &w.sessions.rows;
        let at = (watched, linked.as_slice(), w.now().as_nanos());
        vantage::records(w.hosts(), rows, &seen, at, |r| w.measured(r))
    });
    let mut named: Vec<(u32, SocketAddr)> = best
        .iter()
        .filter(|(_, b)| b.score >= spec.threshold)
        .map(|(g, b)| (*g, flows[b.client as usize].near))
        .collect();
    named.sort_unstable();
    ObserverOutcome {
        vantage,
        named,
        service_flows_of: truth.service_flows_of,
        linked,
        pairs,
        client_flows: count(Side::Client),
        service_flows: count(Side::Service),
        true_pairs: truth.pairs.len() as u64,
    }
}

fn host_addr(w: &World, i: u32) -> Option<SocketAddr> {
    w.hosts().get(i as usize).map(|h| h.node.addr())
}

/// What only the scorer knows: the true (client flow, service flow) pairs,
/// and each session row's client-side and service-side flows.
struct GroundTruth {
    pairs: HashSet<(u32, u32)>,
    client_flows_of: Vec<Vec<u32>>,
    service_flows_of: Vec<Vec<u32>>,
}

impl GroundTruth {
    fn of(w: &World, flows: &[FlowSummary], lag_ns: u64) -> Self {
        let mut by_ends: HashMap<(Side, SocketAddr, SocketAddr), Vec<u32>> = HashMap::new();
        for (i, f) in flows.iter().enumerate() {
            by_ends
                .entry((f.side, f.near, f.far))
                .or_default()
                .push(i as u32);
        }
        let addr = |i: u32| host_addr(w, i);
        let end_of_run = w.now().as_nanos();
        let mut truth = GroundTruth {
            pairs: HashSet::new(),
            client_flows_of: vec![Vec::new(); w.sessions.rows.len()],
            service_flows_of: vec![Vec::new(); w.sessions.rows.len()],
        };
        for (row, s) in w.sessions.rows.iter().enumerate() {
            let (Some(client), Some(entry), Some(last), Some(exit)) =
                (addr(s.client), addr(s.entry), addr(s.last), addr(s.exit))
            else {
                continue;
            };
            let (from, to) = s.open_ns(end_of_run);
            let active = |side, near, far| -> Vec<u32> {
                by_ends.get(&(side, near, far)).map_or_else(Vec::new, |v| {
                    v.iter()
                        .copied()
                        .filter(|&i| {
                            let f = &flows[i as usize];
                            f.start_ns <= to && f.end_ns >= from
                        })
                        .collect()
                })
            };
            let cs = active(Side::Client, client, entry);
            let gs = active(Side::Service, last, exit);
            truth.pair_up(flows, &cs, &gs, lag_ns);
            truth.client_flows_of[row] = cs;
            truth.service_flows_of[row] = gs;
        }
        truth
    }

    /// Marks each client flow and service flow of one session that are
    /// active within `lag_ns` of each other as a true pair.
    fn pair_up(&mut self, flows: &[FlowSummary], cs: &[u32], gs: &[u32], lag_ns: u64) {
        for &c in cs {
            let cf = &flows[c as usize];
            for &g in gs {
                let gf = &flows[g as usize];
                if cf.start_ns <= gf.end_ns + lag_ns && gf.start_ns <= cf.end_ns + lag_ns {
                    self.pairs.insert((c, g));
                }
            }
        }
    }
}
