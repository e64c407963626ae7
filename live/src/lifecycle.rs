//! Start-up and shutdown of a [`LiveNetwork`]: joining the DHT, reading
//! directories, funding wallets, and stopping with the books checked.

use std::time::Duration;

use peer2prompt::node::Node;
use peer2prompt_sim::checks::conservation_of;
use peer2prompt_sim::population::Kind;

use crate::dispatch::progress;
use crate::network::{LiveError, LiveNetwork, NodeInfo, Stopped, directory_ready};

/// How long each start-up phase may take before the start fails.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often start-up looks again.
const POLL: Duration = Duration::from_millis(50);
/// How often a directory that is not ready is read again.
const REREAD: Duration = Duration::from_secs(1);

impl LiveNetwork {
    /// Infrastructure joins the DHT through the first relays, then the
    /// clients; then every node that builds routes reads its directory.
    pub(crate) async fn join(&mut self) -> Result<(), LiveError> {
        let seeds = self.seed_lists();
        let infra: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].slot.kind != Kind::Client)
            .collect();
        let clients = self.of_kind(Kind::Client);
        for group in [infra, clients] {
            for &i in &group {
                let lists = seeds.clone();
                self.call(i, move |n, now| n.bootstrap(now, &lists)).await?;
            }
            self.wait("DHT bootstrap", || {
                let p = progress(&self.progress);
                group.iter().all(|i| p.bootstrapped.contains(i))
            })
            .await?;
        }
        self.read_directories().await
    }

    /// Two seed lists from the first eight relays, as the simulator's.
    fn seed_lists(&self) -> Vec<Vec<std::net::SocketAddr>> {
        let relays: Vec<_> = self
            .of_kind(Kind::Relay)
            .into_iter()
            .take(8)
            .map(|i| self.nodes[i].addr)
            .collect();
        let half = relays.len().div_ceil(2);
        [relays[..half].to_vec(), relays[half..].to_vec()]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Reads directories until each node that needs one has what it needs.
    async fn read_directories(&self) -> Result<(), LiveError> {
        let hops = self.hops();
        let readers: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].slot.kind != Kind::Relay)
            .collect();
        let start = tokio::time::Instant::now();
        loop {
            let mut waiting = Vec::new();
            for &i in &readers {
                let kind = self.nodes[i].slot.kind;
                if !self
                    .call(i, move |n, _| directory_ready(n, kind, hops))
                    .await?
                {
                    waiting.push(i);
                    self.call(i, |n, now| n.refresh_directory(now)).await?;
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if start.elapsed() > PHASE_TIMEOUT {
                return Err(stalled(&format!("directories of nodes {waiting:?}")));
            }
            tokio::time::sleep(REREAD).await;
        }
    }

    /// Relays a client must know of before it is ready: a route's worth,
    /// or every relay of a network too small for one (whose clients then
    /// answer that no route exists).
    fn hops(&self) -> usize {
        self.relays_per_route.min(self.of_kind(Kind::Relay).len())
    }

    /// Funds every client with `sat` through its mint's Lightning stand-in.
    pub(crate) async fn fund(&self, sat: u64) -> Result<(), LiveError> {
        if sat == 0 {
            return Ok(());
        }
        let clients = self.of_kind(Kind::Client);
        for &c in &clients {
            self.call(c, move |n, now| n.fund(now, sat))
                .await?
                .map_err(|e| LiveError::Config {
                    index: c,
                    reason: e.to_string(),
                })?;
        }
        self.wait("wallet funding", || {
            let p = progress(&self.progress);
            clients
                .iter()
                .all(|c| p.funded.get(c).copied().unwrap_or(0) >= sat)
        })
        .await
    }

    /// Waits until `done`, or fails naming `what`.
    async fn wait(&self, what: &str, done: impl Fn() -> bool) -> Result<(), LiveError> {
        let start = tokio::time::Instant::now();
        while !done() {
            if start.elapsed() > PHASE_TIMEOUT {
                return Err(stalled(what));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Stops every node, collects them and checks the books: every sat
    /// paid in is held as unspent ecash, in flight, collected as fees or
    /// paid out (the simulator's conservation check, on the live nodes).
    pub async fn stop(self) -> Stopped {
        let _ = self.stop.send(true);
        let mut nodes: Vec<(NodeInfo, Node)> = Vec::new();
        for (info, task) in self.nodes.iter().zip(self.tasks) {
            match task.await {
                Ok(node) => nodes.push((info.clone(), node)),
                Err(e) => tracing::error!("node task failed: {e}"),
            }
        }
        drop(self.commands);
        let book = self.dispatcher.await.unwrap_or_default();
        let p = progress(&self.progress);
        let stopped_ns = self.clock.now().as_nanos();
        let refs: Vec<&Node> = nodes.iter().map(|(_, n)| n).collect();
        Stopped {
            books: conservation_of(&refs, p.lightning, stopped_ns),
            book,
            lightning: p.lightning,
            stopped_ns,
            peer_errors: p
                .peer_errors
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            nodes,
        }
    }
}

fn stalled(what: &str) -> LiveError {
    LiveError::Stalled {
        what: what.to_owned(),
        secs: PHASE_TIMEOUT.as_secs(),
    }
}
