//! Network addresses and outgoing datagrams as the protocol sees them.
//!
//! Nodes are addressed by socket address, as they would be over real sockets;
//! the simulator assigns IPv4 addresses from the prefixes of its network model.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The address a message came from or goes to.
pub type PeerAddr = SocketAddr;

/// Bytes to send to one peer: every engine's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where the datagram goes.
    pub to: PeerAddr,
    /// The message.
    pub bytes: Vec<u8>,
}

/// Pops an engine's output queue, and frees it once a burst has drained:
/// an idle node then holds no queue room (issue 21: memory per node).
pub(crate) fn pop_drained<T>(queue: &mut std::collections::VecDeque<T>) -> Option<T> {
    let item = queue.pop_front();
    if queue.is_empty() && queue.capacity() > DRAINED_ROOM {
        *queue = std::collections::VecDeque::new();
    }
    item
}

/// Queue room kept when a queue drains (more is freed).
const DRAINED_ROOM: usize = 16;

/// Gives back most of a map's table once a burst has left it mostly empty
/// (issue 21). Map order is never observed, so this changes no decision.
pub(crate) fn shrink_sparse<K: Eq + std::hash::Hash, V>(map: &mut std::collections::HashMap<K, V>) {
    if map.capacity() > 4 * map.len() + 16 {
        map.shrink_to(2 * map.len());
    }
}

/// Bytes of an encoded socket address: family (4 or 6), 16-byte IP (IPv4 in
/// the first four), port. Used by every wire format that names a peer.
pub const ADDR_LEN: usize = 19;

/// Encodes `addr` in [`ADDR_LEN`] bytes.
pub fn encode_addr(addr: SocketAddr) -> [u8; ADDR_LEN] {
    let mut out = [0u8; ADDR_LEN];
    match addr.ip() {
        IpAddr::V4(v4) => {
            out[0] = 4;
            out[1..5].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out[0] = 6;
            out[1..17].copy_from_slice(&v6.octets());
        }
    }
    out[17..].copy_from_slice(&addr.port().to_be_bytes());
    out
}

/// Decodes [`encode_addr`]'s bytes; `None` for a short input, an unknown
/// family, or an IPv4 address whose unused bytes are not zero (one value has
/// one encoding). Bytes past [`ADDR_LEN`] are ignored.
pub fn decode_addr(b: &[u8]) -> Option<SocketAddr> {
    let b = b.get(..ADDR_LEN)?;
    let ip = match b[0] {
        4 if b[5..17].iter().all(|x| *x == 0) => IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4])),
        6 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[1..17]);
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, u16::from_be_bytes([b[17], b[18]])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_drained_burst_gives_its_room_back() {
        let mut q: std::collections::VecDeque<u32> = (0..100).collect();
        assert!(q.capacity() >= 100);
        for i in 0..100 {
            assert_eq!(pop_drained(&mut q), Some(i));
        }
        assert_eq!(q.capacity(), 0);
        assert_eq!(pop_drained(&mut q), None);
        let mut small: std::collections::VecDeque<u32> = (0..4).collect();
        let room = small.capacity();
        while pop_drained(&mut small).is_some() {}
        assert_eq!(small.capacity(), room);
    }

    #[test]
    fn an_ipv4_address_has_one_encoding() {
        // Found by fuzzing (reply_block): padding bytes were ignored, so one
        // reply block had many encodings.
        let mut b = encode_addr(SocketAddr::from(([10, 1, 0, 1], 9000)));
        assert!(decode_addr(&b).is_some());
        b[16] = 250;
        assert_eq!(decode_addr(&b), None);
    }

    proptest! {
        #[test]
        fn addresses_round_trip(v4 in any::<[u8; 4]>(), v6 in any::<[u8; 16]>(), port in any::<u16>()) {
            for a in [SocketAddr::from((v4, port)), SocketAddr::from((Ipv6Addr::from(v6), port))] {
                prop_assert_eq!(decode_addr(&encode_addr(a)), Some(a));
            }
        }

        #[test]
        fn decoding_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_addr(&b);
        }
    }
}
