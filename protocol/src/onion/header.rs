//! The per-layer header sealed in each slot (whitepaper "Cryptographic Packet
//! Sketch": each layer carries its nonce and associated data; at each hop,
//! verify expiry and replay window, learn only the next hop).

use std::net::SocketAddr;

use super::OnionError;
use super::cell::SLOT_PLAIN_LEN;
use crate::net::{ADDR_LEN, decode_addr, encode_addr};
use crate::time::Instant;

/// What a hop does with a cell after opening its layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotCmd {
    /// Pass it along the circuit to the next hop chosen when it was built.
    Forward,
    /// It is for this hop's application: open the end-to-end payload seal.
    Deliver,
    /// Extend the circuit: the payload names the next hop and its onionskin.
    Extend,
    /// A cover cell: drop it.
    Cover,
    /// A reply-block hop: pass it to the explicit next hop in this header.
    Route,
}

impl SlotCmd {
    fn code(self) -> u8 {
        match self {
            SlotCmd::Forward => 1,
            SlotCmd::Deliver => 2,
            SlotCmd::Extend => 3,
            SlotCmd::Cover => 4,
            SlotCmd::Route => 5,
        }
    }

    fn from_code(c: u8) -> Result<Self, OnionError> {
        Ok(match c {
            1 => SlotCmd::Forward,
            2 => SlotCmd::Deliver,
            3 => SlotCmd::Extend,
            4 => SlotCmd::Cover,
            5 => SlotCmd::Route,
            _ => {
                return Err(OnionError::Malformed {
                    what: "slot header",
                    reason: "unknown command",
                });
            }
        })
    }
}

/// Where a reply-block hop sends the cell next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// No explicit next hop (circuit cells).
    None,
    /// A node, and the session handle the cell is addressed to there.
    Node {
        /// Its address.
        addr: SocketAddr,
        /// Its session handle (or, for a client, its reply handle).
        handle: u32,
    },
    /// Hold the cell in this mailbox until its owner polls; `handle` is the
    /// owner's reply handle, written on the stored cell.
    Mailbox {
        /// The mailbox id (a capability known to its owner and holder).
        id: [u8; 16],
        /// The owner's reply handle.
        handle: u32,
    },
}

/// A slot's plaintext header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotHeader {
    /// The action.
    pub cmd: SlotCmd,
    /// True if `seq` is a single-use reply-block tag rather than a sequence number.
    pub surb: bool,
    /// Sequence number (replay window) or reply-block replay tag.
    pub seq: u64,
    /// The cell is refused after this instant.
    pub expiry: Instant,
    /// Explicit next hop (reply blocks only).
    pub next: NextHop,
}

const FLAG_SURB: u8 = 1;

impl SlotHeader {
    /// Serializes into the fixed slot plaintext.
    pub fn encode(&self) -> [u8; SLOT_PLAIN_LEN] {
        let mut b = [0u8; SLOT_PLAIN_LEN];
        b[0] = self.cmd.code();
        b[1] = if self.surb { FLAG_SURB } else { 0 };
        b[4..12].copy_from_slice(&self.seq.to_be_bytes());
        b[12..20].copy_from_slice(&self.expiry.as_nanos().to_be_bytes());
        match self.next {
            NextHop::None => {}
            NextHop::Node { addr, handle } => {
                b[20] = 1;
                b[21..21 + ADDR_LEN].copy_from_slice(&encode_addr(addr));
                b[40..44].copy_from_slice(&handle.to_be_bytes());
            }
            NextHop::Mailbox { id, handle } => {
                b[20] = 2;
                b[21..37].copy_from_slice(&id);
                b[37..41].copy_from_slice(&handle.to_be_bytes());
            }
        }
        b
    }

    /// Parses a slot plaintext; reserved bytes must be zero.
    pub fn decode(b: &[u8; SLOT_PLAIN_LEN]) -> Result<Self, OnionError> {
        let bad = |reason| OnionError::Malformed {
            what: "slot header",
            reason,
        };
        let cmd = SlotCmd::from_code(b[0])?;
        if b[1] & !FLAG_SURB != 0 || b[2] != 0 || b[3] != 0 || b[44..].iter().any(|x| *x != 0) {
            return Err(bad("reserved bits set"));
        }
        let seq = u64::from_be_bytes(b[4..12].try_into().map_err(|_| bad("seq"))?);
        let expiry = Instant::from_nanos(u64::from_be_bytes(
            b[12..20].try_into().map_err(|_| bad("expiry"))?,
        ));
        let next = match b[20] {
            0 => NextHop::None,
            1 => {
                let addr = decode_addr(&b[21..]).ok_or(bad("address family"))?;
                let handle = u32::from_be_bytes([b[40], b[41], b[42], b[43]]);
                NextHop::Node { addr, handle }
            }
            2 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(&b[21..37]);
                if b[41..44].iter().any(|x| *x != 0) {
                    return Err(bad("reserved bits set"));
                }
                NextHop::Mailbox {
                    id,
                    handle: u32::from_be_bytes([b[37], b[38], b[39], b[40]]),
                }
            }
            _ => return Err(bad("next-hop kind")),
        };
        Ok(SlotHeader {
            cmd,
            surb: b[1] & FLAG_SURB != 0,
            seq,
            expiry,
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    fn next_hop() -> impl Strategy<Value = NextHop> {
        prop_oneof![
            Just(NextHop::None),
            (any::<[u8; 4]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, handle)| {
                NextHop::Node {
                    addr: SocketAddr::from((ip, port)),
                    handle,
                }
            }),
            (any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, handle)| {
                NextHop::Node {
                    addr: SocketAddr::from((Ipv6Addr::from(ip), port)),
                    handle,
                }
            }),
            (any::<[u8; 16]>(), any::<u32>())
                .prop_map(|(id, handle)| NextHop::Mailbox { id, handle }),
        ]
    }

    proptest! {
        #[test]
        fn headers_round_trip(
            cmd in 1u8..6, surb in any::<bool>(), seq in any::<u64>(),
            expiry in any::<u64>(), next in next_hop(),
        ) {
            let h = SlotHeader {
                cmd: SlotCmd::from_code(cmd).unwrap(),
                surb,
                seq,
                expiry: Instant::from_nanos(expiry),
                next,
            };
            prop_assert_eq!(SlotHeader::decode(&h.encode()).unwrap(), h);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in any::<[u8; SLOT_PLAIN_LEN]>()) {
            let _ = SlotHeader::decode(&bytes);
        }
    }

    #[test]
    fn reserved_bits_are_rejected() {
        let h = SlotHeader {
            cmd: SlotCmd::Forward,
            surb: false,
            seq: 1,
            expiry: Instant::MAX,
            next: NextHop::None,
        };
        let mut b = h.encode();
        b[47] = 1;
        assert!(matches!(
            SlotHeader::decode(&b),
            Err(OnionError::Malformed { .. })
        ));
    }
}
