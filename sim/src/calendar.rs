//! The hosts' event queue as a calendar: buckets one window wide, keyed by
//! `time / width`. A window spans at most two buckets, so taking its events
//! takes one bucket and part of the next, with no ordering work on the
//! serial path; each host orders its own share by (time, tie) inside the
//! window, on its thread ([`crate::window`]). Ties are fixed by the events' sources
//! ([`crate::queue`]), so the order does not depend on how events were
//! stored.

use std::collections::BTreeMap;

use peer2prompt::time::{Duration, Instant};

/// An event with its time and tie.
pub type Timed<E> = (Instant, u64, E);

struct Bucket<E> {
    /// The earliest time in it, ns.
    min: u64,
    items: Vec<Timed<E>>,
}

/// Events in buckets of `width` virtual nanoseconds.
pub struct Calendar<E> {
    width: u64,
    buckets: BTreeMap<u64, Bucket<E>>,
    /// Everything before it has been taken: nothing may be scheduled there.
    frontier: Instant,
}

impl<E> Calendar<E> {
    /// An empty calendar of buckets `width` wide (positive).
    pub fn new(width: Duration) -> Self {
        let width = width.as_nanos();
        assert!(width > 0, "buckets must have a width");
        Calendar {
            width,
            buckets: BTreeMap::new(),
            frontier: Instant::ZERO,
        }
    }

    /// The bucket width.
    pub fn width(&self) -> Duration {
        Duration::from_nanos(self.width)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Schedules `event` at `at` with `tie`; a time before what was already
    /// taken is an engine bug.
    pub fn push(&mut self, at: Instant, tie: u64, event: E) {
        assert!(
            at >= self.frontier,
            "event scheduled in the past: {at:?} < {:?}",
            self.frontier
        );
        let ns = at.as_nanos();
        let b = self.buckets.entry(ns / self.width).or_insert(Bucket {
            min: ns,
            items: Vec::new(),
        });
        b.min = b.min.min(ns);
        b.items.push((at, tie, event));
    }

    /// Moves every event of `other` into this calendar (another width).
    pub fn take_all_of(&mut self, other: Calendar<E>) {
        self.frontier = self.frontier.max(other.frontier);
        for b in other.buckets.into_values() {
            for (at, tie, e) in b.items {
                self.push(at, tie, e);
            }
        }
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<Instant> {
        let (_, b) = self.buckets.first_key_value()?;
        Some(Instant::from_nanos(b.min))
    }

    /// Takes every event before `until`, in no particular order.
    pub fn take_before(&mut self, until: Instant) -> Vec<Timed<E>> {
        self.frontier = self.frontier.max(until);
        let mut taken = Vec::new();
        while let Some(mut first) = self.buckets.first_entry() {
            let start = first.key().saturating_mul(self.width);
            if start >= until.as_nanos() {
                break;
            }
            if start.saturating_add(self.width) <= until.as_nanos() {
                taken.append(&mut first.remove().items);
                continue;
            }
            let b = first.get_mut();
            let (mut now, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut b.items)
                .into_iter()
                .partition(|e| e.0 < until);
            taken.append(&mut now);
            match kept.iter().map(|e| e.0.as_nanos()).min() {
                Some(min) => {
                    b.min = min;
                    b.items = kept;
                }
                None => {
                    first.remove();
                }
            }
            break;
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(n)
    }

    fn take(c: &mut Calendar<u64>, until: u64) -> Vec<u64> {
        let mut v: Vec<u64> = c.take_before(ms(until)).into_iter().map(|e| e.2).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn windows_take_whole_buckets_and_the_part_before_their_end() {
        let mut c = Calendar::new(Duration::from_millis(10));
        for (at, tie) in [(25, 1), (3, 2), (7, 3), (12, 4), (9, 5), (14, 6)] {
            c.push(ms(at), tie, at);
        }
        assert_eq!(c.peek_time(), Some(ms(3)));
        // A cut at 8 ms (a world event) takes 3 and 7, and keeps 9.
        assert_eq!(take(&mut c, 8), [3, 7]);
        assert_eq!(c.peek_time(), Some(ms(9)));
        // A window [9, 13) takes the rest of one bucket and part of the next.
        assert_eq!(take(&mut c, 13), [9, 12]);
        assert_eq!(c.peek_time(), Some(ms(14)));
        assert_eq!(take(&mut c, 24), [14]);
        assert_eq!(take(&mut c, 30), [25]);
        assert!(c.is_empty());
    }

    #[test]
    fn rebucketing_keeps_every_event_and_what_was_taken() {
        let mut c = Calendar::new(Duration::from_millis(10));
        for (at, tie) in [(25, 1), (3, 2), (7, 3), (12, 4)] {
            c.push(ms(at), tie, at);
        }
        assert_eq!(take(&mut c, 5), [3]);
        let mut narrow = Calendar::new(Duration::from_millis(3));
        narrow.take_all_of(c);
        assert_eq!(narrow.width(), Duration::from_millis(3));
        assert_eq!(narrow.peek_time(), Some(ms(7)));
        assert_eq!(take(&mut narrow, 13), [7, 12]);
        assert_eq!(take(&mut narrow, 30), [25]);
        assert!(narrow.is_empty());
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_before_a_taken_window_is_refused() {
        let mut c = Calendar::new(Duration::from_millis(10));
        c.push(ms(1), 1, ());
        c.take_before(ms(10));
        c.push(ms(9), 2, ());
    }
}
