//! How a chat conversation travels as a Peer2Prompt prompt. The protocol
//! carries a prompt as bytes and a session's context as the bytes of its
//! turns so far (whitepaper "Session Semantics for Multi-Turn Chat": the
//! conversation is sent with each turn), so the entrance frames each
//! message ChatML-style and the Ghost's upstream client parses the frames
//! back into messages:
//!
//! ```text
//! <|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n
//! ```
//!
//! The reply streams in after the open assistant frame; the next turn's
//! text closes it (`<|im_end|>\n`) before its own user frame. Text that
//! itself contains the markers splits into more messages; it is the
//! user's own prompt, so nothing leaks.

use serde::{Deserialize, Serialize};

const START: &str = "<|im_start|>";
const END: &str = "<|im_end|>\n";

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` (or a developer role).
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message of `role` with `content`.
    pub fn new(role: &str, content: &str) -> Self {
        Message {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }
}

/// The prompt bytes of `messages`, ending in an open assistant frame;
/// `continuing` closes the previous turn's assistant frame first.
pub fn render(messages: &[Message], continuing: bool) -> Vec<u8> {
    let mut s = String::new();
    if continuing {
        s.push_str(END);
    }
    for m in messages {
        s.push_str(START);
        s.push_str(&m.role);
        s.push('\n');
        s.push_str(&m.content);
        s.push_str(END);
    }
    s.push_str(START);
    s.push_str("assistant\n");
    s.into_bytes()
}

/// The messages a prompt carries. A prompt with no frames is one user
/// message (a client other than the entrance sent plain text); the final
/// empty assistant frame (where the reply goes) is dropped.
pub fn parse(prompt: &[u8]) -> Vec<Message> {
    let text = String::from_utf8_lossy(prompt);
    if !text.contains(START) {
        return vec![Message::new("user", &text)];
    }
    let mut out = Vec::new();
    for frame in text.split(START).skip(1) {
        let (role, body) = frame.split_once('\n').unwrap_or((frame, ""));
        let content = body.strip_suffix(END).unwrap_or(body);
        out.push(Message::new(role.trim(), content));
    }
    if out
        .last()
        .is_some_and(|m| m.role == "assistant" && m.content.is_empty())
    {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_turn_context_parses_back_into_its_messages() {
        let first = vec![
            Message::new("system", "Be brief."),
            Message::new("user", "Hi"),
        ];
        let mut context = render(&first, false);
        context.extend_from_slice(b"Hello!\nHow can I help?");
        context.extend_from_slice(&render(&[Message::new("user", "2+2?")], true));
        let got = parse(&context);
        let want = vec![
            Message::new("system", "Be brief."),
            Message::new("user", "Hi"),
            Message::new("assistant", "Hello!\nHow can I help?"),
            Message::new("user", "2+2?"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn plain_text_is_one_user_message() {
        assert_eq!(parse(b"just text"), vec![Message::new("user", "just text")]);
    }

    #[test]
    fn broken_frames_never_panic() {
        for p in [
            &b"<|im_start|>"[..],
            b"<|im_start|>user",
            b"\xff<|im_start|>\n\n",
        ] {
            let _ = parse(p);
        }
    }
}
