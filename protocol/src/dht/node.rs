//! The DHT engine of one node (whitepaper "Peer Discovery (DHT)", "DHT Sybil
//! and Eclipse Attacks").
//!
//! Sans-IO in the quinn-proto style: `handle` takes a datagram with `now`;
//! commands start lookups, stores, bootstrap and capability fetches;
//! `poll_transmit`, `poll_timeout` and `poll_event` are the outputs.
//!
//! Admission: a contact enters the routing table only if its identity claim
//! meets the proof-of-work and static-puzzle requirements and it has proved,
//! once, that it holds its identity key at its address (it signed one of our
//! transaction ids). Adverts are validated by storing nodes and again by the
//! clients that fetch them. Every request received is reported as an
//! observation (who asked for which key, when).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use x25519_dalek::StaticSecret;

use super::advert::{Advert, AdvertPolicy};
use super::capability::{self, CapabilityFetch, CapabilityRequest};
use super::id::{Key, distance, random_in_bucket, shared_prefix};
use super::lookup::{Lookup, LookupOutcome, LookupParams};
use super::table::{Contact, Insert, RoutingTable};
use super::wire::{Body, Message, proof_bytes};
use super::{AdvertInterner, DhtError};
use crate::identity::{Identity, NodeId, verify_signature};
use crate::net::Transmit;
use crate::time::{Duration, Instant};

/// How many of the holders closest to a key hand its adverts to a newly
/// learned node: a few, so that one lost message or one stale table does
/// not leave the newcomer empty, and not all k, which would send each
/// advert k times.
pub const HAND_OVER_BY: usize = 3;

/// DHT behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtConfig {
    /// Bucket size and result size (k).
    pub k: usize,
    /// Parallel queries per lookup path (α).
    pub alpha: usize,
    /// Disjoint lookup paths (S/Kademlia d; 1 = plain Kademlia).
    pub paths: usize,
    /// A request not answered within this long has failed.
    pub rpc_timeout: Duration,
    /// Consecutive failures after which a contact is dropped.
    pub fail_limit: u8,
    /// Buckets not touched for this long are refreshed.
    pub refresh_interval: Duration,
    /// Own adverts are stored again this often until they expire.
    pub republish_interval: Duration,
    /// Identity, epoch and grace rules for admission and adverts.
    pub policy: AdvertPolicy,
    /// Most adverts kept under one key.
    pub max_adverts_per_key: usize,
    /// Most keys with adverts kept.
    pub max_keys: usize,
}

impl Default for DhtConfig {
    /// Kademlia's k = 20 and α = 3 on one path, a two-second RPC timeout,
    /// hourly bucket refresh and adverts stored again every 20 minutes.
    fn default() -> Self {
        DhtConfig {
            k: 20,
            alpha: 3,
            paths: 1,
            rpc_timeout: Duration::from_secs(2),
            fail_limit: 3,
            refresh_interval: Duration::from_secs(3_600),
            republish_interval: Duration::from_secs(1_200),
            policy: AdvertPolicy::default(),
            max_adverts_per_key: 64,
            max_keys: 1_024,
        }
    }
}

/// Which request a node received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// Liveness check.
    Ping,
    /// Node lookup.
    FindNode,
    /// Value lookup (who is looking for which adverts).
    FindValue,
    /// Advert store.
    Store,
    /// Capability fetch.
    Capabilities,
}

/// What a DHT node learns from a request it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhtObservation {
    /// The instant it happened.
    pub at: Instant,
    /// The requester's address.
    pub from: SocketAddr,
    /// The requester's node id.
    pub from_id: NodeId,
    /// What was asked.
    pub query: QueryKind,
    /// The key asked about (the target for node lookups; zero for pings and fetches).
    pub key: Key,
}

/// Identifies a lookup or store.
pub type LookupId = u64;

/// What the engine reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DhtEvent {
    /// A FIND_NODE or FIND_VALUE lookup finished.
    LookupDone {
        /// Its id.
        id: LookupId,
        /// What it found.
        outcome: LookupOutcome,
    },
    /// A store finished: the advert was sent to the closest nodes.
    Stored {
        /// Its id.
        id: LookupId,
        /// How many of them accepted it.
        accepted: usize,
    },
    /// Bootstrap finished.
    Bootstrapped {
        /// Contacts in the table.
        contacts: usize,
    },
    /// A capability fetch finished.
    Capabilities {
        /// The advertiser.
        node: NodeId,
        /// The verified capabilities, or why not.
        result: Result<Vec<u8>, DhtError>,
    },
    /// A request this node received.
    Observed(DhtObservation),
}

#[derive(Debug)]
enum Goal {
    FindNode,
    FindValue,
    Store(Box<Advert>),
}

