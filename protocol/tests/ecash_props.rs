//! Property tests for the payment layer:
//! - no deserializer panics on arbitrary bytes;
//! - any sequence of mint, swap, melt and replay operations conserves value;
//! - no proof is ever accepted twice;
//! - a wallet's balance always equals the sum of its proofs the mint says are
//!   unspent.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use common::{Bank, addr};
use peer2prompt::ecash::messages::{
    CheckStateRequest, CheckStateResponse, KeysResponse, MeltQuoteRequest, MeltQuoteResponse,
    MeltRequest, MintQuoteResponse, MintRequest, ProofState, SignaturesResponse, SwapRequest,
};
use peer2prompt::ecash::mint::ys_of;
use peer2prompt::ecash::nuts::decode_json;
use peer2prompt::ecash::wallet::MeltSettled;
use peer2prompt::ecash::{
    Amount, BlindSignature, BlindedMessage, CurrencyUnit, EcashError, Invoice, KeySet, KeysetId,
    MintConfig, MintObservation, PayoutOutcome, Proof, Wallet, WalletPolicy,
};
use peer2prompt::time::Duration;
use proptest::prelude::*;

fn decode_everything(bytes: &[u8]) {
    let _ = decode_json::<Proof>(bytes, "Proof");
    let _ = decode_json::<BlindedMessage>(bytes, "BlindedMessage");
    let _ = decode_json::<BlindSignature>(bytes, "BlindSignature");
    let _ = decode_json::<KeySet>(bytes, "KeySet");
    let _ = decode_json::<KeysResponse>(bytes, "KeysResponse");
    let _ = decode_json::<SwapRequest>(bytes, "SwapRequest");
    let _ = decode_json::<MintRequest>(bytes, "MintRequest");
    let _ = decode_json::<MeltRequest>(bytes, "MeltRequest");
    let _ = decode_json::<MintQuoteResponse>(bytes, "MintQuoteResponse");
    let _ = decode_json::<MeltQuoteResponse>(bytes, "MeltQuoteResponse");
    let _ = decode_json::<SignaturesResponse>(bytes, "SignaturesResponse");
    let _ = decode_json::<CheckStateRequest>(bytes, "CheckStateRequest");
    let _ = decode_json::<CheckStateResponse>(bytes, "CheckStateResponse");
    if let Ok(s) = std::str::from_utf8(bytes) {
        let _ = s.parse::<KeysetId>();
    }
}

/// JSON that looks like NUT objects, with hostile values, to get past the
/// outermost syntax checks.
fn nut_like_json() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("\"00456a94ab4e1c46\"".to_owned()),
        Just("\"02a9acc1e48c25eeeb9289b5031cc57da9fe72f3fe2861d264bdc074209b107ba2\"".to_owned()),
        "\"[0-9a-f]{0,70}\"",
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("1e400".to_owned()),
    ];
    let key = prop_oneof![
        Just("amount"),
        Just("id"),
        Just("secret"),
        Just("C"),
        Just("B_"),
        Just("C_"),
        Just("dleq"),
        Just("e"),
        Just("s"),
        Just("r"),
        Just("keys"),
        Just("unit"),
        Just("active"),
        Just("inputs"),
        Just("outputs"),
        Just("quote"),
        Just("Ys"),
    ];
    proptest::collection::vec((key, value), 0..8).prop_map(|kv| {
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn deserializers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&bytes);
    }

    #[test]
    fn deserializers_never_panic_on_nut_like_json(json in nut_like_json()) {
        decode_everything(json.as_bytes());
    }
}

#[derive(Clone, Debug)]
enum Op {
    Fund {
        wallet: usize,
        amount: u64,
    },
    Pay {
        from: usize,
        to: usize,
        amount: u64,
    },
    Melt {
        wallet: usize,
        amount: u64,
        paid: bool,
    },
    Replay {
        thief: usize,
    },
    ConcurrentMelt {
        wallet: usize,
        amount: u64,
    },
    Refresh {
        wallet: usize,
    },
    Rotate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 1..300u64).prop_map(|(wallet, amount)| Op::Fund { wallet, amount }),
        4 => (0..3usize, 0..3usize, 1..200u64)
            .prop_map(|(from, to, amount)| Op::Pay { from, to, amount }),
        2 => (0..3usize, 1..100u64, any::<bool>())
            .prop_map(|(wallet, amount, paid)| Op::Melt { wallet, amount, paid }),
        1 => (0..3usize).prop_map(|thief| Op::Replay { thief }),
        1 => (0..3usize, 1..50u64).prop_map(|(wallet, amount)| Op::ConcurrentMelt { wallet, amount }),
        1 => (0..3usize).prop_map(|wallet| Op::Refresh { wallet }),
        1 => Just(Op::Rotate),
    ]
}

