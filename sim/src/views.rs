//! What each client's directory held at the end of a run (whitepaper "DHT
//! Sybil and Eclipse Attacks"): its relay and service adverts and how many
//! of them are the adversary's. Ground truth (which nodes the adversary
//! runs) is used here only to score; kept when the scenario has Sybils.

use std::collections::HashSet;

use peer2prompt::dht::Role;
use peer2prompt::identity::NodeId;
use serde::{Deserialize, Serialize};

use crate::engine::Host;
use crate::population::Kind;

/// One client's directory view.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryView {
    /// Client node index.
    pub client: u32,
    /// Relay adverts it holds.
    pub relays: u32,
    /// Of which the adversary's.
    pub adversarial_relays: u32,
    /// Ghost and GPU adverts it holds.
    pub services: u32,
    /// Of which the adversary's.
    pub adversarial_services: u32,
}

impl DirectoryView {
    /// The adversary's share of the relays in view (0 with none in view).
    pub fn relay_share(&self) -> f64 {
        f64::from(self.adversarial_relays) / f64::from(self.relays.max(1))
    }

    /// The adversary's share of the services in view (0 with none in view).
    pub fn service_share(&self) -> f64 {
        f64::from(self.adversarial_services) / f64::from(self.services.max(1))
    }
}

/// Every client's view, in host order.
pub fn records(hosts: &[Host]) -> Vec<DirectoryView> {
    let adversarial: HashSet<NodeId> = hosts
        .iter()
        .filter(|h| h.slot.adversarial)
        .map(|h| h.node.identity().node_id())
        .collect();
    let count = |h: &Host, roles: &[Role]| {
        let (mut all, mut bad) = (0u32, 0u32);
        for role in roles {
            for a in h.node.directory().adverts(*role) {
                all += 1;
                bad += u32::from(adversarial.contains(&a.node()));
            }
        }
        (all, bad)
    };
    hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| h.slot.kind == Kind::Client)
        .map(|(i, h)| {
            let (relays, adversarial_relays) = count(h, &[Role::Relay]);
            let (services, adversarial_services) = count(h, &[Role::Ghost, Role::Gpu]);
            DirectoryView {
                client: i as u32,
                relays,
                adversarial_relays,
                services,
                adversarial_services,
            }
        })
        .collect()
}
