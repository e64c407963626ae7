//! Shared copies of adverts (issue 21): adverts are signed and immutable,
//! and every reader of a shard holds the same ones, so the nodes of one
//! process can hold one copy each instead of one per reader. An
//! [`AdvertInterner`] maps an advert's signature to a weak reference to the
//! copy in use; a node that receives an advert equal to it gets that copy.
//!
//! Interning changes no decision: a node receives a value equal to the one
//! it decoded (a different advert under the same signature is kept apart),
//! and validation has already run on it. Without an interner every advert
//! is its own copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::Advert;

/// Interns adverts by signature for every node that shares it.
#[derive(Clone, Debug, Default)]
pub struct AdvertInterner {
    shared: Option<Arc<Mutex<Table>>>,
}

#[derive(Debug, Default)]
struct Table {
    by_signature: HashMap<[u8; 64], Weak<Advert>>,
    /// Entries at the last sweep of dead references.
    swept_at: usize,
}

impl AdvertInterner {
    /// An interner that nodes sharing it (clones) draw copies from.
    pub fn shared() -> Self {
        AdvertInterner {
            shared: Some(Arc::default()),
        }
    }

    /// No sharing: every advert is its own copy.
    pub fn none() -> Self {
        AdvertInterner::default()
    }

    /// The shared copy of `a`, or `a` itself (then shared from now on).
    pub fn intern(&self, a: Advert) -> Arc<Advert> {
        let Some(shared) = &self.shared else {
            return Arc::new(a);
        };
        let mut t = shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = t.by_signature.get(&a.signature).and_then(Weak::upgrade)
            && *held == a
        {
            return held;
        }
        let a = Arc::new(a);
        t.by_signature.insert(a.signature, Arc::downgrade(&a));
        t.sweep();
        a
    }

    /// Adverts currently interned and alive (the tests' check that dropped
    /// adverts leave the table).
    #[cfg(test)]
    fn live(&self) -> usize {
        self.shared.as_ref().map_or(0, |s| {
            let t = s.lock().unwrap_or_else(|e| e.into_inner());
            t.by_signature
                .values()
                .filter(|w| w.strong_count() > 0)
                .count()
        })
    }
}

impl Table {
    /// Drops dead references once the table has doubled since the last
    /// sweep, so it stays within twice the adverts alive.
    fn sweep(&mut self) {
        if self.by_signature.len() >= 2 * self.swept_at.max(1024) {
            self.by_signature.retain(|_, w| w.strong_count() > 0);
            self.swept_at = self.by_signature.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dht::advert::tests::setup;
    use crate::identity::{Identity, OnionKeyring};
    use crate::time::{Duration, Instant};

    type Signer = (Identity, OnionKeyring);

    fn signer() -> Signer {
        let (id, ring, _) = setup();
        (id, ring)
    }

    /// Distinct adverts of one identity: `n` sets the expiry.
    fn advert((id, ring): &Signer, n: u64) -> Advert {
        crate::dht::advert::tests::advert(id, ring, Instant::ZERO + Duration::from_secs(60 + n))
    }

    #[test]
    fn equal_adverts_share_one_copy_and_different_ones_do_not() {
        let s = signer();
        let i = AdvertInterner::shared();
        let a = i.intern(advert(&s, 1));
        let other_node = i.clone();
        let b = other_node.intern(advert(&s, 1));
        drop(other_node);
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern(advert(&s, 2));
        assert!(!Arc::ptr_eq(&a, &c));
        // Same signature, other content (a forgery): kept apart.
        let mut forged = advert(&s, 1);
        forged.bandwidth += 1;
        let f = i.intern(forged.clone());
        assert!(!Arc::ptr_eq(&a, &f));
        assert_eq!(*f, forged);
        // The forgery took the signature's entry: a and c stay alive, c's
        // entry and the forgery's are the live ones.
        assert_eq!(i.live(), 2);
        // Without sharing, copies stay apart.
        let n = AdvertInterner::none();
        assert!(!Arc::ptr_eq(
            &n.intern(advert(&s, 1)),
            &n.intern(advert(&s, 1))
        ));
    }

    #[test]
    fn dead_copies_are_swept() {
        let s = signer();
        let i = AdvertInterner::shared();
        for b in 0..3000 {
            drop(i.intern(advert(&s, b)));
        }
        let kept = i.intern(advert(&s, 5000));
        assert_eq!(i.live(), 1);
        let t = i
            .shared
            .as_ref()
            .map(|s| s.lock().map(|t| t.by_signature.len()));
        assert!(matches!(t, Some(Ok(n)) if n < 2100), "{t:?}");
        drop(kept);
    }
}
