//! Scenario validation: what the types cannot say (counts, ranges and
//! consistency between fields). Each error names the field's path, which
//! the loader turns into the value's own line and column
//! (ARCHITECTURE.md, "Code map", `scenario/`).

use super::{Scenario, topology_regions};

/// Checks what the types cannot: counts, ranges and consistency between
/// fields; the error names the field's path.
pub(super) fn validate(s: &Scenario) -> Result<(), (String, String)> {
    if s.replications == 0 {
        return Err((
            "replications".into(),
            "expected at least 1 replication".into(),
        ));
    }
    if let Some(m) = &s.market {
        if !s.fidelity.is_full() {
            return err(
                "fidelity",
                "`elide_crypto` is for network scenarios; a market scenario \
                 sets `market.fidelity`"
                    .into(),
            );
        }
        return m.validate();
    }
    validate_population(s)?;
    validate_workload(&s.workload, &s.network)?;
    validate_network(&s.network)?;
    validate_adversary(s)?;
    validate_protocol(s)?;
    validate_faults(s)?;
    validate_system(s)?;
    validate_rest(s)
}

/// The baselines (`system:`) and their operator adversary.
fn validate_system(s: &Scenario) -> Checked {
    let base = s.system.is_baseline();
    if let Some(o) = &s.adversary.operator {
        if !base {
            return err(
                "adversary.operator",
                "the operator adversary needs `system: llm_tor` or `system: direct`".into(),
            );
        }
        if !(o.purchase_window_s > 0.0 && o.purchase_window_s.is_finite()) {
            return err(
                "adversary.operator.purchase_window_s",
                format!(
                    "expected a positive number of s, got {}",
                    o.purchase_window_s
                ),
            );
        }
    }
    if let Some(v) = &s.protocol.verification {
        let max = peer2prompt::verify::audit::MAX_CHALLENGE as u32;
        if v.audit_steps == 0 || v.audit_steps > max {
            return err(
                "protocol.verification.audit_steps",
                format!("expected 1 to {max} steps, got {}", v.audit_steps),
            );
        }
    }
    if let Some(f) = &s.faults.substituting_services {
        let services = s.population.ghosts + s.population.gpus;
        if f.count > services {
            return err(
                "faults.substituting_services.count",
                format!("expected at most the {services} services, got {}", f.count),
            );
        }
    }
    let l = &s.protocol.llm_tor;
    if l.tokens_per_purchase == 0 || l.tokens_per_purchase > 1_000 {
        return err(
            "protocol.llm_tor.tokens_per_purchase",
            format!("expected 1 to 1000 tokens, got {}", l.tokens_per_purchase),
        );
    }
    if !(l.circuit_lifetime_s > 0.0 && l.circuit_lifetime_s.is_finite()) {
        return err(
            "protocol.llm_tor.circuit_lifetime_s",
            format!(
                "expected a positive number of s, got {}",
                l.circuit_lifetime_s
            ),
        );
    }
    if s.system == crate::scenario::System::LlmTor && s.protocol.relays_per_route == 0 {
        return err(
            "protocol.relays_per_route",
            "LLM-Tor reaches its proxy through relays: expected at least 1".into(),
        );
    }
    Ok(())
}

type Checked = Result<(), (String, String)>;

fn err(p: &str, m: String) -> Checked {
    Err((p.to_owned(), m))
}

