//! Forwarding prompts to an upstream LLM and streaming its answer back,
//! shared by the LLM-Tor proxy and the direct provider API (both stand
//! between a caller and an [`InferenceBackend`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::backend::{BackendError, BackendOutput, InferenceBackend, Job, ProviderObservation};
use crate::node::{AppMessage, Ctx, NodeEvent, Observation};
use crate::time::Instant;

/// Where a job's answer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyTo {
    /// Back through onion session `session` (the node is its endpoint).
    Circuit(u32),
    /// Straight to an address.
    Direct(SocketAddr),
}

impl ReplyTo {
    /// The onion session, if the request came through a circuit.
    pub fn circuit(self) -> Option<u32> {
        match self {
            ReplyTo::Circuit(s) => Some(s),
            ReplyTo::Direct(_) => None,
        }
    }
}

/// A job the upstream is running.
#[derive(Debug)]
struct Running {
    reply: ReplyTo,
    seq: u64,
    serial: u64,
    response: Vec<u8>,
}

/// What the upstream produced.
#[derive(Debug)]
pub(crate) enum Output {
    /// Streamed text for the caller.
    Chunk {
        reply: ReplyTo,
        seq: u64,
        text: Vec<u8>,
    },
    /// The job finished; `response` is everything streamed.
    Done {
        reply: ReplyTo,
        seq: u64,
        serial: u64,
        response: Vec<u8>,
    },
    /// The job failed.
    Failed {
        reply: ReplyTo,
        seq: u64,
        error: BackendError,
    },
    /// What the upstream provider saw.
    Observed(ProviderObservation),
}

/// How a role words its answers, and what it records when a job ends.
pub(crate) trait Replies {
    /// Streamed text of request `seq`.
    fn chunk(&self, seq: u64, text: Vec<u8>) -> AppMessage;
    /// Request `seq` (the role's `serial`) finished with `response`.
    fn finished(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: u64,
        serial: u64,
        response: Vec<u8>,
    ) -> AppMessage;
    /// Request `seq` failed upstream.
    fn failed(&self, seq: u64, error: BackendError) -> AppMessage;
}

/// The upstream and the jobs running on it.
pub(crate) struct Upstream {
    backend: Box<dyn InferenceBackend>,
    running: HashMap<u64, Running>,
    next_job: u64,
}

impl Upstream {
    pub fn new(backend: Box<dyn InferenceBackend>) -> Self {
        Upstream {
            backend,
            running: HashMap::new(),
            next_job: 1,
        }
    }

    /// Submits a prompt; `serial` is the caller's own number for it.
    pub fn submit(
        &mut self,
        now: Instant,
        model: &str,
        prompt: Vec<u8>,
        max_output_tokens: u32,
        (reply, seq, serial): (ReplyTo, u64, u64),
    ) -> Result<(), BackendError> {
        let id = self.next_job;
        self.next_job += 1;
        let job = Job {
            id,
            model: model.to_owned(),
            prompt,
            max_output_tokens,
            probe: None,
        };
        self.backend.submit(now, job)?;
        let response = Vec::new();
        self.running.insert(
            id,
            Running {
                reply,
                seq,
                serial,
                response,
            },
        );
        Ok(())
    }

    /// Everything due by `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Output> {
        let mut out: Vec<Output> =
            std::iter::from_fn(|| self.backend.poll_observation().map(Output::Observed)).collect();
        while let Some(o) = self.backend.poll_output(now) {
            match o {
                BackendOutput::Tokens { job, text } => {
                    if let Some(r) = self.running.get_mut(&job) {
                        r.response.extend_from_slice(&text);
                        out.push(Output::Chunk {
                            reply: r.reply,
                            seq: r.seq,
                            text,
                        });
                    }
                }
                BackendOutput::Done { job } => {
                    if let Some(r) = self.running.remove(&job) {
                        out.push(Output::Done {
                            reply: r.reply,
                            seq: r.seq,
                            serial: r.serial,
                            response: r.response,
                        });
                    }
                }
                BackendOutput::Failed { job, error } => {
                    if let Some(r) = self.running.remove(&job) {
                        out.push(Output::Failed {
                            reply: r.reply,
                            seq: r.seq,
                            error,
                        });
                    }
                }
            }
        }
        // Observations raised while polling outputs.
        out.extend(std::iter::from_fn(|| {
            self.backend.poll_observation().map(Output::Observed)
        }));
        out
    }

    /// Moves everything due to the callers, worded by `r`, and the
    /// provider's observations to the node; true if anything moved.
    pub fn relay(&mut self, ctx: &mut Ctx<'_>, r: &mut dyn Replies) -> bool {
        let out = self.poll(ctx.now);
        let progress = !out.is_empty();
        for o in out {
            match o {
                Output::Chunk { reply, seq, text } => ctx.answer(reply, &r.chunk(seq, text)),
                Output::Done {
                    reply,
                    seq,
                    serial,
                    response,
                } => {
                    let m = r.finished(ctx, seq, serial, response);
                    ctx.answer(reply, &m);
                }
                Output::Failed { reply, seq, error } => ctx.answer(reply, &r.failed(seq, error)),
                Output::Observed(o) => ctx.emit(NodeEvent::Observed(Observation::Provider(o))),
            }
        }
        progress
    }

    /// Cancels the jobs answering onion session `session` (it closed).
    pub fn cancel_session(&mut self, session: u32) {
        let gone: Vec<u64> = self
            .running
            .iter()
            .filter(|(_, r)| r.reply == ReplyTo::Circuit(session))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.running.remove(&id);
            self.backend.cancel(id);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.backend.poll_timeout()
    }
}
