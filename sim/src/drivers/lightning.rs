//! Lightning as the mints see it (whitepaper "Payment Layer": Lightning
//! provides mint funding and redemption rails): what a funding payment
//! reveals about its payer (scenario `protocol.lightning`), and the sat
//! moved, for the conservation check.

use peer2prompt::ecash::{LightningPayer, PayerId};
use rand_chacha::ChaCha20Rng;

use crate::checks::Lightning as Totals;
use crate::rng;
use crate::scenario::LightningPrivacySpec;

/// The Lightning network the mints and clients use.
#[derive(Debug)]
pub struct Lightning {
    privacy: LightningPrivacySpec,
    rng: ChaCha20Rng,
    clients: Vec<u32>,
    /// Sat paid in and out.
    pub totals: Totals,
}

impl Lightning {
    /// Lightning with `privacy`, among the client hosts `clients`.
    pub fn new(privacy: LightningPrivacySpec, rng: ChaCha20Rng, clients: Vec<u32>) -> Self {
        Lightning {
            privacy,
            rng,
            clients,
            totals: Totals::default(),
        }
    }

    /// What the mint learns about client `c` paying an invoice: its id, a
    /// candidate set holding it and `size - 1` other clients drawn
    /// uniformly, or nothing.
    pub fn payer(&mut self, c: u32) -> LightningPayer {
        match self.privacy {
            LightningPrivacySpec::Node => LightningPayer::Node(PayerId(u64::from(c))),
            LightningPrivacySpec::Hidden => LightningPayer::Hidden,
            LightningPrivacySpec::Candidates { size } => {
                let others: Vec<u32> = self.clients.iter().copied().filter(|&o| o != c).collect();
                let want = (size as usize).saturating_sub(1).min(others.len());
                let mut set: Vec<PayerId> = rng::choose(&mut self.rng, others.len(), want)
                    .into_iter()
                    .map(|j| PayerId(u64::from(others[j])))
                    .collect();
                set.push(PayerId(u64::from(c)));
                set.sort_unstable();
                LightningPayer::Candidates(set)
            }
        }
    }
}
