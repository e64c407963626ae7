//! Onion routing (whitepaper "Route Construction", "Cryptographic Packet
//! Sketch", "Return Path", "Traffic Analysis Countermeasures").
//!
//! Layers, from the wire up:
//! - [`cell`]: fixed-size cells, the same 2048 bytes on every link.
//! - [`header`], [`layer`]: per-hop slots sealed with ChaCha20-Poly1305 and a
//!   size-preserving ChaCha20 peel, so no cell reveals its position.
//! - [`ntor`]: the key exchange (Tor's ntor, with key erasure).
//! - [`replay`], [`fragment`]: replay windows and reply-block tags; message
//!   fragmentation with bounded reassembly.
//! - [`surb`]: single-use reply blocks.
//! - [`shaping`]: the endpoint's downstream padding and constant-rate streaming.
//!
//! Everything here is sans-IO: inputs are bytes and `now`, outputs are polled.

pub mod cell;
pub mod client;
mod error;
pub mod fragment;
pub mod header;
pub mod layer;
pub mod messages;
pub mod ntor;
pub mod observe;
pub mod relay;
pub mod replay;
pub mod route;
pub mod shaping;
pub mod surb;

pub use error::OnionError;
