//! Metered billing in prepaid chunks (whitepaper "Token Lifecycle": the
//! service serves in prepaid chunks to cap double-spend exposure;
//! "Malicious Service Nodes": overbilling).
//!
//! The client pays the first chunk with its request. The service streams
//! output while the tokens it has sent are covered by what it was paid, then
//! asks for the next chunk, stating what it has used. The client recomputes
//! that from its own token counts and the quote, refuses an overclaim, and
//! never pays past the quote's cap for the request.
//!
//! Double-spend exposure: the service checks payments offline (DLEQ) and
//! serves at once, so a payer who double-spends is only caught at the mint.
//! With immediate settlement the service risks at most the chunk it is
//! currently serving; with batched settlement, every chunk received since
//! the last batch. Smaller chunks mean less exposure and more round trips.

use super::MarketError;
use super::price::sat_for_msat;
use super::quote::Quote;

/// The service's meter for one request.
#[derive(Clone, Debug)]
pub struct ServiceMeter {
    quote: Quote,
    input_tokens: u64,
    output_tokens: u64,
    credited_msat: u64,
    overbill_factor_ppm: u64,
}

impl ServiceMeter {
    /// A meter for a request of `input_tokens` under `quote`.
    pub fn new(quote: Quote, input_tokens: u64) -> Self {
        ServiceMeter {
            quote,
            input_tokens,
            output_tokens: 0,
            credited_msat: 0,
            overbill_factor_ppm: 1_000_000,
        }
    }

    /// **Adversarial.** Claims `ppm / 1e6` times the true usage (the
    /// `adversary` feature).
    #[cfg(feature = "adversary")]
    pub fn dangerous_overbill(&mut self, ppm: u64) {
        self.overbill_factor_ppm = ppm;
    }

    /// Credits a payment of `sat`.
    pub fn credit_sat(&mut self, sat: u64) {
        self.credited_msat = self.credited_msat.saturating_add(sat.saturating_mul(1000));
    }

    /// What the tokens sent so far cost under the quote.
    pub fn used_msat(&self) -> u64 {
        self.quote
            .input
            .cost_msat(self.input_tokens)
            .saturating_add(self.quote.output.cost_msat(self.output_tokens))
    }

    /// What the service claims to have used (the truth, unless overbilling).
    pub fn claimed_msat(&self) -> u64 {
        let c = u128::from(self.used_msat()) * u128::from(self.overbill_factor_ppm) / 1_000_000;
        u64::try_from(c).unwrap_or(u64::MAX)
    }

    /// True if `more` output tokens are covered by what was paid.
    pub fn covers(&self, more: u64) -> bool {
        let after = self
            .quote
            .input
            .cost_msat(self.input_tokens)
            .saturating_add(
                self.quote
                    .output
                    .cost_msat(self.output_tokens.saturating_add(more)),
            );
        after <= self.credited_msat
    }

    /// Records `n` output tokens sent.
    pub fn sent(&mut self, n: u64) {
        self.output_tokens = self.output_tokens.saturating_add(n);
    }

    /// Output tokens sent so far.
    pub fn output_tokens(&self) -> u64 {
        self.output_tokens
    }

    /// Input tokens billed.
    pub fn input_tokens(&self) -> u64 {
        self.input_tokens
    }

    /// Paid so far.
    pub fn credited_msat(&self) -> u64 {
        self.credited_msat
    }
}

/// The client's meter for one request: checks every claim and bounds every payment.
#[derive(Clone, Debug)]
pub struct ClientMeter {
    quote: Quote,
    input_tokens: u64,
    output_tokens: u64,
    paid_msat: u64,
}

impl ClientMeter {
    /// A meter for a request of `input_tokens` (counted by the client).
    pub fn new(quote: Quote, input_tokens: u64) -> Self {
        ClientMeter {
            quote,
            input_tokens,
            output_tokens: 0,
            paid_msat: 0,
        }
    }

    /// The most this request may cost.
    pub fn cap_msat(&self) -> u64 {
        self.quote.cap_msat(self.input_tokens)
    }

    /// What the tokens received so far cost.
    pub fn expected_msat(&self) -> u64 {
        self.quote
            .input
            .cost_msat(self.input_tokens)
            .saturating_add(self.quote.output.cost_msat(self.output_tokens))
    }

    /// Records `n` output tokens received (counted by the client).
    pub fn received(&mut self, n: u64) {
        self.output_tokens = self.output_tokens.saturating_add(n);
    }

    /// Output tokens received so far.
    pub fn output_tokens(&self) -> u64 {
        self.output_tokens
    }

    /// Paid so far.
    pub fn paid_msat(&self) -> u64 {
        self.paid_msat
    }

    /// The first chunk to send with the request, in whole satoshi.
    pub fn first_chunk_sat(&mut self) -> u64 {
        self.next_chunk_sat()
    }

