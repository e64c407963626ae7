//! The spent set, keyed by `Y = hash_to_curve(secret)` (whitepaper "Token
//! Lifecycle": double spends are prevented by mint-side tracking of redeemed
//! secrets).
//!
//! A proof is reserved (PENDING) before any side effect and committed (SPENT)
//! only once the operation succeeds, so two concurrent spends of one proof can
//! never both succeed: the second sees PENDING and is refused.

use std::collections::{BTreeMap, HashMap};

use secp256k1::PublicKey;

use crate::ecash::messages::ProofState;
use crate::ecash::observe::RedeemedProof;
use crate::ecash::{Amount, EcashError, KeysetId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    spent: bool,
    keyset: KeysetId,
    amount: Amount,
}

/// States of every proof the mint has seen as an input.
#[derive(Debug, Default)]
pub(crate) struct SpentBook {
    entries: HashMap<[u8; 33], Entry>,
}

impl SpentBook {
    /// NUT-07 state of `y`.
    pub(crate) fn state(&self, y: &PublicKey) -> ProofState {
        match self.entries.get(&y.serialize()) {
            None => ProofState::Unspent,
            Some(e) if e.spent => ProofState::Spent,
            Some(_) => ProofState::Pending,
        }
    }

    /// Fails unless `y` is unspent and not pending.
    pub(crate) fn check_unspent(&self, y: &PublicKey) -> Result<(), EcashError> {
        match self.state(y) {
            ProofState::Unspent => Ok(()),
            ProofState::Pending => Err(EcashError::ProofPending { y: *y }),
            ProofState::Spent => Err(EcashError::ProofAlreadySpent { y: *y }),
        }
    }

    /// Reserves every proof or none of them.
    pub(crate) fn reserve(&mut self, proofs: &[RedeemedProof]) -> Result<(), EcashError> {
        for p in proofs {
            self.check_unspent(&p.y)?;
        }
        for p in proofs {
            let fresh = self
                .entries
                .insert(
                    p.y.serialize(),
                    Entry {
                        spent: false,
                        keyset: p.keyset,
                        amount: p.amount,
                    },
                )
                .is_none();
            assert!(fresh, "reserve: duplicate Y slipped past input validation");
        }
        Ok(())
    }

    /// PENDING -> SPENT.
    pub(crate) fn commit(&mut self, proofs: &[RedeemedProof]) {
        for p in proofs {
            let entry = self.entries.get_mut(&p.y.serialize());
            assert!(
                matches!(entry, Some(Entry { spent: false, .. })),
                "commit of a proof that was not pending"
            );
            if let Some(e) = entry {
                e.spent = true;
            }
        }
    }

    /// PENDING -> UNSPENT (the operation failed).
    pub(crate) fn release(&mut self, proofs: &[RedeemedProof]) {
        for p in proofs {
            let removed = self.entries.remove(&p.y.serialize());
            assert!(
                matches!(removed, Some(Entry { spent: false, .. })),
                "release of a proof that was not pending"
            );
        }
    }

    /// Recount of spent value per keyset, for the ledger audit.
    pub(crate) fn spent_by_keyset(&self) -> BTreeMap<KeysetId, Amount> {
        let mut out: BTreeMap<KeysetId, Amount> = BTreeMap::new();
        for e in self.entries.values().filter(|e| e.spent) {
            let slot = out.entry(e.keyset).or_default();
            *slot = slot.checked_add(e.amount).unwrap_or(Amount::new(u64::MAX));
        }
        out
    }

    /// Number of proofs recorded as spent or pending.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
