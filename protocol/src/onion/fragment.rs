//! Fragmentation and reassembly of messages longer than one cell (prompts up
//! to a 128k-token context window, whitepaper "Session Semantics").
//!
//! Each fragment carries `msg_id (u32) | index (u16) | count (u16) | len (u16)`
//! and its data, inside the end-to-end sealed payload. Reassembly refuses
//! messages over a byte limit before buffering anything, and bounds how many
//! messages may be partial at once, so a peer cannot exhaust memory.

use std::collections::HashMap;

use super::OnionError;

/// Fragment header bytes.
pub const FRAGMENT_HEADER_LEN: usize = 10;

/// Reassembly limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Largest message accepted, in bytes.
    pub max_message: usize,
    /// Most messages partially received at once, per session.
    pub max_partial: usize,
}

impl Default for ReassemblyLimits {
    /// 2 MiB: a full 128k-token context at ~4 bytes per token, with room for
    /// payment proofs and reply blocks; 16 partial messages.
    fn default() -> Self {
        ReassemblyLimits {
            max_message: 2 * 1024 * 1024,
            max_partial: 16,
        }
    }
}

/// Splits `data` into fragment plaintexts of at most `capacity` bytes each.
pub fn split(msg_id: u32, data: &[u8], capacity: usize) -> Result<Vec<Vec<u8>>, OnionError> {
    let per = capacity.saturating_sub(FRAGMENT_HEADER_LEN);
    if per == 0 {
        return Err(OnionError::PayloadTooLarge {
            size: FRAGMENT_HEADER_LEN + 1,
            capacity,
        });
    }
    let count = data.len().div_ceil(per).max(1);
    let count16 = u16::try_from(count).map_err(|_| OnionError::OversizedMessage {
        size: data.len(),
        limit: per * usize::from(u16::MAX),
    })?;
    let mut out = Vec::with_capacity(count);
    for (index, chunk) in (0..count).map(|i| {
        (
            i,
            &data[(i * per).min(data.len())..((i + 1) * per).min(data.len())],
        )
    }) {
        let mut f = Vec::with_capacity(FRAGMENT_HEADER_LEN + chunk.len());
        f.extend_from_slice(&msg_id.to_be_bytes());
        f.extend_from_slice(&(index as u16).to_be_bytes());
        f.extend_from_slice(&count16.to_be_bytes());
        f.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        f.extend_from_slice(chunk);
        out.push(f);
    }
    Ok(out)
}

/// A fragment as parsed from a payload plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Message it belongs to.
    pub msg_id: u32,
    /// Its position.
    pub index: u16,
    /// How many fragments the message has.
    pub count: u16,
    /// Its data.
    pub data: &'a [u8],
}

/// Parses a payload plaintext into a fragment.
pub fn parse(plain: &[u8]) -> Result<Fragment<'_>, OnionError> {
    let bad = |reason| OnionError::Malformed {
        what: "fragment",
        reason,
    };
    if plain.len() < FRAGMENT_HEADER_LEN {
        return Err(bad("shorter than its header"));
    }
    let msg_id = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]);
    let index = u16::from_be_bytes([plain[4], plain[5]]);
    let count = u16::from_be_bytes([plain[6], plain[7]]);
    let len = usize::from(u16::from_be_bytes([plain[8], plain[9]]));
    if count == 0 || index >= count {
        return Err(OnionError::InconsistentFragment {
            reason: "index outside count",
        });
    }
    let data = plain
        .get(FRAGMENT_HEADER_LEN..FRAGMENT_HEADER_LEN + len)
        .ok_or(bad("length beyond payload"))?;
    Ok(Fragment {
        msg_id,
        index,
        count,
        data,
    })
}

#[derive(Debug)]
struct Partial {
    chunks: Vec<Option<Vec<u8>>>,
    received: usize,
    bytes: usize,
}

