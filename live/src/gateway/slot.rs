//! One client behind the entrance: its conversation as the protocol
//! session holds it, and one turn run to its end.
//!
//! OpenAI requests are stateless (each carries the whole conversation);
//! a Peer2Prompt session is not (its context accumulates, whitepaper
//! "Session Semantics for Multi-Turn Chat"). A request that continues the
//! conversation the open session holds sends only its new message, in the
//! same session (pinning). Any other request, or one after the session
//! closed (rotation), starts a new session with the whole conversation.

use std::time::Duration;

use axum::http::StatusCode;
use peer2prompt::market::tokens;
use peer2prompt::node::{ClientEvent, TurnReport};
use tokio::sync::mpsc;

use super::api::ApiError;
use super::failure::turn_error;
use crate::chat::{self, Message};
use crate::driver::Command;
use crate::network::call;

/// A piece of a turn's answer.
#[derive(Debug)]
pub enum Piece {
    /// Reply text, in order.
    Text(String),
    /// The turn is done, with how many relays its session used.
    Done(Box<TurnReport>, usize),
    /// The turn failed.
    Failed(ApiError),
}

/// What every turn is held to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The clients' context window, protocol tokens.
    pub context_window: u64,
    /// Output tokens a turn asks for.
    pub max_output: u64,
    /// A turn with no outcome by then is answered with 504.
    pub timeout: Duration,
}

/// A client node behind the entrance.
pub struct Slot {
    /// The client's node index.
    pub index: usize,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<ClientEvent>,
    /// The open session, its relays, and the messages its context holds.
    session: Option<(u64, usize)>,
    history: Vec<Message>,
    context_tokens: u64,
}

impl Slot {
    /// The slot of client `index`.
    pub fn new(
        index: usize,
        commands: mpsc::UnboundedSender<Command>,
        events: mpsc::UnboundedReceiver<ClientEvent>,
    ) -> Self {
        Slot {
            index,
            commands,
            events,
            session: None,
            history: Vec::new(),
            context_tokens: 0,
        }
    }

    /// Whether `msgs` continues the conversation the open session holds.
    pub fn continues(&self, msgs: &[Message]) -> bool {
        self.session.is_some()
            && !self.history.is_empty()
            && msgs.len() == self.history.len() + 1
            && msgs[..self.history.len()] == self.history[..]
    }

