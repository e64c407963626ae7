//! An [`InferenceBackend`] over HTTP to any OpenAI-compatible upstream
//! (whitepaper "Ghost Node Function": send the prompt and parameters to the
//! provider API and stream the response; "GPU Node Competition": a GPU
//! node runs open models, here behind a local server such as Ollama, vLLM
//! or llama.cpp's, which speak the same API).
//!
//! The trait is sans-IO, so the HTTP exchange runs in a tokio task per
//! job: it posts `/chat/completions` with `stream: true`, parses the
//! server-sent events and queues their text as [`BackendOutput`]s, then
//! rings the node's [`Notify`] so the node's task polls them. The prompt's
//! chat frames become the request's messages ([`crate::chat`]).
//!
//! Billing stays the protocol's: the service meters what it streams in the
//! protocol's token unit, which the client can check; the upstream's own
//! `usage` (its tokenizer's count) is kept in [`UpstreamUsage`] for the
//! operator's cost accounting. Output past the job's cap (in the
//! protocol's unit) is cut, as the quote's cap requires.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use peer2prompt::backend::{
    BackendError, BackendOutput, InferenceBackend, Job, ProviderObservation,
};
use peer2prompt::market::tokens::BYTES_PER_TOKEN;
use peer2prompt::time::Instant;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::chat;

/// Where the upstream is and how to call it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Base URL up to and including the API version, e.g.
    /// `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1` (Ollama).
    pub base_url: String,
    /// Sent as `Authorization: Bearer ...` when set.
    pub api_key: Option<String>,
    /// The models offered (advertised and quoted under these names and
    /// passed through to the upstream as they are).
    pub models: Vec<String>,
    /// The address outgoing connections leave from (the Ghost's own), so
    /// the upstream sees the Ghost and nobody else.
    pub local_ip: Option<IpAddr>,
    /// The whole exchange's limit.
    pub timeout: Duration,
}

impl UpstreamConfig {
    /// The upstream named by the environment: `P2P_UPSTREAM_URL` (or
    /// `OPENAI_BASE_URL`), `P2P_UPSTREAM_API_KEY` (or `OPENAI_API_KEY`) and
    /// `P2P_UPSTREAM_MODEL` (comma-separated; default `gpt-4o-mini`).
    /// `None` when no URL is set: the services use the simulated provider.
    pub fn from_env() -> Option<Self> {
        let var = |a: &str, b: &str| std::env::var(a).or_else(|_| std::env::var(b)).ok();
        let base_url = var("P2P_UPSTREAM_URL", "OPENAI_BASE_URL")?;
        let models = std::env::var("P2P_UPSTREAM_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into());
        Some(UpstreamConfig {
            base_url,
            api_key: var("P2P_UPSTREAM_API_KEY", "OPENAI_API_KEY"),
            models: models.split(',').map(|m| m.trim().to_owned()).collect(),
            local_ip: None,
            timeout: Duration::from_secs(300),
        })
    }
}

impl UpstreamConfig {
    /// The GPU nodes' local model server named by the environment:
    /// `P2P_GPU_URL` (e.g. `http://127.0.0.1:11434/v1` for Ollama) and
    /// `P2P_GPU_MODEL` (default `llama3.2`); no key. `None` when unset.
    pub fn gpu_from_env() -> Option<Self> {
        let base_url = std::env::var("P2P_GPU_URL").ok()?;
        let model = std::env::var("P2P_GPU_MODEL").unwrap_or_else(|_| "llama3.2".into());
        Some(UpstreamConfig {
            base_url,
            api_key: None,
            models: vec![model],
            local_ip: None,
            timeout: Duration::from_secs(300),
        })
    }
}

/// What the upstream reported it used, over every job (its own counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpstreamUsage {
    /// Jobs that reached the upstream.
    pub requests: u64,
    /// Its `usage.prompt_tokens`, summed.
    pub prompt_tokens: u64,
    /// Its `usage.completion_tokens`, summed.
    pub completion_tokens: u64,
}

type Outputs = Arc<Mutex<VecDeque<BackendOutput>>>;

/// The HTTP backend.
pub struct OpenAiBackend {
    cfg: UpstreamConfig,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    outputs: Outputs,
    wake: Arc<Notify>,
    tasks: HashMap<u64, JoinHandle<()>>,
    usage: Arc<Mutex<UpstreamUsage>>,
}

/// Why the backend could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// The HTTP client refused the configuration.
    #[error("upstream HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Not inside a tokio runtime.
    #[error("the upstream backend needs a tokio runtime")]
    NoRuntime,
}

impl OpenAiBackend {
    /// A backend for `cfg` that rings `wake` when output arrives.
    pub fn new(cfg: UpstreamConfig, wake: Arc<Notify>) -> Result<Self, UpstreamSetupError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| UpstreamSetupError::NoRuntime)?;
        let mut b = reqwest::Client::builder().timeout(cfg.timeout);
        if let Some(ip) = cfg.local_ip {
            b = b.local_address(ip);
        }
        Ok(OpenAiBackend {
            http: b.build()?,
            cfg,
            runtime,
            outputs: Outputs::default(),
            wake,
            tasks: HashMap::new(),
            usage: Arc::default(),
        })
    }

    /// What the upstream reported it used so far.
    pub fn usage(&self) -> Arc<Mutex<UpstreamUsage>> {
        self.usage.clone()
    }
}

