//! The initiator side of onion routing (whitepaper "Route Construction":
//! the client constructs layered encryption from exit to ingress; "Return
//! Path"; "Traffic Analysis Countermeasures": cover packets).
//!
//! Circuits are built by telescoping: an ntor handshake with the first hop,
//! then, through it, an `Extend` to each next hop, whose answer comes back
//! through a reply block over the hops already built. Each hop learns only its
//! neighbours. Messages are fragmented into forward cells; replies come back
//! through reply blocks, which the client hands to the exit in batches and
//! tops up when the exit says it is running low.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;

use super::OnionError;
use super::cell::{BODY_LEN, Body, Cell, Command, MAX_HOPS, NONCE_LEN, ROUTING_LEN};
use super::fragment::{self, FRAGMENT_HEADER_LEN, Reassembler, ReassemblyLimits};
use super::header::{NextHop, SlotCmd, SlotHeader};
use super::layer::{
    CLIENT_ID_BIT, DirKeys, Direction, HopKeys, KEY_MATERIAL_LEN, SEALED_PAYLOAD_LEN, layer_ad,
    open_slot, seal_into, wrap,
};
use super::messages::{
    ExtendRequest, FLAG_PADDING, FLAG_WANT_SURBS, KIND_DATA, decode_extended, encode_surb_batch,
};
use super::ntor::{NtorClient, REPLY_LEN};
use super::relay::Transmit;
use super::surb::{self, Delivery, REPLY_CAPACITY, ReturnHop, Surb, SurbSecrets};
use crate::fidelity::CryptoFidelity;
use crate::identity::NodeId;
use crate::time::{Duration, Instant};

/// A hop as the client knows it from discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HopSpec {
    /// Its node id.
    pub node: NodeId,
    /// Its address.
    pub addr: SocketAddr,
    /// Its current onion key.
    pub onion_key: [u8; 32],
}

/// Client behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Forward cells are refused by hops after this long.
    pub cell_ttl: Duration,
    /// Reply blocks stop working after this long.
    pub surb_ttl: Duration,
    /// Reply blocks per batch handed to the exit.
    pub surb_batch: usize,
    /// A circuit not built within this long fails.
    pub build_timeout: Duration,
    /// Reassembly limits for replies.
    pub reassembly: ReassemblyLimits,
    /// The ntor handshake's crypto fidelity (set by `Node::new` from the
    /// node's identity).
    pub fidelity: CryptoFidelity,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            cell_ttl: Duration::from_secs(60),
            surb_ttl: Duration::from_secs(600),
            surb_batch: 8,
            build_timeout: Duration::from_secs(10),
            reassembly: ReassemblyLimits::default(),
            fidelity: CryptoFidelity::Full,
        }
    }
}

/// Which way replies on a circuit come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnPath {
    /// Through the circuit's own relays, in reverse.
    Reverse,
    /// Through the relays of another circuit the client built, in reverse.
    Via(u32),
}

/// Why a circuit failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CircuitFailure {
    /// Not built within the build timeout.
    Timeout,
    /// The first hop tore it down.
    Destroyed,
    /// A handshake or reply could not be processed.
    Error(OnionError),
}

/// What the client tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The circuit is built end to end.
    CircuitReady {
        /// Its id.
        circuit: u32,
    },
    /// The circuit failed and is gone.
    CircuitFailed {
        /// Its id.
        circuit: u32,
        /// Why, in words for logs and errors.
        reason: CircuitFailure,
        /// For a build that stalled: the hop that never answered its
        /// handshake (the client cannot tell a dead hop from one that drops
        /// its traffic, but either way it is the one to avoid).
        stalled_at: Option<NodeId>,
    },
    /// A whole reply message from the circuit's exit.
    Reply {
        /// The circuit.
        circuit: u32,
        /// The message.
        message: Vec<u8>,
    },
}

#[derive(Debug)]
struct Circuit {
    first: SocketAddr,
    path: Vec<HopSpec>,
    hops: Vec<HopKeys>,
    pending: Option<NtorClient>,
    deadline: Option<Instant>,
    handle: u32,
    seq: u64,
    next_msg_id: u32,
    reassembly: Reassembler,
    return_path: ReturnPath,
    mailbox: Option<[u8; 16]>,
    surbs_out: usize,
    /// When the last batch of reply blocks was made.
    surbs_at: Instant,
}

#[derive(Debug)]
struct SurbRecord {
    circuit: u32,
    sealer: usize,
    secrets: SurbSecrets,
    extend: bool,
}

