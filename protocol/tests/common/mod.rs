//! An in-process harness that wires sans-IO wallets to a mint, in the spirit
//! of quinn-proto's `Pair`: the "network" is a function call, time is a field.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;

use peer2prompt::ecash::messages::{MeltQuoteRequest, MintQuoteRequest};
use peer2prompt::ecash::wallet::{MeltSettled, NoHold, SendPlan};
use peer2prompt::ecash::{
    Amount, BlindedMessage, CurrencyUnit, EcashError, Invoice, LightningPayer, LightningPayment,
    Mint, MintConfig, MintUrl, PayerId, PayoutOutcome, Proof, Wallet, WalletPolicy,
};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// One mint and a clock.
pub struct Bank {
    pub mint: Mint,
    pub url: MintUrl,
    pub rng: ChaCha20Rng,
    pub now: Instant,
    /// Total funded over Lightning, tracked independently of the mint.
    pub funded: Amount,
    /// Total paid out over Lightning (amount + reserve), tracked independently.
    pub melted: Amount,
}

pub fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 4000))
}

impl Bank {
    pub fn new(config: MintConfig, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mint = Mint::new(config, &mut rng);
        Bank {
            mint,
            url: MintUrl("mint.test".into()),
            rng,
            now: Instant::from_nanos(1_000_000_000),
            funded: Amount::ZERO,
            melted: Amount::ZERO,
        }
    }

    pub fn wallet(&self, policy: WalletPolicy) -> Wallet {
        let mut w = Wallet::new(policy, Box::new(NoHold));
        w.add_mint(self.url.clone(), &self.mint.keysets()).unwrap();
        w
    }

    /// Fresh blinded outputs for `total`, split into powers of two, in the
    /// mint's active keyset (for hand-built requests).
    pub fn outputs_for(&mut self, total: u64) -> Vec<BlindedMessage> {
        use rand_core::Rng;
        let id = self.mint.active_keyset_id();
        Amount::new(total)
            .split()
            .into_iter()
            .map(|amount| {
                let secret = format!("{:x}", self.rng.next_u64());
                let (blinded, _) =
                    peer2prompt::ecash::dhke::blind_message(secret.as_bytes(), None, &mut self.rng)
                        .unwrap();
                BlindedMessage {
                    amount,
                    id,
                    blinded_secret: blinded,
                }
            })
            .collect()
    }

    pub fn tick(&mut self, d: Duration) {
        self.now += d;
    }

    /// Quote, pay over "Lightning", and issue `amount` into `w`.
    pub fn fund(&mut self, w: &mut Wallet, amount: u64, payer: u64) -> Result<Amount, EcashError> {
        let req = MintQuoteRequest {
            amount: Amount::new(amount),
            unit: CurrencyUnit::default(),
        };
        let quote = self.mint.create_mint_quote(self.now, &req, &mut self.rng)?;
        self.mint.handle_lightning_payment(
            self.now,
            LightningPayment {
                quote: quote.quote,
                amount: quote.amount,
                payer: LightningPayer::Node(PayerId(payer)),
            },
        )?;
        self.funded = self.funded.checked_add(quote.amount)?;
        let pending = w.prepare_issue(&self.url, quote.quote, quote.amount, &mut self.rng)?;
        let sigs = self.mint.mint(self.now, addr(1), &pending.request())?;
        w.complete_issue(pending, &sigs.signatures, self.now)
    }

    /// Runs a send plan to completion and returns the proofs to hand over.
    pub fn send(
        &mut self,
        w: &mut Wallet,
        amount: u64,
        from: u16,
    ) -> Result<Vec<Proof>, EcashError> {
        match w.send(&self.url, Amount::new(amount), self.now, &mut self.rng)? {
            SendPlan::Ready(p) => Ok(p),
            SendPlan::Swap(pending) => {
                match self.mint.swap(self.now, addr(from), &pending.request()) {
                    Ok(sigs) => w.complete_swap(pending, &sigs.signatures, self.now),
                    Err(e) => {
                        w.abort_swap(pending);
                        Err(e)
                    }
                }
            }
        }
    }

    /// A payee checks proofs offline, accepts them and settles with a swap.
    pub fn receive(
        &mut self,
        payee: &mut Wallet,
        proofs: Vec<Proof>,
        at: u16,
    ) -> Result<Amount, EcashError> {
        payee.accept(&self.url, proofs, self.now)?;
        let pending = match payee.settle_received(&self.url, self.now, &mut self.rng) {
            Ok(Some(pending)) => pending,
            // Nothing to settle, or dust that cannot pay its own input fee:
            // it stays held, unswapped, until it can be batched.
            Ok(None) | Err(EcashError::InsufficientFunds { .. }) => return Ok(Amount::ZERO),
            Err(e) => return Err(e),
        };
        let out = pending.output_total();
        match self.mint.swap(self.now, addr(at), &pending.request()) {
            Ok(sigs) => {
                payee.complete_swap(pending, &sigs.signatures, self.now)?;
                Ok(out)
            }
            Err(e) => {
                payee.abort_swap(pending);
                Err(e)
            }
        }
    }

    /// Melts `amount` to a Lightning payee; `outcome` decides the payout.
    pub fn melt(
        &mut self,
        w: &mut Wallet,
        amount: u64,
        outcome: PayoutOutcome,
    ) -> Result<(), EcashError> {
        let invoice = Invoice {
            payment_hash: [7; 32],
            amount: Amount::new(amount),
            expiry: self.now + Duration::from_secs(600),
        };
        let quote = self.mint.create_melt_quote(
            self.now,
            &MeltQuoteRequest {
                request: invoice,
                unit: CurrencyUnit::default(),
            },
            &mut self.rng,
        )?;
        let pending = w.prepare_melt(&self.url, &quote, self.now, &mut self.rng)?;
        if let Err(e) = self.mint.begin_melt(self.now, addr(2), &pending.request()) {
            w.abort_melt(pending);
            return Err(e);
        }
        let resp = self.mint.complete_melt(self.now, &quote.quote, outcome)?;
        if resp.state == peer2prompt::ecash::messages::MeltQuoteState::Paid {
            self.melted = self
                .melted
                .checked_add(quote.amount)?
                .checked_add(quote.fee_reserve)?;
        }
        match w.complete_melt(pending, &resp, self.now)? {
            MeltSettled::StillPending(_) => panic!("harness melts settle at once"),
            MeltSettled::Paid | MeltSettled::Failed => Ok(()),
        }
    }
}
