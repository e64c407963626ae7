//! Choosing exits by their advertised prices (whitepaper "GPU Node
//! Competition": "Clients choose by utility: Quality (model capability).
//! Latency and reliability. Price."; "Malicious Service Nodes":
//! "Pre-declared signed pricing").
//!
//! The prices sit behind each service's advert commitment. A client that
//! chooses by price fetches every service's capabilities over the DHT's
//! encrypted request/response ([`crate::dht::capability`]), checks them
//! against the commitment (the DHT does), and weights each exit by a
//! multinomial logit of what a reference job would cost there:
//! `exp(-per_msat × price)`. Exits whose prices it could not learn are
//! left out once any price is known. Nothing here comes from the driver:
//! the weights follow from what the client fetched.

use std::collections::{BTreeMap, BTreeSet};

use super::service::ServiceCapabilities;
use crate::dht::{Advert, Dht, Role};
use crate::identity::{Epoch, NodeId};
use crate::onion::route::{Candidate, ExitScorer};
use crate::time::Instant;

/// How a client weighs prices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceChoice {
    /// The reference job's prompt tokens.
    pub job_input_tokens: u64,
    /// The reference job's output tokens.
    pub job_output_tokens: u64,
    /// Utility lost per millisatoshi of the reference job's price.
    pub per_msat: f64,
}

/// What a client learned of the services' prices this epoch.
#[derive(Debug)]
pub(crate) struct ExitPrices {
    choice: PriceChoice,
    model: String,
    epoch: Option<Epoch>,
    pending: BTreeSet<NodeId>,
    /// The reference job's price at each service, msat.
    prices: BTreeMap<NodeId, u64>,
    /// Every model each service offers, from its verified capabilities.
    offered: BTreeMap<NodeId, Vec<String>>,
}

impl ExitPrices {
    pub fn new(choice: PriceChoice, model: String) -> Self {
        ExitPrices {
            choice,
            model,
            epoch: None,
            pending: BTreeSet::new(),
            prices: BTreeMap::new(),
            offered: BTreeMap::new(),
        }
    }

    /// Fetches the capabilities of every service advert of `epoch` not
    /// fetched yet (a new epoch starts over: adverts and keys rotate).
    pub fn on_directory<'a>(
        &mut self,
        now: Instant,
        epoch: Epoch,
        dht: &mut Dht,
        adverts: impl Iterator<Item = &'a Advert>,
    ) {
        if self.epoch != Some(epoch) {
            self.epoch = Some(epoch);
            self.pending.clear();
            self.prices.clear();
            self.offered.clear();
        }
        for a in adverts.filter(|a| matches!(a.role, Role::Ghost | Role::Gpu)) {
            let node = a.node();
            if self.prices.contains_key(&node) || self.pending.contains(&node) {
                continue;
            }
            match dht.fetch_capabilities(now, a) {
                Ok(()) => {
                    self.pending.insert(node);
                }
                Err(e) => tracing::debug!("capabilities not fetched: {e}"),
            }
        }
    }

    /// A fetch finished: `capabilities` verified against the commitment,
    /// or `None` if it failed.
    pub fn on_capabilities(&mut self, node: NodeId, capabilities: Option<&[u8]>) {
        if !self.pending.remove(&node) {
            return;
        }
        let caps = capabilities.and_then(|b| postcard::from_bytes::<ServiceCapabilities>(b).ok());
        if let Some(c) = &caps {
            let models = c.offers.iter().map(|o| o.model.clone()).collect();
            self.offered.insert(node, models);
        }
        let offer = caps
            .as_ref()
            .and_then(|c| c.offers.iter().find(|o| o.model == self.model));
        if let Some(o) = offer {
            let price = o
                .input
                .cost_msat(self.choice.job_input_tokens)
                .saturating_add(o.output.cost_msat(self.choice.job_output_tokens));
            self.prices.insert(node, price);
        }
    }

    /// The models the services of this epoch offer, from their verified
    /// capabilities, each once.
    pub fn offered_models(&self) -> BTreeSet<String> {
        self.offered.values().flatten().cloned().collect()
    }

    /// True while fetches are outstanding (sessions wait for the answers,
    /// so that the first choice already weighs every price).
    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The scorer for exit selection now.
    pub fn scorer(&self) -> LogitPrices<'_> {
        let cheapest = self.prices.values().copied().min().unwrap_or(0);
        LogitPrices {
            prices: &self.prices,
            cheapest,
            per_msat: self.choice.per_msat,
        }
    }
}

/// Logit weights over the known prices (relative to the cheapest, which
/// leaves the shares unchanged and keeps `exp` finite).
#[derive(Debug)]
pub(crate) struct LogitPrices<'a> {
    prices: &'a BTreeMap<NodeId, u64>,
    cheapest: u64,
    per_msat: f64,
}

impl ExitScorer for LogitPrices<'_> {
    fn weight(&self, exit: &Candidate) -> f64 {
        if self.prices.is_empty() {
            return 1.0;
        }
        match self.prices.get(&exit.node) {
            Some(&p) => (-self.per_msat * (p - self.cheapest) as f64).exp(),
            None => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::Price;
    use crate::node::{Offer, ServiceKind};

    fn caps(model: &str, msat_per_mtok: u64) -> Vec<u8> {
        postcard::to_allocvec(&ServiceCapabilities {
            kind: ServiceKind::Ghost,
            offers: vec![Offer {
                model: model.into(),
                input: Price { msat_per_mtok },
                output: Price { msat_per_mtok },
                max_output_tokens: 100,
                chunk_msat: 1000,
            }],
        })
        .expect("encodes")
    }

    fn candidate(i: u8) -> Candidate {
        Candidate {
            node: NodeId([i; 32]),
            addr: std::net::SocketAddr::from(([10, 0, 0, i], 1)),
            asn: 1,
            family: None,
            bandwidth: 1,
            onion_key: [0; 32],
        }
    }

    #[test]
    fn cheaper_exits_weigh_more_and_unpriced_ones_are_left_out() {
        let choice = PriceChoice {
            job_input_tokens: 1_000_000,
            job_output_tokens: 0,
            per_msat: 0.001,
        };
        let mut p = ExitPrices::new(choice, "m".into());
        for i in 1..=4 {
            p.pending.insert(NodeId([i; 32]));
        }
        // Before any answer every exit is equally likely.
        assert_eq!(p.scorer().weight(&candidate(1)), 1.0);
        assert!(p.waiting());
        p.on_capabilities(NodeId([1; 32]), Some(&caps("m", 2000)));
        p.on_capabilities(NodeId([2; 32]), Some(&caps("m", 1000)));
        p.on_capabilities(NodeId([3; 32]), Some(&caps("other", 10)));
        p.on_capabilities(NodeId([4; 32]), None);
        assert!(!p.waiting());
        let s = p.scorer();
        // 1,000 msat dearer at 0.001 per msat: e^-1 of the cheapest's weight.
        assert!((s.weight(&candidate(1)) - (-1.0f64).exp()).abs() < 1e-12);
        assert_eq!(s.weight(&candidate(2)), 1.0);
        assert_eq!(s.weight(&candidate(3)), 0.0, "offers another model");
        assert_eq!(s.weight(&candidate(4)), 0.0, "fetch failed");
        // Unasked answers are ignored.
        p.on_capabilities(NodeId([9; 32]), Some(&caps("m", 1)));
        assert_eq!(p.prices.len(), 2);
    }
}
