//! The relay side of onion routing: what every node runs for circuits other
//! nodes build through it, whether it is a middle hop or the endpoint (a Ghost
//! or GPU node is the endpoint of its clients' circuits).
//!
//! Sans-IO, in the quinn-proto style: `handle` takes bytes from a peer with
//! `now`; `reply` is the endpoint's command to answer through reply blocks;
//! `poll_transmit`, `poll_timeout` and `poll_event` are the outputs. Per-hop
//! random delays are decided here and released by the driver's clock
//! (whitepaper "Traffic Analysis Countermeasures": randomized delays in
//! bounded ranges).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;

use super::OnionError;
use super::cell::{CELL_LEN, Cell, Command, ROUTING_LEN};
use super::fragment::{self, Reassembler, ReassemblyLimits};
use super::header::{NextHop, SlotCmd};
use super::layer::{Direction, HopKeys, KEY_MATERIAL_LEN, layer_ad, open_sealed, open_slot, peel};
use super::messages::{
    ExtendRequest, FLAG_PADDING, FLAG_WANT_SURBS, KIND_DATA, KIND_SURBS, decode_surb_batch,
};
use super::ntor::{self, ONIONSKIN_LEN, REPLY_LEN};
use super::observe::{HopObservation, ObservedCell, ObservedNext};
use super::replay::{ReplayWindow, SurbTags};
use super::shaping::{DownstreamShaping, Due, Shaper};
use super::surb::{REPLY_CAPACITY, Surb, seal_reply};
use crate::fidelity::CryptoFidelity;
use crate::identity::{Identity, OnionKeyring};
use crate::time::{Duration, Instant};

pub use crate::net::Transmit;

/// Relay behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// Bounds of the random delay added before forwarding each cell, if any.
    pub delay: Option<(Duration, Duration)>,
    /// Reassembly limits for messages this node is the endpoint of.
    pub reassembly: ReassemblyLimits,
    /// Most sessions held at once; further handshakes are refused.
    pub max_sessions: usize,
    /// Most mailboxes held at once.
    pub max_mailboxes: usize,
    /// Most cells one mailbox holds.
    pub mailbox_capacity: usize,
    /// The endpoint asks for more reply blocks when fewer than this remain.
    pub surb_low_water: usize,
    /// The endpoint discards reply blocks held this long: they expire at the
    /// relays of the return path (the client's `surb_ttl`, 600 s by
    /// default), and a reply sealed with one would vanish.
    pub surb_max_age: Duration,
    /// Sessions idle this long are dropped.
    pub idle_timeout: Duration,
    /// Downstream padding and constant-rate streaming for sessions this
    /// node is the endpoint of (off by default).
    pub downstream: DownstreamShaping,
    /// The ntor handshake's crypto fidelity (set by `Node::new` from the
    /// node's identity).
    pub fidelity: CryptoFidelity,
    /// **Adversarial** behaviour (off by default; the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub dangerous_behaviour: RelayAdversary,
}

/// **Adversarial** behaviour of a relay (whitepaper "Adversary and Network
/// Assumptions": packets can be delayed or dropped). The hop still processes
/// and observes every cell; the adversary acts on what it sends on.
#[cfg(feature = "adversary")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayAdversary {
    /// Drops this many parts per million of the cells it would send.
    pub drop_ppm: u32,
    /// Holds every cell this much longer before sending it.
    pub extra_delay: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            delay: None,
            reassembly: ReassemblyLimits::default(),
            max_sessions: 100_000,
            max_mailboxes: 10_000,
            mailbox_capacity: 1024,
            surb_low_water: 4,
            surb_max_age: Duration::from_secs(540),
            idle_timeout: Duration::from_secs(600),
            downstream: DownstreamShaping::default(),
            fidelity: CryptoFidelity::Full,
            #[cfg(feature = "adversary")]
            dangerous_behaviour: RelayAdversary::default(),
        }
    }
}

