//! Mint-exit collusion (whitepaper "Mint-Exit Collusion"): a mint and a
//! Ghost pool their logs and, for each payment the Ghost received, narrow
//! down the Lightning funding it came from by denominations, timing and
//! which proofs were swapped together.
//!
//! The attacker's input type, [`Evidence`], holds observations only: the
//! colluding mints' operator logs ([`MintObservation`]) and the colluding
//! Ghosts' received payments ([`GhostReceipt`]). Ground truth never enters
//! it; scoring compares its guess with the truth elsewhere.
//!
//! Method. A received payment's proofs were signed blindly, so the mint
//! cannot recognise them; it can only ask which of its operations could have
//! produced them. Going backwards from the payment (time `t`, denominations
//! `D`):
//! 1. source operations: swaps and issuances in `[t - window, t]` whose
//!    signed denominations contain `D` (as a multiset), or, if none does
//!    (proofs from several operations), that signed any denomination of `D`;
//! 2. a source swap's inputs are revealed (their `Y`s and denominations);
//!    they came from earlier operations in the window whose signed
//!    denominations contain at least one of them, traced back up to
//!    [`Params::depth`] swaps (a wallet paying chunk after chunk makes a
//!    chain of change swaps, one per payment, so the default goes deep);
//! 3. every issuance reached is tied to its funding (same quote), and the
//!    funding to what Lightning revealed about the payer.
//!
//! Each candidate funding event gets a weight: equal, or, with
//! [`Params::recency_ns`] set, `exp(-(t_payment - t_issuance) / recency)`
//! (an attacker that knows wallets spend soon after minting, or knows the
//! hold policy's scale: "tight timing between mint and spend enables
//! statistical linkage"). A payer's probability is the weight of the
//! fundings that name it (a candidate set splits its
//! funding's weight; a hidden payer spreads it over every payer the mint has
//! seen). The anonymity is the entropy `H` of that distribution (bits) and
//! `2^H` the effective set size; the guess is the most probable payer.

use std::collections::{BTreeMap, BTreeSet};

use peer2prompt::ecash::{Amount, LightningPayer, MintObservation, PayerId, QuoteId};
use peer2prompt::time::Instant;

/// A payment a colluding Ghost received (what its logs hold).
#[derive(Clone, Debug, PartialEq)]
pub struct GhostReceipt {
    /// When it arrived.
    pub at: Instant,
    /// Denominations of its proofs.
    pub amounts: Vec<Amount>,
}

/// Everything the colluding mint and Ghosts pooled; nothing else.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// The colluding mints' operator logs, in time order.
    pub mint_log: Vec<MintObservation>,
}

/// The attacker's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// How far back from a payment operations are considered, ns.
    pub window_ns: u64,
    /// How many swaps back from a payment the trace follows.
    pub depth: u32,
    /// Timing scale of the funding weights, ns (`None`: equal weights).
    pub recency_ns: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            window_ns: 3_600_000_000_000,
            depth: 64,
            recency_ns: None,
        }
    }
}

/// What the attacker concluded about one payment.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    /// Candidate funding events consistent with the evidence.
    pub fundings: usize,
    /// Payers with non-zero probability.
    pub candidates: usize,
    /// Entropy of the payer distribution, bits.
    pub entropy_bits: f64,
    /// The most probable payer, if any funding is consistent.
    pub guess: Option<PayerId>,
}

impl Attribution {
    /// `2^H`: the effective anonymity-set size.
    pub fn effective_set(&self) -> f64 {
        self.entropy_bits.exp2()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        quote: QuoteId,
        amounts: Vec<Amount>,
    },
    Swap {
        inputs: Vec<Amount>,
        outputs: Vec<Amount>,
    },
}

/// The mint log, indexed for attribution.
#[derive(Debug)]
pub struct MintExitAttacker {
    ops: Vec<(u64, Op)>,
    fundings: BTreeMap<QuoteId, LightningPayer>,
    payers: BTreeSet<PayerId>,
    params: Params,
}

