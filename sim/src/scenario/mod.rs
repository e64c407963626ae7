//! Scenarios: one YAML file per experiment (ARCHITECTURE.md, "Code map",
//! `scenario/`).
//! This file is long because it is the schema: one documented type per
//! block of a scenario, each field with its unit.
//!
//! Unknown fields are refused, units are part of field names, probabilities
//! are typed, and every field is documented here (the JSON Schema printed by
//! `p2psim schema` is generated from these types). [`load`] parses a file,
//! expands its sweep into points and reports errors with file, line, column
//! and field path.

pub mod faults;
mod load;
mod locate;
pub mod market;
pub mod memory;
mod sweep;
pub mod system;
pub mod units;
mod validate;

pub use load::{
    Loaded, Point, ScenarioError, load_file, load_str, point_label, quick_variant, schema_json,
};
pub use system::{LlmTorSpec, System};
pub use units::{Distribution, Probability};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in reports.
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// Master seed: every random stream of every point and replicate derives from it.
    pub seed: u64,
    /// Independent replicates of every sweep point.
    #[serde(default = "one")]
    pub replications: u32,
    /// Crypto fidelity of a network scenario: `full` (default) or
    /// `elide_crypto`, which replaces the curve arithmetic of Ed25519 and of
    /// Cashu's blind signatures with hashing at the same sizes and keeps
    /// every decision, so the datasets are identical and only wall time
    /// differs (see `peer2prompt::fidelity`).
    #[serde(default, skip_serializing_if = "FidelitySpec::is_full")]
    pub fidelity: FidelitySpec,
    /// The system under test: `peer2prompt` (default), or a baseline,
    /// `llm_tor` or `direct` (sweepable, so one scenario compares them).
    #[serde(default)]
    pub system: System,
    /// Who takes part (not used by market scenarios).
    #[serde(default)]
    pub population: Population,
    /// The simulated Internet.
    #[serde(default)]
    pub network: NetworkSpec,
    /// What clients ask for and when (not used by market scenarios).
    #[serde(default)]
    pub workload: Workload,
    /// Protocol options.
    #[serde(default)]
    pub protocol: ProtocolSpec,
    /// The adversary.
    #[serde(default)]
    pub adversary: AdversarySpec,
    /// Nodes joining and leaving.
    #[serde(default)]
    pub churn: ChurnSpec,
    /// Injected faults (misbehaving peers, mint outages).
    #[serde(default, skip_serializing_if = "faults::FaultSpec::is_empty")]
    pub faults: faults::FaultSpec,
    /// The Ghost market: a scenario with this block runs the market
    /// ([`crate::economics::market`]), not the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<market::MarketSpec>,
    /// Parameters varied across points (dotted paths into this document).
    #[serde(default)]
    pub sweep: Option<Sweep>,
    /// The quick variant (`p2psim repro --quick`): values replacing those of
    /// this document, by dotted path (`workload.duration_s`, `replications`,
    /// or a whole sweep axis as `sweep.grid.<parameter>`).
    #[serde(default)]
    pub quick: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

fn one() -> u32 {
    1
}

/// Counts of each role (whitepaper "Roles").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Onion relays (entry-eligible unless guards restrict them).
    pub relays: u32,
    /// Ghost nodes (resell a provider API).
    pub ghosts: u32,
    /// GPU nodes (run models themselves).
    #[serde(default)]
    pub gpus: u32,
    /// Ecash mints.
    #[serde(default = "one")]
    pub mints: u32,
    /// Number of clients.
    pub clients: u32,
    /// Identity proof-of-work difficulty, bits (each identity costs 2^bits hashes on average).
    #[serde(default = "default_pow_bits")]
    pub identity_pow_bits: u8,
    /// The bandwidth each relay advertises, Mbit/s (drawn per relay); unset,
    /// every relay advertises 8 Mbit/s. Routes weigh it only under
    /// `protocol.relay_weighting: bandwidth`.
    #[serde(default)]
    pub relay_bandwidth: Option<Distribution>,
}

fn default_pow_bits() -> u8 {
    8
}

impl Default for Population {
    /// Nobody (what a market scenario leaves out).
    fn default() -> Self {
        Population {
            relays: 0,
            ghosts: 0,
            gpus: 0,
            mints: 1,
            clients: 0,
            identity_pow_bits: default_pow_bits(),
            relay_bandwidth: None,
        }
    }
}

