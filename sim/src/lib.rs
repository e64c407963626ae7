//! The Peer2Prompt testbed's simulator: real protocol nodes on a simulated
//! Internet in virtual time, under a configurable adversary.
//!
//! - [`queue`]: the discrete-event queue, totally ordered by (time, tie);
//!   [`calendar`]: the hosts' queue in buckets one window wide.
//! - [`rng`]: random streams derived from (seed, entity, purpose).
//! - [`topology`], [`network`]: regions, ASes and prefixes; delay and loss.
//! - [`population`], [`workload`]: who takes part and what clients ask;
//!   [`baseline`]: the LLM-Tor and direct-API roles for `system:` baselines.
//! - [`adversary`]: which nodes the adversary runs, its pooled observations,
//!   its entry–exit matcher, the mint-exit attacker and passive observers
//!   with their correlation attacker; [`observer_scoring`] labels the
//!   observers' pairs with ground truth.
//! - [`economics`]: the Ghost market's building blocks (calibrated output
//!   lengths, logit choice, pricing).
//! - [`engine`]: host queue, hosts, delivery and timers; [`window`]: the
//!   hosts' events of one lookahead window, in parallel; [`world`]: the engine
//!   with the [`drivers`] (conversations, Lightning, churn), the watchers
//!   and the [`checks`]; [`sessions`], [`truth`]: ground truth for scoring
//!   only; [`scoring`]: attackers' decisions joined to it; [`run`]: one
//!   replicate to records.
//! - [`scenario`]: YAML scenarios, sweeps and their JSON Schema.
//! - [`record`]: the typed rows a run emits.
//!
//! The crate knows nothing of files' formats beyond YAML scenarios, nothing
//! of dataframes and nothing of plots (analysis does).

pub mod adversary;
pub mod audit;
pub mod baseline;
pub mod calendar;
pub mod checks;
pub mod drivers;
pub mod economics;
pub mod engine;
pub mod exposure;
pub mod ledger;
pub mod network;
pub mod observer_scoring;
pub mod population;
pub mod profiles;
pub mod queue;
pub mod record;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod scoring;
pub mod sessions;
pub mod swarm;
pub mod topology;
pub mod truth;
pub mod vantage;
pub mod views;
pub mod watchers;
pub mod window;
pub mod workload;
pub mod world;
