//! One payment engine for every holder of ecash (whitepaper "Token
//! Lifecycle", "Payment Layer", "Prepaid chunks"): a wallet, the mint
//! operations it has asked for, matched to their answers, NUT-09 recovery
//! of answers that never came, and the two moves of the prepaid-chunk
//! exchange, spending a chunk and receiving one. The client and service
//! roles drive it over their mint circuits; the market's rail drives it with
//! the mint in reach ([`serve`](super::serve)). Sans-IO: requests leave
//! through a [`MintLink`], answers come back through [`Payments::answer`].
//!
//! `P` names what a swap is for in the caller's terms (a turn's payment, a
//! reclaim, a settlement); the engine hands it back with the outcome.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use secp256k1::PublicKey;

use super::wire::{MintApiRequest, MintApiResponse, MintError};
use crate::ecash::messages::{
    CheckStateRequest, CheckStateResponse, MintQuoteRequest, MintQuoteResponse,
};
use crate::ecash::mint::ys_of;
use crate::ecash::wallet::{PendingIssue, PendingSwap, Recovery, SendPlan};
use crate::ecash::{
    Amount, BlindedMessage, CurrencyUnit, EcashError, MintUrl, Proof, QuoteId, Wallet,
};
use crate::time::Instant;

/// Where mint requests go: a circuit to the mint, or the mint itself.
pub trait MintLink {
    /// Sends `request` to the mint at `mint`; its sequence number, or `None`
    /// without access to that mint.
    fn send(&mut self, mint: &MintUrl, request: MintApiRequest) -> Option<u64>;
}

/// A request waiting for its answer.
#[derive(Debug)]
enum Op<P> {
    /// Keysets; `audit`: the second look, from another circuit.
    Keys {
        audit: bool,
    },
    Quote,
    Issue(PendingIssue),
    Swap {
        pending: PendingSwap,
        purpose: P,
    },
    States,
    /// A swap whose answer was lost, being recovered (NUT-09); `refused`
    /// holds the mint's error if it refused a copy of the request (then a
    /// restore that finds nothing gives the swap up).
    RecoverSwap {
        pending: PendingSwap,
        purpose: P,
        refused: Option<Box<MintError>>,
    },
    /// An issuance whose answer was lost; `after_error` if the mint refused
    /// the request (then a failed restore gives it up).
    RecoverIssue {
        pending: PendingIssue,
        after_error: bool,
    },
}

/// What an answer, or its absence, came to: what the caller acts on.
#[derive(Debug)]
pub enum Outcome<P> {
    /// Nothing for the caller (the engine may have asked the mint again).
    Quiet,
    /// The mint's keysets: added (`audit` false), or compared with those
    /// first seen (`audit` true).
    Keys {
        /// Which look this was.
        audit: bool,
        /// Whether the wallet accepts them.
        result: Result<(), EcashError>,
    },
    /// A keys request went unanswered.
    KeysSilent {
        /// Which look it was.
        audit: bool,
    },
    /// A mint quote to pay over Lightning.
    Quoted(MintQuoteResponse),
    /// An issuance completed (or was found executed after all).
    Issued(Result<Amount, EcashError>),
    /// A swap answered with signatures: its outputs, or why the wallet
    /// could not use them. `amount` is what the swap was to produce.
    Swapped {
        /// What the swap was for.
        purpose: P,
        /// Its output value.
        amount: Amount,
        /// The proofs to send (for a payment), or the wallet's refusal.
        result: Result<Vec<Proof>, EcashError>,
    },
    /// The mint refused a swap: its inputs are back in the wallet and their
    /// states are being checked (a payer may have spent them first).
    SwapRefused {
        /// What the swap was for.
        purpose: P,
        /// The mint's reason.
        error: MintError,
    },
    /// A swap's answer never came; the mint is being asked (NUT-09).
    SwapSilent {
        /// What the swap was for.
        purpose: P,
    },
    /// A swap whose answer was lost had been executed after all.
    SwapRecovered {
        /// What the swap was for.
        purpose: P,
        /// Its output value.
        amount: Amount,
    },
    /// A swap was not executed; its inputs are back in the wallet.
    SwapUndone {
        /// What the swap was for.
        purpose: P,
    },
    /// Proof states, already applied to the wallet.
    States(CheckStateResponse),
}