/// The simulated Internet: world regions, autonomous systems and access links.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Share of nodes per world region (normalised; regions of
    /// [`crate::topology::REGIONS`]; missing regions get none).
    pub region_weights: std::collections::BTreeMap<String, f64>,
    /// Autonomous systems per region.
    pub ases_per_region: u32,
    /// Zipf exponent of AS popularity inside a region (0 = uniform).
    pub as_zipf_exponent: f64,
    /// One-way latency of a node's access link, ms.
    pub access_latency_ms: Distribution,
    /// Random extra delay per datagram, ms (uniform in [0, jitter_ms]).
    pub jitter_ms: f64,
    /// Access bandwidth of a node, Mbit/s (serialization delay on the sender).
    pub access_bandwidth_mbps: Distribution,
    /// Probability that a datagram is lost.
    pub loss: Probability,
    /// Share of clients behind NAT: they accept datagrams only from peers
    /// they sent to, and receive replies through mailboxes.
    pub nat_clients: Probability,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            region_weights: [
                ("north_america", 0.35),
                ("europe", 0.35),
                ("asia", 0.2),
                ("south_america", 0.04),
                ("oceania", 0.03),
                ("africa", 0.03),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            ases_per_region: 20,
            as_zipf_exponent: 1.0,
            access_latency_ms: Distribution::Uniform {
                low: 1.0,
                high: 10.0,
            },
            jitter_ms: 2.0,
            access_bandwidth_mbps: Distribution::LogNormal {
                median: 100.0,
                sigma: 0.5,
            },
            loss: Probability::ZERO,
            nat_clients: Probability::ZERO,
        }
    }
}

/// The workload (whitepaper "Request Flow"); lengths calibrated from
/// `shared/reference/request_lengths.csv` (cite the row in `calibration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Warm-up before the measured period (DHT bootstrap, directories, funding), s.
    #[serde(default = "default_warmup")]
    pub warmup_s: f64,
    /// Length of the measured period in which sessions start, s.
    pub duration_s: f64,
    /// After the measured period, how long running sessions may finish, s.
    #[serde(default = "default_drain")]
    pub drain_s: f64,
    /// Session arrivals per client per hour (Poisson process).
    pub sessions_per_client_per_hour: f64,
    /// Turns per session.
    #[serde(default = "one")]
    pub turns_per_session: u32,
    /// Pause between a turn's answer and the next turn, s.
    #[serde(default = "default_think")]
    pub think_time_s: Distribution,
    /// New user-message length, tokens.
    pub prompt_tokens: Distribution,
    /// Output length the provider produces, tokens.
    pub output_tokens: Distribution,
    /// The reference rows the length distributions were fitted to.
    #[serde(default)]
    pub calibration: String,
    /// Model clients ask for.
    #[serde(default = "default_model")]
    pub model: String,
    /// Most output tokens a client asks for.
    #[serde(default = "default_max_output")]
    pub max_output_tokens: u64,
    /// Sat each client funds its wallet with before the measured period.
    #[serde(default = "default_funding")]
    pub funding_sat: u64,
    /// Sessions whose data visibility is audited: the first this many opened
    /// in the measured period (every observation of their nodes is kept, so
    /// keep it small).
    #[serde(default)]
    pub audit_sessions: u32,
    /// Varies the prompts' text and nothing else: lengths and every other
    /// draw stay the same (what the test that attackers never read
    /// content relies on).
    #[serde(default)]
    pub text_seed: u64,
    /// Keep every answered turn (`turns.parquet`) even when neither
    /// verified inference nor a baseline asks for it (a scenario comparing
    /// systems wants Peer2Prompt's turns too).
    #[serde(default)]
    pub record_turns: bool,
}

impl Default for Workload {
    /// No sessions (what a market scenario leaves out).
    fn default() -> Self {
        Workload {
            warmup_s: default_warmup(),
            duration_s: 0.0,
            drain_s: default_drain(),
            sessions_per_client_per_hour: 0.0,
            turns_per_session: 1,
            think_time_s: default_think(),
            prompt_tokens: Distribution::Fixed { value: 1.0 },
            output_tokens: Distribution::Fixed { value: 1.0 },
            calibration: String::new(),
            model: default_model(),
            max_output_tokens: default_max_output(),
            funding_sat: default_funding(),
            audit_sessions: 0,
            text_seed: 0,
            record_turns: false,
        }
    }
}

