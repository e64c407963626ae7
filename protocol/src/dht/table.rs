//! The k-bucket routing table (whitepaper "Peer Discovery (DHT)").
//!
//! Bucket `i` holds contacts sharing exactly `i` leading bits with our own id,
//! least recently seen first. A full bucket keeps its long-lived contacts:
//! the newcomer waits while the least recently seen contact is pinged, and
//! replaces it only if the ping fails.
//!
//! Memory: a contact is stored in 44 bytes (id, packed IPv4 address and port,
//! last-seen seconds, failure count); IPv6 addresses are interned in a side
//! table; no keys, adverts or certificates are stored; empty buckets are not
//! allocated. A table in an N-node network holds about `k * log2(N / k)`
//! contacts: ~270 (~13 KB) at N = 100,000 and k = 20, growing by k contacts
//! (~0.9 KB) each time N doubles.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::id::{Key, distance, shared_prefix};
use crate::identity::NodeId;
use crate::time::Instant;

/// A contact: a node id and where to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Contact {
    /// Node id.
    pub id: NodeId,
    /// Its socket address.
    pub addr: SocketAddr,
}

/// Packed address: IPv4 and port, or (`v6`) an index into the IPv6 intern table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PackedAddr {
    ip: u32,
    port: u16,
    v6: bool,
}

/// Field order keeps it at 44 bytes with no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    id: [u8; 32],
    ip: u32,
    last_seen: u32,
    port: u16,
    fails: u8,
    v6: bool,
}

impl Entry {
    fn new(id: [u8; 32], a: PackedAddr, last_seen: u32) -> Self {
        Entry {
            id,
            ip: a.ip,
            last_seen,
            port: a.port,
            fails: 0,
            v6: a.v6,
        }
    }

    fn addr(&self) -> PackedAddr {
        PackedAddr {
            ip: self.ip,
            port: self.port,
            v6: self.v6,
        }
    }
}

/// What happened to a contact offered to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// It is in the table (added, or refreshed).
    Inserted,
    /// The bucket is full: ping `lrs`; if it does not answer, call
    /// [`RoutingTable::evict`] and offer the newcomer again.
    PingNeeded {
        /// The least recently seen contact of the full bucket.
        lrs: Contact,
    },
    /// The bucket is full and a ping is already outstanding; dropped.
    Dropped,
    /// It is our own id.
    Own,
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    entries: Vec<Entry>,
    pinging: bool,
    touched: u32,
}

/// The routing table.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    own: Key,
    k: usize,
    buckets: Vec<Bucket>,
    v6: Vec<SocketAddr>,
}

fn secs(now: Instant) -> u32 {
    u32::try_from(now.as_nanos() / 1_000_000_000).unwrap_or(u32::MAX)
}

impl RoutingTable {
    /// An empty table for `own` with bucket size `k`.
    pub fn new(own: NodeId, k: usize) -> Self {
        assert!(k > 0, "bucket size must be positive");
        RoutingTable {
            own: own.0,
            k,
            buckets: Vec::new(),
            v6: Vec::new(),
        }
    }

    /// Bucket size.
    pub fn k(&self) -> usize {
        self.k
    }

    fn pack(&mut self, addr: SocketAddr) -> PackedAddr {
        match addr.ip() {
            IpAddr::V4(v4) => PackedAddr {
                ip: u32::from(v4),
                port: addr.port(),
                v6: false,
            },
            IpAddr::V6(_) => {
                let idx = match self.v6.iter().position(|a| *a == addr) {
                    Some(i) => i,
                    None => {
                        self.v6.push(addr);
                        self.v6.len() - 1
                    }
                };
                PackedAddr {
                    ip: u32::try_from(idx).unwrap_or(u32::MAX),
                    port: 0,
                    v6: true,
                }
            }
        }
    }

