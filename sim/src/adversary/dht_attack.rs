//! DHT eclipse and poisoning (whitepaper "DHT Sybil and Eclipse Attacks"):
//! Sybil DHT nodes whose ids the adversary grinds near the directory's
//! advert keys, so that they become each key's closest nodes, paying the
//! identity puzzles like anyone. Each then answers through the protocol's
//! `Dht::dangerous_eclipse` or `Dht::dangerous_poison` hook, serving only
//! the adversary's own adverts. The adversary decides from what it runs:
//! its own nodes' ids and addresses, and the public key schedule.
//!
//! The keys are those of the first epoch (epochs last a day, longer than
//! any network run here); a later epoch moves every key and the adversary
//! would grind afresh, which the capital model counts per epoch.

use std::collections::HashSet;

use peer2prompt::dht::advert::advert_key;
use peer2prompt::dht::id::Key;
use peer2prompt::dht::{Contact, Role};
use peer2prompt::identity::Epoch;

use crate::engine::Host;
use crate::population::Kind;
use crate::scenario::{DhtAttackKind, DhtAttackSpec, DhtAttackTarget, Scenario};

/// The attack of a scenario, if any.
pub fn spec(s: &Scenario) -> Option<&DhtAttackSpec> {
    s.adversary.sybil.as_ref()?.dht_attack.as_ref()
}

/// The advert keys the Sybils sit on, in the order their slots take them.
pub fn target_keys(s: &Scenario, d: &DhtAttackSpec) -> Vec<Key> {
    let p = &s.protocol;
    let relays = matches!(
        d.target,
        DhtAttackTarget::RelayShards | DhtAttackTarget::Both
    );
    let services = matches!(
        d.target,
        DhtAttackTarget::ServiceShards | DhtAttackTarget::Both
    );
    let mut roles: Vec<(Role, u16)> = Vec::new();
    if relays {
        roles.push((Role::Relay, p.shards));
    }
    if services {
        roles.push((Role::Ghost, p.service_shards));
        if s.population.gpus > 0 {
            roles.push((Role::Gpu, p.service_shards));
        }
    }
    roles
        .into_iter()
        .flat_map(|(role, shards)| {
            (0..shards.max(1)).map(move |sh| advert_key(role.descriptor(), Epoch(0), sh))
        })
        .collect()
}

/// DHT Sybil slots the attack adds.
pub fn sybil_count(s: &Scenario) -> u32 {
    spec(s).map_or(0, |d| d.per_key * target_keys(s, d).len() as u32)
}

/// The key Sybil `nth` grinds toward, and how many bits.
pub fn grind_target(s: &Scenario, nth: u32) -> Option<(Key, u32)> {
    let d = spec(s)?;
    let keys = target_keys(s, d);
    let key = *keys.get((nth / d.per_key.max(1)) as usize)?;
    Some((key, d.grind_bits.unwrap_or_else(|| default_bits(s))))
}

/// ceil(log2(planned nodes)) + 3: an id sharing that prefix with the key is
/// closer to it than any honest node with probability about 1 − 1/8.
fn default_bits(s: &Scenario) -> u32 {
    let p = &s.population;
    let n = u64::from(p.relays + p.ghosts + p.gpus + p.mints + p.clients) + 1;
    64 - (n - 1).leading_zeros() + 3
}

/// Arms every DHT Sybil with the attack: its accomplices are the other DHT
/// Sybils, and it serves the adverts of every node the adversary runs.
pub fn arm(s: &Scenario, hosts: &mut [Host]) {
    let Some(d) = spec(s) else {
        return;
    };
    let serve: HashSet<_> = hosts
        .iter()
        .filter(|h| h.slot.adversarial)
        .map(|h| h.node.identity().node_id())
        .collect();
    let accomplices: Vec<Contact> = hosts
        .iter()
        .filter(|h| h.slot.kind == Kind::DhtSybil)
        .map(|h| h.node.dht().me())
        .collect();
    for h in hosts.iter_mut().filter(|h| h.slot.kind == Kind::DhtSybil) {
        let dht = h.node.dangerous_dht();
        match d.kind {
            DhtAttackKind::Eclipse => dht.dangerous_eclipse(accomplices.clone(), serve.clone()),
            DhtAttackKind::Poison => dht.dangerous_poison(serve.clone()),
        }
    }
}
