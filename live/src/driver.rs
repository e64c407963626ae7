//! The driving contract on a real socket (ARCHITECTURE.md, "The engine is
//! thin"): a node's datagrams go in through `handle`, its timers through
//! `handle_timeout` when `poll_timeout` falls due, what it sends goes out
//! on its UDP socket, and what it reports goes to the network's
//! dispatcher. The task makes no protocol decision; everything else a
//! node does (asking, funding, Lightning) arrives as a [`Command`] the
//! task runs against the node between inputs.

use std::net::SocketAddr;
use std::sync::Arc;

use peer2prompt::node::{Node, NodeEvent};
use peer2prompt::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc, watch};

use crate::clock::Clock;

/// Work for a node's task: runs against the node at the given instant.
pub type Command = Box<dyn FnOnce(&mut Node, Instant) + Send>;

/// The largest datagram a node is sent; larger ones are cut (and then
/// refused by the node as malformed, like any truncated datagram).
const MAX_DATAGRAM: usize = 65_536;

/// What a node task reports: its index and the event.
pub type Reported = (usize, NodeEvent);

/// A node's task: its socket, its commands, and where its events go.
pub struct NodeTask {
    /// The node's index in the network.
    pub index: usize,
    /// The protocol node.
    pub node: Node,
    /// Its socket (bound to the node's address).
    pub socket: UdpSocket,
    /// The network's clock.
    pub clock: Clock,
    /// Commands to run.
    pub commands: mpsc::UnboundedReceiver<Command>,
    /// Where events go (every event but observations, which only the
    /// simulator's adversaries read).
    pub events: mpsc::UnboundedSender<Reported>,
    /// Rung by a backend when output arrived outside any input.
    pub wake: Arc<Notify>,
    /// Set when the network stops.
    pub stop: watch::Receiver<bool>,
}

impl NodeTask {
    /// Runs until the network stops; returns the node (for the
    /// books check and the wallets at shutdown).
    pub async fn run(mut self) -> Node {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            self.flush().await;
            let timer = self.node.poll_timeout().and_then(|t| self.clock.real(t));
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.input(from, &buf[..n]),
                    Err(e) => tracing::debug!(node = self.index, "receive failed: {e}"),
                },
                c = self.commands.recv() => match c {
                    Some(f) => f(&mut self.node, self.clock.now()),
                    None => break,
                },
                _ = self.stop.changed() => break,
                () = sleep_until(timer) => self.node.handle_timeout(self.clock.now()),
                () = self.wake.notified() => self.node.handle_timeout(self.clock.now()),
            }
        }
        self.flush().await;
        self.node
    }

    /// One datagram in; refusals are typed errors, logged (peer input
    /// never panics a node).
    fn input(&mut self, from: SocketAddr, bytes: &[u8]) {
        if let Err(e) = self.node.handle(self.clock.now(), from, bytes) {
            tracing::debug!(node = self.index, %from, "refused: {e}");
        }
    }

    /// Sends what the node queued and reports its events.
    async fn flush(&mut self) {
        while let Some(t) = self.node.poll_transmit() {
            if let Err(e) = self.socket.send_to(&t.bytes, t.to).await {
                tracing::debug!(node = self.index, to = %t.to, "send failed: {e}");
            }
        }
        while let Some(e) = self.node.poll_event() {
            if !matches!(e, NodeEvent::Observed(_)) {
                // The dispatcher is gone only at shutdown.
                let _ = self.events.send((self.index, e));
            }
        }
    }
}

/// Sleeps until `t`, or forever.
async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
