//! Conservative parallel windows (issue 21; Shadow calls the lookahead
//! "runahead"). No datagram arrives sooner than the topology's least delay
//! ([`Fabric::lookahead`]), so the host events of a window `[t, t + L)`
//! cannot cause one another across hosts: each host runs its own events in
//! order, on any thread, and what it sends lands at or after the window's
//! end. A host's own timers that fall due inside the window run in it.
//!
//! Nothing depends on the number of threads or on where windows fall:
//! - host events are ordered by (time, source host, source sequence), a tie
//!   fixed when the event is caused ([`crate::queue`]);
//! - outboxes are applied in host order;
//! - the world handles what nodes reported in (time, host, report order),
//!   and the observers see sightings in (time, host, order);
//! - the world never touches a host from inside a window: its reactions to
//!   reports are events at least [`crate::world::REACTION`] later, and its
//!   own events end the window before them;
//! - the world's calls on one node that it fixes in advance (the warm-up's
//!   joins, directory refreshes and funding, [`crate::engine::HostCall`])
//!   are host events with ties below every host's, so they run in windows,
//!   first at their instant, without ending one.
//!
//! Cost: one synchronization per window. With `L` ≈ 17 ms under the
//! default topology and the world's events cutting windows short, a window
//! holds tens to hundreds of host events; the serial part (draining the
//! queue, merging outboxes, the world's bookkeeping) bounds the speedup.

use peer2prompt::node::NodeEvent;
use peer2prompt::time::Instant;
use rayon::prelude::*;

use crate::engine::{Engine, Fabric, Host, HostEvent, Outbox, StallWatch, Station};
use crate::queue::EventQueue;

/// What node `host` reported at `at`.
#[derive(Debug)]
pub struct Report {
    /// The instant.
    pub at: Instant,
    /// The reporting host.
    pub host: u32,
    /// The report.
    pub event: NodeEvent,
}

/// One host's share of a window.
struct Job<'a> {
    i: u32,
    host: &'a mut Host,
    todo: Vec<(Instant, u64, HostEvent)>,
    out: Outbox,
    ran: u64,
    last: Instant,
}

impl Job<'_> {
    /// Runs the host's events before `until` in (time, tie) order,
    /// including the timers it arms for inside the window.
    fn run(&mut self, fabric: &Fabric, until: Instant) {
        let mut q = EventQueue::new();
        for (at, tie, ev) in self.todo.drain(..) {
            q.push_tied(at, tie, ev);
        }
        let mut stall = StallWatch::default();
        while let Some((at, _, ev)) = q.pop_before(until) {
            self.ran += 1;
            self.last = at;
            let mark = self.out.sends.len();
            let mut st = Station {
                i: self.i,
                host: self.host,
                fabric,
                out: &mut self.out,
            };
            let fired = match ev {
                HostEvent::Deliver { from, bytes, .. } => {
                    if st.deliver(at, from, &bytes) {
                        st.collect(at);
                    }
                    false
                }
                HostEvent::Timer(_, deadline) => st.timer(at, deadline),
                HostEvent::Call(_, call) => {
                    if st.call(at, call) {
                        st.collect(at);
                    }
                    false
                }
            };
            if fired {
                st.collect(at);
                if stall.observe(at, st.due(at)) {
                    let v = StallWatch::violation(at, self.i, &self.host.slot);
                    self.out.stalled = Some(v);
                    return;
                }
            }
            self.keep_own(mark, until, &mut q);
        }
    }

    /// Moves the timers armed since `mark` that fall due before `until`
    /// into this window's queue; datagrams never do (the lookahead).
    fn keep_own(&mut self, mark: usize, until: Instant, q: &mut EventQueue<HostEvent>) {
        let sends = &mut self.out.sends;
        let mut k = mark;
        while k < sends.len() {
            if sends[k].0 >= until {
                k += 1;
                continue;
            }
            let (at, tie, ev) = sends.swap_remove(k);
            assert!(
                matches!(ev, HostEvent::Timer(..)),
                "a datagram from host {} arrives at {at:?}, inside the window ending {until:?}: the lookahead is wrong",
                self.i
            );
            q.push_tied(at, tie, ev);
        }
    }
}

/// Splits `hosts` into one job per host with events in `batch` (sorted by
/// host).
fn jobs(hosts: &mut [Host], batch: Vec<(Instant, u64, HostEvent)>) -> Vec<Job<'_>> {
    let mut jobs = Vec::new();
    let mut rest = hosts;
    let mut base = 0u32;
    let mut it = batch.into_iter().peekable();
    while let Some(first) = it.next() {
        let i = first.2.host();
        let mut todo = vec![first];
        while let Some(e) = it.next_if(|e| e.2.host() == i) {
            todo.push(e);
        }
        let tail = std::mem::take(&mut rest)
            .split_at_mut((i - base) as usize)
            .1;
        let (host, tail) = tail.split_first_mut().expect("events go to existing hosts");
        rest = tail;
        base = i + 1;
        jobs.push(Job {
            i,
            host,
            todo,
            out: Outbox::default(),
            ran: 0,
            last: Instant::ZERO,
        });
    }
    jobs
}

/// Runs every host event due before `until`, which is at most one window
/// (no longer than the lookahead) past the earliest, on the current rayon
/// pool when `parallel`; returns what the nodes reported, in (time, host,
/// report order).
pub fn run(engine: &mut Engine, until: Instant, parallel: bool) -> Vec<Report> {
    let mut batch = engine.queue.take_before(until);
    // Each host orders its own events by their (time, tie), which are unique.
    batch.sort_unstable_by_key(|e| e.2.host());
    let fabric = &engine.fabric;
    let mut jobs = jobs(&mut engine.hosts, batch);
    if parallel && jobs.len() > 1 {
        jobs.par_iter_mut().for_each(|j| j.run(fabric, until));
    } else {
        jobs.iter_mut().for_each(|j| j.run(fabric, until));
    }
    let done: Vec<(u32, Outbox, u64, Instant)> = jobs
        .into_iter()
        .map(|j| (j.i, j.out, j.ran, j.last))
        .collect();
    merge(engine, done)
}

/// Applies the outboxes in host order; the observers see the sightings in
/// (time, host, order).
fn merge(engine: &mut Engine, done: Vec<(u32, Outbox, u64, Instant)>) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut sightings = Vec::new();
    for (i, mut out, ran, last) in done {
        engine.ran += ran;
        engine.latest = engine.latest.max(last);
        let r = out.reports.drain(..);
        reports.extend(r.map(|(at, event)| Report { at, host: i, event }));
        sightings.append(&mut out.sightings);
        engine.apply(out);
    }
    // Stable sorts: ties stay in host order, then in each host's order.
    reports.sort_by_key(|r| r.at);
    sightings.sort_by_key(|s| s.at_ns);
    if let Some(o) = &mut engine.observer {
        sightings.into_iter().for_each(|s| o.see(s));
    }
    reports
}
