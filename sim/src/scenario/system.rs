//! Which system a network scenario runs (issue 19; whitepaper "Attack
//! Economics", "Comparison to centralized breach"): Peer2Prompt itself, or
//! one of the seeds' baselines on the same workload, network, observers
//! and Sybil relays.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The system under test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// Peer2Prompt: relays, Ghosts and GPU nodes, mints.
    #[default]
    Peer2prompt,
    /// LLM-Tor (seed `004`): one proxy selling blind tokens, reached
    /// through three relays; the population's Ghosts, GPU nodes and mints
    /// are not built.
    LlmTor,
    /// The provider's API called directly with an account; relays stay in
    /// the network (they carry nothing of the clients').
    Direct,
}

impl System {
    /// The name in datasets.
    pub fn name(self) -> &'static str {
        match self {
            System::Peer2prompt => "peer2prompt",
            System::LlmTor => "llm_tor",
            System::Direct => "direct",
        }
    }

    /// A baseline: one operator instead of Peer2Prompt's services and mints.
    pub fn is_baseline(self) -> bool {
        self != System::Peer2prompt
    }
}

/// LLM-Tor's client policy (seed `004`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LlmTorSpec {
    /// Credits bought, and tokens issued, at once when none is left. Few
    /// per purchase put each purchase right before a redemption.
    pub tokens_per_purchase: u32,
    /// How long a circuit carries new prompts, s (Tor's
    /// `MaxCircuitDirtiness`, ten minutes).
    pub circuit_lifetime_s: f64,
}

impl Default for LlmTorSpec {
    fn default() -> Self {
        LlmTorSpec {
            tokens_per_purchase: 20,
            circuit_lifetime_s: 600.0,
        }
    }
}
