//! The data-visibility audit (whitepaper "Data Visibility by Role"): for the
//! first sessions opened in the measured period, record every observation of
//! the nodes on their paths and of the mints, and at the end of the run
//! compute each session's matrix with the protocol's
//! [`VisibilityMatrix::audit`], next to the whitepaper's table.
//!
//! Recording keeps every observation of those nodes for the rest of the run,
//! so scenarios audit a handful of sessions in a small network.

use std::collections::HashMap;
use std::net::SocketAddr;

use peer2prompt::ecash::{MintObservation, PayerId};
use peer2prompt::node::Observation;
use peer2prompt::node::visibility::{SessionTruth, VisibilityMatrix};
use secp256k1::PublicKey;
use serde::{Deserialize, Serialize};

/// One audited session's matrix: rows of (role, sees IP, sees prompt, sees
/// payment ID, sees response), in path order, and the whitepaper's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditedSession {
    /// Client index.
    pub client: u32,
    /// The client's session id.
    pub session: u64,
    /// Measured rows.
    pub measured: Vec<[String; 5]>,
    /// The whitepaper's rows for the same path length.
    pub whitepaper: Vec<[String; 5]>,
}

#[derive(Debug)]
struct Pending {
    client: u32,
    session: u64,
    relays: Vec<u32>,
    exit: u32,
    prompt: Vec<u8>,
    payment: Vec<PublicKey>,
    response: Option<Vec<u8>>,
}

/// The audit's state during a run.
#[derive(Debug, Default)]
pub struct VisibilityAudit {
    left: u32,
    mints: Vec<u32>,
    recording: HashMap<u32, Vec<Observation>>,
    /// Every mint's funding records from the start: wallets are funded
    /// during the warm-up, before the audited sessions open.
    fundings: HashMap<u32, Vec<Observation>>,
    pending: Vec<Pending>,
    asked: HashMap<u32, Vec<u8>>,
}

impl VisibilityAudit {
    /// Audits the next `sessions` sessions opened; `mints` are recorded
    /// from the first of them on.
    pub fn new(sessions: u32, mints: Vec<u32>) -> Self {
        VisibilityAudit {
            left: sessions,
            mints,
            ..VisibilityAudit::default()
        }
    }

    /// True while something is or will be audited.
    pub fn active(&self) -> bool {
        self.left > 0 || !self.pending.is_empty()
    }

    /// Client `c` asks `text` (the prompt of the session it opens next).
    pub fn asked(&mut self, c: u32, text: &[u8]) {
        if self.left > 0 {
            self.asked.insert(c, text.to_vec());
        }
    }

    /// Client `c` opened `session` through `relays` to `exit`.
    pub fn opened(&mut self, c: u32, session: u64, relays: Vec<u32>, exit: u32) {
        if self.left == 0 || relays.contains(&u32::MAX) || exit == u32::MAX {
            return;
        }
        let Some(prompt) = self.asked.remove(&c) else {
            return;
        };
        self.left -= 1;
        for h in relays.iter().chain([&exit]).chain(self.mints.iter()) {
            self.recording.entry(*h).or_default();
        }
        self.pending.push(Pending {
            client: c,
            session,
            relays,
            exit,
            prompt,
            payment: Vec::new(),
            response: None,
        });
    }

    fn find(&mut self, c: u32, session: u64) -> Option<&mut Pending> {
        self.pending
            .iter_mut()
            .find(|p| p.client == c && p.session == session)
    }

    /// Client `c` paid `ys` in `session`.
    pub fn paid(&mut self, c: u32, session: u64, ys: &[PublicKey]) {
        if let Some(p) = self.find(c, session) {
            p.payment.extend_from_slice(ys);
        }
    }

    /// The first turn of `session` was answered with `response`.
    pub fn answered(&mut self, c: u32, session: u64, response: &[u8]) {
        if let Some(p) = self.find(c, session)
            && p.response.is_none()
        {
            p.response = Some(response.to_vec());
        }
    }

    /// Host `h` observed `o`.
    pub fn observe(&mut self, h: u32, o: &Observation) {
        if let Some(v) = self.recording.get_mut(&h) {
            v.push(o.clone());
        } else if matches!(o, Observation::Mint(MintObservation::Funding { .. }))
            && self.mints.contains(&h)
        {
            self.fundings.entry(h).or_default().push(o.clone());
        }
    }

    /// The matrices of the audited sessions that were answered; `addr`
    /// gives a host's address, `mint` the mint they paid at.
    pub fn finish(
        &self,
        addr: impl Fn(u32) -> SocketAddr,
        mint: SocketAddr,
    ) -> Vec<AuditedSession> {
        let mut seen: HashMap<u32, Vec<Observation>> = self.fundings.clone();
        for (h, v) in &self.recording {
            seen.entry(*h).or_default().extend(v.iter().cloned());
        }
        let by_addr: HashMap<SocketAddr, &[Observation]> =
            seen.iter().map(|(h, v)| (addr(*h), v.as_slice())).collect();
        let rows = |m: &VisibilityMatrix| -> Vec<[String; 5]> {
            m.rows
                .iter()
                .map(|(role, v)| {
                    [
                        role.to_string(),
                        v.ip.to_string(),
                        if v.prompt { "Yes" } else { "No" }.to_owned(),
                        v.payment.to_string(),
                        v.response.to_string(),
                    ]
                })
                .collect()
        };
        self.pending
            .iter()
            .filter_map(|p| {
                let truth = SessionTruth {
                    client: addr(p.client),
                    relays: p.relays.iter().map(|&r| addr(r)).collect(),
                    exit: addr(p.exit),
                    prompt: p.prompt.clone(),
                    payment: p.payment.clone(),
                    response: p.response.clone()?,
                    // The label the engine's Lightning gives each client.
                    payer: Some(PayerId(u64::from(p.client))),
                };
                let m = VisibilityMatrix::audit(&truth, mint, |a| {
                    by_addr.get(&a).copied().unwrap_or(&[])
                });
                Some(AuditedSession {
                    client: p.client,
                    session: p.session,
                    measured: rows(&m),
                    whitepaper: rows(&VisibilityMatrix::whitepaper(p.relays.len())),
                })
            })
            .collect()
    }
}
