//! Typed records a run emits (analysis turns them into Parquet). One row per
//! protocol session; later issues add columns.

use serde::{Deserialize, Serialize};

/// One session: a route from a client through relays to a service, and the
/// turns it carried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Sweep point.
    pub point: u32,
    /// Replicate of the point.
    pub replicate: u32,
    /// Session number within the replicate, in opening order.
    pub session_id: u64,
    /// Client node index.
    pub client: u32,
    /// Entry relay node index.
    pub entry: u32,
    /// Exit (service) node index.
    pub exit: u32,
    /// `ghost` or `gpu`.
    pub exit_kind: String,
    /// Relays on the route.
    pub hops: u32,
    /// The entry relay is the adversary's.
    pub entry_adversarial: bool,
    /// The exit is the adversary's.
    pub exit_adversarial: bool,
    /// Ground truth: both ends adversarial.
    pub ends_compromised: bool,
    /// The adversary's matcher named this session's client through this
    /// session's own entry flow.
    pub linked: bool,
    /// The client the adversary guessed (node index), if it guessed.
    pub link_guess: Option<u32>,
    /// The guessed client is the true client.
    pub link_guess_correct: bool,
    /// The matcher's alignment score of its guess, in [0, 1].
    pub link_score: Option<f64>,
    /// Turns answered.
    pub turns: u32,
    /// Input tokens over all turns (each turn carries the conversation so far).
    pub prompt_tokens: u64,
    /// Output tokens over all turns.
    pub output_tokens: u64,
    /// When the session opened, ns of virtual time.
    pub started_ns: u64,
    /// When the first token of the first turn arrived.
    pub first_token_ns: Option<u64>,
    /// When the last turn finished.
    pub completed_ns: Option<u64>,
    /// `ok`, or the failure reason.
    pub outcome: String,
    /// Mint-exit collusion: payers consistent with the session's first
    /// payment (null unless its exit colludes with a mint and the payment's
    /// denominations were seen at that mint).
    #[serde(default)]
    pub mint_candidates: Option<u32>,
    /// Entropy of the attacker's payer distribution, bits (`2^H` is the
    /// effective anonymity set).
    #[serde(default)]
    pub mint_entropy_bits: Option<f64>,
    /// The mint-exit attacker named the right client (null unless the exit
    /// colludes with a mint).
    #[serde(default)]
    pub mint_linked: Option<bool>,
    /// Passive observers linked this session's service leg to its client
    /// at the operating point (null without observers).
    #[serde(default)]
    pub observer_linked: Option<bool>,
    /// Linked by any channel measured (entry–exit matcher, mint-exit,
    /// passive observers, a baseline's operator).
    #[serde(default)]
    pub linked_any: bool,
    /// The system the session ran on: `peer2prompt`, `llm_tor` or `direct`.
    #[serde(default)]
    pub system: String,
    /// A baseline's operator attacker named the right client (LLM-Tor: by
    /// purchase timing; direct API: from its log). Null unless
    /// `adversary.operator` is set and the operator saw the session.
    #[serde(default)]
    pub operator_linked: Option<bool>,
    /// LLM-Tor: accounts issued tokens in the purchase-timing window before
    /// the session's first redemption (the anonymity set); null otherwise.
    #[serde(default)]
    pub operator_candidates: Option<u32>,
}

/// One answered turn: timing, tokens, price, and what auditing it found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// The session row it belongs to.
    pub session_id: u64,
    /// Client node index.
    pub client: u32,
    /// The service (or baseline operator) node index.
    pub exit: u32,
    /// Ground truth: the exit serves a cheaper model than it advertises.
    pub exit_substitutes: bool,
    /// When the turn started, ns.
    pub started_ns: u64,
    /// First token, ns.
    pub first_token_ns: u64,
    /// Last token (and receipt), ns.
    pub done_ns: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// What the receipt charged, msat (0 for the baselines).
    pub charged_msat: u64,
    /// The audit's outcome: `passed`, a fraud kind, `uncommitted`, or null
    /// when the turn was not audited.
    pub audit: Option<String>,
    /// A challenge probe: whether it passed (a failed probe has no answer:
    /// its row has zero tokens and zero duration); null for other turns.
    #[serde(default)]
    pub probe: Option<bool>,
}

/// One (client-side flow, service-side flow) pair the observers' attacker
/// compared, with the truth label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationRecord {
    /// Sweep point.
    pub point: u32,
    /// Replicate index within its sweep point.
    pub replicate: u32,
    /// Client-side flow number (within the replicate).
    pub client_flow: u32,
    /// Service-side flow number.
    pub service_flow: u32,
    /// When the client-side flow started, ns.
    pub client_flow_start_ns: u64,
    /// When the service-side flow started, ns.
    pub service_flow_start_ns: u64,
    /// The attacker's score, in [-1, 1].
    pub score: f64,
    /// Ground truth: both flows carried one session.
    pub truth: bool,
}

