#![doc = include_str!("../README.md")]

pub mod ecash;
pub mod error;
pub mod net;
pub mod time;

pub use error::{Error, Result};
