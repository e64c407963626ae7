//! The sessions as the world records them (ground truth and outcome), kept
//! from the clients' own events: a row when a session opens, its first
//! token, its turns and how it ended. Only scoring and the records read it.

use std::collections::HashMap;

use peer2prompt::baselines::llm_tor::TokenId;
use peer2prompt::node::{BaselineTurn, TurnReport};
use peer2prompt::time::Instant;

use crate::population::Kind;

/// A session as the engine records it.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Opening order.
    pub id: u64,
    /// The client's host.
    pub client: u32,
    /// Entry relay's host.
    pub entry: u32,
    /// Last relay's host (next to the exit).
    pub last: u32,
    /// Relays on the route.
    pub hops: u32,
    /// The exit's host.
    pub exit: u32,
    /// Exit role.
    pub exit_kind: Kind,
    /// When the client asked for the session.
    pub started: Instant,
    /// First token of the first turn.
    pub first_token: Option<Instant>,
    /// Last turn done.
    pub completed: Option<Instant>,
    /// Closed (rotation or failure).
    pub closed: Option<Instant>,
    /// Turns answered.
    pub turns: u32,
    /// Input tokens over its turns.
    pub prompt_tokens: u64,
    /// Output tokens over its turns.
    pub output_tokens: u64,
    /// The conversation's size after its last answered turn, tokens.
    pub context_tokens: u64,
    /// Outcome so far (`ok`, a failure kind, or `unfinished`).
    pub outcome: String,
    /// LLM-Tor: the token its first turn redeemed.
    pub token: Option<TokenId>,
}

impl SessionRow {
    /// When the session was open, ns: from its start to its close, or its
    /// completion, or `end_ns` (the end of the run) if neither came.
    pub fn open_ns(&self, end_ns: u64) -> (u64, u64) {
        let to = self
            .closed
            .or(self.completed)
            .map_or(end_ns, |t| t.as_nanos());
        (self.started.as_nanos(), to)
    }
}

/// Every session, in opening order, and which is open per client.
#[derive(Debug, Default)]
pub struct SessionBook {
    /// Sessions, in opening order.
    pub rows: Vec<SessionRow>,
    /// Each client's open session.
    open: HashMap<u32, usize>,
    /// Each client's latest session.
    last: HashMap<u32, usize>,
    /// (client, the client's session id) -> row.
    by_session: HashMap<(u32, u64), usize>,
}

/// Where a new session goes: the hosts of its route.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// Entry relay (or `u32::MAX` when unknown to the engine).
    pub entry: u32,
    /// Last relay.
    pub last: u32,
    /// Number of relays.
    pub hops: u32,
    /// Host index of the exit (the service, or a baseline's operator).
    pub exit: u32,
    /// The exit's kind.
    pub exit_kind: Kind,
}

impl SessionBook {
    /// Client `c` opened `session` at `now` along `route`; returns its row.
    pub fn opened(&mut self, c: u32, session: u64, route: Route, now: Instant) -> usize {
        let row = self.rows.len();
        self.rows.push(SessionRow {
            id: row as u64,
            client: c,
            entry: route.entry,
            last: route.last,
            hops: route.hops,
            exit: route.exit,
            exit_kind: route.exit_kind,
            started: now,
            first_token: None,
            completed: None,
            closed: None,
            turns: 0,
            prompt_tokens: 0,
            output_tokens: 0,
            context_tokens: 0,
            outcome: "unfinished".into(),
            token: None,
        });
        self.last.insert(c, row);
        self.by_session.insert((c, session), row);
        if let Some(prev) = self.open.insert(c, row) {
            self.rows[prev].closed.get_or_insert(now);
        }
        row
    }

    /// The row of client `c`'s `session`.
    pub fn row_of(&self, c: u32, session: u64) -> Option<usize> {
        self.by_session.get(&(c, session)).copied()
    }

    /// The row of client `c`'s latest session.
    pub fn last_row(&self, c: u32) -> Option<usize> {
        self.last.get(&c).copied()
    }

    /// The row of client `c`'s open session.
    pub fn open_row(&self, c: u32) -> Option<usize> {
        self.open.get(&c).copied()
    }

    /// Whether client `c` has a session open.
    pub fn is_open(&self, c: u32) -> bool {
        self.open.contains_key(&c)
    }

    /// Client `c` closed `session` at `now`.
    pub fn closed(&mut self, c: u32, session: u64, now: Instant) {
        if let Some(r) = self.row_of(c, session) {
            self.rows[r].closed.get_or_insert(now);
            if self.open.get(&c) == Some(&r) {
                self.open.remove(&c);
            }
        }
    }

    /// The first token of client `c`'s open session arrived at `at`.
    pub fn first_token(&mut self, c: u32, at: Instant) {
        if let Some(&r) = self.open.get(&c) {
            self.rows[r].first_token.get_or_insert(at);
        }
    }

    /// Client `c` finished a turn.
    pub fn turn_done(&mut self, c: u32, rep: &TurnReport) {
        if let Some(r) = self.row_of(c, rep.session) {
            let s = &mut self.rows[r];
            s.turns += 1;
            s.prompt_tokens += rep.input_tokens;
            s.output_tokens += rep.output_tokens;
            s.context_tokens = s.context_tokens.max(rep.context_tokens);
            s.completed = Some(rep.done);
            s.outcome = "ok".into();
        }
    }

    /// A baseline client `c` finished a turn on its open session.
    pub fn baseline_turn(&mut self, c: u32, t: &BaselineTurn) {
        if let Some(&r) = self.open.get(&c) {
            let s = &mut self.rows[r];
            if s.turns == 0 {
                s.token = t.token;
            }
            s.turns += 1;
            s.prompt_tokens += t.input_tokens;
            s.output_tokens += t.output_tokens;
            s.context_tokens = s.context_tokens.max(t.input_tokens + t.output_tokens);
            s.completed = Some(t.done);
            s.outcome = "ok".into();
        }
    }

    /// A turn of client `c` failed with `kind`; false when no session of
    /// the client exists to hold it (the client closes a failed session
    /// before reporting why, so its latest one holds it).
    pub fn turn_failed(&mut self, c: u32, kind: &str) -> bool {
        match self.open.get(&c).or(self.last.get(&c)) {
            Some(&r) => {
                self.rows[r].outcome = kind.to_owned();
                true
            }
            None => false,
        }
    }
}