/// A request the wallet prepared (drawing its blinding factors), to send
/// with [`Payments::submit`]. A swap's inputs have left the wallet: drop
/// one unsent and they are lost.
#[must_use = "a prepared swap holds its inputs until it is submitted"]
#[derive(Debug)]
pub struct Prepared<P> {
    mint: MintUrl,
    request: MintApiRequest,
    op: Op<P>,
}

/// What spending a chunk needs.
#[derive(Debug)]
#[must_use = "a swap holds its inputs until it is submitted"]
pub enum Spend<P> {
    /// The wallet held the exact proofs.
    Ready(Vec<Proof>),
    /// A swap for change must run first.
    Swap(Prepared<P>),
}

/// A payment taken in: its value and the `Y`s of its proofs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Its value.
    pub amount: Amount,
    /// `Y = hash_to_curve(secret)` of each proof.
    pub ys: Vec<PublicKey>,
}

/// A wallet and its mint operations in flight.
pub struct Payments<P> {
    wallet: Wallet,
    ops: BTreeMap<(MintUrl, u64), Op<P>>,
}

impl<P> core::fmt::Debug for Payments<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Payments")
            .field("in_flight", &self.ops.len())
            .finish_non_exhaustive()
    }
}

impl<P: Clone> Payments<P> {
    /// An engine around `wallet`.
    pub fn new(wallet: Wallet) -> Self {
        Payments {
            wallet,
            ops: BTreeMap::new(),
        }
    }

    /// The wallet.
    pub fn wallet(&self) -> &Wallet {
        &self.wallet
    }

    /// Sends `request` and remembers `op` for its answer. Without access to
    /// the mint, a swap's inputs go back to the wallet.
    fn track(
        &mut self,
        link: &mut dyn MintLink,
        mint: &MintUrl,
        request: MintApiRequest,
        op: Op<P>,
    ) {
        match link.send(mint, request) {
            Some(seq) => {
                self.ops.insert((mint.clone(), seq), op);
            }
            None => {
                if let Op::Swap { pending, .. } | Op::RecoverSwap { pending, .. } = op {
                    self.wallet.abort_swap(pending);
                }
            }
        }
    }

    // ----- requests -------------------------------------------------------

    /// Asks for the mint's keysets (NUT-01); `audit` for the second look.
    pub fn fetch_keys(&mut self, link: &mut dyn MintLink, mint: &MintUrl, audit: bool) {
        self.track(link, mint, MintApiRequest::Keys, Op::Keys { audit });
    }

    /// Asks for a mint quote of `amount` (NUT-04), to pay over Lightning.
    pub fn request_quote(&mut self, link: &mut dyn MintLink, mint: &MintUrl, amount: Amount) {
        let request = MintApiRequest::MintQuote(MintQuoteRequest {
            amount,
            unit: CurrencyUnit::default(),
        });
        self.track(link, mint, request, Op::Quote);
    }

    /// Prepares the issuance of a paid quote (NUT-04).
    pub fn prepare_issue(
        &mut self,
        mint: &MintUrl,
        quote: QuoteId,
        amount: Amount,
        rng: &mut impl CryptoRng,
    ) -> Result<Prepared<P>, EcashError> {
        let pending = self.wallet.prepare_issue(mint, quote, amount, rng)?;
        Ok(Prepared {
            mint: mint.clone(),
            request: MintApiRequest::Mint(pending.request()),
            op: Op::Issue(pending),
        })
    }

    /// A prepaid chunk of `amount` (whitepaper "Prepaid chunks"): the proofs
    /// at once when the wallet holds them exactly, or a swap for change to
    /// submit (its proofs come back as [`Outcome::Swapped`] for `purpose`).
    pub fn prepare_spend(
        &mut self,
        mint: &MintUrl,
        amount: Amount,
        now: Instant,
        rng: &mut impl CryptoRng,
        purpose: P,
    ) -> Result<Spend<P>, EcashError> {
        Ok(match self.wallet.send(mint, amount, now, rng)? {
            SendPlan::Ready(proofs) => Spend::Ready(proofs),
            SendPlan::Swap(pending) => Spend::Swap(Prepared {
                mint: mint.clone(),
                request: MintApiRequest::Swap(pending.request()),
                op: Op::Swap { pending, purpose },
            }),
        })
    }

