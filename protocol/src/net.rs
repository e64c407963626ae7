//! Network addresses as the protocol sees them.
//!
//! Nodes are addressed by socket address, as they would be over real sockets;
//! the simulator assigns IPv4 addresses from the prefixes of its network model.

/// The address a message came from or goes to.
pub type PeerAddr = std::net::SocketAddr;
