//! `sim/correlation/N`: the passive observers' attacker over N sessions at a
//! fixed load (one session starting per second, each a ~6 s burst of 60
//! cells each way, so about six run at once). Throughput is per session: a
//! flat time per element as N grows is linear cost, where a naive
//! comparison of every client flow with every service flow would grow as N².
#![allow(missing_docs)]

use std::collections::HashSet;
use std::net::SocketAddr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use peer2prompt_sim::adversary::correlation::{CorrelationParams, correlate};
use peer2prompt_sim::adversary::observer::{
    FlowSummary, Observer, PublicKnowledge, Sighting, SummaryParams,
};

const MS: u64 = 1_000_000;

fn addr(a: u8, b: u8, c: u8) -> SocketAddr {
    SocketAddr::from(([10, a, b, c], 1))
}

fn flows(sessions: u32) -> Vec<FlowSummary> {
    let relays: HashSet<SocketAddr> = (0..64).map(|i| addr(1, 0, i)).collect();
    let services: HashSet<SocketAddr> = (0..32).map(|i| addr(2, 0, i)).collect();
    let mut o = Observer::new(
        None,
        PublicKnowledge::new(relays, services, [], 1),
        SummaryParams {
            bin_ns: 50 * MS,
            idle_gap_ns: 1_000 * MS,
        },
    );
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ev = Vec::new();
    for s in 0..sessions {
        let client = addr(3, (s >> 8) as u8, s as u8);
        let entry = addr(1, 0, (next() % 64) as u8);
        let last = addr(1, 0, (next() % 64) as u8);
        let service = addr(2, 0, (next() % 32) as u8);
        let lag = 100 + next() % 300;
        let mut t = u64::from(s) * 1_000;
        for _ in 0..60 {
            t += 20 + next() % 180;
            let cell = |at: u64, src, dst| Sighting {
                at_ns: at * MS,
                size: 1,
                src,
                dst,
            };
            ev.push(cell(t, client, entry));
            ev.push(cell(t + lag, last, service));
            ev.push(cell(t + 2 * lag, service, last));
            ev.push(cell(t + 3 * lag, entry, client));
        }
    }
    ev.sort_by_key(|s| s.at_ns);
    for s in ev {
        o.see(s);
    }
    o.finish()
}

fn correlation(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim/correlation");
    g.sample_size(10);
    for n in [250u32, 1_000, 4_000] {
        let f = flows(n);
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &f, |b, f| {
            b.iter(|| {
                correlate(
                    f,
                    CorrelationParams {
                        bin_ns: 50 * MS,
                        bins: 128,
                        max_lag_bins: 30,
                    },
                )
                .len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, correlation);
criterion_main!(benches);
