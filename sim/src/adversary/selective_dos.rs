//! Selective denial of service (Borisov, Danezis, Mittal and Tabriz, "Denial
//! of Service or Denial of Security?", CCS 2007), against the whitepaper's
//! "Threat Model Tiers", tier 3: the adversary's relays and exits stop
//! forwarding every circuit they cannot see end to end, so that clients
//! retry until a route is either clean or compromised at both ends.
//!
//! Each adversarial hop judges a circuit once, from the pool alone (cell
//! times and counts, the evidence the matcher uses), `decide_after` after
//! the circuit's first forward cell there:
//! - an **exit** keeps the circuit if its cells so far follow an entry flow
//!   of the adversary's cell for cell ([`best_skip`]: after the entry's
//!   one extension per hop, the gaps between cells agree within the
//!   matcher's tolerance for at least `min_score` of them), and claims that
//!   entry flow; an entry flow is claimed by one exit at most;
//! - a **middle** relay keeps it if its cells follow an entry flow of the
//!   adversary's (the entry decides for the circuit);
//! - an **entry** waits `max_lag` longer, for its exits' verdicts, and keeps
//!   the circuit only if an exit claimed it.
//!
//! Everything else is killed through the protocol's hook
//! (`Node::dangerous_stop_forwarding`). The judge reads no ground truth:
//! which session a flow carries, who the client is and whether an end is
//! really the adversary's stay with the engine and the scorer. Judging errs
//! where concurrent circuits align by chance, as the matcher does.

use std::collections::HashSet;

use peer2prompt::onion::observe::HopObservation;
use peer2prompt::time::{Duration, Instant};
use serde::{Deserialize, Serialize};

use super::matcher::{MatcherParams, SCORED_CELLS};
use super::pool::{FlowKey, Pool, Position};

/// A verdict the judge owes: `flow`, at `position`, due `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// When the verdict is due.
    pub at: Instant,
    /// The hop's position on the circuit.
    pub position: Position,
    /// The flow judged.
    pub flow: FlowKey,
}

/// One verdict, as the adversary took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// When, ns.
    pub at_ns: u64,
    /// The hop's position.
    pub position: Position,
    /// The flow judged.
    pub flow: FlowKey,
    /// The hop stopped forwarding it.
    pub kill: bool,
}

/// What the attack did in one replicate: verdicts by position (the cost to
/// the adversary is the circuits it killed), and the turns clients gave up
/// on (the cost to users beside their retries, seen in the sessions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DosStats {
    /// Circuits killed at an adversarial entry.
    pub killed_entry: u64,
    /// Circuits killed at an adversarial middle relay.
    pub killed_middle: u64,
    /// Circuits killed at an adversarial exit.
    pub killed_exit: u64,
    /// Circuits an adversarial entry let through (an exit claimed them).
    pub kept_entry: u64,
    /// Circuits an adversarial middle let through.
    pub kept_middle: u64,
    /// Circuits an adversarial exit let through (it matched an entry flow).
    pub kept_exit: u64,
    /// Turns failed with no retry left (every turn, attacked or not).
    pub turns_abandoned: u64,
}

/// How well a later flow `xs` (an exit's or a middle relay's first cells)
/// follows an entry flow `e`, cell for cell: the entry's first `skip` cells
/// built the circuit up to the later hop (one extension per hop, so `skip`
/// is 1 to `hops`), and cell `i` there is entry cell `skip + i`. The score is
/// the share of cells whose time since the first stays within `tol` of the
/// entry's; the best skip, then the smallest.
pub fn best_skip(e: &[u64], xs: &[u64], hops: usize, tol: u64) -> Option<(f64, usize)> {
    let &x0 = xs.first()?;
    let mut best: Option<(f64, usize)> = None;
    for skip in 1..=hops {
        let Some(&e0) = e.get(skip) else { break };
        if e0 > x0 {
            break;
        }
        let aligned = xs
            .iter()
            .zip(&e[skip..])
            .filter(|(x, ei)| (*x - x0).abs_diff(**ei - e0) <= tol)
            .count();
        let score = aligned as f64 / xs.len() as f64;
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, skip));
        }
    }
    best
}

