//! The DHT in an in-process network: lookup accuracy with 1,000 honest nodes,
//! disjoint lookups against false-answering Sybils, adverts across epochs,
//! bootstrap from several seed lists, capability fetches and hostile input.
#![allow(clippy::unwrap_used)]

mod dht_common;
mod vnet;

use std::net::SocketAddr;

use dht_common::{DhtNet, EPOCH, config};
#[cfg(feature = "adversary")]
use peer2prompt::dht::Contact;
use peer2prompt::dht::advert::{advert_key, commit_capabilities};
use peer2prompt::dht::wire::{Body, Message};
use peer2prompt::dht::{Advert, AdvertFields, DhtError, QueryKind, Role};
use peer2prompt::identity::{Epoch, Identity, IdentityClaim, IdentityProof, OnionKeyring};
use peer2prompt::time::Duration;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

fn percentile(v: &mut [u32], p: f64) -> u32 {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
fn lookups_among_1000_honest_nodes_find_the_true_k_closest() {
    let mut net = DhtNet::new(1000, 1, |_| config());
    net.build(1);
    assert!(
        net.nodes.iter().all(|n| n.bootstrapped),
        "every node bootstrapped"
    );
    let all: Vec<usize> = (0..1000).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut exact = 0;
    let mut hops = Vec::new();
    let trials = 1000;
    for _ in 0..trials {
        let from = (rng.next_u64() % 1000) as usize;
        let mut target = [0u8; 32];
        rng.fill_bytes(&mut target);
        let out = net.lookup(from, |d, now| d.find_node(now, target)).unwrap();
        let mut expect = net.true_closest(&target, 20, &all);
        // The searcher does not return itself.
        let me = net.nodes[from].identity.node_id().0;
        if expect.contains(&me) {
            expect = net.true_closest(&target, 21, &all);
            expect.retain(|id| *id != me);
        }
        let got: Vec<[u8; 32]> = out.closest.iter().map(|c| c.id.0).collect();
        if got == expect {
            exact += 1;
        }
        hops.push(out.hops);
    }
    let mean = hops.iter().map(|h| f64::from(*h)).sum::<f64>() / hops.len() as f64;
    let p95 = percentile(&mut hops, 0.95);
    println!("exact k-closest: {exact}/{trials}; hops mean {mean:.2}, p95 {p95}");
    assert!(exact * 100 >= trials * 99, "{exact}/{trials} exact");
    assert!(mean < 5.0 && p95 <= 6, "hops mean {mean}, p95 {p95}");
    let max_table = net
        .nodes
        .iter()
        .map(|n| n.dht.table().memory_bytes())
        .max()
        .unwrap();
    println!("largest routing table: {max_table} bytes");
}

/// Publishes an advert from `publisher` and returns its key.
fn publish(net: &mut DhtNet, publisher: usize, seed: u64) -> [u8; 32] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let policy = config().policy;
    let node = &net.nodes[publisher];
    let ring = OnionKeyring::new(
        &node.identity,
        policy.epochs,
        policy.grace,
        net.now(),
        &mut rng,
    );
    let epoch_end = policy
        .epochs
        .start_of(Epoch(policy.epochs.epoch_at(net.now()).0 + 1));
    let advert = Advert::sign(
        &node.identity,
        AdvertFields {
            role: Role::Ghost,
            shards: 4,
            addr: node.addr,
            family: None,
            bandwidth: 10,
            onion: *ring.current_cert(),
            capabilities: commit_capabilities(&[0; 16], b"caps"),
            expiry: epoch_end,
        },
    );
    let key = advert.key();
    let now = net.now();
    net.nodes[publisher].dht.publish(now, advert).unwrap();
    net.collect(publisher);
    net.run(Duration::from_secs(30));
    key
}

