//! Injected faults: peers that misbehave without an attack strategy, and
//! mints that go away (ARCHITECTURE.md, "Robustness"; whitepaper "Mint
//! Trust and Federation": mints can fail operationally; "Malicious Service
//! Nodes"). Swarm testing draws them; any scenario may set them. Each
//! fault applies to the first `count` nodes of its kind, by index.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Probability;

/// Faults of one scenario (none by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSpec {
    /// Relays that drop and delay cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lossy_relays: Option<LossyRelays>,
    /// Services that overbill or take payment and go silent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cheating_services: Option<CheatingServices>,
    /// Services that serve a cheaper model than they advertise (model
    /// substitution; seed 003's threat, whitepaper "Malicious Service
    /// Nodes").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substituting_services: Option<SubstitutingServices>,
    /// Mints that refuse every swap and melt (ecash cannot be redeemed).
    pub refusing_mints: u32,
    /// Clients that take every payment back at once (double spenders).
    pub double_spenders: u32,
    /// Mint outages: the mint answers nothing while down.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mint_outages: Vec<MintOutage>,
}

impl FaultSpec {
    /// Whether no fault is set.
    pub fn is_empty(&self) -> bool {
        *self == FaultSpec::default()
    }
}

/// Relays that drop a share of their cells and hold the rest longer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LossyRelays {
    /// How many.
    pub count: u32,
    /// Cells dropped, parts per million.
    #[serde(default)]
    pub drop_ppm: u32,
    /// Extra delay on every cell, ms.
    #[serde(default)]
    pub extra_delay_ms: f64,
}

/// Services that cheat their clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheatingServices {
    /// How many (Ghosts first, then GPU nodes).
    pub count: u32,
    /// Claims this many parts per million of true usage (1,200,000: +20%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overbill_ppm: Option<u64>,
    /// Takes payment, then sends nothing back.
    #[serde(default)]
    pub drop_replies: bool,
}

/// Services serving a cheaper model than the one they advertise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubstitutingServices {
    /// How many (Ghosts first, then GPU nodes).
    pub count: u32,
    /// Per-step probability that the cheaper model's quantized logits
    /// differ from the advertised model's: an assumption of the scenario,
    /// not a measured property of any model pair.
    pub p_diff: Probability,
}

/// One mint outage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MintOutage {
    /// Which mint (index).
    pub mint: u32,
    /// When it goes down, s after the measured period starts.
    pub at_s: f64,
    /// How long it stays down, s.
    pub for_s: f64,
}
