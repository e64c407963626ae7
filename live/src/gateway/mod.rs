//! The OpenAI-compatible entrance at the clients: `POST
//! /v1/chat/completions` (streaming and not) and `GET /v1/models`. Each
//! request becomes a Peer2Prompt turn on a client node (quote, route,
//! prepaid ecash chunks, streamed reply, receipt); the response's `usage`
//! gives the tokens metered, and the `peer2prompt` field and the
//! `x-peer2prompt-*` headers what was paid.

pub mod api;
pub mod failure;
pub mod slot;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream, StreamExt};
use peer2prompt::node::TurnReport;
use peer2prompt_sim::population::Kind;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};

use crate::chat::Message;
use crate::driver::Command;
use crate::network::{LiveNetwork, call};
use api::{ApiError, ChatRequest};
use slot::{Limits, Piece, Slot};

/// The entrance's state.
pub struct Gateway {
    slots: Vec<Arc<Mutex<Slot>>>,
    directory_of: mpsc::UnboundedSender<Command>,
    model: String,
    limits: Limits,
}

impl Gateway {
    /// The entrance over every client of `net`, each turn given `timeout`.
    pub fn new(net: &mut LiveNetwork, timeout: Duration) -> Option<Arc<Self>> {
        let clients = net.of_kind(Kind::Client);
        let first = *clients.first()?;
        let slots = clients
            .iter()
            .filter_map(|&c| {
                let events = net.take_client_events(c)?;
                Some(Arc::new(Mutex::new(Slot::new(c, net.commands(c), events))))
            })
            .collect();
        Some(Arc::new(Gateway {
            slots,
            directory_of: net.commands(first),
            model: net.model.clone(),
            limits: Limits {
                context_window: net.context_window,
                max_output: net.max_output_tokens,
                timeout,
            },
        }))
    }

    /// The router.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat))
            .fallback(|| async {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no such endpoint",
                    "invalid_request_error",
                    "not_found",
                )
            })
            .with_state(self)
    }

    /// The models the services in the first client's directory offer.
    async fn offered(&self) -> Result<Vec<String>, ApiError> {
        call(&self.directory_of, 0, |n, _| {
            n.offered_models().into_iter().collect()
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
                "server_error",
                "node_gone",
            )
        })
    }

    /// A free slot, preferring one whose session holds this conversation;
    /// when all are busy, the first to come free.
    async fn slot_for(&self, msgs: &[Message]) -> OwnedMutexGuard<Slot> {
        let mut free = None;
        for s in &self.slots {
            if let Ok(g) = s.clone().try_lock_owned() {
                if g.continues(msgs) {
                    return g;
                }
                free.get_or_insert(g);
            }
        }
        if let Some(g) = free {
            return g;
        }
        // Every slot is busy: the first to come free.
        let waits = self.slots.iter().map(|s| Box::pin(s.clone().lock_owned()));
        futures_util::future::select_all(waits).await.0
    }
}

async fn models(State(g): State<Arc<Gateway>>) -> Response {
    match g.offered().await {
        Ok(models) => {
            let data: Vec<Value> = models
                .iter()
                .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "peer2prompt"}))
                .collect();
            axum::Json(json!({"object": "list", "data": data})).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn chat(State(g): State<Arc<Gateway>>, body: Bytes) -> Response {
    match start(&g, &body).await {
        Ok((req, first, rx)) if req.stream => sse(req.model, first, rx).into_response(),
        Ok((req, first, rx)) => whole(&req.model, first, rx, g.limits).await,
        Err(e) => e.into_response(),
    }
}

/// Checks the request, starts its turn and waits for the first piece (so
/// that a failure before any text is an HTTP error, streaming or not).
async fn start(
    g: &Gateway,
    body: &[u8],
) -> Result<(ChatRequest, Piece, mpsc::Receiver<Piece>), ApiError> {
    let req: ChatRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("malformed JSON body: {e}")))?;
    let msgs = req
        .messages
        .iter()
        .map(|m| m.text())
        .collect::<Result<Vec<_>, _>>()?;
    if msgs.last().is_none_or(|m| m.role != "user") {
        return Err(ApiError::invalid("messages must end with a user message"));
    }
    let offered = g.offered().await?;
    if !offered.contains(&req.model) || req.model != g.model {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "the model `{}` is not offered here; the services offer {offered:?} and the clients ask for `{}`",
                req.model, g.model
            ),
            "invalid_request_error",
            "model_not_found",
        ));
    }
    // The client asks for the network's per-turn cap whatever `max_tokens`
    // says, and rotates by it: the checks here must use the same.
    let limits = g.limits;
    let (tx, mut rx) = mpsc::channel(256);
    let mut slot = g.slot_for(&msgs).await;
    tokio::spawn(async move { slot.turn(msgs, limits, tx).await });
    match rx.recv().await {
        Some(Piece::Failed(e)) => Err(e),
        Some(first) => Ok((req, first, rx)),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the turn ended without an answer",
            "server_error",
            "internal",
        )),
    }
}