fn default_warmup() -> f64 {
    120.0
}
fn default_drain() -> f64 {
    120.0
}
fn default_think() -> Distribution {
    Distribution::Exponential { mean: 20.0 }
}
fn default_model() -> String {
    "gpt-4o".into()
}
fn default_max_output() -> u64 {
    2000
}
fn default_funding() -> u64 {
    20_000
}

/// Protocol options the scenario may change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolSpec {
    /// Relays before the exit (whitepaper: 2 or 3; 0 is a one-hop circuit
    /// straight to the service, the direct-call baseline).
    pub relays_per_route: u32,
    /// Entry guards (whitepaper "Route Construction").
    pub guards: GuardSpec,
    /// Random per-hop forwarding delay bounds, ms (none when both are 0).
    pub hop_delay_ms: [f64; 2],
    /// Settle every payment at the mint immediately (else in batches).
    pub immediate_settlement: bool,
    /// Advert shards of the relay descriptor in the DHT directory.
    pub shards: u16,
    /// Advert shards of the Ghost, GPU and mint descriptors.
    pub service_shards: u16,
    /// Relay shards each client and service reads per epoch (all if unset):
    /// a uniform sample of the relays, drawn afresh each epoch. Large
    /// networks set it so a node fetches and verifies a few hundred relay
    /// adverts rather than every one.
    pub relay_shards_read: Option<u16>,
    /// Shards of the Ghost and of the GPU descriptor each client and
    /// service reads per epoch (all if unset): a uniform sample of the
    /// exits, drawn afresh each epoch (whitepaper "Route Construction":
    /// "One exit service node (Ghost or GPU)"). Mints are always read in
    /// full. Without it every reader holds every exit, readers x exits
    /// adverts in all, which is what keeps 100,000 nodes from fitting in
    /// 24 GB (issue 21).
    pub exit_shards_read: Option<u16>,
    /// How many directory lookups a node runs at once (default: every
    /// shard's at once). Large networks bound it so that every reader's
    /// refresh at the start of an epoch does not hold all its lookups and
    /// their queries in memory together (issue 21); refreshes take longer.
    pub directory_lookups: Option<u32>,
    /// Disjoint paths per DHT lookup and store (S/Kademlia d; 1 = plain
    /// Kademlia): stores replicate to every path's closest nodes.
    pub disjoint_lookups: u32,
    /// How clients weigh relays in routes (whitepaper "Route Construction").
    pub relay_weighting: RelayWeightingSpec,
    /// Prepaid chunk, msat.
    pub chunk_msat: u64,
    /// Price per million input tokens, USD.
    pub price_in_usd_per_mtok: f64,
    /// Price per million output tokens, USD.
    pub price_out_usd_per_mtok: f64,
    /// How long a client waits for a turn before retrying elsewhere, s.
    pub turn_timeout_s: f64,
    /// A circuit not built within this long fails, s (raise it with
    /// per-hop delays of seconds: each extension crosses the built hops
    /// twice).
    pub circuit_build_timeout_s: f64,
    /// How long clients and services wait for a mint's answer, s (unset:
    /// clients 10 s, services 5 s).
    pub mint_timeout_s: Option<f64>,
    /// What Lightning reveals to a mint about a client funding its wallet.
    pub lightning: LightningPrivacySpec,
    /// Clients' wallet privacy switches (whitepaper "Mint-Exit Collusion",
    /// mitigations).
    pub wallet: WalletSpec,
    /// Cover cells per second on each open session's circuit, dropped by
    /// the last relay (whitepaper "Traffic Analysis Countermeasures"); 0 off.
    pub cover_rate_per_s: f64,
    /// Padding replies per second that the endpoint (Ghost, GPU node or
    /// mint) sends down each open session through the client's reply blocks
    /// (whitepaper "Traffic Analysis Countermeasures"; pads the downstream,
    /// which client cover does not); 0 off.
    pub downstream_cover_rate_per_s: f64,
    /// Constant-rate streaming at the endpoint (unset: off).
    pub constant_rate: Option<ConstantRateSpec>,
    /// Route rotation: a fresh route and service after this many turns
    /// (unset: one route per conversation, `workload.turns_per_session`).
    pub rotate_after_turns: Option<u32>,
    /// The clients' context window, tokens: a session rotates before its
    /// conversation would exceed it (whitepaper "Session Semantics for
    /// Multi-Turn Chat").
    pub context_window_tokens: u64,
    /// Clients fetch a mint's keysets over a second circuit and compare
    /// before using it (detects per-user key tagging).
    pub audit_keysets: bool,
    /// Mints run issuances, swaps and melts in batches at multiples of this
    /// many seconds (whitepaper "Mint-Exit Collusion": batching of minting
    /// and spending); 0: each at once. Below the clients' 10 s mint timeout.
    pub mint_batch_s: f64,
    /// Price-driven exit selection (whitepaper "GPU Node Competition",
    /// "Attack Economics"): services quote by their markup over cost, and
    /// clients weight exits by the market's logit share of those prices.
    /// Unset: exits equally likely.
    pub exit_pricing: Option<ExitPricingSpec>,
    /// LLM-Tor's client policy (with `system: llm_tor`).
    pub llm_tor: LlmTorSpec,
    /// Verified inference (seed 003): services' backends keep transcripts
    /// and services commit to them; clients audit a share of their turns
    /// and drop a service they catch. Off if unset.
    pub verification: Option<VerificationSpec>,
}

