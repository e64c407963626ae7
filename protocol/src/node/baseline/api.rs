//! The direct provider API and its caller as node roles (the status quo of
//! whitepaper "Attack Economics"): the caller sends its account key and
//! prompt straight to the provider, which logs both with the caller's
//! address ([`ApiObservation`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use super::conversation::Conversation;
use super::upstream::{Replies, ReplyTo, Upstream};
use crate::backend::{BackendError, InferenceBackend};
use crate::baselines::direct::{ApiObservation, ApiRequest, ApiResponse, ApiSaw};
use crate::market::tokens;
use crate::node::{AppMessage, Ctx, NodeEvent, Observation};
use crate::time::{Duration, Instant};

/// How a provider API is set up (nothing to choose yet: it serves what its
/// backend serves).
#[derive(Clone, Debug, Default)]
pub struct ApiProviderConfig {}

/// How a direct API user is set up.
#[derive(Clone, Debug)]
pub struct ApiClientConfig {
    /// The provider's address.
    pub provider: SocketAddr,
    /// The user's account.
    pub account: String,
    /// The model.
    pub model: String,
    /// Output tokens asked per request.
    pub max_output_tokens: u32,
    /// Context window in tokens.
    pub context_window: u64,
    /// A request unanswered this long is retried.
    pub timeout: Duration,
    /// Attempts per request.
    pub attempts: u32,
}

/// The provider role.
pub(crate) struct ApiProvider {
    upstream: Upstream,
    accounts: HashMap<u64, (SocketAddr, String)>,
    next_serial: u64,
}

impl ApiProvider {
    pub fn new(backend: Box<dyn InferenceBackend>) -> Self {
        ApiProvider {
            upstream: Upstream::new(backend),
            accounts: Default::default(),
            next_serial: 1,
        }
    }

    pub fn on_request(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr, seq: u64, req: ApiRequest) {
        let serial = self.next_serial;
        self.next_serial += 1;
        let seen = ApiSaw::Prompt {
            serial,
            prompt: req.prompt.clone(),
        };
        observe(ctx, from, &req.account, seen);
        let reply = ReplyTo::Direct(from);
        match self.upstream.submit(
            ctx.now,
            &req.model,
            req.prompt,
            req.max_output_tokens,
            (reply, seq, serial),
        ) {
            Ok(()) => {
                self.accounts.insert(serial, (from, req.account));
            }
            Err(e) => send(ctx, reply, seq, ApiResponse::Refused(e.to_string())),
        }
    }

    pub fn poll(&mut self, ctx: &mut Ctx<'_>) -> bool {
        self.upstream.relay(ctx, &mut Words(&mut self.accounts))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.upstream.poll_timeout()
    }
}

/// The provider's answers; a finished job's response goes to its log.
struct Words<'a>(&'a mut HashMap<u64, (SocketAddr, String)>);

impl Replies for Words<'_> {
    fn chunk(&self, seq: u64, text: Vec<u8>) -> AppMessage {
        let response = ApiResponse::Stream { text };
        AppMessage::ApiReply { seq, response }
    }

    fn finished(&mut self, ctx: &mut Ctx<'_>, seq: u64, serial: u64, r: Vec<u8>) -> AppMessage {
        let output_tokens = tokens::count(&r);
        if let Some((from, account)) = self.0.remove(&serial) {
            observe(
                ctx,
                from,
                &account,
                ApiSaw::Response {
                    serial,
                    response: r,
                },
            );
        }
        let response = ApiResponse::Done { output_tokens };
        AppMessage::ApiReply { seq, response }
    }

    fn failed(&self, seq: u64, error: BackendError) -> AppMessage {
        let response = ApiResponse::Refused(error.to_string());
        AppMessage::ApiReply { seq, response }
    }
}

fn observe(ctx: &mut Ctx<'_>, from: SocketAddr, account: &str, seen: ApiSaw) {
    let o = ApiObservation {
        at: ctx.now,
        from,
        account: account.to_owned(),
        seen,
    };
    ctx.emit(NodeEvent::Observed(Observation::Api(o)));
}

fn send(ctx: &mut Ctx<'_>, reply: ReplyTo, seq: u64, response: ApiResponse) {
    ctx.answer(reply, &AppMessage::ApiReply { seq, response });
}

/// The direct API user.
pub(crate) struct ApiClient {
    cfg: ApiClientConfig,
    chat: Conversation,
}

impl ApiClient {
    pub fn new(cfg: ApiClientConfig) -> Self {
        ApiClient {
            cfg,
            chat: Conversation::default(),
        }
    }

    pub fn ask(&mut self, ctx: &mut Ctx<'_>, text: Vec<u8>) -> u64 {
        let id = self.chat.ask(text);
        self.progress(ctx);
        id
    }

    pub fn restart(&mut self) {
        self.chat.restart();
    }

    fn progress(&mut self, ctx: &mut Ctx<'_>) {
        if !self.chat.ready() {
            return;
        }
        let c = &self.cfg;
        let Some((seq, prompt)) =
            self.chat
                .begin(ctx.now, c.timeout, c.context_window, c.max_output_tokens)
        else {
            return;
        };
        let request = ApiRequest {
            account: c.account.clone(),
            model: c.model.clone(),
            prompt,
            max_output_tokens: c.max_output_tokens,
        };
        ctx.send_direct(c.provider, &AppMessage::Api { seq, request });
    }

    pub fn on_direct(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr, seq: u64, r: ApiResponse) {
        if from != self.cfg.provider {
            return;
        }
        match r {
            ApiResponse::Stream { text } => self.chat.chunk(ctx, seq, &text),
            ApiResponse::Done { output_tokens } => {
                self.chat.finish(ctx, seq, output_tokens, None, None)
            }
            ApiResponse::Refused(why) => {
                if self.chat.current.as_ref().is_some_and(|f| f.seq == seq) {
                    self.chat.fail(ctx, self.cfg.attempts, &why);
                }
            }
        }
        self.progress(ctx);
    }

    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.chat.deadline().is_some_and(|d| d <= ctx.now) {
            self.chat.fail(ctx, self.cfg.attempts, "timed out");
        }
        self.progress(ctx);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.chat.deadline()
    }
}
