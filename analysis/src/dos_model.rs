//! Closed forms for selective denial of service (Borisov et al., CCS 2007)
//! under the client's own retry policy (protocol `node::client`, `fail_turn`):
//! a turn is tried on at most `attempts` routes of `hops` relays drawn
//! uniformly without replacement, and an exit drawn uniformly; the adversary
//! lets a route through only if its entry and exit are both its own, and
//! kills every other route holding one of its nodes.
//!
//! One attempt: compromised with P = m·g, clean (no adversarial node) with
//! q = (1−m)^h·(1−g), killed otherwise. Without memory the attempts are
//! independent, so the compromised share of answered turns is
//! m·g / (m·g + q) whatever the number of attempts ([`no_memory`]).
//!
//! With the policy's memory, a killed route's relays are suspected (left
//! out of later draws) and its exit avoided, within the turn; [`turn`]
//! recurses over the exact hypergeometric draws of each attempt from the
//! counts that remain. Both forms assume each turn starts from the full
//! population (one turn per client, or suspicion expired between turns).

use statrs::function::factorial::binomial;

/// What a client can still draw from: counts of the adversary's and honest
/// relays and exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Adversarial relays.
    pub adv_relays: u32,
    /// Honest relays.
    pub honest_relays: u32,
    /// Adversarial exits.
    pub adv_exits: u32,
    /// Honest exits.
    pub honest_exits: u32,
}

/// How a turn ends: answered on a compromised route, answered on a clean
/// one, or given up after the last attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TurnOutcome {
    /// Answered with both ends adversarial.
    pub compromised: f64,
    /// Answered with no adversarial node on the route.
    pub clean: f64,
    /// Every attempt killed.
    pub abandoned: f64,
}

impl TurnOutcome {
    /// The compromised share of answered turns.
    pub fn compromised_share(&self) -> f64 {
        self.compromised / (self.compromised + self.clean)
    }

    /// P(the turn is answered).
    pub fn answered(&self) -> f64 {
        self.compromised + self.clean
    }
}

/// The compromised share of answered turns without memory:
/// m·g / (m·g + (1−m)^hops·(1−g)).
pub fn no_memory(m: f64, g: f64, hops: u32) -> f64 {
    let mg = m * g;
    mg / (mg + (1.0 - m).powi(hops as i32) * (1.0 - g))
}

/// A turn of at most `attempts` attempts from `c`, with the policy's
/// memory: a killed route's relays and exit are not drawn again in the
/// turn (when every exit has failed, all are forgiven, as the client does).
pub fn turn(c: Counts, hops: u32, attempts: u32) -> TurnOutcome {
    attempt(c, c, hops, attempts)
}

fn attempt(c: Counts, full: Counts, hops: u32, left: u32) -> TurnOutcome {
    let relays = c.adv_relays + c.honest_relays;
    let exits = c.adv_exits + c.honest_exits;
    if left == 0 || relays < hops || exits == 0 {
        return TurnOutcome {
            abandoned: 1.0,
            ..TurnOutcome::default()
        };
    }
    let mut out = TurnOutcome::default();
    let px_adv = f64::from(c.adv_exits) / f64::from(exits);
    for j in 0..=hops.min(c.adv_relays) {
        if hops - j > c.honest_relays {
            continue;
        }
        let pj = binomial(c.adv_relays.into(), j.into())
            * binomial(c.honest_relays.into(), (hops - j).into())
            / binomial(relays.into(), hops.into());
        // The entry is adversarial with probability j / hops (a uniform
        // position among the drawn relays).
        let entry_adv = f64::from(j) / f64::from(hops);
        for (exit_adv, px) in [(true, px_adv), (false, 1.0 - px_adv)] {
            let p = pj * px;
            if p == 0.0 {
                continue;
            }
            let (lives, killed) = match (exit_adv, j) {
                (true, _) => (entry_adv, 1.0 - entry_adv),
                (false, 0) => (1.0, 0.0),
                (false, _) => (0.0, 1.0),
            };
            if exit_adv {
                out.compromised += p * lives;
            } else {
                out.clean += p * lives;
            }
            if killed > 0.0 {
                let next = after_kill(c, full, j, hops, exit_adv);
                let rest = attempt(next, full, hops, left - 1);
                out.compromised += p * killed * rest.compromised;
                out.clean += p * killed * rest.clean;
                out.abandoned += p * killed * rest.abandoned;
            }
        }
    }
    out
}

