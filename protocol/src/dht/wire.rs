//! The DHT wire format: a small binary codec with explicit bounds, so that
//! every malformed or oversized message is a typed error before any state is
//! touched.
//!
//! Every message carries the sender's identity claim (key and proof of work);
//! its node id is derived, never trusted. A request may ask the responder to
//! prove it holds that key by signing the request's transaction id; the
//! requester asks only for contacts it has not verified before.

use super::DhtError;
use super::advert::Advert;
use super::capability::{CapabilityRequest, CapabilityResponse, MAX_CAPABILITIES};
use super::id::Key;
use super::table::Contact;
pub use crate::codec::{Reader, Writer};
use crate::identity::{IdentityClaim, IdentityProof, NodeId};

/// Protocol version byte.
pub const VERSION: u8 = 1;
/// Largest message accepted, in bytes.
pub const MAX_MESSAGE: usize = 32 * 1024;
/// Most contacts a response may carry (a responder sends at most k).
pub const MAX_CONTACTS: usize = 64;
/// Most adverts a value response may carry.
pub const MAX_ADVERTS: usize = 64;

/// A message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Liveness check.
    Ping,
    /// The k contacts closest to `target`.
    FindNode {
        /// The id whose closest nodes are asked for.
        target: Key,
    },
    /// Adverts stored under `key`, or else the closest contacts.
    FindValue {
        /// The DHT key.
        key: Key,
    },
    /// Store `advert` under `key`.
    Store {
        /// The DHT key.
        key: Key,
        /// The signed advert to store under `key`.
        advert: Box<Advert>,
    },
    /// Ask the advertiser for its detailed capabilities.
    CapabilityRequest(CapabilityRequest),
    /// Answer to `Ping`.
    Pong,
    /// The closest contacts the answerer knows.
    Nodes {
        /// Closest first.
        contacts: Vec<Contact>,
    },
    /// Stored adverts.
    Value {
        /// The unexpired adverts stored under the key.
        adverts: Vec<Advert>,
    },
    /// Answer to `Store`.
    Stored {
        /// Whether it was kept.
        accepted: bool,
    },
    /// Answer to `CapabilityRequest`.
    CapabilityResponse(CapabilityResponse),
}

impl Body {
    fn code(&self) -> u8 {
        match self {
            Body::Ping => 1,
            Body::FindNode { .. } => 2,
            Body::FindValue { .. } => 3,
            Body::Store { .. } => 4,
            Body::CapabilityRequest(_) => 5,
            Body::Pong => 65,
            Body::Nodes { .. } => 66,
            Body::Value { .. } => 67,
            Body::Stored { .. } => 68,
            Body::CapabilityResponse(_) => 69,
        }
    }

    /// True for requests, false for responses.
    pub fn is_request(&self) -> bool {
        self.code() < 64
    }
}

/// A DHT message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Transaction id: random, chosen by the requester, echoed by the responder.
    pub txid: u64,
    /// The sender's identity claim.
    pub sender: IdentityClaim,
    /// Request: asks the responder to prove key possession.
    pub want_proof: bool,
    /// Response: the signature proving it.
    pub proof: Option<[u8; 64]>,
    /// The encoded payload.
    pub body: Body,
}