/// The clients' audit policy under verified inference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationSpec {
    /// Share of answered turns audited.
    pub audit_rate: Probability,
    /// Steps challenged per audit.
    pub audit_steps: u32,
    /// Share of conversations whose first message goes out as a challenge
    /// probe, its answer checked whole against the advertised model (the
    /// user's choice of when to probe, so the workload draws it).
    #[serde(default)]
    pub probe_rate: Probability,
}

/// Exit selection by price: every exit quotes `honest_factor` times the
/// upstream cost (the protocol's price is that 2x quote), the adversary's
/// exits `adversary_factor` times (below 1: subsidized, under cost); each
/// client weights an exit by `exp(−price_per_usd × price of a reference
/// job)`, the market's multinomial logit ([`crate::economics::choice`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitPricingSpec {
    /// The adversary's price as a multiple of upstream cost.
    pub adversary_factor: f64,
    /// Everyone else's (the whitepaper's 2x).
    #[serde(default = "two")]
    pub honest_factor: f64,
    /// Logit weight per USD of the reference job's price.
    pub price_per_usd: f64,
    /// Reference job: prompt tokens.
    #[serde(default = "thousand")]
    pub job_input_tokens: f64,
    /// Reference job: output tokens.
    #[serde(default = "three_hundred")]
    pub job_output_tokens: f64,
}

fn two() -> f64 {
    2.0
}
fn thousand() -> f64 {
    1000.0
}
fn three_hundred() -> f64 {
    300.0
}

impl ExitPricingSpec {
    /// The reference job's price at `factor` times upstream cost, USD, when
    /// `price_in`/`price_out` (USD per Mtok) are the honest quote.
    pub fn job_price(&self, factor: f64, price_in: f64, price_out: f64) -> f64 {
        let scale = factor / self.honest_factor.max(1e-12);
        scale * (price_in * self.job_input_tokens + price_out * self.job_output_tokens) / 1e6
    }

    /// The clients' price choice in the protocol's units (the logit per
    /// millisatoshi at the protocol's default exchange rate).
    pub fn choice(&self) -> peer2prompt::node::PriceChoice {
        let fx = peer2prompt::market::FxRate::default();
        peer2prompt::node::PriceChoice {
            job_input_tokens: self.job_input_tokens.round().max(0.0) as u64,
            job_output_tokens: self.job_output_tokens.round().max(0.0) as u64,
            per_msat: self.price_per_usd / fx.msat_per_usd.max(1) as f64,
        }
    }

