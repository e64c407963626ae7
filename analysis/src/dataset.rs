//! Records to Parquet (ARCHITECTURE.md, invariant "datasets are Parquet,
//! one row per entity").

use std::path::Path;

use peer2prompt_sim::adversary::selective_dos::DosStats;
use peer2prompt_sim::exposure::ExposureRecord;
use peer2prompt_sim::ledger::LedgerRecord;
use peer2prompt_sim::profiles::ProfileRecord;
use peer2prompt_sim::record::{ReplicateKey, SessionRecord, TurnRecord};
use peer2prompt_sim::vantage::VantageRecord;
use peer2prompt_sim::views::DirectoryView;
use polars::prelude::*;

/// A DataFrame with one column per `name => |row| value` over `rows`.
macro_rules! frame {
    ($rows:expr; $($name:literal => $f:expr),* $(,)?) => {
        DataFrame::new_infer_height(vec![
            $(Column::new($name.into(), $rows.iter().map($f).collect::<Vec<_>>())),*
        ])
    };
}
pub(crate) use frame;

/// The selective-DoS table (`dos.parquet`), one row per replicate: what
/// the adversary's judge did (`sim::adversary::selective_dos`).
pub fn dos_frame(rows: &[(ReplicateKey, DosStats)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "killed_entry" => |r| r.1.killed_entry,
        "killed_middle" => |r| r.1.killed_middle,
        "killed_exit" => |r| r.1.killed_exit,
        "kept_entry" => |r| r.1.kept_entry,
        "kept_middle" => |r| r.1.kept_middle,
        "kept_exit" => |r| r.1.kept_exit,
        "turns_abandoned" => |r| r.1.turns_abandoned,
    )
}

/// The services' accounts (`ledger.parquet`), one row per measured
/// session with double-spending clients in the scenario
/// (`sim::ledger`): what its service delivered, was paid and lost.
pub fn ledger_frame(rows: &[(ReplicateKey, LedgerRecord)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "session_id" => |r| r.1.session_id,
        "client" => |r| r.1.client,
        "exit" => |r| r.1.exit,
        "double_spender" => |r| r.1.double_spender,
        "delivered_msat" => |r| r.1.delivered_msat,
        "paid_msat" => |r| r.1.paid_msat,
        "lost_msat" => |r| r.1.lost_msat,
        "loss_msat" => |r| r.1.loss_msat(),
        "jobs" => |r| r.1.jobs,
        "payments" => |r| r.1.payments,
        "largest_payment_msat" => |r| r.1.largest_payment_msat,
    )
}

/// What prompt-harvesting exits kept (`exposure.parquet`), one row per
/// measured session (`sim::exposure`): the client's context and the most
/// of it the exit holds.
pub fn exposure_frame(rows: &[(ReplicateKey, ExposureRecord)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "session_id" => |r| r.1.session_id,
        "client" => |r| r.1.client,
        "exit" => |r| r.1.exit,
        "exit_adversarial" => |r| r.1.exit_adversarial,
        "turns" => |r| r.1.turns,
        "complete" => |r| r.1.complete,
        "context_tokens" => |r| r.1.context_tokens,
        "harvested_prompts" => |r| r.1.harvested_prompts,
        "harvested_tokens" => |r| r.1.harvested_tokens,
        "foreign_requests" => |r| r.1.foreign_requests,
    )
}

/// What one local vantage saw of each measured session
/// (`vantage.parquet`, `sim::vantage`): which legs crossed it and the
/// onion cells each way on them.
pub fn vantage_frame(rows: &[(ReplicateKey, VantageRecord)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "session_id" => |r| r.1.session_id,
        "client" => |r| r.1.client,
        "exit" => |r| r.1.exit,
        "client_watched" => |r| r.1.client_watched,
        "exit_watched" => |r| r.1.exit_watched,
        "client_leg_seen" => |r| r.1.client_leg_seen,
        "service_leg_seen" => |r| r.1.service_leg_seen,
        "client_leg_up_cells" => |r| r.1.client_leg_cells[0],
        "client_leg_down_cells" => |r| r.1.client_leg_cells[1],
        "service_leg_up_cells" => |r| r.1.service_leg_cells[0],
        "service_leg_down_cells" => |r| r.1.service_leg_cells[1],
        "turns" => |r| r.1.turns,
        "complete" => |r| r.1.complete,
        "prompt_tokens" => |r| r.1.prompt_tokens,
        "output_tokens" => |r| r.1.output_tokens,
        "observer_linked" => |r| r.1.observer_linked,
        "watched_relays" => |r| r.1.watched_relays,
        "watched_services" => |r| r.1.watched_services,
        "relays" => |r| r.1.relays,
        "services" => |r| r.1.services,
    )
}

/// Each client's directory view at the end of a run (`views.parquet`,
/// `sim::views`): adverts held and how many are the adversary's.
pub fn views_frame(rows: &[(ReplicateKey, DirectoryView)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "client" => |r| r.1.client,
        "relays" => |r| r.1.relays,
        "adversarial_relays" => |r| r.1.adversarial_relays,
        "services" => |r| r.1.services,
        "adversarial_services" => |r| r.1.adversarial_services,
    )
}