#[derive(Debug)]
struct LookupEntry {
    lookup: Lookup,
    goal: Goal,
    storing: Option<(usize, usize)>,
    bootstrap: bool,
}

#[derive(Debug)]
enum Purpose {
    Lookup(LookupId),
    Store(LookupId),
    Admission,
    Eviction(Box<Eviction>),
    Seed,
    /// Adverts handed to a newly learned contact that is among the k
    /// closest to their key (answered by `Stored`; nothing waits on it).
    HandOver,
    Capabilities(Box<CapabilityWait>),
}

/// A ping to the least recently seen contact, which stays if it answers
/// and otherwise makes room for `newcomer`. Boxed in [`Purpose`], like
/// [`CapabilityWait`], so that every query in flight stays small (issue 21).
#[derive(Debug)]
struct Eviction {
    lrs: Contact,
    newcomer: Contact,
}

/// An encrypted capability request awaiting its answer.
#[derive(Debug)]
struct CapabilityWait {
    fetch: CapabilityFetch,
    request: CapabilityRequest,
    commitment: [u8; 32],
    node: NodeId,
}

#[derive(Debug)]
struct Rpc {
    to: SocketAddr,
    expect: Option<NodeId>,
    purpose: Purpose,
    deadline: Instant,
    want_proof: bool,
}

#[derive(Debug, Default)]
struct Bootstrap {
    seeds_pending: usize,
    lookups: HashSet<LookupId>,
    started_lookups: bool,
}

/// How an adversarial DHT node answers (whitepaper "DHT Sybil and Eclipse
/// Attacks"; set only through the `adversary` feature's hooks).
#[derive(Clone, Debug, Default)]
struct DhtAttack {
    /// Contacts it answers lookups with instead of its table (empty: it
    /// routes honestly).
    route_to: Vec<Contact>,
    /// Nodes whose stored adverts it serves; it withholds every other one.
    serve: HashSet<NodeId>,
    /// Refuses stores (otherwise it accepts them, and withholds as above).
    refuse_stores: bool,
}

struct Answering {
    secret: StaticSecret,
    salt: [u8; 16],
    capabilities: Vec<u8>,
}

/// The DHT engine of one node.
pub struct Dht {
    identity: Arc<Identity>,
    me: Contact,
    cfg: DhtConfig,
    table: RoutingTable,
    store: HashMap<Key, Vec<Arc<Advert>>>,
    /// Where stored adverts' shared copies come from.
    interner: AdvertInterner,
    rpcs: HashMap<u64, Rpc>,
    /// Boxed: a B-tree leaf holds eleven values, so one lookup alive
    /// would otherwise cost eleven entries' room (issue 21).
    lookups: BTreeMap<LookupId, Box<LookupEntry>>,
    next_lookup: LookupId,
    admitting: HashSet<NodeId>,
    bootstrap: Option<Bootstrap>,
    published: Vec<(Advert, Instant)>,
    last_refresh: Instant,
    answering: Option<Answering>,
    attack: Option<DhtAttack>,
    outbox: VecDeque<Transmit>,
    events: VecDeque<DhtEvent>,
    crypto: ChaCha20Rng,
    decisions: ChaCha20Rng,
}

impl core::fmt::Debug for Dht {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dht")
            .field("me", &self.me)
            .field("contacts", &self.table.len())
            .field("lookups", &self.lookups.len())
            .finish_non_exhaustive()
    }
}

impl Dht {
    /// A DHT node for `identity` at `addr`. `crypto` draws transaction ids
    /// and ephemeral keys; `decisions` draws refresh targets.
    pub fn new(
        identity: Arc<Identity>,
        addr: SocketAddr,
        cfg: DhtConfig,
        crypto: ChaCha20Rng,
        decisions: ChaCha20Rng,
    ) -> Self {
        let me = Contact {
            id: identity.node_id(),
            addr,
        };
        Dht {
            table: RoutingTable::new(me.id, cfg.k),
            identity,
            me,
            cfg,
            store: HashMap::new(),
            interner: AdvertInterner::none(),
            rpcs: HashMap::new(),
            lookups: BTreeMap::new(),
            next_lookup: 1,
            admitting: HashSet::new(),
            bootstrap: None,
            published: Vec::new(),
            last_refresh: Instant::ZERO,
            answering: None,
            attack: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            crypto,
            decisions,
        }
    }

    // ----- getters ------------------------------------------------------------

    /// This node as a contact.
    pub fn me(&self) -> Contact {
        self.me
    }