struct World {
    bank: Bank,
    wallets: Vec<Wallet>,
    /// Copies of proofs that were handed to payees: all spent by now.
    spent_copies: Vec<Proof>,
    /// Every `Y` the mint ever accepted as an input.
    accepted: HashSet<[u8; 33]>,
}

impl World {
    fn new(fee_ppk: u64, reserve_ppk: u64, seed: u64) -> Self {
        let config = MintConfig {
            input_fee_ppk: fee_ppk,
            melt_fee_reserve_ppk: reserve_ppk,
            ..MintConfig::default()
        };
        let bank = Bank::new(config, seed);
        let wallets = vec![
            bank.wallet(WalletPolicy::default()),
            bank.wallet(WalletPolicy::default()),
            bank.wallet(WalletPolicy {
                swap_before_spend: true,
                ..WalletPolicy::default()
            }),
        ];
        World {
            bank,
            wallets,
            spent_copies: Vec::new(),
            accepted: HashSet::new(),
        }
    }

    /// After a refused request a real wallet asks the mint (NUT-07) and drops
    /// what is spent.
    fn reconcile(&mut self, w: usize) {
        let ys: Vec<_> = self.wallets[w]
            .proofs(&self.bank.url)
            .iter()
            .map(|h| h.proof.y().unwrap())
            .collect();
        let states = self.bank.mint.check_state(&CheckStateRequest { ys });
        self.wallets[w].apply_states(&self.bank.url, &states.states);
    }

    fn apply(&mut self, op: &Op) {
        let b = &mut self.bank;
        match *op {
            Op::Fund { wallet, amount } => {
                b.fund(&mut self.wallets[wallet], amount, wallet as u64)
                    .unwrap();
            }
            Op::Pay { from, to, amount } => {
                let before = self.wallets[from].balance(&b.url);
                match b.send(&mut self.wallets[from], amount, from as u16) {
                    Ok(proofs) => {
                        let copies = proofs.clone();
                        let settled = b
                            .receive(&mut self.wallets[to], proofs, 100 + to as u16)
                            .unwrap();
                        // Dust that cannot pay its own fee stays held, unspent.
                        if settled > Amount::ZERO {
                            self.spent_copies.extend(copies);
                        }
                    }
                    Err(EcashError::InsufficientFunds { .. }) => {
                        assert_eq!(self.wallets[from].balance(&b.url), before);
                    }
                    Err(e) => panic!("unexpected send failure: {e}"),
                }
            }
            Op::Melt {
                wallet,
                amount,
                paid,
            } => {
                let outcome = if paid {
                    PayoutOutcome::Paid
                } else {
                    PayoutOutcome::Failed
                };
                let before = self.wallets[wallet].balance(&b.url);
                match b.melt(&mut self.wallets[wallet], amount, outcome) {
                    Ok(()) => {}
                    Err(EcashError::InsufficientFunds { .. }) => {
                        assert_eq!(self.wallets[wallet].balance(&b.url), before);
                    }
                    Err(e) => panic!("unexpected melt failure: {e}"),
                }
            }
            Op::Replay { thief } => {
                if !self.replay(thief) {
                    return;
                }
            }
            Op::ConcurrentMelt { wallet, amount } => {
                if !self.concurrent_melt(wallet, amount) {
                    return;
                }
            }
            Op::Refresh { wallet } => {
                let w = &mut self.wallets[wallet];
                match w.refresh(&b.url, b.now, &mut b.rng) {
                    Ok(Some(pending)) => {
                        let sigs = b.mint.swap(b.now, addr(4), &pending.request()).unwrap();
                        w.complete_swap(pending, &sigs.signatures, b.now).unwrap();
                    }
                    Ok(None) | Err(EcashError::InsufficientFunds { .. }) => {}
                    Err(e) => panic!("unexpected refresh failure: {e}"),
                }
            }
            Op::Rotate => {
                b.mint.rotate_keyset(&mut b.rng);
                let keys = b.mint.keysets();
                for w in &mut self.wallets {
                    w.add_mint(b.url.clone(), &keys).unwrap();
                }
            }
        }
        self.bank.tick(Duration::from_millis(10));
    }

