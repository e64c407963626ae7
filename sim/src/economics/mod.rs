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
//! - [`rail`]: jobs paid through the protocol's payment engine, quotes,
//!   prepaid-chunk meters and ecash at a real mint (the long-horizon
//!   fidelity level), and [`carrier`]: the same jobs over real onion
//!   circuits (full fidelity).
//! - [`market`]: the market day by day, a `Market` with one method per
//!   phase (price, arrivals and choice, settle, close, entry), signed
//!   quotes under each agent's identity, every draw from the run's streams.

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