impl Message {
    /// The sender's node id (derived from its key).
    pub fn sender_id(&self) -> NodeId {
        self.sender.node_id()
    }

    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(VERSION);
        w.u8(self.body.code());
        w.u64(self.txid);
        w.bytes(&self.sender.identity_key);
        w.u64(self.sender.proof.nonce);
        let flags = u8::from(self.want_proof) | (u8::from(self.proof.is_some()) << 1);
        w.u8(flags);
        if let Some(p) = &self.proof {
            w.bytes(p);
        }
        match &self.body {
            Body::Ping | Body::Pong => {}
            Body::FindNode { target } => w.bytes(target),
            Body::FindValue { key } => w.bytes(key),
            Body::Store { key, advert } => {
                w.bytes(key);
                advert.encode(&mut w);
            }
            Body::CapabilityRequest(r) => w.bytes(&r.ephemeral),
            Body::Nodes { contacts } => {
                w.u8(contacts.len().min(255) as u8);
                for c in contacts.iter().take(255) {
                    w.bytes(&c.id.0);
                    w.addr(c.addr);
                }
            }
            Body::Value { adverts } => {
                w.u8(adverts.len().min(255) as u8);
                for a in adverts.iter().take(255) {
                    a.encode(&mut w);
                }
            }
            Body::Stored { accepted } => w.u8(u8::from(*accepted)),
            Body::CapabilityResponse(r) => {
                w.bytes(&r.nonce);
                w.u16(r.sealed.len().min(usize::from(u16::MAX)) as u16);
                w.bytes(&r.sealed);
            }
        }
        // A datagram may wait in flight (and a FIND_VALUE answer carries up
        // to 64 adverts): hold it in exactly its size (issue 21).
        w.into_exact()
    }

    /// Parses a message; anything malformed, oversized or trailing is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DhtError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(DhtError::Oversized {
                what: "message",
                size: bytes.len(),
                limit: MAX_MESSAGE,
            });
        }
        let mut r = Reader::new(bytes);
        if r.u8()? != VERSION {
            return Err(DhtError::Malformed {
                what: "message",
                reason: "version",
            });
        }
        let code = r.u8()?;
        let txid = r.u64()?;
        let identity_key = r.array::<32>()?;
        let nonce = r.u64()?;
        let flags = r.u8()?;
        if flags & !0b11 != 0 {
            return Err(DhtError::Malformed {
                what: "message",
                reason: "flags",
            });
        }
        let proof = if flags & 0b10 != 0 {
            Some(r.array::<64>()?)
        } else {
            None
        };
        let body = Body::decode(code, &mut r)?;
        if !r.is_done() {
            return Err(DhtError::Malformed {
                what: "message",
                reason: "trailing bytes",
            });
        }
        if body.is_request() && proof.is_some() || !body.is_request() && flags & 1 != 0 {
            return Err(DhtError::Malformed {
                what: "message",
                reason: "proof flags on the wrong side",
            });
        }
        Ok(Message {
            txid,
            sender: IdentityClaim {
                identity_key,
                proof: IdentityProof { nonce },
            },
            want_proof: flags & 1 != 0,
            proof,
            body,
        })
    }
}

impl Body {
    /// The body of a message of kind `code`.
    fn decode(code: u8, r: &mut Reader<'_>) -> Result<Self, DhtError> {
        Ok(match code {
            1 => Body::Ping,
            2 => Body::FindNode { target: r.array()? },
            3 => Body::FindValue { key: r.array()? },
            4 => Body::Store {
                key: r.array()?,
                advert: Box::new(Advert::decode(r)?),
            },
            5 => Body::CapabilityRequest(CapabilityRequest {
                ephemeral: r.array()?,
            }),
            65 => Body::Pong,
            66 => decode_contacts(r)?,
            67 => decode_adverts(r)?,
            68 => Body::Stored {
                accepted: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(DhtError::Malformed {
                            what: "stored",
                            reason: "flag",
                        });
                    }
                },
            },
            69 => decode_capability_response(r)?,
            _ => {
                return Err(DhtError::Malformed {
                    what: "message",
                    reason: "unknown kind",
                });
            }
        })
    }
}

/// A one-byte count of `what`, refused above `limit`.
fn bounded_count(r: &mut Reader<'_>, what: &'static str, limit: usize) -> Result<usize, DhtError> {
    let n = usize::from(r.u8()?);
    if n > limit {
        return Err(DhtError::Oversized {
            what,
            size: n,
            limit,
        });
    }
    Ok(n)
}

/// A NODES body: at most `MAX_CONTACTS` contacts.
fn decode_contacts(r: &mut Reader<'_>) -> Result<Body, DhtError> {
    let n = bounded_count(r, "contacts", MAX_CONTACTS)?;
    let mut contacts = Vec::with_capacity(n);
    for _ in 0..n {
        contacts.push(Contact {
            id: NodeId(r.array()?),
            addr: r.addr()?,
        });
    }
    Ok(Body::Nodes { contacts })
}