    /// Runs one turn for `msgs` (ending in a user message), sending its
    /// pieces to `out`; the turn runs to its end even if `out` is gone.
    pub async fn turn(&mut self, msgs: Vec<Message>, limits: Limits, out: mpsc::Sender<Piece>) {
        let done = tokio::time::timeout(limits.timeout, self.run(msgs, limits, &out)).await;
        if done.is_err() {
            let e = ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("no answer within {} s", limits.timeout.as_secs()),
                "server_error",
                "timeout",
            );
            let _ = out.send(Piece::Failed(e)).await;
        }
    }

    async fn run(&mut self, msgs: Vec<Message>, limits: Limits, out: &mpsc::Sender<Piece>) {
        self.drain();
        let text = match self.prompt(&msgs, limits).await {
            Ok(t) => t,
            Err(e) => return drop(out.send(Piece::Failed(e)).await),
        };
        let asked = call(&self.commands, self.index, move |n, now| {
            n.ask(now, text, false)
        })
        .await;
        let request = match asked {
            Ok(Ok(id)) => id,
            other => {
                return drop(
                    out.send(Piece::Failed(internal(&format!("{other:?}"))))
                        .await,
                );
            }
        };
        self.follow(request, msgs, out).await;
    }

    /// The new message alone, when the session continues; otherwise the
    /// whole conversation in a new session. Refuses what cannot fit (a
    /// wallet that cannot pay is the protocol's to find: its payment fails).
    async fn prompt(&mut self, msgs: &[Message], limits: Limits) -> Result<Vec<u8>, ApiError> {
        let last = &msgs[msgs.len() - 1..];
        let next = chat::render(last, true);
        let fits = |ctx: u64, text: &[u8]| {
            ctx + tokens::count(text) + limits.max_output <= limits.context_window
        };
        let text = if self.continues(msgs) && fits(self.context_tokens, &next) {
            next
        } else {
            let whole = chat::render(msgs, false);
            if !fits(0, &whole) {
                return Err(context_too_long(tokens::count(&whole), limits));
            }
            if self.session.take().is_some() {
                self.history.clear();
                let rotated =
                    call(&self.commands, self.index, |n, now| n.rotate_session(now)).await;
                rotated
                    .map_err(|e| internal(&e.to_string()))?
                    .map_err(|e| internal(&e.to_string()))?;
            }
            whole
        };
        Ok(text)
    }

    /// Relays the turn's events until it ends.
    async fn follow(&mut self, request: u64, msgs: Vec<Message>, out: &mpsc::Sender<Piece>) {
        let mut utf8 = Vec::new();
        let mut streamed = false;
        let mut interrupted = false;
        while let Some(e) = self.events.recv().await {
            self.track(&e);
            match e {
                ClientEvent::Text { request: r, text } if r == request && !interrupted => {
                    utf8.extend_from_slice(&text);
                    let valid = valid_prefix(&utf8);
                    if valid > 0 {
                        let s = String::from_utf8_lossy(&utf8[..valid]).into_owned();
                        utf8.drain(..valid);
                        streamed = true;
                        let _ = out.send(Piece::Text(s)).await;
                    }
                }
                ClientEvent::TurnDone(rep) if rep.request == request => {
                    return self.finish(Box::new(rep), msgs, interrupted, out).await;
                }
                ClientEvent::TurnFailed {
                    request: r,
                    reason,
                    retrying,
                } if r == request => {
                    if !retrying {
                        return drop(out.send(Piece::Failed(turn_error(&reason))).await);
                    }
                    interrupted |= streamed;
                }
                _ => {}
            }
        }
    }

    async fn finish(
        &mut self,
        rep: Box<TurnReport>,
        mut msgs: Vec<Message>,
        interrupted: bool,
        out: &mpsc::Sender<Piece>,
    ) {
        let reply = String::from_utf8_lossy(&rep.response).into_owned();
        msgs.push(Message::new("assistant", &reply));
        self.history = msgs;
        self.context_tokens = rep.context_tokens;
        let relays = self.session.map_or(0, |s| s.1);
        if interrupted {
            let e = ApiError::new(
                StatusCode::BAD_GATEWAY,
                "the reply was interrupted and answered again in a new session; its stream restarted",
                "server_error",
                "interrupted",
            );
            let _ = out.send(Piece::Failed(e)).await;
            return;
        }
        let _ = out.send(Piece::Done(rep, relays)).await;
    }

    /// Session bookkeeping from any client event.
    fn track(&mut self, e: &ClientEvent) {
        match e {
            ClientEvent::SessionOpened {
                session, relays, ..
            } => {
                self.session = Some((*session, relays.len()));
                self.history.clear();
                self.context_tokens = 0;
            }
            ClientEvent::SessionClosed { session, .. }
                if self.session.map(|s| s.0) == Some(*session) =>
            {
                self.session = None;
                self.history.clear();
                self.context_tokens = 0;
            }
            _ => {}
        }
    }

    /// Applies the events that came between requests.
    fn drain(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.track(&e);
        }
    }
}

/// How many leading bytes are whole UTF-8 (an invalid byte counts, so the
/// stream never stalls on it: it comes out as U+FFFD).
fn valid_prefix(b: &[u8]) -> usize {
    match std::str::from_utf8(b) {
        Ok(_) => b.len(),
        Err(e) if e.error_len().is_some() => b.len(),
        Err(e) => e.valid_up_to(),
    }
}

fn context_too_long(tokens: u64, limits: Limits) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!(
            "this conversation is {tokens} tokens and the reply may take {}, over the {}-token context window",
            limits.max_output, limits.context_window
        ),
        "invalid_request_error",
        "context_length_exceeded",
    )
}

fn internal(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the client node could not take the request: {why}"),
        "server_error",
        "internal",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_character_waits_for_its_other_half() {
        let e = "é".as_bytes();
        assert_eq!(valid_prefix(&[b'a', e[0]]), 1);
        assert_eq!(valid_prefix(&[b'a', e[0], e[1]]), 3);
        assert_eq!(valid_prefix(&[0xff]), 1, "invalid bytes pass through");
    }
}
