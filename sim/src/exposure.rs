//! What prompt-harvesting exits hold of each client's history (whitepaper
//! "Context-Window Compartmentalization": "A compromised Ghost can observe
//! one session's context window"). The harvest is the adversary's own
//! store (`Node::harvested`, keyed by its onion session handles); the
//! ground truth joins those handles to session rows for scoring only.

use std::collections::HashMap;

use peer2prompt::market::tokens;
use serde::{Deserialize, Serialize};

use crate::engine::Host;
use crate::truth::GroundTruth;

/// One session and what a harvesting exit kept of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExposureRecord {
    /// Session number within the replicate (as in `sessions`).
    pub session_id: u64,
    /// Client node index.
    pub client: u32,
    /// Exit (service) node index.
    pub exit: u32,
    /// The exit is the adversary's, and harvests.
    pub exit_adversarial: bool,
    /// Turns answered.
    pub turns: u32,
    /// Every turn of the session was answered (no failure ended it).
    pub complete: bool,
    /// The client's side: the conversation's size after its last answered
    /// turn, tokens (what the session's context window held).
    pub context_tokens: u64,
    /// Prompts the exit kept from this session (0 at an honest exit).
    pub harvested_prompts: u32,
    /// The largest of them, tokens: the most of the session's context the
    /// exit holds.
    pub harvested_tokens: u64,
    /// Requests on this session's service-side flow that another session
    /// paid for (a flow carrying two sessions would break
    /// compartmentalization; the protocol never does it).
    pub foreign_requests: u32,
}

/// Per session row: (prompts kept, largest in tokens).
fn harvest_by_row(hosts: &[Host], truth: &GroundTruth) -> HashMap<usize, (u32, u64)> {
    let mut by_row: HashMap<usize, (u32, u64)> = HashMap::new();
    for (i, h) in hosts.iter().enumerate() {
        for p in h.node.harvested() {
            let Some(row) = truth.row_of((i as u32, p.session)) else {
                continue;
            };
            let e = by_row.entry(row).or_default();
            e.0 += 1;
            e.1 = e.1.max(tokens::count(&p.prompt));
        }
    }
    by_row
}

/// The exposure of every session row `keep` accepts, in row order.
pub fn records(
    hosts: &[Host],
    truth: &GroundTruth,
    rows: &[crate::sessions::SessionRow],
    keep: impl Fn(usize) -> bool,
) -> Vec<ExposureRecord> {
    let harvest = harvest_by_row(hosts, truth);
    rows.iter()
        .enumerate()
        .filter(|(r, _)| keep(*r))
        .map(|(r, s)| {
            let (prompts, tokens) = harvest.get(&r).copied().unwrap_or_default();
            ExposureRecord {
                session_id: s.id,
                client: s.client,
                exit: s.exit,
                exit_adversarial: hosts
                    .get(s.exit as usize)
                    .is_some_and(|h| h.slot.adversarial),
                turns: s.turns,
                complete: s.outcome == "ok",
                context_tokens: s.context_tokens,
                harvested_prompts: prompts,
                harvested_tokens: tokens,
                foreign_requests: truth.foreign_requests(r),
            }
        })
        .collect()
}