    fn unpack(&self, a: PackedAddr) -> SocketAddr {
        if a.v6 {
            self.v6
                .get(a.ip as usize)
                .copied()
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
        } else {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a.ip)), a.port)
        }
    }

    fn contact(&self, e: &Entry) -> Contact {
        Contact {
            id: NodeId(e.id),
            addr: self.unpack(e.addr()),
        }
    }

    fn bucket_index(&self, id: &Key) -> Option<usize> {
        let p = shared_prefix(&self.own, id);
        (p < 256).then_some(p)
    }

    /// Records that `c` was heard from at `now` (it answered us, or it sent
    /// us a verified request). Call only for contacts admitted by the caller's
    /// checks (proof of work, proof of key possession).
    pub fn insert(&mut self, c: Contact, now: Instant) -> Insert {
        let Some(b) = self.bucket_index(&c.id.0) else {
            return Insert::Own;
        };
        if self.buckets.len() <= b {
            // Exact growth: capacity is memory, and tables are many.
            self.buckets.reserve_exact(b + 1 - self.buckets.len());
            self.buckets.resize_with(b + 1, Bucket::default);
        }
        let addr = self.pack(c.addr);
        let k = self.k;
        let bucket = &mut self.buckets[b];
        bucket.touched = secs(now);
        if let Some(pos) = bucket.entries.iter().position(|e| e.id == c.id.0) {
            bucket.entries.remove(pos);
            bucket.entries.push(Entry::new(c.id.0, addr, secs(now)));
            return Insert::Inserted;
        }
        if bucket.entries.len() < k {
            bucket.entries.reserve_exact(1);
            bucket.entries.push(Entry::new(c.id.0, addr, secs(now)));
            return Insert::Inserted;
        }
        if bucket.pinging {
            return Insert::Dropped;
        }
        bucket.pinging = true;
        let lrs = bucket.entries[0];
        Insert::PingNeeded {
            lrs: self.contact(&lrs),
        }
    }

    /// The outstanding ping of `lrs`'s bucket was answered: `lrs` stays (it
    /// moves to most recently seen) and the newcomer is not added.
    pub fn ping_answered(&mut self, lrs: &Contact, now: Instant) {
        if let Some(b) = self.bucket_index(&lrs.id.0)
            && let Some(bucket) = self.buckets.get_mut(b)
        {
            bucket.pinging = false;
        }
        self.insert(*lrs, now);
    }

    /// The outstanding ping of `lrs` failed: remove it.
    pub fn evict(&mut self, lrs: &Contact) {
        if let Some(b) = self.bucket_index(&lrs.id.0)
            && let Some(bucket) = self.buckets.get_mut(b)
        {
            bucket.pinging = false;
            bucket.entries.retain(|e| e.id != lrs.id.0);
        }
    }

    /// Counts a failed request to `id`; after `limit` consecutive failures the
    /// contact is removed. Returns true if it was removed.
    pub fn record_failure(&mut self, id: &NodeId, limit: u8) -> bool {
        let Some(b) = self.bucket_index(&id.0) else {
            return false;
        };
        let Some(bucket) = self.buckets.get_mut(b) else {
            return false;
        };
        let Some(pos) = bucket.entries.iter().position(|e| e.id == id.0) else {
            return false;
        };
        bucket.entries[pos].fails = bucket.entries[pos].fails.saturating_add(1);
        if bucket.entries[pos].fails >= limit {
            bucket.entries.remove(pos);
            return true;
        }
        false
    }

    /// The contact with this id, if present.
    pub fn get(&self, id: &NodeId) -> Option<Contact> {
        let b = self.bucket_index(&id.0)?;
        self.buckets
            .get(b)?
            .entries
            .iter()
            .find(|e| e.id == id.0)
            .map(|e| self.contact(e))
    }

    /// The `n` contacts closest to `target`, closest first.
    pub fn closest(&self, target: &Key, n: usize) -> Vec<Contact> {
        let mut all: Vec<(Key, &Entry)> = self
            .buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .map(|e| (distance(target, &e.id), e))
            .collect();
        if all.len() > n {
            all.select_nth_unstable_by(n, |a, b| a.0.cmp(&b.0));
            all.truncate(n);
        }
        all.sort_by_key(|a| a.0);
        all.into_iter().map(|(_, e)| self.contact(e)).collect()
    }

    /// Contacts in the table.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// True if the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All contacts, bucket by bucket.
    pub fn contacts(&self) -> Vec<Contact> {
        self.buckets
            .iter()
            .flat_map(|b| b.entries.iter())
            .map(|e| self.contact(e))
            .collect()
    }

    /// Indices of non-empty buckets not touched since `before` (for refresh).
    pub fn stale_buckets(&self, before: Instant) -> Vec<usize> {
        let t = secs(before);
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.entries.is_empty() && b.touched < t)
            .map(|(i, _)| i)
            .collect()
    }

    /// Bytes this table uses, heap included (the memory target is per table).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self.buckets.capacity() * size_of::<Bucket>()
            + self
                .buckets
                .iter()
                .map(|b| b.entries.capacity() * size_of::<Entry>())
                .sum::<usize>()
            + self.v6.capacity() * size_of::<SocketAddr>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};

    fn contact(rng: &mut ChaCha8Rng) -> Contact {
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        let ip = rng.next_u32();
        Contact {
            id: NodeId(id),
            addr: SocketAddr::from((Ipv4Addr::from(ip), 4000)),
        }
    }

    #[test]
    fn entries_are_compact() {
        assert!(size_of::<Entry>() <= 44, "{}", size_of::<Entry>());
    }

    #[test]
    fn closest_returns_the_true_closest() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let own = contact(&mut rng);
        let mut t = RoutingTable::new(own.id, 20);
        let all: Vec<Contact> = (0..500).map(|_| contact(&mut rng)).collect();
        for c in &all {
            t.insert(*c, Instant::ZERO);
        }
        let present = t.contacts();
        let target = contact(&mut rng).id.0;
        let mut expect = present;
        expect.sort_by_key(|c| distance(&target, &c.id.0));
        expect.truncate(20);
        assert_eq!(t.closest(&target, 20), expect);
    }

    #[test]
    fn a_full_bucket_keeps_its_long_lived_live_contacts() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let own = contact(&mut rng);
        let mut t = RoutingTable::new(own.id, 4);
        // Fill the far bucket (first bit differs) with four old-timers.
        let far = |rng: &mut ChaCha8Rng| {
            let mut c = contact(rng);
            c.id.0[0] = !own.id.0[0];
            c
        };
        let old: Vec<Contact> = (0..4).map(|_| far(&mut rng)).collect();
        for c in &old {
            assert_eq!(t.insert(*c, Instant::ZERO), Insert::Inserted);
        }
        let newcomer = far(&mut rng);
        let later = Instant::ZERO + Duration::from_secs(100);
        let Insert::PingNeeded { lrs } = t.insert(newcomer, later) else {
            panic!("a full bucket pings its least recently seen contact");
        };
        assert_eq!(lrs, old[0]);
        // A second newcomer while the ping is outstanding is dropped.
        assert_eq!(t.insert(far(&mut rng), later), Insert::Dropped);
        // The old-timer answers: it stays, the newcomer is not added.
        t.ping_answered(&lrs, later);
        assert!(t.get(&newcomer.id).is_none());
        assert_eq!(t.contacts().len(), 4);
        assert!(old.iter().all(|c| t.get(&c.id).is_some()));
        // Next time the least recently seen is old[1]; it does not answer.
        let Insert::PingNeeded { lrs } = t.insert(newcomer, later) else {
            panic!("ping expected");
        };
        assert_eq!(lrs, old[1]);
        t.evict(&lrs);
        assert_eq!(t.insert(newcomer, later), Insert::Inserted);
        assert!(t.get(&old[1].id).is_none());
    }

    #[test]
    fn a_table_in_a_100k_node_network_fits_in_16_kib() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let own = contact(&mut rng);
        let mut t = RoutingTable::new(own.id, 20);
        for _ in 0..100_000 {
            let c = contact(&mut rng);
            if let Insert::PingNeeded { lrs } = t.insert(c, Instant::ZERO) {
                // Old contacts answer: the table keeps them.
                t.ping_answered(&lrs, Instant::ZERO);
            }
        }
        let bytes = t.memory_bytes();
        assert!(t.len() > 200 && t.len() < 400, "{} contacts", t.len());
        assert!(bytes <= 16 * 1024, "{bytes} bytes for {} contacts", t.len());
        println!("100k-node network: {} contacts, {bytes} bytes", t.len());
    }
}