    /// What the logit predicts for the adversary's share of exit choices
    /// when it holds `adversarial` of `exits` equally good exits (the
    /// report's model curve; the runs measure the share from sessions).
    pub fn logit_share(&self, adversarial: u64, exits: u64, price_in: f64, price_out: f64) -> f64 {
        let w =
            |factor: f64| (-self.price_per_usd * self.job_price(factor, price_in, price_out)).exp();
        let (a, h) = (adversarial as f64, exits.saturating_sub(adversarial) as f64);
        let (wa, wh) = (a * w(self.adversary_factor), h * w(self.honest_factor));
        if wa + wh > 0.0 { wa / (wa + wh) } else { 0.0 }
    }
}

/// Constant-rate streaming (whitepaper "Traffic Analysis Countermeasures"):
/// from a request on, the endpoint sends one reply cell every
/// `1 / cells_per_s` (real or padding) until nothing real has waited for
/// `tail_ms` and the burst holds a multiple of `quantum_cells` cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstantRateSpec {
    /// Reply cells per second while a burst lasts.
    pub cells_per_s: f64,
    /// Quiet time after the last real cell before the burst may end, ms.
    #[serde(default = "thousand")]
    pub tail_ms: f64,
    /// A burst's cell count is padded to a multiple of this.
    #[serde(default = "sixteen")]
    pub quantum_cells: u32,
}

fn sixteen() -> u32 {
    16
}

/// Wallet privacy switches (whitepaper "Mint-Exit Collusion": swap before
/// spend, randomized hold periods).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WalletSpec {
    /// Swap freshly minted proofs before their first spend.
    pub swap_before_spend: bool,
    /// How long minted proofs wait before their first spend.
    pub hold: HoldSpec,
}

/// A hold period between minting and first spend, s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum HoldSpec {
    /// Spend at once.
    #[default]
    None,
    /// Always this long.
    Fixed {
        /// Fixed duration in seconds.
        s: f64,
    },
    /// Uniform on `[min_s, max_s]`.
    Uniform {
        /// Lower bound, s.
        min_s: f64,
        /// Upper bound, s.
        max_s: f64,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean, s.
        mean_s: f64,
    },
}

impl Default for ProtocolSpec {
    fn default() -> Self {
        ProtocolSpec {
            relays_per_route: 3,
            guards: GuardSpec::default(),
            hop_delay_ms: [0.0, 0.0],
            immediate_settlement: true,
            shards: 4,
            service_shards: 4,
            relay_shards_read: None,
            exit_shards_read: None,
            directory_lookups: None,
            disjoint_lookups: 1,
            relay_weighting: RelayWeightingSpec::Uniform,
            chunk_msat: 2_000,
            price_in_usd_per_mtok: 5.0,
            price_out_usd_per_mtok: 20.0,
            turn_timeout_s: 20.0,
            circuit_build_timeout_s: 10.0,
            mint_timeout_s: None,
            lightning: LightningPrivacySpec::Node,
            wallet: WalletSpec::default(),
            cover_rate_per_s: 0.0,
            downstream_cover_rate_per_s: 0.0,
            constant_rate: None,
            rotate_after_turns: None,
            context_window_tokens: 128_000,
            audit_keysets: false,
            mint_batch_s: 0.0,
            exit_pricing: None,
            llm_tor: LlmTorSpec::default(),
            verification: None,
        }
    }
}

/// The `fidelity` of a network scenario (issue 21).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FidelitySpec {
    /// Real cryptography throughout.
    #[default]
    Full,
    /// Hashing in place of Ed25519's and Cashu's curve arithmetic
    /// (simulation only).
    ElideCrypto,
}

impl FidelitySpec {
    /// True for `full` (serde's `skip_serializing_if`).
    pub fn is_full(&self) -> bool {
        *self == FidelitySpec::Full
    }

    /// The protocol's fidelity level.
    pub fn crypto(self) -> peer2prompt::fidelity::CryptoFidelity {
        use peer2prompt::fidelity::CryptoFidelity;
        match self {
            FidelitySpec::Full => CryptoFidelity::Full,
            FidelitySpec::ElideCrypto => CryptoFidelity::ElideCrypto,
        }
    }
}

/// How clients weigh relays when they build routes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelayWeightingSpec {
    /// Every relay alike.
    #[default]
    Uniform,
    /// In proportion to the bandwidth its advert claims.
    Bandwidth,
}

/// Entry guards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GuardSpec {
    /// Whether the entry is always one of a few fixed guards.
    pub enabled: bool,
    /// Guards per client.
    pub count: u32,
    /// How long a guard is kept, days.
    pub rotation_days: f64,
}