/// Population, and the route length it must support.
fn validate_population(s: &Scenario) -> Checked {
    let p = &s.population;
    if p.clients == 0 {
        return err("population.clients", "expected at least 1 client".into());
    }
    if p.mints == 0 {
        return err("population.mints", "expected at least 1 mint".into());
    }
    if p.ghosts + p.gpus == 0 {
        return err(
            "population.ghosts",
            "expected at least one Ghost or GPU node".into(),
        );
    }
    if p.identity_pow_bits > 24 {
        return err(
            "population.identity_pow_bits",
            "expected at most 24 bits".into(),
        );
    }
    let hops = s.protocol.relays_per_route;
    if hops > 4 {
        return err(
            "protocol.relays_per_route",
            "expected 0 to 4 relays (0: a one-hop circuit straight to the service)".into(),
        );
    }
    if p.relays < hops + 1 {
        return err(
            "population.relays",
            format!("expected more relays than relays_per_route ({hops})"),
        );
    }
    if s.protocol.shards == 0 {
        return err("protocol.shards", "expected at least 1 shard".into());
    }
    let [lo, hi] = s.protocol.hop_delay_ms;
    if !(lo >= 0.0 && hi >= lo && hi.is_finite()) {
        return err(
            "protocol.hop_delay_ms",
            "expected [low, high] with 0 <= low <= high".into(),
        );
    }
    for (name, v) in [
        (
            "protocol.circuit_build_timeout_s",
            s.protocol.circuit_build_timeout_s,
        ),
        (
            "protocol.mint_timeout_s",
            s.protocol.mint_timeout_s.unwrap_or(10.0),
        ),
    ] {
        if !(v.is_finite() && (0.1..=3600.0).contains(&v)) {
            return err(name, format!("expected 0.1 to 3600 seconds, got {v}"));
        }
    }
    if s.protocol.turn_timeout_s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return err(
            "protocol.turn_timeout_s",
            "expected a positive number of seconds".into(),
        );
    }
    Ok(())
}

/// Workload lengths, rates and distributions.
fn validate_workload(w: &super::Workload, network: &super::NetworkSpec) -> Checked {
    for (name, v) in [
        ("workload.duration_s", w.duration_s),
        (
            "workload.sessions_per_client_per_hour",
            w.sessions_per_client_per_hour,
        ),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return err(name, format!("expected a positive number, got {v}"));
        }
    }
    for (name, v) in [
        ("workload.warmup_s", w.warmup_s),
        ("workload.drain_s", w.drain_s),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return err(name, format!("expected a non-negative number, got {v}"));
        }
    }
    if w.warmup_s < 60.0 {
        return err(
            "workload.warmup_s",
            "expected at least 60 s for DHT bootstrap".into(),
        );
    }
    if w.turns_per_session == 0 {
        return err(
            "workload.turns_per_session",
            "expected at least 1 turn".into(),
        );
    }
    for (name, d) in [
        ("workload.think_time_s", &w.think_time_s),
        ("workload.prompt_tokens", &w.prompt_tokens),
        ("workload.output_tokens", &w.output_tokens),
        ("network.access_latency_ms", &network.access_latency_ms),
        (
            "network.access_bandwidth_mbps",
            &network.access_bandwidth_mbps,
        ),
    ] {
        d.check().or_else(|m| err(name, m))?;
    }
    Ok(())
}

/// Regions, ASes and jitter.
fn validate_network(n: &super::NetworkSpec) -> Checked {
    let regions = topology_regions();
    for (r, weight) in &n.region_weights {
        if !regions.contains(&r.as_str()) {
            return err(
                &format!("network.region_weights.{r}"),
                format!("unknown region; expected one of {}", regions.join(", ")),
            );
        }
        if !(weight.is_finite() && *weight >= 0.0) {
            return err(
                &format!("network.region_weights.{r}"),
                "expected a weight >= 0".into(),
            );
        }
    }
    if n.region_weights.values().sum::<f64>() <= 0.0 {
        return err(
            "network.region_weights",
            "expected some region with weight > 0".into(),
        );
    }
    if n.ases_per_region == 0 {
        return err("network.ases_per_region", "expected at least 1".into());
    }
    if !(n.jitter_ms.is_finite() && n.jitter_ms >= 0.0) {
        return err("network.jitter_ms", "expected a non-negative number".into());
    }
    Ok(())
}