/// A VALUE body: at most `MAX_ADVERTS` adverts.
fn decode_adverts(r: &mut Reader<'_>) -> Result<Body, DhtError> {
    let n = bounded_count(r, "adverts", MAX_ADVERTS)?;
    let mut adverts = Vec::with_capacity(n);
    for _ in 0..n {
        adverts.push(Advert::decode(r)?);
    }
    Ok(Body::Value { adverts })
}

/// A sealed capability answer of bounded length.
fn decode_capability_response(r: &mut Reader<'_>) -> Result<Body, DhtError> {
    let nonce = r.array()?;
    let len = usize::from(r.u16()?);
    if len > MAX_CAPABILITIES + 32 {
        return Err(DhtError::Oversized {
            what: "capabilities",
            size: len,
            limit: MAX_CAPABILITIES + 32,
        });
    }
    Ok(Body::CapabilityResponse(CapabilityResponse {
        nonce,
        sealed: r.take(len)?.to_vec(),
    }))
}

/// Domain separator of key-possession proofs.
pub const PROOF_DOMAIN: &[u8] = b"peer2prompt/dht-proof/v1";

/// The bytes a responder signs to prove it holds its identity key:
/// domain, transaction id, requester id, responder id.
pub fn proof_bytes(txid: u64, requester: &NodeId, responder: &NodeId) -> Vec<u8> {
    let mut m = Vec::with_capacity(PROOF_DOMAIN.len() + 72);
    m.extend_from_slice(PROOF_DOMAIN);
    m.extend_from_slice(&txid.to_be_bytes());
    m.extend_from_slice(&requester.0);
    m.extend_from_slice(&responder.0);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::SocketAddr;

    fn claim() -> IdentityClaim {
        IdentityClaim {
            identity_key: [3; 32],
            proof: IdentityProof { nonce: 9 },
        }
    }

    #[test]
    fn messages_round_trip() {
        let bodies = vec![
            Body::Ping,
            Body::FindNode { target: [1; 32] },
            Body::FindValue { key: [2; 32] },
            Body::CapabilityRequest(CapabilityRequest { ephemeral: [4; 32] }),
            Body::Pong,
            Body::Nodes {
                contacts: vec![Contact {
                    id: NodeId([5; 32]),
                    addr: SocketAddr::from(([10, 0, 0, 1], 7)),
                }],
            },
            Body::Value { adverts: vec![] },
            Body::Stored { accepted: true },
            Body::CapabilityResponse(CapabilityResponse {
                nonce: [6; 12],
                sealed: vec![1, 2, 3],
            }),
        ];
        for body in bodies {
            let req = body.is_request();
            let m = Message {
                txid: 77,
                sender: claim(),
                want_proof: req,
                proof: (!req).then_some([8; 64]),
                body,
            };
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn oversized_and_trailing_input_is_refused() {
        let m = Message {
            txid: 1,
            sender: claim(),
            want_proof: false,
            proof: None,
            body: Body::Pong,
        };
        let mut b = m.encode();
        b.push(0);
        assert!(matches!(
            Message::decode(&b),
            Err(DhtError::Malformed {
                reason: "trailing bytes",
                ..
            })
        ));
        let mut many = m.encode();
        many[1] = 66;
        many.push(200);
        assert!(matches!(
            Message::decode(&many),
            Err(DhtError::Oversized {
                what: "contacts",
                ..
            })
        ));
        assert!(matches!(
            Message::decode(&vec![1u8; MAX_MESSAGE + 1]),
            Err(DhtError::Oversized { .. })
        ));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_messages_never_panics(flip in 0usize..200, val in any::<u8>(), cut in 0usize..200) {
            let m = Message {
                txid: 5,
                sender: claim(),
                want_proof: false,
                proof: Some([1; 64]),
                body: Body::Nodes { contacts: vec![Contact { id: NodeId([5; 32]), addr: SocketAddr::from(([10, 0, 0, 1], 7)) }; 2] },
            };
            let mut b = m.encode();
            let i = flip % b.len();
            b[i] = val;
            b.truncate(b.len() - cut.min(b.len()));
            let _ = Message::decode(&b);
        }
    }
}