/// The non-streaming answer.
async fn whole(
    model: &str,
    first: Piece,
    mut rx: mpsc::Receiver<Piece>,
    limits: Limits,
) -> Response {
    let mut p = first;
    loop {
        match p {
            Piece::Text(_) => {}
            Piece::Done(rep, relays) => return completion(model, &rep, relays, limits),
            Piece::Failed(e) => return e.into_response(),
        }
        p = match rx.recv().await {
            Some(p) => p,
            None => break,
        };
    }
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the turn ended without an answer",
        "server_error",
        "internal",
    )
    .into_response()
}

fn completion(model: &str, rep: &TurnReport, relays: usize, limits: Limits) -> Response {
    let body = json!({
        "id": completion_id(rep),
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": String::from_utf8_lossy(&rep.response)},
            "finish_reason": finish_reason(rep, limits),
        }],
        "usage": usage(rep),
        "peer2prompt": paid(rep, relays),
    });
    let mut resp = axum::Json(body).into_response();
    let h = resp.headers_mut();
    h.insert("x-peer2prompt-paid-msat", HeaderValue::from(rep.paid_msat));
    h.insert(
        "x-peer2prompt-charged-msat",
        HeaderValue::from(rep.charged_msat),
    );
    h.insert("x-peer2prompt-relays", HeaderValue::from(relays as u64));
    resp
}

/// The streaming answer: `chat.completion.chunk` events, a last chunk
/// with `usage` and what was paid, then `[DONE]`.
fn sse(
    model: String,
    first: Piece,
    rx: mpsc::Receiver<Piece>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let created = unix_now();
    let pieces = stream::once(async { first }).chain(stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|p| (p, rx))
    }));
    let events = pieces
        .flat_map(move |p| stream::iter(chunk_events(&model, created, p)))
        .chain(stream::once(async { Event::default().data("[DONE]") }))
        .map(Ok);
    Sse::new(events)
}

fn chunk_events(model: &str, created: u64, p: Piece) -> Vec<Event> {
    let chunk = |id: &str, delta: Value, finish: Value, extra: Option<(&str, Value)>| {
        let mut v = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let Some((k, x)) = extra {
            v[k] = x;
        }
        Event::default().data(v.to_string())
    };
    match p {
        Piece::Text(t) => vec![chunk(
            "chatcmpl-p2p",
            json!({"role": "assistant", "content": t}),
            Value::Null,
            None,
        )],
        Piece::Done(rep, relays) => {
            let id = completion_id(&rep);
            let last = json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [], "usage": usage(&rep), "peer2prompt": paid(&rep, relays),
            });
            vec![
                chunk(&id, json!({}), json!("stop"), None),
                Event::default().data(last.to_string()),
            ]
        }
        Piece::Failed(e) => vec![Event::default().data(e.body().to_string())],
    }
}

fn completion_id(rep: &TurnReport) -> String {
    format!("chatcmpl-p2p-{}-{}", rep.session, rep.request)
}

fn usage(rep: &TurnReport) -> Value {
    json!({
        "prompt_tokens": rep.input_tokens,
        "completion_tokens": rep.output_tokens,
        "total_tokens": rep.input_tokens + rep.output_tokens,
    })
}

/// What the turn cost and how it travelled (the `peer2prompt` extension).
fn paid(rep: &TurnReport, relays: usize) -> Value {
    json!({
        "session": rep.session,
        "turn": rep.turn,
        "relays": relays,
        "paid_msat": rep.paid_msat,
        "charged_msat": rep.charged_msat,
        "ttft_ms": (rep.first_token - rep.started).as_secs_f64() * 1e3,
    })
}

fn finish_reason(rep: &TurnReport, limits: Limits) -> &'static str {
    if rep.output_tokens >= limits.max_output {
        "length"
    } else {
        "stop"
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_piece_after_the_first_is_never_lost() {
        let (tx, rx) = mpsc::channel(4);
        let e = ApiError::new(StatusCode::BAD_GATEWAY, "x", "server_error", "turn_failed");
        assert!(tx.send(Piece::Failed(e)).await.is_ok());
        let limits = Limits {
            context_window: 100,
            max_output: 10,
            timeout: Duration::from_secs(1),
        };
        let r = whole("m", Piece::Text("a".into()), rx, limits).await;
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    }
}
