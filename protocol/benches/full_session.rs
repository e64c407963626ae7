//! Whole-protocol benchmark (`cargo bench -p peer2prompt --bench full_session`).
//!
//! Stable ids:
//! - `protocol/full_session`: one complete single-turn session, all roles'
//!   CPU with real cryptography: a fresh route and circuit through three
//!   relays, a signed quote, the prompt with its first prepaid chunk, the
//!   streamed 300-token reply over reply blocks with the further chunks
//!   (each a swap at the mint), the receipt, and the service's settlement.
//!   The directory and the circuits to the mint are warm, as for every
//!   session after a client's first.
//! - `market/quote_sign`, `market/quote_verify`, `market/receipt_sign`,
//!   `market/receipt_verify`: the Ed25519 work on quotes and receipts.
//!
//! After measuring, it prints the census of cryptographic operations per
//! session over exactly the sessions it timed, priced with the ecash, onion
//! and market benches' latest estimates (from `target/criterion`), and the
//! share of the session that is not cryptography.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

#[path = "../tests/node_common/mod.rs"]
mod node_common;
#[path = "../tests/vnet/mod.rs"]
mod vnet;

use peer2prompt::fidelity::CryptoFidelity;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use node_common::{Kind, Spec, World};
use peer2prompt::ecash::MintObservation;
use peer2prompt::identity::Identity;
use peer2prompt::market::{FxRate, Quote, QuoteId, Receipt, SignedQuote, SignedReceipt};
use peer2prompt::node::{ClientEvent, NodeEvent, Observation, ServiceEvent};
use peer2prompt::onion::client::ClientStats;
use peer2prompt::onion::observe::ObservedCell;
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PROMPT: &[u8] = b"Summarise the causes of the 1929 stock market crash in three paragraphs.";

/// A world with a funded client that has run one session already.
fn warm_world() -> (World, usize) {
    let mut w = World::new(&Spec::default());
    let c = w.index(Kind::Client, 0);
    w.fund(c, 1_000_000);
    let mut census = Census::default();
    session(&mut w, c, &mut census);
    (w, c)
}

/// Cryptographic operations, counted over sessions.
#[derive(Debug, Default)]
struct Census {
    sessions: u64,
    client: ClientStats,
    hop_creates: u64,
    hop_cells: u64,
    hop_replies: u64,
    outputs: u64,
    mint_inputs: u64,
    received: u64,
    quotes: u64,
    receipts: u64,
}

fn onion_stats(w: &World) -> ClientStats {
    let mut s = ClientStats::default();
    for e in &w.nodes {
        let n = e.node.onion_stats();
        s.handshakes += n.handshakes;
        s.forward_cells += n.forward_cells;
        s.layers_sealed += n.layers_sealed;
        s.surbs_built += n.surbs_built;
        s.replies_opened += n.replies_opened;
    }
    s
}

/// One complete single-turn session; its work is added to `census`.
fn session(w: &mut World, c: usize, census: &mut Census) {
    let before = onion_stats(w);
    let now = w.now();
    w.nodes[c].node.rotate_session(now).unwrap();
    w.collect(c);
    w.clear_events();
    let r = w.ask(c, PROMPT).unwrap();
    assert_eq!(r.turn, 1);
    let after = onion_stats(w);
    census.sessions += 1;
    census.client.handshakes += after.handshakes - before.handshakes;
    census.client.forward_cells += after.forward_cells - before.forward_cells;
    census.client.layers_sealed += after.layers_sealed - before.layers_sealed;
    census.client.surbs_built += after.surbs_built - before.surbs_built;
    census.client.replies_opened += after.replies_opened - before.replies_opened;
    for e in &w.nodes {
        for ev in &e.events {
            match ev {
                NodeEvent::Observed(Observation::Hop(h)) => match h.cell {
                    ObservedCell::Create => census.hop_creates += 1,
                    ObservedCell::Relay => census.hop_cells += 1,
                    ObservedCell::Surb => census.hop_replies += 1,
                    _ => {}
                },
                NodeEvent::Observed(Observation::Mint(MintObservation::Swap {
                    inputs,
                    output_amounts,
                    ..
                })) => {
                    census.mint_inputs += inputs.len() as u64;
                    census.outputs += output_amounts.len() as u64;
                }
                NodeEvent::Observed(Observation::Mint(MintObservation::Issuance {
                    amounts,
                    ..
                })) => {
                    census.outputs += amounts.len() as u64;
                }
                NodeEvent::Observed(
                    Observation::ServiceRequest { payment, .. }
                    | Observation::ServicePayment { payment, .. },
                ) => census.received += payment.len() as u64,
                NodeEvent::Client(ClientEvent::SessionOpened { .. }) => census.quotes += 1,
                NodeEvent::Service(ServiceEvent::Served { .. }) => census.receipts += 1,
                _ => {}
            }
        }
    }
}

/// The mean of a criterion estimate from an earlier run, in microseconds.
fn estimate_us(id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_path_buf())
        })?;
    let path = dir
        .join("criterion")
        .join(id)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"]
        .as_f64()
        .map(|ns| ns / 1000.0)
}

/// One operation of a session: its name, count per session, the unit
/// benches whose sum is its cost, and a scale on that sum.
type CostRow = (&'static str, f64, Vec<&'static str>, f64);

