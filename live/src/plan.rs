//! What a live network is made of: the scenario schema's population and
//! protocol parts (from flags or a YAML file), where the nodes listen,
//! the upstreams, and how much the clients are funded with.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use peer2prompt_sim::scenario::{Scenario, ScenarioError, load_file, load_str};

use crate::upstream::UpstreamConfig;

/// Most nodes the loopback address plan gives distinct /16s to.
pub const MAX_LOOPBACK_NODES: usize = 250;

/// A live network's plan.
#[derive(Clone, Debug)]
pub struct LiveSpec {
    /// Population, protocol and workload (model, output cap) parts of the
    /// scenario schema; the simulated network, adversary and sweeps are
    /// not used live.
    pub scenario: Scenario,
    /// Where the OpenAI-compatible entrance listens.
    pub listen: SocketAddr,
    /// The Ghosts' upstream (a provider); `None`: the simulated provider.
    pub ghost_upstream: Option<UpstreamConfig>,
    /// The GPU nodes' upstream (a local model server); `None`: simulated.
    pub gpu_upstream: Option<UpstreamConfig>,
    /// Each client's wallet is funded with this much at start, sat.
    pub fund_sat: u64,
}

/// Node counts (the `live up` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Onion relays.
    pub relays: u32,
    /// Ghost nodes.
    pub ghosts: u32,
    /// GPU nodes.
    pub gpus: u32,
    /// Mints.
    pub mints: u32,
    /// Clients (each an entrance slot).
    pub clients: u32,
}

/// The default live scenario: the schema's defaults, named `live`.
const DEFAULT_SCENARIO: &str = "name: live
description: The live network's defaults (p2psim live up).
seed: 1
population: {relays: 8, ghosts: 2, gpus: 1, mints: 1, clients: 1}
workload:
  # The simulated workload fields are required by the schema; live, the
  # requests come from the entrance and only the provider's output length
  # (output_tokens) and the per-turn cap are used.
  duration_s: 3600
  sessions_per_client_per_hour: 1
  prompt_tokens: {kind: log_normal, median: 1020, sigma: 0.8}
  turns_per_session: 8
  output_tokens: {kind: log_normal, median: 129, sigma: 0.88}
protocol:
  relays_per_route: 3
";

impl LiveSpec {
    /// A plan from the scenario at `config` (or the defaults) with `counts`
    /// applied where given.
    pub fn new(
        config: Option<&Path>,
        counts: impl FnOnce(&mut Counts),
        listen: SocketAddr,
    ) -> Result<Self, ScenarioError> {
        let loaded = match config {
            Some(p) => load_file(p)?,
            None => load_str(Path::new("(built-in live scenario)"), DEFAULT_SCENARIO)?,
        };
        if !loaded.base.fidelity.is_full() {
            return Err(loaded.field_error(
                "fidelity".into(),
                "the live driver runs real cryptography only; \
                 `elide_crypto` is for simulation"
                    .into(),
            ));
        }
        let mut scenario = loaded.base;
        let p = &mut scenario.population;
        let mut c = Counts {
            relays: p.relays,
            ghosts: p.ghosts,
            gpus: p.gpus,
            mints: p.mints,
            clients: p.clients,
        };
        counts(&mut c);
        check_counts(&c)?;
        (p.relays, p.ghosts, p.gpus, p.mints, p.clients) =
            (c.relays, c.ghosts, c.gpus, c.mints, c.clients);
        let fund_sat = scenario.workload.funding_sat;
        Ok(LiveSpec {
            scenario,
            listen,
            ghost_upstream: None,
            gpu_upstream: None,
            fund_sat,
        })
    }

    /// The model the services offer and the clients ask for: the Ghosts'
    /// upstream's first, else the GPU nodes', else the scenario's.
    pub fn model(&self) -> String {
        [&self.ghost_upstream, &self.gpu_upstream]
            .into_iter()
            .flatten()
            .find_map(|u| u.models.first().cloned())
            .unwrap_or_else(|| self.scenario.workload.model.clone())
    }

    /// Every node planned.
    pub fn node_count(&self) -> usize {
        let p = &self.scenario.population;
        [p.relays, p.ghosts, p.gpus, p.mints, p.clients]
            .iter()
            .map(|&n| n as usize)
            .sum()
    }
}

/// The address node `i` binds: `127.(i+2).0.1`, its own /16 on loopback,
/// so that route diversity (distinct /16s per hop) holds and each node's
/// traffic is told apart by address alone.
pub fn loopback_addr(i: usize) -> Option<IpAddr> {
    (i < MAX_LOOPBACK_NODES).then(|| IpAddr::V4(Ipv4Addr::new(127, (i + 2) as u8, 0, 1)))
}

/// A live network needs a relay to join through, a mint, a service and a
/// client behind the entrance.
fn check_counts(c: &Counts) -> Result<(), ScenarioError> {
    let bad = |path: &str, message: &str| {
        Err(ScenarioError::Field {
            file: "(command line)".into(),
            line: 0,
            column: 0,
            path: path.to_owned(),
            message: message.to_owned(),
        })
    };
    if c.relays == 0 {
        return bad(
            "--relays",
            "at least 1 relay is needed to join the DHT through",
        );
    }
    if c.mints == 0 {
        return bad("--mints", "at least 1 mint is needed to pay with");
    }
    if c.ghosts + c.gpus == 0 {
        return bad(
            "--ghosts",
            "at least 1 Ghost or GPU node is needed to answer",
        );
    }
    if c.clients == 0 {
        return bad(
            "--clients",
            "at least 1 client is needed behind the entrance",
        );
    }
    Ok(())
}