/// Reassembles messages from fragments and hands them out in sending order.
///
/// Cells of one session can overtake each other (per-hop delays, jitter,
/// separate reply blocks), but the application needs its messages in order:
/// a streamed answer, then its receipt. Message ids count up from 0 per
/// session and direction, so [`Reassembler::push_ordered`] holds a whole
/// message until every earlier one is out, as a Tor circuit delivers in order.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    partial: HashMap<u32, Partial>,
    next: u32,
    ready: std::collections::BTreeMap<u32, Vec<u8>>,
}

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            partial: HashMap::new(),
            next: 0,
            ready: std::collections::BTreeMap::new(),
        }
    }

    /// Adds a fragment; returns every message now deliverable, in order.
    /// Whole messages waiting for an earlier one count against
    /// `max_partial`, so a peer cannot make us buffer without bound.
    pub fn push_ordered(
        &mut self,
        f: &Fragment<'_>,
        capacity: usize,
    ) -> Result<Vec<Vec<u8>>, OnionError> {
        if f.msg_id.wrapping_sub(self.next) > u32::MAX / 2 {
            return Err(OnionError::InconsistentFragment {
                reason: "message already delivered",
            });
        }
        if f.msg_id != self.next
            && !self.partial.contains_key(&f.msg_id)
            && self.partial.len() + self.ready.len() >= self.limits.max_partial
        {
            // Name what fills the buffer: whole messages stuck behind a
            // missing one, or messages still being reassembled.
            return Err(if self.ready.is_empty() {
                OnionError::TooManyPartialMessages {
                    limit: self.limits.max_partial,
                }
            } else {
                OnionError::OutOfOrderBacklog {
                    missing: self.next,
                    waiting: self.ready.len(),
                    limit: self.limits.max_partial,
                }
            });
        }
        let Some(whole) = self.push(f, capacity)? else {
            return Ok(Vec::new());
        };
        if self.ready.insert(f.msg_id, whole).is_some() {
            return Err(OnionError::InconsistentFragment {
                reason: "message delivered twice",
            });
        }
        let mut out = Vec::new();
        while let Some(m) = self.ready.remove(&self.next) {
            out.push(m);
            self.next = self.next.wrapping_add(1);
        }
        Ok(out)
    }

    /// Adds a fragment; returns the whole message once its last fragment is in.
    /// `capacity` is the largest fragment data size, used to refuse messages
    /// whose declared count already exceeds the limit.
    pub fn push(
        &mut self,
        f: &Fragment<'_>,
        capacity: usize,
    ) -> Result<Option<Vec<u8>>, OnionError> {
        let declared = usize::from(f.count).saturating_mul(capacity);
        if usize::from(f.count) > 1 && declared > self.limits.max_message + capacity {
            return Err(OnionError::OversizedMessage {
                size: declared,
                limit: self.limits.max_message,
            });
        }
        if f.count == 1 {
            return Ok(Some(f.data.to_vec()));
        }
        if !self.partial.contains_key(&f.msg_id) && self.partial.len() >= self.limits.max_partial {
            return Err(OnionError::TooManyPartialMessages {
                limit: self.limits.max_partial,
            });
        }
        let p = self.partial.entry(f.msg_id).or_insert_with(|| Partial {
            chunks: vec![None; usize::from(f.count)],
            received: 0,
            bytes: 0,
        });
        if p.chunks.len() != usize::from(f.count) {
            return Err(OnionError::InconsistentFragment {
                reason: "fragment count changed",
            });
        }
        let slot = &mut p.chunks[usize::from(f.index)];
        if slot.is_some() {
            return Err(OnionError::InconsistentFragment {
                reason: "duplicate fragment",
            });
        }
        p.bytes += f.data.len();
        if p.bytes > self.limits.max_message {
            let size = p.bytes;
            self.partial.remove(&f.msg_id);
            return Err(OnionError::OversizedMessage {
                size,
                limit: self.limits.max_message,
            });
        }
        *slot = Some(f.data.to_vec());
        p.received += 1;
        if p.received < p.chunks.len() {
            return Ok(None);
        }
        let whole = self.partial.remove(&f.msg_id).map(|p| {
            p.chunks
                .into_iter()
                .flatten()
                .flatten()
                .collect::<Vec<u8>>()
        });
        Ok(whole)
    }

    /// Messages partially received.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn split_then_reassemble_in_any_order(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            cap in 20usize..300,
            seed in any::<u64>(),
        ) {
            let frags = split(9, &data, cap).unwrap();
            let mut order: Vec<usize> = (0..frags.len()).collect();
            // Deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..order.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                order.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembler::new(ReassemblyLimits::default());
            let mut out = None;
            for i in order {
                let f = parse(&frags[i]).unwrap();
                if let Some(m) = r.push(&f, cap - FRAGMENT_HEADER_LEN).unwrap() {
                    out = Some(m);
                }
            }
            prop_assert_eq!(out, Some(data));
            prop_assert_eq!(r.pending(), 0);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn oversized_and_inconsistent_messages_are_refused() {
        let limits = ReassemblyLimits {
            max_message: 1000,
            max_partial: 2,
        };
        let mut r = Reassembler::new(limits);
        // A first fragment that declares 500 fragments of 100 bytes: refused at once.
        let f = Fragment {
            msg_id: 1,
            index: 0,
            count: 500,
            data: &[0u8; 100],
        };
        assert!(matches!(
            r.push(&f, 100),
            Err(OnionError::OversizedMessage { .. })
        ));
        assert_eq!(r.pending(), 0, "nothing buffered for a refused message");
        // Duplicates and changed counts.
        let a = Fragment {
            msg_id: 2,
            index: 0,
            count: 3,
            data: b"ab",
        };
        r.push(&a, 100).unwrap();
        assert!(matches!(
            r.push(&a, 100),
            Err(OnionError::InconsistentFragment { .. })
        ));
        let b = Fragment {
            msg_id: 2,
            index: 1,
            count: 4,
            data: b"cd",
        };
        assert!(matches!(
            r.push(&b, 100),
            Err(OnionError::InconsistentFragment { .. })
        ));
        // Too many partial messages.
        r.push(
            &Fragment {
                msg_id: 3,
                index: 0,
                count: 2,
                data: b"x",
            },
            100,
        )
        .unwrap();
        assert_eq!(
            r.push(
                &Fragment {
                    msg_id: 4,
                    index: 0,
                    count: 2,
                    data: b"y"
                },
                100
            ),
            Err(OnionError::TooManyPartialMessages { limit: 2 })
        );
    }

    #[test]
    fn messages_come_out_in_sending_order_whatever_the_arrival_order() {
        let mut r = Reassembler::new(ReassemblyLimits {
            max_message: 1 << 20,
            max_partial: 4,
        });
        let frags: Vec<Vec<Vec<u8>>> = (0..4u32)
            .map(|id| split(id, &[id as u8; 30], 20).unwrap())
            .collect();
        // Message 2 whole, then 1's first half, 0 whole, 1's second half, 3.
        let mut got = Vec::new();
        let order = [
            (2, 0),
            (2, 1),
            (2, 2),
            (1, 0),
            (0, 0),
            (0, 1),
            (0, 2),
            (1, 1),
            (1, 2),
            (3, 0),
            (3, 1),
            (3, 2),
        ];
        for (m, i) in order {
            let f = parse(&frags[m][i]).unwrap();
            got.extend(r.push_ordered(&f, 10).unwrap());
            if m == 2 {
                assert!(got.is_empty(), "message 2 must wait for 0 and 1");
            }
        }
        let ids: Vec<u8> = got.iter().map(|m| m[0]).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        // A message already delivered is refused.
        let f = parse(&frags[0][0]).unwrap();
        assert!(r.push_ordered(&f, 10).is_err());
    }

    #[test]
    fn whole_messages_behind_a_lost_one_are_named_as_such() {
        let mut r = Reassembler::new(ReassemblyLimits {
            max_message: 1 << 20,
            max_partial: 2,
        });
        // Message 0 is lost; single-cell messages 1 and 2 wait for it, and
        // message 3 finds the buffer full of whole messages, not partial ones.
        let one = |id: u32| split(id, &[id as u8; 5], 20).unwrap().remove(0);
        for id in [1, 2] {
            assert!(
                r.push_ordered(&parse(&one(id)).unwrap(), 20)
                    .unwrap()
                    .is_empty()
            );
        }
        assert_eq!(
            r.push_ordered(&parse(&one(3)).unwrap(), 20),
            Err(OnionError::OutOfOrderBacklog {
                missing: 0,
                waiting: 2,
                limit: 2
            })
        );
        // Message 0 arriving releases everything waiting.
        let out = r.push_ordered(&parse(&one(0)).unwrap(), 20).unwrap();
        assert_eq!(out.len(), 3);
    }
}
