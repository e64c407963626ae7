//! Whole ecash flows through the in-process harness, and every bad input the
//! mint and wallet must turn into a typed error.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Bank, addr};
use peer2prompt::ecash::messages::{
    CheckStateRequest, MeltQuoteRequest, MeltRequest, MintQuoteRequest, MintRequest, ProofState,
    SwapRequest,
};
use peer2prompt::ecash::mint::ys_of;
use peer2prompt::ecash::nuts::decode_json;
use peer2prompt::ecash::wallet::{FixedHold, SendPlan};
use peer2prompt::ecash::{
    Amount, CurrencyUnit, EcashError, Invoice, LightningPayer, LightningPayment, MintConfig,
    MintObservation, MintUrl, PayerId, PayoutOutcome, Proof, Wallet, WalletPolicy,
};
use peer2prompt::time::Duration;

fn bank() -> Bank {
    Bank::new(MintConfig::default(), 42)
}

#[test]
fn fund_pay_and_settle_conserve_value() {
    let mut b = bank();
    let mut client = b.wallet(WalletPolicy::default());
    let mut ghost = b.wallet(WalletPolicy::default());
    assert_eq!(b.fund(&mut client, 100, 1).unwrap(), Amount::new(100));
    // 100 = 64 + 32 + 4 cannot pay 37 exactly: the wallet swaps for change.
    let proofs = b.send(&mut client, 37, 1).unwrap();
    assert_eq!(proofs.iter().map(|p| p.amount.value()).sum::<u64>(), 37);
    assert_eq!(client.balance(&b.url), Amount::new(63));
    assert_eq!(b.receive(&mut ghost, proofs, 9).unwrap(), Amount::new(37));
    assert_eq!(ghost.balance(&b.url), Amount::new(37));
    let ledger = b.mint.ledger();
    assert_eq!(ledger.outstanding(), Amount::new(100));
    assert_eq!(ledger.lightning_in, Amount::new(100));
    b.mint.audit();
}

#[test]
fn swap_fee_rule_is_enforced() {
    let config = MintConfig {
        input_fee_ppk: 100,
        ..MintConfig::default()
    };
    let mut b = Bank::new(config, 1);
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 8, 1).unwrap(); // one proof
    // Paying 3 needs a swap of the 8: fee ceil(100/1000) = 1, so 3 sent, 4 change.
    let sent = b.send(&mut w, 3, 1).unwrap();
    assert_eq!(sent.iter().map(|p| p.amount.value()).sum::<u64>(), 3);
    let ledger = b.mint.ledger();
    assert_eq!(ledger.fees_collected, Amount::new(1));
    assert_eq!(w.balance(&b.url), Amount::new(4));

    // A hand-built swap that ignores the fee is refused, and changes nothing.
    let inputs: Vec<Proof> = w.proofs(&b.url).iter().map(|h| h.proof.clone()).collect();
    let total: u64 = inputs.iter().map(|p| p.amount.value()).sum();
    let outputs = b.outputs_for(total);
    let before = b.mint.spent_count();
    let err = b
        .mint
        .swap(b.now, addr(1), &SwapRequest { inputs, outputs })
        .unwrap_err();
    assert!(matches!(err, EcashError::FeeMismatch { .. }), "{err}");
    assert_eq!(b.mint.spent_count(), before);
    b.mint.audit();
}

#[test]
fn sequential_double_spend_is_refused() {
    let mut b = bank();
    let mut client = b.wallet(WalletPolicy::default());
    let mut ghost = b.wallet(WalletPolicy::default());
    let mut thief = b.wallet(WalletPolicy::default());
    b.fund(&mut client, 8, 1).unwrap();
    let proofs = b.send(&mut client, 8, 1).unwrap();
    b.receive(&mut ghost, proofs.clone(), 9).unwrap();
    // The cheating client spends the same proofs again elsewhere.
    let err = b.receive(&mut thief, proofs.clone(), 10).unwrap_err();
    let y = proofs[0].y().unwrap();
    assert_eq!(err, EcashError::ProofAlreadySpent { y });
    assert_eq!(
        thief.balance(&b.url),
        Amount::new(8),
        "aborted swap returns inputs"
    );
    // NUT-07 tells the thief's wallet to drop them.
    let states = b.mint.check_state(&CheckStateRequest {
        ys: ys_of(&proofs).unwrap(),
    });
    assert!(states.states.iter().all(|s| s.state == ProofState::Spent));
    thief.apply_states(&b.url, &states.states);
    assert_eq!(thief.balance(&b.url), Amount::ZERO);
    b.mint.audit();
}

