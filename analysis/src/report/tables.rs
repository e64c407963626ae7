//! Reading the optional per-scenario tables (`dos`, `ledger`, `exposure`,
//! `vantage`) back into the simulator's records; errors name the file and
//! column.

use std::path::Path;

use polars::prelude::*;

use super::ReportError;
use crate::dataset::read_parquet;
use peer2prompt_sim::adversary::selective_dos::DosStats;
use peer2prompt_sim::exposure::ExposureRecord;
use peer2prompt_sim::ledger::LedgerRecord;
use peer2prompt_sim::profiles::ProfileRecord;
use peer2prompt_sim::record::TurnRecord;
use peer2prompt_sim::vantage::VantageRecord;
use peer2prompt_sim::views::DirectoryView;

/// A record with its (sweep point, replicate).
pub type Replicated<T> = ((u32, u32), T);

/// One Parquet table, read whole; columns come out typed, nulls as zero.
struct Table<'a> {
    file: &'a Path,
    df: DataFrame,
}

impl<'a> Table<'a> {
    /// The table in `file`, or `None` when the scenario wrote none.
    fn open(file: &'a Path) -> Result<Option<Self>, ReportError> {
        if !file.is_file() {
            return Ok(None);
        }
        let df = read_parquet(file).map_err(|e| err(file, e.to_string()))?;
        Ok(Some(Table { file, df }))
    }

    fn column(&self, name: &str) -> Result<&Column, ReportError> {
        self.df
            .column(name)
            .map_err(|e| err(self.file, format!("column {name}: {e}")))
    }

    fn u32s(&self, name: &str) -> Result<Vec<u32>, ReportError> {
        let c = self.column(name)?.u32().map_err(|e| self.typed(name, &e))?;
        Ok(c.iter().map(|v| v.unwrap_or(0)).collect())
    }

    fn u64s(&self, name: &str) -> Result<Vec<u64>, ReportError> {
        let c = self.column(name)?.u64().map_err(|e| self.typed(name, &e))?;
        Ok(c.iter().map(|v| v.unwrap_or(0)).collect())
    }

    fn bools(&self, name: &str) -> Result<Vec<bool>, ReportError> {
        let c = self
            .column(name)?
            .bool()
            .map_err(|e| self.typed(name, &e))?;
        Ok(c.iter().map(|v| v.unwrap_or(false)).collect())
    }

    /// A nullable boolean column; all null when the table predates it.
    fn opt_bools(&self, name: &str) -> Vec<Option<bool>> {
        match self.df.column(name).ok().and_then(|c| c.bool().ok()) {
            Some(c) => c.iter().collect(),
            None => vec![None; self.height()],
        }
    }

    fn opt_strs(&self, name: &str) -> Result<Vec<Option<String>>, ReportError> {
        let c = self.column(name)?.str().map_err(|e| self.typed(name, &e))?;
        Ok(c.iter().map(|v| v.map(str::to_owned)).collect())
    }

    fn typed(&self, name: &str, e: &PolarsError) -> ReportError {
        err(self.file, format!("column {name}: {e}"))
    }

    fn height(&self) -> usize {
        self.df.height()
    }
}

fn err(file: &Path, message: String) -> ReportError {
    ReportError::Dataset {
        file: file.to_owned(),
        message,
    }
}

/// Reads `turns.parquet` if present (verified inference, baselines).
pub(super) fn turns_rows(file: &Path) -> Result<Vec<Replicated<TurnRecord>>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let (point, replicate, client) = (t.u32s("point")?, t.u32s("replicate")?, t.u32s("client")?);
    let (id, exit, subs) = (
        t.u64s("session_id")?,
        t.u32s("exit")?,
        t.bools("exit_substitutes")?,
    );
    let (started, first, done) = (
        t.u64s("started_ns")?,
        t.u64s("first_token_ns")?,
        t.u64s("done_ns")?,
    );
    let (input, output) = (t.u64s("input_tokens")?, t.u64s("output_tokens")?);
    let (charged, audit) = (t.u64s("charged_msat")?, t.opt_strs("audit")?);
    let probe = t.opt_bools("probe");
    Ok((0..t.height())
        .map(|i| {
            let r = TurnRecord {
                session_id: id[i],
                client: client[i],
                exit: exit[i],
                exit_substitutes: subs[i],
                started_ns: started[i],
                first_token_ns: first[i],
                done_ns: done[i],
                input_tokens: input[i],
                output_tokens: output[i],
                charged_msat: charged[i],
                audit: audit[i].clone(),
                probe: probe[i],
            };
            ((point[i], replicate[i]), r)
        })
        .collect())
}