impl Default for GuardSpec {
    fn default() -> Self {
        GuardSpec {
            enabled: false,
            count: 3,
            rotation_days: 60.0,
        }
    }
}

/// The adversary (whitepaper "Threat Model", tiers 2–3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdversarySpec {
    /// m: fraction of the entry-eligible relays the adversary runs.
    pub entry_fraction_m: Probability,
    /// g: fraction of the exits (Ghosts and GPU nodes) the adversary runs.
    pub exit_fraction_g: Probability,
    /// Sybil mode: the adversary adds this many relays and Ghosts of its own
    /// beside the honest population (each pays the identity proof of work).
    /// Exclusive with m and g.
    pub sybil: Option<SybilSpec>,
    /// The entry–exit matcher.
    pub matcher: MatcherSpec,
    /// Mint-exit collusion: mints pooling their logs with the adversary's
    /// Ghosts (whitepaper "Mint-Exit Collusion"); none if unset.
    pub mint_exit: Option<MintExitSpec>,
    /// Passive observers on links (whitepaper "Threat Model", tier 4) and
    /// their timing-correlation attacker; none if unset.
    pub observers: Option<ObserverSpec>,
    /// Mints giving some requesters a private keyset (per-user key
    /// tagging); none if unset.
    pub key_tagging: Option<KeyTaggingSpec>,
    /// Selective denial of service: the adversary's relays and exits stop
    /// forwarding every circuit they cannot see end to end
    /// (`sim::adversary::selective_dos`); off if unset.
    pub selective_dos: Option<SelectiveDosSpec>,
    /// Bandwidth inflation: the adversary's relays advertise this many
    /// times the bandwidth they have (1 if unset).
    pub advertised_bandwidth_factor: Option<f64>,
    /// Prompt harvesting (whitepaper "Malicious Service Nodes"): the
    /// adversary's exits keep every prompt they serve, which the report
    /// scores against each client's history ("Context-Window
    /// Compartmentalization"). Changes no message.
    pub harvest_prompts: bool,
    /// The profile attacker (`sim::adversary::profile`): joins the sessions
    /// its exits served into per-client profiles through every channel it
    /// holds; `profiles.parquet` scores them. Off if unset.
    pub profiles: Option<ProfileSpec>,
    /// A baseline's operator (`system: llm_tor | direct`) working for the
    /// adversary: its logs are pooled (so with relays `m` it runs the
    /// entry–exit matcher with the LLM-Tor proxy as the exit) and its own
    /// attacker runs (`sim::adversary::operator`). Off if unset.
    pub operator: Option<OperatorSpec>,
}

/// The baseline operator as adversary (issue 19).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// LLM-Tor's purchase-timing attacker (the analogue of mint-exit
    /// collusion): a circuit's first redemption is attributed to the
    /// account of the latest token issuance at most this long before it,
    /// s; the accounts with an issuance in that window are its candidates.
    pub purchase_window_s: f64,
}

/// The profile attacker's evidence rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// A mint-exit attribution becomes a claim only when it leaves at most
    /// this many candidate payers (1: only unambiguous ones).
    #[serde(default = "one")]
    pub mint_max_candidates: u32,
}

/// Selective denial of service (Borisov et al., CCS 2007). Each adversarial
/// hop judges a circuit from the pooled timing evidence `decide_after_ms`
/// after its first cell there (an entry waits `adversary.matcher.max_lag_ms`
/// longer, for its exits' verdicts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectiveDosSpec {
    /// The attack runs (a switch, so that a sweep can turn it off).
    pub enabled: bool,
    /// Delay from a flow's first cell at an adversarial hop to its verdict, ms.
    #[serde(default = "default_decide_after_ms")]
    pub decide_after_ms: f64,
}

fn default_decide_after_ms() -> f64 {
    1_500.0
}

/// Per-user key tagging by mints: each request for the mint's keys is
/// answered with a private keyset with probability `share`, so that ecash
/// issued under it identifies the requester. Clients with
/// `protocol.audit_keysets` compare two answers and reject the mint when
/// they differ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyTaggingSpec {
    /// How many mints tag (the first this many).
    pub mints: u32,
    /// Share of key requests answered with a private keyset.
    pub share: Probability,
}