/// The adversary's switches against the population.
fn validate_adversary(s: &Scenario) -> Checked {
    let (a, p) = (&s.adversary, &s.population);
    if a.sybil.is_some() && (a.entry_fraction_m.get() > 0.0 || a.exit_fraction_g.get() > 0.0) {
        return err(
            "adversary.sybil",
            "sybil counts and the fractions m, g are exclusive; set m and g to 0".into(),
        );
    }
    if let Some(d) = a.sybil.as_ref().and_then(|sy| sy.dht_attack.as_ref()) {
        if d.per_key == 0 {
            return err(
                "adversary.sybil.dht_attack.per_key",
                "expected at least 1".into(),
            );
        }
        if d.grind_bits.is_some_and(|b| b > 24) {
            return err(
                "adversary.sybil.dht_attack.grind_bits",
                "expected at most 24 bits (each bit doubles the grinding)".into(),
            );
        }
    }
    if s.protocol.directory_lookups == Some(0) {
        return err(
            "protocol.directory_lookups",
            "expected at least 1 lookup at once (leave it out for no bound)".into(),
        );
    }
    for (field, read) in [
        ("protocol.relay_shards_read", s.protocol.relay_shards_read),
        ("protocol.exit_shards_read", s.protocol.exit_shards_read),
    ] {
        if read == Some(0) {
            return err(
                field,
                "expected at least 1 shard read (leave it out to read all)".into(),
            );
        }
    }
    if !(1..=8).contains(&s.protocol.disjoint_lookups) {
        return err("protocol.disjoint_lookups", "expected 1 to 8 paths".into());
    }
    if let Some(me) = &a.mint_exit {
        if me.mints == 0 || me.mints > p.mints {
            return err(
                "adversary.mint_exit.mints",
                format!(
                    "expected 1 to {} colluding mints (population.mints)",
                    p.mints
                ),
            );
        }
        if me.recency_s.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return err(
                "adversary.mint_exit.recency_s",
                "expected a positive number of seconds".into(),
            );
        }
        if !(me.window_s.is_finite() && me.window_s > 0.0) {
            return err(
                "adversary.mint_exit.window_s",
                "expected a positive number of seconds".into(),
            );
        }
    }
    if let super::LightningPrivacySpec::Candidates { size } = s.protocol.lightning
        && (size == 0 || size > p.clients)
    {
        return err(
            "protocol.lightning.size",
            format!("expected 1 to {} payers (population.clients)", p.clients),
        );
    }
    if let Some(k) = &a.key_tagging
        && (k.mints == 0 || k.mints > p.mints)
    {
        return err(
            "adversary.key_tagging.mints",
            format!("expected 1 to {} tagging mints (population.mints)", p.mints),
        );
    }
    if let Some(o) = &a.observers {
        for (name, v) in [
            ("adversary.observers.bin_ms", o.bin_ms),
            ("adversary.observers.idle_gap_ms", o.idle_gap_ms),
            ("adversary.observers.max_lag_ms", o.max_lag_ms),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return err(name, format!("expected a positive number, got {v}"));
            }
        }
        if !(4..=4096).contains(&o.bins) {
            return err("adversary.observers.bins", "expected 4 to 4096 bins".into());
        }
        if !(-1.0..=1.0).contains(&o.threshold) {
            return err(
                "adversary.observers.threshold",
                "expected a correlation score in [-1, 1]".into(),
            );
        }
        if let super::VantageSpec::Endpoints { clients, services } = o.vantage
            && (clients > p.clients || services > p.ghosts + p.gpus)
        {
            return err(
                "adversary.observers.vantage",
                format!(
                    "expected at most {} clients and {} services",
                    p.clients,
                    p.ghosts + p.gpus
                ),
            );
        }
    }
    Ok(())
}

/// Defences and wallet policy.
fn validate_protocol(s: &Scenario) -> Checked {
    let pr = &s.protocol;
    if !(pr.cover_rate_per_s.is_finite() && pr.cover_rate_per_s >= 0.0) {
        return err(
            "protocol.cover_rate_per_s",
            "expected a non-negative rate".into(),
        );
    }
    if !(pr.downstream_cover_rate_per_s.is_finite() && pr.downstream_cover_rate_per_s >= 0.0) {
        return err(
            "protocol.downstream_cover_rate_per_s",
            "expected a non-negative rate".into(),
        );
    }
    if let Some(c) = &pr.constant_rate {
        if !(c.cells_per_s.is_finite() && (0.01..=10_000.0).contains(&c.cells_per_s)) {
            return err(
                "protocol.constant_rate.cells_per_s",
                format!(
                    "expected 0.01 to 10000 cells per second, got {}",
                    c.cells_per_s
                ),
            );
        }
        if !(c.tail_ms.is_finite() && c.tail_ms >= 0.0) {
            return err(
                "protocol.constant_rate.tail_ms",
                "expected a non-negative number of ms".into(),
            );
        }
        if !(1..=4096).contains(&c.quantum_cells) {
            return err(
                "protocol.constant_rate.quantum_cells",
                "expected 1 to 4096 cells".into(),
            );
        }
    }
    let mint_timeout = pr.mint_timeout_s.unwrap_or(10.0);
    if !(pr.mint_batch_s.is_finite() && (0.0..mint_timeout).contains(&pr.mint_batch_s)) {
        return err(
            "protocol.mint_batch_s",
            format!("expected 0 (off) to under {mint_timeout} s (the clients' mint timeout)"),
        );
    }
    if pr.context_window_tokens <= s.workload.max_output_tokens {
        return err(
            "protocol.context_window_tokens",
            format!(
                "expected more than workload.max_output_tokens ({}): a turn's reply must fit",
                s.workload.max_output_tokens
            ),
        );
    }
    if pr.rotate_after_turns == Some(0) {
        return err(
            "protocol.rotate_after_turns",
            "expected at least 1 turn".into(),
        );
    }
    let hold_ok = match pr.wallet.hold {
        super::HoldSpec::None => true,
        super::HoldSpec::Fixed { s } => s.is_finite() && s >= 0.0,
        super::HoldSpec::Uniform { min_s, max_s } => {
            min_s.is_finite() && max_s.is_finite() && 0.0 <= min_s && min_s <= max_s
        }
        super::HoldSpec::Exponential { mean_s } => mean_s.is_finite() && mean_s > 0.0,
    };
    if !hold_ok {
        return err(
            "protocol.wallet.hold",
            "expected non-negative seconds (uniform: min_s <= max_s; exponential: mean_s > 0)"
                .into(),
        );
    }
    Ok(())
}

