//! A local Peer2Prompt network on real sockets: every node of the plan as
//! a tokio task with its own UDP socket, started the way the simulator
//! starts a network (infrastructure joins the DHT, then clients; then
//! directories; then wallets are funded through the mint's Lightning
//! stand-in), and stopped with every node handed back for the books.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use peer2prompt::dht::Role;
use peer2prompt::node::{ClientEvent, Node, PrefixAsAsn, PriceChoice};
use peer2prompt::time::Instant;
use peer2prompt_sim::checks::Violation;
use peer2prompt_sim::population::{Kind, Slot, node_parts};
use peer2prompt_sim::rng::Streams;
use peer2prompt_sim::sessions::SessionBook;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::dispatch::{Directory, Dispatcher, SharedProgress, progress};
use crate::driver::{Command, NodeTask};
use crate::plan::{LiveSpec, MAX_LOOPBACK_NODES, loopback_addr};
use crate::upstream::{OpenAiBackend, UpstreamSetupError, UpstreamUsage};

/// Why a live network could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// More nodes than the loopback plan has addresses for.
    #[error(
        "{nodes} nodes planned; the loopback plan gives at most {MAX_LOOPBACK_NODES} their own address"
    )]
    TooManyNodes {
        /// Nodes planned.
        nodes: usize,
    },
    /// A socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The protocol refused a node's configuration.
    #[error("node {index} refused its configuration: {reason}")]
    Config {
        /// The node.
        index: usize,
        /// Why.
        reason: String,
    },
    /// An upstream backend could not be set up.
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
    /// A start-up phase did not finish in time.
    #[error("start-up stalled: {what} after {secs} s")]
    Stalled {
        /// What was awaited.
        what: String,
        /// How long it was awaited.
        secs: u64,
    },
    /// The plan has no client to put behind the entrance.
    #[error("the network has no client: the entrance needs at least one (--clients 1)")]
    NoClients,
    /// A node's task is gone.
    #[error("node {0} stopped")]
    NodeGone(usize),
}

/// A node as the driver knows it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Its kind and index within the kind.
    pub slot: Slot,
    /// Its address.
    pub addr: SocketAddr,
    /// Its node id.
    pub id: peer2prompt::identity::NodeId,
}

/// A running network.
pub struct LiveNetwork {
    /// The network's clock.
    pub clock: Clock,
    /// Every node.
    pub nodes: Vec<NodeInfo>,
    /// The model offered and asked for.
    pub model: String,
    /// Relays per route.
    pub relays_per_route: usize,
    /// The clients' context window, protocol tokens.
    pub context_window: u64,
    /// Output tokens a client asks for per turn.
    pub max_output_tokens: u64,
    /// What each upstream backend reported it used.
    pub upstream_usage: Vec<Arc<Mutex<UpstreamUsage>>>,
    pub(crate) commands: Vec<mpsc::UnboundedSender<Command>>,
    pub(crate) tasks: Vec<JoinHandle<Node>>,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) dispatcher: JoinHandle<SessionBook>,
    pub(crate) progress: SharedProgress,
    client_events: HashMap<usize, mpsc::UnboundedReceiver<ClientEvent>>,
}

/// A stopped network: its records and its books.
#[derive(Debug)]
pub struct Stopped {
    /// The sessions, as the driver recorded them.
    pub book: SessionBook,
    /// Every node, in plan order, as it stopped.
    pub nodes: Vec<(NodeInfo, Node)>,
    /// Value conservation over every mint and wallet at the stop.
    pub books: Result<(), Violation>,
    /// Sat paid in and out over Lightning.
    pub lightning: peer2prompt_sim::checks::Lightning,
    /// When it stopped, ns since the start.
    pub stopped_ns: u64,
    /// Peer input refused at the application layer, by kind.
    pub peer_errors: Vec<(String, u64)>,
}

impl LiveNetwork {
    /// Builds, starts and funds the network of `spec`; returns once every
    /// client can open a session.
    pub async fn start(spec: &LiveSpec) -> Result<Self, LiveError> {
        let mut net = Self::spawn(spec).await?;
        net.join().await?;
        net.fund(spec.fund_sat).await?;
        Ok(net)
    }

    /// Binds and spawns every node.
    async fn spawn(spec: &LiveSpec) -> Result<Self, LiveError> {
        let mut s = spec.scenario.clone();
        s.workload.model = spec.model();
        let nodes = s_slots(&s);
        if nodes.len() > MAX_LOOPBACK_NODES {
            return Err(LiveError::TooManyNodes { nodes: nodes.len() });
        }
        let clock = Clock::start();
        let streams = Streams::new(s.seed);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let progress = SharedProgress::default();
        let mut net = LiveNetwork {
            clock,
            nodes: Vec::new(),
            model: s.workload.model.clone(),
            relays_per_route: s.protocol.relays_per_route as usize,
            context_window: s.protocol.context_window_tokens,
            max_output_tokens: s.workload.max_output_tokens,
            upstream_usage: Vec::new(),
            commands: Vec::new(),
            tasks: Vec::new(),
            stop,
            dispatcher: tokio::spawn(async { SessionBook::default() }),
            progress: progress.clone(),
            client_events: HashMap::new(),
        };
        for (i, slot) in nodes.into_iter().enumerate() {
            let task = net
                .bind(spec, &s, &streams, i, slot, events_tx.clone())
                .await?;
            net.tasks.push(tokio::spawn(task.run()));
        }
        net.dispatcher = tokio::spawn(net.dispatcher_for(events_rx).run());
        Ok(net)
    }