/// `profiles.parquet`: where the profile attacker put each measured
/// session (`profile` null when it put it nowhere).
pub fn profiles_frame(rows: &[(ReplicateKey, ProfileRecord)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "session_id" => |r| r.1.session_id,
        "client" => |r| r.1.client,
        "started_ns" => |r| r.1.started_ns,
        "profile" => |r| r.1.profile,
        "correct" => |r| r.1.correct,
        "clean_route" => |r| r.1.clean_route,
        "profile_idents" => |r| r.1.profile_idents,
        "by_observers" => |r| r.1.by_observers,
    )
}

/// `turns.parquet`: every answered turn of the measured period, with what
/// auditing it found (under verified inference, and for the baselines).
pub fn turns_frame(rows: &[(ReplicateKey, TurnRecord)]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.0.point,
        "replicate" => |r| r.0.replicate,
        "session_id" => |r| r.1.session_id,
        "client" => |r| r.1.client,
        "exit" => |r| r.1.exit,
        "exit_substitutes" => |r| r.1.exit_substitutes,
        "started_ns" => |r| r.1.started_ns,
        "first_token_ns" => |r| r.1.first_token_ns,
        "done_ns" => |r| r.1.done_ns,
        "input_tokens" => |r| r.1.input_tokens,
        "output_tokens" => |r| r.1.output_tokens,
        "charged_msat" => |r| r.1.charged_msat,
        "audit" => |r| r.1.audit.clone(),
        "probe" => |r| r.1.probe,
    )
}

/// The sessions table, one row per session, in the order given.
pub fn sessions_frame(rows: &[SessionRecord]) -> PolarsResult<DataFrame> {
    frame!(rows;
        "point" => |r| r.point,
        "replicate" => |r| r.replicate,
        "session_id" => |r| r.session_id,
        "client" => |r| r.client,
        "entry" => |r| r.entry,
        "exit" => |r| r.exit,
        "exit_kind" => |r| r.exit_kind.clone(),
        "hops" => |r| r.hops,
        "entry_adversarial" => |r| r.entry_adversarial,
        "exit_adversarial" => |r| r.exit_adversarial,
        "ends_compromised" => |r| r.ends_compromised,
        "linked" => |r| r.linked,
        "link_guess" => |r| r.link_guess,
        "link_guess_correct" => |r| r.link_guess_correct,
        "link_score" => |r| r.link_score,
        "turns" => |r| r.turns,
        "prompt_tokens" => |r| r.prompt_tokens,
        "output_tokens" => |r| r.output_tokens,
        "started_ns" => |r| r.started_ns,
        "first_token_ns" => |r| r.first_token_ns,
        "completed_ns" => |r| r.completed_ns,
        "outcome" => |r| r.outcome.clone(),
        "mint_candidates" => |r| r.mint_candidates,
        "mint_entropy_bits" => |r| r.mint_entropy_bits,
        "mint_linked" => |r| r.mint_linked,
        "observer_linked" => |r| r.observer_linked,
        "linked_any" => |r| r.linked_any,
        "system" => |r| r.system.clone(),
        "operator_linked" => |r| r.operator_linked,
        "operator_candidates" => |r| r.operator_candidates,
    )
}

/// `df` as Parquet bytes (zstd); callers write them atomically.
pub fn parquet_bytes(df: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)?;
    Ok(out)
}

/// Reads a Parquet file back (tests, `report`).
pub fn read_parquet(path: &Path) -> PolarsResult<DataFrame> {
    let f = std::fs::File::open(path)?;
    ParquetReader::new(f).finish()
}

/// `df` as CSV (header, then one line per row; strings quoted, missing
/// values empty), for `--csv`.
pub fn csv_bytes(df: &DataFrame) -> Vec<u8> {
    use std::fmt::Write as _;
    let cols = df.columns();
    let mut s = cols
        .iter()
        .map(|c| c.name().to_string())
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for i in 0..df.height() {
        for (j, c) in cols.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            match c.get(i) {
                Ok(AnyValue::Null) | Err(_) => {}
                Ok(AnyValue::String(v)) => {
                    let _ = write!(s, "\"{}\"", v.replace('"', "\"\""));
                }
                Ok(AnyValue::StringOwned(v)) => {
                    let _ = write!(s, "\"{}\"", v.replace('"', "\"\""));
                }
                Ok(v) => {
                    let _ = write!(s, "{v}");
                }
            }
        }
        s.push('\n');
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn csv_quotes_strings_and_leaves_missing_values_empty() {
        let df = DataFrame::new_infer_height(vec![
            Column::new("a".into(), vec![Some(1u32), None]),
            Column::new("b".into(), vec!["x\"y", "z"]),
            Column::new("c".into(), vec![true, false]),
        ])
        .unwrap();
        let s = String::from_utf8(csv_bytes(&df)).unwrap();
        assert_eq!(s, "a,b,c\n1,\"x\"\"y\",true\n,\"z\",false\n");
    }
}