#[test]
fn concurrent_spend_sees_pending_and_cannot_both_succeed() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 8, 1).unwrap();
    let proofs: Vec<Proof> = w.proofs(&b.url).iter().map(|h| h.proof.clone()).collect();
    let quote = b
        .mint
        .create_melt_quote(
            b.now,
            &MeltQuoteRequest {
                request: Invoice {
                    payment_hash: [1; 32],
                    amount: Amount::new(8),
                    expiry: b.now + Duration::from_secs(60),
                },
                unit: CurrencyUnit::default(),
            },
            &mut b.rng,
        )
        .unwrap();
    let melt = MeltRequest {
        quote: quote.quote,
        inputs: proofs.clone(),
        outputs: vec![],
    };
    b.mint.begin_melt(b.now, addr(1), &melt).unwrap();
    let y = proofs[0].y().unwrap();
    // A concurrent swap of the same proof while the payout is in flight.
    let outputs = b.outputs_for(8);
    let swap = SwapRequest {
        inputs: proofs,
        outputs,
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &swap).unwrap_err(),
        EcashError::ProofPending { y }
    );
    assert_eq!(
        b.mint
            .check_state(&CheckStateRequest { ys: vec![y] })
            .states[0]
            .state,
        ProofState::Pending
    );
    // A second melt of the same quote is refused too.
    assert_eq!(
        b.mint.begin_melt(b.now, addr(1), &melt).unwrap_err(),
        EcashError::QuoteInUse(quote.quote)
    );
    // The payout fails: the proof is released and the swap now succeeds once.
    b.mint
        .complete_melt(b.now, &quote.quote, PayoutOutcome::Failed)
        .unwrap();
    b.mint.swap(b.now, addr(1), &swap).unwrap();
    assert!(matches!(
        b.mint.swap(b.now, addr(1), &swap).unwrap_err(),
        EcashError::ProofAlreadySpent { .. }
    ));
    b.mint.audit();
}

#[test]
fn duplicate_inputs_and_reused_outputs_are_refused() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 2, 1).unwrap();
    let p = w.proofs(&b.url)[0].proof.clone();
    let y = p.y().unwrap();
    let outputs = b.outputs_for(4);
    let dup = SwapRequest {
        inputs: vec![p.clone(), p.clone()],
        outputs,
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &dup).unwrap_err(),
        EcashError::DuplicateInput { y }
    );
    let ok = SwapRequest {
        inputs: vec![p],
        outputs: b.outputs_for(2),
    };
    let out = ok.outputs[0].blinded_secret;
    b.mint.swap(b.now, addr(1), &ok).unwrap();
    // Asking the mint to sign the same B_ again is refused.
    let mut other = b.wallet(WalletPolicy::default());
    b.fund(&mut other, 2, 1).unwrap();
    let reuse = SwapRequest {
        inputs: vec![other.proofs(&b.url)[0].proof.clone()],
        outputs: ok.outputs.clone(),
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &reuse).unwrap_err(),
        EcashError::DuplicateOutput { b: out }
    );
}

#[test]
fn overspend_is_insufficient_funds() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 10, 1).unwrap();
    let err = w
        .send(&b.url, Amount::new(11), b.now, &mut b.rng)
        .unwrap_err();
    assert_eq!(
        err,
        EcashError::InsufficientFunds {
            needed: Amount::new(11),
            available: Amount::new(10)
        }
    );
    assert_eq!(
        w.balance(&b.url),
        Amount::new(10),
        "a failed plan takes nothing"
    );
}

