#![doc = include_str!("../README.md")]

pub mod backend;
pub mod baselines;
pub mod codec;
pub mod dht;
pub mod ecash;
pub mod error;
pub mod fidelity;
pub mod identity;
pub mod market;
pub mod net;
pub mod node;
pub mod onion;
pub mod time;
pub mod verify;

pub use error::{Error, Result};
