//! Onion-level messages carried inside sealed payloads: circuit extension,
//! reply-block batches, and the framing of application data.

use std::net::SocketAddr;

use super::OnionError;
use super::ntor::{ONIONSKIN_LEN, REPLY_LEN};
use super::surb::{SURB_LEN, Surb};

/// First byte of a forward message: application data.
pub const KIND_DATA: u8 = 0;
/// First byte of a forward message: a batch of reply blocks for the exit.
pub const KIND_SURBS: u8 = 1;

/// Reply flag: the exit is running low on reply blocks and has more to send.
pub const FLAG_WANT_SURBS: u8 = 1;
/// Reply flag: a padding reply (downstream shaping, [`super::shaping`]);
/// nothing follows the flags, and the client drops it.
pub const FLAG_PADDING: u8 = 2;

/// Bytes of an encoded socket address.
const ADDR_LEN: usize = crate::net::ADDR_LEN;

fn decode_addr(b: &[u8]) -> Result<SocketAddr, OnionError> {
    crate::net::decode_addr(b).ok_or(OnionError::Malformed {
        what: "address",
        reason: "family or length",
    })
}

/// Asks the last hop of a partial circuit to extend it (whitepaper "Route
/// Construction": telescoping; hop i learns only hop i+1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendRequest {
    /// The next hop's address.
    pub next: SocketAddr,
    /// The ntor onionskin for the next hop.
    pub onionskin: [u8; ONIONSKIN_LEN],
    /// A reply block for the answer, back through the earlier hops.
    pub reply: Surb,
}

impl ExtendRequest {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ADDR_LEN + ONIONSKIN_LEN + SURB_LEN);
        out.extend_from_slice(&crate::net::encode_addr(self.next));
        out.extend_from_slice(&self.onionskin);
        out.extend_from_slice(&self.reply.encode());
        out
    }

    /// Parses the wire form (trailing zero padding allowed).
    pub fn decode(b: &[u8]) -> Result<Self, OnionError> {
        let need = ADDR_LEN + ONIONSKIN_LEN + SURB_LEN;
        if b.len() < need {
            return Err(OnionError::Malformed {
                what: "extend request",
                reason: "short",
            });
        }
        let next = decode_addr(&b[..ADDR_LEN])?;
        let mut onionskin = [0u8; ONIONSKIN_LEN];
        onionskin.copy_from_slice(&b[ADDR_LEN..ADDR_LEN + ONIONSKIN_LEN]);
        let reply = Surb::decode(&b[ADDR_LEN + ONIONSKIN_LEN..need])?;
        Ok(ExtendRequest {
            next,
            onionskin,
            reply,
        })
    }
}

/// The answer to an extend: the next hop's ntor reply.
pub fn decode_extended(b: &[u8]) -> Result<[u8; REPLY_LEN], OnionError> {
    b.get(..REPLY_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(OnionError::Malformed {
            what: "extended",
            reason: "short",
        })
}

/// Encodes a batch of reply blocks as a forward message.
pub fn encode_surb_batch(surbs: &[Surb]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + surbs.len() * SURB_LEN);
    out.push(KIND_SURBS);
    for s in surbs {
        out.extend_from_slice(&s.encode());
    }
    out
}

/// Decodes a reply-block batch (without its kind byte).
pub fn decode_surb_batch(b: &[u8]) -> Result<Vec<Surb>, OnionError> {
    if !b.len().is_multiple_of(SURB_LEN) {
        return Err(OnionError::Malformed {
            what: "reply block batch",
            reason: "length",
        });
    }
    b.chunks(SURB_LEN).map(Surb::decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onion::cell::ROUTING_LEN;
    use proptest::prelude::*;

    #[test]
    fn extend_request_round_trips() {
        let req = ExtendRequest {
            next: SocketAddr::from(([192, 0, 2, 7], 443)),
            onionskin: [3u8; ONIONSKIN_LEN],
            reply: Surb {
                first_hop: SocketAddr::from(([10, 0, 0, 1], 1)),
                first_handle: 5,
                header: Box::new([9u8; ROUTING_LEN]),
            },
        };
        let mut wire = req.encode();
        wire.extend_from_slice(&[0u8; 40]);
        assert_eq!(ExtendRequest::decode(&wire).unwrap(), req);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let _ = ExtendRequest::decode(&bytes);
            let _ = decode_surb_batch(&bytes);
            let _ = decode_extended(&bytes);
        }
    }
}