/// The counts after a killed route of `j` adversarial relays (of `hops`)
/// and an exit of the given side.
fn after_kill(c: Counts, full: Counts, j: u32, hops: u32, exit_adv: bool) -> Counts {
    let mut n = Counts {
        adv_relays: c.adv_relays - j,
        honest_relays: c.honest_relays - (hops - j),
        adv_exits: c.adv_exits - u32::from(exit_adv),
        honest_exits: c.honest_exits - u32::from(!exit_adv),
    };
    if n.adv_exits + n.honest_exits == 0 {
        n.adv_exits = full.adv_exits;
        n.honest_exits = full.honest_exits;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(ar: u32, hr: u32, ax: u32, hx: u32) -> Counts {
        Counts {
            adv_relays: ar,
            honest_relays: hr,
            adv_exits: ax,
            honest_exits: hx,
        }
    }

    #[test]
    fn one_attempt_is_the_route_sampler() {
        // 18 of 60 relays, 10 of 20 exits, three relays per route.
        let t = turn(counts(18, 42, 10, 10), 3, 1);
        assert!((t.compromised - 0.3 * 0.5).abs() < 1e-12);
        let clean = (42.0 * 41.0 * 40.0) / (60.0 * 59.0 * 58.0) * 0.5;
        assert!((t.clean - clean).abs() < 1e-12);
        assert!((t.compromised + t.clean + t.abandoned - 1.0).abs() < 1e-12);
    }

    #[test]
    fn without_memory_the_share_is_mg_over_mg_plus_q() {
        let (m, g) = (0.3_f64, 0.5_f64);
        let q = 0.7_f64.powi(3) * 0.5;
        assert!((no_memory(m, g, 3) - 0.15 / (0.15 + q)).abs() < 1e-12);
        // A huge population draws almost with replacement: memory then
        // changes nothing and the share tends to the memoryless form.
        let t = turn(counts(300_000, 700_000, 500_000, 500_000), 3, 3);
        assert!((t.compromised_share() - no_memory(m, g, 3)).abs() < 1e-4);
        assert!((t.compromised + t.clean + t.abandoned - 1.0).abs() < 1e-9);
    }

    #[test]
    fn every_turn_ends_one_way() {
        for (ar, hr, ax, hx) in [
            (0, 60, 0, 20),
            (60, 0, 20, 0),
            (5, 7, 1, 3),
            (18, 42, 10, 10),
        ] {
            for attempts in 1..=4 {
                let t = turn(counts(ar, hr, ax, hx), 3, attempts);
                let sum = t.compromised + t.clean + t.abandoned;
                assert!(
                    (sum - 1.0).abs() < 1e-9,
                    "{ar} {hr} {ax} {hx} {attempts}: {sum}"
                );
            }
        }
        // No adversary: every turn is answered cleanly at once.
        assert_eq!(turn(counts(0, 60, 0, 20), 3, 3).clean, 1.0);
    }

    #[test]
    fn suspicion_within_a_turn_barely_moves_the_share_but_answers_more() {
        // 18 of 60 relays, 10 of 20 exits: a killed route holds more
        // adversarial relays than the population (lowering m for the
        // retry) and an adversarial exit more often than not (lowering
        // g), and the two nearly cancel; retries answer more turns.
        let c = counts(18, 42, 10, 10);
        let (one, three) = (turn(c, 3, 1), turn(c, 3, 3));
        assert!((three.compromised_share() - no_memory(0.3, 0.5, 3)).abs() < 0.01);
        assert!(three.compromised_share() < one.compromised_share());
        assert!(three.answered() > one.answered() + 0.3);
    }
}
