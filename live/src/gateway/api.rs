//! The OpenAI chat-completions wire format, as much of it as the entrance
//! serves, and OpenAI-style errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::chat::Message;

/// A `POST /v1/chat/completions` body.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The model asked for.
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<WireMessage>,
    /// Stream server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Most output tokens wanted (checked against the context window; the
    /// network's per-turn cap applies).
    #[serde(default, alias = "max_completion_tokens")]
    pub max_tokens: Option<u64>,
}

/// A message as clients send it: content is a string, a list of parts,
/// or null.
#[derive(Debug, Deserialize)]
pub struct WireMessage {
    /// Its role.
    pub role: String,
    /// Its content.
    #[serde(default)]
    pub content: Value,
}

impl WireMessage {
    /// The message with its text parts joined (other parts are refused).
    pub fn text(&self) -> Result<Message, ApiError> {
        let content = match &self.content {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Array(parts) => parts
                .iter()
                .map(|p| match (p.get("type"), p.get("text")) {
                    (Some(t), Some(Value::String(s))) if t == "text" => Ok(s.as_str()),
                    _ => Err(ApiError::invalid("only text content parts are supported")),
                })
                .collect::<Result<Vec<_>, _>>()?
                .concat(),
            _ => {
                return Err(ApiError::invalid(
                    "message content must be a string or parts",
                ));
            }
        };
        Ok(Message {
            role: self.role.clone(),
            content,
        })
    }
}

/// An error answered the way OpenAI's API answers them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// OpenAI's error type.
    pub kind: &'static str,
    /// OpenAI's error code.
    pub code: &'static str,
}

impl ApiError {
    /// 400: the request is malformed or inconsistent.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            message,
            "invalid_request_error",
            "invalid_request",
        )
    }

    /// A new error.
    pub fn new(
        status: StatusCode,
        message: impl Into<String>,
        kind: &'static str,
        code: &'static str,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": null,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
