//! The rail against the mint's ledger and the meters.

#![allow(clippy::unwrap_used)]
use super::*;
use peer2prompt::identity::Identity;
use peer2prompt::market::FxRate;
use peer2prompt::market::Quote;
use peer2prompt::time::Duration;
use rand_core::Rng;
use rand_core::SeedableRng;

fn service() -> Identity {
    Identity::generate_with(&mut ChaCha20Rng::seed_from_u64(7), Default::default())
}

fn quote(chunk_msat: u64) -> SignedQuote {
    let fx = FxRate::default();
    let id = service();
    let q = Quote {
        service: id.node_id(),
        model: "gpt-4o".into(),
        input: fx.price(5.0),
        output: fx.price(20.0),
        max_output_tokens: 2_000,
        chunk_msat,
        mints: vec!["mint://rail".into()],
        valid_from: Instant::ZERO,
        valid_until: Instant::ZERO + Duration::from_secs(86_400),
        serial: 1,
    };
    SignedQuote::sign(&id, q)
}

fn rail(config: MintConfig, seed: u64) -> Rail {
    Rail::new(config, ChaCha20Rng::seed_from_u64(seed))
}

#[test]
fn value_is_conserved_across_many_jobs() {
    let mut rail = rail(
        MintConfig {
            input_fee_ppk: 100,
            ..MintConfig::default()
        },
        3,
    );
    let clients: Vec<usize> = (0..4).map(|_| rail.open_wallet().unwrap()).collect();
    let services: Vec<usize> = (0..2).map(|_| rail.open_wallet().unwrap()).collect();
    for &c in &clients {
        rail.fund(c, 5_000).unwrap();
    }
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut paid = 0;
    for k in 0..60u64 {
        rail.set_time(Instant::ZERO + Duration::from_secs(k));
        let c = clients[(rng.next_u64() % 4) as usize];
        let s = services[(rng.next_u64() % 2) as usize];
        let input = 200 + rng.next_u64() % 2_000;
        let output = 1 + rng.next_u64() % 3_000;
        let j = rail.job(c, s, &quote(5_000), input, output, 25).unwrap();
        // Paid at least what was used, at most a chunk (plus rounding)
        // more; never past the cap.
        assert!(j.paid_sat * 1000 >= j.used_msat, "{j:?}");
        assert!(j.paid_sat * 1000 < j.used_msat + 5_000 + 1_000, "{j:?}");
        assert!(j.output_tokens <= 2_000);
        paid += j.paid_sat;
    }
    let unspent: u64 = clients.iter().map(|&i| rail.balance(i)).sum();
    let revenue: u64 = services.iter().map(|&i| rail.balance(i)).sum();
    // What clients paid in = service revenue + mint fees + unspent.
    assert_eq!(revenue + rail.fees_sat() + unspent, rail.funded_sat());
    // Services keep what they were paid less their settlement fees.
    assert!(revenue < paid && paid - revenue <= rail.fees_sat());
    assert!(rail.fees_sat() > 0);
    rail.mint().audit();
}

#[test]
fn the_cap_stops_a_job_and_its_payments() {
    let mut rail = rail(MintConfig::default(), 5);
    let (c, s) = (rail.open_wallet().unwrap(), rail.open_wallet().unwrap());
    rail.fund(c, 10_000).unwrap();
    let j = rail.job(c, s, &quote(2_000), 100, 50_000, 50).unwrap();
    assert_eq!(j.output_tokens, 2_000);
    // 100 in at $5/M and 2,000 out at $20/M: 0.5 + 40 sat.
    assert!(j.paid_sat >= 41 && j.paid_sat <= 43, "{j:?}");
    assert_eq!(rail.balance(s), j.paid_sat);
}

#[test]
fn a_forged_or_expired_quote_is_refused_before_anything_is_paid() {
    let mut rail = rail(MintConfig::default(), 6);
    let (c, s) = (rail.open_wallet().unwrap(), rail.open_wallet().unwrap());
    rail.fund(c, 10_000).unwrap();
    let mut forged = quote(2_000);
    forged.quote.output = FxRate::default().price(1.0);
    let e = rail.job(c, s, &forged, 100, 500, 50).unwrap_err();
    assert!(
        matches!(e, RailError::Billing(MarketError::ForgedQuote)),
        "{e}"
    );
    rail.set_time(Instant::ZERO + Duration::from_secs(2 * 86_400));
    let e = rail.job(c, s, &quote(2_000), 100, 500, 50).unwrap_err();
    assert!(
        matches!(e, RailError::Billing(MarketError::QuoteNotValid { .. })),
        "{e}"
    );
    assert_eq!(rail.balance(c), 10_000);
    assert_eq!(rail.balance(s), 0);
}
