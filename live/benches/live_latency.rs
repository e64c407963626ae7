//! Time to first token and whole-request time through a live 13-node
//! network on loopback (3 relays each way, ecash paid per chunk), against
//! calling the same test upstream directly; and requests per second with
//! four clients in parallel. The difference is the network's cost:
//! circuit cells through three relays and back, the quote, and the
//! prepaid chunks' swaps at the mint.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TestUpstream;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use peer2prompt_live::{LiveSpec, Running, UpstreamConfig, up};
use serde_json::{Value, json};

const MODEL: &str = "bench-model";

fn network(rt: &tokio::runtime::Runtime, url: &str, clients: u32) -> Running {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut spec = LiveSpec::new(
        None,
        |c| (c.relays, c.ghosts, c.gpus, c.mints, c.clients) = (8, 2, 1, 1, clients),
        listen,
    )
    .unwrap();
    let u = UpstreamConfig {
        base_url: url.to_owned(),
        api_key: None,
        models: vec![MODEL.into()],
        local_ip: None,
        timeout: Duration::from_secs(30),
    };
    spec.ghost_upstream = Some(u.clone());
    spec.gpu_upstream = Some(u);
    spec.fund_sat = 10_000_000;
    rt.block_on(up(&spec, Duration::from_secs(60))).unwrap()
}

fn body(n: usize, stream: bool) -> String {
    // A new conversation each time: every request opens a session.
    json!({"model": MODEL, "stream": stream,
           "messages": [{"role": "user", "content": format!("request {n}: say something")}]})
    .to_string()
}

async fn whole(http: &reqwest::Client, base: &str, n: usize) {
    let r = http
        .post(format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .body(body(n, false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("echo:")
    );
}

async fn first_token(http: &reqwest::Client, base: &str, n: usize) {
    let mut r = http
        .post(format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .body(body(n, true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    while r.chunk().await.unwrap().is_some() {}
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let upstream = TestUpstream::default();
    let url = rt.block_on(upstream.start());
    let http = reqwest::Client::new();
    let mut g = c.benchmark_group("live");
    g.sample_size(10);
    let mut n = 0;
    g.bench_function("direct_upstream_request", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(whole(&http, &url, n))
        })
    });
    let one = network(&rt, &url, 1);
    let base = one.base_url();
    g.bench_function("network_request_13_nodes", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(whole(&http, &base, n))
        })
    });
    g.bench_function("network_stream_13_nodes", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(first_token(&http, &base, n))
        })
    });
    rt.block_on(one.down()).books.unwrap();
    let four = network(&rt, &url, 4);
    let base = four.base_url();
    g.throughput(Throughput::Elements(4));
    g.bench_function("network_4_parallel_requests_16_nodes", |b| {
        b.iter(|| {
            n += 4;
            let reqs = (0..4).map(|k| whole(&http, &base, n + k));
            rt.block_on(futures_util::future::join_all(reqs))
        })
    });
    g.finish();
    rt.block_on(four.down()).books.unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