#[test]
fn adverts_published_before_the_network_grew_are_still_found() {
    // 40 founders publish 20 adverts under one key; then 360 nodes join,
    // most of them closer to the key than the founders that stored the
    // adverts. Kademlia's transfer on join hands the adverts over, so every
    // reader, old or new, still finds all of them; without the hand-over a
    // reader's lookup converges on newcomers that hold nothing.
    let n = 400;
    let mut net = DhtNet::new(n, 11, |_| config());
    net.build_first(40, 11);
    let publishers: Vec<usize> = (0..20).collect();
    let keys: Vec<[u8; 32]> = publishers
        .iter()
        .map(|&p| publish_shard(&mut net, p, 500 + p as u64))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "one shard key");
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let mut joined: Vec<usize> = (0..40).collect();
    for wave in (40..n).collect::<Vec<_>>().chunks(90) {
        net.join(wave, &joined, &mut rng);
        joined.extend(wave);
    }
    net.run(Duration::from_secs(120));
    let mut complete = 0;
    let readers: Vec<usize> = (0..n).step_by(10).collect();
    for &r in &readers {
        let out = net.lookup(r, |d, now| d.find_value(now, keys[0])).unwrap();
        complete += usize::from(out.adverts.len() == publishers.len());
    }
    assert_eq!(complete, readers.len(), "readers with every advert");
}

/// Publishes a Ghost advert of `publisher` in shard 0 of 1 (every advert
/// under one key) and returns the key.
fn publish_shard(net: &mut DhtNet, publisher: usize, seed: u64) -> [u8; 32] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let policy = config().policy;
    let node = &net.nodes[publisher];
    let ring = OnionKeyring::new(
        &node.identity,
        policy.epochs,
        policy.grace,
        net.now(),
        &mut rng,
    );
    let epoch_end = policy
        .epochs
        .start_of(Epoch(policy.epochs.epoch_at(net.now()).0 + 1));
    let advert = Advert::sign(
        &node.identity,
        AdvertFields {
            role: Role::Ghost,
            shards: 1,
            addr: node.addr,
            family: None,
            bandwidth: 10,
            onion: *ring.current_cert(),
            capabilities: commit_capabilities(&[0; 16], b"caps"),
            expiry: epoch_end,
        },
    );
    let key = advert.key();
    let now = net.now();
    net.nodes[publisher].dht.publish(now, advert).unwrap();
    net.collect(publisher);
    net.run(Duration::from_secs(30));
    key
}

#[test]
#[cfg(feature = "adversary")]
fn disjoint_lookups_beat_false_answering_sybils() {
    let n = 1000;
    let sybils: Vec<usize> = (0..n).filter(|i| i % 5 == 4).collect();
    let mut net = DhtNet::new(n, 2, |_| config());
    let accomplices: Vec<Contact> = sybils.iter().map(|i| net.contact(*i)).collect();
    for s in &sybils {
        net.nodes[*s]
            .dht
            .dangerous_answer_falsely(accomplices.clone());
    }
    net.build(2);
    let honest: Vec<usize> = (0..n).filter(|i| i % 5 != 4).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut rates = Vec::new();
    for paths in [1usize, 4] {
        let mut found = 0;
        let trials = 200;
        for t in 0..trials {
            let publisher = honest[(rng.next_u64() % honest.len() as u64) as usize];
            let key = publish(&mut net, publisher, 1000 + t);
            let from = honest[(rng.next_u64() % honest.len() as u64) as usize];
            let out = net.lookup(from, |d, now| {
                d.set_lookup_paths(paths);
                d.find_value(now, key)
            });
            if out.is_some_and(|o| !o.adverts.is_empty()) {
                found += 1;
            }
        }
        rates.push(f64::from(found) / f64::from(trials as u32));
    }
    println!(
        "value found with 20% false-answering Sybils: d=1 {:.3}, d=4 {:.3}",
        rates[0], rates[1]
    );
    assert!(
        rates[1] > rates[0],
        "d=4 {} must beat d=1 {}",
        rates[1],
        rates[0]
    );
    assert!(rates[1] >= 0.9, "d=4 success {}", rates[1]);
}