/// True if multiset `big` contains multiset `small`.
fn contains(big: &[Amount], small: &[Amount]) -> bool {
    let mut left: BTreeMap<u64, i64> = BTreeMap::new();
    for a in big {
        *left.entry(a.value()).or_default() += 1;
    }
    small.iter().all(|a| {
        let e = left.entry(a.value()).or_default();
        *e -= 1;
        *e >= 0
    })
}

impl MintExitAttacker {
    /// Indexes `evidence` for attributions under `params`.
    pub fn new(evidence: &Evidence, params: Params) -> Self {
        let mut ops = Vec::new();
        let mut fundings = BTreeMap::new();
        let mut payers = BTreeSet::new();
        for o in &evidence.mint_log {
            match o {
                MintObservation::Funding { quote, payer, .. } => {
                    match payer {
                        LightningPayer::Node(p) => {
                            payers.insert(*p);
                        }
                        LightningPayer::Candidates(c) => payers.extend(c.iter().copied()),
                        LightningPayer::Hidden => {}
                    }
                    fundings.insert(*quote, payer.clone());
                }
                MintObservation::Issuance {
                    at, quote, amounts, ..
                } => ops.push((
                    at.as_nanos(),
                    Op::Issue {
                        quote: *quote,
                        amounts: amounts.clone(),
                    },
                )),
                MintObservation::Swap {
                    at,
                    inputs,
                    output_amounts,
                    ..
                } => ops.push((
                    at.as_nanos(),
                    Op::Swap {
                        inputs: inputs.iter().map(|p| p.amount).collect(),
                        outputs: output_amounts.clone(),
                    },
                )),
                MintObservation::Melt { .. } | MintObservation::Restore { .. } => {}
            }
        }
        ops.sort_by_key(|(t, _)| *t);
        MintExitAttacker {
            ops,
            fundings,
            payers,
            params,
        }
    }

    /// Operations in `[to - window, to)` whose signed denominations satisfy `fits`.
    fn sources(&self, to: u64, fits: impl Fn(&[Amount]) -> bool) -> Vec<usize> {
        let from = to.saturating_sub(self.params.window_ns);
        let lo = self.ops.partition_point(|(t, _)| *t < from);
        let hi = self.ops.partition_point(|(t, _)| *t < to);
        (lo..hi)
            .filter(|&i| match &self.ops[i].1 {
                Op::Issue { amounts, .. } => fits(amounts),
                Op::Swap { outputs, .. } => fits(outputs),
            })
            .collect()
    }

    /// Attributes one received payment.
    pub fn attribute(&self, r: &GhostReceipt) -> Attribution {
        let mut quotes: BTreeMap<QuoteId, u64> = BTreeMap::new();
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        // Prefer operations that signed the whole payment; a wallet may pay
        // with proofs from several operations, so fall back to any that
        // signed one of its denominations.
        let mut frontier = self.sources(r.at.as_nanos() + 1, |signed| contains(signed, &r.amounts));
        if frontier.is_empty() {
            frontier = self.sources(r.at.as_nanos() + 1, |signed| {
                r.amounts.iter().any(|a| signed.contains(a))
            });
        }
        for _ in 0..=self.params.depth {
            if frontier.is_empty() {
                break;
            }
            let mut next = Vec::new();
            for i in frontier {
                if !seen.insert(i) {
                    continue;
                }
                let (t, op) = &self.ops[i];
                match op {
                    Op::Issue { quote, .. } => {
                        quotes.insert(*quote, *t);
                    }
                    Op::Swap { inputs, .. } => {
                        next.extend(
                            self.sources(*t, |signed| inputs.iter().any(|a| signed.contains(a))),
                        );
                    }
                }
            }
            frontier = next;
        }
        let mut weight: BTreeMap<PayerId, f64> = BTreeMap::new();
        let funded: Vec<(&LightningPayer, u64)> = quotes
            .iter()
            .filter_map(|(q, t)| self.fundings.get(q).map(|p| (p, *t)))
            .collect();
        let youngest = funded.iter().map(|(_, t)| *t).max().unwrap_or(0);
        for (payer, issued) in &funded {
            let share: Vec<PayerId> = match payer {
                LightningPayer::Node(p) => vec![*p],
                LightningPayer::Candidates(c) => c.clone(),
                LightningPayer::Hidden => self.payers.iter().copied().collect(),
            };
            // Relative to the youngest candidate, so weights never all
            // underflow.
            let w = match self.params.recency_ns {
                Some(scale) if scale > 0 => {
                    (-(youngest.saturating_sub(*issued) as f64) / scale as f64).exp()
                }
                _ => 1.0,
            };
            for p in &share {
                *weight.entry(*p).or_default() += w / share.len().max(1) as f64;
            }
        }
        weight.retain(|_, w| *w > 0.0);
        let total: f64 = weight.values().sum();
        let entropy_bits = if total > 0.0 {
            -weight
                .values()
                .map(|w| w / total)
                .filter(|p| *p > 0.0)
                .map(|p| p * p.log2())
                .sum::<f64>()
        } else {
            0.0
        };
        let guess = weight
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(p, _)| *p);
        Attribution {
            fundings: funded.len(),
            candidates: weight.len(),
            entropy_bits: entropy_bits.max(0.0),
            guess,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    use peer2prompt::ecash::KeysetId;
    use peer2prompt::ecash::observe::RedeemedProof;
    use peer2prompt::time::Duration;

    fn nobody() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    }