#[test]
fn unknown_keyset_unknown_amount_and_retired_keyset() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 4, 1).unwrap();
    let p = w.proofs(&b.url)[0].proof.clone();
    let old = b.mint.active_keyset_id();

    // Unknown keyset id on an output.
    let mut outputs = b.outputs_for(4);
    let unknown = "00ffffffffffffff".parse().unwrap();
    outputs[0].id = unknown;
    let req = SwapRequest {
        inputs: vec![p.clone()],
        outputs,
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &req).unwrap_err(),
        EcashError::UnknownKeyset(unknown)
    );

    // An amount that is not a denomination.
    let mut outputs = b.outputs_for(4);
    outputs[0].amount = Amount::new(3);
    let req = SwapRequest {
        inputs: vec![p.clone()],
        outputs,
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &req).unwrap_err(),
        EcashError::UnsupportedAmount {
            keyset: old,
            amount: Amount::new(3)
        }
    );

    // Rotate: the old keyset redeems but cannot sign new outputs.
    let new = b.mint.rotate_keyset(&mut b.rng);
    assert_ne!(new, old);
    let stale = b
        .outputs_for(4)
        .into_iter()
        .map(|mut o| {
            o.id = old;
            o
        })
        .collect();
    let req = SwapRequest {
        inputs: vec![p.clone()],
        outputs: stale,
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &req).unwrap_err(),
        EcashError::RetiredKeyset(old)
    );
    w.add_mint(b.url.clone(), &b.mint.keysets()).unwrap();
    let fresh = b.outputs_for(4);
    assert!(fresh.iter().all(|o| o.id == new));
    b.mint
        .swap(
            b.now,
            addr(1),
            &SwapRequest {
                inputs: vec![p],
                outputs: fresh,
            },
        )
        .unwrap();
    b.mint.audit();
    let ledger = b.mint.ledger();
    assert_eq!(ledger.keysets[&old].outstanding(), Amount::ZERO);
    assert_eq!(ledger.keysets[&new].outstanding(), Amount::new(4));
}

#[test]
fn forged_proofs_and_bad_points_are_typed_errors() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 4, 1).unwrap();
    let mut forged = w.proofs(&b.url)[0].proof.clone();
    forged.secret = peer2prompt::ecash::Secret::new("not the signed secret");
    let y = forged.y().unwrap();
    let req = SwapRequest {
        inputs: vec![forged],
        outputs: b.outputs_for(4),
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &req).unwrap_err(),
        EcashError::InvalidProofSignature { y }
    );
    // A proof whose C is not a point never gets past decoding.
    let bad = r#"{"amount":4,"id":"00456a94ab4e1c46","secret":"x","C":"05aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;
    assert!(matches!(
        decode_json::<Proof>(bad.as_bytes(), "Proof"),
        Err(EcashError::Decode { what: "Proof", .. })
    ));
}

