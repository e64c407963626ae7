//! Network addresses and outgoing datagrams as the protocol sees them.
//!
//! Nodes are addressed by socket address, as they would be over real sockets;
//! the simulator assigns IPv4 addresses from the prefixes of its network model.

/// The address a message came from or goes to.
pub type PeerAddr = std::net::SocketAddr;

/// Bytes to send to one peer: every engine's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: PeerAddr,
    /// The message.
    pub bytes: Vec<u8>,
}
