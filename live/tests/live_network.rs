//! The live network end to end on loopback (issue 20): 13 nodes on their
//! own UDP sockets, Ghosts and the GPU node calling a deterministic
//! OpenAI-compatible test upstream, driven through the entrance with
//! plain HTTP and (when `P2P_PYTHON` names a Python with the pinned
//! `openai` package, as CI's live step does) with the official client.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::TestUpstream;
use peer2prompt::market::FxRate;
use peer2prompt_live::records::session_records;
use peer2prompt_live::{LiveSpec, Running, UpstreamConfig, up};
use peer2prompt_sim::population::Kind;
use serde_json::{Value, json};

const MODEL: &str = "test-model";
/// The whole test's bound: it stops itself even if something hangs.
const BOUND: Duration = Duration::from_secs(300);

fn spec(relays: u32, services: u32, fund_sat: u64, upstream: Option<&str>) -> LiveSpec {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut s = LiveSpec::new(
        None,
        |c| {
            (c.relays, c.ghosts, c.gpus, c.mints, c.clients) =
                (relays, services, u32::from(services > 1), 1, 1)
        },
        listen,
    )
    .unwrap();
    let u = upstream.map(|url| UpstreamConfig {
        base_url: url.to_owned(),
        api_key: Some("test-key".into()),
        models: vec![MODEL.into()],
        local_ip: None,
        timeout: Duration::from_secs(30),
    });
    s.ghost_upstream = u.clone();
    s.gpu_upstream = u;
    s.fund_sat = fund_sat;
    s
}