    /// A chunk received: checked offline (keyset, DLEQ, no proof seen twice)
    /// and held until it is settled.
    pub fn receive(
        &mut self,
        mint: &MintUrl,
        proofs: Vec<Proof>,
        now: Instant,
    ) -> Result<Received, EcashError> {
        let ys = ys_of(&proofs)?;
        let amount = self.wallet.accept(mint, proofs, now)?;
        Ok(Received { amount, ys })
    }

    /// Checks a chunk offline without taking it (before a job is accepted).
    pub fn verify(&self, mint: &MintUrl, proofs: &[Proof]) -> Result<Amount, EcashError> {
        self.wallet.verify_offline(mint, proofs)
    }

    /// Puts back proofs this wallet made for a payment that was never
    /// acknowledged; they are settled with what was received.
    pub fn take_back(
        &mut self,
        mint: &MintUrl,
        proofs: Vec<Proof>,
        now: Instant,
    ) -> Result<Amount, EcashError> {
        self.wallet.accept(mint, proofs, now)
    }

    /// Prepares a swap of everything received and not yet settled at `mint`
    /// for fresh proofs, so that no payer can spend it again; `None` when
    /// there is nothing to settle.
    pub fn prepare_settle(
        &mut self,
        mint: &MintUrl,
        now: Instant,
        rng: &mut impl CryptoRng,
        purpose: P,
    ) -> Result<Option<Prepared<P>>, EcashError> {
        let Some(pending) = self.wallet.settle_received(mint, now, rng)? else {
            return Ok(None);
        };
        Ok(Some(Prepared {
            mint: mint.clone(),
            request: MintApiRequest::Swap(pending.request()),
            op: Op::Swap { pending, purpose },
        }))
    }

    /// Sends a prepared request.
    pub fn submit(&mut self, link: &mut dyn MintLink, prepared: Prepared<P>) {
        let Prepared { mint, request, op } = prepared;
        self.track(link, &mint, request, op);
    }

    /// Asks which of these proofs are spent (NUT-07).
    pub fn check_states(&mut self, link: &mut dyn MintLink, mint: &MintUrl, ys: Vec<PublicKey>) {
        let request = MintApiRequest::CheckState(CheckStateRequest { ys });
        self.track(link, mint, request, Op::States);
    }

    fn recover_swap(
        &mut self,
        link: &mut dyn MintLink,
        pending: PendingSwap,
        purpose: P,
        refused: Option<Box<MintError>>,
    ) {
        let mint = pending.mint().clone();
        let request = MintApiRequest::Restore(pending.restore_request());
        let op = Op::RecoverSwap {
            pending,
            purpose,
            refused,
        };
        self.track(link, &mint, request, op);
    }

    /// Sends the identical swap again (same inputs, same outputs). A copy
    /// still in flight and this one cannot both execute: the second finds
    /// its inputs spent, and a restore then finds the first one's outputs.
    fn resubmit_swap(&mut self, link: &mut dyn MintLink, pending: PendingSwap, purpose: P) {
        let mint = pending.mint().clone();
        let request = MintApiRequest::Swap(pending.request());
        self.track(link, &mint, request, Op::Swap { pending, purpose });
    }

    fn recover_issue(&mut self, link: &mut dyn MintLink, pending: PendingIssue, after_error: bool) {
        let mint = pending.mint().clone();
        let request = MintApiRequest::Restore(pending.restore_request());
        self.track(
            link,
            &mint,
            request,
            Op::RecoverIssue {
                pending,
                after_error,
            },
        );
    }

    /// A refused swap: inputs back, and ask the mint which are spent.
    fn after_refused_swap(&mut self, link: &mut dyn MintLink, pending: PendingSwap) {
        let ys = ys_of(&pending.request().inputs).unwrap_or_default();
        let mint = pending.mint().clone();
        self.wallet.abort_swap(pending);
        self.check_states(link, &mint, ys);
    }

    // ----- answers --------------------------------------------------------

