//! What each service delivered to each session and what it kept (whitepaper
//! §"Payments": services "serve in prepaid chunks to cap double-spend
//! exposure"). The services report it (`ServiceEvent`: `Served`, `Refused`,
//! `PaymentLost`); the engine joins their session handles to session rows
//! through the ground truth, for scoring only: nothing here feeds a node.

use std::collections::BTreeMap;

use peer2prompt::node::service::ServiceEvent;
use serde::{Deserialize, Serialize};

/// One session's account at its service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerRecord {
    /// Session number within the replicate (as in `sessions`).
    pub session_id: u64,
    /// Client node index.
    pub client: u32,
    /// Exit (service) node index.
    pub exit: u32,
    /// Ground truth: the client double-spends (`faults.double_spenders`).
    pub double_spender: bool,
    /// What the service delivered, at the quote's prices, over its jobs.
    pub delivered_msat: u64,
    /// What the session paid it.
    pub paid_msat: u64,
    /// Of that, what settlement found already spent by the payer.
    pub lost_msat: u64,
    /// Jobs that ended (served or refused).
    pub jobs: u32,
    /// Payments the service received (first chunks and top-ups).
    pub payments: u32,
    /// The largest of them, msat: the first carries the prompt's price, so
    /// it can exceed `protocol.chunk_msat`.
    pub largest_payment_msat: u64,
}

impl LedgerRecord {
    /// The service's loss on this session: delivered and not kept.
    pub fn loss_msat(&self) -> u64 {
        self.delivered_msat
            .saturating_sub(self.paid_msat.saturating_sub(self.lost_msat))
    }
}

/// Accounts by session row.
#[derive(Debug, Default)]
pub struct ServiceLedger {
    rows: BTreeMap<usize, LedgerRecord>,
}

impl ServiceLedger {
    /// The onion session a service event concerns, if it is an account event.
    pub fn session_of(e: &ServiceEvent) -> Option<u32> {
        match e {
            ServiceEvent::Served { session, .. }
            | ServiceEvent::Refused { session, .. }
            | ServiceEvent::PaymentLost { session, .. } => Some(*session),
            ServiceEvent::Settled { .. } | ServiceEvent::SettlementFailed { .. } => None,
        }
    }

    /// Session `row` paid its service `sat` (one chunk).
    pub fn paid(&mut self, row: usize, sat: u64) {
        let a = self.rows.entry(row).or_default();
        a.payments += 1;
        a.largest_payment_msat = a.largest_payment_msat.max(sat * 1000);
    }

    /// Adds service event `e` to session `row`'s account.
    pub fn record(&mut self, row: usize, e: &ServiceEvent) {
        let a = self.rows.entry(row).or_default();
        match e {
            ServiceEvent::Served {
                charged_msat,
                paid_sat,
                ..
            }
            | ServiceEvent::Refused {
                charged_msat,
                paid_sat,
                ..
            } => {
                a.delivered_msat += charged_msat;
                a.paid_msat += paid_sat * 1000;
                a.jobs += 1;
            }
            ServiceEvent::PaymentLost { amount_sat, .. } => a.lost_msat += amount_sat * 1000,
            ServiceEvent::Settled { .. } | ServiceEvent::SettlementFailed { .. } => {}
        }
    }

    /// The accounts of rows `keep` accepts, each completed by `who` (session
    /// id, client, exit, double spender), in row order.
    pub fn finish(
        &self,
        keep: impl Fn(usize) -> bool,
        who: impl Fn(usize) -> (u64, u32, u32, bool),
    ) -> Vec<LedgerRecord> {
        self.rows
            .iter()
            .filter(|(row, _)| keep(**row))
            .map(|(&row, a)| {
                let (session_id, client, exit, double_spender) = who(row);
                LedgerRecord {
                    session_id,
                    client,
                    exit,
                    double_spender,
                    ..a.clone()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peer2prompt::node::wire::Refusal;

    #[test]
    fn a_session_loses_what_it_was_delivered_beyond_what_was_kept() {
        let mut l = ServiceLedger::default();
        let refused = ServiceEvent::Refused {
            session: 3,
            refusal: Refusal::DoubleSpent,
            charged_msat: 5_500,
            paid_sat: 4,
        };
        l.record(0, &refused);
        l.record(
            0,
            &ServiceEvent::PaymentLost {
                session: 3,
                amount_sat: 2,
            },
        );
        let rows = l.finish(|_| true, |r| (r as u64, 1, 2, true));
        assert_eq!(rows.len(), 1);
        // Delivered 5.5 sat, kept 4 − 2 = 2 sat: lost 3.5 sat.
        assert_eq!(rows[0].loss_msat(), 3_500);
        assert_eq!(rows[0].jobs, 1);
        assert_eq!(rows[0].payments, 0);
    }

    #[test]
    fn an_overpaid_session_costs_nothing_and_filtered_rows_are_dropped() {
        let mut l = ServiceLedger::default();
        let refused = ServiceEvent::Refused {
            session: 1,
            refusal: Refusal::Busy,
            charged_msat: 900,
            paid_sat: 2,
        };
        l.record(4, &refused);
        l.record(5, &refused);
        l.paid(4, 1);
        l.paid(4, 3);
        let rows = l.finish(|r| r == 4, |r| (r as u64, 0, 0, false));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].session_id, 4);
        assert_eq!(rows[0].loss_msat(), 0);
        assert_eq!((rows[0].payments, rows[0].largest_payment_msat), (2, 3_000));
    }
}