/// The census as operations per session, each with the benches that price it.
fn cost_rows(census: &Census) -> Vec<CostRow> {
    let n = census.sessions.max(1) as f64;
    let per = |x: u64| x as f64 / n;
    let c = &census.client;
    // (operation, count per session, unit benches whose sum is its cost, scale)
    vec![
        (
            "ntor, client side",
            per(c.handshakes),
            vec!["onion/ntor_client_create", "onion/ntor_client"],
            1.0,
        ),
        (
            "ntor, hop side",
            per(census.hop_creates),
            vec!["onion/ntor_server"],
            1.0,
        ),
        (
            "onion layers sealed by clients",
            per(c.layers_sealed),
            vec!["onion/client_seal_cell"],
            0.25,
        ),
        (
            "forward cells at hops",
            per(census.hop_cells),
            vec!["onion/relay_cell"],
            1.0,
        ),
        (
            "reply blocks built",
            per(c.surbs_built),
            vec!["onion/surb_build"],
            1.0,
        ),
        (
            "reply cells at hops",
            per(census.hop_replies),
            vec!["onion/surb_process_hop"],
            1.0,
        ),
        (
            "reply cells sealed by exits",
            per(c.replies_opened),
            vec!["onion/surb_process_hop"],
            1.0,
        ),
        (
            "reply cells opened by clients",
            per(c.replies_opened),
            vec!["onion/client_open_reply"],
            1.0,
        ),
        (
            "outputs blinded",
            per(census.outputs),
            vec!["ecash/blind"],
            1.0,
        ),
        (
            "outputs signed with DLEQ",
            per(census.outputs),
            vec!["ecash/sign", "ecash/dleq_prove"],
            1.0,
        ),
        (
            "outputs unblinded, DLEQ checked",
            per(census.outputs),
            vec!["ecash/unblind", "ecash/dleq_verify_blind_signature"],
            1.0,
        ),
        (
            "proofs stored (Y computed)",
            per(census.outputs),
            vec!["ecash/hash_to_curve"],
            1.0,
        ),
        (
            "proofs verified by the mint",
            per(census.mint_inputs),
            vec!["ecash/verify"],
            1.0,
        ),
        (
            "proofs verified offline (DLEQ)",
            per(census.received),
            vec!["ecash/dleq_verify"],
            1.0,
        ),
        (
            "payment Ys (payer, payee, report)",
            3.0 * per(census.received),
            vec!["ecash/hash_to_curve"],
            1.0,
        ),
        (
            "quotes",
            per(census.quotes),
            vec!["market/quote_sign", "market/quote_verify"],
            1.0,
        ),
        (
            "receipts",
            per(census.receipts),
            vec!["market/receipt_sign", "market/receipt_verify"],
            1.0,
        ),
    ]
}

/// Prints the census per session and, where the ecash, onion and market
/// benches have run, its cryptographic cost next to the measured session.
fn report(census: &Census) {
    let rows = cost_rows(census);
    eprintln!(
        "\nfull_session: cryptographic operations per session (mean of {} sessions)",
        census.sessions
    );
    let mut total = Some(0.0);
    for (what, count, units, scale) in &rows {
        let unit: Option<f64> = units
            .iter()
            .map(|u| estimate_us(u))
            .sum::<Option<f64>>()
            .map(|u| u * scale);
        match unit {
            Some(u) => eprintln!(
                "  {what:<36} {count:>7.1} x {u:>8.2} us = {:>9.1} us",
                count * u
            ),
            None => eprintln!(
                "  {what:<36} {count:>7.1}   (run the ecash, onion and market benches for its cost)"
            ),
        }
        total = total.zip(unit).map(|(t, u)| t + count * u);
    }
    match (total, estimate_us("protocol/full_session")) {
        (Some(crypto), Some(session)) => eprintln!(
            "  cryptography {crypto:.0} us; whole session {session:.0} us; overhead beyond the cryptography {:.1}%",
            (session / crypto - 1.0) * 100.0
        ),
        _ => eprintln!(
            "  (cost table incomplete: run `cargo bench -p peer2prompt` once, then this bench again)"
        ),
    }
}

fn full_session(c: &mut Criterion) {
    let (mut w, client) = warm_world();
    let mut census = Census::default();
    let mut g = c.benchmark_group("protocol");
    g.sample_size(20);
    g.bench_function("full_session", |b| {
        b.iter(|| session(&mut w, client, &mut census))
    });
    g.finish();
    report(&census);
}

fn market(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let id = Identity::generate(&mut rng, 0);
    let fx = FxRate::default();
    let quote = Quote {
        service: id.node_id(),
        model: "gpt-4o".into(),
        input: fx.price(5.0),
        output: fx.price(20.0),
        max_output_tokens: 2000,
        chunk_msat: 2000,
        mints: vec!["mint".into()],
        valid_from: Instant::ZERO,
        valid_until: Instant::ZERO + Duration::from_secs(3600),
        serial: 1,
    };
    let signed = SignedQuote::sign(&id, quote.clone());
    let receipt = Receipt {
        service: id.node_id(),
        quote: QuoteId([1; 16]),
        input_tokens: 100,
        output_tokens: 300,
        charged_msat: 6500,
        response_hash: [9; 32],
    };
    let signed_receipt = SignedReceipt::sign(&id, receipt.clone());
    let key = signed.identity_key;
    let mut g = c.benchmark_group("market");
    g.bench_function("quote_sign", |b| {
        b.iter(|| SignedQuote::sign(&id, black_box(quote.clone())))
    });
    g.bench_function("quote_verify", |b| {
        b.iter(|| {
            black_box(&signed)
                .verify(Instant::ZERO, CryptoFidelity::Full)
                .unwrap()
        })
    });
    g.bench_function("receipt_sign", |b| {
        b.iter(|| SignedReceipt::sign(&id, black_box(receipt.clone())))
    });
    g.bench_function("receipt_verify", |b| {
        b.iter(|| {
            black_box(&signed_receipt)
                .verify(
                    &key,
                    QuoteId([1; 16]),
                    100,
                    300,
                    &[9; 32],
                    CryptoFidelity::Full,
                )
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, full_session, market);
criterion_main!(benches);