    /// The routing table.
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// Adverts stored here under `key`.
    pub fn stored(&self, key: &Key) -> &[Arc<Advert>] {
        self.store.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Holds stored adverts as `interner`'s shared copies (the replicas a
    /// process's nodes store of one advert are then one copy).
    pub fn share_adverts(&mut self, interner: AdvertInterner) {
        self.interner = interner;
    }

    /// Lookups in progress.
    pub fn active_lookups(&self) -> usize {
        self.lookups.len()
    }

    // ----- commands -----------------------------------------------------------

    /// Joins the network through the seeds of several independent lists
    /// (whitepaper: multi-source peer bootstrapping): pings every seed, then
    /// looks itself up and refreshes its buckets. Ends with `Bootstrapped`.
    pub fn bootstrap(&mut self, now: Instant, seed_lists: &[Vec<SocketAddr>]) {
        let mut seeds: Vec<SocketAddr> = seed_lists.iter().flatten().copied().collect();
        seeds.sort();
        seeds.dedup();
        seeds.retain(|a| *a != self.me.addr);
        self.bootstrap = Some(Bootstrap {
            seeds_pending: seeds.len(),
            ..Bootstrap::default()
        });
        for addr in seeds {
            self.request(now, addr, None, Body::Ping, Purpose::Seed, true);
        }
        self.advance_bootstrap(now);
    }

    /// Starts a FIND_NODE lookup for `target`.
    pub fn find_node(&mut self, now: Instant, target: Key) -> Result<LookupId, DhtError> {
        self.start(now, target, Goal::FindNode, false)
    }

    /// Starts a FIND_VALUE lookup for the adverts under `key`.
    pub fn find_value(&mut self, now: Instant, key: Key) -> Result<LookupId, DhtError> {
        self.start(now, key, Goal::FindValue, false)
    }

    /// Stores `advert` on the k nodes closest to its key, and again every
    /// republish interval until it expires.
    pub fn publish(&mut self, now: Instant, advert: Advert) -> Result<LookupId, DhtError> {
        advert.validate(now, &self.cfg.policy)?;
        self.published.retain(|(a, _)| a.key() != advert.key());
        self.published
            .push((advert.clone(), now + self.cfg.republish_interval));
        let key = advert.key();
        self.start(now, key, Goal::Store(Box::new(advert)), false)
    }

    /// Answers capability fetches with `capabilities` (committed to with
    /// `salt` in this node's advert), using the epoch's onion secret.
    pub fn set_capabilities(
        &mut self,
        secret: StaticSecret,
        salt: [u8; 16],
        capabilities: Vec<u8>,
    ) {
        self.answering = Some(Answering {
            secret,
            salt,
            capabilities,
        });
    }

    /// Fetches the detailed capabilities behind `advert`'s commitment, over
    /// an encrypted request to the advertiser.
    pub fn fetch_capabilities(&mut self, now: Instant, advert: &Advert) -> Result<(), DhtError> {
        let (request, fetch) = capability::request(&advert.onion.onion_key, &mut self.crypto)?;
        let purpose = Purpose::Capabilities(Box::new(CapabilityWait {
            fetch,
            request,
            commitment: advert.capabilities,
            node: advert.node(),
        }));
        self.request(
            now,
            advert.addr,
            Some(advert.node()),
            Body::CapabilityRequest(request),
            purpose,
            false,
        );
        Ok(())
    }

    /// Sets the number of disjoint paths for lookups started from now on
    /// (1 = plain Kademlia).
    pub fn set_lookup_paths(&mut self, paths: usize) {
        self.cfg.paths = paths.max(1);
    }

    /// **Adversarial.** Answers every lookup with the `k` of `accomplices`
    /// closest to the target, never with honest nodes or values, and refuses
    /// stores (the false-answer Sybil of "DHT Sybil and Eclipse Attacks";
    /// the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_answer_falsely(&mut self, accomplices: Vec<Contact>) {
        self.attack = Some(DhtAttack {
            route_to: accomplices,
            serve: HashSet::new(),
            refuse_stores: true,
        });
    }