/// What the relay tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayEvent {
    /// What this hop saw of one cell.
    Observed(HopObservation),
    /// A whole application message for this node, as the endpoint of a
    /// session (at a Ghost: the plaintext request).
    Delivered {
        /// The session it came on; answer with [`OnionRelay::reply`].
        session: u32,
        /// The previous hop.
        prev: SocketAddr,
        /// The message.
        message: Vec<u8>,
    },
    /// A session ended (teardown or idle).
    SessionClosed {
        /// Its handle.
        session: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Link {
    addr: SocketAddr,
    circ: u32,
}

#[derive(Debug)]
struct Session {
    keys: HopKeys,
    prev: Link,
    next: Option<Link>,
    extending: Option<Surb>,
    window: ReplayWindow,
    tags: SurbTags,
    reassembly: Reassembler,
    /// Reply blocks with when they arrived.
    surbs: VecDeque<(Instant, Surb)>,
    replies: VecDeque<Vec<u8>>,
    next_msg_id: u32,
    cells: u64,
    last_active: Instant,
    shaper: Shaper,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    at: Instant,
    seq: u64,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// The relay engine of one node.
pub struct OnionRelay {
    ntor_id: [u8; 20],
    keyring: OnionKeyring,
    config: RelayConfig,
    /// Boxed: a session is large, and the map keeps its table after a
    /// burst of circuits closes (issue 21).
    sessions: HashMap<u32, Box<Session>>,
    inbound: HashMap<Link, u32>,
    outbound: HashMap<Link, u32>,
    mailboxes: HashMap<[u8; 16], VecDeque<Cell>>,
    outbox: BinaryHeap<Reverse<Queued>>,
    queued: u64,
    /// Shaping timers: (when, session). A timer a session no longer holds
    /// is skipped when it comes due.
    timers: BTreeSet<(Instant, u32)>,
    padding_sent: u64,
    events: VecDeque<RelayEvent>,
    crypto: ChaCha20Rng,
    decisions: ChaCha20Rng,
    /// Sessions this hop has stopped forwarding (adversarial only).
    #[cfg(feature = "adversary")]
    stopped: std::collections::HashSet<u32>,
}

impl core::fmt::Debug for OnionRelay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OnionRelay")
            .field("sessions", &self.sessions.len())
            .field("mailboxes", &self.mailboxes.len())
            .finish_non_exhaustive()
    }
}

impl OnionRelay {
    /// A relay for `identity` with `keyring`. `crypto` draws handshake
    /// secrets and nonces; `decisions` draws delays. The two streams are kept
    /// apart so that cryptography can be stubbed without moving a decision.
    pub fn new(
        identity: &Identity,
        keyring: OnionKeyring,
        config: RelayConfig,
        crypto: ChaCha20Rng,
        decisions: ChaCha20Rng,
    ) -> Self {
        OnionRelay {
            ntor_id: identity.node_id().ntor_id(),
            keyring,
            config,
            sessions: HashMap::new(),
            inbound: HashMap::new(),
            outbound: HashMap::new(),
            mailboxes: HashMap::new(),
            outbox: BinaryHeap::new(),
            queued: 0,
            timers: BTreeSet::new(),
            padding_sent: 0,
            events: VecDeque::new(),
            crypto,
            decisions,
            #[cfg(feature = "adversary")]
            stopped: std::collections::HashSet::new(),
        }
    }

    // ----- getters ------------------------------------------------------------

    /// The onion keys.
    pub fn keyring(&self) -> &OnionKeyring {
        &self.keyring
    }

