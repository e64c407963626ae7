//! Serverless discovery: a Kademlia DHT (whitepaper "Peer Discovery (DHT)",
//! "DHT Sybil and Eclipse Attacks").
//!
//! - [`id`]: the 256-bit keyspace and XOR distance.
//! - [`table`]: k-buckets with ping-before-evict, compact entries.
//! - [`lookup`]: iterative (and S/Kademlia disjoint) lookups as state machines.
//! - [`advert`]: signed, epoch-bound, short-lived adverts exposing only a
//!   capability commitment; [`capability`]: the encrypted fetch of the details.
//! - [`wire`]: the bounded binary codec.
//! - [`intern`]: one shared copy of each advert for the nodes of a process.
//! - [`node`]: the engine: RPCs, admission, storage, refresh, republish,
//!   bootstrap from several seed lists, observations.

pub mod advert;
pub mod capability;
mod error;
pub mod id;
pub mod intern;
pub mod lookup;
pub mod node;
pub mod table;
pub mod wire;

pub use advert::{Advert, AdvertFields, AdvertPolicy, Role};
pub use error::DhtError;
pub use intern::AdvertInterner;
pub use node::{Dht, DhtConfig, DhtEvent, DhtObservation, LookupId, QueryKind};
pub use table::{Contact, RoutingTable};