    fn some_y() -> secp256k1::PublicKey {
        // Any point: the attacker only uses denominations of swap inputs.
        secp256k1::PublicKey::from_slice(&[
            0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62, 0x95, 0xce,
            0x87, 0x0b, 0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81,
            0x5b, 0x16, 0xf8, 0x17, 0x98,
        ])
        .unwrap_or_else(|_| unreachable!("the secp256k1 generator is a valid point"))
    }

    fn at(s: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(s)
    }

    fn amounts(v: u64) -> Vec<Amount> {
        Amount::new(v).split()
    }

    fn funding(log: &mut Vec<MintObservation>, t: u64, q: u8, v: u64, payer: LightningPayer) {
        log.push(MintObservation::Funding {
            at: at(t),
            quote: QuoteId([q; 16]),
            amount: Amount::new(v),
            payer,
        });
        log.push(MintObservation::Issuance {
            at: at(t + 1),
            presenter: nobody(),
            quote: QuoteId([q; 16]),
            keyset: KeysetId::V1([0; 8]),
            amounts: amounts(v),
        });
    }

    fn swap(log: &mut Vec<MintObservation>, t: u64, inputs: &[u64], outputs: &[u64]) {
        log.push(MintObservation::Swap {
            at: at(t),
            presenter: nobody(),
            inputs: inputs
                .iter()
                .map(|&a| RedeemedProof {
                    y: some_y(),
                    amount: Amount::new(a),
                    keyset: KeysetId::V1([0; 8]),
                })
                .collect(),
            output_amounts: outputs.iter().map(|&a| Amount::new(a)).collect(),
            fee: Amount::ZERO,
        });
    }

    #[test]
    fn a_single_funding_in_the_window_is_certain_and_correct() {
        let mut log = Vec::new();
        funding(&mut log, 100, 1, 1000, LightningPayer::Node(PayerId(42)));
        // The client swaps before spending, then pays 13 sat.
        swap(
            &mut log,
            200,
            &[512, 256, 128, 64, 32, 8],
            &[8, 4, 1, 512, 256, 128, 64, 16, 8],
        );
        let a = MintExitAttacker::new(&Evidence { mint_log: log }, Params::default());
        let r = a.attribute(&GhostReceipt {
            at: at(201),
            amounts: vec![Amount::new(8), Amount::new(4), Amount::new(1)],
        });
        assert_eq!(r.guess, Some(PayerId(42)));
        assert_eq!((r.fundings, r.candidates), (1, 1));
        assert_eq!(r.entropy_bits, 0.0);
        assert_eq!(r.effective_set(), 1.0);
    }