#[test]
fn adverts_expire_and_rotate_with_epochs() {
    let mut net = DhtNet::new(120, 3, |_| config());
    net.build(3);
    let key0 = publish(&mut net, 7, 1);
    let found = net.lookup(50, |d, now| d.find_value(now, key0)).unwrap();
    assert_eq!(found.adverts.len(), 1);
    assert_eq!(found.adverts[0].node(), net.nodes[7].identity.node_id());
    // A Sybil DHT node sees who asked for which advert key.
    let watchers: Vec<_> = net
        .nodes
        .iter()
        .flat_map(|n| n.observations.iter())
        .filter(|o| o.query == QueryKind::FindValue && o.key == key0)
        .collect();
    assert!(!watchers.is_empty());
    assert!(
        watchers
            .iter()
            .all(|o| o.from == net.nodes[50].addr || o.from_id != net.nodes[7].identity.node_id())
    );

    // Into the next epoch, past the grace period and the advert's expiry.
    let next = net.now() + EPOCH + Duration::from_secs(400);
    let wait = next.saturating_duration_since(net.now());
    net.run(wait);
    let gone = net.lookup(50, |d, now| d.find_value(now, key0)).unwrap();
    assert!(gone.adverts.is_empty(), "an expired advert is not served");
    for n in &net.nodes {
        assert!(
            n.dht.stored(&key0).iter().all(|a| a.expiry >= net.now())
                || n.dht.stored(&key0).is_empty()
        );
    }
    // Re-publication for the new epoch lands under the new epoch's key.
    let key1 = publish(&mut net, 7, 2);
    assert_ne!(key0, key1);
    let epoch = config().policy.epochs.epoch_at(net.now());
    assert_eq!(key1, advert_key("ghost", epoch, found.adverts[0].shard));
    let again = net.lookup(50, |d, now| d.find_value(now, key1)).unwrap();
    assert_eq!(again.adverts.len(), 1);
    assert_eq!(again.adverts[0].epoch(), epoch);
}

#[test]
#[cfg(feature = "adversary")]
fn bootstrapping_from_several_lists_survives_an_eclipsing_list() {
    let n = 200;
    let sybils: Vec<usize> = (100..120).collect();
    let mut net = DhtNet::new(n + 1, 4, |_| config());
    let accomplices: Vec<Contact> = sybils.iter().map(|i| net.contact(*i)).collect();
    for s in &sybils {
        net.nodes[*s]
            .dht
            .dangerous_answer_falsely(accomplices.clone());
    }
    net.build_first(n, 4);
    // A newcomer whose first list is all Sybils and whose others are honest.
    let idx = n;
    let lists = vec![
        sybils
            .iter()
            .take(4)
            .map(|i| net.nodes[*i].addr)
            .collect::<Vec<SocketAddr>>(),
        vec![net.nodes[3].addr, net.nodes[60].addr],
        vec![net.nodes[150].addr],
    ];
    let now = net.now();
    net.nodes[idx].dht.bootstrap(now, &lists);
    net.collect(idx);
    net.run(Duration::from_secs(60));
    assert!(net.nodes[idx].bootstrapped);
    let contacts = net.nodes[idx].dht.table().contacts();
    let honest = contacts.iter().filter(|c| !accomplices.contains(c)).count();
    assert!(
        honest >= 20,
        "{honest} honest contacts of {}",
        contacts.len()
    );
}

#[test]
fn capabilities_are_fetched_encrypted_and_checked() {
    let mut net = DhtNet::new(60, 5, |_| config());
    net.build(5);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let policy = config().policy;
    let ghost = 10;
    let ring = OnionKeyring::new(
        &net.nodes[ghost].identity,
        policy.epochs,
        policy.grace,
        net.now(),
        &mut rng,
    );
    let salt = [4u8; 16];
    let caps = b"gpt-4o in 5.00 out 20.00 per Mtok".to_vec();
    let epoch_end = policy
        .epochs
        .start_of(Epoch(policy.epochs.epoch_at(net.now()).0 + 1));
    let advert = Advert::sign(
        &net.nodes[ghost].identity,
        AdvertFields {
            role: Role::Ghost,
            shards: 1,
            addr: net.nodes[ghost].addr,
            family: None,
            bandwidth: 1,
            onion: *ring.current_cert(),
            capabilities: commit_capabilities(&salt, &caps),
            expiry: epoch_end,
        },
    );
    let secret = ring
        .secret_for(&ring.current_cert().onion_key, net.now())
        .unwrap()
        .clone();
    net.nodes[ghost]
        .dht
        .set_capabilities(secret, salt, caps.clone());
    let now = net.now();
    net.nodes[20].dht.fetch_capabilities(now, &advert).unwrap();
    net.collect(20);
    net.run(Duration::from_secs(10));
    let (node, result) = net.nodes[20].capabilities.pop().unwrap();
    assert_eq!(node, net.nodes[ghost].identity.node_id());
    assert_eq!(result.unwrap(), caps);
}

