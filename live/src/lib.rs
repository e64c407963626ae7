//! The live driver: the same Peer2Prompt nodes the simulator drives, on
//! real UDP sockets with tokio, behind an OpenAI-compatible entrance.
//!
//! - [`driver`]: one task per node, the driving contract on a socket;
//! - [`network`] and [`lifecycle`]: a local network started, funded and
//!   stopped with its books checked;
//! - [`dispatch`]: the Lightning stand-in and the session book;
//! - [`gateway`]: `POST /v1/chat/completions` and `GET /v1/models`;
//! - [`upstream`]: an OpenAI-compatible HTTP backend for Ghosts and GPU
//!   nodes; [`chat`]: how messages travel as prompt bytes;
//! - [`records`]: the sessions as dataset rows.
//!
//! It makes no protocol decision: every one is in `peer2prompt`.

pub mod chat;
pub mod clock;
pub mod dispatch;
pub mod driver;
pub mod gateway;
pub mod lifecycle;
pub mod network;
pub mod plan;
pub mod records;
pub mod run;
pub mod upstream;

pub use network::{LiveError, LiveNetwork, Stopped};
pub use plan::{Counts, LiveSpec};
pub use run::{Running, up};
pub use upstream::UpstreamConfig;
