//! Amounts and power-of-two denominations (whitepaper "Practical Leakage and
//! Mitigations": standard denomination sets).
//!
//! Cashu keysets sign one key per power of two, so an amount `a` is carried by
//! `popcount(a)` proofs: one per set bit.

use core::fmt;
use core::iter::Sum;

use serde::{Deserialize, Serialize};

use super::EcashError;

/// An amount in the keyset's unit (satoshi by default).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(u64);

impl Amount {
    /// No value.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `value` units.
    pub const fn new(value: u64) -> Self {
        Amount(value)
    }

    /// The amount in units.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// True if this is a power of two (a single-proof denomination).
    pub const fn is_denomination(self) -> bool {
        self.0.is_power_of_two()
    }

    /// The powers of two that sum to this amount, smallest first.
    /// `Amount::new(13).split()` is `[1, 4, 8]`.
    pub fn split(self) -> Vec<Amount> {
        (0..64)
            .filter(|bit| self.0 & (1u64 << bit) != 0)
            .map(|bit| Amount(1u64 << bit))
            .collect()
    }

    /// How many proofs carry this amount: `popcount(a)`.
    pub const fn denomination_count(self) -> u32 {
        self.0.count_ones()
    }

    /// `self + other`, or [`EcashError::AmountOverflow`].
    pub fn checked_add(self, other: Amount) -> Result<Amount, EcashError> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(EcashError::AmountOverflow)
    }

    /// `self - other`, or `None` if `other` is larger.
    pub const fn checked_sub(self, other: Amount) -> Option<Amount> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// Sums amounts, failing on overflow (peer-supplied amounts can be huge).
    pub fn try_sum<I: IntoIterator<Item = Amount>>(items: I) -> Result<Amount, EcashError> {
        items
            .into_iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a))
    }
}

/// Sums amounts this process created itself; panics on overflow, which would be
/// a bug in our own accounting. Use [`Amount::try_sum`] for peer input.
impl Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        let total = Amount::try_sum(iter);
        assert!(total.is_ok(), "internal amount sum overflowed u64");
        total.unwrap_or(Amount::ZERO)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for Amount {
    fn from(v: u64) -> Self {
        Amount(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_is_the_binary_expansion() {
        let parts: Vec<u64> = Amount::new(13).split().iter().map(|a| a.value()).collect();
        assert_eq!(parts, vec![1, 4, 8]);
        assert!(Amount::ZERO.split().is_empty());
        assert_eq!(Amount::new(u64::MAX).split().len(), 64);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let big = Amount::new(u64::MAX);
        assert_eq!(
            big.checked_add(Amount::new(1)),
            Err(EcashError::AmountOverflow)
        );
        assert_eq!(
            Amount::try_sum([big, Amount::new(1)]),
            Err(EcashError::AmountOverflow)
        );
    }

    proptest! {
        #[test]
        fn split_sums_back_and_uses_popcount_proofs(v in any::<u64>()) {
            let a = Amount::new(v);
            let parts = a.split();
            prop_assert_eq!(parts.len() as u32, a.denomination_count());
            prop_assert!(parts.iter().all(|p| p.is_denomination()));
            prop_assert_eq!(Amount::try_sum(parts).ok(), Some(a));
        }
    }
}
