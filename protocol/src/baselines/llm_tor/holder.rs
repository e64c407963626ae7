//! The client's side of blind issuance (seed `004`, "Token Lifecycle":
//! generate, blind, unblind, redeem once).

use std::collections::VecDeque;

use rand_chacha::ChaCha20Rng;

use super::error::LlmTorError;
use super::tokens::{IssuerPublicKey, PendingToken, Token};

/// Tokens being issued and tokens ready to redeem.
#[derive(Clone, Debug)]
pub struct TokenWallet {
    key: IssuerPublicKey,
    pending: Vec<PendingToken>,
    ready: VecDeque<Token>,
}

impl TokenWallet {
    /// A wallet for tokens of issuer `key`.
    pub fn new(key: IssuerPublicKey) -> Self {
        TokenWallet {
            key,
            pending: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// Blinds `n` fresh tokens; returns the blinded messages to send. A
    /// request still pending is replaced (its answer will not finalize).
    pub fn request(
        &mut self,
        rng: &mut ChaCha20Rng,
        n: usize,
    ) -> Result<Vec<Vec<u8>>, LlmTorError> {
        self.pending = (0..n)
            .map(|_| self.key.blind(rng))
            .collect::<Result<_, _>>()?;
        Ok(self.pending.iter().map(|p| p.blinded().to_vec()).collect())
    }

    /// Unblinds the issuer's answer to the pending request; every signature
    /// must finalize, or none is kept. Returns the tokens now ready.
    pub fn accept(&mut self, blind_signatures: &[Vec<u8>]) -> Result<usize, LlmTorError> {
        if blind_signatures.len() != self.pending.len() {
            return Err(LlmTorError::SignatureCount {
                got: blind_signatures.len(),
                expected: self.pending.len(),
            });
        }
        let tokens = self
            .pending
            .iter()
            .zip(blind_signatures)
            .map(|(p, s)| self.key.finalize(p, s))
            .collect::<Result<Vec<_>, _>>()?;
        self.pending.clear();
        self.ready.extend(tokens);
        Ok(self.ready.len())
    }

    /// The next token to redeem.
    pub fn take(&mut self) -> Result<Token, LlmTorError> {
        self.ready.pop_front().ok_or(LlmTorError::NoToken)
    }

    /// Puts back a token whose redemption never reached the proxy.
    pub fn restore(&mut self, token: Token) {
        self.ready.push_front(token);
    }

    /// Tokens ready.
    pub fn len(&self) -> usize {
        self.ready.len()
    }

    /// True if no token is ready.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    /// True if an issuance is outstanding.
    pub fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}
