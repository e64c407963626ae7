//! The seeds' other systems, as real protocol roles to compare Peer2Prompt
//! against (whitepaper "Attack Economics": "In a centralized system, a
//! single legal order or infrastructure breach exposes complete history").
//!
//! - [`llm_tor`]: LLM-Tor (seed `004`), a centralized proxy that sells
//!   credits to known accounts, issues RFC 9474 blind tokens for them, and
//!   redeems one token per prompt reached over a Tor-like circuit;
//! - [`direct`]: the status quo, a provider API called with an account key
//!   from the user's own address.
//!
//! Like the rest of the crate these are sans-IO: the node roles in
//! [`crate::node`] carry their messages.

pub mod direct;
pub mod llm_tor;
