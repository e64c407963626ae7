//! Ecash benchmarks (`cargo bench -p peer2prompt --bench ecash`).
//!
//! Ids are stable across commits:
//! - `ecash/hash_to_curve`, `ecash/blind`, `ecash/sign`, `ecash/unblind`, `ecash/verify`;
//! - `ecash/round`: blind, sign, unblind and verify in sequence;
//! - `ecash/dleq_prove`: the mint's NUT-12 proof;
//! - `ecash/dleq_verify`: a payee's offline check of one proof (Carol);
//! - `ecash/dleq_verify_blind_signature`: the wallet's check (Alice);
//! - `ecash/swap_8_proofs`: a mint swap of eight proofs into eight outputs,
//!   DLEQ proofs included.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use peer2prompt::ecash::dhke::{
    PublicKey, blind_message, hash_to_curve, random_secret_key, sign_message, unblind_message,
    verify_message,
};
use peer2prompt::ecash::messages::{MintQuoteRequest, SwapRequest};
use peer2prompt::ecash::nuts::{ProofDleq, ScalarHex};
use peer2prompt::ecash::wallet::NoHold;
use peer2prompt::ecash::{
    Amount, BlindedMessage, CurrencyUnit, LightningPayer, LightningPayment, Mint, MintConfig,
    MintUrl, Proof, Wallet, WalletPolicy, dleq,
};
use peer2prompt::time::Instant;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const SECRET: &[u8] = b"407915bc212be61a77e3e6d2aeb4c727980bda51cd06a6afc29e2861768a7837";

fn primitives(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let k = random_secret_key(&mut rng);
    let big_k = PublicKey::from_secret_key(&k);
    let (b_, r) = blind_message(SECRET, None, &mut rng).unwrap();
    let c_ = sign_message(&k, &b_).unwrap();
    let unblinded = unblind_message(&c_, &r, &big_k).unwrap();
    let sig_dleq = dleq::prove(&k, &big_k, &b_, &c_).unwrap();
    let proof_dleq = ProofDleq {
        e: sig_dleq.e,
        s: sig_dleq.s,
        r: ScalarHex::from(r),
    };

    let mut g = c.benchmark_group("ecash");
    g.bench_function("hash_to_curve", |b| {
        b.iter(|| hash_to_curve(black_box(SECRET)))
    });
    g.bench_function("blind", |b| {
        b.iter(|| blind_message(black_box(SECRET), None, &mut rng))
    });
    g.bench_function("sign", |b| b.iter(|| sign_message(&k, black_box(&b_))));
    g.bench_function("unblind", |b| {
        b.iter(|| unblind_message(black_box(&c_), &r, &big_k))
    });
    g.bench_function("verify", |b| {
        b.iter(|| verify_message(&k, black_box(&unblinded), SECRET))
    });
    g.bench_function("round", |b| {
        b.iter(|| {
            let (b_, r) = blind_message(black_box(SECRET), None, &mut rng).unwrap();
            let c_ = sign_message(&k, &b_).unwrap();
            let c = unblind_message(&c_, &r, &big_k).unwrap();
            assert!(verify_message(&k, &c, SECRET).unwrap());
        })
    });
    g.bench_function("dleq_prove", |b| {
        b.iter(|| dleq::prove(&k, &big_k, black_box(&b_), &c_))
    });
    g.bench_function("dleq_verify", |b| {
        b.iter(|| dleq::verify_proof(SECRET, black_box(&unblinded), &proof_dleq, &big_k))
    });
    g.bench_function("dleq_verify_blind_signature", |b| {
        b.iter(|| dleq::verify_blind_signature(black_box(&sig_dleq), &big_k, &b_, &c_))
    });
    g.finish();
}

/// A mint, and a wallet holding eight fresh proofs (1 + 2 + ... + 128).
fn eight_proofs(mint: &mut Mint, rng: &mut ChaCha20Rng) -> Vec<Proof> {
    let url = MintUrl("bench".into());
    let mut w = Wallet::new(WalletPolicy::default(), Box::new(NoHold));
    w.add_mint(url.clone(), &mint.keysets()).unwrap();
    let now = Instant::ZERO;
    let q = mint
        .create_mint_quote(
            now,
            &MintQuoteRequest {
                amount: Amount::new(255),
                unit: CurrencyUnit::default(),
            },
            rng,
        )
        .unwrap();
    mint.handle_lightning_payment(
        now,
        LightningPayment {
            quote: q.quote,
            amount: q.amount,
            payer: LightningPayer::Hidden,
        },
    )
    .unwrap();
    let pending = w.prepare_issue(&url, q.quote, q.amount, rng).unwrap();
    let sigs = mint
        .mint(
            now,
            SocketAddr::from(([10, 0, 0, 1], 1)),
            &pending.request(),
        )
        .unwrap();
    w.complete_issue(pending, &sigs.signatures, now).unwrap();
    while mint.poll_observation().is_some() {}
    w.proofs(&url).iter().map(|h| h.proof.clone()).collect()
}

fn swap(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mint = std::cell::RefCell::new(Mint::new(MintConfig::default(), &mut rng));
    let id = mint.borrow().active_keyset_id();
    let from = SocketAddr::from(([10, 0, 0, 2], 1));
    let mut g = c.benchmark_group("ecash");
    g.sample_size(20);
    g.bench_function("swap_8_proofs", |b| {
        b.iter_batched(
            || {
                let inputs = eight_proofs(&mut mint.borrow_mut(), &mut rng);
                let outputs: Vec<BlindedMessage> = inputs
                    .iter()
                    .map(|p| {
                        let (b_, _) = blind_message(SECRET, None, &mut rng).unwrap();
                        BlindedMessage {
                            amount: p.amount,
                            id,
                            blinded_secret: b_,
                        }
                    })
                    .collect();
                SwapRequest { inputs, outputs }
            },
            |req| {
                let mut mint = mint.borrow_mut();
                let sigs = mint.swap(Instant::ZERO, from, &req).unwrap();
                while mint.poll_observation().is_some() {}
                sigs
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, primitives, swap);
criterion_main!(benches);
