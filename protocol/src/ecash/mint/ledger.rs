//! The mint's books, with the conservation invariant asserted after every
//! operation (whitepaper "Mint Trust and Federation": ledger integrity is a
//! trust anchor).
//!
//! Per keyset: `issued - redeemed == outstanding`, and nothing is redeemed that
//! was not issued. Across keysets, the ecash in circulation plus quotes paid
//! but not yet issued equals what came in over Lightning, less what went out
//! and the fees the mint kept.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ecash::{Amount, KeysetId};

/// Issued and redeemed value of one keyset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KeysetLedger {
    /// Sum of blind signatures issued.
    pub issued: Amount,
    /// Sum of proofs redeemed (spent as inputs).
    pub redeemed: Amount,
}

impl KeysetLedger {
    /// Ecash of this keyset still in circulation.
    pub fn outstanding(&self) -> Amount {
        let out = self.issued.checked_sub(self.redeemed);
        assert!(out.is_some(), "keyset redeemed more than it issued");
        out.unwrap_or(Amount::ZERO)
    }
}

/// The mint's books.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// Per-keyset issuance and redemption.
    pub keysets: BTreeMap<KeysetId, KeysetLedger>,
    /// Received over Lightning for mint quotes.
    pub lightning_in: Amount,
    /// Paid out over Lightning for melts (amount plus fee reserve).
    pub lightning_out: Amount,
    /// Input fees kept by the mint.
    pub fees_collected: Amount,
    /// Paid mint quotes whose tokens are not issued yet.
    pub paid_unissued: Amount,
}

fn add(slot: &mut Amount, v: Amount) {
    let sum = slot.checked_add(v);
    assert!(sum.is_ok(), "ledger overflow");
    *slot = sum.unwrap_or(*slot);
}

fn sub(slot: &mut Amount, v: Amount) {
    let diff = slot.checked_sub(v);
    assert!(diff.is_some(), "ledger underflow");
    *slot = diff.unwrap_or(*slot);
}

impl Ledger {
    /// Ecash in circulation across keysets.
    pub fn outstanding(&self) -> Amount {
        self.keysets.values().map(KeysetLedger::outstanding).sum()
    }

    pub(crate) fn record_funding(&mut self, amount: Amount) {
        add(&mut self.lightning_in, amount);
        add(&mut self.paid_unissued, amount);
    }

    pub(crate) fn record_issuance(&mut self, keyset: KeysetId, amount: Amount, from_quote: bool) {
        add(&mut self.keysets.entry(keyset).or_default().issued, amount);
        if from_quote {
            sub(&mut self.paid_unissued, amount);
        }
    }

    pub(crate) fn record_redemption(&mut self, keyset: KeysetId, amount: Amount) {
        add(
            &mut self.keysets.entry(keyset).or_default().redeemed,
            amount,
        );
    }

    pub(crate) fn record_fee(&mut self, fee: Amount) {
        add(&mut self.fees_collected, fee);
    }

    pub(crate) fn record_payout(&mut self, amount: Amount) {
        add(&mut self.lightning_out, amount);
    }

    /// Asserts the conservation invariant. Cheap: O(keysets).
    pub fn assert_balanced(&self) {
        for (id, k) in &self.keysets {
            assert!(k.redeemed <= k.issued, "keyset {id}: redeemed > issued");
        }
        let liabilities = self.outstanding().checked_add(self.paid_unissued);
        let assets = self
            .lightning_in
            .checked_sub(self.lightning_out)
            .and_then(|a| a.checked_sub(self.fees_collected));
        assert!(
            liabilities.is_ok() && liabilities.ok() == assets,
            "mint ledger unbalanced: outstanding {} + unissued {} != in {} - out {} - fees {}",
            self.outstanding(),
            self.paid_unissued,
            self.lightning_in,
            self.lightning_out,
            self.fees_collected
        );
    }
}
