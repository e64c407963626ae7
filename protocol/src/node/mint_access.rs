//! A node's access to a mint: a circuit ending at the mint node, with
//! requests queued until it is built and matched to answers by sequence
//! number (whitepaper "Token Lifecycle"; reaching the mint through relays
//! keeps the client's address from it, as "Data Visibility by Role" has it).

use std::collections::{HashMap, VecDeque};

use super::wire::{AppMessage, MintApiRequest, MintApiResponse};
use super::{Ctx, Owner};
use crate::onion::OnionError;
use crate::onion::client::ClientEvent as CircuitEvent;
use crate::onion::route::Candidate;
use crate::time::{Duration, Instant};

/// The circuit to the mint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Circuit {
    /// None: the next request builds one.
    Down,
    /// Being built since `since`; requests queue.
    Building { id: u32, since: Instant },
    /// Built (its build started at `since`); requests go out at once.
    Up { id: u32, since: Instant },
}

impl Circuit {
    fn id(self) -> Option<u32> {
        match self {
            Circuit::Down => None,
            Circuit::Building { id, .. } | Circuit::Up { id, .. } => Some(id),
        }
    }
}

/// Access to one mint.
#[derive(Debug)]
pub(crate) struct MintAccess {
    pub url: String,
    pub mint: Candidate,
    owner: Owner,
    circuit: Circuit,
    /// When the current circuit last carried a request or an answer.
    last_active: Instant,
    queue: VecDeque<(u64, MintApiRequest)>,
    deadlines: HashMap<u64, Instant>,
    next_seq: u64,
    timeout: Duration,
}

impl MintAccess {
    pub fn new(url: String, mint: Candidate, owner: Owner, timeout: Duration) -> Self {
        MintAccess {
            url,
            mint,
            owner,
            circuit: Circuit::Down,
            last_active: Instant::ZERO,
            queue: VecDeque::new(),
            deadlines: HashMap::new(),
            next_seq: 1,
            timeout,
        }
    }

    /// True if `circuit` is this access's circuit.
    pub fn owns(&self, circuit: u32) -> bool {
        self.circuit.id() == Some(circuit)
    }

    /// Sends `req` (now if the circuit is built, else once it is); returns its
    /// sequence number.
    pub fn request(&mut self, ctx: &mut Ctx<'_>, req: MintApiRequest) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.deadlines.insert(seq, ctx.now + self.timeout);
        // Relays forget a circuit idle for their idle timeout (600 s by
        // default); a request on it would vanish. Rebuild one idle this long.
        if matches!(self.circuit, Circuit::Up { .. })
            && ctx.now.saturating_duration_since(self.last_active) > super::CIRCUIT_MAX_IDLE
        {
            self.renew(ctx);
        }
        if let Circuit::Up { id, .. } = self.circuit {
            if self.send(ctx, id, seq, req.clone()).is_ok() {
                return seq;
            }
            self.circuit = Circuit::Down;
        }
        self.queue.push_back((seq, req));
        if self.circuit == Circuit::Down
            && let Err(e) = self.build(ctx)
        {
            tracing::debug!("no circuit to the mint yet: {e}");
        }
        seq
    }

    fn send(
        &mut self,
        ctx: &mut Ctx<'_>,
        circuit: u32,
        seq: u64,
        request: MintApiRequest,
    ) -> Result<(), OnionError> {
        ctx.send(circuit, &AppMessage::Mint { seq, request })?;
        self.last_active = ctx.now;
        Ok(())
    }

    fn build(&mut self, ctx: &mut Ctx<'_>) -> Result<(), OnionError> {
        let route = ctx.route_to(&self.mint)?;
        let id = ctx.build(route.hops(), self.owner.clone())?;
        self.circuit = Circuit::Building { id, since: ctx.now };
        Ok(())
    }

    /// Feeds an event of `circuit` (one of the owner's mint circuits).
    /// Returns a mint answer this access was waiting for, to act on; stale
    /// and unexpected messages are dropped here.
    pub fn on_circuit(
        &mut self,
        ctx: &mut Ctx<'_>,
        circuit: u32,
        e: &CircuitEvent,
        msg: Option<AppMessage>,
    ) -> Option<(u64, MintApiResponse)> {
        match e {
            CircuitEvent::CircuitReady { .. } if self.owns(circuit) => self.on_ready(ctx),
            CircuitEvent::CircuitFailed { .. } if self.owns(circuit) => self.on_failed(),
            CircuitEvent::Reply { .. } => {
                if self.owns(circuit) {
                    self.last_active = ctx.now;
                }
                if let Some(AppMessage::MintReply { seq, response }) = msg
                    && self.deadlines.remove(&seq).is_some()
                {
                    return Some((seq, response));
                }
            }
            _ => {}
        }
        None
    }

    /// The circuit is built: send what waited.
    fn on_ready(&mut self, ctx: &mut Ctx<'_>) {
        let Circuit::Building { id: c, since } = self.circuit else {
            return;
        };
        self.circuit = Circuit::Up { id: c, since };
        while let Some((seq, req)) = self.queue.pop_front() {
            if self.send(ctx, c, seq, req).is_err() {
                break;
            }
        }
    }

    /// Drops the current circuit; the next request builds a fresh one (to
    /// see the mint from another vantage point).
    pub fn renew(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(c) = self.circuit.id() {
            ctx.destroy(c);
        }
        self.circuit = Circuit::Down;
    }

    /// The circuit failed: the next request builds another.
    fn on_failed(&mut self) {
        self.circuit = Circuit::Down;
    }

    /// Requests whose answers are overdue (forgotten here).
    pub fn expired(&mut self, ctx: &mut Ctx<'_>) -> Vec<u64> {
        let now = ctx.now;
        let mut late: Vec<u64> = self
            .deadlines
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(s, _)| *s)
            .collect();
        // Map order is random per process; outputs must not depend on it.
        late.sort_unstable();
        for s in &late {
            self.deadlines.remove(s);
            self.queue.retain(|(q, _)| q != s);
        }
        // A mint that stopped answering: try a fresh circuit next time. A
        // circuit younger than the timeout is kept: requests queued before
        // it existed say nothing about it, and abandoning it for each of
        // them would never let a build finish (a livelock seen under loss,
        // where every restore of a lost settlement killed the next build).
        if let Circuit::Building { id, since } | Circuit::Up { id, since } = self.circuit
            && !late.is_empty()
            && since + self.timeout <= now
        {
            ctx.abandon(id);
            self.circuit = Circuit::Down;
        }
        late
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.values().min().copied()
    }
}