    #[test]
    fn recency_weights_favour_the_funding_just_before_the_payment() {
        let mut log = Vec::new();
        funding(&mut log, 100, 1, 64, LightningPayer::Node(PayerId(1)));
        funding(&mut log, 400, 2, 64, LightningPayer::Node(PayerId(2)));
        let receipt = GhostReceipt {
            at: at(410),
            amounts: vec![Amount::new(64)],
        };
        let evidence = Evidence { mint_log: log };
        // Equal weights: a coin flip between the two (1 bit).
        let flat = MintExitAttacker::new(&evidence, Params::default()).attribute(&receipt);
        assert_eq!(flat.candidates, 2);
        assert!((flat.entropy_bits - 1.0).abs() < 1e-9);
        // Weighted with a 60 s scale: 300 s apart is a factor e^-5, so the
        // later payer is the guess and the entropy is that of (1, e^-5).
        let timed = MintExitAttacker::new(
            &evidence,
            Params {
                recency_ns: Some(60_000_000_000),
                ..Params::default()
            },
        )
        .attribute(&receipt);
        assert_eq!(timed.guess, Some(PayerId(2)));
        let q = (-5f64).exp() / (1.0 + (-5f64).exp());
        let h = -(q * q.log2() + (1.0 - q) * (1.0 - q).log2());
        assert!(
            (timed.entropy_bits - h).abs() < 1e-9,
            "{}",
            timed.entropy_bits
        );
    }

    #[test]
    fn swap_before_spend_across_many_users_grows_the_set_as_counted() {
        // k users fund the same amount in the window, each swaps, one pays.
        for k in [1u8, 4, 16, 40] {
            let mut log = Vec::new();
            for u in 0..k {
                funding(
                    &mut log,
                    100 + u64::from(u),
                    u,
                    1000,
                    LightningPayer::Node(PayerId(u64::from(u))),
                );
            }
            for u in 0..k {
                swap(
                    &mut log,
                    500 + u64::from(u),
                    &[512, 256, 128, 64, 32, 8],
                    &[8, 4, 1, 512, 256, 128, 64, 16, 8],
                );
            }
            let a = MintExitAttacker::new(&Evidence { mint_log: log }, Params::default());
            let r = a.attribute(&GhostReceipt {
                at: at(600),
                amounts: vec![Amount::new(8), Amount::new(4), Amount::new(1)],
            });
            // Analytic count: every funding whose issuance could feed one of
            // the k indistinguishable swaps, i.e. all k of them.
            assert_eq!(r.candidates, usize::from(k), "k = {k}");
            assert!((r.entropy_bits - f64::from(k).log2()).abs() < 1e-9);
        }
    }

    #[test]
    fn lightning_privacy_and_the_window_bound_what_is_learned() {
        let mut log = Vec::new();
        funding(&mut log, 100, 1, 1000, LightningPayer::Node(PayerId(1)));
        funding(
            &mut log,
            110,
            2,
            1000,
            LightningPayer::Candidates(vec![PayerId(2), PayerId(3), PayerId(4), PayerId(5)]),
        );
        funding(&mut log, 120, 3, 1000, LightningPayer::Hidden);
        let ev = Evidence { mint_log: log };
        let r = MintExitAttacker::new(&ev, Params::default()).attribute(&GhostReceipt {
            at: at(300),
            amounts: vec![Amount::new(512)],
        });
        assert_eq!(r.fundings, 3);
        // Payer 1 is named by one funding and shares the hidden one: the guess.
        assert_eq!(r.guess, Some(PayerId(1)));
        assert_eq!(r.candidates, 5);
        // A window that ends before the fundings sees none of them.
        let short = Params {
            window_ns: 60_000_000_000,
            depth: 3,
            recency_ns: None,
        };
        let r = MintExitAttacker::new(&ev, short).attribute(&GhostReceipt {
            at: at(300),
            amounts: vec![Amount::new(512)],
        });
        assert_eq!((r.fundings, r.candidates, r.guess), (0, 0, None));
    }
}
