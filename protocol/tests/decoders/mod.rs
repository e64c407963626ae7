//! Every decoder that takes a peer's bytes, as one function each: the fuzz
//! targets (`protocol/fuzz`, coverage-guided with libFuzzer) and the corpus
//! replay test (`tests/fuzz_corpus.rs`, run by CI on stable) share them.
//!
//! A target must never panic. Where a decoder has an encoder, a target also
//! checks that what decoded re-encodes to bytes that decode to the same
//! value, so the fuzzer finds parsers that accept what they cannot write.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use peer2prompt::fidelity::CryptoFidelity;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use peer2prompt::codec::Reader;
use peer2prompt::dht::capability::{self, CapabilityResponse};
use peer2prompt::dht::wire::Message;
use peer2prompt::dht::{Advert, AdvertPolicy};
use peer2prompt::ecash::messages::{
    CheckStateRequest, KeysResponse, MeltQuoteRequest, MeltRequest, MintQuoteRequest, MintRequest,
    RestoreRequest, SwapRequest,
};
use peer2prompt::ecash::nuts::decode_json;
use peer2prompt::ecash::wallet::NoHold;
use peer2prompt::ecash::{Mint, MintConfig, MintUrl, Proof, Wallet, WalletPolicy};
use peer2prompt::identity::Identity;
use peer2prompt::market::{QuoteId, SignedQuote, SignedReceipt};
use peer2prompt::node::service::ServiceCapabilities;
use peer2prompt::node::wire::{MintApiRequest, MintApiResponse};
use peer2prompt::node::{AppMessage, Node, NodeConfig, serve};
use peer2prompt::onion::cell::{Cell, SLOT_PLAIN_LEN};
use peer2prompt::onion::fragment;
use peer2prompt::onion::header::SlotHeader;
use peer2prompt::onion::messages::{ExtendRequest, decode_extended, decode_surb_batch};
use peer2prompt::onion::surb::Surb;
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// A named target.
pub type Target = fn(&[u8]);

/// Every target, by the name of its fuzz binary and corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("link_cell", link_cell),
    ("slot_header", slot_header),
    ("reply_block", reply_block),
    ("fragment", fragment),
    ("dht_message", dht_message),
    ("advert", advert),
    ("capability", capability),
    ("nut_json", nut_json),
    ("app_message", app_message),
    ("quote_receipt", quote_receipt),
    ("node_datagram", node_datagram),
];

/// A link cell: exactly `CELL_LEN` bytes, a known command.
pub fn link_cell(data: &[u8]) {
    let _ = Cell::decode_header(data);
    if let Ok(cell) = Cell::decode(data) {
        assert_eq!(cell.encode(), data, "a cell re-encodes to its own bytes");
    }
}

/// A decrypted routing slot (what a relay reads after opening its layer).
pub fn slot_header(data: &[u8]) {
    let mut slot = [0u8; SLOT_PLAIN_LEN];
    let n = data.len().min(SLOT_PLAIN_LEN);
    slot[..n].copy_from_slice(&data[..n]);
    if let Ok(h) = SlotHeader::decode(&slot) {
        assert_eq!(SlotHeader::decode(&h.encode()).ok(), Some(h));
    }
}

/// Reply blocks, batches of them, extend requests and their answers.
pub fn reply_block(data: &[u8]) {
    if let Ok(s) = Surb::decode(data) {
        assert_eq!(s.encode(), data, "a reply block re-encodes to its bytes");
    }
    if let Ok(batch) = decode_surb_batch(data) {
        let again: Vec<u8> = batch.iter().flat_map(Surb::encode).collect();
        assert_eq!(again, data);
    }
    if let Ok(e) = ExtendRequest::decode(data) {
        let again = ExtendRequest::decode(&e.encode()).unwrap();
        assert_eq!(again.encode(), e.encode());
    }
    let _ = decode_extended(data);
}