    /// The mint's answer to request `seq` at `mint`. Unknown or repeated
    /// answers are dropped.
    pub fn answer(
        &mut self,
        link: &mut dyn MintLink,
        mint: &MintUrl,
        seq: u64,
        response: MintApiResponse,
        now: Instant,
    ) -> Outcome<P> {
        let Some(op) = self.ops.remove(&(mint.clone(), seq)) else {
            return Outcome::Quiet;
        };
        match (op, response) {
            (Op::Keys { audit: false }, MintApiResponse::Keys(keys)) => Outcome::Keys {
                audit: false,
                result: self.wallet.add_mint(mint.clone(), &keys),
            },
            (Op::Keys { audit: true }, MintApiResponse::Keys(keys)) => Outcome::Keys {
                audit: true,
                result: self.wallet.check_keyset_consistency(mint, &keys),
            },
            (Op::Quote, MintApiResponse::MintQuote(q)) => Outcome::Quoted(q),
            (Op::Issue(pending), MintApiResponse::Signatures(sigs)) => {
                Outcome::Issued(self.wallet.complete_issue(pending, &sigs.signatures, now))
            }
            (Op::Issue(pending), MintApiResponse::Error(_)) => {
                // Perhaps an earlier copy of this request was executed.
                self.recover_issue(link, pending, true);
                Outcome::Quiet
            }
            (Op::Swap { pending, purpose }, MintApiResponse::Signatures(sigs)) => {
                let amount = pending.output_total();
                let result = self.wallet.complete_swap(pending, &sigs.signatures, now);
                Outcome::Swapped {
                    purpose,
                    amount,
                    result,
                }
            }
            (Op::Swap { pending, purpose }, MintApiResponse::Error(error)) => {
                // Perhaps an earlier copy of this request was executed: its
                // outputs are ours. Ask before giving the swap up.
                self.recover_swap(link, pending, purpose, Some(Box::new(error)));
                Outcome::Quiet
            }
            (Op::States, MintApiResponse::States(states)) => {
                self.wallet.apply_states(mint, &states.states);
                Outcome::States(states)
            }
            (
                Op::RecoverSwap {
                    pending,
                    purpose,
                    refused,
                },
                MintApiResponse::Restored(r),
            ) => {
                let amount = pending.output_total();
                match self.wallet.recover_swap(pending, &r, now) {
                    Ok(Recovery::Completed(_)) => Outcome::SwapRecovered { purpose, amount },
                    Ok(Recovery::NotExecuted(pending)) => match refused {
                        Some(error) => {
                            self.after_refused_swap(link, pending);
                            Outcome::SwapRefused {
                                purpose,
                                error: *error,
                            }
                        }
                        // Not executed *yet*: the lost request may still be
                        // on its way (found by the swarm: aborting here let a
                        // late copy spend the inputs for outputs nobody held).
                        None => {
                            self.resubmit_swap(link, pending, purpose);
                            Outcome::Quiet
                        }
                    },
                    Err(e) => {
                        tracing::debug!("swap recovery failed: {e}");
                        Outcome::Quiet
                    }
                }
            }
            (
                Op::RecoverIssue {
                    pending,
                    after_error,
                },
                MintApiResponse::Restored(r),
            ) => self.recovered_issue(link, pending, after_error, &r, now),
            (op, _) => self.unexpected(link, op),
        }
    }

    fn recovered_issue(
        &mut self,
        link: &mut dyn MintLink,
        pending: PendingIssue,
        after_error: bool,
        restored: &crate::ecash::messages::RestoreResponse,
        now: Instant,
    ) -> Outcome<P> {
        match self.wallet.recover_issue(pending, restored, now) {
            Ok(Recovery::Completed(amount)) => Outcome::Issued(Ok(amount)),
            Ok(Recovery::NotExecuted(pending)) if !after_error => {
                let mint = pending.mint().clone();
                let request = MintApiRequest::Mint(pending.request());
                self.track(link, &mint, request, Op::Issue(pending));
                Outcome::Quiet
            }
            Ok(Recovery::NotExecuted(_)) => {
                tracing::debug!("issuance refused by the mint");
                Outcome::Quiet
            }
            Err(e) => {
                tracing::debug!("issuance recovery failed: {e}");
                Outcome::Quiet
            }
        }
    }

    /// An answer of the wrong kind: whatever the mint may have signed is
    /// asked for again.
    fn unexpected(&mut self, link: &mut dyn MintLink, op: Op<P>) -> Outcome<P> {
        tracing::debug!("unexpected mint answer");
        match op {
            Op::Swap { pending, purpose } => {
                self.recover_swap(link, pending, purpose, None);
                Outcome::Quiet
            }
            Op::RecoverSwap {
                pending, purpose, ..
            } => {
                self.wallet.abort_swap(pending);
                Outcome::SwapUndone { purpose }
            }
            Op::Issue(pending) => {
                self.recover_issue(link, pending, true);
                Outcome::Quiet
            }
            Op::RecoverIssue { .. } | Op::Keys { .. } | Op::Quote | Op::States => Outcome::Quiet,
        }
    }

