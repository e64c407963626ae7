//! `sim/engine_events`: the raw event loop, without protocol work. 10,000
//! nodes each keep one pending event; popping an event schedules that
//! node's next one a pseudo-random delay later (the shape of the engine's
//! delivery and timer traffic). Reported per event.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use peer2prompt::time::{Duration, Instant};
use peer2prompt_sim::queue::EventQueue;

const NODES: u32 = 10_000;
const EVENTS: u64 = 100_000;

fn engine_events(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("engine_events", |b| {
        b.iter(|| {
            let mut q: EventQueue<u32> = EventQueue::new();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for n in 0..NODES {
                q.push(Instant::ZERO + Duration::from_micros(u64::from(n)), n);
            }
            let mut sum = 0u64;
            for _ in 0..EVENTS {
                let Some((at, n)) = q.pop() else { break };
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                sum = sum.wrapping_add(u64::from(n));
                q.push(at + Duration::from_micros(x % 50_000), n);
            }
            std::hint::black_box(sum)
        })
    });
    g.finish();
}

criterion_group!(benches, engine_events);
criterion_main!(benches);
