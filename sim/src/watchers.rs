//! Watchers (ARCHITECTURE.md, "The engine is thin"): what sees every
//! observation a node reports and never acts on a node. The visibility
//! audit (whitepaper "Visibility Matrix"), the adversary's pool (what its
//! own nodes saw, "Threat Model") and the ground truth used only to score.

use peer2prompt::baselines::llm_tor::OperatorSaw;
use peer2prompt::node::Observation;

use crate::adversary::pool::Pool;
use crate::audit::VisibilityAudit;
use crate::truth::GroundTruth;

/// Something that sees every observation a node reports, and never acts
/// on a node: the audit, the adversary's pool, the ground truth.
pub trait Watcher {
    /// Node `node` (adversarial or not) observed `o`.
    fn observed(&mut self, node: u32, adversarial: bool, o: &Observation);
}

impl Watcher for VisibilityAudit {
    fn observed(&mut self, node: u32, _: bool, o: &Observation) {
        if self.active() {
            self.observe(node, o);
        }
    }
}

impl Watcher for GroundTruth {
    fn observed(&mut self, node: u32, _: bool, o: &Observation) {
        match o {
            Observation::ServiceRequest {
                session, payment, ..
            } => self.requested(node, *session, payment),
            Observation::LlmTorOperator(op) => {
                if let OperatorSaw::Redemption {
                    circuit: Some(handle),
                    token,
                    ..
                } = &op.seen
                {
                    self.redeemed(node, *handle, *token);
                }
            }
            _ => {}
        }
    }
}

impl Watcher for Pool {
    fn observed(&mut self, node: u32, adversarial: bool, o: &Observation) {
        if adversarial {
            self.observe(node, o);
        }
    }
}