    /// Spent copies replayed by `thief`: accepted offline, refused by the
    /// mint, dropped at reconciliation. False when there is nothing to replay.
    fn replay(&mut self, thief: usize) -> bool {
        let b = &mut self.bank;
        if self.spent_copies.is_empty() {
            return false;
        }
        let copies = self.spent_copies.clone();
        let before = self.wallets[thief].balance(&b.url);
        // Offline checks cannot see a double spend: the copies are
        // validly signed, so a payee accepts them ...
        self.wallets[thief]
            .accept(&b.url, copies.clone(), b.now)
            .unwrap();
        // ... and only the mint refuses them.
        let total: u64 = copies.iter().map(|p| p.amount.value()).sum();
        let fee = (copies.len() as u64 * b.mint.config().input_fee_ppk).div_ceil(1000);
        if total > fee {
            let outputs = b.outputs_for(total - fee);
            let err = b
                .mint
                .swap(
                    b.now,
                    addr(200),
                    &SwapRequest {
                        inputs: copies,
                        outputs,
                    },
                )
                .unwrap_err();
            assert!(
                matches!(err, EcashError::ProofAlreadySpent { .. }),
                "replay must be refused as a double spend, got {err}"
            );
        }
        // NUT-07 reconciliation drops what the mint calls spent.
        self.reconcile(thief);
        assert_eq!(self.wallets[thief].balance(&self.bank.url), before);
        true
    }

    /// A melt's inputs raced into a swap while the melt is pending: refused.
    /// False when the wallet cannot prepare the melt.
    fn concurrent_melt(&mut self, wallet: usize, amount: u64) -> bool {
        let b = &mut self.bank;
        let w = &mut self.wallets[wallet];
        let quote = b
            .mint
            .create_melt_quote(
                b.now,
                &MeltQuoteRequest {
                    request: Invoice {
                        payment_hash: [9; 32],
                        amount: Amount::new(amount),
                        expiry: b.now + Duration::from_secs(60),
                    },
                    unit: CurrencyUnit::default(),
                },
                &mut b.rng,
            )
            .unwrap();
        let Ok(pending) = w.prepare_melt(&b.url, &quote, b.now, &mut b.rng) else {
            return false;
        };
        let req = pending.request();
        b.mint.begin_melt(b.now, addr(3), &req).unwrap();
        // The same inputs raced into a swap must be refused as pending.
        let swap = SwapRequest {
            inputs: req.inputs.clone(),
            outputs: req.outputs.clone(),
        };
        if !swap.outputs.is_empty() {
            assert!(matches!(
                b.mint.swap(b.now, addr(3), &swap),
                Err(EcashError::ProofPending { .. }) | Err(EcashError::DuplicateOutput { .. })
            ));
        }
        let resp = b
            .mint
            .complete_melt(b.now, &quote.quote, PayoutOutcome::Failed)
            .unwrap();
        assert!(matches!(
            w.complete_melt(pending, &resp, b.now).unwrap(),
            MeltSettled::Failed
        ));
        true
    }

    fn check(&mut self) {
        let b = &mut self.bank;
        b.mint.audit();
        // No proof accepted twice.
        while let Some(o) = b.mint.poll_observation() {
            let inputs = match o {
                MintObservation::Swap { inputs, .. } | MintObservation::Melt { inputs, .. } => {
                    inputs
                }
                _ => continue,
            };
            for p in inputs {
                assert!(
                    self.accepted.insert(p.y.serialize()),
                    "proof accepted twice"
                );
            }
        }
        // Value is conserved: funded = held + melted + fees.
        let held: Amount = self.wallets.iter().map(|w| w.balance(&b.url)).sum();
        let ledger = b.mint.ledger();
        assert_eq!(ledger.lightning_in, b.funded);
        assert_eq!(ledger.lightning_out, b.melted);
        assert_eq!(
            ledger.outstanding(),
            held,
            "ecash in circulation != wallet balances"
        );
        assert_eq!(
            held.checked_add(b.melted)
                .unwrap()
                .checked_add(ledger.fees_collected)
                .unwrap(),
            b.funded
        );
        // Each wallet's balance is exactly its proofs the mint calls unspent.
        for w in &self.wallets {
            let proofs: Vec<Proof> = w.proofs(&b.url).iter().map(|h| h.proof.clone()).collect();
            let states = b.mint.check_state(&CheckStateRequest {
                ys: ys_of(&proofs).unwrap(),
            });
            let unspent: Amount = proofs
                .iter()
                .zip(&states.states)
                .filter(|(_, s)| s.state == ProofState::Unspent)
                .map(|(p, _)| p.amount)
                .sum();
            assert_eq!(w.balance(&b.url), unspent);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_operation_sequence_conserves_value(
        fee_ppk in prop_oneof![Just(0u64), Just(100), Just(250)],
        reserve_ppk in prop_oneof![Just(0u64), Just(10)],
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        let mut world = World::new(fee_ppk, reserve_ppk, seed);
        for op in &ops {
            world.apply(op);
            world.check();
        }
    }
}
