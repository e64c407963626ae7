//! A small OpenAI-compatible upstream for the live tests and benches:
//! deterministic, streaming, on loopback. It answers each chat request
//! with `echo: ` and the last user message, in pieces, then a usage
//! chunk and `[DONE]`, and records who asked what.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One request the upstream saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The TCP peer.
    pub from: SocketAddr,
    /// The request body.
    pub body: Value,
}

/// The test upstream.
#[derive(Clone, Default)]
pub struct TestUpstream {
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// The answer to `body`: `echo: ` and the last message's content.
pub fn answer(body: &Value) -> String {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    format!("echo: {last}")
}

impl TestUpstream {
    /// Serves on `127.0.0.1:0`; returns the base URL (`.../v1`).
    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        format!("http://{addr}/v1")
    }
}

async fn complete(
    State(u): State<TestUpstream>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    u.seen.lock().unwrap().push(Seen {
        from,
        body: body.clone(),
    });
    let text = answer(&body);
    if body["stream"] != json!(true) {
        return axum::Json(json!({
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }))
        .into_response();
    }
    let mut sse = String::new();
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(6) {
        let s: String = piece.iter().collect();
        let c = json!({"choices": [{"index": 0, "delta": {"content": s}}]});
        sse.push_str(&format!("data: {c}\n\n"));
    }
    let usage =
        json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": chars.len()}});
    sse.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
    ([("content-type", "text/event-stream")], sse).into_response()
}