    /// Sessions held.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Handles of the sessions held, in ascending order.
    pub fn sessions(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.sessions.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Reply blocks held for `session`.
    pub fn surbs_available(&self, session: u32) -> usize {
        self.sessions.get(&session).map_or(0, |s| s.surbs.len())
    }

    /// Reply fragments waiting for reply blocks in `session`.
    pub fn replies_pending(&self, session: u32) -> usize {
        self.sessions.get(&session).map_or(0, |s| s.replies.len())
    }

    /// Padding replies sent so far (downstream shaping).
    pub fn padding_sent(&self) -> u64 {
        self.padding_sent
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
            Command::Padding => {
                self.observe(
                    now,
                    0,
                    ObservedCell::Padding,
                    from,
                    ObservedNext::Dropped,
                    true,
                    0,
                );
                Ok(())
            }
            Command::Create => self.on_create(now, from, &cell),
            Command::Created => self.on_created(now, from, &cell),
            Command::Relay => self.on_relay(now, from, cell),
            Command::Surb => self.on_surb(now, from, cell),
            Command::Destroy => self.on_destroy(now, from, &cell),
            Command::MailboxPoll => self.on_mailbox_poll(now, from, &cell),
            Command::MailboxData => Err(OnionError::Unexpected {
                what: "mailbox data at a relay",
            }),
        }
    }

    /// Drops idle sessions and expired reply-block tags.
    pub fn handle_timeout(&mut self, now: Instant) {
        let idle = self.config.idle_timeout;
        let mut stale: Vec<u32> = self
            .sessions
            .iter()
            .filter(|(_, s)| now.saturating_duration_since(s.last_active) > idle)
            .map(|(h, _)| *h)
            .collect();
        // Map order is random per process; outputs must not depend on it.
        stale.sort_unstable();
        for h in stale {
            self.close(h);
        }
        for s in self.sessions.values_mut() {
            s.tags.prune(now);
        }
        while let Some(&(at, handle)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Err(e) = self.on_shaping_timer(at, handle) {
                tracing::debug!("downstream shaping: {e}");
            }
        }
    }

    /// **Adversarial**: stops forwarding `session` (whitepaper "Adversary and
    /// Network Assumptions": packets can be dropped; the selective denial of
    /// service of Borisov et al., CCS 2007). The hop keeps processing and
    /// observing the session's cells, and sends nothing on: no forward cell,
    /// no extension, no delivery to its own service, no reply-block cell
    /// back towards the client and, at an exit, no reply. The client sees a circuit that stalls, as it would at a
    /// failing relay.
    #[cfg(feature = "adversary")]
    pub fn dangerous_stop_forwarding(&mut self, session: u32) {
        if self.sessions.contains_key(&session) {
            self.stopped.insert(session);
        }
    }

    /// Whether this hop still forwards `session` (always, without the
    /// `adversary` feature).
    fn forwards(&self, session: u32) -> bool {
        #[cfg(feature = "adversary")]
        if self.stopped.contains(&session) {
            return false;
        }
        let _ = session;
        true
    }

    /// Changes the adversarial behaviour from now on.
    #[cfg(feature = "adversary")]
    pub fn dangerous_set_behaviour(&mut self, adversary: RelayAdversary) {
        self.config.dangerous_behaviour = adversary;
    }

    /// Rotates onion keys at epoch boundaries (see [`OnionKeyring::maintain`]).
    pub fn maintain_keys(&mut self, identity: &Identity, now: Instant) -> bool {
        self.keyring.maintain(identity, now, &mut self.crypto)
    }

    // ----- commands -----------------------------------------------------------

