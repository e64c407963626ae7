//! The LLM-Tor proxy's state (seed `004`): the identity-linked credit
//! ledger, the blind signing key, and the spent set. Forwarding prompts to
//! the upstream LLM is the node role's job
//! ([`crate::node`]); this holds every decision about credits and tokens.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;

use rand_chacha::ChaCha20Rng;

use super::error::LlmTorError;
use super::observe::{OperatorObservation, OperatorSaw};
use super::tokens::{IssuerKey, IssuerPublicKey, Token, TokenId};
use crate::time::Instant;

/// Operator limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Most tokens signed in one issuance request.
    pub max_tokens_per_issue: usize,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            max_tokens_per_issue: 64,
        }
    }
}

/// The proxy operator.
#[derive(Debug)]
pub struct Operator {
    key: IssuerKey,
    cfg: OperatorConfig,
    /// Credits per account (the seed's "Credit Ledger (Identity Linked)").
    credits: BTreeMap<String, u64>,
    spent: HashSet<TokenId>,
    next_serial: u64,
    observations: VecDeque<OperatorObservation>,
}

impl Operator {
    /// An operator signing with `key`.
    pub fn new(key: IssuerKey, cfg: OperatorConfig) -> Self {
        Operator {
            key,
            cfg,
            credits: BTreeMap::new(),
            spent: HashSet::new(),
            next_serial: 1,
            observations: VecDeque::new(),
        }
    }

    /// The key clients verify tokens with.
    pub fn public(&self) -> &IssuerPublicKey {
        self.key.public()
    }

    /// Phase 1: credits `account` (paid by `payer`); returns the balance.
    pub fn purchase(
        &mut self,
        now: Instant,
        from: SocketAddr,
        account: &str,
        payer: &str,
        credits: u64,
    ) -> Result<u64, LlmTorError> {
        if credits == 0 {
            return Err(LlmTorError::EmptyPurchase);
        }
        let balance = self.credits.entry(account.to_owned()).or_default();
        *balance = balance.saturating_add(credits);
        let balance = *balance;
        self.saw(
            now,
            OperatorSaw::Purchase {
                from,
                account: account.to_owned(),
                payer: payer.to_owned(),
                credits,
            },
        );
        Ok(balance)
    }

    /// Phase 2: blind-signs `blinded` against `account`'s credits, one
    /// credit per token; all or nothing.
    pub fn issue(
        &mut self,
        now: Instant,
        from: SocketAddr,
        account: &str,
        blinded: &[Vec<u8>],
        rng: &mut ChaCha20Rng,
    ) -> Result<Vec<Vec<u8>>, LlmTorError> {
        let max = self.cfg.max_tokens_per_issue;
        if blinded.len() > max {
            return Err(LlmTorError::TooManyTokens {
                asked: blinded.len(),
                max,
            });
        }
        let balance = *self
            .credits
            .get(account)
            .ok_or_else(|| LlmTorError::UnknownAccount(account.to_owned()))?;
        let asked = blinded.len() as u64;
        if balance < asked {
            return Err(LlmTorError::InsufficientCredits {
                account: account.to_owned(),
                balance,
                asked,
            });
        }
        let signatures = blinded
            .iter()
            .map(|b| self.key.blind_sign(rng, b))
            .collect::<Result<Vec<_>, _>>()?;
        self.credits.insert(account.to_owned(), balance - asked);
        self.saw(
            now,
            OperatorSaw::Issuance {
                from,
                account: account.to_owned(),
                tokens: asked,
            },
        );
        Ok(signatures)
    }