#[test]
fn hostile_input_is_refused_without_changing_state() {
    let mut net = DhtNet::new(40, 6, |_| config());
    net.build(6);
    let victim = 5;
    let before = net.nodes[victim].dht.table().contacts();
    let stranger: SocketAddr = SocketAddr::from(([192, 0, 2, 1], 1));
    let now = net.now();
    let claim = net.nodes[9].identity.claim();
    // A response to a request never sent.
    let unsolicited = Message {
        txid: 12345,
        sender: claim,
        want_proof: false,
        proof: None,
        body: Body::Nodes { contacts: vec![] },
    };
    assert_eq!(
        net.nodes[victim]
            .dht
            .handle(now, stranger, &unsolicited.encode()),
        Err(DhtError::UnexpectedResponse {
            reason: "unknown transaction"
        })
    );
    // An identity without enough work.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let lazy = Identity::generate(&mut rng, 0);
    let cheap = Message {
        txid: 1,
        sender: lazy.claim(),
        want_proof: false,
        proof: None,
        body: Body::Ping,
    };
    let err = net.nodes[victim]
        .dht
        .handle(now, stranger, &cheap.encode())
        .unwrap_err();
    assert!(matches!(err, DhtError::Identity(_)), "{err}");
    // Garbage, and a forged claim (someone else's key with a wrong nonce).
    assert!(
        net.nodes[victim]
            .dht
            .handle(now, stranger, b"\x01\x02garbage")
            .is_err()
    );
    let forged = Message {
        txid: 2,
        sender: IdentityClaim {
            identity_key: claim.identity_key,
            proof: IdentityProof {
                nonce: claim.proof.nonce ^ 1,
            },
        },
        want_proof: false,
        proof: None,
        body: Body::Ping,
    };
    assert!(
        net.nodes[victim]
            .dht
            .handle(now, stranger, &forged.encode())
            .is_err()
    );
    assert!(
        net.nodes[victim].dht.poll_transmit().is_none(),
        "refused input sends nothing"
    );
    // A forged advert is not stored.
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let policy = config().policy;
    let ring = OnionKeyring::new(
        &net.nodes[9].identity,
        policy.epochs,
        policy.grace,
        now,
        &mut rng,
    );
    let mut advert = Advert::sign(
        &net.nodes[9].identity,
        AdvertFields {
            role: Role::Relay,
            shards: 1,
            addr: net.nodes[9].addr,
            family: None,
            bandwidth: 1,
            onion: *ring.current_cert(),
            capabilities: [0; 32],
            expiry: now + Duration::from_secs(60),
        },
    );
    advert.bandwidth = 999;
    let store = Message {
        txid: 3,
        sender: claim,
        want_proof: false,
        proof: None,
        body: Body::Store {
            key: advert.key(),
            advert: Box::new(advert.clone()),
        },
    };
    let from9 = net.nodes[9].addr;
    assert_eq!(
        net.nodes[victim].dht.handle(now, from9, &store.encode()),
        Err(DhtError::ForgedAdvert)
    );
    assert!(net.nodes[victim].dht.stored(&advert.key()).is_empty());
    // The table holds the same contacts (node 9 is a genuine peer: its
    // request refreshed its recency, but nothing was added or removed).
    let mut after = net.nodes[victim].dht.table().contacts();
    let mut before = before;
    after.sort_by_key(|c| c.id);
    before.sort_by_key(|c| c.id);
    assert_eq!(after, before, "table contents unchanged");
}
