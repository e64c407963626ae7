//! The LLM-Tor proxy as a node role (seed `004`, "End-to-End Protocol
//! Flow"): the [`Operator`] decides on credits and tokens, the
//! [`Upstream`] runs prompts, and every answer goes back the way its
//! request came (a direct link or the circuit's reply blocks).

use std::net::SocketAddr;

use super::upstream::{Replies, ReplyTo, Upstream};
use crate::backend::{BackendError, InferenceBackend};
use crate::baselines::llm_tor::wire::{LlmTorRequest, LlmTorResponse};
use crate::baselines::llm_tor::{IssuerKey, LlmTorError, Operator, OperatorConfig};
use crate::market::tokens;
use crate::node::{AppMessage, Ctx, NodeEvent, Observation};

/// How the proxy is set up.
#[derive(Clone, Debug)]
pub struct LlmTorProxyConfig {
    /// The blind-signing key (its public half is in every client's config).
    pub key: IssuerKey,
    /// Issuance limits.
    pub operator: OperatorConfig,
}

/// The proxy role.
pub(crate) struct LlmTorProxy {
    operator: Operator,
    upstream: Upstream,
}

impl LlmTorProxy {
    pub fn new(cfg: LlmTorProxyConfig, backend: Box<dyn InferenceBackend>) -> Self {
        LlmTorProxy {
            operator: Operator::new(cfg.key, cfg.operator),
            upstream: Upstream::new(backend),
        }
    }

    /// The operator's state (for the simulator's ledger checks).
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// A request from `prev` (the client on a direct link, the circuit's
    /// last relay otherwise).
    pub fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        (reply, prev): (ReplyTo, SocketAddr),
        seq: u64,
        req: LlmTorRequest,
    ) {
        let now = ctx.now;
        let answer = match req {
            LlmTorRequest::Descriptor => Some(LlmTorResponse::Descriptor(
                *ctx.relay.keyring().current_cert(),
            )),
            LlmTorRequest::Purchase {
                account,
                payer,
                credits,
            } => Some(
                match self.operator.purchase(now, prev, &account, &payer, credits) {
                    Ok(balance) => LlmTorResponse::Purchased { balance },
                    Err(e) => LlmTorResponse::Refused(e),
                },
            ),
            LlmTorRequest::Issue { account, blinded } => Some(
                match self
                    .operator
                    .issue(now, prev, &account, &blinded, &mut *ctx.crypto)
                {
                    Ok(blind_signatures) => LlmTorResponse::Issued { blind_signatures },
                    Err(e) => LlmTorResponse::Refused(e),
                },
            ),
            LlmTorRequest::Redeem {
                token,
                model,
                prompt,
                max_output_tokens,
            } => self
                .operator
                .redeem(now, (prev, reply.circuit()), &token, &model, &prompt)
                .and_then(|serial| {
                    self.upstream
                        .submit(now, &model, prompt, max_output_tokens, (reply, seq, serial))
                        .map_err(LlmTorError::Upstream)
                })
                .err()
                .map(LlmTorResponse::Refused),
        };
        if let Some(a) = answer {
            send(ctx, reply, seq, a);
        }
        self.drain(ctx);
    }

    /// Moves upstream output to callers; true if anything moved.
    pub fn poll(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let progress = self.upstream.relay(ctx, &mut Words(&mut self.operator));
        self.drain(ctx);
        progress
    }

    /// An onion session ended: its jobs are dropped.
    pub fn on_session_closed(&mut self, session: u32) {
        self.upstream.cancel_session(session);
    }

    pub fn poll_timeout(&self) -> Option<crate::time::Instant> {
        self.upstream.poll_timeout()
    }

    fn drain(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(o) = self.operator.poll_observation() {
            ctx.emit(NodeEvent::Observed(Observation::LlmTorOperator(o)));
        }
    }
}

/// The proxy's answers; a finished job's response goes to its log.
struct Words<'a>(&'a mut Operator);

impl Replies for Words<'_> {
    fn chunk(&self, seq: u64, text: Vec<u8>) -> AppMessage {
        let response = LlmTorResponse::Stream { text };
        AppMessage::LlmTorReply { seq, response }
    }

    fn finished(&mut self, ctx: &mut Ctx<'_>, seq: u64, serial: u64, r: Vec<u8>) -> AppMessage {
        let output_tokens = tokens::count(&r);
        self.0.responded(ctx.now, serial, r);
        let response = LlmTorResponse::Done { output_tokens };
        AppMessage::LlmTorReply { seq, response }
    }

    fn failed(&self, seq: u64, error: BackendError) -> AppMessage {
        let response = LlmTorResponse::Refused(LlmTorError::Upstream(error));
        AppMessage::LlmTorReply { seq, response }
    }
}

fn send(ctx: &mut Ctx<'_>, reply: ReplyTo, seq: u64, response: LlmTorResponse) {
    ctx.answer(reply, &AppMessage::LlmTorReply { seq, response });
}