impl InferenceBackend for OpenAiBackend {
    fn submit(&mut self, _now: Instant, job: Job) -> Result<(), BackendError> {
        if !self.cfg.models.contains(&job.model) {
            return Err(BackendError::UnknownModel);
        }
        let call = Call {
            http: self.http.clone(),
            url: format!(
                "{}/chat/completions",
                self.cfg.base_url.trim_end_matches('/')
            ),
            api_key: self.cfg.api_key.clone(),
            cap_bytes: job.max_output_tokens as usize * BYTES_PER_TOKEN,
            body: request_body(&job),
            job: job.id,
            outputs: self.outputs.clone(),
            wake: self.wake.clone(),
            usage: self.usage.clone(),
        };
        self.tasks.insert(job.id, self.runtime.spawn(call.run()));
        Ok(())
    }

    fn cancel(&mut self, job: u64) {
        if let Some(t) = self.tasks.remove(&job) {
            t.abort();
        }
    }

    fn poll_output(&mut self, _now: Instant) -> Option<BackendOutput> {
        let out = lock(&self.outputs).pop_front()?;
        if let BackendOutput::Done { job } | BackendOutput::Failed { job, .. } = &out {
            self.tasks.remove(job);
        }
        Some(out)
    }

    /// Due now while output waits; otherwise the node is woken when it
    /// comes.
    fn poll_timeout(&self) -> Option<Instant> {
        (!lock(&self.outputs).is_empty()).then_some(Instant::ZERO)
    }

    /// The real provider keeps its own logs; this backend reports none.
    fn poll_observation(&mut self) -> Option<ProviderObservation> {
        None
    }

    fn models(&self) -> Vec<String> {
        self.cfg.models.clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The chat-completions request for `job`.
fn request_body(job: &Job) -> Value {
    json!({
        "model": job.model,
        "messages": chat::parse(&job.prompt),
        "max_tokens": job.max_output_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    })
}

/// One job's HTTP exchange.
struct Call {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    cap_bytes: usize,
    body: Value,
    job: u64,
    outputs: Outputs,
    wake: Arc<Notify>,
    usage: Arc<Mutex<UpstreamUsage>>,
}

impl Call {
    async fn run(self) {
        let end = match self.stream().await {
            Ok(()) => BackendOutput::Done { job: self.job },
            Err(error) => BackendOutput::Failed {
                job: self.job,
                error,
            },
        };
        self.push(end);
    }

    fn push(&self, out: BackendOutput) {
        lock(&self.outputs).push_back(out);
        self.wake.notify_one();
    }

    async fn stream(&self) -> Result<(), BackendError> {
        let mut req = self.http.post(&self.url).json(&self.body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| {
            tracing::debug!("upstream unreachable: {e}");
            BackendError::Transient
        })?;
        status_error(resp.status().as_u16())?;
        lock(&self.usage).requests += 1;
        let mut events = SseLines::default();
        let mut sent = 0usize;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| BackendError::Transient)?;
            for data in events.push(&chunk) {
                if data == "[DONE]" {
                    return Ok(());
                }
                let Ok(v) = serde_json::from_str::<Value>(&data) else {
                    continue;
                };
                self.count_usage(&v);
                let text = delta_text(&v);
                let room = self.cap_bytes.saturating_sub(sent);
                let piece = cut_at_char(text, room);
                if !piece.is_empty() {
                    sent += piece.len();
                    self.push(BackendOutput::Tokens {
                        job: self.job,
                        text: piece.as_bytes().to_vec(),
                    });
                }
            }
        }
        Ok(())
    }

    fn count_usage(&self, v: &Value) {
        let Some(u) = v.get("usage").filter(|u| u.is_object()) else {
            return;
        };
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut usage = lock(&self.usage);
        usage.prompt_tokens += n("prompt_tokens");
        usage.completion_tokens += n("completion_tokens");
    }
}

/// The protocol's backend error for an HTTP status (2xx: none).
pub fn status_error(status: u16) -> Result<(), BackendError> {
    match status {
        200..=299 => Ok(()),
        429 => Err(BackendError::RateLimited),
        401..=403 => Err(BackendError::Banned),
        404 => Err(BackendError::UnknownModel),
        _ => Err(BackendError::Transient),
    }
}

/// The text of a streamed chunk's first choice (empty if none).
fn delta_text(v: &Value) -> &str {
    v.pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn cut_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Splits a server-sent-event byte stream into `data:` payloads, across
/// chunk boundaries.
#[derive(Default)]
pub struct SseLines {
    pending: Vec<u8>,
}

impl SseLines {
    /// Feeds bytes; returns the `data:` payloads of the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(data) = line.strip_prefix("data:") {
                out.push(data.trim_start().to_owned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_payloads_survive_any_chunking() {
        let stream = b"data: {\"a\":1}\n\n: comment\ndata: [DONE]\r\n\r\n";
        for cut in 0..stream.len() {
            let mut s = SseLines::default();
            let mut got = s.push(&stream[..cut]);
            got.extend(s.push(&stream[cut..]));
            assert_eq!(got, vec!["{\"a\":1}".to_owned(), "[DONE]".to_owned()]);
        }
    }

    #[test]
    fn statuses_map_to_backend_errors() {
        assert_eq!(status_error(200), Ok(()));
        assert_eq!(status_error(429), Err(BackendError::RateLimited));
        assert_eq!(status_error(401), Err(BackendError::Banned));
        assert_eq!(status_error(404), Err(BackendError::UnknownModel));
        assert_eq!(status_error(503), Err(BackendError::Transient));
    }

    #[test]
    fn output_is_cut_on_a_character_boundary() {
        assert_eq!(cut_at_char("héllo", 2), "h");
        assert_eq!(cut_at_char("héllo", 3), "hé");
        assert_eq!(cut_at_char("hi", 9), "hi");
    }
}
