//! The fuzz seed corpus: real protocol bytes for every decoder target.
//! Datagrams are captured from a whole session (DHT lookups, capability
//! fetches, circuit builds, the streamed answer, payments); application
//! messages, NUT bodies, quotes and receipts come from a real mint, wallet
//! and identity.
//!
//! The test checks that real traffic decodes under each strict decoder (a
//! decoder that refused what the protocol sends would fail here) and that
//! every target handles every seed. With `P2P_FUZZ_SEEDS=1` it also writes
//! the seeds into `protocol/fuzz/corpus/<target>/` (named by content hash),
//! which is how the committed seed corpus was made.
#![allow(clippy::unwrap_used)]

mod decoders;
mod node_common;
mod vnet;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use node_common::*;
use peer2prompt::codec::Writer;
use peer2prompt::dht::capability;
use peer2prompt::dht::wire::{Body, Message};
use peer2prompt::ecash::messages::{CheckStateRequest, MintQuoteRequest};
use peer2prompt::ecash::mint::ys_of;
use peer2prompt::ecash::wallet::{NoHold, SendPlan};
use peer2prompt::ecash::{
    Amount, CurrencyUnit, LightningPayer, LightningPayment, Mint, MintConfig, MintUrl, PayerId,
    Proof, Wallet, WalletPolicy,
};
use peer2prompt::identity::Identity;
use peer2prompt::market::{FxRate, Quote, Receipt, SignedQuote, SignedReceipt};
use peer2prompt::node::service::ServiceCapabilities;
use peer2prompt::node::wire::{
    InferRequest, MintApiRequest, MintApiResponse, Refusal, ServiceRequest, ServiceResponse,
};
use peer2prompt::node::{AppMessage, ServiceKind, TAG_DHT, TAG_ONION};
use peer2prompt::onion::cell::{Cell, ROUTING_LEN};
use peer2prompt::onion::fragment;
use peer2prompt::onion::header::{NextHop, SlotCmd, SlotHeader};
use peer2prompt::onion::messages::{ExtendRequest, encode_surb_batch};
use peer2prompt::onion::surb::Surb;
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

type Seeds = BTreeMap<&'static str, Vec<Vec<u8>>>;

/// Every datagram of one funded, answered and paid session.
fn captured() -> Vec<Vec<u8>> {
    let mut w = World::capturing(&Spec::default());
    let c = w.index(Kind::Client, 0);
    w.fund(c, 5_000);
    w.ask(c, b"what is a reply block?").unwrap();
    w.capture.take().unwrap()
}

/// Keeps at most `per` items of each kind, in order.
fn at_most<T, K: Ord>(items: Vec<T>, per: usize, kind: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen: BTreeMap<K, usize> = BTreeMap::new();
    items
        .into_iter()
        .filter(|x| {
            let n = seen.entry(kind(x)).or_default();
            *n += 1;
            *n <= per
        })
        .collect()
}

fn body_kind(b: &Body) -> &'static str {
    match b {
        Body::Ping => "ping",
        Body::FindNode { .. } => "find_node",
        Body::FindValue { .. } => "find_value",
        Body::Store { .. } => "store",
        Body::CapabilityRequest(_) => "capability_request",
        Body::Pong => "pong",
        Body::Nodes { .. } => "nodes",
        Body::Value { .. } => "value",
        Body::Stored { .. } => "stored",
        Body::CapabilityResponse(_) => "capability_response",
    }
}

