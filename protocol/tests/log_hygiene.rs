//! Log hygiene (issue 5): a TRACE log of a whole session carries the lifecycle
//! but no prompt, response, route element or token secret.
//!
//! This test has its own binary on purpose: `tracing` caches per-callsite
//! interest process-wide, so another test thread logging with no subscriber
//! can race a scoped subscriber and drop its lines.
#![allow(clippy::unwrap_used)]

mod node_common;
mod vnet;

use node_common::*;

const PROMPT: &[u8] = b"PROMPT-MARKER-7f3a: what is the airspeed velocity of an unladen swallow?";

/// Captures everything `tracing` writes while `f` runs, at every level.
fn capture_logs(f: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = sink.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn logs_carry_no_prompts_routes_or_token_secrets() {
    let mut w = World::new(&Spec::default());
    let c = w.index(Kind::Client, 0);
    let mut report = None;
    let logs = capture_logs(|| {
        w.fund(c, 5_000);
        report = Some(w.ask(c, PROMPT).unwrap());
    });
    let r = report.unwrap();
    // Logging was on: the lifecycle is visible in it.
    for line in [
        "session opened",
        "turn started",
        "payment sent",
        "request served",
        "settled at the mint",
        "turn done",
    ] {
        assert!(logs.contains(line), "missing log line {line:?}");
    }
    // No prompt or response text.
    assert!(!logs.contains("PROMPT-MARKER-7f3a"));
    assert!(!logs.contains("swallow"));
    let fragment = String::from_utf8_lossy(&r.response[..24]).into_owned();
    assert!(!logs.contains(&fragment), "response text in the logs");
    // No route: neither the addresses nor the identities of the client, its relays or its service.
    let (_, relays, exit) = w.sessions_opened(c).remove(0);
    let mut route: Vec<String> = vec![w.nodes[c].node.addr().ip().to_string()];
    for id in relays.iter().chain([&exit]) {
        route.push(w.addr_of(id).ip().to_string());
        route.push(id.to_string());
    }
    for needle in &route {
        assert!(
            !logs.contains(needle.as_str()),
            "route element {needle} in the logs"
        );
    }
    // No token secrets, and no payment identifiers either.
    let mut secrets: Vec<String> = Vec::new();
    for e in &w.nodes {
        for wallet in [e.node.client_wallet(), e.node.service_wallet()]
            .into_iter()
            .flatten()
        {
            for url in wallet.mints() {
                for h in wallet.proofs(url) {
                    secrets.push(
                        serde_json::to_string(&h.proof.secret)
                            .unwrap()
                            .trim_matches('"')
                            .to_owned(),
                    );
                    secrets.push(h.proof.c.to_string());
                }
            }
        }
    }
    assert!(secrets.len() > 4);
    for (_, _, ys) in w.paid_events(c, r.request) {
        secrets.extend(ys.iter().map(ToString::to_string));
    }
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a token secret or payment id in the logs"
        );
    }
}
