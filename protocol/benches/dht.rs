//! DHT benchmarks (`cargo bench -p peer2prompt --bench dht`).
//!
//! Stable ids:
//! - `dht/routing_table_insert`: offering one contact to a table of ~270
//!   contacts (a 100,000-node network's worth);
//! - `dht/closest_k`: the 20 closest contacts to a key from that table;
//! - `dht/lookup_1000_nodes`: one complete FIND_NODE lookup in a bootstrapped
//!   1,000-node in-process network (all nodes' CPU);
//! - `dht/advert_verify`: full validation of one advert.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/dht_common/mod.rs"]
mod dht_common;
#[path = "../tests/vnet/mod.rs"]
mod vnet;

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};

use criterion::{Criterion, criterion_group, criterion_main};
use dht_common::{DhtNet, config};
use peer2prompt::dht::advert::commit_capabilities;
use peer2prompt::dht::table::Insert;
use peer2prompt::dht::{Advert, AdvertFields, Contact, Role, RoutingTable};
use peer2prompt::identity::{Identity, NodeId, OnionKeyring};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::{ChaCha8Rng, ChaCha20Rng};
use rand_core::{Rng, SeedableRng};

fn random_contact(rng: &mut ChaCha8Rng) -> Contact {
    let mut id = [0u8; 32];
    rng.fill_bytes(&mut id);
    Contact {
        id: NodeId(id),
        addr: SocketAddr::from((Ipv4Addr::from(rng.next_u32()), 7000)),
    }
}

fn full_table(rng: &mut ChaCha8Rng) -> RoutingTable {
    let mut t = RoutingTable::new(random_contact(rng).id, 20);
    for _ in 0..100_000 {
        if let Insert::PingNeeded { lrs } = t.insert(random_contact(rng), Instant::ZERO) {
            t.ping_answered(&lrs, Instant::ZERO);
        }
    }
    t
}

fn table(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut t = full_table(&mut rng);
    let mut g = c.benchmark_group("dht");
    g.bench_function("routing_table_insert", |b| {
        b.iter(|| {
            let c = random_contact(&mut rng);
            if let Insert::PingNeeded { lrs } = t.insert(black_box(c), Instant::ZERO) {
                t.ping_answered(&lrs, Instant::ZERO);
            }
        })
    });
    g.bench_function("closest_k", |b| {
        b.iter(|| {
            let mut target = [0u8; 32];
            rng.fill_bytes(&mut target);
            t.closest(black_box(&target), 20)
        })
    });
    g.finish();
}

fn advert(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let policy = config().policy;
    let id = Identity::generate_with(&mut rng, policy.identity);
    let ring = OnionKeyring::new(&id, policy.epochs, policy.grace, Instant::ZERO, &mut rng);
    let a = Advert::sign(
        &id,
        AdvertFields {
            role: Role::Ghost,
            shards: 8,
            addr: SocketAddr::from(([10, 0, 0, 1], 443)),
            family: None,
            bandwidth: 1,
            onion: *ring.current_cert(),
            capabilities: commit_capabilities(&[0; 16], b"caps"),
            expiry: Instant::ZERO + Duration::from_secs(3000),
        },
    );
    let mut g = c.benchmark_group("dht");
    g.bench_function("advert_verify", |b| {
        b.iter(|| black_box(&a).validate(Instant::ZERO, &policy).unwrap())
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut net = DhtNet::new(1000, 1, |_| config());
    net.build(1);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut g = c.benchmark_group("dht");
    g.sample_size(30);
    g.bench_function("lookup_1000_nodes", |b| {
        b.iter(|| {
            let from = (rng.next_u64() % 1000) as usize;
            let mut target = [0u8; 32];
            rng.fill_bytes(&mut target);
            net.lookup(from, |d, now| d.find_node(now, target)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, table, advert, lookup);
criterion_main!(benches);