/// Work an [`OnionClient`] has done, by kind of cryptographic operation
/// (for cost accounting; the simulator and the `full_session` bench read it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// ntor handshakes started (one per hop of every circuit).
    pub handshakes: u64,
    /// Forward cells sealed.
    pub forward_cells: u64,
    /// Onion layers sealed over all forward cells.
    pub layers_sealed: u64,
    /// Reply blocks made.
    pub surbs_built: u64,
    /// Reply cells opened.
    pub replies_opened: u64,
    /// Padding replies received and dropped (downstream shaping).
    pub padding_received: u64,
}

/// The client engine of one node.
pub struct OnionClient {
    stats: ClientStats,
    addr: SocketAddr,
    config: ClientConfig,
    circuits: HashMap<u32, Circuit>,
    by_handle: HashMap<u32, u32>,
    surbs: HashMap<u64, SurbRecord>,
    recv: DirKeys,
    outbox: VecDeque<Transmit>,
    events: VecDeque<ClientEvent>,
    crypto: ChaCha20Rng,
}

impl core::fmt::Debug for OnionClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OnionClient")
            .field("addr", &self.addr)
            .field("circuits", &self.circuits.len())
            .finish_non_exhaustive()
    }
}

impl OnionClient {
    /// A client at `addr` (where direct replies are delivered).
    pub fn new(addr: SocketAddr, config: ClientConfig, mut crypto: ChaCha20Rng) -> Self {
        let recv = DirKeys::random(&mut crypto);
        OnionClient {
            stats: ClientStats::default(),
            addr,
            config,
            circuits: HashMap::new(),
            by_handle: HashMap::new(),
            surbs: HashMap::new(),
            recv,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            crypto,
        }
    }

    // ----- getters ------------------------------------------------------------

    /// True once `circuit` is built end to end.
    pub fn is_ready(&self, circuit: u32) -> bool {
        self.circuits
            .get(&circuit)
            .is_some_and(|c| c.pending.is_none() && c.hops.len() == c.path.len())
    }

    /// The path of `circuit`.
    pub fn path(&self, circuit: u32) -> Option<&[HopSpec]> {
        self.circuits.get(&circuit).map(|c| c.path.as_slice())
    }

    /// True if a cell with link id `id` from `from` belongs to this engine
    /// (rather than to the node's relay engine): answers and teardowns of its
    /// own circuits, and cells to its own reply handles.
    pub fn owns(&self, from: SocketAddr, cmd: Command, id: u32) -> bool {
        match cmd {
            Command::Created | Command::Destroy => {
                self.circuits.get(&id).is_some_and(|c| c.first == from)
            }
            Command::Surb | Command::MailboxData => self.by_handle.contains_key(&id),
            _ => false,
        }
    }

    /// Reply blocks handed to the exit of `circuit` and not yet used.
    pub fn surbs_outstanding(&self, circuit: u32) -> usize {
        self.circuits.get(&circuit).map_or(0, |c| c.surbs_out)
    }

    // ----- commands -----------------------------------------------------------

    /// Starts building a circuit along `path` (relays, then the exit).
    pub fn build(&mut self, now: Instant, path: Vec<HopSpec>) -> Result<u32, OnionError> {
        if path.is_empty() || path.len() > MAX_HOPS {
            return Err(OnionError::InvalidPath {
                reason: "between one and five hops",
            });
        }
        for (i, h) in path.iter().enumerate() {
            if path[..i]
                .iter()
                .any(|o| o.node == h.node || o.addr == h.addr)
            {
                return Err(OnionError::InvalidPath {
                    reason: "a node appears twice",
                });
            }
        }
        let id = loop {
            let id = self.crypto.next_u32() | CLIENT_ID_BIT;
            if !self.circuits.contains_key(&id) {
                break id;
            }
        };
        let handle = loop {
            let h = self.crypto.next_u32() | CLIENT_ID_BIT;
            if !self.by_handle.contains_key(&h) {
                break h;
            }
        };
        let first = path[0];
        let (ntor, skin) = NtorClient::new(
            first.node.ntor_id(),
            first.onion_key,
            self.config.fidelity,
            &mut self.crypto,
        );
        self.stats.handshakes += 1;
        self.circuits.insert(
            id,
            Circuit {
                first: first.addr,
                path,
                hops: Vec::new(),
                pending: Some(ntor),
                deadline: Some(now + self.config.build_timeout),
                handle,
                seq: 0,
                next_msg_id: 0,
                reassembly: Reassembler::new(self.config.reassembly),
                return_path: ReturnPath::Reverse,
                mailbox: None,
                surbs_out: 0,
                surbs_at: now,
            },
        );
        self.by_handle.insert(handle, id);
        self.push(first.addr, &Cell::with_data(id, Command::Create, &skin)?);
        Ok(id)
    }

