//! What drives the nodes from outside the protocol, each with its own
//! random stream: the workload's conversations, Lightning for the mints,
//! and churn. They decide when things happen to nodes (a conversation
//! arrives, a relay leaves), never what a node does about it.

pub mod churn;
pub mod conversations;
pub mod lightning;