#[test]
fn failed_and_missing_dleq_are_detected() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    let mut ghost = b.wallet(WalletPolicy::default());

    // Alice: a blind signature whose DLEQ was tampered with.
    let q = b
        .mint
        .create_mint_quote(
            b.now,
            &MintQuoteRequest {
                amount: Amount::new(4),
                unit: CurrencyUnit::default(),
            },
            &mut b.rng,
        )
        .unwrap();
    b.mint
        .handle_lightning_payment(
            b.now,
            LightningPayment {
                quote: q.quote,
                amount: q.amount,
                payer: LightningPayer::Hidden,
            },
        )
        .unwrap();
    let pending = w
        .prepare_issue(&b.url, q.quote, q.amount, &mut b.rng)
        .unwrap();
    let mut sigs = b.mint.mint(b.now, addr(1), &pending.request()).unwrap();
    let mut d = sigs.signatures[0].dleq.unwrap();
    d.s.0[31] ^= 1;
    sigs.signatures[0].dleq = Some(d);
    assert_eq!(
        w.complete_issue(pending, &sigs.signatures, b.now)
            .unwrap_err(),
        EcashError::DleqInvalid {
            what: "blind signature"
        }
    );

    // Carol: a proof whose r was changed, and a proof without DLEQ.
    b.fund(&mut w, 4, 1).unwrap();
    let good = w.proofs(&b.url)[0].proof.clone();
    let mut bad_r = good.clone();
    let mut dl = bad_r.dleq.unwrap();
    dl.r.0[31] ^= 1;
    bad_r.dleq = Some(dl);
    assert_eq!(
        ghost.verify_offline(&b.url, &[bad_r]).unwrap_err(),
        EcashError::DleqInvalid { what: "proof" }
    );
    let mut bare = good.clone();
    bare.dleq = None;
    assert_eq!(
        ghost.accept(&b.url, vec![bare], b.now).unwrap_err(),
        EcashError::DleqMissing { what: "proof" }
    );
    assert_eq!(
        ghost.balance(&b.url),
        Amount::ZERO,
        "rejected proofs are not kept"
    );
    assert_eq!(
        ghost.accept(&b.url, vec![good.clone()], b.now).unwrap(),
        Amount::new(4)
    );
    // The same proof paid twice to the same payee is caught offline.
    let y = good.y().unwrap();
    assert_eq!(
        ghost.accept(&b.url, vec![good], b.now).unwrap_err(),
        EcashError::DuplicateInput { y }
    );
    assert_eq!(ghost.balance(&b.url), Amount::new(4));
}

#[test]
#[cfg(feature = "adversary")]
fn per_user_key_tagging_is_detected() {
    let mut b = bank();
    let alice = PayerId(7);
    let tag = b.mint.dangerous_tag_payer(alice, &mut b.rng);

    // Alice is served a private active keyset; everyone else the public one.
    let mut w = Wallet::new(WalletPolicy::default(), Box::new(FixedHold(Duration::ZERO)));
    w.add_mint(b.url.clone(), &b.mint.keysets_for(Some(alice)))
        .unwrap();
    let reference = b.mint.keysets();
    let err = w.check_keyset_consistency(&b.url, &reference).unwrap_err();
    assert!(
        matches!(err, EcashError::KeysetInconsistent { .. }),
        "{err}"
    );

    // An honest view passes the same check.
    let honest = b.wallet(WalletPolicy::default());
    honest.check_keyset_consistency(&b.url, &reference).unwrap();

    // If Alice does not check, her proofs carry the tag; a Ghost holding the
    // public view cannot place them and refuses them.
    b.fund(&mut w, 8, 7).unwrap();
    let proofs: Vec<Proof> = w.proofs(&b.url).iter().map(|h| h.proof.clone()).collect();
    assert!(proofs.iter().all(|p| p.id == tag));
    let ghost = b.wallet(WalletPolicy::default());
    assert_eq!(
        ghost.verify_offline(&b.url, &proofs).unwrap_err(),
        EcashError::UnknownKeyset(tag)
    );
}

#[test]
fn hold_period_delays_first_spend() {
    let mut b = bank();
    let mut w = Wallet::new(
        WalletPolicy::default(),
        Box::new(FixedHold(Duration::from_secs(60))),
    );
    w.add_mint(b.url.clone(), &b.mint.keysets()).unwrap();
    b.fund(&mut w, 8, 1).unwrap();
    assert_eq!(w.spendable_balance(&b.url, b.now), Amount::ZERO);
    assert!(matches!(
        b.send(&mut w, 8, 1),
        Err(EcashError::InsufficientFunds { .. })
    ));
    b.tick(Duration::from_secs(60));
    assert_eq!(w.spendable_balance(&b.url, b.now), Amount::new(8));
    assert_eq!(b.send(&mut w, 8, 1).unwrap().len(), 1);
}