/// The selective-DoS adversary's judge.
#[derive(Debug)]
pub struct Judge {
    params: MatcherParams,
    hops: usize,
    decide_after: Duration,
    sighted: HashSet<FlowKey>,
    claimed: HashSet<FlowKey>,
    due: Vec<Pending>,
    /// Every verdict, in the order taken.
    pub verdicts: Vec<Verdict>,
}

impl Judge {
    /// A judge aligning flows with `params` on routes of `hops` relays (a
    /// public protocol parameter), deciding `decide_after` after a flow's
    /// first cell.
    pub fn new(params: MatcherParams, hops: usize, decide_after: Duration) -> Self {
        Judge {
            params,
            hops,
            decide_after,
            sighted: HashSet::new(),
            claimed: HashSet::new(),
            due: Vec::new(),
            verdicts: Vec::new(),
        }
    }

    /// Adversarial node `node` observed `h` (after the pool took it): the
    /// first forward cell of a flow schedules its verdict.
    pub fn sighted(&mut self, pool: &Pool, node: u32, h: &HopObservation) {
        let Some(position) = pool.position(h) else {
            return;
        };
        if !self.sighted.insert((node, h.session)) {
            return;
        }
        let wait = match position {
            Position::Entry => self.decide_after + Duration::from_nanos(self.params.max_lag_ns),
            Position::Middle | Position::Exit => self.decide_after,
        };
        self.due.push(Pending {
            at: h.at + wait,
            position,
            flow: (node, h.session),
        });
    }

