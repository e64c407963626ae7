//! Clients choosing among quoted offers (whitepaper "GPU Node Competition":
//! "Clients choose by utility: quality, latency and reliability, price,
//! jurisdiction and policy preferences") by multinomial logit: offer `i` is
//! chosen with probability `exp(U_i) / Σ_j exp(U_j)`, where
//! `U_i = β_q·quality − β_p·price − β_l·latency + β_j·jurisdiction_match`.

use rand_core::Rng;

/// What a client sees of one quoted offer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Offer {
    /// Model quality, a score (e.g. 0 to 1).
    pub quality: f64,
    /// Quoted price of the job, USD.
    pub price_usd: f64,
    /// Expected time to first token, s.
    pub latency_s: f64,
    /// The service's jurisdiction suits the client.
    pub jurisdiction_match: bool,
}

/// A client's taste weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tastes {
    /// Weight of quality.
    pub quality: f64,
    /// Weight of price, per USD.
    pub price_per_usd: f64,
    /// Weight of latency, per second.
    pub latency_per_s: f64,
    /// Bonus of a suitable jurisdiction.
    pub jurisdiction: f64,
}

/// The utility of `o` to a client with tastes `t`.
pub fn utility(o: &Offer, t: &Tastes) -> f64 {
    t.quality * o.quality - t.price_per_usd * o.price_usd - t.latency_per_s * o.latency_s
        + if o.jurisdiction_match {
            t.jurisdiction
        } else {
            0.0
        }
}

/// Choice probabilities of `offers` (softmax of utilities, computed
/// relative to the largest so nothing overflows). Empty for no offers.
pub fn shares(offers: &[Offer], t: &Tastes) -> Vec<f64> {
    let u: Vec<f64> = offers.iter().map(|o| utility(o, t)).collect();
    let top = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = u.iter().map(|x| (x - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

/// Draws one offer's index with probabilities `shares`; `None` if empty.
pub fn choose(shares: &[f64], rng: &mut impl Rng) -> Option<usize> {
    if shares.is_empty() {
        return None;
    }
    let mut u = crate::rng::unit(rng);
    for (i, s) in shares.iter().enumerate() {
        if u < *s {
            return Some(i);
        }
        u -= s;
    }
    Some(shares.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn tastes() -> Tastes {
        Tastes {
            quality: 4.0,
            price_per_usd: 200.0,
            latency_per_s: 0.5,
            jurisdiction: 0.3,
        }
    }

    #[test]
    fn two_offers_get_their_analytic_logit_shares() {
        let ghost = Offer {
            quality: 0.9,
            price_usd: 0.010,
            latency_s: 3.0,
            jurisdiction_match: false,
        };
        let gpu = Offer {
            quality: 0.7,
            price_usd: 0.004,
            latency_s: 2.0,
            jurisdiction_match: true,
        };
        let t = tastes();
        // U_ghost − U_gpu = 4·0.2 − 200·0.006 − 0.5·1 − 0.3 = −1.2
        let du = utility(&ghost, &t) - utility(&gpu, &t);
        assert!((du + 1.2).abs() < 1e-12, "{du}");
        let analytic = 1.0 / (1.0 + (-du).exp());
        let s = shares(&[ghost, gpu], &t);
        assert!((s[0] - analytic).abs() < 1e-12 && (s[0] + s[1] - 1.0).abs() < 1e-12);
        // Drawing agrees within 4 standard errors.
        let n = 200_000;
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let k = (0..n).filter(|_| choose(&s, &mut rng) == Some(0)).count() as f64;
        let se = (analytic * (1.0 - analytic) / n as f64).sqrt();
        assert!(
            (k / n as f64 - analytic).abs() < 4.0 * se,
            "{k} vs {analytic}"
        );
    }

    #[test]
    fn huge_utilities_do_not_overflow_and_no_offer_is_no_choice() {
        let o = Offer {
            quality: 1e6,
            price_usd: 0.0,
            latency_s: 0.0,
            jurisdiction_match: false,
        };
        let s = shares(&[o, o], &tastes());
        assert_eq!(s, vec![0.5, 0.5]);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        assert_eq!(choose(&[], &mut rng), None);
    }
}