    /// Routes the replies of `circuit` back through `path`, and into a
    /// mailbox at the last return hop if `mailbox` is set (for clients that
    /// cannot take inbound cells). Applies to reply blocks made from now on.
    pub fn set_return(
        &mut self,
        circuit: u32,
        path: ReturnPath,
        mailbox: Option<[u8; 16]>,
    ) -> Result<(), OnionError> {
        if let ReturnPath::Via(other) = path
            && !self.is_ready(other)
        {
            return Err(OnionError::CircuitNotReady(other));
        }
        let c = circuit_mut(&mut self.circuits, circuit)?;
        c.return_path = path;
        c.mailbox = mailbox;
        Ok(())
    }

    /// Sends `data` to the exit of `circuit`. Hands the exit a batch of reply
    /// blocks first if it has none.
    pub fn send(&mut self, now: Instant, circuit: u32, data: &[u8]) -> Result<(), OnionError> {
        if !self.is_ready(circuit) {
            return Err(OnionError::CircuitNotReady(circuit));
        }
        // Reply blocks expire: past half their lifetime the batch at the
        // exit may not last the answer, so hand it a fresh one (the exit
        // discards the old ones as they age).
        let stale = self.circuits.get(&circuit).is_some_and(|c| {
            now.saturating_duration_since(c.surbs_at).as_nanos()
                > self.config.surb_ttl.as_nanos() / 2
        });
        if stale && let Some(c) = self.circuits.get_mut(&circuit) {
            // Count the old ones as gone (an undercount only means an extra
            // batch when the exit next asks).
            c.surbs_out = 0;
        }
        if self.surbs_outstanding(circuit) == 0 {
            self.send_surb_batch(now, circuit)?;
        }
        let mut msg = Vec::with_capacity(1 + data.len());
        msg.push(KIND_DATA);
        msg.extend_from_slice(data);
        self.send_message(now, circuit, &msg)
    }

    /// Hands the exit of `circuit` a fresh batch of reply blocks.
    pub fn send_surb_batch(&mut self, now: Instant, circuit: u32) -> Result<(), OnionError> {
        let count = self.config.surb_batch;
        let batch = self.make_surbs(now, circuit, count)?;
        self.send_message(now, circuit, &encode_surb_batch(&batch))?;
        if let Some(c) = self.circuits.get_mut(&circuit) {
            c.surbs_out += count;
            c.surbs_at = now;
        }
        Ok(())
    }

    /// Sends a cover cell along `circuit` that hop `hop` recognises and drops.
    pub fn send_cover(&mut self, now: Instant, circuit: u32, hop: usize) -> Result<(), OnionError> {
        let cell = self.forward_cell(now, circuit, hop, SlotCmd::Cover, &[])?;
        self.push_circuit(circuit, &cell)
    }

    /// Tears `circuit` down.
    pub fn destroy(&mut self, circuit: u32) {
        if let Some(c) = self.circuits.remove(&circuit) {
            self.by_handle.remove(&c.handle);
            self.surbs.retain(|_, r| r.circuit != circuit);
            self.outbox.push_back(Transmit {
                to: c.first,
                bytes: Cell::new(circuit, Command::Destroy).encode(),
            });
        }
    }

    /// Asks the mailbox relay of `circuit` for the replies it holds.
    pub fn poll_mailbox(&mut self, circuit: u32) -> Result<(), OnionError> {
        let c = circuit_ref(&self.circuits, circuit)?;
        let id = c.mailbox.ok_or(OnionError::Mailbox { reason: "unknown" })?;
        let holder = match c.return_path {
            ReturnPath::Reverse => c.first,
            ReturnPath::Via(other) => circuit_ref(&self.circuits, other)?.first,
        };
        self.push(holder, &Cell::with_data(0, Command::MailboxPoll, &id)?);
        Ok(())
    }

    // ----- inputs -------------------------------------------------------------