    /// The verdicts scheduled since the last call.
    pub fn take_due(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.due)
    }

    /// Judges `p` from the pool: true to kill.
    pub fn decide(&mut self, pool: &Pool, p: Pending) -> bool {
        let keep = match p.position {
            Position::Entry => self.claimed.contains(&p.flow),
            Position::Middle => self
                .aligned_entry(pool, &pool.middles, p.flow, false)
                .is_some(),
            Position::Exit => match self.aligned_entry(pool, &pool.exits, p.flow, true) {
                Some(entry) => {
                    self.claimed.insert(entry);
                    true
                }
                None => false,
            },
        };
        self.verdicts.push(Verdict {
            at_ns: p.at.as_nanos(),
            position: p.position,
            flow: p.flow,
            kill: !keep,
        });
        !keep
    }

    /// The adversary's entry flow that `flow` (in `flows`) aligns with best,
    /// if its score reaches `min_score`; with `unclaimed`, only among entry
    /// flows no exit has claimed yet (a circuit has one exit).
    fn aligned_entry(
        &self,
        pool: &Pool,
        flows: &std::collections::BTreeMap<FlowKey, super::pool::ExitFlow>,
        flow: FlowKey,
        unclaimed: bool,
    ) -> Option<FlowKey> {
        let times = &flows.get(&flow)?.times;
        let xs = &times[..times.len().min(SCORED_CELLS)];
        let &x0 = xs.first()?;
        let lo = x0.saturating_sub(self.params.max_lag_ns);
        let from = pool.entry_cells.partition_point(|c| c.0 < lo);
        let to = pool.entry_cells.partition_point(|c| c.0 <= x0);
        let candidates: std::collections::BTreeSet<FlowKey> =
            pool.entry_cells[from..to].iter().map(|c| c.1).collect();
        let mut best: Option<(f64, usize, FlowKey)> = None;
        for k in candidates {
            if unclaimed && self.claimed.contains(&k) {
                continue;
            }
            let e = &pool.entries[&k].times;
            if let Some((score, skip)) = best_skip(e, xs, self.hops, self.params.tolerance_ns)
                && best.is_none_or(|(s, sk, _)| score > s || (score == s && skip < sk))
            {
                best = Some((score, skip, k));
            }
        }
        best.filter(|b| b.0 >= self.params.min_score).map(|b| b.2)
    }

    /// Verdicts by position, with `turns_abandoned` from the world.
    pub fn stats(&self, turns_abandoned: u64) -> DosStats {
        let mut s = DosStats {
            turns_abandoned,
            ..DosStats::default()
        };
        for v in &self.verdicts {
            let n = match (v.position, v.kill) {
                (Position::Entry, true) => &mut s.killed_entry,
                (Position::Middle, true) => &mut s.killed_middle,
                (Position::Exit, true) => &mut s.killed_exit,
                (Position::Entry, false) => &mut s.kept_entry,
                (Position::Middle, false) => &mut s.kept_middle,
                (Position::Exit, false) => &mut s.kept_exit,
            };
            *n += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::pool::EntryFlow;
    use super::*;

    const MS: u64 = 1_000_000;

    fn params() -> MatcherParams {
        MatcherParams {
            max_lag_ns: 2_000 * MS,
            tolerance_ns: 30 * MS,
            min_score: 0.8,
        }
    }

    fn pending(position: Position, flow: FlowKey) -> Pending {
        Pending {
            at: Instant::from_nanos(5_000 * MS),
            position,
            flow,
        }
    }

    /// Two entry flows: (1, 1) built three hops then sent a burst of three
    /// cells; (2, 1) sent evenly spaced cells.
    fn pool() -> Pool {
        let mut p = Pool::default();
        let entry = |times: &[u64]| EntryFlow {
            client: None,
            times: times.iter().map(|t| t * MS).collect(),
        };
        for (key, times) in [
            ((1, 1), [1000, 1100, 1300, 1500, 1501, 1502]),
            ((2, 1), [1000, 1100, 1300, 1500, 1700, 1900]),
        ] {
            for &t in &times {
                p.entry_cells.push((t * MS, key));
            }
            p.entries.insert(key, entry(&times));
        }
        p.entry_cells.sort_unstable();
        let flow = |times: &[u64]| super::super::pool::ExitFlow {
            times: times.iter().map(|t| t * MS).collect(),
        };
        // The exits: (9, 1) follows flow (1, 1) after its three
        // extensions; (9, 2) has the same burst and could only claim the
        // same entry flow; (9, 3) follows nothing.
        p.exits.insert((9, 1), flow(&[1750, 1751, 1752]));
        p.exits.insert((9, 2), flow(&[1900, 1901, 1902]));
        p.exits.insert((9, 3), flow(&[1800, 1900, 2300]));
        p
    }

    #[test]
    fn a_later_flow_aligns_cell_for_cell_after_the_extensions() {
        let e: Vec<u64> = [1000, 1100, 1300, 1500, 1501, 1502]
            .map(|t| t * MS)
            .to_vec();
        let xs: Vec<u64> = [1750, 1751, 1752].map(|t| t * MS).to_vec();
        assert_eq!(best_skip(&e, &xs, 3, 30 * MS), Some((1.0, 3)));
        let even: Vec<u64> = [1000, 1100, 1300, 1500, 1700, 1900]
            .map(|t| t * MS)
            .to_vec();
        let (score, _) = best_skip(&even, &xs, 3, 30 * MS).unwrap();
        assert!(score < 0.8, "{score}");
    }

    #[test]
    fn exits_claim_one_entry_each_and_entries_keep_only_claimed_circuits() {
        let p = pool();
        let mut j = Judge::new(params(), 3, Duration::from_secs(1));
        assert!(
            !j.decide(&p, pending(Position::Exit, (9, 1))),
            "aligned: kept"
        );
        assert!(
            j.decide(&p, pending(Position::Exit, (9, 2))),
            "already claimed"
        );
        assert!(
            j.decide(&p, pending(Position::Exit, (9, 3))),
            "follows nothing"
        );
        assert!(
            !j.decide(&p, pending(Position::Entry, (1, 1))),
            "claimed: kept"
        );
        assert!(j.decide(&p, pending(Position::Entry, (2, 1))), "unclaimed");
        let s = j.stats(4);
        assert_eq!((s.kept_exit, s.killed_exit), (1, 2));
        assert_eq!((s.kept_entry, s.killed_entry), (1, 1));
        assert_eq!(s.turns_abandoned, 4);
    }
}