    /// Answers `session` with `data`, as the endpoint: the message is split
    /// into reply cells, each sent through one of the client's reply blocks.
    /// Cells wait (in order) while no reply block is left; the client is asked
    /// for more before they run out.
    pub fn reply(&mut self, now: Instant, session: u32, data: &[u8]) -> Result<(), OnionError> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(OnionError::UnknownSession {
                what: "handle",
                id: session,
            })?;
        let mut msg = Vec::with_capacity(1 + data.len());
        msg.push(KIND_DATA);
        msg.extend_from_slice(data);
        let id = s.next_msg_id;
        s.next_msg_id = s.next_msg_id.wrapping_add(1);
        // One byte of each reply payload carries the flags.
        for frag in fragment::split(id, &msg, REPLY_CAPACITY - 1)? {
            s.replies.push_back(frag);
        }
        self.start_shaping(now, session);
        self.flush_replies(now, session)
    }

    // ----- outputs ------------------------------------------------------------

    /// The next cell due by `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if self.outbox.peek().is_some_and(|Reverse(q)| q.at <= now) {
            return self.outbox.pop().map(|Reverse(q)| Transmit {
                to: q.to,
                bytes: q.bytes,
            });
        }
        None
    }

    /// When the next delayed cell or shaping timer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let cell = self.outbox.peek().map(|Reverse(q)| q.at);
        let timer = self.timers.first().map(|(at, _)| *at);
        cell.into_iter().chain(timer).min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        crate::net::pop_drained(&mut self.events)
    }

    // ----- handlers -----------------------------------------------------------

    fn on_create(&mut self, now: Instant, from: SocketAddr, cell: &Cell) -> Result<(), OnionError> {
        let link = Link {
            addr: from,
            circ: cell.id,
        };
        if self.inbound.contains_key(&link) {
            return Err(OnionError::Unexpected {
                what: "create on a circuit id in use",
            });
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(OnionError::Unexpected {
                what: "create beyond the session limit",
            });
        }
        let mut skin = [0u8; ONIONSKIN_LEN];
        skin.copy_from_slice(&cell.body[..ONIONSKIN_LEN]);
        let mut b = [0u8; 32];
        b.copy_from_slice(&skin[20..52]);
        let secret = self
            .keyring
            .secret_for(&b, now)
            .ok_or(OnionError::UnknownOnionKey)?;
        let pair = ntor::OnionKeyPair { secret, public: &b };
        let (reply, material) = ntor::server_respond(
            &self.ntor_id,
            pair,
            &skin,
            KEY_MATERIAL_LEN,
            self.config.fidelity,
            &mut self.crypto,
        )?;
        let keys = HopKeys::from_material(&material)?;
        let handle = keys.handle;
        if self.sessions.contains_key(&handle) {
            return Err(OnionError::HandshakeFailed {
                reason: "session handle collision",
            });
        }
        self.sessions.insert(
            handle,
            Box::new(Session {
                keys,
                prev: link,
                next: None,
                extending: None,
                window: ReplayWindow::default(),
                tags: SurbTags::default(),
                reassembly: Reassembler::new(self.config.reassembly),
                surbs: VecDeque::new(),
                replies: VecDeque::new(),
                next_msg_id: 0,
                cells: 1,
                last_active: now,
                shaper: Shaper::default(),
            }),
        );
        self.inbound.insert(link, handle);
        self.send_now(from, &Cell::with_data(cell.id, Command::Created, &reply)?);
        self.observe(
            now,
            handle,
            ObservedCell::Create,
            from,
            ObservedNext::Dropped,
            false,
            1,
        );
        Ok(())
    }

    /// The next hop answered our CREATE: tell the client through its reply block.
    fn on_created(
        &mut self,
        now: Instant,
        from: SocketAddr,
        cell: &Cell,
    ) -> Result<(), OnionError> {
        let link = Link {
            addr: from,
            circ: cell.id,
        };
        let handle = session_on(&self.outbound, link)?;
        let s = self.session_mut(handle)?;
        let surb = s.extending.take().ok_or(OnionError::Unexpected {
            what: "created without a pending extend",
        })?;
        s.next = Some(link);
        s.last_active = now;
        let mut plain = vec![0u8];
        let frag = fragment::split(0, &cell.body[..REPLY_LEN], REPLY_CAPACITY - 1)?;
        plain.extend_from_slice(&frag[0]);
        let keys = s.keys.clone();
        let out = seal_reply(&surb, &keys, &plain, &mut self.crypto)?;
        self.send_now(surb.first_hop, &out);
        Ok(())
    }

    fn on_relay(
        &mut self,
        now: Instant,
        from: SocketAddr,
        mut cell: Cell,
    ) -> Result<(), OnionError> {
        let link = Link {
            addr: from,
            circ: cell.id,
        };
        let handle = session_on(&self.inbound, link)?;
        let s = self.session_mut(handle)?;
        let ad = layer_ad(handle, Direction::Forward);
        let (nonce, header) = open_slot(&s.keys.fwd, &ad, &cell.body)?;
        check_expiry(&header, now)?;
        if header.surb {
            return Err(OnionError::Unexpected {
                what: "reply-block layer on a circuit cell",
            });
        }
        s.window.check_and_insert(header.seq)?;
        s.cells += 1;
        s.last_active = now;
        let cells = s.cells;
        peel(&s.keys.fwd, &nonce, &mut cell.body);
        match header.cmd {
            SlotCmd::Forward => {
                let next = s.next.ok_or(OnionError::Unexpected {
                    what: "forward before the circuit was extended",
                })?;
                cell.id = next.circ;
                self.observe(
                    now,
                    handle,
                    ObservedCell::Relay,
                    from,
                    ObservedNext::Node(next.addr),
                    false,
                    cells,
                );
                if self.forwards(handle) {
                    self.send_delayed(now, next.addr, &cell);
                }
                Ok(())
            }
            SlotCmd::Cover => {
                self.observe(
                    now,
                    handle,
                    ObservedCell::Relay,
                    from,
                    ObservedNext::Dropped,
                    true,
                    cells,
                );
                Ok(())
            }
            SlotCmd::Deliver => {
                let plain = open_sealed(&s.keys.fwd, &nonce, &ad, &cell.body[ROUTING_LEN..])?;
                self.observe(
                    now,
                    handle,
                    ObservedCell::Relay,
                    from,
                    ObservedNext::Local,
                    false,
                    cells,
                );
                if !self.forwards(handle) {
                    return Ok(());
                }
                self.deliver(now, handle, from, &plain)
            }
            SlotCmd::Extend => {
                let plain = open_sealed(&s.keys.fwd, &nonce, &ad, &cell.body[ROUTING_LEN..])?;
                let req = ExtendRequest::decode(&plain)?;
                self.extend(now, handle, from, cells, req)
            }
            SlotCmd::Route => Err(OnionError::Unexpected {
                what: "route layer on a circuit cell",
            }),
        }
    }

    /// Extends a circuit by one hop: sends the CREATE cell onward and
    /// remembers where the CREATED answer must go.
    fn extend(
        &mut self,
        now: Instant,
        handle: u32,
        from: SocketAddr,
        cells: u64,
        req: ExtendRequest,
    ) -> Result<(), OnionError> {
        let s = self.session_mut(handle)?;
        if s.next.is_some() || s.extending.is_some() {
            return Err(OnionError::Unexpected {
                what: "extend of an extended circuit",
            });
        }
        s.extending = Some(req.reply);
        let circ = self.fresh_outbound_circ(req.next);
        self.outbound.insert(
            Link {
                addr: req.next,
                circ,
            },
            handle,
        );
        self.observe(
            now,
            handle,
            ObservedCell::Relay,
            from,
            ObservedNext::Node(req.next),
            false,
            cells,
        );
        if !self.forwards(handle) {
            return Ok(());
        }
        self.send_now(
            req.next,
            &Cell::with_data(circ, Command::Create, &req.onionskin)?,
        );
        Ok(())
    }

    fn on_surb(
        &mut self,
        now: Instant,
        from: SocketAddr,
        mut cell: Cell,
    ) -> Result<(), OnionError> {
        let handle = cell.id;
        let s = self
            .sessions
            .get_mut(&handle)
            .ok_or(OnionError::UnknownSession {
                what: "handle",
                id: handle,
            })?;
        let ad = layer_ad(handle, Direction::Backward);
        let (nonce, header) = open_slot(&s.keys.bwd, &ad, &cell.body)?;
        check_expiry(&header, now)?;
        if !header.surb || header.cmd != SlotCmd::Route {
            return Err(OnionError::Unexpected {
                what: "non-route layer in a reply block",
            });
        }
        s.tags.check_and_insert(header.seq, header.expiry)?;
        s.cells += 1;
        s.last_active = now;
        let cells = s.cells;
        peel(&s.keys.bwd, &nonce, &mut cell.body);
        match header.next {
            NextHop::Node { addr, handle: next } => {
                cell.id = next;
                self.observe(
                    now,
                    handle,
                    ObservedCell::Surb,
                    from,
                    ObservedNext::Node(addr),
                    false,
                    cells,
                );
                if self.forwards(handle) {
                    self.send_delayed(now, addr, &cell);
                }
                Ok(())
            }
            NextHop::Mailbox { .. } if !self.forwards(handle) => Ok(()),
            NextHop::Mailbox { id, handle: owner } => {
                if !self.mailboxes.contains_key(&id)
                    && self.mailboxes.len() >= self.config.max_mailboxes
                {
                    return Err(OnionError::Mailbox {
                        reason: "limit reached",
                    });
                }
                let capacity = self.config.mailbox_capacity;
                let mailbox = self.mailboxes.entry(id).or_default();
                if mailbox.len() >= capacity {
                    return Err(OnionError::Mailbox { reason: "full" });
                }
                cell.cmd = Command::MailboxData;
                cell.id = owner;
                mailbox.push_back(cell);
                self.observe(
                    now,
                    handle,
                    ObservedCell::Surb,
                    from,
                    ObservedNext::Mailbox,
                    false,
                    cells,
                );
                Ok(())
            }
            NextHop::None => Err(OnionError::Malformed {
                what: "reply block layer",
                reason: "no next hop",
            }),
        }
    }

    fn on_destroy(
        &mut self,
        now: Instant,
        from: SocketAddr,
        cell: &Cell,
    ) -> Result<(), OnionError> {
        let link = Link {
            addr: from,
            circ: cell.id,
        };
        if let Some(handle) = self.inbound.get(&link).copied() {
            let next = self.sessions.get(&handle).and_then(|s| s.next);
            self.observe(
                now,
                handle,
                ObservedCell::Destroy,
                from,
                next.map_or(ObservedNext::Dropped, |n| ObservedNext::Node(n.addr)),
                false,
                0,
            );
            if let Some(n) = next {
                self.send_now(n.addr, &Cell::new(n.circ, Command::Destroy));
            }
            self.close(handle);
            return Ok(());
        }
        if let Some(handle) = self.outbound.remove(&link) {
            // The next hop went away: the circuit beyond us is gone.
            if let Some(s) = self.sessions.get_mut(&handle) {
                s.next = None;
                s.extending = None;
            }
            return Ok(());
        }
        Err(OnionError::UnknownSession {
            what: "circuit",
            id: cell.id,
        })
    }

    fn on_mailbox_poll(
        &mut self,
        now: Instant,
        from: SocketAddr,
        cell: &Cell,
    ) -> Result<(), OnionError> {
        let mut id = [0u8; 16];
        id.copy_from_slice(&cell.body[..16]);
        let cells = self
            .mailboxes
            .remove(&id)
            .ok_or(OnionError::Mailbox { reason: "unknown" })?;
        self.observe(
            now,
            0,
            ObservedCell::MailboxPoll,
            from,
            ObservedNext::Node(from),
            false,
            cells.len() as u64,
        );
        for c in cells {
            self.send_now(from, &c);
        }
        Ok(())
    }

    // ----- internals ----------------------------------------------------------

    fn session_mut(&mut self, handle: u32) -> Result<&mut Session, OnionError> {
        self.sessions
            .get_mut(&handle)
            .map(|s| &mut **s)
            .ok_or(OnionError::UnknownSession {
                what: "handle",
                id: handle,
            })
    }

    /// A whole message (or a fragment of one) for this node's application.
    fn deliver(
        &mut self,
        now: Instant,
        handle: u32,
        prev: SocketAddr,
        plain: &[u8],
    ) -> Result<(), OnionError> {
        let f = fragment::parse(plain)?;
        let s = self.session_mut(handle)?;
        let messages = s.reassembly.push_ordered(
            &f,
            super::layer::SEALED_PAYLOAD_LEN - fragment::FRAGMENT_HEADER_LEN,
        )?;
        for message in messages {
            match message.split_first() {
                Some((&KIND_DATA, data)) => {
                    self.events.push_back(RelayEvent::Delivered {
                        session: handle,
                        prev,
                        message: data.to_vec(),
                    });
                    self.start_shaping(now, handle);
                }
                Some((&KIND_SURBS, data)) => {
                    let batch = decode_surb_batch(data)?;
                    self.session_mut(handle)?
                        .surbs
                        .extend(batch.into_iter().map(|b| (now, b)));
                    self.flush_replies(now, handle)?;
                }
                _ => {
                    return Err(OnionError::Malformed {
                        what: "message",
                        reason: "unknown kind",
                    });
                }
            }
        }
        Ok(())
    }

    /// Sends queued reply fragments while reply blocks last. Under
    /// constant-rate streaming they wait for the burst's slots instead.
    fn flush_replies(&mut self, now: Instant, handle: u32) -> Result<(), OnionError> {
        if !self.forwards(handle) {
            if let Some(s) = self.sessions.get_mut(&handle) {
                s.replies.clear();
            }
            return Ok(());
        }
        if self.config.downstream.constant_rate.is_some() {
            return Ok(());
        }
        while self.send_reply_cell(now, handle, true)? {}
        Ok(())
    }

    /// Sends one reply cell of `handle` through its oldest live reply block:
    /// the next waiting fragment if `real`, else a padding reply. Returns
    /// whether a cell left (false: no fragment waits, no reply block is left,
    /// or the session is gone).
    fn send_reply_cell(
        &mut self,
        now: Instant,
        handle: u32,
        real: bool,
    ) -> Result<bool, OnionError> {
        let low = self.config.surb_low_water;
        let max_age = self.config.surb_max_age;
        let Some(s) = self.sessions.get_mut(&handle) else {
            return Ok(false);
        };
        while s
            .surbs
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= max_age)
        {
            s.surbs.pop_front();
        }
        if s.surbs.is_empty() || (real && s.replies.is_empty()) {
            return Ok(false);
        }
        let frag = if real { s.replies.pop_front() } else { None };
        let Some((_, surb)) = s.surbs.pop_front() else {
            return Ok(false);
        };
        // Ask whenever the supply runs low, not only while replies are
        // queued: a streamed answer arrives one fragment at a time, and
        // would otherwise drain the supply with nobody asking for more.
        let mut flags = if s.surbs.len() < low {
            FLAG_WANT_SURBS
        } else {
            0
        };
        if frag.is_none() {
            flags |= FLAG_PADDING;
        }
        let mut plain = Vec::with_capacity(1 + frag.as_ref().map_or(0, Vec::len));
        plain.push(flags);
        plain.extend_from_slice(frag.as_deref().unwrap_or_default());
        let cell = seal_reply(&surb, &s.keys, &plain, &mut self.crypto)?;
        s.cells += 1;
        if real {
            s.last_active = now;
        } else {
            self.padding_sent += 1;
        }
        self.send_delayed(now, surb.first_hop, &cell);
        Ok(true)
    }

    /// A request or a reply on `handle`: starts its downstream shaping if
    /// the policy has any and it is not running.
    fn start_shaping(&mut self, now: Instant, handle: u32) {
        let policy = self.config.downstream;
        if !policy.is_on() {
            return;
        }
        let Some(s) = self.sessions.get_mut(&handle) else {
            return;
        };
        for at in s.shaper.start(now, &policy, &mut self.decisions) {
            self.timers.insert((at, handle));
        }
    }

    /// A shaping timer of `handle` set for `at` came due.
    fn on_shaping_timer(&mut self, at: Instant, handle: u32) -> Result<(), OnionError> {
        let policy = self.config.downstream;
        let Some(due) = self.sessions.get(&handle).and_then(|s| s.shaper.due(at)) else {
            return Ok(());
        };
        let forwards = self.forwards(handle);
        match (due, policy.constant_rate, policy.cover_mean_gap) {
            (Due::Slot, Some(rate), _) => {
                let real = forwards && self.send_reply_cell(at, handle, true)?;
                let sent = real || (forwards && self.send_reply_cell(at, handle, false)?);
                let Some(s) = self.sessions.get_mut(&handle) else {
                    return Ok(());
                };
                let waiting = !s.replies.is_empty();
                if let Some(next) = s.shaper.after_slot(at, &rate, sent, real, waiting) {
                    self.timers.insert((next, handle));
                }
            }
            (Due::Cover, _, Some(mean)) => {
                if forwards {
                    self.send_reply_cell(at, handle, false)?;
                }
                if let Some(s) = self.sessions.get_mut(&handle) {
                    let next = s.shaper.after_cover(at, mean, &mut self.decisions);
                    self.timers.insert((next, handle));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn fresh_outbound_circ(&mut self, addr: SocketAddr) -> u32 {
        loop {
            let circ = self.crypto.next_u32() & super::layer::RELAY_ID_MASK;
            if circ != 0 && !self.outbound.contains_key(&Link { addr, circ }) {
                return circ;
            }
        }
    }

    fn close(&mut self, handle: u32) {
        #[cfg(feature = "adversary")]
        self.stopped.remove(&handle);
        if let Some(s) = self.sessions.remove(&handle) {
            self.inbound.remove(&s.prev);
            if let Some(n) = s.next {
                self.outbound.remove(&n);
            }
            crate::net::shrink_sparse(&mut self.sessions);
            crate::net::shrink_sparse(&mut self.inbound);
            crate::net::shrink_sparse(&mut self.outbound);
            self.events
                .push_back(RelayEvent::SessionClosed { session: handle });
        }
    }

    fn send_now(&mut self, to: SocketAddr, cell: &Cell) {
        self.enqueue(Instant::ZERO, to, cell);
    }

    fn send_delayed(&mut self, now: Instant, to: SocketAddr, cell: &Cell) {
        #[cfg(feature = "adversary")]
        let now = {
            let adversary = self.config.dangerous_behaviour;
            if adversary.drop_ppm > 0
                && self.decisions.next_u64() % 1_000_000 < u64::from(adversary.drop_ppm)
            {
                return;
            }
            now + adversary.extra_delay
        };
        let at = match self.config.delay {
            None => now,
            Some((min, max)) => {
                let span = max.as_nanos().saturating_sub(min.as_nanos());
                let extra = if span == 0 {
                    0
                } else {
                    self.decisions.next_u64() % (span + 1)
                };
                now + Duration::from_nanos(min.as_nanos() + extra)
            }
        };
        self.enqueue(at, to, cell);
    }

    fn enqueue(&mut self, at: Instant, to: SocketAddr, cell: &Cell) {
        let bytes = cell.encode();
        assert_eq!(
            bytes.len(),
            CELL_LEN,
            "every cell on every link has the same size"
        );
        self.queued += 1;
        self.outbox.push(Reverse(Queued {
            at,
            seq: self.queued,
            to,
            bytes,
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        at: Instant,
        session: u32,
        cell: ObservedCell,
        prev: SocketAddr,
        next: ObservedNext,
        cover: bool,
        session_cells: u64,
    ) {
        self.events.push_back(RelayEvent::Observed(HopObservation {
            at,
            session,
            cell,
            prev,
            next,
            cover,
            session_cells,
        }));
    }
}

/// The session behind a link circuit, or [`OnionError::UnknownSession`].
fn session_on(map: &HashMap<Link, u32>, link: Link) -> Result<u32, OnionError> {
    map.get(&link).copied().ok_or(OnionError::UnknownSession {
        what: "circuit",
        id: link.circ,
    })
}

/// Refuses a layer whose expiry has passed.
fn check_expiry(header: &super::header::SlotHeader, now: Instant) -> Result<(), OnionError> {
    if now > header.expiry {
        return Err(OnionError::Expired {
            expiry: header.expiry,
            now,
        });
    }
    Ok(())
}