    /// Handles one cell from `from`.
    pub fn handle(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), OnionError> {
        let cell = Cell::decode(bytes)?;
        match cell.cmd {
            Command::Created => self.on_created(now, from, &cell),
            Command::Surb | Command::MailboxData => self.on_reply(now, &cell),
            Command::Destroy => {
                let c = self
                    .circuits
                    .get(&cell.id)
                    .ok_or(OnionError::UnknownSession {
                        what: "circuit",
                        id: cell.id,
                    })?;
                if c.first != from {
                    return Err(OnionError::Unexpected {
                        what: "destroy from a non-neighbour",
                    });
                }
                self.fail(cell.id, CircuitFailure::Destroyed);
                Ok(())
            }
            Command::Padding => Ok(()),
            _ => Err(OnionError::Unexpected {
                what: "relay-side cell at a client",
            }),
        }
    }

    /// Fails circuits whose build timed out and forgets expired reply blocks.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut late: Vec<u32> = self
            .circuits
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| now >= d))
            .map(|(id, _)| *id)
            .collect();
        // Map order is random per process; outputs must not depend on it.
        late.sort_unstable();
        for id in late {
            self.fail(id, CircuitFailure::Timeout);
        }
        self.surbs.retain(|_, r| r.secrets.expiry >= now);
    }

    // ----- outputs ------------------------------------------------------------

    /// The next cell to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        crate::net::pop_drained(&mut self.outbox)
    }

    /// Work done so far.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// For a circuit still being built: the hop whose handshake is awaited.
    pub fn stalled_hop(&self, circuit: u32) -> Option<NodeId> {
        let c = self.circuits.get(&circuit)?;
        if c.hops.len() >= c.path.len() {
            return None;
        }
        c.path.get(c.hops.len()).map(|h| h.node)
    }

    /// The next build deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.circuits.values().filter_map(|c| c.deadline).min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        crate::net::pop_drained(&mut self.events)
    }

    // ----- handlers -----------------------------------------------------------

    fn on_created(
        &mut self,
        now: Instant,
        from: SocketAddr,
        cell: &Cell,
    ) -> Result<(), OnionError> {
        let c = self
            .circuits
            .get_mut(&cell.id)
            .ok_or(OnionError::UnknownSession {
                what: "circuit",
                id: cell.id,
            })?;
        if c.first != from || !c.hops.is_empty() {
            return Err(OnionError::Unexpected {
                what: "created out of place",
            });
        }
        let mut reply = [0u8; REPLY_LEN];
        reply.copy_from_slice(&cell.body[..REPLY_LEN]);
        self.complete_hop(now, cell.id, &reply)
    }

    fn complete_hop(
        &mut self,
        now: Instant,
        circuit: u32,
        reply: &[u8; REPLY_LEN],
    ) -> Result<(), OnionError> {
        let c = circuit_mut(&mut self.circuits, circuit)?;
        let ntor = c.pending.take().ok_or(OnionError::Unexpected {
            what: "handshake reply with no handshake pending",
        })?;
        let keys = match ntor
            .finish(reply, KEY_MATERIAL_LEN)
            .and_then(|m| HopKeys::from_material(&m))
        {
            Ok(k) => k,
            Err(e) => {
                self.fail(circuit, CircuitFailure::Error(e.clone()));
                return Err(e);
            }
        };
        c.hops.push(keys);
        if c.hops.len() == c.path.len() {
            c.deadline = None;
            self.events.push_back(ClientEvent::CircuitReady { circuit });
            return Ok(());
        }
        self.extend(now, circuit)
    }

    /// Sends an `Extend` to the last built hop for the next hop in the path.
    fn extend(&mut self, now: Instant, circuit: u32) -> Result<(), OnionError> {
        let c = circuit_ref(&self.circuits, circuit)?;
        let k = c.hops.len();
        let next = c.path[k];
        let sealer = k - 1;
        let (ntor, skin) = NtorClient::new(
            next.node.ntor_id(),
            next.onion_key,
            self.config.fidelity,
            &mut self.crypto,
        );
        self.stats.handshakes += 1;
        // The answer comes back through the hops before the sealer, reversed.
        let ret: Vec<ReturnHop<'_>> = (0..sealer)
            .rev()
            .map(|i| ReturnHop {
                keys: &c.hops[i],
                addr: c.path[i].addr,
            })
            .collect();
        self.stats.surbs_built += 1;
        let (reply, secrets) = surb::build(
            &ret,
            &self.recv,
            c.handle,
            self.addr,
            Delivery::Direct { addr: self.addr },
            now + self.config.surb_ttl,
            &mut self.crypto,
        )?;
        self.surbs.insert(
            secrets.id,
            SurbRecord {
                circuit,
                sealer,
                secrets,
                extend: true,
            },
        );
        let req = ExtendRequest {
            next: next.addr,
            onionskin: skin,
            reply,
        };
        let cell = self.forward_cell(now, circuit, sealer, SlotCmd::Extend, &req.encode())?;
        if let Some(c) = self.circuits.get_mut(&circuit) {
            c.pending = Some(ntor);
        }
        self.push_circuit(circuit, &cell)
    }

    fn on_reply(&mut self, now: Instant, cell: &Cell) -> Result<(), OnionError> {
        let circuit = *self
            .by_handle
            .get(&cell.id)
            .ok_or(OnionError::UnknownSession {
                what: "handle",
                id: cell.id,
            })?;
        let ad = layer_ad(cell.id, Direction::Receive);
        let (_, own) = open_slot(&self.recv, &ad, &cell.body)?;
        if now > own.expiry {
            return Err(OnionError::Expired {
                expiry: own.expiry,
                now,
            });
        }
        let record = self
            .surbs
            .remove(&own.seq)
            .ok_or(OnionError::ReplayedSurb)?;
        if record.circuit != circuit {
            return Err(OnionError::Unexpected {
                what: "reply block of another circuit",
            });
        }
        let c = circuit_mut(&mut self.circuits, circuit)?;
        let sealer = c.hops.get(record.sealer).ok_or(OnionError::Unexpected {
            what: "reply sealed by an unknown hop",
        })?;
        let plain = surb::open_reply(&record.secrets, sealer, &cell.body)?;
        self.stats.replies_opened += 1;
        let (flags, frag) = plain.split_first().ok_or(OnionError::Malformed {
            what: "reply",
            reason: "empty",
        })?;
        if flags & FLAG_PADDING != 0 && !record.extend {
            // Downstream padding: it spent a reply block and carries nothing.
            c.surbs_out = c.surbs_out.saturating_sub(1);
            self.stats.padding_received += 1;
            if flags & FLAG_WANT_SURBS != 0 && c.surbs_out < self.config.surb_batch / 2 {
                self.send_surb_batch(now, circuit)?;
            }
            return Ok(());
        }
        let f = fragment::parse(frag)?;
        if record.extend {
            let reply = decode_extended(f.data)?;
            return self.complete_hop(now, circuit, &reply);
        }
        c.surbs_out = c.surbs_out.saturating_sub(1);
        let low = c.surbs_out < self.config.surb_batch / 2;
        let messages = c
            .reassembly
            .push_ordered(&f, REPLY_CAPACITY - 1 - FRAGMENT_HEADER_LEN)?;
        if flags & FLAG_WANT_SURBS != 0 && low {
            self.send_surb_batch(now, circuit)?;
        }
        for m in messages {
            match m.split_first() {
                Some((&KIND_DATA, data)) => self.events.push_back(ClientEvent::Reply {
                    circuit,
                    message: data.to_vec(),
                }),
                _ => {
                    return Err(OnionError::Malformed {
                        what: "reply message",
                        reason: "unknown kind",
                    });
                }
            }
        }
        Ok(())
    }

    // ----- internals ----------------------------------------------------------

    fn send_message(&mut self, now: Instant, circuit: u32, msg: &[u8]) -> Result<(), OnionError> {
        let c = circuit_mut(&mut self.circuits, circuit)?;
        let id = c.next_msg_id;
        c.next_msg_id = c.next_msg_id.wrapping_add(1);
        let target = c.hops.len() - 1;
        for frag in fragment::split(id, msg, SEALED_PAYLOAD_LEN)? {
            let cell = self.forward_cell(now, circuit, target, SlotCmd::Deliver, &frag)?;
            self.push_circuit(circuit, &cell)?;
        }
        Ok(())
    }

    /// Reply blocks for `circuit`'s exit along its return path.
    fn make_surbs(
        &mut self,
        now: Instant,
        circuit: u32,
        count: usize,
    ) -> Result<Vec<Surb>, OnionError> {
        let c = circuit_ref(&self.circuits, circuit)?;
        let sealer = c.hops.len() - 1;
        let (keys, addrs): (&[HopKeys], Vec<SocketAddr>) = match c.return_path {
            ReturnPath::Reverse => (
                &c.hops[..sealer],
                c.path[..sealer].iter().map(|h| h.addr).collect(),
            ),
            ReturnPath::Via(other) => {
                let o = circuit_ref(&self.circuits, other)?;
                (&o.hops[..], o.path.iter().map(|h| h.addr).collect())
            }
        };
        let ret: Vec<ReturnHop<'_>> = keys
            .iter()
            .zip(addrs)
            .rev()
            .map(|(k, addr)| ReturnHop { keys: k, addr })
            .collect();
        let delivery = match c.mailbox {
            Some(m) => Delivery::Mailbox(m),
            None => Delivery::Direct { addr: self.addr },
        };
        let mut out = Vec::with_capacity(count);
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            let (s, secrets) = surb::build(
                &ret,
                &self.recv,
                c.handle,
                self.addr,
                delivery,
                now + self.config.surb_ttl,
                &mut self.crypto,
            )?;
            out.push(s);
            records.push(secrets);
        }
        self.stats.surbs_built += count as u64;
        for secrets in records {
            self.surbs.insert(
                secrets.id,
                SurbRecord {
                    circuit,
                    sealer,
                    secrets,
                    extend: false,
                },
            );
        }
        Ok(out)
    }

    /// A forward cell for hop `target` of `circuit`, layered from `target`
    /// outwards; `plain` is sealed end to end for `target`.
    fn forward_cell(
        &mut self,
        now: Instant,
        circuit: u32,
        target: usize,
        cmd: SlotCmd,
        plain: &[u8],
    ) -> Result<Cell, OnionError> {
        let expiry = now + self.config.cell_ttl;
        let c = circuit_mut(&mut self.circuits, circuit)?;
        if target >= c.hops.len() {
            return Err(OnionError::CircuitNotReady(circuit));
        }
        let seq = c.seq;
        c.seq += 1;
        self.stats.forward_cells += 1;
        self.stats.layers_sealed += target as u64 + 1;
        let hops = &c.hops;
        let nonces: Vec<[u8; NONCE_LEN]> = (0..=target)
            .map(|_| {
                let mut n = [0u8; NONCE_LEN];
                self.crypto.fill_bytes(&mut n);
                n
            })
            .collect();
        let mut body: Box<Body> = Box::new([0u8; BODY_LEN]);
        self.crypto.fill_bytes(&mut body[..]);
        if cmd != SlotCmd::Cover {
            let ad = layer_ad(hops[target].handle, Direction::Forward);
            seal_into(
                &hops[target].fwd,
                &nonces[target],
                &ad,
                plain,
                &mut body[ROUTING_LEN..],
            )?;
        }
        for i in (0..=target).rev() {
            let header = SlotHeader {
                cmd: if i == target { cmd } else { SlotCmd::Forward },
                surb: false,
                seq,
                expiry,
                next: NextHop::None,
            };
            let ad = layer_ad(hops[i].handle, Direction::Forward);
            body = wrap(&hops[i].fwd, nonces[i], &ad, &header, &body)?;
        }
        Ok(Cell {
            id: circuit,
            cmd: Command::Relay,
            body,
        })
    }

    fn push_circuit(&mut self, circuit: u32, cell: &Cell) -> Result<(), OnionError> {
        let first = circuit_ref(&self.circuits, circuit)?.first;
        self.push(first, cell);
        Ok(())
    }

    fn push(&mut self, to: SocketAddr, cell: &Cell) {
        self.outbox.push_back(Transmit {
            to,
            bytes: cell.encode(),
        });
    }

    fn fail(&mut self, circuit: u32, reason: CircuitFailure) {
        let stalled_at = self.stalled_hop(circuit);
        if let Some(c) = self.circuits.remove(&circuit) {
            self.by_handle.remove(&c.handle);
            self.surbs.retain(|_, r| r.circuit != circuit);
            self.events.push_back(ClientEvent::CircuitFailed {
                circuit,
                reason,
                stalled_at,
            });
        }
    }
}

/// The circuit `id`, or `CircuitNotReady` (a free function, so that callers
/// can hold it while using the engine's other fields).
fn circuit_ref(circuits: &HashMap<u32, Circuit>, id: u32) -> Result<&Circuit, OnionError> {
    circuits.get(&id).ok_or(OnionError::CircuitNotReady(id))
}

/// As [`circuit_ref`], mutably.
fn circuit_mut(circuits: &mut HashMap<u32, Circuit>, id: u32) -> Result<&mut Circuit, OnionError> {
    circuits.get_mut(&id).ok_or(OnionError::CircuitNotReady(id))
}