    /// Request `seq` at `mint` went unanswered: an unanswered swap or
    /// issuance may have been executed, so the mint is asked (NUT-09)
    /// before anything is given up.
    pub fn expired(&mut self, link: &mut dyn MintLink, mint: &MintUrl, seq: u64) -> Outcome<P> {
        let Some(op) = self.ops.remove(&(mint.clone(), seq)) else {
            return Outcome::Quiet;
        };
        match op {
            Op::Swap { pending, purpose } => {
                self.recover_swap(link, pending, purpose.clone(), None);
                Outcome::SwapSilent { purpose }
            }
            Op::RecoverSwap {
                pending,
                purpose,
                refused,
            } => {
                self.recover_swap(link, pending, purpose, refused);
                Outcome::Quiet
            }
            Op::Keys { audit } => Outcome::KeysSilent { audit },
            Op::Issue(pending) => {
                self.recover_issue(link, pending, false);
                Outcome::Quiet
            }
            Op::RecoverIssue {
                pending,
                after_error,
            } => {
                self.recover_issue(link, pending, after_error);
                Outcome::Quiet
            }
            Op::Quote | Op::States => Outcome::Quiet,
        }
    }

    // ----- what is in flight ----------------------------------------------

    /// Whether a swap or an issuance awaits an answer (value the mint may
    /// have signed that only its answer or a NUT-09 restore can bring back).
    pub fn holds_mint_value(&self) -> bool {
        self.ops.values().any(|op| {
            matches!(
                op,
                Op::Swap { .. } | Op::RecoverSwap { .. } | Op::Issue(_) | Op::RecoverIssue { .. }
            )
        })
    }

    /// Quotes whose issuance awaits an answer.
    pub fn pending_issues(&self) -> Vec<QuoteId> {
        self.ops
            .values()
            .filter_map(|op| match op {
                Op::Issue(pending) | Op::RecoverIssue { pending, .. } => {
                    Some(pending.request().quote)
                }
                _ => None,
            })
            .collect()
    }

    /// Blinded outputs of swaps and issuances awaiting an answer.
    pub fn pending_outputs(&self) -> Vec<BlindedMessage> {
        self.ops
            .values()
            .flat_map(|op| match op {
                Op::Swap { pending, .. } | Op::RecoverSwap { pending, .. } => {
                    pending.restore_request().outputs
                }
                Op::Issue(pending) | Op::RecoverIssue { pending, .. } => {
                    pending.restore_request().outputs
                }
                _ => Vec::new(),
            })
            .collect()
    }

    /// Proofs that are inputs of swaps in flight (still this wallet's until
    /// the mint answers).
    pub fn in_flight(&self) -> Vec<Proof> {
        self.ops
            .values()
            .filter_map(|op| match op {
                Op::Swap { pending, .. } | Op::RecoverSwap { pending, .. } => Some(pending),
                _ => None,
            })
            .flat_map(|p| p.inputs().cloned())
            .collect()
    }

    /// The `Y`s of [`Payments::in_flight`].
    pub fn in_flight_ys(&self) -> Vec<PublicKey> {
        self.ops
            .values()
            .filter_map(|op| match op {
                Op::Swap { pending, .. } | Op::RecoverSwap { pending, .. } => Some(pending),
                _ => None,
            })
            .flat_map(|p| p.input_ys())
            .collect()
    }

    /// Forgets every request made to `mint`. Swaps still waiting hand their
    /// inputs back: an abandoned mint's answers are never read, so a swap it
    /// executed after this is lost to the wallet.
    pub fn forget_mint(&mut self, mint: &MintUrl) {
        let keys: Vec<(MintUrl, u64)> = self
            .ops
            .keys()
            .filter(|(m, _)| m == mint)
            .cloned()
            .collect();
        for k in keys {
            if let Some(Op::Swap { pending, .. } | Op::RecoverSwap { pending, .. }) =
                self.ops.remove(&k)
            {
                self.wallet.abort_swap(pending);
            }
        }
    }
}