#[test]
fn swap_before_spend_never_hands_over_issued_proofs() {
    let mut b = bank();
    let policy = WalletPolicy {
        swap_before_spend: true,
        ..WalletPolicy::default()
    };
    let mut w = b.wallet(policy);
    b.fund(&mut w, 8, 1).unwrap();
    let issued_y = w.proofs(&b.url)[0].proof.y().unwrap();
    // An exact proof exists, but it was issued against the funding event.
    let plan = w.send(&b.url, Amount::new(8), b.now, &mut b.rng).unwrap();
    let SendPlan::Swap(pending) = plan else {
        panic!("swap-before-spend must swap issued proofs")
    };
    let sigs = b.mint.swap(b.now, addr(1), &pending.request()).unwrap();
    let sent = w.complete_swap(pending, &sigs.signatures, b.now).unwrap();
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].y().unwrap(), issued_y);
    // Refreshed proofs are then spent directly.
    b.fund(&mut w, 4, 1).unwrap();
    let refresh = w.refresh(&b.url, b.now, &mut b.rng).unwrap().unwrap();
    let sigs = b.mint.swap(b.now, addr(1), &refresh.request()).unwrap();
    assert!(
        w.complete_swap(refresh, &sigs.signatures, b.now)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        w.send(&b.url, Amount::new(4), b.now, &mut b.rng).unwrap(),
        SendPlan::Ready(_)
    ));
}

#[test]
fn wallet_forgets_spent_secrets() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 12, 1).unwrap();
    let ys: Vec<_> = w
        .proofs(&b.url)
        .iter()
        .map(|h| h.proof.y().unwrap())
        .collect();
    let sent = b.send(&mut w, 12, 1).unwrap();
    assert_eq!(sent.len(), 2);
    for y in ys {
        assert!(!w.holds(&b.url, &y), "sent proof still in the wallet");
    }
    assert_eq!(w.balance(&b.url), Amount::ZERO);
}

#[test]
fn quote_lifecycle_errors() {
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    let req = MintQuoteRequest {
        amount: Amount::new(5),
        unit: CurrencyUnit::default(),
    };
    let q = b.mint.create_mint_quote(b.now, &req, &mut b.rng).unwrap();
    let pending = w
        .prepare_issue(&b.url, q.quote, q.amount, &mut b.rng)
        .unwrap();
    assert_eq!(
        b.mint.mint(b.now, addr(1), &pending.request()).unwrap_err(),
        EcashError::QuoteNotPaid(q.quote)
    );
    let pay = |amount| LightningPayment {
        quote: q.quote,
        amount: Amount::new(amount),
        payer: LightningPayer::Candidates(vec![PayerId(1), PayerId(2)]),
    };
    assert!(matches!(
        b.mint.handle_lightning_payment(b.now, pay(4)).unwrap_err(),
        EcashError::PaymentMismatch { .. }
    ));
    b.mint.handle_lightning_payment(b.now, pay(5)).unwrap();
    // Outputs that do not add up to the quote.
    let wrong = MintRequest {
        quote: q.quote,
        outputs: b.outputs_for(4),
    };
    assert_eq!(
        b.mint.mint(b.now, addr(1), &wrong).unwrap_err(),
        EcashError::QuoteAmountMismatch {
            quoted: Amount::new(5),
            outputs: Amount::new(4)
        }
    );
    let sigs = b.mint.mint(b.now, addr(1), &pending.request()).unwrap();
    assert_eq!(
        b.mint.mint(b.now, addr(1), &pending.request()).unwrap_err(),
        EcashError::QuoteAlreadyIssued(q.quote)
    );
    w.complete_issue(pending, &sigs.signatures, b.now).unwrap();

    // An invoice paid after its expiry is refused.
    let late = b.mint.create_mint_quote(b.now, &req, &mut b.rng).unwrap();
    b.tick(Duration::from_secs(3601));
    assert_eq!(
        b.mint
            .handle_lightning_payment(
                b.now,
                LightningPayment {
                    quote: late.quote,
                    amount: late.amount,
                    payer: LightningPayer::Hidden
                }
            )
            .unwrap_err(),
        EcashError::QuoteExpired(late.quote)
    );
    assert!(matches!(
        b.mint.create_mint_quote(
            b.now,
            &MintQuoteRequest {
                amount: Amount::new(1),
                unit: CurrencyUnit("usd".into())
            },
            &mut b.rng
        ),
        Err(EcashError::UnsupportedUnit(_))
    ));
    b.mint.audit();
}

