//! The Merkle tree of RFC 6962 §2.1 (Certificate Transparency): leaves
//! hashed as `SHA-256(0x00 || leaf)`, inner nodes as `SHA-256(0x01 || left
//! || right)`, the split at the largest power of two below the size, and
//! audit paths per §2.1.1. The prefixes separate leaves from inner nodes,
//! so no inner node can be passed off as a leaf (second preimages).
//! Hand-written for those prefixes; a few dozen lines of the RFC's own
//! recursion.

use sha2::{Digest, Sha256};

use super::error::VerifyError;

/// A node hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root over leaf hashes (RFC 6962 MTH); `None` for no leaves.
pub fn root(leaves: &[Hash]) -> Option<Hash> {
    match leaves.len() {
        0 => None,
        1 => Some(leaves[0]),
        n => {
            let k = split(n);
            Some(node_hash(&root(&leaves[..k])?, &root(&leaves[k..])?))
        }
    }
}

/// The audit path of leaf `m` (RFC 6962 PATH), leaf to root.
pub fn path(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    let n = leaves.len();
    if m >= n {
        return None;
    }
    if n == 1 {
        return Some(Vec::new());
    }
    let k = split(n);
    let (mut p, sibling) = if m < k {
        (path(&leaves[..k], m)?, root(&leaves[k..])?)
    } else {
        (path(&leaves[k..], m - k)?, root(&leaves[..k])?)
    };
    p.push(sibling);
    Some(p)
}

/// The most hashes an audit path in a tree of `n` leaves holds.
pub fn max_path_len(n: usize) -> usize {
    usize::BITS as usize - n.saturating_sub(1).leading_zeros() as usize
}

/// Recomputes the root from leaf `m`'s hash and its audit path in a tree
/// of `n` leaves; errors on a path longer than such a tree needs.
pub fn root_from_path(
    leaf: Hash,
    m: usize,
    n: usize,
    p: &[Hash],
) -> Result<Option<Hash>, VerifyError> {
    let max = max_path_len(n);
    if p.len() > max {
        return Err(VerifyError::PathTooLong { got: p.len(), max });
    }
    Ok(climb(leaf, m, n, p))
}

/// Walks down the RFC's recursion to find which side each sibling is on.
fn climb(leaf: Hash, m: usize, n: usize, p: &[Hash]) -> Option<Hash> {
    if m >= n {
        return None;
    }
    if n == 1 {
        return p.is_empty().then_some(leaf);
    }
    let (sibling, rest) = p.split_last()?;
    let k = split(n);
    if m < k {
        Some(node_hash(&climb(leaf, m, k, rest)?, sibling))
    } else {
        Some(node_hash(sibling, &climb(leaf, m - k, n - k, rest)?))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u32).to_be_bytes()))
            .collect()
    }

    #[test]
    fn rfc6962_shapes() {
        // Two leaves: the root hashes them in order.
        let l = leaves(2);
        assert_eq!(root(&l), Some(node_hash(&l[0], &l[1])));
        // Seven leaves split 4 + 3, the 3 as 2 + 1.
        let l = leaves(7);
        let left = root(&l[..4]).unwrap();
        let right = node_hash(&node_hash(&l[4], &l[5]), &l[6]);
        assert_eq!(root(&l), Some(node_hash(&left, &right)));
        assert_eq!(path(&l, 6).unwrap(), vec![node_hash(&l[4], &l[5]), left]);
        assert_eq!(root(&[]), None);
        assert_eq!(max_path_len(1), 0);
        assert_eq!(max_path_len(7), 3);
        assert_eq!(max_path_len(8), 3);
        assert_eq!(max_path_len(9), 4);
    }

    proptest! {
        #[test]
        fn every_path_rebuilds_the_root_and_no_other_leaf_does(n in 1usize..70, m in 0usize..70) {
            let l = leaves(n);
            let r = root(&l).unwrap();
            let m = m % n;
            let p = path(&l, m).unwrap();
            prop_assert!(p.len() <= max_path_len(n));
            prop_assert_eq!(root_from_path(l[m], m, n, &p).unwrap(), Some(r));
            let other = leaf_hash(b"forged");
            prop_assert_ne!(root_from_path(other, m, n, &p).unwrap(), Some(r));
            if n > 1 {
                let moved = (m + 1) % n;
                prop_assert_ne!(root_from_path(l[m], moved, n, &p).unwrap(), Some(r));
            }
        }

        #[test]
        fn arbitrary_paths_are_errors_or_mismatches(n in 0usize..40, m in 0usize..80, p in proptest::collection::vec(any::<[u8; 32]>(), 0..12)) {
            let _ = root_from_path([7; 32], m, n, &p);
        }
    }
}