    /// **Adversarial.** An eclipse: answers every lookup with the `k` of
    /// `accomplices` closest to the target, accepts stores so that
    /// publishers notice nothing, and serves only the stored adverts of the
    /// nodes in `serve` (the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_eclipse(&mut self, accomplices: Vec<Contact>, serve: HashSet<NodeId>) {
        self.attack = Some(DhtAttack {
            route_to: accomplices,
            serve,
            refuse_stores: false,
        });
    }

    /// **Adversarial.** Poisoning: routes honestly and accepts stores, but
    /// serves only the stored adverts of the nodes in `serve`, withholding
    /// every other one (the `adversary` feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_poison(&mut self, serve: HashSet<NodeId>) {
        self.attack = Some(DhtAttack {
            route_to: Vec::new(),
            serve,
            refuse_stores: false,
        });
    }

    // ----- inputs -------------------------------------------------------------

    /// Handles one datagram.
    pub fn handle(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Result<(), DhtError> {
        let msg = Message::decode(bytes)?;
        let sender = msg.sender.verify_params(&self.cfg.policy.identity)?;
        if sender == self.me.id {
            return Err(DhtError::UnexpectedResponse {
                reason: "message claims our own id",
            });
        }
        if msg.body.is_request() {
            self.on_request(now, from, sender, msg)
        } else {
            self.on_response(now, from, sender, msg)
        }
    }

    /// Expires requests, refreshes stale buckets, prunes expired adverts and
    /// republishes own adverts.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired: Vec<u64> = self
            .rpcs
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        // Map order is random per process; outputs must not depend on it.
        expired.sort_unstable();
        for txid in expired {
            if let Some(rpc) = self.remove_rpc(txid) {
                self.fail(now, rpc);
            }
        }
        if !self.table.is_empty()
            && now.saturating_duration_since(self.last_refresh) >= self.cfg.refresh_interval
        {
            self.last_refresh = now;
            let before = Instant::from_nanos(
                now.as_nanos()
                    .saturating_sub(self.cfg.refresh_interval.as_nanos()),
            );
            for b in self.table.stale_buckets(before) {
                let target = random_in_bucket(&self.me.id.0, b, &mut self.decisions);
                let _ = self.start(now, target, Goal::FindNode, false);
            }
            for adverts in self.store.values_mut() {
                adverts.retain(|a| a.expiry >= now);
            }
            self.store.retain(|_, v| !v.is_empty());
        }
        let due: Vec<Advert> = self
            .published
            .iter()
            .filter(|(a, at)| *at <= now && a.expiry > now)
            .map(|(a, _)| a.clone())
            .collect();
        self.published.retain(|(a, _)| a.expiry > now);
        for (_, at) in self.published.iter_mut() {
            if *at <= now {
                *at = now + self.cfg.republish_interval;
            }
        }
        for advert in due {
            let key = advert.key();
            let _ = self.start(now, key, Goal::Store(Box::new(advert)), false);
        }
    }

    // ----- outputs ------------------------------------------------------------

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        crate::net::pop_drained(&mut self.outbox)
    }

    /// When [`Dht::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rpc = self.rpcs.values().map(|r| r.deadline).min();
        let refresh =
            (!self.table.is_empty()).then(|| self.last_refresh + self.cfg.refresh_interval);
        let republish = self
            .published
            .iter()
            .filter(|(a, _)| a.expiry > Instant::ZERO)
            .map(|(_, at)| *at)
            .min();
        [rpc, refresh, republish].into_iter().flatten().min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        crate::net::pop_drained(&mut self.events)
    }

    // ----- requests we receive ------------------------------------------------

    fn on_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sender: NodeId,
        msg: Message,
    ) -> Result<(), DhtError> {
        let (query, key) = match &msg.body {
            Body::Ping => (QueryKind::Ping, [0u8; 32]),
            Body::FindNode { target } => (QueryKind::FindNode, *target),
            Body::FindValue { key } => (QueryKind::FindValue, *key),
            Body::Store { key, .. } => (QueryKind::Store, *key),
            Body::CapabilityRequest(_) => (QueryKind::Capabilities, [0u8; 32]),
            _ => return Err(not_a_request()),
        };
        self.events.push_back(DhtEvent::Observed(DhtObservation {
            at: now,
            from,
            from_id: sender,
            query,
            key,
        }));
        let (body, outcome) = self.answer(now, &sender, msg.body)?;
        let proof = msg.want_proof.then(|| {
            self.identity
                .sign(&proof_bytes(msg.txid, &sender, &self.me.id))
        });
        let reply = Message {
            txid: msg.txid,
            sender: self.identity.claim(),
            want_proof: false,
            proof,
            body,
        };
        self.outbox.push_back(Transmit {
            to: from,
            bytes: reply.encode(),
        });
        self.learn_requester(now, from, sender, query);
        outcome
    }

    /// The answer to one request, and whether a store it carried was refused
    /// (the refusal is answered, then reported to the driver).
    fn answer(
        &mut self,
        now: Instant,
        sender: &NodeId,
        body: Body,
    ) -> Result<(Body, Result<(), DhtError>), DhtError> {
        let mut outcome = Ok(());
        let body = match body {
            Body::Ping => Body::Pong,
            Body::FindNode { target } => Body::Nodes {
                contacts: self.answer_nodes(&target, sender),
            },
            Body::FindValue { key } => {
                let attack = self.attack.as_ref();
                let adverts: Vec<Advert> = self
                    .stored(&key)
                    .iter()
                    .filter(|a| a.expiry >= now)
                    .filter(|a| attack.is_none_or(|x| x.serve.contains(&a.node())))
                    .map(|a| Advert::clone(a))
                    .collect();
                if adverts.is_empty() {
                    Body::Nodes {
                        contacts: self.answer_nodes(&key, sender),
                    }
                } else {
                    Body::Value { adverts }
                }
            }
            Body::Store { key, advert } => {
                let accepted = match self.accept_store(now, &key, *advert) {
                    Ok(()) => true,
                    Err(e) => {
                        outcome = Err(e);
                        false
                    }
                };
                Body::Stored { accepted }
            }
            Body::CapabilityRequest(req) => match &self.answering {
                Some(a) => Body::CapabilityResponse(capability::respond(
                    &a.secret,
                    &req,
                    &a.salt,
                    &a.capabilities,
                    &mut self.crypto,
                )?),
                None => {
                    return Err(DhtError::CapabilityFetch {
                        reason: "this node publishes no capabilities",
                    });
                }
            },
            _ => return Err(not_a_request()),
        };
        Ok((body, outcome))
    }

    /// Learns about a requester: refreshes it if known at this address, or
    /// verifies it with a ping before it may enter the table.
    fn learn_requester(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sender: NodeId,
        query: QueryKind,
    ) {
        // Pings and capability fetches never trigger a verification ping:
        // otherwise two nodes that do not fit in each other's full buckets
        // would verify each other forever.
        let requester = Contact {
            id: sender,
            addr: from,
        };
        let learns = matches!(
            query,
            QueryKind::FindNode | QueryKind::FindValue | QueryKind::Store
        );
        if self.table.get(&sender) == Some(requester) {
            self.admit(now, requester);
        } else if learns && !self.admitting.contains(&sender) {
            self.admitting.insert(sender);
            self.request(
                now,
                from,
                Some(sender),
                Body::Ping,
                Purpose::Admission,
                true,
            );
        }
    }

    fn answer_nodes(&self, target: &Key, requester: &NodeId) -> Vec<Contact> {
        let k = self.cfg.k;
        if let Some(accomplices) = self
            .attack
            .as_ref()
            .map(|a| &a.route_to)
            .filter(|r| !r.is_empty())
        {
            let mut v: Vec<Contact> = accomplices.clone();
            v.sort_by_key(|c| distance(target, &c.id.0));
            v.truncate(k);
            return v;
        }
        self.table
            .closest(target, k + 1)
            .into_iter()
            .filter(|c| c.id != *requester)
            .take(k)
            .collect()
    }

    fn accept_store(&mut self, now: Instant, key: &Key, advert: Advert) -> Result<(), DhtError> {
        if self.attack.as_ref().is_some_and(|a| a.refuse_stores) {
            return Err(DhtError::UnexpectedResponse {
                reason: "this node refuses stores",
            });
        }
        let node = advert.validate(now, &self.cfg.policy)?;
        if advert.key() != *key {
            return Err(DhtError::WrongKey);
        }
        if !self.store.contains_key(key) && self.store.len() >= self.cfg.max_keys {
            return Err(DhtError::Oversized {
                what: "stored keys",
                size: self.store.len() + 1,
                limit: self.cfg.max_keys,
            });
        }
        let max = self.cfg.max_adverts_per_key;
        let list = self.store.entry(*key).or_default();
        list.retain(|a| a.node() != node && a.expiry >= now);
        if list.len() >= max {
            // Keep the adverts that live longest.
            list.sort_by_key(|a| core::cmp::Reverse(a.expiry));
            list.truncate(max - 1);
        }
        list.push(self.interner.intern(advert));
        Ok(())
    }

    // ----- responses to our requests ------------------------------------------

    fn on_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sender: NodeId,
        msg: Message,
    ) -> Result<(), DhtError> {
        let Some(rpc) = self.take_rpc(now, from, &sender, &msg)? else {
            return Ok(());
        };
        self.admit(
            now,
            Contact {
                id: sender,
                addr: from,
            },
        );
        self.settle(now, &sender, rpc.purpose, msg);
        Ok(())
    }

    /// The request a response answers, removed from the table once it comes
    /// from the peer asked, proves its identity if asked to, and is of the
    /// kind and size the request allows; a failed check fails the request.
    fn take_rpc(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sender: &NodeId,
        msg: &Message,
    ) -> Result<Option<Rpc>, DhtError> {
        let Some(rpc) = self.rpcs.get(&msg.txid) else {
            return Err(DhtError::UnexpectedResponse {
                reason: "unknown transaction",
            });
        };
        if rpc.to != from {
            return Err(DhtError::UnexpectedResponse {
                reason: "from a peer we did not ask",
            });
        }
        let Some(rpc) = self.remove_rpc(msg.txid) else {
            return Ok(None);
        };
        if rpc.expect.is_some_and(|e| e != *sender) {
            self.fail(now, rpc);
            return Err(DhtError::NodeIdMismatch);
        }
        if rpc.want_proof {
            let good = msg.proof.is_some_and(|p| {
                verify_signature(
                    self.cfg.policy.identity.fidelity,
                    &msg.sender.identity_key,
                    &proof_bytes(msg.txid, &self.me.id, sender),
                    &p,
                    "dht proof",
                )
                .is_ok()
            });
            if !good {
                self.fail(now, rpc);
                return Err(DhtError::InvalidProof);
            }
        }
        let matches = matches!(
            (&rpc.purpose, &msg.body),
            (Purpose::Lookup(_), Body::Nodes { .. } | Body::Value { .. })
                | (Purpose::Store(_) | Purpose::HandOver, Body::Stored { .. })
                | (
                    Purpose::Admission | Purpose::Eviction(_) | Purpose::Seed,
                    Body::Pong
                )
                | (Purpose::Capabilities(_), Body::CapabilityResponse(_))
        );
        if !matches {
            self.fail(now, rpc);
            return Err(DhtError::UnexpectedResponse {
                reason: "answer of the wrong kind",
            });
        }
        if let Body::Nodes { contacts } = &msg.body
            && contacts.len() > self.cfg.k
        {
            let size = contacts.len();
            self.fail(now, rpc);
            return Err(DhtError::Oversized {
                what: "contacts",
                size,
                limit: self.cfg.k,
            });
        }
        Ok(Some(rpc))
    }

    /// Acts on a checked response for the purpose of its request.
    fn settle(&mut self, now: Instant, sender: &NodeId, purpose: Purpose, msg: Message) {
        match purpose {
            Purpose::Lookup(id) => self.on_lookup_answer(now, id, sender, msg.body),
            Purpose::Store(id) => {
                if let (Body::Stored { accepted }, Some(entry)) =
                    (&msg.body, self.lookups.get_mut(&id))
                    && let Some((pending, ok)) = entry.storing.as_mut()
                {
                    *pending = pending.saturating_sub(1);
                    *ok += usize::from(*accepted);
                }
                self.advance(now, id);
            }
            Purpose::Admission => {
                self.admitting.remove(sender);
            }
            Purpose::HandOver => {}
            Purpose::Eviction(e) => {
                self.table.ping_answered(&e.lrs, now);
            }
            Purpose::Seed => {
                if let Some(b) = self.bootstrap.as_mut() {
                    b.seeds_pending = b.seeds_pending.saturating_sub(1);
                }
                self.advance_bootstrap(now);
            }
            Purpose::Capabilities(wait) => {
                let CapabilityWait {
                    fetch,
                    request,
                    commitment,
                    node,
                } = *wait;
                let result = match &msg.body {
                    Body::CapabilityResponse(resp) => {
                        capability::open(&fetch, &request, resp, &commitment)
                    }
                    _ => Err(DhtError::CapabilityFetch {
                        reason: "no answer",
                    }),
                };
                self.events
                    .push_back(DhtEvent::Capabilities { node, result });
            }
        }
    }

    /// Feeds a lookup the contacts and valid adverts one peer answered with.
    fn on_lookup_answer(&mut self, now: Instant, id: u64, sender: &NodeId, body: Body) {
        let (contacts, adverts) = match body {
            Body::Nodes { contacts } => (contacts, Vec::new()),
            Body::Value { adverts } => (Vec::new(), adverts),
            _ => (Vec::new(), Vec::new()),
        };
        let me = self.me.id;
        let contacts: Vec<Contact> = contacts.into_iter().filter(|c| c.id != me).collect();
        if let Some(entry) = self.lookups.get_mut(&id) {
            let target = *entry.lookup.target();
            let policy = self.cfg.policy;
            // A fetching client validates every advert it is given,
            // once: the k replicas answer with identical copies.
            let lookup = &entry.lookup;
            let interner = &self.interner;
            let adverts: Vec<Arc<Advert>> = adverts
                .into_iter()
                .filter(|a| {
                    a.key() == target && !lookup.holds(a) && a.validate(now, &policy).is_ok()
                })
                .map(|a| interner.intern(a))
                .collect();
            entry.lookup.on_response(sender, &contacts, adverts);
        }
        self.advance(now, id);
    }

    // ----- internals ----------------------------------------------------------

    /// A verified contact was heard from: put it in the table, pinging the
    /// least recently seen contact of a full bucket first. A contact new to
    /// the table is handed the adverts it should now hold.
    fn admit(&mut self, now: Instant, c: Contact) {
        let new = self.table.get(&c.id).is_none();
        match self.table.insert(c, now) {
            Insert::Inserted if new => self.hand_over(now, c),
            Insert::PingNeeded { lrs } => {
                let want_proof = false;
                self.request(
                    now,
                    lrs.addr,
                    Some(lrs.id),
                    Body::Ping,
                    Purpose::Eviction(Box::new(Eviction { lrs, newcomer: c })),
                    want_proof,
                );
            }
            _ => {}
        }
    }

    /// Kademlia's transfer on join (Maymounkov and Mazières, §2.5: "any
    /// node learning of a new node issues STORE RPCs to transfer relevant
    /// key-value pairs to the new node"): for every key stored here of
    /// which `c` is now one of the k closest nodes we know, send `c` its
    /// adverts, if this node is among the [`HAND_OVER_BY`] closest holders
    /// we know (so not every replica sends them). Without it, adverts stored
    /// before many nodes joined end up on nodes no longer among the k
    /// closest, and readers miss them.
    fn hand_over(&mut self, now: Instant, c: Contact) {
        let mut keys: Vec<Key> = self.store.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let near = self.table.closest(&key, self.cfg.k + 1);
            let mine = distance(&key, &self.me.id.0);
            let theirs = distance(&key, &c.id.0);
            let others = near.iter().filter(|o| o.id != c.id);
            let closer_than_c = others.clone().filter(|o| distance(&key, &o.id.0) < theirs);
            let rank_c = closer_than_c.count() + usize::from(mine < theirs);
            let rank_me = others.filter(|o| distance(&key, &o.id.0) < mine).count();
            if rank_c >= self.cfg.k || rank_me >= HAND_OVER_BY {
                continue;
            }
            let adverts: Vec<Advert> = self
                .stored(&key)
                .iter()
                .filter(|a| a.expiry >= now)
                .map(|a| Advert::clone(a))
                .collect();
            for advert in adverts {
                self.request(
                    now,
                    c.addr,
                    Some(c.id),
                    Body::Store {
                        key,
                        advert: Box::new(advert),
                    },
                    Purpose::HandOver,
                    false,
                );
            }
        }
    }

    fn fail(&mut self, now: Instant, rpc: Rpc) {
        let Rpc {
            expect, purpose, ..
        } = rpc;
        if let Some(id) = expect {
            self.table.record_failure(&id, self.cfg.fail_limit);
        }
        match purpose {
            Purpose::Lookup(lid) => {
                if let (Some(entry), Some(id)) = (self.lookups.get_mut(&lid), expect) {
                    entry.lookup.on_failure(&id);
                }
                self.advance(now, lid);
            }
            Purpose::Store(lid) => {
                if let Some(entry) = self.lookups.get_mut(&lid)
                    && let Some((pending, _)) = entry.storing.as_mut()
                {
                    *pending = pending.saturating_sub(1);
                }
                self.advance(now, lid);
            }
            Purpose::Admission => {
                if let Some(id) = expect {
                    self.admitting.remove(&id);
                }
            }
            Purpose::HandOver => {}
            Purpose::Eviction(e) => {
                self.table.evict(&e.lrs);
                self.admit(now, e.newcomer);
            }
            Purpose::Seed => {
                if let Some(b) = self.bootstrap.as_mut() {
                    b.seeds_pending = b.seeds_pending.saturating_sub(1);
                }
                self.advance_bootstrap(now);
            }
            Purpose::Capabilities(wait) => {
                self.events.push_back(DhtEvent::Capabilities {
                    node: wait.node,
                    result: Err(DhtError::CapabilityFetch {
                        reason: "no answer",
                    }),
                });
            }
        }
    }

    /// Removes a query in flight. A burst (bootstrap, a directory refresh)
    /// can leave the map's table far larger than what stays in flight, so
    /// it is shrunk once it is mostly empty (issue 21): map order is never
    /// observed, so this changes no decision.
    fn remove_rpc(&mut self, txid: u64) -> Option<Rpc> {
        let rpc = self.rpcs.remove(&txid)?;
        crate::net::shrink_sparse(&mut self.rpcs);
        Some(rpc)
    }

    fn request(
        &mut self,
        now: Instant,
        to: SocketAddr,
        expect: Option<NodeId>,
        body: Body,
        purpose: Purpose,
        want_proof: bool,
    ) {
        let txid = loop {
            let t = self.crypto.next_u64();
            if !self.rpcs.contains_key(&t) {
                break t;
            }
        };
        let msg = Message {
            txid,
            sender: self.identity.claim(),
            want_proof,
            proof: None,
            body,
        };
        self.outbox.push_back(Transmit {
            to,
            bytes: msg.encode(),
        });
        self.rpcs.insert(
            txid,
            Rpc {
                to,
                expect,
                purpose,
                deadline: now + self.cfg.rpc_timeout,
                want_proof,
            },
        );
    }

    fn start(
        &mut self,
        now: Instant,
        target: Key,
        goal: Goal,
        bootstrap: bool,
    ) -> Result<LookupId, DhtError> {
        let initial = self.table.closest(&target, self.cfg.k);
        if initial.is_empty() {
            return Err(DhtError::NoContacts);
        }
        let params = LookupParams {
            k: self.cfg.k,
            alpha: self.cfg.alpha,
            paths: self.cfg.paths,
        };
        let id = self.next_lookup;
        self.next_lookup += 1;
        self.lookups.insert(
            id,
            Box::new(LookupEntry {
                lookup: Lookup::new(target, params, &initial),
                goal,
                storing: None,
                bootstrap,
            }),
        );
        self.advance(now, id);
        Ok(id)
    }

    /// Sends a lookup's next queries, or finishes it.
    fn advance(&mut self, now: Instant, id: LookupId) {
        let Some(entry) = self.lookups.get_mut(&id) else {
            return;
        };
        if let Some((pending, accepted)) = entry.storing {
            if pending == 0 {
                self.lookups.remove(&id);
                self.events.push_back(DhtEvent::Stored { id, accepted });
            }
            return;
        }
        if entry.lookup.is_finished() {
            let store = match &entry.goal {
                Goal::Store(advert) => Some(advert.clone()),
                _ => None,
            };
            if let Some(advert) = store {
                let key = advert.key();
                let replicas = entry.lookup.replicas();
                entry.storing = Some((replicas.len(), 0));
                if replicas.is_empty() {
                    self.advance(now, id);
                    return;
                }
                for c in &replicas {
                    let want_proof = self.table.get(&c.id) != Some(*c);
                    self.request(
                        now,
                        c.addr,
                        Some(c.id),
                        Body::Store {
                            key,
                            advert: advert.clone(),
                        },
                        Purpose::Store(id),
                        want_proof,
                    );
                }
                return;
            }
            let outcome = entry.lookup.outcome();
            let bootstrap = entry.bootstrap;
            self.lookups.remove(&id);
            self.events.push_back(DhtEvent::LookupDone { id, outcome });
            if bootstrap && let Some(b) = self.bootstrap.as_mut() {
                b.lookups.remove(&id);
                self.advance_bootstrap(now);
            }
            return;
        }
        let find_value = matches!(entry.goal, Goal::FindValue);
        let target = *entry.lookup.target();
        for (_, c) in entry.lookup.next_queries() {
            let body = if find_value {
                Body::FindValue { key: target }
            } else {
                Body::FindNode { target }
            };
            let want_proof = self.table.get(&c.id) != Some(c);
            self.request(
                now,
                c.addr,
                Some(c.id),
                body,
                Purpose::Lookup(id),
                want_proof,
            );
        }
    }

    fn advance_bootstrap(&mut self, now: Instant) {
        let Some(b) = self.bootstrap.as_mut() else {
            return;
        };
        if b.seeds_pending > 0 {
            return;
        }
        if !b.started_lookups {
            b.started_lookups = true;
            // Look ourselves up, and refresh every bucket farther than our
            // closest neighbour.
            let own = self.me.id.0;
            let closest = self.table.closest(&own, 1);
            let depth = closest
                .first()
                .map(|c| shared_prefix(&own, &c.id.0))
                .unwrap_or(0);
            let mut targets = vec![own];
            for bucket in 0..depth {
                targets.push(random_in_bucket(&own, bucket, &mut self.decisions));
            }
            let mut ids = Vec::new();
            for t in targets {
                if let Ok(id) = self.start(now, t, Goal::FindNode, true) {
                    ids.push(id);
                }
            }
            if let Some(b) = self.bootstrap.as_mut() {
                // Lookups that already finished inside `start` are not pending.
                for id in ids {
                    if self.lookups.contains_key(&id) {
                        b.lookups.insert(id);
                    }
                }
            }
        }
        if self
            .bootstrap
            .as_ref()
            .is_some_and(|b| b.lookups.is_empty())
        {
            self.bootstrap = None;
            self.last_refresh = now;
            self.events.push_back(DhtEvent::Bootstrapped {
                contacts: self.table.len(),
            });
        }
    }
}

fn not_a_request() -> DhtError {
    DhtError::Malformed {
        what: "request",
        reason: "response body",
    }
}
