//! Replay protection (whitepaper "Cryptographic Packet Sketch": verify expiry
//! and replay window; "Return Path": single-use reply blocks).

use std::collections::HashMap;

use super::OnionError;
use crate::time::Instant;

/// Width of the sliding window, in sequence numbers.
pub const WINDOW: u64 = 1024;

/// Sequence numbers one bitmap word covers.
const WORD_BITS: u64 = u64::BITS as u64;

/// A sliding replay window over sequence numbers: each number is accepted
/// once; numbers more than [`WINDOW`] behind the highest seen are refused.
/// Tolerates reordering within the window (per-hop delays reorder cells).
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    bits: [u64; (WINDOW / WORD_BITS) as usize],
}

impl ReplayWindow {
    fn bit(&mut self, seq: u64) -> (&mut u64, u64) {
        let idx = ((seq % WINDOW) / WORD_BITS) as usize;
        (&mut self.bits[idx], 1u64 << (seq % WORD_BITS))
    }

    /// Accepts `seq` once, or returns [`OnionError::ReplayedCell`].
    pub fn check_and_insert(&mut self, seq: u64) -> Result<(), OnionError> {
        match self.highest {
            None => {
                self.highest = Some(seq);
            }
            Some(h) if seq > h => {
                // Clear the bits of the numbers that slid into the window.
                let advance = seq - h;
                if advance >= WINDOW {
                    self.bits = [0; (WINDOW / WORD_BITS) as usize];
                } else {
                    for s in (h + 1)..=seq {
                        let (word, mask) = self.bit(s);
                        *word &= !mask;
                    }
                }
                self.highest = Some(seq);
            }
            Some(h) => {
                if h - seq >= WINDOW {
                    return Err(OnionError::ReplayedCell { seq });
                }
                let (word, mask) = self.bit(seq);
                if *word & mask != 0 {
                    return Err(OnionError::ReplayedCell { seq });
                }
            }
        }
        let (word, mask) = self.bit(seq);
        *word |= mask;
        Ok(())
    }
}

/// Reply-block tags already used, kept until the blocks would have expired.
#[derive(Clone, Debug, Default)]
pub struct SurbTags {
    seen: HashMap<u64, Instant>,
}

impl SurbTags {
    /// Accepts `tag` once, or returns [`OnionError::ReplayedSurb`].
    pub fn check_and_insert(&mut self, tag: u64, expiry: Instant) -> Result<(), OnionError> {
        if self.seen.insert(tag, expiry).is_some() {
            return Err(OnionError::ReplayedSurb);
        }
        Ok(())
    }

    /// Forgets tags whose reply blocks have expired (they are refused as
    /// expired anyway), bounding memory.
    pub fn prune(&mut self, now: Instant) {
        self.seen.retain(|_, expiry| *expiry >= now);
    }

    /// Tags remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True if no tag is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn window_accepts_each_number_once_and_tolerates_reordering() {
        let mut w = ReplayWindow::default();
        for s in [5u64, 3, 4, 10, 6] {
            w.check_and_insert(s).unwrap();
        }
        assert_eq!(
            w.check_and_insert(4),
            Err(OnionError::ReplayedCell { seq: 4 })
        );
        w.check_and_insert(10 + WINDOW - 1).unwrap();
        // 10 is still in the window and was seen; 9 is in the window, unseen.
        assert!(w.check_and_insert(10).is_err());
        // 5 slid out of the window.
        assert_eq!(
            w.check_and_insert(5),
            Err(OnionError::ReplayedCell { seq: 5 })
        );
    }

    proptest! {
        #[test]
        fn window_never_accepts_a_duplicate(seqs in proptest::collection::vec(0u64..3000, 1..400)) {
            let mut w = ReplayWindow::default();
            let mut accepted = std::collections::HashSet::new();
            for s in seqs {
                if w.check_and_insert(s).is_ok() {
                    prop_assert!(accepted.insert(s), "accepted {} twice", s);
                }
            }
        }
    }

    #[test]
    fn surb_tags_are_single_use_until_pruned() {
        let mut t = SurbTags::default();
        let exp = Instant::from_nanos(100);
        t.check_and_insert(7, exp).unwrap();
        assert_eq!(t.check_and_insert(7, exp), Err(OnionError::ReplayedSurb));
        t.prune(Instant::from_nanos(101));
        assert!(t.is_empty());
    }
}
