//! A baseline's operator working for the adversary (issue 19; seed `004`'s
//! "Trust boundaries"; whitepaper "Comparison to centralized breach").
//!
//! It decides from its own log alone ([`OperatorLog`], filled from the
//! operator node's observations):
//! - **LLM-Tor, purchase timing** (the analogue of mint-exit collusion): a
//!   redemption is attributed to the account of the latest token issuance
//!   at most `purchase_window_s` before it; the distinct accounts issued
//!   tokens in that window are its anonymity set. Blind signatures hide
//!   which issuance a token came from, so timing is all it has.
//! - **Direct API, the provider's log**: every request names its account,
//!   so each logged prompt is attributed to that account (a link by
//!   construction).

use std::collections::HashMap;

use peer2prompt::baselines::direct::{ApiObservation, ApiSaw};
use peer2prompt::baselines::llm_tor::{OperatorObservation, OperatorSaw, TokenId};
use peer2prompt::time::Instant;

/// What the operator logged that its attackers use.
#[derive(Debug, Default)]
pub struct OperatorLog {
    /// Token issuances: when, and to which account (time order).
    pub issuances: Vec<(Instant, String)>,
    /// Redemptions: token -> when.
    pub redemptions: HashMap<TokenId, Instant>,
    /// Direct API prompts: (when, account), time order.
    pub api_prompts: Vec<(Instant, String)>,
}

/// The purchase-timing attacker's decision about one redemption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// The account guessed (none: no issuance in the window).
    pub guess: Option<String>,
    /// Distinct accounts issued tokens in the window.
    pub candidates: u32,
}

impl OperatorLog {
    /// Records one LLM-Tor operator observation.
    pub fn llm_tor(&mut self, o: &OperatorObservation) {
        match &o.seen {
            OperatorSaw::Issuance { account, .. } => self.issuances.push((o.at, account.clone())),
            OperatorSaw::Redemption { token, .. } => {
                self.redemptions.entry(*token).or_insert(o.at);
            }
            _ => {}
        }
    }

    /// Records one provider-API observation.
    pub fn api(&mut self, o: &ApiObservation) {
        if let ApiSaw::Prompt { .. } = o.seen {
            self.api_prompts.push((o.at, o.account.clone()));
        }
    }

    /// The purchase-timing attribution of the redemption of `token`, if the
    /// operator saw it.
    pub fn attribute(&self, token: &TokenId, window_s: f64) -> Option<Attribution> {
        let at = *self.redemptions.get(token)?;
        let from = at.as_nanos().saturating_sub((window_s * 1e9) as u64);
        let end = self.issuances.partition_point(|(t, _)| *t <= at);
        let start = self.issuances[..end].partition_point(|(t, _)| t.as_nanos() < from);
        let window = &self.issuances[start..end];
        let mut accounts: Vec<&str> = window.iter().map(|(_, a)| a.as_str()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        Some(Attribution {
            guess: window.last().map(|(_, a)| a.clone()),
            candidates: accounts.len() as u32,
        })
    }

    /// The accounts the provider logged prompts from in `[from, to]`.
    pub fn api_accounts(&self, from: Instant, to: Instant) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .api_prompts
            .iter()
            .filter(|(t, _)| (from..=to).contains(t))
            .map(|(_, a)| a.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Instant {
        Instant::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn latest_issuance_in_the_window_is_guessed() {
        let mut log = OperatorLog {
            issuances: vec![
                (at(10), "a".into()),
                (at(50), "b".into()),
                (at(95), "c".into()),
            ],
            ..OperatorLog::default()
        };
        log.redemptions.insert([1; 32], at(100));
        log.redemptions.insert([2; 32], at(500));
        let a = log.attribute(&[1; 32], 60.0).unwrap();
        assert_eq!((a.guess.as_deref(), a.candidates), (Some("c"), 2));
        let a = log.attribute(&[1; 32], 1000.0).unwrap();
        assert_eq!(a.candidates, 3);
        let a = log.attribute(&[2; 32], 60.0).unwrap();
        assert_eq!((a.guess, a.candidates), (None, 0));
        assert!(log.attribute(&[3; 32], 60.0).is_none());
    }
}
