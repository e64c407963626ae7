//! The discrete-event queue (ARCHITECTURE.md, invariant "the event queue has a total order").
//!
//! Events are ordered by (virtual time in ns, tie); the order is total and
//! the run deterministic. Time never moves backwards: popping asserts it.
//! A queue uses one kind of tie for all its events: [`EventQueue::push`]
//! breaks ties in insertion order (the world's queue), and
//! [`EventQueue::push_tied`] takes a tie the caller derives from the event's
//! source, so that the order does not depend on when it was inserted (the
//! hosts' queue, which parallel windows fill in any order).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use peer2prompt::time::Instant;

struct Entry<E> {
    at: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-queue of events in virtual time.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    seq: u64,
    now: Instant,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            now: Instant::ZERO,
            popped: 0,
        }
    }

    /// The time of the last popped event.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Events popped so far.
    pub fn popped(&self) -> u64 {
        self.popped
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at `at`, after every event already at `at`; a
    /// time in the past is an engine bug.
    pub fn push(&mut self, at: Instant, event: E) {
        self.seq += 1;
        self.push_tied(at, self.seq, event);
    }

    /// Schedules `event` at `at`, ordered among the events at `at` by
    /// `tie`; a time in the past is an engine bug.
    pub fn push_tied(&mut self, at: Instant, tie: u64, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at:?} < {:?}",
            self.now
        );
        self.heap.push(Reverse(Entry {
            at: at.as_nanos(),
            seq: tie,
            event,
        }));
    }

    /// Pops the next event if it is due before `limit`, with its tie, and
    /// moves the clock to it.
    pub fn pop_before(&mut self, limit: Instant) -> Option<(Instant, u64, E)> {
        if self.peek_time()? >= limit {
            return None;
        }
        let Reverse(e) = self.heap.pop()?;
        let at = Instant::from_nanos(e.at);
        assert!(at >= self.now, "virtual time moved backwards");
        self.now = at;
        self.popped += 1;
        Some((at, e.seq, e.event))
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| Instant::from_nanos(e.at))
    }

    /// Pops the next event and moves the clock to it.
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let Reverse(e) = self.heap.pop()?;
        let at = Instant::from_nanos(e.at);
        assert!(at >= self.now, "virtual time moved backwards");
        self.now = at;
        self.popped += 1;
        Some((at, e.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peer2prompt::time::Duration;

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        let t = |ms| Instant::ZERO + Duration::from_millis(ms);
        q.push(t(5), "c");
        q.push(t(1), "a");
        q.push(t(5), "d");
        q.push(t(1), "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert_eq!(q.now(), t(5));
        assert_eq!(q.popped(), 4);
    }

    #[test]
    fn ties_order_events_at_one_instant_whatever_the_insertion_order() {
        let mut q = EventQueue::new();
        let t = |ms| Instant::ZERO + Duration::from_millis(ms);
        q.push_tied(t(5), 9, "d");
        q.push_tied(t(5), 2, "c");
        q.push_tied(t(1), 7, "b");
        q.push_tied(t(1), 3, "a");
        assert_eq!(q.pop_before(t(1)), None, "the limit is exclusive");
        let order: Vec<_> = std::iter::from_fn(|| q.pop_before(t(6)).map(|(_, _, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_is_refused() {
        let mut q = EventQueue::new();
        q.push(Instant::ZERO + Duration::from_millis(2), ());
        q.pop();
        q.push(Instant::ZERO + Duration::from_millis(1), ());
    }
}
