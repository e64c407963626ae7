//! `economics/rail_job`: one market job paid through the protocol's meters
//! and real ecash (a 1,000-token prompt, a 300-token answer, 2-sat chunks:
//! the client's change swaps and the service's settlement swaps at the
//! mint), the unit of the market's cost at the long-horizon fidelity level;
//! `economics/onion_job`: the same job at full fidelity, every message over
//! a fresh three-hop onion circuit.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use peer2prompt::ecash::MintConfig;
use peer2prompt::identity::Identity;
use peer2prompt::market::{FxRate, Quote, SignedQuote};
use peer2prompt::time::{Duration, Instant};
use peer2prompt_sim::economics::rail::Rail;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn rail_job(c: &mut Criterion) {
    let fx = FxRate::default();
    let id = Identity::generate_with(&mut ChaCha20Rng::seed_from_u64(7), Default::default());
    let quote = Quote {
        service: id.node_id(),
        model: "gpt-4o".into(),
        input: fx.price(5.0),
        output: fx.price(20.0),
        max_output_tokens: 2_000,
        chunk_msat: 2_000,
        mints: vec!["mint://rail".into()],
        valid_from: Instant::ZERO,
        valid_until: Instant::ZERO + Duration::from_secs(86_400),
        serial: 1,
    };
    let quote = SignedQuote::sign(&id, quote);
    let mut g = c.benchmark_group("economics");
    g.sample_size(20);
    for (name, onion) in [("rail_job", false), ("onion_job", true)] {
        let rail = Rail::new(
            MintConfig {
                input_fee_ppk: 100,
                ..MintConfig::default()
            },
            ChaCha20Rng::seed_from_u64(1),
        );
        let mut rail = if onion {
            rail.with_onion(8, ChaCha20Rng::seed_from_u64(2))
        } else {
            rail
        };
        let (client, service) = (rail.open_wallet().unwrap(), rail.open_wallet().unwrap());
        g.bench_function(name, |b| {
            b.iter(|| {
                if rail.balance(client) < 100 {
                    rail.fund(client, 100_000).unwrap();
                }
                rail.job(client, service, &quote, 1_000, 300, 25).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, rail_job);
criterion_main!(benches);
