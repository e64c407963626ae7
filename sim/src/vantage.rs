//! What one local vantage saw of each session (whitepaper "Threat Model Tiers",
//! tier 2, "Single Local Observer": "One compromised relay, local ISP
//! observer, or one malicious Ghost"; "Residual risk: traffic volume and
//! timing fingerprints"). The observer's flows are its own; the ground
//! truth only says which of them carried each session, to score what the
//! vantage could read off them: which legs it saw, and how many cells
//! went each way while the session was open.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::adversary::observer::{DOWN, FlowSummary, UP};
use crate::engine::Host;
use crate::population::Kind;
use crate::sessions::SessionRow;

/// One session as a local vantage saw it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VantageRecord {
    /// Session number within the replicate (as in `sessions`).
    pub session_id: u64,
    /// Client node index.
    pub client: u32,
    /// Exit (service) node index.
    pub exit: u32,
    /// The client sits in a watched AS (the vantage is its ISP).
    pub client_watched: bool,
    /// The exit sits in a watched AS (the vantage is its upstream).
    pub exit_watched: bool,
    /// The vantage saw the client–entry leg while the session was open.
    pub client_leg_seen: bool,
    /// The vantage saw the last relay–exit leg while the session was open.
    pub service_leg_seen: bool,
    /// Cells toward the service / toward the client on the client leg.
    pub client_leg_cells: [u32; 2],
    /// Cells toward the service / toward the client on the service leg.
    pub service_leg_cells: [u32; 2],
    /// Turns answered.
    pub turns: u32,
    /// Every turn was answered.
    pub complete: bool,
    /// Prompt tokens sent, over all turns.
    pub prompt_tokens: u64,
    /// Output tokens received, over all turns.
    pub output_tokens: u64,
    /// The observers' timing attacker linked the session (at its threshold).
    pub observer_linked: bool,
    /// Public counts for the closed form: advertised relays and services
    /// in the watched ASes, and in all.
    pub watched_relays: u32,
    /// See [`VantageRecord::watched_relays`].
    pub watched_services: u32,
    /// See [`VantageRecord::watched_relays`].
    pub relays: u32,
    /// See [`VantageRecord::watched_relays`].
    pub services: u32,
}

/// Advertised relays and services: (watched relays, watched services,
/// relays, services).
fn public_counts(hosts: &[Host], watched: &dyn Fn(&Host) -> bool) -> [u32; 4] {
    let mut c = [0u32; 4];
    for h in hosts {
        let i = match h.slot.kind {
            Kind::Relay => 0,
            k if k.is_service() => 1,
            _ => continue,
        };
        c[i + 2] += 1;
        if watched(h) {
            c[i] += 1;
        }
    }
    c
}

/// One session's flows, found by ground truth: (client-leg flows,
/// service-leg flows), as indices into the observer's flows.
pub struct SessionFlows<'a> {
    /// The observer's flows.
    pub flows: &'a [FlowSummary],
    /// Per session row: its client-leg flows.
    pub client_flows_of: &'a [Vec<u32>],
    /// Per session row: its service-leg flows.
    pub service_flows_of: &'a [Vec<u32>],
    /// Summary bin width, ns.
    pub bin_ns: u64,
}

impl SessionFlows<'_> {
    /// Cells each way on `of` while `[from, to]` was open.
    fn cells(&self, of: &[u32], from: u64, to: u64) -> [u32; 2] {
        let sum = |dir| {
            of.iter()
                .map(|&i| self.flows[i as usize].packets_between(dir, from, to, self.bin_ns))
                .sum()
        };
        [sum(UP), sum(DOWN)]
    }
}

/// The vantage record of every session row `keep` accepts, in row order.
/// `watched`: the observed ASes (`None`: every AS); `linked`: the timing
/// attacker's verdict per row; `end_ns`: the end of the run.
pub fn records(
    hosts: &[Host],
    rows: &[SessionRow],
    seen: &SessionFlows<'_>,
    (watched, linked, end_ns): (Option<&HashSet<u32>>, &[bool], u64),
    keep: impl Fn(usize) -> bool,
) -> Vec<VantageRecord> {
    let in_view = |h: &Host| watched.is_none_or(|s| s.contains(&h.asn));
    let host_in_view = |i: u32| hosts.get(i as usize).is_some_and(in_view);
    let [wr, ws, r, s] = public_counts(hosts, &in_view);
    rows.iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, row)| {
            let (from, to) = row.open_ns(end_ns);
            let (cs, gs) = (&seen.client_flows_of[i], &seen.service_flows_of[i]);
            VantageRecord {
                session_id: row.id,
                client: row.client,
                exit: row.exit,
                client_watched: host_in_view(row.client),
                exit_watched: host_in_view(row.exit),
                client_leg_seen: !cs.is_empty(),
                service_leg_seen: !gs.is_empty(),
                client_leg_cells: seen.cells(cs, from, to),
                service_leg_cells: seen.cells(gs, from, to),
                turns: row.turns,
                complete: row.outcome == "ok",
                prompt_tokens: row.prompt_tokens,
                output_tokens: row.output_tokens,
                observer_linked: linked.get(i).copied().unwrap_or(false),
                watched_relays: wr,
                watched_services: ws,
                relays: r,
                services: s,
            }
        })
        .collect()
}
