//! # peer2prompt-sim
//!
//! The deterministic, virtual-time network simulator that will drive the real
//! `peer2prompt` protocol nodes (see `ARCHITECTURE.md`).
//!
//! **Status:** empty on purpose. The event engine, network model, adversaries
//! and scenario schema arrive with the simulator issue; until then this crate
//! exports nothing, so that nothing can pretend to simulate.