/// What one replicate did, beside its sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicateStats {
    /// Nodes simulated.
    pub nodes: u64,
    /// Events processed.
    pub events: u64,
    /// Datagrams delivered.
    pub datagrams: u64,
    /// Datagrams lost.
    pub lost: u64,
    /// Virtual time at the end, ns.
    pub virtual_ns: u64,
    /// Adversarial relays.
    pub adversarial_relays: u64,
    /// Number of relays.
    pub relays: u64,
    /// Adversarial exits.
    pub adversarial_exits: u64,
    /// Exits (Ghosts and GPU nodes).
    pub exits: u64,
    /// Key generations the adversary's identities cost (static puzzle).
    pub adversary_keygens: u64,
    /// Proof-of-work hashes the adversary's identities cost.
    pub adversary_pow_hashes: u64,
    /// Workload turns that failed before any session opened.
    pub failed_without_session: u64,
    /// Conversations started in the measured period.
    pub conversations: u64,
    /// Invariant checks run.
    pub invariant_checks: u64,
    /// Nodes that went offline (churn).
    pub departures: u64,
    /// Bytes sent over the network (every datagram): the bandwidth cost.
    #[serde(default)]
    pub bytes_sent: u64,
    /// Client-side flows the observers saw.
    #[serde(default)]
    pub observer_client_flows: u64,
    /// Service-side flows the observers saw.
    #[serde(default)]
    pub observer_service_flows: u64,
    /// True pairs among all client × service flows (compared or pruned).
    #[serde(default)]
    pub observer_true_pairs: u64,
    /// Clients simulated.
    #[serde(default)]
    pub clients: u64,
    /// Clients that rejected a mint (its keysets differed between two
    /// fetches: key tagging detected).
    #[serde(default)]
    pub clients_rejecting_a_mint: u64,
    /// Peer input the nodes refused, by `layer/kind` (e.g.
    /// `onion/bad_mac`): counted, never silently dropped.
    #[serde(default)]
    pub peer_errors: std::collections::BTreeMap<String, u64>,
    /// The adversary's share of the relays' advertised bandwidth (m_w).
    #[serde(default)]
    pub adversary_relay_weight_share: f64,
}

/// A replicate's output: a network run's records or a market run's.
// One value per replicate, moved once to the writer: the size difference
// between the variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum ReplicateResult {
    /// A network scenario: sessions, counters, audits, observers.
    Network(NetworkReplicate),
    /// A market scenario (`market:`): agents' days and jobs.
    Market(MarketReplicate),
}

impl ReplicateResult {
    /// The network replicate, if this is one.
    pub fn into_network(self) -> Option<NetworkReplicate> {
        match self {
            ReplicateResult::Network(n) => Some(n),
            ReplicateResult::Market(_) => None,
        }
    }
}

/// Which replicate a record belongs to: its sweep point, its index within
/// the point and its master seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicateKey {
    /// Sweep point.
    pub point: u32,
    /// Replicate index within its sweep point.
    pub replicate: u32,
    /// Its master seed.
    pub seed: u64,
}

/// A market replicate: its key and the market's records.
#[derive(Clone, Debug)]
pub struct MarketReplicate {
    /// Which replicate.
    pub key: ReplicateKey,
    /// What the market recorded (the runner stores it as tables).
    pub run: crate::economics::market::MarketRun,
}

impl MarketReplicate {
    /// The network records of a market replicate: its key, no sessions
    /// (a market scenario writes empty network datasets beside its own).
    pub fn network_part(&self) -> NetworkReplicate {
        NetworkReplicate {
            key: self.key,
            ..NetworkReplicate::default()
        }
    }
}

/// A network replicate's records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkReplicate {
    /// Which replicate (flattened: the checkpoint JSON keeps `point`,
    /// `replicate` and `seed` at its top level).
    #[serde(flatten)]
    pub key: ReplicateKey,
    /// One row per session.
    pub sessions: Vec<SessionRecord>,
    /// Event and error counts of the replicate.
    pub stats: ReplicateStats,
    /// Data-visibility matrices of the audited sessions.
    #[serde(default)]
    pub visibility: Vec<crate::audit::AuditedSession>,
    /// The observers' compared pairs (empty without observers).
    #[serde(default)]
    pub correlation: Vec<CorrelationRecord>,
    /// What the selective denial of service did (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dos: Option<Box<crate::adversary::selective_dos::DosStats>>,
    /// Each measured session's account at its service (absent without
    /// double-spending clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Vec<crate::ledger::LedgerRecord>>,
    /// Each measured session and what a prompt-harvesting exit kept of it
    /// (absent unless `adversary.harvest_prompts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Vec<crate::exposure::ExposureRecord>>,
    /// What a local vantage saw of each measured session (absent unless
    /// `adversary.observers.vantage_records`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<Vec<crate::vantage::VantageRecord>>,
    /// Each client's directory view at the end (absent without Sybils).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<Vec<crate::views::DirectoryView>>,
    /// Where the profile attacker put each measured session (absent unless
    /// `adversary.profiles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<crate::profiles::ProfileRecord>>,
    /// Every answered turn (`turns.parquet`), kept under verified
    /// inference and for the baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<Vec<TurnRecord>>,
}
