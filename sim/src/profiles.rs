//! Scoring the profile attacker (`crate::adversary::profile`): for each
//! measured session, the profile its exit flow landed in and whether the
//! identifier that profile names is the session's own client's. Ground truth (which session a
//! flow carried, whose address and payer an identifier is, which hops are
//! the adversary's) is used here only to score.

use std::collections::BTreeMap;

use peer2prompt::ecash::PayerId;
use serde::{Deserialize, Serialize};

use crate::adversary::profile::{Ident, Profiles, Unit};
use crate::world::World;

/// Where one measured session landed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// Session id (joins `sessions.parquet`).
    pub session_id: u64,
    /// The client (ground truth).
    pub client: u32,
    /// When the session started, ns.
    pub started_ns: u64,
    /// Its profile, if the attacker put it in one.
    pub profile: Option<u32>,
    /// The identifier its profile names is the session's own client's (its
    /// address or its Lightning payer).
    pub correct: bool,
    /// No hop the session's records name (entry, last relay, exit) is the
    /// adversary's; the middle of a three-relay route is not recorded, and
    /// a middle alone feeds none of the profile attacker's channels.
    pub clean_route: bool,
    /// Identifiers in its profile (0 without one).
    pub profile_idents: u32,
    /// Its profile came from a service-side flow the observers saw (the
    /// session reached none of the adversary's exits).
    pub by_observers: bool,
}

/// One record per measured session, in row order. `observed` is each
/// row's service-side flows as the observers saw them (ground truth), when
/// there are observers. A session seen at an exit takes that unit's
/// profile; otherwise its first observed flow's with one.
pub fn records(
    w: &World,
    profiles: &Profiles,
    observed: Option<&[Vec<u32>]>,
) -> Vec<ProfileRecord> {
    let mut of_row: BTreeMap<usize, (u32, bool)> = BTreeMap::new();
    for (unit, p) in &profiles.of_unit {
        if let Unit::Exit(flow) = unit
            && let Some(row) = w.truth.row_of(*flow)
        {
            of_row.entry(row).or_insert((*p, false));
        }
    }
    for (row, gs) in observed.unwrap_or_default().iter().enumerate() {
        if let Some(p) = gs
            .iter()
            .find_map(|g| profiles.of_unit.get(&Unit::Observed(*g)))
        {
            of_row.entry(row).or_insert((*p, true));
        }
    }
    let adversarial = |i: u32| {
        w.hosts()
            .get(i as usize)
            .is_some_and(|h| h.slot.adversarial)
    };
    let owns = |client: u32, ident: &Ident| match ident {
        Ident::Address(a) => w.index_of(a) == Some(client),
        Ident::Payer(p) => *p == PayerId(u64::from(client)),
    };
    w.sessions
        .rows
        .iter()
        .enumerate()
        .filter(|(i, _)| w.measured(*i))
        .map(|(i, r)| {
            let (profile, by_observers) = of_row
                .get(&i)
                .map_or((None, false), |(p, o)| (Some(*p), *o));
            let idents = profile.map_or(0, |p| profiles.idents[p as usize].len());
            let named = profile.map(|p| &profiles.named[p as usize]);
            ProfileRecord {
                session_id: r.id,
                client: r.client,
                started_ns: r.started.as_nanos(),
                profile,
                correct: named.is_some_and(|id| owns(r.client, id)),
                clean_route: ![r.entry, r.last, r.exit].into_iter().any(adversarial),
                profile_idents: idents as u32,
                by_observers,
            }
        })
        .collect()
}