/// Passive observers: where they watch and how their correlation attacker
/// summarises and scores flows (`sim::adversary::correlation`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObserverSpec {
    /// The observed vantage points.
    pub vantage: VantageSpec,
    /// Width of a summary bin, ms.
    #[serde(default = "default_bin_ms")]
    pub bin_ms: f64,
    /// Bins kept per flow (the summary window is `bins · bin_ms`).
    #[serde(default = "default_bins")]
    pub bins: u32,
    /// A flow between two endpoints ends after this long without packets, ms.
    #[serde(default = "default_idle_gap_ms")]
    pub idle_gap_ms: f64,
    /// Largest shift between a client-side and a service-side flow the
    /// attacker considers, ms (also the start-time pruning window).
    #[serde(default = "default_observer_lag_ms")]
    pub max_lag_ms: f64,
    /// The operating point: a pair scoring at least this is flagged, and
    /// `observer_linked` uses it.
    #[serde(default = "default_observer_threshold")]
    pub threshold: f64,
    /// Pair scores kept for `correlation.parquet` per replicate: every true
    /// pair and a seeded uniform sample of this many false ones (the ROC
    /// weights the sample back; 0 keeps every pair).
    #[serde(default = "default_keep_pairs")]
    pub keep_false_pairs: u32,
    /// Write `vantage.parquet`: per measured session, which of its legs
    /// the observers saw and the cells they counted on them (tier 2, a
    /// single local observer: "traffic volume and timing fingerprints").
    #[serde(default)]
    pub vantage_records: bool,
}

fn default_bin_ms() -> f64 {
    50.0
}
fn default_bins() -> u32 {
    128
}
fn default_idle_gap_ms() -> f64 {
    1000.0
}
fn default_observer_lag_ms() -> f64 {
    1500.0
}
fn default_observer_threshold() -> f64 {
    0.7
}
fn default_keep_pairs() -> u32 {
    0
}

/// Where passive observers watch (whitepaper "Threat Model", tier 4: "wide
/// passive observers"). An observed AS sees every packet entering or leaving
/// a host in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum VantageSpec {
    /// Every link.
    Global,
    /// A uniformly drawn share of the autonomous systems.
    AsFraction {
        /// Share of ASes observed.
        share: Probability,
    },
    /// These AS numbers.
    Ases {
        /// AS numbers (as `p2psim` assigns them: 64512 + region index · 1000 + rank).
        asns: Vec<u32>,
    },
    /// The ASes of the first `clients` clients (their ISPs) and of the first
    /// `services` Ghosts and GPU nodes (their upstreams).
    Endpoints {
        /// Clients whose ISP is observed.
        clients: u32,
        /// Services whose upstream is observed.
        services: u32,
    },
}

/// Mints colluding with the adversary's exits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MintExitSpec {
    /// How many mints collude (the first this many).
    pub mints: u32,
    /// How far back from a payment the attacker considers operations, s.
    #[serde(default = "default_window")]
    pub window_s: f64,
    /// How many swaps back from a payment it traces.
    #[serde(default = "default_depth")]
    pub depth: u32,
    /// Timing scale, s: candidate fundings are weighted by
    /// `exp(-(payment − issuance) / recency_s)` relative to the youngest
    /// (unset: equal weights).
    #[serde(default)]
    pub recency_s: Option<f64>,
}

fn default_window() -> f64 {
    3600.0
}

fn default_depth() -> u32 {
    64
}

/// What a mint learns about the payer when a client funds its wallet over
/// Lightning (whitepaper "Mint-Exit Collusion", mitigation 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum LightningPrivacySpec {
    /// The payer's node id (no Lightning privacy).
    #[default]
    Node,
    /// A candidate set of this many payers, the true one among them
    /// (multi-path or trampoline routing).
    Candidates {
        /// Set size, at least 1.
        size: u32,
    },
    /// Nothing about the payer.
    Hidden,
}

/// Sybil nodes added by the adversary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SybilSpec {
    /// Adversarial relays added beside the honest ones.
    pub relays: u32,
    /// Adversarial Ghosts added beside the honest ones.
    pub ghosts: u32,
    /// An attack on the DHT itself (whitepaper "DHT Sybil and Eclipse
    /// Attacks"): Sybil DHT nodes with ids ground near the directory's
    /// advert keys; none if unset.
    #[serde(default)]
    pub dht_attack: Option<DhtAttackSpec>,
}

