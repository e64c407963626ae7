//! Ghost-market economics (whitepaper "Ghost Node Unit Economics", "GPU Node
//! Competition", "Why Users Pay"): the pieces the agent-based market is
//! built from.
//!
//! - [`lengths`]: heavy-tailed output lengths calibrated to published trace
//!   statistics (mean, median, P90, P99, max).
//! - [`choice`]: clients choosing among quoted offers by multinomial logit.
//! - [`demand`]: diurnal job arrivals and willingness to pay a premium.
//! - [`pricing`]: markups over the protocol's prices and cost models, and
//!   the whitepaper's worked example.
//! - [`ghost`]: a Ghost agent's strategies (fixed markup, cost-plus,
//!   utilisation-adaptive, undercutting), other costs, account-ban hazard
//!   and exit by trailing profit.
//! - [`gpu`]: GPU nodes' hardware economics and the open-model quality
//!   phases (API-dominant, hybrid, inference-dominant).
//! - [`rail`]: jobs paid through the protocol's quotes, prepaid-chunk
//!   meters and ecash at a real mint (the long-horizon fidelity level).
//! - [`market`]: the market day by day (a first version: quotes, logit
//!   choice within willingness to pay, jobs on the rail, Ghost exits).
//!
//! Issue 9 is in progress: entry, the onion-routed equivalence run,
//! subsidized adversarial Ghosts and the datasets are not built yet.

pub mod carrier;
pub mod choice;
pub mod demand;
pub mod ghost;
pub mod gpu;
pub mod lengths;
pub mod market;
pub mod pricing;
pub mod rail;
pub mod reference;
