//! One module per claim of the reproduction set (scenarios/whitepaper/),
//! each a function from the run's datasets to its [`Section`]. They share
//! helpers through `report::common` and never import each other; the
//! threat-tiers summary reads the finished sections.

use super::{Run, Section};

pub mod bandwidth;
pub mod baselines;
pub mod blanket;
pub mod combined;
pub mod compartments;
pub mod dht_eclipse;
pub mod double_spend;
pub mod ghost_profits;
pub mod guard_rotation;
pub mod guards;
pub mod heavy_tails;
pub mod high_latency;
pub mod key_tagging;
pub mod latency;
pub mod link_probability;
pub mod local_observer;
pub mod margins;
pub mod mint_exit;
pub mod observers;
pub mod phases;
pub mod profiles;
pub mod selective_dos;
pub mod sessions_n;
pub mod subsidized;
pub mod sybil;
pub mod tiers;
pub mod verified_inference;
pub mod visibility;

/// The claims, in report order (the tiers summary follows them).
pub const REGISTRY: &[fn(&Run) -> Section] = &[
    visibility::section,
    link_probability::section,
    combined::section,
    sessions_n::section,
    guards::section,
    guard_rotation::section,
    sybil::section,
    blanket::section,
    baselines::section,
    profiles::section,
    dht_eclipse::section,
    latency::section,
    mint_exit::section,
    local_observer::section,
    observers::section,
    high_latency::section,
    key_tagging::section,
    margins::section,
    heavy_tails::section,
    ghost_profits::section,
    phases::section,
    subsidized::section,
    selective_dos::section,
    bandwidth::section,
    double_spend::section,
    verified_inference::section,
    compartments::section,
];
