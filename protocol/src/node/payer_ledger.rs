//! Which session paid each proof a service holds unsettled (whitepaper §
//! "Payments": services "serve in prepaid chunks to cap double-spend
//! exposure"). When settlement finds a proof already spent, the ledger names
//! the session whose payer spent it again, and how much the service lost.

use std::collections::BTreeMap;

use secp256k1::PublicKey;

/// One unsettled proof: where it was paid and by which session.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Payer {
    mint: String,
    session: u32,
    sat: u64,
}

/// Unsettled proofs by `Y`; bounded by what the service holds unsettled.
#[derive(Debug, Default)]
pub(crate) struct PayerLedger {
    unsettled: BTreeMap<PublicKey, Payer>,
}

impl PayerLedger {
    /// Records a payment `session` made at `mint`: each proof's `Y` and value.
    pub fn record(&mut self, mint: &str, session: u32, ys: &[PublicKey], sats: &[u64]) {
        assert_eq!(ys.len(), sats.len(), "one value per proof");
        for (y, &sat) in ys.iter().zip(sats) {
            let payer = Payer {
                mint: mint.to_owned(),
                session,
                sat,
            };
            self.unsettled.insert(*y, payer);
        }
    }

    /// Proofs found spent by someone else: removed, and summed per session
    /// (in session order).
    pub fn spent(&mut self, ys: &[PublicKey]) -> Vec<(u32, u64)> {
        let mut lost: BTreeMap<u32, u64> = BTreeMap::new();
        for y in ys {
            if let Some(p) = self.unsettled.remove(y) {
                *lost.entry(p.session).or_default() += p.sat;
            }
        }
        lost.into_iter().collect()
    }

    /// Forgets the proofs of `mint` that are no longer unsettled (`live`
    /// says which still are: held as received, or inputs of a swap in flight).
    pub fn settled(&mut self, mint: &str, live: impl Fn(&PublicKey) -> bool) {
        self.unsettled.retain(|y, p| p.mint != mint || live(y));
    }

    /// Proofs tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.unsettled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secp256k1::SecretKey;

    fn y(n: u8) -> PublicKey {
        let sk = SecretKey::from_secret_bytes([n; 32]).expect("valid key");
        PublicKey::from_secret_key(&sk)
    }

    #[test]
    fn a_spent_proof_is_charged_to_the_session_that_paid_it() {
        let mut l = PayerLedger::default();
        l.record("m", 7, &[y(1), y(2)], &[4, 8]);
        l.record("m", 9, &[y(3)], &[16]);
        assert_eq!(l.spent(&[y(2), y(3), y(4)]), vec![(7, 8), (9, 16)]);
        // Reported once: a second check of the same proofs finds nothing.
        assert_eq!(l.spent(&[y(2), y(3)]), vec![]);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn settling_one_mint_forgets_only_its_settled_proofs() {
        let mut l = PayerLedger::default();
        l.record("a", 1, &[y(1), y(2)], &[1, 2]);
        l.record("b", 2, &[y(3)], &[4]);
        let still = y(2);
        l.settled("a", |k| *k == still);
        assert_eq!(l.len(), 2);
        assert_eq!(l.spent(&[y(1)]), vec![]);
        assert_eq!(l.spent(&[y(2), y(3)]), vec![(1, 2), (2, 4)]);
    }
}