/// A payload fragment.
pub fn fragment(data: &[u8]) {
    if let Ok(f) = fragment::parse(data) {
        assert!(f.index < f.count);
        assert!(f.data.len() + fragment::FRAGMENT_HEADER_LEN <= data.len());
    }
}

/// A DHT message (requests, answers, stored adverts, capability fetches).
pub fn dht_message(data: &[u8]) {
    if let Ok(m) = Message::decode(data) {
        let again = Message::decode(&m.encode()).expect("a decoded message re-decodes");
        assert_eq!(again.encode(), m.encode());
    }
}

/// An advert alone, then checked against a policy (signature, work, epoch).
pub fn advert(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(a) = Advert::decode(&mut r) {
        let _ = a.validate(
            Instant::ZERO + Duration::from_secs(60),
            &AdvertPolicy::default(),
        );
        let _ = a.key();
    }
}

/// The capability answer an advertiser sends, opened against a fixed
/// fetch (the seeds include an answer that opens and matches), and the
/// capabilities it carries, as a client prices them.
pub fn capability(data: &[u8]) {
    if let Ok(caps) = postcard::from_bytes::<ServiceCapabilities>(data) {
        for o in &caps.offers {
            let _ = o
                .input
                .cost_msat(u64::MAX)
                .saturating_add(o.output.cost_msat(1_000));
        }
    }
    let (nonce, sealed) = data.split_at(data.len().min(12));
    let mut n = [0u8; 12];
    n[..nonce.len()].copy_from_slice(nonce);
    let f = CapabilityFixture::shared();
    let resp = CapabilityResponse {
        nonce: n,
        sealed: sealed.to_vec(),
    };
    if let Ok(caps) = capability::open(&f.fetch, &f.request, &resp, &f.commitment) {
        assert_eq!(caps, f.capabilities, "only the committed capabilities open");
    }
}

/// A fixed capability fetch: the advertiser's onion key, the client's
/// request, and the committed capabilities.
pub struct CapabilityFixture {
    /// The advertiser's onion secret.
    pub onion: x25519_dalek::StaticSecret,
    /// The client's request.
    pub request: capability::CapabilityRequest,
    /// What the client keeps.
    pub fetch: capability::CapabilityFetch,
    /// The salt behind the commitment.
    pub salt: [u8; 16],
    /// The capabilities.
    pub capabilities: Vec<u8>,
    /// The advert's commitment.
    pub commitment: [u8; 32],
}

impl CapabilityFixture {
    /// One fixture per process: building it costs two X25519 operations,
    /// which would otherwise dominate every fuzz execution.
    pub fn shared() -> &'static Self {
        static FIXTURE: OnceLock<CapabilityFixture> = OnceLock::new();
        FIXTURE.get_or_init(Self::new)
    }

    /// The same fixture every time.
    pub fn new() -> Self {
        let onion = x25519_dalek::StaticSecret::from([9; 32]);
        let public = x25519_dalek::PublicKey::from(&onion).to_bytes();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (request, fetch) = capability::request(&public, &mut rng).unwrap();
        let salt = [6; 16];
        let capabilities = b"{capabilities}".to_vec();
        let commitment = peer2prompt::dht::advert::commit_capabilities(&salt, &capabilities);
        CapabilityFixture {
            onion,
            request,
            fetch,
            salt,
            capabilities,
            commitment,
        }
    }
}

