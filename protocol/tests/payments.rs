//! The payment engine when a swap's answer is lost (ARCHITECTURE.md,
//! "Payments"): the request may still be on its way to the mint, so a
//! restore that finds nothing must not give the inputs back. Found by the
//! swarm (`p2psim swarm`): under relay churn a late copy of a swap spent
//! inputs the wallet had taken back, for outputs nobody held.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;

use peer2prompt::ecash::wallet::NoHold;
use peer2prompt::ecash::{
    Amount, LightningPayer, LightningPayment, Mint, MintConfig, MintUrl, PayerId, Wallet,
    WalletPolicy,
};
use peer2prompt::node::payments::{MintLink, Outcome, Payments, Spend};
use peer2prompt::node::serve;
use peer2prompt::node::wire::{MintApiRequest, MintApiResponse, MintError, MintErrorCode};
use peer2prompt::time::Instant;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Requests as sent, for the test to deliver, lose or delay.
#[derive(Default)]
struct Wire {
    seq: u64,
    sent: VecDeque<(u64, MintApiRequest)>,
}

impl MintLink for Wire {
    fn send(&mut self, _mint: &MintUrl, request: MintApiRequest) -> Option<u64> {
        self.seq += 1;
        self.sent.push_back((self.seq, request));
        Some(self.seq)
    }
}

struct Fixture {
    mint: Mint,
    url: MintUrl,
    wallet: Payments<()>,
    wire: Wire,
    rng: ChaCha20Rng,
}

impl Fixture {
    /// A wallet holding one 64-sat proof (so any smaller payment swaps).
    fn funded() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mint = Mint::new(MintConfig::default(), &mut rng);
        let wallet = Payments::new(Wallet::new(WalletPolicy::default(), Box::new(NoHold)));
        let mut f = Fixture {
            mint,
            url: MintUrl("mint://test".into()),
            wallet,
            wire: Wire::default(),
            rng,
        };
        f.wallet.fetch_keys(&mut f.wire, &f.url.clone(), false);
        f.deliver_all();
        let url = f.url.clone();
        f.wallet.request_quote(&mut f.wire, &url, Amount::new(64));
        let Outcome::Quoted(q) = f.deliver_all() else {
            panic!("no quote")
        };
        let paid = LightningPayment {
            quote: q.quote,
            amount: q.amount,
            payer: LightningPayer::Node(PayerId(1)),
        };
        f.mint
            .handle_lightning_payment(Instant::ZERO, paid)
            .unwrap();
        let issue = f
            .wallet
            .prepare_issue(&url, q.quote, q.amount, &mut f.rng)
            .unwrap();
        f.wallet.submit(&mut f.wire, issue);
        assert!(matches!(f.deliver_all(), Outcome::Issued(Ok(_))));
        f
    }

    /// Starts a 5-sat payment, which needs a swap for change from the one
    /// 64-sat proof; the swap request is left on the wire.
    fn pay_with_change(&mut self) {
        let url = self.url.clone();
        let Spend::Swap(swap) = self
            .wallet
            .prepare_spend(&url, Amount::new(5), Instant::ZERO, &mut self.rng, ())
            .unwrap()
        else {
            panic!("a 5-sat payment from a 64-sat proof needs a swap")
        };
        self.wallet.submit(&mut self.wire, swap);
    }

    /// Serves one request and hands its answer to the wallet.
    fn deliver(&mut self, seq: u64, request: MintApiRequest) -> Outcome<()> {
        let nobody = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let served = serve(
            &mut self.mint,
            Instant::ZERO,
            nobody,
            request,
            &mut self.rng,
        );
        let url = self.url.clone();
        self.wallet
            .answer(&mut self.wire, &url, seq, served.response, Instant::ZERO)
    }

    /// Delivers every request sent, and what they lead to; the last
    /// outcome that was not `Quiet`.
    fn deliver_all(&mut self) -> Outcome<()> {
        let mut last = Outcome::Quiet;
        while let Some((seq, r)) = self.wire.sent.pop_front() {
            match self.deliver(seq, r) {
                Outcome::Quiet | Outcome::States(_) => {}
                o => last = o,
            }
        }
        last
    }

    /// What the wallet holds, in flight included, against what the mint
    /// owes: equal when no value was lost.
    fn balance(&self) -> (u64, u64) {
        let held = self.wallet.wallet().total_balance().value()
            + self
                .wallet
                .in_flight()
                .iter()
                .map(|p| p.amount.value())
                .sum::<u64>();
        (held, self.mint.ledger().outstanding().value())
    }
}

#[test]
fn a_late_copy_of_a_lost_swap_leaves_its_outputs_with_the_wallet() {
    let mut f = Fixture::funded();
    let url = f.url.clone();
    f.pay_with_change();
    let (seq, late_copy) = f.wire.sent.pop_front().unwrap();
    // The answer does not come: the wallet asks the mint (NUT-09).
    assert!(matches!(
        f.wallet.expired(&mut f.wire, &url, seq),
        Outcome::SwapSilent { .. }
    ));
    let (restore_seq, restore) = f.wire.sent.pop_front().unwrap();
    assert!(matches!(restore, MintApiRequest::Restore(_)));
    // The mint has not seen the swap yet, so the restore finds nothing;
    // the wallet sends the identical swap again instead of giving up.
    f.deliver(restore_seq, restore);
    let (again_seq, again) = f.wire.sent.pop_front().unwrap();
    assert!(matches!(&again, MintApiRequest::Swap(_)), "{again:?}");
    // Now the late copy reaches the mint first and executes.
    let served = serve(
        &mut f.mint,
        Instant::ZERO,
        std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        late_copy,
        &mut f.rng,
    );
    assert!(matches!(served.response, MintApiResponse::Signatures(_)));
    // The resubmitted copy is refused, and the wallet finds the late copy's
    // outputs by restoring them.
    f.deliver(again_seq, again);
    let outcome = f.deliver_all();
    assert!(
        matches!(outcome, Outcome::SwapRecovered { .. }),
        "{outcome:?}"
    );
    let (held, owed) = f.balance();
    assert_eq!(
        held, owed,
        "value held by the wallet equals what the mint owes"
    );
}

#[test]
fn a_swap_the_mint_refuses_outright_gives_its_inputs_back() {
    let mut f = Fixture::funded();
    let url = f.url.clone();
    f.pay_with_change();
    let (seq, _) = f.wire.sent.pop_front().unwrap();
    // A refusal (here: an error answer for it) is checked with a restore
    // first, and then reported.
    let refused = MintApiResponse::Error(MintError {
        code: MintErrorCode::Unbalanced,
        detail: "test".into(),
    });
    assert!(matches!(
        f.wallet
            .answer(&mut f.wire, &url, seq, refused, Instant::ZERO),
        Outcome::Quiet
    ));
    assert!(matches!(f.deliver_all(), Outcome::SwapRefused { .. }));
    let (held, owed) = f.balance();
    assert_eq!((held, owed), (64, 64), "the inputs are back and unspent");
}