    fn next_chunk_sat(&mut self) -> u64 {
        let room = self.cap_msat().saturating_sub(self.paid_msat);
        // At least what is owed already: a prompt whose input costs more
        // than one chunk is paid in full up front (else rounding left the
        // service short when no output followed).
        let owed = self.expected_msat().saturating_sub(self.paid_msat);
        let chunk = self.quote.chunk_msat.max(owed).max(1).min(room.max(1));
        let sat = sat_for_msat(chunk);
        self.paid_msat = self.paid_msat.saturating_add(sat * 1000);
        sat
    }

    /// The service asks for the next chunk, claiming `claimed_msat` used. The
    /// claim must not exceed what the client's own counts give; past the cap
    /// nothing more is paid. Returns the satoshi to pay.
    pub fn on_payment_request(&mut self, claimed_msat: u64) -> Result<u64, MarketError> {
        let expected = self.expected_msat();
        if claimed_msat > expected {
            return Err(MarketError::Overbilling {
                claimed: claimed_msat,
                expected,
            });
        }
        if self.paid_msat >= self.cap_msat() {
            return Err(MarketError::CapReached {
                cap: self.cap_msat(),
            });
        }
        Ok(self.next_chunk_sat())
    }

    /// Checks a final claim (the receipt's total).
    pub fn check_final(&self, claimed_msat: u64) -> Result<(), MarketError> {
        let expected = self.expected_msat();
        if claimed_msat > expected {
            return Err(MarketError::Overbilling {
                claimed: claimed_msat,
                expected,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeId;
    use crate::market::price::Price;
    use crate::time::Instant;
    use proptest::prelude::*;

    fn quote(chunk: u64, cap: u32) -> Quote {
        Quote {
            service: NodeId([1; 32]),
            model: "m".into(),
            input: Price {
                msat_per_mtok: 5_000_000,
            },
            output: Price {
                msat_per_mtok: 20_000_000,
            },
            max_output_tokens: cap,
            chunk_msat: chunk,
            mints: vec![],
            valid_from: Instant::ZERO,
            valid_until: Instant::MAX,
            serial: 0,
        }
    }

    /// Streams `tokens` honestly (or overbilling) and returns what was paid.
    fn run(
        chunk: u64,
        cap: u32,
        input: u64,
        tokens: u64,
        overbill_ppm: u64,
    ) -> Result<(u64, u64), MarketError> {
        let q = quote(chunk, cap);
        let mut client = ClientMeter::new(q.clone(), input);
        let mut service = ServiceMeter::new(q, input);
        #[cfg(feature = "adversary")]
        service.dangerous_overbill(overbill_ppm);
        #[cfg(not(feature = "adversary"))]
        assert_eq!(
            overbill_ppm, 1_000_000,
            "overbilling needs the adversary feature"
        );
        service.credit_sat(client.first_chunk_sat());
        let mut sent = 0;
        while sent < tokens.min(u64::from(cap)) {
            if service.covers(1) {
                service.sent(1);
                client.received(1);
                sent += 1;
            } else {
                let sat = client.on_payment_request(service.claimed_msat())?;
                service.credit_sat(sat);
            }
        }
        client.check_final(service.claimed_msat())?;
        Ok((client.paid_msat(), client.expected_msat()))
    }

    proptest! {
        #[test]
        fn honest_billing_pays_at_most_one_chunk_over_the_cost_and_never_past_the_cap(
            chunk in 1_000u64..200_000, cap in 1u32..5000, input in 0u64..20_000, tokens in 0u64..6000,
        ) {
            let (paid, cost) = run(chunk, cap, input, tokens, 1_000_000).unwrap();
            prop_assert!(paid >= cost);
            let q = quote(chunk, cap);
            // Overpayment is bounded by one chunk (plus rounding to a satoshi).
            prop_assert!(paid <= cost + chunk + 1000);
            prop_assert!(paid <= q.cap_msat(input) + 1000);
        }
    }

    #[test]
    #[cfg(feature = "adversary")]
    fn overbilling_is_detected_at_the_first_payment_request() {
        let err = run(10_000, 4096, 1000, 2000, 1_100_000).unwrap_err();
        assert!(matches!(err, MarketError::Overbilling { .. }), "{err}");
    }

    #[test]
    fn payments_stop_at_the_cap() {
        let q = quote(1_000_000, 10);
        let mut c = ClientMeter::new(q, 0);
        let first = c.first_chunk_sat();
        // The cap is 10 tokens * 20 msat = 200 msat: one satoshi.
        assert_eq!(first, 1);
        c.received(10);
        assert!(matches!(
            c.on_payment_request(200),
            Err(MarketError::CapReached { .. })
        ));
    }
}