/// NUT JSON bodies: the first byte picks the type; a request that parses
/// is served by a real mint, a keyset answer is offered to a wallet.
pub fn nut_json(data: &[u8]) {
    let Some((which, json)) = data.split_first() else {
        return;
    };
    let request = match which % 9 {
        0 => decode_json::<MintQuoteRequest>(json, "").map(MintApiRequest::MintQuote),
        1 => decode_json::<MintRequest>(json, "").map(MintApiRequest::Mint),
        2 => decode_json::<SwapRequest>(json, "").map(MintApiRequest::Swap),
        3 => decode_json::<MeltQuoteRequest>(json, "").map(MintApiRequest::MeltQuote),
        4 => decode_json::<MeltRequest>(json, "").map(MintApiRequest::Melt),
        5 => decode_json::<CheckStateRequest>(json, "").map(MintApiRequest::CheckState),
        6 => decode_json::<RestoreRequest>(json, "").map(MintApiRequest::Restore),
        7 => {
            if let Ok(keys) = decode_json::<KeysResponse>(json, "") {
                let mut w = Wallet::new(WalletPolicy::default(), Box::new(NoHold));
                let _ = w.add_mint(MintUrl("mint://fuzz".into()), &keys);
            }
            return;
        }
        _ => {
            if let Ok(p) = decode_json::<Proof>(json, "") {
                let _ = serde_json::to_vec(&p).unwrap();
            }
            return;
        }
    };
    if let Ok(request) = request {
        let mut guard = shared_mint().lock().unwrap_or_else(|e| e.into_inner());
        let (mint, rng) = &mut *guard;
        let from = SocketAddr::from(([127, 0, 0, 1], 1));
        let _ = serve(mint, Instant::ZERO, from, request, rng);
    }
}

/// One mint for every input (building keysets is slow); its state grows
/// with the run, which only widens what is exercised.
fn shared_mint() -> &'static Mutex<(Mint, ChaCha20Rng)> {
    static MINT: OnceLock<Mutex<(Mint, ChaCha20Rng)>> = OnceLock::new();
    MINT.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mint = Mint::new(MintConfig::default(), &mut rng);
        Mutex::new((mint, rng))
    })
}

/// Application messages: service requests and answers, quotes, receipts,
/// mint envelopes with their NUT JSON bodies.
pub fn app_message(data: &[u8]) {
    if let Ok(m) = AppMessage::decode(data) {
        assert_eq!(AppMessage::decode(&m.encode()).ok(), Some(m));
    }
}

/// Signed quotes and receipts, decoded and verified.
pub fn quote_receipt(data: &[u8]) {
    if let Ok(q) = postcard::from_bytes::<SignedQuote>(data) {
        let _ = q.verify(Instant::ZERO, CryptoFidelity::Full);
        let _ = q.quote.id();
        let _ = q.quote.cap_msat(u64::MAX);
    }
    if let Ok(r) = postcard::from_bytes::<SignedReceipt>(data) {
        let _ = r.verify(
            &[3; 32],
            QuoteId([1; 16]),
            10,
            10,
            &[0; 32],
            CryptoFidelity::Full,
        );
    }
    let _ = postcard::from_bytes::<MintApiResponse>(data);
}

/// A whole node (relay, DHT, onion client) fed one datagram, then its
/// timers: the path every peer byte takes.
pub fn node_datagram(data: &[u8]) {
    let mut guard = shared_node().lock().unwrap_or_else(|e| e.into_inner());
    let from = SocketAddr::from(([10, 0, 0, 2], 9000));
    let now = Instant::ZERO + Duration::from_secs(1);
    let _ = guard.handle(now, from, data);
    guard.handle_timeout(now);
    while guard.poll_transmit().is_some() {}
    while guard.poll_event().is_some() {}
}

fn shared_node() -> &'static Mutex<Node> {
    static NODE: OnceLock<Mutex<Node>> = OnceLock::new();
    NODE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let identity = Arc::new(Identity::generate_with(&mut rng, Default::default()));
        let addr = SocketAddr::from(([10, 0, 0, 1], 9000));
        let node = Node::new(
            identity,
            addr,
            NodeConfig::default(),
            ChaCha20Rng::seed_from_u64(4),
            ChaCha20Rng::seed_from_u64(5),
            None,
        )
        .expect("a bare relay needs no backend");
        Mutex::new(node)
    })
}