fn network_seeds(seeds: &mut Seeds) {
    let all = captured();
    let onion: Vec<Vec<u8>> = all
        .iter()
        .filter(|d| d.first() == Some(&TAG_ONION))
        .map(|d| d[1..].to_vec())
        .collect();
    let dht: Vec<Vec<u8>> = all
        .iter()
        .filter(|d| d.first() == Some(&TAG_DHT))
        .map(|d| d[1..].to_vec())
        .collect();
    for cell in &onion {
        Cell::decode(cell).expect("every cell the protocol sends decodes");
    }
    let messages: Vec<Message> = dht
        .iter()
        .map(|m| Message::decode(m).expect("every DHT message the protocol sends decodes"))
        .collect();
    let cells = at_most(onion, 6, |c| c[4]);
    let dht = at_most(dht, 6, |m| {
        Message::decode(m).map(|m| body_kind(&m.body)).unwrap_or("")
    });
    let mut adverts = Vec::new();
    let mut answers = Vec::new();
    for m in &messages {
        match &m.body {
            Body::Store { advert, .. } => adverts.push(advert.as_ref().clone()),
            Body::Value { adverts: a } => adverts.extend(a.iter().cloned()),
            Body::CapabilityResponse(r) => answers.push([&r.nonce[..], &r.sealed].concat()),
            _ => {}
        }
    }
    let kinds: Vec<&str> = messages.iter().map(|m| body_kind(&m.body)).collect();
    assert!(
        !adverts.is_empty(),
        "the session fetched adverts: {kinds:?}"
    );
    let adverts = at_most(adverts, 3, |a| a.role.descriptor());
    seeds.insert(
        "advert",
        adverts
            .iter()
            .map(|a| {
                let mut w = Writer::default();
                a.encode(&mut w);
                w.into_inner()
            })
            .collect(),
    );
    seeds
        .entry("capability")
        .or_default()
        .extend(answers.into_iter().take(4));
    seeds.insert(
        "node_datagram",
        cells
            .iter()
            .map(|c| [&[TAG_ONION][..], c].concat())
            .chain(dht.iter().map(|m| [&[TAG_DHT][..], m].concat()))
            .collect(),
    );
    seeds.insert("link_cell", cells);
    seeds.insert("dht_message", dht);
}

fn onion_seeds(seeds: &mut Seeds) {
    let addr = SocketAddr::from(([10, 1, 0, 1], 9000));
    let mut headers = Vec::new();
    for cmd in [
        SlotCmd::Forward,
        SlotCmd::Deliver,
        SlotCmd::Extend,
        SlotCmd::Cover,
        SlotCmd::Route,
    ] {
        for next in [
            NextHop::None,
            NextHop::Node { addr, handle: 7 },
            NextHop::Mailbox {
                id: [5; 16],
                handle: 9,
            },
        ] {
            let h = SlotHeader {
                cmd,
                surb: cmd == SlotCmd::Forward,
                seq: 3,
                expiry: Instant::ZERO + Duration::from_secs(600),
                next,
            };
            headers.push(h.encode().to_vec());
        }
    }
    seeds.insert("slot_header", headers);
    let surb = |b: u8| Surb {
        first_hop: addr,
        first_handle: u32::from(b),
        header: Box::new([b; ROUTING_LEN]),
    };
    let extend = ExtendRequest {
        next: SocketAddr::from(([10, 2, 0, 1], 9000)),
        onionskin: [4; peer2prompt::onion::ntor::ONIONSKIN_LEN],
        reply: surb(2),
    };
    seeds.insert(
        "reply_block",
        vec![
            surb(1).encode(),
            encode_surb_batch(&[surb(1), surb(2)])[1..].to_vec(),
            extend.encode(),
        ],
    );
    let msg = AppMessage::Service(ServiceRequest::GetQuote {
        model: "gpt-4o".into(),
    })
    .encode();
    let long = vec![7u8; 3_000];
    seeds.insert(
        "fragment",
        [
            fragment::split(1, &msg, 400).unwrap(),
            fragment::split(2, &long, 1_000).unwrap(),
        ]
        .concat(),
    );
}