    /// Binds node `i`'s socket and builds its node and task.
    async fn bind(
        &mut self,
        spec: &LiveSpec,
        s: &peer2prompt_sim::scenario::Scenario,
        streams: &Streams,
        i: usize,
        slot: Slot,
        events: mpsc::UnboundedSender<crate::driver::Reported>,
    ) -> Result<NodeTask, LiveError> {
        let ip = loopback_addr(i).ok_or(LiveError::TooManyNodes { nodes: i + 1 })?;
        let want = SocketAddr::new(ip, 0);
        let socket = UdpSocket::bind(want)
            .await
            .map_err(|source| LiveError::Bind { addr: want, source })?;
        let addr = socket
            .local_addr()
            .map_err(|source| LiveError::Bind { addr: want, source })?;
        let wake = Arc::new(Notify::new());
        let mut parts = node_parts(s, streams, slot, addr, false, Arc::new(PrefixAsAsn), None);
        let upstream = match slot.kind {
            Kind::Ghost => spec.ghost_upstream.clone(),
            Kind::Gpu => spec.gpu_upstream.clone(),
            _ => None,
        };
        if let Some(mut u) = upstream {
            u.local_ip = Some(ip);
            let b = OpenAiBackend::new(u, wake.clone())?;
            self.upstream_usage.push(b.usage());
            parts.backend = Some(Box::new(b));
        }
        if let Some(c) = parts.cfg.client.as_mut() {
            live_client(c);
        }
        let node = parts
            .into_node(streams, slot, addr)
            .map_err(|err| LiveError::Config {
                index: i,
                reason: err.to_string(),
            })?;
        let (tx, commands) = mpsc::unbounded_channel();
        self.commands.push(tx);
        let id = node.identity().node_id();
        self.nodes.push(NodeInfo { slot, addr, id });
        Ok(NodeTask {
            index: i,
            node,
            socket,
            clock: self.clock,
            commands,
            events,
            wake,
            stop: self.stop.subscribe(),
        })
    }

    fn dispatcher_for(
        &mut self,
        events: mpsc::UnboundedReceiver<crate::driver::Reported>,
    ) -> Dispatcher {
        let mut clients = HashMap::new();
        for i in self.of_kind(Kind::Client) {
            let (tx, rx) = mpsc::unbounded_channel();
            clients.insert(i, tx);
            self.client_events.insert(i, rx);
        }
        Dispatcher {
            events,
            commands: self.commands.clone(),
            who: Directory {
                by_addr: self
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.addr, i))
                    .collect(),
                by_id: self
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.id, i))
                    .collect(),
            },
            clients,
            progress: self.progress.clone(),
            clock: self.clock,
            book: SessionBook::default(),
        }
    }

    /// The indices of the nodes of `kind`.
    pub fn of_kind(&self, kind: Kind) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].slot.kind == kind)
            .collect()
    }

    /// Client `c`'s events (once: the entrance takes them).
    pub fn take_client_events(&mut self, c: usize) -> Option<mpsc::UnboundedReceiver<ClientEvent>> {
        self.client_events.remove(&c)
    }

    /// Node `i`'s command queue.
    pub fn commands(&self, i: usize) -> mpsc::UnboundedSender<Command> {
        self.commands[i].clone()
    }

    /// Runs `f` on node `i`'s task and returns what it returned.
    pub async fn call<R: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce(&mut Node, Instant) -> R + Send + 'static,
    ) -> Result<R, LiveError> {
        call(&self.commands[i], i, f).await
    }

    /// Sat paid in and out over Lightning so far.
    pub fn lightning(&self) -> peer2prompt_sim::checks::Lightning {
        progress(&self.progress).lightning
    }
}

/// Runs `f` on the task behind `commands` (node `i`) and returns its result.
pub async fn call<R: Send + 'static>(
    commands: &mpsc::UnboundedSender<Command>,
    i: usize,
    f: impl FnOnce(&mut Node, Instant) -> R + Send + 'static,
) -> Result<R, LiveError> {
    let (tx, rx) = oneshot::channel();
    let cmd: Command = Box::new(move |n, now| {
        let _ = tx.send(f(n, now));
    });
    commands.send(cmd).map_err(|_| LiveError::NodeGone(i))?;
    rx.await.map_err(|_| LiveError::NodeGone(i))
}

/// Every slot of the plan, in the simulator's order.
fn s_slots(s: &peer2prompt_sim::scenario::Scenario) -> Vec<Slot> {
    peer2prompt_sim::adversary::plan(s, &Streams::new(s.seed))
}

/// The live client: it streams replies to the entrance, is funded only by
/// the driver, and fetches the services' capabilities (which tell
/// `/v1/models` what is offered; every price weighs the same).
fn live_client(c: &mut peer2prompt::node::ClientRoleConfig) {
    c.stream_text = true;
    c.top_up = None;
    c.price_choice.get_or_insert(PriceChoice {
        job_input_tokens: 1_000,
        job_output_tokens: 300,
        per_msat: 0.0,
    });
}

/// Whether a node's directory holds what its role needs.
pub(crate) fn directory_ready(n: &Node, kind: Kind, hops: usize) -> bool {
    let mints = n.directory().adverts(Role::Mint).count() > 0;
    match kind {
        Kind::Client => {
            mints
                && n.directory().adverts(Role::Relay).count() >= hops
                && !n.offered_models().is_empty()
        }
        _ => mints,
    }
}