#[test]
fn melt_with_change_and_fee_reserve() {
    let config = MintConfig {
        melt_fee_reserve_ppk: 10,
        melt_min_fee_reserve: Amount::new(2),
        ..MintConfig::default()
    };
    let mut b = Bank::new(config, 5);
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 64, 1).unwrap();
    b.melt(&mut w, 20, PayoutOutcome::Paid).unwrap();
    // 64 - 20 - reserve max(ceil(20*10/1000), 2) = 42 comes back as change.
    assert_eq!(w.balance(&b.url), Amount::new(42));
    // A failed payout returns everything.
    b.melt(&mut w, 10, PayoutOutcome::Failed).unwrap();
    assert_eq!(w.balance(&b.url), Amount::new(42));
    let ledger = b.mint.ledger();
    assert_eq!(ledger.lightning_out, Amount::new(22));
    assert_eq!(ledger.outstanding(), Amount::new(42));
    b.mint.audit();
}

#[test]
fn balances_across_several_mints() {
    let mut a = Bank::new(MintConfig::default(), 10);
    let mut b = Bank::new(MintConfig::default(), 11);
    b.url = MintUrl("second.mint".into());
    let mut w = a.wallet(WalletPolicy::default());
    w.add_mint(b.url.clone(), &b.mint.keysets()).unwrap();
    a.fund(&mut w, 30, 1).unwrap();
    b.fund(&mut w, 12, 1).unwrap();
    assert_eq!(w.balance(&a.url), Amount::new(30));
    assert_eq!(w.balance(&b.url), Amount::new(12));
    assert_eq!(w.total_balance(), Amount::new(42));
    // Proofs of one mint are worthless at the other.
    let p = b.send(&mut w, 4, 1).unwrap();
    let out = a.outputs_for(4);
    assert!(matches!(
        a.mint
            .swap(
                a.now,
                addr(1),
                &SwapRequest {
                    inputs: p,
                    outputs: out
                }
            )
            .unwrap_err(),
        EcashError::UnknownKeyset(_)
    ));
    let unknown = MintUrl("nowhere".into());
    assert_eq!(
        w.send(&unknown, Amount::new(1), a.now, &mut a.rng)
            .unwrap_err(),
        EcashError::UnknownMint("nowhere".into())
    );
}

#[test]
fn mint_observations_record_what_the_operator_sees() {
    let mut b = bank();
    let mut client = b.wallet(WalletPolicy::default());
    let mut ghost = b.wallet(WalletPolicy::default());
    b.fund(&mut client, 16, 99).unwrap();
    let proofs = b.send(&mut client, 16, 1).unwrap();
    let ys = ys_of(&proofs).unwrap();
    b.receive(&mut ghost, proofs, 9).unwrap();
    let log: Vec<MintObservation> = std::iter::from_fn(|| b.mint.poll_observation()).collect();
    assert!(matches!(
        &log[0],
        MintObservation::Funding { payer: LightningPayer::Node(PayerId(99)), amount, .. }
            if *amount == Amount::new(16)
    ));
    assert!(
        matches!(&log[1], MintObservation::Issuance { amounts, .. } if amounts == &[Amount::new(16)])
    );
    match &log[2] {
        MintObservation::Swap {
            presenter, inputs, ..
        } => {
            assert_eq!(*presenter, addr(9), "the redeeming Ghost is visible");
            assert_eq!(inputs.iter().map(|p| p.y).collect::<Vec<_>>(), ys);
        }
        other => panic!("expected the Ghost's redemption swap, got {other:?}"),
    }
    assert_eq!(log.len(), 3);
}

