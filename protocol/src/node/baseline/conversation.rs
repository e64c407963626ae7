//! A baseline client's conversation: queued messages, the context each
//! prompt carries (neither baseline keeps chat state server-side: LLM-Tor
//! has "No chat persistence"), and the turn in flight.

use std::collections::VecDeque;

use super::{BaselineEvent, BaselineTurn};
use crate::market::tokens;
use crate::node::{Ctx, NodeEvent};
use crate::time::Instant;

/// A message waiting to be sent.
#[derive(Clone, Debug)]
struct Ask {
    id: u64,
    text: Vec<u8>,
    started: Option<Instant>,
    attempts: u32,
}

/// The request in flight.
#[derive(Debug)]
pub(crate) struct InFlight {
    ask: Ask,
    pub seq: u64,
    prompt_tokens: u64,
    first_token: Option<Instant>,
    response: Vec<u8>,
    pub deadline: Instant,
}

/// Messages, context and the turn in flight.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    queue: VecDeque<Ask>,
    next_id: u64,
    next_seq: u64,
    context: Vec<u8>,
    turns: u32,
    pub current: Option<InFlight>,
}

impl Conversation {
    /// Queues `text`; returns its request id.
    pub fn ask(&mut self, text: Vec<u8>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.queue.push_back(Ask {
            id,
            text,
            started: None,
            attempts: 0,
        });
        id
    }

    /// A new conversation: the context is dropped.
    pub fn restart(&mut self) {
        self.context.clear();
        self.turns = 0;
    }

    /// True if a message waits and none is in flight.
    pub fn ready(&self) -> bool {
        self.current.is_none() && !self.queue.is_empty()
    }

    /// Starts the next message: returns its sequence number and the prompt
    /// (context plus message). A context that would overflow `window`
    /// tokens with `max_output` more starts a new conversation first.
    pub fn begin(
        &mut self,
        now: Instant,
        timeout: crate::time::Duration,
        window: u64,
        max_output: u32,
    ) -> Option<(u64, Vec<u8>)> {
        let mut ask = self.queue.pop_front()?;
        if tokens::count(&self.context) + tokens::count(&ask.text) + u64::from(max_output) > window
        {
            self.restart();
        }
        let mut prompt = self.context.clone();
        prompt.extend_from_slice(&ask.text);
        ask.started.get_or_insert(now);
        ask.attempts += 1;
        self.next_seq += 1;
        self.current = Some(InFlight {
            ask,
            seq: self.next_seq,
            prompt_tokens: tokens::count(&prompt),
            first_token: None,
            response: Vec::new(),
            deadline: now + timeout,
        });
        Some((self.next_seq, prompt))
    }

    /// Streamed output for request `seq`.
    pub fn chunk(&mut self, ctx: &mut Ctx<'_>, seq: u64, text: &[u8]) {
        let Some(f) = self.current.as_mut().filter(|f| f.seq == seq) else {
            return;
        };
        if f.first_token.is_none() {
            f.first_token = Some(ctx.now);
            let request = f.ask.id;
            ctx.emit(NodeEvent::Baseline(BaselineEvent::FirstToken { request }));
        }
        f.response.extend_from_slice(text);
    }

    /// Request `seq` finished.
    pub fn finish(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: u64,
        output_tokens: u64,
        token: Option<crate::baselines::llm_tor::TokenId>,
        circuit: Option<u64>,
    ) {
        if self.current.as_ref().is_none_or(|f| f.seq != seq) {
            return;
        }
        let Some(f) = self.current.take() else { return };
        self.turns += 1;
        self.context.extend_from_slice(&f.ask.text);
        self.context.extend_from_slice(&f.response);
        let turn = BaselineTurn {
            request: f.ask.id,
            turn: self.turns,
            input_tokens: f.prompt_tokens,
            output_tokens,
            started: f.ask.started.unwrap_or(ctx.now),
            first_token: f.first_token.unwrap_or(ctx.now),
            done: ctx.now,
            response: f.response,
            token,
            circuit,
        };
        ctx.emit(NodeEvent::Baseline(BaselineEvent::TurnDone(turn)));
    }

    /// The request in flight failed: it is queued again if fewer than
    /// `attempts` were made, else reported failed.
    pub fn fail(&mut self, ctx: &mut Ctx<'_>, attempts: u32, reason: &str) {
        let Some(f) = self.current.take() else { return };
        if f.ask.attempts < attempts {
            self.queue.push_front(f.ask);
        } else {
            self.report_failed(ctx, f.ask.id, reason);
        }
    }

    /// Every queued message fails (e.g. the account cannot buy credits).
    pub fn fail_all(&mut self, ctx: &mut Ctx<'_>, reason: &str) {
        let ids: Vec<u64> = self
            .current
            .take()
            .map(|f| f.ask.id)
            .into_iter()
            .chain(self.queue.drain(..).map(|a| a.id))
            .collect();
        for id in ids {
            self.report_failed(ctx, id, reason);
        }
    }

    fn report_failed(&self, ctx: &mut Ctx<'_>, request: u64, reason: &str) {
        let reason = reason.to_owned();
        ctx.emit(NodeEvent::Baseline(BaselineEvent::TurnFailed {
            request,
            reason,
        }));
    }

    /// When the request in flight times out.
    pub fn deadline(&self) -> Option<Instant> {
        self.current.as_ref().map(|f| f.deadline)
    }
}
