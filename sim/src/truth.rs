//! Engine-side ground truth for scoring (ARCHITECTURE.md, "nodes report
//! what they see"): which session each service-side flow belongs to.
//!
//! A client reports the `Y`s of the first payment of each turn when it
//! sends it (`ClientEvent::Paid`, an event of the client's driver, not an
//! observation); the service reports the same `Y`s when the request
//! arrives on one of its onion sessions. Joining the two gives the table
//! (service node, its session handle) -> session row. The table lives in
//! the engine and goes only to the scorer: no attacker, pool or observer
//! ever reads it, and prompts carry no marker.

use std::collections::HashMap;

use peer2prompt::baselines::llm_tor::TokenId;
use secp256k1::PublicKey;

/// A service-side flow: (service node, that node's onion session handle).
pub type ServiceFlow = (u32, u32);

/// The join of clients' payments and services' requests.
#[derive(Debug, Default)]
pub struct GroundTruth {
    /// First `Y` of a turn's first payment -> session row, until the
    /// service reports it.
    in_flight: HashMap<[u8; 33], usize>,
    /// Service flow -> session row.
    flows: HashMap<ServiceFlow, usize>,
    /// Session row -> requests on its flow that another row paid for.
    foreign: HashMap<usize, u32>,
    /// LLM-Tor: token redeemed -> the proxy's flow it came on.
    redeemed: HashMap<TokenId, ServiceFlow>,
}

impl GroundTruth {
    /// Session `row`'s client sent the first payment of a turn, `ys`.
    pub fn paid(&mut self, row: usize, ys: &[PublicKey]) {
        if let Some(y) = ys.first() {
            self.in_flight.insert(y.serialize(), row);
        }
    }

    /// Service `node` received a request on its session `handle`, paid
    /// with `ys`.
    pub fn requested(&mut self, node: u32, handle: u32, ys: &[PublicKey]) {
        let row = ys
            .iter()
            .find_map(|y| self.in_flight.remove(&y.serialize()));
        if let Some(row) = row {
            let first = *self.flows.entry((node, handle)).or_insert(row);
            if first != row {
                *self.foreign.entry(first).or_default() += 1;
            }
        }
    }

    /// The LLM-Tor proxy `node` saw `token` redeemed on its session `handle`.
    pub fn redeemed(&mut self, node: u32, handle: u32, token: TokenId) {
        self.redeemed.insert(token, (node, handle));
    }

    /// Session `row`'s client finished a turn paid with `token`: the flow
    /// it was redeemed on belongs to the row (the first row claims it).
    pub fn token_spent(&mut self, row: usize, token: &TokenId) {
        if let Some(flow) = self.redeemed.remove(token) {
            self.flows.entry(flow).or_insert(row);
        }
    }

    /// Requests that arrived on session `row`'s service-side flow but were
    /// paid for by another session.
    pub fn foreign_requests(&self, row: usize) -> u32 {
        self.foreign.get(&row).copied().unwrap_or(0)
    }

    /// Permutes which session row each flow maps to, by `seed`: a run whose
    /// table is scrambled as it goes must see every attacker act exactly as
    /// before (`sim/tests/selective_dos.rs`), since none reads this table.
    pub fn shuffle_labels(&mut self, seed: u64) {
        let mut flows: Vec<ServiceFlow> = self.flows.keys().copied().collect();
        flows.sort_unstable();
        let mut rows: Vec<usize> = flows.iter().map(|f| self.flows[f]).collect();
        let mut rng = crate::rng::Streams::new(seed)
            .stream(crate::rng::entity::WORLD, crate::rng::Purpose::Guessing);
        for i in (1..rows.len()).rev() {
            rows.swap(i, crate::rng::index(&mut rng, i + 1));
        }
        self.flows = flows.into_iter().zip(rows).collect();
    }

    /// The session row of a service-side flow, if its request arrived.
    pub fn row_of(&self, flow: ServiceFlow) -> Option<usize> {
        self.flows.get(&flow).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secp256k1::SecretKey;

    fn y(i: u8) -> PublicKey {
        let s = SecretKey::from_secret_bytes([i; 32]).expect("valid key");
        PublicKey::from_secret_key(&s)
    }

    #[test]
    fn a_flow_maps_to_the_session_whose_payment_it_carried() {
        let mut t = GroundTruth::default();
        t.paid(4, &[y(1), y(2)]);
        t.paid(7, &[y(3)]);
        // The service sees the proofs in another order.
        t.requested(9, 1, &[y(2), y(1)]);
        t.requested(9, 2, &[y(3)]);
        assert_eq!(t.row_of((9, 1)), Some(4));
        assert_eq!(t.row_of((9, 2)), Some(7));
        // A later turn on the same flow keeps the first mapping.
        t.paid(8, &[y(5)]);
        t.requested(9, 1, &[y(5)]);
        assert_eq!(t.row_of((9, 1)), Some(4));
        // Unknown payments map nothing.
        t.requested(9, 3, &[y(6)]);
        assert_eq!(t.row_of((9, 3)), None);
    }
}