/// Reads `dos.parquet` if present (scenarios with selective DoS).
pub(super) fn dos_rows(file: &Path) -> Result<Vec<(u32, DosStats)>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let point = t.u32s("point")?;
    let (ke, km, kx) = (
        t.u64s("killed_entry")?,
        t.u64s("killed_middle")?,
        t.u64s("killed_exit")?,
    );
    let (pe, pm, px) = (
        t.u64s("kept_entry")?,
        t.u64s("kept_middle")?,
        t.u64s("kept_exit")?,
    );
    let abandoned = t.u64s("turns_abandoned")?;
    Ok((0..t.height())
        .map(|i| {
            let d = DosStats {
                killed_entry: ke[i],
                killed_middle: km[i],
                killed_exit: kx[i],
                kept_entry: pe[i],
                kept_middle: pm[i],
                kept_exit: px[i],
                turns_abandoned: abandoned[i],
            };
            (point[i], d)
        })
        .collect())
}

/// Reads `ledger.parquet` if present (scenarios with double spenders).
pub(super) fn ledger_rows(file: &Path) -> Result<Vec<(u32, LedgerRecord)>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let (point, client, exit, jobs) = (
        t.u32s("point")?,
        t.u32s("client")?,
        t.u32s("exit")?,
        t.u32s("jobs")?,
    );
    let (cheat, payments, largest) = (
        t.bools("double_spender")?,
        t.u32s("payments")?,
        t.u64s("largest_payment_msat")?,
    );
    let (id, delivered, paid, lost) = (
        t.u64s("session_id")?,
        t.u64s("delivered_msat")?,
        t.u64s("paid_msat")?,
        t.u64s("lost_msat")?,
    );
    Ok((0..t.height())
        .map(|i| {
            let r = LedgerRecord {
                session_id: id[i],
                client: client[i],
                exit: exit[i],
                double_spender: cheat[i],
                delivered_msat: delivered[i],
                paid_msat: paid[i],
                lost_msat: lost[i],
                jobs: jobs[i],
                payments: payments[i],
                largest_payment_msat: largest[i],
            };
            (point[i], r)
        })
        .collect())
}

/// Reads `exposure.parquet` if present (scenarios whose exits harvest
/// prompts).
/// Each row comes with its (point, replicate).
pub(super) fn exposure_rows(file: &Path) -> Result<Vec<Replicated<ExposureRecord>>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let (point, replicate) = (t.u32s("point")?, t.u32s("replicate")?);
    let (client, exit, turns) = (t.u32s("client")?, t.u32s("exit")?, t.u32s("turns")?);
    let (adversarial, complete) = (t.bools("exit_adversarial")?, t.bools("complete")?);
    let (id, context, harvested) = (
        t.u64s("session_id")?,
        t.u64s("context_tokens")?,
        t.u64s("harvested_tokens")?,
    );
    let (prompts, foreign) = (t.u32s("harvested_prompts")?, t.u32s("foreign_requests")?);
    Ok((0..t.height())
        .map(|i| {
            let r = ExposureRecord {
                session_id: id[i],
                client: client[i],
                exit: exit[i],
                exit_adversarial: adversarial[i],
                turns: turns[i],
                complete: complete[i],
                context_tokens: context[i],
                harvested_prompts: prompts[i],
                harvested_tokens: harvested[i],
                foreign_requests: foreign[i],
            };
            ((point[i], replicate[i]), r)
        })
        .collect())
}

