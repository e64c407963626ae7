//! Choosing proofs to pay an amount (whitepaper "Token Lifecycle": spending),
//! and splitting amounts into a keyset's denominations.

use crate::ecash::{Amount, EcashError, KeySet};

/// Picks proofs (by index) whose amounts sum to exactly `target`, largest
/// first. For power-of-two denominations this greedy rule finds an exact
/// subset whenever one exists: if the largest coin `c <= remaining` is not in
/// some exact solution, the smaller coins of that solution (each dividing `c`)
/// contain a subset summing to `c`, which can be exchanged for `c`.
pub(crate) fn exact(candidates: &[(usize, Amount)], target: Amount) -> Option<Vec<usize>> {
    // Coins above the target can never be taken: leave them out before
    // sorting (a wallet holds many coins; payments are small).
    let mut sorted: Vec<(usize, Amount)> = candidates
        .iter()
        .copied()
        .filter(|(_, a)| *a <= target)
        .collect();
    // A total order (amount, then index), so an unstable sort is deterministic.
    sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut remaining = target;
    let mut chosen = Vec::new();
    for (idx, amount) in sorted {
        if remaining == Amount::ZERO {
            break;
        }
        if amount <= remaining {
            chosen.push(idx);
            remaining = remaining.checked_sub(amount)?;
        }
    }
    (remaining == Amount::ZERO).then_some(chosen)
}

/// Picks proofs (by index), largest first, until their sum covers `target`
/// plus the input fee `fee_of(count)` of the proofs taken.
pub(crate) fn covering(
    candidates: &[(usize, Amount)],
    target: Amount,
    fee_of: impl Fn(&[usize]) -> Amount,
) -> Option<Vec<usize>> {
    let mut sorted: Vec<(usize, Amount)> = candidates.to_vec();
    sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen = Vec::new();
    let mut total = Amount::ZERO;
    for (idx, amount) in sorted {
        chosen.push(idx);
        total = total.checked_add(amount).ok()?;
        let needed = target.checked_add(fee_of(&chosen)).ok()?;
        if total >= needed {
            return Some(chosen);
        }
    }
    None
}

/// Splits `amount` into the keyset's denominations: its binary expansion, with
/// any part above the largest denomination broken into copies of the largest.
pub(crate) fn split_for_keyset(amount: Amount, keyset: &KeySet) -> Result<Vec<Amount>, EcashError> {
    let largest =
        keyset
            .keys
            .0
            .keys()
            .next_back()
            .copied()
            .ok_or(EcashError::UnsupportedAmount {
                keyset: keyset.id,
                amount,
            })?;
    let mut parts = Vec::new();
    for part in amount.split() {
        if keyset.keys.amount_key(part).is_some() {
            parts.push(part);
        } else if part > largest && largest.value() > 0 {
            let copies = part.value() / largest.value();
            parts.extend(std::iter::repeat_n(largest, copies as usize));
        } else {
            return Err(EcashError::UnsupportedAmount {
                keyset: keyset.id,
                amount: part,
            });
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_force_exact(amounts: &[u64], target: u64) -> bool {
        (0u32..(1 << amounts.len())).any(|mask| {
            amounts
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, a)| a)
                .sum::<u64>()
                == target
        })
    }

    proptest! {
        #[test]
        fn greedy_exact_finds_a_subset_iff_one_exists(
            exps in proptest::collection::vec(0u32..6, 0..12),
            target in 0u64..100,
        ) {
            let amounts: Vec<u64> = exps.iter().map(|e| 1u64 << e).collect();
            let cands: Vec<(usize, Amount)> =
                amounts.iter().enumerate().map(|(i, a)| (i, Amount::new(*a))).collect();
            let got = exact(&cands, Amount::new(target));
            prop_assert_eq!(got.is_some(), brute_force_exact(&amounts, target));
            if let Some(idx) = got {
                let sum: u64 = idx.iter().map(|i| amounts[*i]).sum();
                prop_assert_eq!(sum, target);
            }
        }
    }

    #[test]
    fn covering_accounts_for_fees() {
        let cands = vec![
            (0, Amount::new(4)),
            (1, Amount::new(4)),
            (2, Amount::new(1)),
        ];
        // One unit of fee per input.
        let fee = |c: &[usize]| Amount::new(c.len() as u64);
        let chosen = covering(&cands, Amount::new(5), fee).unwrap();
        assert_eq!(chosen, vec![0, 1]); // 8 >= 5 + 2
        assert!(covering(&cands, Amount::new(7), fee).is_none()); // 9 < 7 + 3
    }
}