#[test]
fn too_many_items_and_empty_requests_are_refused() {
    let config = MintConfig {
        max_outputs: 2,
        ..MintConfig::default()
    };
    let mut b = Bank::new(config, 3);
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 2, 1).unwrap();
    let p = w.proofs(&b.url)[0].proof.clone();
    let req = SwapRequest {
        inputs: vec![p],
        outputs: b.outputs_for(7),
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &req).unwrap_err(),
        EcashError::TooMany {
            what: "outputs",
            count: 3,
            limit: 2
        }
    );
    let empty = SwapRequest {
        inputs: vec![],
        outputs: b.outputs_for(2),
    };
    assert_eq!(
        b.mint.swap(b.now, addr(1), &empty).unwrap_err(),
        EcashError::EmptyRequest { what: "inputs" }
    );
}

#[test]
fn a_lost_swap_answer_is_recovered_by_restore() {
    use peer2prompt::ecash::messages::RestoreRequest;
    use peer2prompt::ecash::wallet::Recovery;
    let mut b = bank();
    let mut w = b.wallet(WalletPolicy::default());
    b.fund(&mut w, 100, 1).unwrap();
    // A swap the mint executes, but whose answer never reaches the wallet.
    let SendPlan::Swap(pending) = w.send(&b.url, Amount::new(37), b.now, &mut b.rng).unwrap()
    else {
        panic!("100 = 64 + 32 + 4 needs a swap for 37");
    };
    let swapped = pending.input_total();
    b.mint.swap(b.now, addr(1), &pending.request()).unwrap();
    let restored = b
        .mint
        .restore(b.now, addr(1), &pending.restore_request())
        .unwrap();
    assert_eq!(restored.signatures.len(), pending.request().outputs.len());
    match w.recover_swap(pending, &restored, b.now).unwrap() {
        Recovery::Completed(amount) => assert_eq!(amount, swapped, "no fee at this mint"),
        Recovery::NotExecuted(_) => panic!("the mint had executed it"),
    }
    assert_eq!(w.balance(&b.url), Amount::new(100), "nothing lost");
    let mut restores = 0;
    while let Some(o) = b.mint.poll_observation() {
        restores += usize::from(matches!(o, MintObservation::Restore { .. }));
    }
    assert_eq!(restores, 1, "the mint sees the restore");

    // A swap that never reached the mint restores nothing and is handed back.
    let mut other = b.wallet(WalletPolicy::default());
    b.fund(&mut other, 8, 3).unwrap();
    let SendPlan::Swap(pending) = other
        .send(&b.url, Amount::new(3), b.now, &mut b.rng)
        .unwrap()
    else {
        panic!("one proof of 8 needs a swap for 3");
    };
    let restored = b
        .mint
        .restore(b.now, addr(1), &pending.restore_request())
        .unwrap();
    assert!(restored.outputs.is_empty());
    let Recovery::NotExecuted(pending) = other.recover_swap(pending, &restored, b.now).unwrap()
    else {
        panic!("nothing was executed");
    };
    other.abort_swap(pending);
    assert_eq!(other.balance(&b.url), Amount::new(8));
    b.mint.audit();

    // Restore never signs an output for more than it was signed for.
    let mut small = b.wallet(WalletPolicy::default());
    b.fund(&mut small, 8, 2).unwrap();
    let inputs: Vec<Proof> = small
        .proofs(&b.url)
        .iter()
        .map(|h| h.proof.clone())
        .collect();
    let outputs = b.outputs_for(8);
    b.mint
        .swap(
            b.now,
            addr(1),
            &SwapRequest {
                inputs,
                outputs: outputs.clone(),
            },
        )
        .unwrap();
    let honest = b
        .mint
        .restore(
            b.now,
            addr(1),
            &RestoreRequest {
                outputs: outputs.clone(),
            },
        )
        .unwrap();
    assert_eq!(honest.outputs, outputs);
    let mut forged = outputs;
    forged[0].amount = Amount::new(64);
    let r = b
        .mint
        .restore(b.now, addr(1), &RestoreRequest { outputs: forged })
        .unwrap();
    assert!(
        r.outputs.is_empty(),
        "a different amount is not the signed output"
    );
    b.mint.audit();
}
