//! See benches/per_hop.rs.