    /// Phase 3: checks `token` and marks it spent; returns the redemption's
    /// serial number. The seed marks a token spent after the response; we
    /// mark it before forwarding, which closes the window in which one token
    /// redeemed twice at once passes both checks.
    pub fn redeem(
        &mut self,
        now: Instant,
        (prev_hop, circuit): (SocketAddr, Option<u32>),
        token: &Token,
        model: &str,
        prompt: &[u8],
    ) -> Result<u64, LlmTorError> {
        let checked =
            self.key
                .public()
                .verify(token)
                .and_then(|()| match self.spent.insert(token.id()) {
                    true => Ok(()),
                    false => Err(LlmTorError::Replayed),
                });
        if let Err(e) = checked {
            let kind = e.kind();
            self.saw(now, OperatorSaw::Refused { prev_hop, kind });
            return Err(e);
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        self.saw(
            now,
            OperatorSaw::Redemption {
                serial,
                prev_hop,
                circuit,
                token: token.id(),
                model: model.to_owned(),
                prompt: prompt.to_vec(),
            },
        );
        Ok(serial)
    }

    /// The upstream's whole response to redemption `serial` went back.
    pub fn responded(&mut self, now: Instant, serial: u64, response: Vec<u8>) {
        self.saw(now, OperatorSaw::Response { serial, response });
    }

    /// An account's credits.
    pub fn balance(&self, account: &str) -> Option<u64> {
        self.credits.get(account).copied()
    }

    /// Tokens redeemed so far.
    pub fn spent(&self) -> usize {
        self.spent.len()
    }

    /// The next observation.
    pub fn poll_observation(&mut self) -> Option<OperatorObservation> {
        self.observations.pop_front()
    }

    fn saw(&mut self, at: Instant, seen: OperatorSaw) {
        self.observations
            .push_back(OperatorObservation { at, seen });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand_core::SeedableRng;

    use super::*;
    use crate::baselines::llm_tor::TokenWallet;

    fn at(a: u8) -> SocketAddr {
        SocketAddr::from(([10, a, 0, 1], 9000))
    }

    #[test]
    fn purchase_issue_redeem_and_replay() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let key = IssuerKey::generate(&mut rng).unwrap();
        let mut op = Operator::new(key, OperatorConfig::default());
        let now = Instant::ZERO;
        assert_eq!(op.purchase(now, at(1), "alice", "card-1", 2), Ok(2));
        let mut wallet = TokenWallet::new(op.public().clone());
        let blinded = wallet.request(&mut rng, 3).unwrap();
        let err = op
            .issue(now, at(1), "alice", &blinded, &mut rng)
            .unwrap_err();
        assert_eq!(err.kind(), "insufficient_credits");
        assert_eq!(
            op.balance("alice"),
            Some(2),
            "a refused issuance debits nothing"
        );
        let blinded = wallet.request(&mut rng, 2).unwrap();
        let sigs = op.issue(now, at(1), "alice", &blinded, &mut rng).unwrap();
        assert_eq!(wallet.accept(&sigs), Ok(2));
        assert_eq!(op.balance("alice"), Some(0));
        let t = wallet.take().unwrap();
        assert_eq!(op.redeem(now, (at(9), None), &t, "m", b"hi"), Ok(1));
        assert_eq!(
            op.redeem(now, (at(9), None), &t, "m", b"hi"),
            Err(LlmTorError::Replayed)
        );
        assert_eq!(op.spent(), 1);
        let kinds: Vec<_> = std::iter::from_fn(|| op.poll_observation())
            .map(|o| match o.seen {
                OperatorSaw::Purchase { .. } => "purchase",
                OperatorSaw::Issuance { .. } => "issuance",
                OperatorSaw::Redemption { .. } => "redemption",
                OperatorSaw::Response { .. } => "response",
                OperatorSaw::Refused { kind, .. } => kind,
            })
            .collect();
        assert_eq!(kinds, ["purchase", "issuance", "redemption", "replayed"]);
    }

    #[test]
    fn bad_requests_are_typed_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let key = IssuerKey::generate(&mut rng).unwrap();
        let cfg = OperatorConfig {
            max_tokens_per_issue: 2,
        };
        let mut op = Operator::new(key, cfg);
        let now = Instant::ZERO;
        assert_eq!(
            op.purchase(now, at(1), "a", "p", 0),
            Err(LlmTorError::EmptyPurchase)
        );
        let e = op.issue(now, at(1), "nobody", &[vec![1; 256]], &mut rng);
        assert_eq!(e.unwrap_err().kind(), "unknown_account");
        op.purchase(now, at(1), "a", "p", 10).unwrap();
        let e = op.issue(now, at(1), "a", &vec![vec![1; 256]; 3], &mut rng);
        assert_eq!(e.unwrap_err().kind(), "too_many_tokens");
        let e = op.issue(now, at(1), "a", &[vec![1; 7]], &mut rng);
        assert_eq!(e.unwrap_err().kind(), "malformed_blinded_message");
        assert_eq!(op.balance("a"), Some(10));
        let forged = Token {
            nonce: [1; 32],
            randomizer: [2; 32],
            signature: vec![3; 256],
        };
        assert_eq!(
            op.redeem(now, (at(9), None), &forged, "m", b"x"),
            Err(LlmTorError::BadToken)
        );
    }
}