/// A mint and a wallet holding 1,000 sat of its ecash.
fn bank() -> (Mint, Wallet, ChaCha20Rng, MintUrl) {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut mint = Mint::new(MintConfig::default(), &mut rng);
    let url = MintUrl("mint://seed".into());
    let mut w = Wallet::new(WalletPolicy::default(), Box::new(NoHold));
    w.add_mint(url.clone(), &mint.keysets()).unwrap();
    let req = MintQuoteRequest {
        amount: Amount::new(1_000),
        unit: CurrencyUnit::default(),
    };
    let q = mint
        .create_mint_quote(Instant::ZERO, &req, &mut rng)
        .unwrap();
    let payer = LightningPayer::Node(PayerId(1));
    mint.handle_lightning_payment(
        Instant::ZERO,
        LightningPayment {
            quote: q.quote,
            amount: q.amount,
            payer,
        },
    )
    .unwrap();
    let pending = w.prepare_issue(&url, q.quote, q.amount, &mut rng).unwrap();
    let from = SocketAddr::from(([127, 0, 0, 1], 1));
    let sigs = mint.mint(Instant::ZERO, from, &pending.request()).unwrap();
    w.complete_issue(pending, &sigs.signatures, Instant::ZERO)
        .unwrap();
    (mint, w, rng, url)
}

fn proofs(
    w: &mut Wallet,
    url: &MintUrl,
    sat: u64,
    rng: &mut ChaCha20Rng,
) -> (Vec<Proof>, Option<MintApiRequest>) {
    match w.send(url, Amount::new(sat), Instant::ZERO, rng).unwrap() {
        SendPlan::Ready(p) => (p, None),
        SendPlan::Swap(pending) => {
            let req = MintApiRequest::Swap(pending.request());
            w.abort_swap(pending);
            (Vec::new(), Some(req))
        }
    }
}

/// A service's signed quote and receipt, as a session carries them.
fn quote_and_receipt(url: &MintUrl, rng: &mut ChaCha20Rng) -> (Quote, SignedQuote, SignedReceipt) {
    let id = Identity::generate_with(rng, Default::default());
    let fx = FxRate::default();
    let quote = Quote {
        service: id.node_id(),
        model: "gpt-4o".into(),
        input: fx.price(5.0),
        output: fx.price(20.0),
        max_output_tokens: 2_000,
        chunk_msat: 2_000,
        mints: vec![url.0.clone()],
        valid_from: Instant::ZERO,
        valid_until: Instant::ZERO + Duration::from_secs(3_600),
        serial: 1,
    };
    let signed = SignedQuote::sign(&id, quote.clone());
    let receipt = SignedReceipt::sign(
        &id,
        Receipt {
            service: id.node_id(),
            quote: quote.id(),
            input_tokens: 10,
            output_tokens: 300,
            charged_msat: 6_050,
            response_hash: [8; 32],
        },
    );
    (quote, signed, receipt)
}

/// A capability record and a sealed capability answer that opens.
fn capability_seeds(seeds: &mut Seeds, rng: &mut ChaCha20Rng) {
    let caps = ServiceCapabilities {
        kind: ServiceKind::Gpu { quality: 0.8 },
        offers: vec![offer(2_000)],
    };
    seeds
        .entry("capability")
        .or_default()
        .push(postcard::to_allocvec(&caps).unwrap());
    let f = decoders::CapabilityFixture::new();
    let answer = capability::respond(&f.onion, &f.request, &f.salt, &f.capabilities, rng).unwrap();
    capability::open(&f.fetch, &f.request, &answer, &f.commitment)
        .expect("the fixture's answer opens");
    seeds
        .entry("capability")
        .or_default()
        .push([&answer.nonce[..], &answer.sealed].concat());
}