/// Reads `vantage.parquet` if present (scenarios whose observers keep
/// vantage records). Each row comes with its (point, replicate).
pub(super) fn vantage_rows(file: &Path) -> Result<Vec<Replicated<VantageRecord>>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let (point, replicate) = (t.u32s("point")?, t.u32s("replicate")?);
    let (id, client, exit) = (t.u64s("session_id")?, t.u32s("client")?, t.u32s("exit")?);
    let watched = [t.bools("client_watched")?, t.bools("exit_watched")?];
    let seen = [t.bools("client_leg_seen")?, t.bools("service_leg_seen")?];
    let cells = [
        t.u32s("client_leg_up_cells")?,
        t.u32s("client_leg_down_cells")?,
        t.u32s("service_leg_up_cells")?,
        t.u32s("service_leg_down_cells")?,
    ];
    let (turns, complete, linked) = (
        t.u32s("turns")?,
        t.bools("complete")?,
        t.bools("observer_linked")?,
    );
    let tokens = [t.u64s("prompt_tokens")?, t.u64s("output_tokens")?];
    let counts = [
        t.u32s("watched_relays")?,
        t.u32s("watched_services")?,
        t.u32s("relays")?,
        t.u32s("services")?,
    ];
    Ok((0..t.height())
        .map(|i| {
            let r = VantageRecord {
                session_id: id[i],
                client: client[i],
                exit: exit[i],
                client_watched: watched[0][i],
                exit_watched: watched[1][i],
                client_leg_seen: seen[0][i],
                service_leg_seen: seen[1][i],
                client_leg_cells: [cells[0][i], cells[1][i]],
                service_leg_cells: [cells[2][i], cells[3][i]],
                turns: turns[i],
                complete: complete[i],
                prompt_tokens: tokens[0][i],
                output_tokens: tokens[1][i],
                observer_linked: linked[i],
                watched_relays: counts[0][i],
                watched_services: counts[1][i],
                relays: counts[2][i],
                services: counts[3][i],
            };
            ((point[i], replicate[i]), r)
        })
        .collect())
}

/// Reads `views.parquet` if present (scenarios with Sybils): each client's
/// directory view, with its (point, replicate).
pub(super) fn views_rows(file: &Path) -> Result<Vec<Replicated<DirectoryView>>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let (point, replicate, client) = (t.u32s("point")?, t.u32s("replicate")?, t.u32s("client")?);
    let relays = [t.u32s("relays")?, t.u32s("adversarial_relays")?];
    let services = [t.u32s("services")?, t.u32s("adversarial_services")?];
    Ok((0..t.height())
        .map(|i| {
            let v = DirectoryView {
                client: client[i],
                relays: relays[0][i],
                adversarial_relays: relays[1][i],
                services: services[0][i],
                adversarial_services: services[1][i],
            };
            ((point[i], replicate[i]), v)
        })
        .collect())
}

/// Reads `profiles.parquet` if present (`adversary.profiles`): where the
/// profile attacker put each measured session, with its (point, replicate).
pub(super) fn profiles_rows(file: &Path) -> Result<Vec<Replicated<ProfileRecord>>, ReportError> {
    let Some(t) = Table::open(file)? else {
        return Ok(Vec::new());
    };
    let (point, replicate, client) = (t.u32s("point")?, t.u32s("replicate")?, t.u32s("client")?);
    let (id, started) = (t.u64s("session_id")?, t.u64s("started_ns")?);
    let (profile, idents) = (t.u32s("profile")?, t.u32s("profile_idents")?);
    let (correct, clean) = (t.bools("correct")?, t.bools("clean_route")?);
    let observed = t.bools("by_observers")?;
    Ok((0..t.height())
        .map(|i| {
            let r = ProfileRecord {
                session_id: id[i],
                client: client[i],
                started_ns: started[i],
                // A profile always holds an identifier: none means null.
                profile: (idents[i] > 0).then_some(profile[i]),
                correct: correct[i],
                clean_route: clean[i],
                profile_idents: idents[i],
                by_observers: observed[i],
            };
            ((point[i], replicate[i]), r)
        })
        .collect())
}