async fn post(url: &str, body: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

fn ask(content: &str, history: &[(&str, &str)], stream: bool) -> String {
    let mut msgs: Vec<Value> = history
        .iter()
        .map(|(r, c)| json!({"role": r, "content": c}))
        .collect();
    msgs.push(json!({"role": "user", "content": content}));
    json!({"model": MODEL, "messages": msgs, "stream": stream}).to_string()
}

/// The streamed text and the last JSON chunk of an SSE body.
fn read_sse(body: &str) -> (String, Value, bool) {
    let mut text = String::new();
    let mut last = Value::Null;
    let mut done = false;
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        if let Some(t) = v
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
        {
            text.push_str(t);
        }
        last = v;
    }
    (text, last, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_network_answers_openai_clients_through_three_relays() {
    tokio::time::timeout(BOUND, main_network())
        .await
        .expect("bounded");
}

async fn main_network() {
    let upstream = TestUpstream::default();
    let url = upstream.start().await;
    let spec = spec(8, 2, 20_000, Some(&url));
    let run = up(&spec, Duration::from_secs(60)).await.unwrap();
    assert!(run.net.nodes.len() >= 12, "{} nodes", run.net.nodes.len());
    let base = run.base_url();

    // The models the directory's adverts offer.
    let models: Value = reqwest::get(format!("{base}/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], MODEL);

    // Non-streaming: the reply intact, usage, what was paid, three relays.
    let (status, headers, body) = post(&base, &ask("MARKER-1 hello", &[], false)).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let first = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(first, "echo: MARKER-1 hello");
    let ext = &v["peer2prompt"];
    assert_eq!(ext["relays"], 3);
    check_payment(&spec, &v);
    assert_eq!(
        headers["x-peer2prompt-paid-msat"].to_str().unwrap(),
        ext["paid_msat"].to_string()
    );

    // The next turn continues the same session with the history.
    let hist = [("user", "MARKER-1 hello"), ("assistant", first.as_str())];
    let (status, _, body) = post(&base, &ask("MARKER-2 again", &hist, true)).await;
    assert_eq!(status, 200, "{body}");
    let (text, last, done) = read_sse(&body);
    assert!(done, "ends in [DONE]");
    assert_eq!(text, "echo: MARKER-2 again");
    assert_eq!(
        last["peer2prompt"]["session"], ext["session"],
        "pinned to its session"
    );
    assert_eq!(last["peer2prompt"]["turn"], 2);
    assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    let seen = upstream.seen.lock().unwrap().clone();
    let msgs = seen.last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(msgs.len(), 3, "the upstream got the conversation: {msgs:?}");
    assert_eq!(msgs[1]["content"], first.as_str());

    errors(&base).await;
    python(&base).await;
    check_upstream_and_books(run, &upstream).await;
}

/// The receipt charges the quote's prices; prepaid chunks overshoot by
/// less than one chunk.
fn check_payment(spec: &LiveSpec, v: &Value) {
    let p = &spec.scenario.protocol;
    let fx = FxRate::default();
    let (i, o) = (
        v["usage"]["prompt_tokens"].as_u64().unwrap(),
        v["usage"]["completion_tokens"].as_u64().unwrap(),
    );
    let quoted = fx.price(p.price_in_usd_per_mtok).cost_msat(i)
        + fx.price(p.price_out_usd_per_mtok).cost_msat(o);
    let ext = &v["peer2prompt"];
    let (paid, charged) = (
        ext["paid_msat"].as_u64().unwrap(),
        ext["charged_msat"].as_u64().unwrap(),
    );
    assert_eq!(charged, quoted, "charged by the quote");
    assert!(
        paid >= charged && paid - charged < p.chunk_msat,
        "paid {paid}, charged {charged}"
    );
}

/// Every bad request gets an OpenAI-style error with its code.
async fn errors(base: &str) {
    let cases = [
        ("{not json", 400, "invalid_request"),
        (
            &*json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).to_string(),
            404,
            "model_not_found",
        ),
        (
            &*json!({"model": MODEL, "messages": []}).to_string(),
            400,
            "invalid_request",
        ),
        (
            &*ask(&"long ".repeat(120_000), &[], false),
            400,
            "context_length_exceeded",
        ),
    ];
    for (body, status, code) in cases {
        let (got, _, text) = post(base, body).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (got, v["error"]["code"].as_str().unwrap()),
            (status, code),
            "{text}"
        );
    }
}

/// The official client, when CI provides it.
async fn python(base: &str) {
    let Ok(py) = std::env::var("P2P_PYTHON") else {
        eprintln!("P2P_PYTHON unset: the openai-package half of this test runs in CI's live step");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_client.py");
    let out = tokio::process::Command::new(py)
        .args([script, base, MODEL, "MARKER-PY"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"], json!([MODEL]));
    assert_eq!(v["whole"], "echo: MARKER-PY whole");
    assert_eq!(v["streamed"], "echo: MARKER-PY streamed");
    assert!(v["pieces"].as_u64().unwrap() > 1, "streamed in pieces");
    assert_eq!(v["extension"]["relays"], 3);
    assert_eq!(v["unknown_model_status"], 404);
}

/// The upstream saw prompts only from the services, never from the
/// client; the records and the books close.
async fn check_upstream_and_books(run: Running, upstream: &TestUpstream) {
    let ip_of = |k: Kind| -> HashSet<IpAddr> {
        run.net
            .of_kind(k)
            .into_iter()
            .map(|i| run.net.nodes[i].addr.ip())
            .collect()
    };
    let services: HashSet<IpAddr> = ip_of(Kind::Ghost)
        .union(&ip_of(Kind::Gpu))
        .copied()
        .collect();
    let clients = ip_of(Kind::Client);
    let seen = upstream.seen.lock().unwrap().clone();
    assert!(seen.len() >= 2);
    for s in &seen {
        assert!(
            services.contains(&s.from.ip()),
            "{} is not a service",
            s.from
        );
        assert!(!clients.contains(&s.from.ip()));
    }
    let stopped = run.down().await;
    stopped.books.as_ref().expect("the books balance");
    assert_eq!(stopped.lightning.funded, 20_000);
    let rows = session_records(&stopped.book);
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.hops == 3 && r.system == "peer2prompt")
    );
    assert!(rows.iter().any(|r| r.outcome == "ok" && r.turns >= 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_wallet_and_a_missing_route_are_errors_not_hangs() {
    tokio::time::timeout(BOUND, async {
        // One sat cannot pay a 2-sat prepaid chunk; two relays cannot make a
        // three-relay route (so that wallet stays unfunded: funding needs one).
        for (relays, fund, status, code) in
            [(3, 1, 402, "insufficient_funds"), (2, 0, 503, "no_route")]
        {
            let run = up(&spec(relays, 1, fund, None), Duration::from_secs(30))
                .await
                .unwrap();
            let model = run.net.model.clone();
            let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
                .to_string();
            let (got, _, text) = post(&run.base_url(), &body).await;
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                (got, v["error"]["code"].as_str().unwrap()),
                (status, code),
                "{text}"
            );
            run.down().await.books.expect("the books balance");
        }
    })
    .await
    .expect("bounded");
}