fn application_seeds(seeds: &mut Seeds) {
    let (mint, mut wallet, mut rng, url) = bank();
    let (payment, _) = proofs(&mut wallet, &url, 512, &mut rng);
    let (_, swap) = proofs(&mut wallet, &url, 3, &mut rng);
    let (quote, signed, receipt) = quote_and_receipt(&url, &mut rng);
    let ys = ys_of(&payment).unwrap();
    let requests = [
        MintApiRequest::Keys,
        MintApiRequest::MintQuote(MintQuoteRequest {
            amount: Amount::new(64),
            unit: CurrencyUnit::default(),
        }),
        swap.clone().unwrap(),
        MintApiRequest::CheckState(CheckStateRequest { ys: ys.clone() }),
    ];
    let responses = [
        MintApiResponse::Keys(mint.keysets()),
        MintApiResponse::States(mint.check_state(&CheckStateRequest { ys })),
    ];
    let app = [
        AppMessage::Service(ServiceRequest::GetQuote {
            model: "gpt-4o".into(),
        }),
        AppMessage::Service(ServiceRequest::Infer(InferRequest {
            quote: quote.id(),
            prompt: b"hello".to_vec(),
            max_output_tokens: 300,
            mint: url.0.clone(),
            payment: payment.clone(),
            probe: Some([1; 16]),
        })),
        AppMessage::Service(ServiceRequest::Pay {
            payment: payment.clone(),
        }),
        AppMessage::ServiceReply(ServiceResponse::Quote(signed.clone())),
        AppMessage::ServiceReply(ServiceResponse::Stream {
            text: b"tokens".to_vec(),
        }),
        AppMessage::ServiceReply(ServiceResponse::NeedPayment {
            claimed_msat: 4_000,
        }),
        AppMessage::ServiceReply(ServiceResponse::Done(receipt.clone())),
        AppMessage::ServiceReply(ServiceResponse::Refused(Refusal::BadPayment("dleq".into()))),
    ]
    .into_iter()
    .chain(
        requests
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, request)| AppMessage::Mint {
                seq: i as u64,
                request,
            }),
    )
    .chain(
        responses
            .iter()
            .cloned()
            .map(|response| AppMessage::MintReply { seq: 1, response }),
    );
    let app: Vec<Vec<u8>> = app.map(|m| m.encode()).collect();
    for m in &app {
        AppMessage::decode(m).expect("every application message decodes");
    }
    seeds.insert("app_message", app);
    let mut nut = vec![
        [
            &[0u8][..],
            &serde_json::to_vec(&MintQuoteRequest {
                amount: Amount::new(64),
                unit: CurrencyUnit::default(),
            })
            .unwrap(),
        ]
        .concat(),
        [&[7u8][..], &serde_json::to_vec(&mint.keysets()).unwrap()].concat(),
        [&[8u8][..], &serde_json::to_vec(&payment[0]).unwrap()].concat(),
    ];
    if let Some(MintApiRequest::Swap(s)) = swap {
        nut.push([&[2u8][..], &serde_json::to_vec(&s).unwrap()].concat());
    }
    seeds.insert("nut_json", nut);
    seeds.insert(
        "quote_receipt",
        vec![
            postcard::to_allocvec(&signed).unwrap(),
            postcard::to_allocvec(&receipt).unwrap(),
            postcard::to_allocvec(&responses[0]).unwrap(),
        ],
    );
    capability_seeds(seeds, &mut rng);
}

fn all_seeds() -> Seeds {
    let mut seeds = Seeds::new();
    network_seeds(&mut seeds);
    onion_seeds(&mut seeds);
    application_seeds(&mut seeds);
    seeds
}

#[test]
fn real_traffic_decodes_and_every_target_handles_it() {
    let seeds = all_seeds();
    let write = std::env::var_os("P2P_FUZZ_SEEDS").is_some();
    for (name, target) in decoders::TARGETS {
        let list = seeds
            .get(name)
            .unwrap_or_else(|| panic!("no seeds for {name}"));
        assert!(!list.is_empty(), "no seeds for {name}");
        for s in list {
            target(s);
        }
        if write {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus")
                .join(name);
            std::fs::create_dir_all(&dir).unwrap();
            for s in list {
                let hash = hex::encode(&Sha256::digest(s)[..8]);
                std::fs::write(dir.join(format!("seed-{hash}")), s).unwrap();
            }
        }
    }
}