/// Injected faults: counts within the population, rates in range.
fn validate_faults(s: &Scenario) -> Checked {
    let (f, p) = (&s.faults, &s.population);
    if let Some(r) = &f.lossy_relays {
        if r.count > p.relays {
            return err(
                "faults.lossy_relays.count",
                format!("expected at most {} (population.relays)", p.relays),
            );
        }
        if r.drop_ppm > 1_000_000 || !(r.extra_delay_ms.is_finite() && r.extra_delay_ms >= 0.0) {
            return err(
                "faults.lossy_relays",
                "expected drop_ppm <= 1000000 and extra_delay_ms >= 0".into(),
            );
        }
    }
    if let Some(c) = &f.cheating_services
        && c.count > p.ghosts + p.gpus
    {
        return err(
            "faults.cheating_services.count",
            format!(
                "expected at most {} (Ghosts and GPU nodes)",
                p.ghosts + p.gpus
            ),
        );
    }
    if f.refusing_mints > p.mints {
        return err(
            "faults.refusing_mints",
            format!("expected at most {} (population.mints)", p.mints),
        );
    }
    if f.double_spenders > p.clients {
        return err(
            "faults.double_spenders",
            format!("expected at most {} (population.clients)", p.clients),
        );
    }
    for (i, o) in f.mint_outages.iter().enumerate() {
        if o.mint >= p.mints {
            return err(
                &format!("faults.mint_outages[{i}].mint"),
                format!("expected a mint index below {}", p.mints),
            );
        }
        if !(o.at_s.is_finite() && o.at_s >= 0.0 && o.for_s.is_finite() && o.for_s > 0.0) {
            return err(
                &format!("faults.mint_outages[{i}]"),
                "expected at_s >= 0 and for_s > 0".into(),
            );
        }
    }
    Ok(())
}

/// The matcher and churn.
fn validate_rest(s: &Scenario) -> Checked {
    let a = &s.adversary;
    if !(a.matcher.max_lag_ms > 0.0 && a.matcher.tolerance_ms >= 0.0) {
        return err(
            "adversary.matcher",
            "expected max_lag_ms > 0 and tolerance_ms >= 0".into(),
        );
    }
    if let Some(k) = a.advertised_bandwidth_factor
        && !(k > 0.0 && k.is_finite())
    {
        return err(
            "adversary.advertised_bandwidth_factor",
            format!("expected a positive factor, got {k}"),
        );
    }
    if let Some(d) = &a.selective_dos
        && !(d.decide_after_ms > 0.0 && d.decide_after_ms.is_finite())
    {
        return err(
            "adversary.selective_dos.decide_after_ms",
            format!(
                "expected a positive number of ms, got {}",
                d.decide_after_ms
            ),
        );
    }
    if let Some(r) = &s.churn.relay_rate
        && !(r.mean_up_s > 0.0 && r.mean_down_s > 0.0)
    {
        return err(
            "churn.relay_rate",
            "expected positive mean up and down times".into(),
        );
    }
    Ok(())
}
