//! Ghost-market economics (whitepaper "Ghost Node Unit Economics", "GPU Node
//! Competition", "Why Users Pay"): the pieces the agent-based market is
//! built from.
//!
//! - [`lengths`]: heavy-tailed output lengths calibrated to published trace
//!   statistics (mean, median, P90, P99, max).
//! - [`choice`]: clients choosing among quoted offers by multinomial logit.
//! - [`pricing`]: Ghost pricing strategies over the protocol's prices and
//!   cost models, and the whitepaper's worked example.
//!
//! The market itself (agents, days, entry and exit) is not built yet
//! (issue 9, in progress).

pub mod choice;
pub mod lengths;
pub mod pricing;