/// Sybil DHT nodes ground near the advert keys of the first epoch (each
/// pays the identity puzzles; grinding costs key generations). They serve
/// only the adversary's adverts under those keys and withhold the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DhtAttackSpec {
    /// Eclipse (answer lookups with accomplices only) or poison (route
    /// honestly, withhold honest adverts).
    pub kind: DhtAttackKind,
    /// Which advert keys.
    pub target: DhtAttackTarget,
    /// Sybil DHT nodes per targeted key (the DHT's k is 20).
    #[serde(default = "default_per_key")]
    pub per_key: u32,
    /// Leading bits each Sybil id shares with its key; unset:
    /// ceil(log2(planned nodes)) + 3, so that the Sybils are the key's
    /// closest nodes.
    #[serde(default)]
    pub grind_bits: Option<u32>,
}

fn default_per_key() -> u32 {
    20
}

/// How the DHT Sybils answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DhtAttackKind {
    /// Answer every lookup with accomplices only; serve only the
    /// adversary's adverts (`Dht::dangerous_eclipse`).
    Eclipse,
    /// Route honestly; serve only the adversary's adverts
    /// (`Dht::dangerous_poison`).
    Poison,
}

/// Which directory keys the DHT Sybils sit on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DhtAttackTarget {
    /// The relay descriptor's shards.
    RelayShards,
    /// The Ghost (and, with GPU nodes, the GPU) descriptor's shards.
    ServiceShards,
    /// Both.
    Both,
}

/// How the adversary matches its entries' flows to its exits' flows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherSpec {
    /// Largest entry-to-exit lag considered, ms.
    pub max_lag_ms: f64,
    /// Tolerance when aligning one cell's time at the entry and the exit, ms.
    pub tolerance_ms: f64,
    /// Least fraction of the exit's cells that must align for a guess.
    pub min_score: Probability,
    /// How it guesses: by timing (the attack), or at random among the
    /// entry flows active before the exit flow (the baseline the tier-3
    /// test must tell apart from a real attack).
    pub guess: GuessKind,
}

/// The matcher's guessing rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuessKind {
    /// Align cell times at a constant lag (`adversary::matcher`).
    #[default]
    Timing,
    /// Name a uniformly random candidate entry flow.
    Random,
}

impl Default for MatcherSpec {
    fn default() -> Self {
        MatcherSpec {
            max_lag_ms: 2_000.0,
            tolerance_ms: 30.0,
            min_score: Probability::new(0.8).unwrap_or(Probability::ZERO),
            guess: GuessKind::Timing,
        }
    }
}

/// Nodes joining and leaving during the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChurnSpec {
    /// Relays alternate between up and down with these mean durations.
    pub relay_rate: Option<ChurnRate>,
    /// Scheduled departures and returns.
    pub schedule: Vec<ChurnStep>,
}

/// Up/down times of a churning node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChurnRate {
    /// Mean time online, s (exponential).
    pub mean_up_s: f64,
    /// Mean time offline, s (exponential).
    pub mean_down_s: f64,
}

/// One scheduled churn step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChurnStep {
    /// When, s after the measured period starts.
    pub at_s: f64,
    /// Which role.
    pub role: ChurnRole,
    /// How many online nodes of that role leave.
    #[serde(default)]
    pub leave: u32,
    /// How many offline nodes of that role return.
    #[serde(default)]
    pub join: u32,
}

/// Roles that churn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChurnRole {
    /// The relays churn.
    Relay,
    /// The Ghosts churn.
    Ghost,
    /// The GPU nodes churn.
    Gpu,
}

/// Parameters varied across sweep points: exactly one of `grid` or `list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Every combination of these values (dotted path -> values).
    #[serde(default)]
    pub grid: Option<std::collections::BTreeMap<String, Vec<serde_json::Value>>>,
    /// Exactly these points (each a map of dotted path -> value).
    #[serde(default)]
    pub list: Option<Vec<std::collections::BTreeMap<String, serde_json::Value>>>,
}

/// Names of the topology's regions.
fn topology_regions() -> Vec<&'static str> {
    crate::topology::REGIONS.to_vec()
}
