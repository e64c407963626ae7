//! The 256-bit keyspace and XOR distance (whitepaper "Peer Discovery (DHT)":
//! k-buckets indexed by XOR distance).

use rand_core::Rng;

use crate::identity::NodeId;

/// A point in the keyspace: a node id or a storage key.
pub type Key = [u8; 32];

/// `a XOR b`, compared as a big-endian 256-bit integer.
pub fn distance(a: &Key, b: &Key) -> Key {
    let mut d = [0u8; 32];
    for i in 0..32 {
        d[i] = a[i] ^ b[i];
    }
    d
}

/// True if `a` is strictly closer to `target` than `b` is.
pub fn closer(target: &Key, a: &Key, b: &Key) -> bool {
    distance(target, a) < distance(target, b)
}

/// Number of leading bits `a` and `b` share (256 if equal): the bucket index
/// of `b` in the routing table of `a`.
pub fn shared_prefix(a: &Key, b: &Key) -> usize {
    for i in 0..32 {
        let x = a[i] ^ b[i];
        if x != 0 {
            return i * 8 + x.leading_zeros() as usize;
        }
    }
    256
}

/// A uniformly random key sharing exactly `prefix` leading bits with `own`
/// (used to refresh bucket `prefix`).
pub fn random_in_bucket(own: &Key, prefix: usize, rng: &mut impl Rng) -> Key {
    let mut k = [0u8; 32];
    rng.fill_bytes(&mut k);
    if prefix >= 256 {
        return *own;
    }
    for bit in 0..=prefix {
        let byte = bit / 8;
        let mask = 0x80u8 >> (bit % 8);
        let own_bit = own[byte] & mask;
        let want = if bit == prefix {
            own_bit ^ mask
        } else {
            own_bit
        };
        k[byte] = (k[byte] & !mask) | want;
    }
    k
}

/// The key of a node id.
pub fn node_key(id: &NodeId) -> Key {
    id.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    proptest! {
        #[test]
        fn xor_is_a_metric(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), c in any::<[u8; 32]>()) {
            prop_assert_eq!(distance(&a, &b), distance(&b, &a));
            prop_assert_eq!(distance(&a, &a), [0u8; 32]);
            // XOR satisfies the triangle inequality as integers: d(a,c) <= d(a,b) + d(b,c).
            let ab = u128::from_be_bytes(distance(&a, &b)[..16].try_into().unwrap());
            let bc = u128::from_be_bytes(distance(&b, &c)[..16].try_into().unwrap());
            let ac = u128::from_be_bytes(distance(&a, &c)[..16].try_into().unwrap());
            prop_assert!(ac <= ab.saturating_add(bc) || ab.checked_add(bc).is_none());
        }

        #[test]
        fn random_in_bucket_lands_in_that_bucket(own in any::<[u8; 32]>(), prefix in 0usize..256, seed in any::<u64>()) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let k = random_in_bucket(&own, prefix, &mut rng);
            prop_assert_eq!(shared_prefix(&own, &k), prefix);
        }
    }
}
