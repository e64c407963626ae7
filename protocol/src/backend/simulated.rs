//! A simulated provider: time to first token, a per-token rate, output lengths
//! from a distribution, rate limits, transient errors and an account-ban
//! hazard. Used for Ghosts (provider API accounts) and, with its own numbers,
//! for GPU nodes (local open models).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use super::dist::{Dist, unit};
use super::{BackendError, BackendOutput, InferenceBackend, Job, ProviderObservation, ProviderSaw};
use crate::market::receipt::probe_answer;
use crate::market::tokens;
use crate::time::{Duration, Instant};
use crate::verify::Transcript;
use crate::verify::model::{SimulatedModel, render};

/// How a simulated backend behaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulatedParams {
    /// Models served.
    pub models: Vec<String>,
    /// Time to first token, seconds.
    pub ttft_s: Dist,
    /// Output tokens per second once streaming.
    pub tokens_per_s: f64,
    /// Output tokens a job produces (before the request's cap).
    pub output_tokens: Dist,
    /// Tokens per streamed chunk.
    pub chunk_tokens: u32,
    /// Jobs accepted per minute (the account's rate limit).
    pub rate_limit_per_min: u32,
    /// Probability a job fails with a transient error.
    pub transient_error_p: f64,
    /// Tokens per day the account normally uses; volume beyond it raises the ban hazard.
    pub normal_tokens_per_day: u64,
    /// Ban probability per million tokens served beyond normal usage in a day.
    pub ban_hazard_per_mtok: f64,
    /// Verified-inference mode (`None`: off): output is a simulated model's
    /// tokens ([`crate::verify::model`]) and each job's transcript is kept
    /// for the service to commit to.
    #[serde(default)]
    pub transcripts: Option<TranscriptMode>,
}

/// What the backend really runs in verified-inference mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptMode {
    /// A cheaper model served in place of the one asked for, and the
    /// per-step probability that its logits differ from that model's (an
    /// assumption); `None`: the model asked for, honestly.
    pub substitute: Option<(String, f64)>,
}

/// Finished jobs' transcripts kept for the service at most.
const KEPT_TRANSCRIPTS: usize = 256;

impl Default for SimulatedParams {
    fn default() -> Self {
        SimulatedParams {
            models: vec!["gpt-4o".into()],
            ttft_s: Dist::LogNormal {
                mu: -0.7,
                sigma: 0.4,
            },
            tokens_per_s: 60.0,
            output_tokens: Dist::LogNormal {
                mu: 4.6,
                sigma: 0.9,
            },
            chunk_tokens: 16,
            rate_limit_per_min: 500,
            transient_error_p: 0.0,
            normal_tokens_per_day: 2_000_000,
            ban_hazard_per_mtok: 0.0,
            transcripts: None,
        }
    }
}

#[derive(Debug)]
struct Running {
    model: String,
    next_at: Instant,
    remaining: u64,
    text: Vec<u8>,
    sent: usize,
    started: bool,
    transcript: Option<Transcript>,
}

/// A simulated provider account (or GPU host).
pub struct SimulatedBackend {
    params: SimulatedParams,
    account: SocketAddr,
    rng: ChaCha20Rng,
    jobs: BTreeMap<u64, Running>,
    ready: VecDeque<BackendOutput>,
    recent: VecDeque<Instant>,
    day: u64,
    tokens_today: u64,
    banned: bool,
    observations: VecDeque<ProviderObservation>,
    finished: BTreeMap<u64, Transcript>,
}

impl core::fmt::Debug for SimulatedBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimulatedBackend")
            .field("jobs", &self.jobs.len())
            .field("banned", &self.banned)
            .finish_non_exhaustive()
    }
}

impl SimulatedBackend {
    /// A backend for the account at `account`, drawing from `rng`.
    pub fn new(params: SimulatedParams, account: SocketAddr, rng: ChaCha20Rng) -> Self {
        SimulatedBackend {
            params,
            account,
            rng,
            jobs: BTreeMap::new(),
            ready: VecDeque::new(),
            recent: VecDeque::new(),
            day: 0,
            tokens_today: 0,
            banned: false,
            observations: VecDeque::new(),
            finished: BTreeMap::new(),
        }
    }

    /// True once the account was banned.
    pub fn is_banned(&self) -> bool {
        self.banned
    }

    fn per_token(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.params.tokens_per_s.max(1e-9))
    }

    /// Books `n` tokens served and draws the ban hazard for them.
    fn serve(&mut self, now: Instant, n: u64) {
        let day = now.as_nanos() / Duration::from_secs(86_400).as_nanos();
        if day != self.day {
            self.day = day;
            self.tokens_today = 0;
        }
        let before = self.tokens_today;
        self.tokens_today += n;
        let excess = self
            .tokens_today
            .saturating_sub(self.params.normal_tokens_per_day.max(before));
        if excess > 0 && self.params.ban_hazard_per_mtok > 0.0 {
            let p = 1.0 - (-self.params.ban_hazard_per_mtok * excess as f64 / 1e6).exp();
            if unit(&mut self.rng) < p {
                self.banned = true;
            }
        }
    }
}

impl InferenceBackend for SimulatedBackend {
    fn submit(&mut self, now: Instant, job: Job) -> Result<(), BackendError> {
        if self.banned {
            return Err(BackendError::Banned);
        }
        if !self.params.models.contains(&job.model) {
            return Err(BackendError::UnknownModel);
        }
        let minute = Duration::from_secs(60);
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= minute)
        {
            self.recent.pop_front();
        }
        if self.recent.len() as u32 >= self.params.rate_limit_per_min {
            return Err(BackendError::RateLimited);
        }
        self.recent.push_back(now);
        self.observations.push_back(ProviderObservation {
            at: now,
            account: self.account,
            model: job.model.clone(),
            seen: ProviderSaw::Prompt(job.prompt.clone()),
        });
        self.serve(now, tokens::count(&job.prompt));
        if unit(&mut self.rng) < self.params.transient_error_p {
            self.ready.push_back(BackendOutput::Failed {
                job: job.id,
                error: BackendError::Transient,
            });
            return Ok(());
        }
        let drawn = self.params.output_tokens.sample(&mut self.rng).round() as u64;
        if let Some(mode) = self.params.transcripts.clone() {
            let tokens_out = drawn.clamp(1, u64::from(job.max_output_tokens.max(1)));
            return self.run_model(now, job, &mode, tokens_out as u32);
        }
        let mut text = match job.probe {
            Some(n) => probe_answer(&n),
            None => Vec::new(),
        };
        // A probe's answer is at least long enough to carry its echo.
        let floor = tokens::count(&text).max(1);
        let tokens_out = drawn
            .max(floor)
            .min(u64::from(job.max_output_tokens.max(1)));
        text.extend(tokens::synthetic(tokens_out, job.id ^ self.rng_seed_word()));
        text.truncate((tokens_out as usize) * tokens::BYTES_PER_TOKEN);
        self.start(now, job, (tokens_out, text), None);
        Ok(())
    }

    fn cancel(&mut self, job: u64) {
        self.jobs.remove(&job);
    }

    fn poll_output(&mut self, now: Instant) -> Option<BackendOutput> {
        if let Some(o) = self.ready.pop_front() {
            return Some(o);
        }
        let (&id, _) = self
            .jobs
            .iter()
            .filter(|(_, r)| r.next_at <= now)
            .min_by_key(|(_, r)| r.next_at)?;
        let chunk = u64::from(self.params.chunk_tokens.max(1));
        let per_token = self.per_token();
        let (out, finished, n) = {
            let r = self.jobs.get_mut(&id)?;
            if r.remaining == 0 {
                (BackendOutput::Done { job: id }, true, 0)
            } else {
                let n = chunk.min(r.remaining);
                let bytes = (n as usize * tokens::BYTES_PER_TOKEN).min(r.text.len() - r.sent);
                let text = r.text[r.sent..r.sent + bytes].to_vec();
                r.sent += bytes;
                r.remaining -= n;
                r.started = true;
                r.next_at += per_token.saturating_mul(n);
                (BackendOutput::Tokens { job: id, text }, false, n)
            }
        };
        if finished {
            if let Some(r) = self.jobs.remove(&id) {
                if let Some(t) = r.transcript {
                    if self.finished.len() >= KEPT_TRANSCRIPTS {
                        self.finished.pop_first();
                    }
                    self.finished.insert(id, t);
                }
                let mut text = r.text;
                text.truncate(r.sent);
                self.observations.push_back(ProviderObservation {
                    at: now,
                    account: self.account,
                    model: r.model,
                    seen: ProviderSaw::Output(text),
                });
            }
        } else {
            self.serve(now, n);
        }
        Some(out)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(Instant::ZERO);
        }
        self.jobs.values().map(|r| r.next_at).min()
    }

    fn poll_observation(&mut self) -> Option<ProviderObservation> {
        self.observations.pop_front()
    }

    fn models(&self) -> Vec<String> {
        self.params.models.clone()
    }

    fn take_transcript(&mut self, job: u64) -> Option<Transcript> {
        self.finished.remove(&job)
    }
}

impl SimulatedBackend {
    /// Verified-inference mode: the job's output is `steps` tokens of the
    /// model really run, rendered four bytes a token.
    fn run_model(
        &mut self,
        now: Instant,
        job: Job,
        mode: &TranscriptMode,
        steps: u32,
    ) -> Result<(), BackendError> {
        let model = match &mode.substitute {
            Some((cheap, p)) => SimulatedModel::substitute(cheap, &job.model, *p),
            None => SimulatedModel::honest(&job.model),
        };
        let transcript = model.generate(&job.prompt, steps);
        let text = render(&transcript.tokens());
        self.start(now, job, (u64::from(steps), text), Some(transcript));
        Ok(())
    }

    /// Queues `job`'s output of `tokens` tokens after a drawn TTFT.
    fn start(
        &mut self,
        now: Instant,
        job: Job,
        (tokens, text): (u64, Vec<u8>),
        transcript: Option<Transcript>,
    ) {
        let ttft = Duration::from_secs_f64(self.params.ttft_s.sample(&mut self.rng));
        self.jobs.insert(
            job.id,
            Running {
                model: job.model,
                next_at: now + ttft,
                remaining: tokens,
                text,
                sent: 0,
                started: false,
                transcript,
            },
        );
    }

    fn rng_seed_word(&mut self) -> u64 {
        use rand_core::Rng;
        self.rng.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn backend(params: SimulatedParams) -> SimulatedBackend {
        SimulatedBackend::new(
            params,
            SocketAddr::from(([10, 0, 0, 1], 1)),
            ChaCha20Rng::seed_from_u64(3),
        )
    }

    fn job(id: u64, max: u32) -> Job {
        Job {
            id,
            model: "gpt-4o".into(),
            prompt: tokens::synthetic(100, 1),
            max_output_tokens: max,
            probe: None,
        }
    }

    fn drain(b: &mut SimulatedBackend, from: Instant) -> (Vec<u8>, Instant, Instant) {
        let mut text = Vec::new();
        let mut now = from;
        let mut first = None;
        loop {
            match b.poll_output(now) {
                Some(BackendOutput::Tokens { text: t, .. }) => {
                    first.get_or_insert(now);
                    text.extend(t);
                }
                Some(BackendOutput::Done { .. }) => return (text, first.unwrap_or(now), now),
                Some(BackendOutput::Failed { error, .. }) => panic!("{error}"),
                None => now = b.poll_timeout().unwrap(),
            }
        }
    }

    #[test]
    fn streams_at_the_configured_pace_and_honours_the_cap() {
        let params = SimulatedParams {
            ttft_s: Dist::Fixed { value: 0.5 },
            tokens_per_s: 100.0,
            output_tokens: Dist::Fixed { value: 200.0 },
            ..SimulatedParams::default()
        };
        let mut b = backend(params);
        b.submit(Instant::ZERO, job(1, 150)).unwrap();
        let (text, first, done) = drain(&mut b, Instant::ZERO);
        assert_eq!(tokens::count(&text), 150, "capped at max_output_tokens");
        assert_eq!(first, Instant::ZERO + Duration::from_millis(500));
        // 150 tokens at 100/s after the first token: ~1.5 s more.
        let streaming = done.saturating_duration_since(first).as_secs_f64();
        assert!((streaming - 1.5).abs() < 0.02, "{streaming}");
        let obs = b.poll_observation().unwrap();
        assert_eq!(
            obs.seen,
            ProviderSaw::Prompt(tokens::synthetic(100, 1)),
            "the provider sees the prompt"
        );
        let out = b.poll_observation().unwrap();
        assert_eq!(out.seen, ProviderSaw::Output(text), "and the response");
    }

    #[test]
    fn rate_limits_unknown_models_and_bans() {
        let mut b = backend(SimulatedParams {
            rate_limit_per_min: 2,
            ..SimulatedParams::default()
        });
        b.submit(Instant::ZERO, job(1, 10)).unwrap();
        b.submit(Instant::ZERO, job(2, 10)).unwrap();
        assert_eq!(
            b.submit(Instant::ZERO, job(3, 10)),
            Err(BackendError::RateLimited)
        );
        b.submit(Instant::ZERO + Duration::from_secs(61), job(4, 10))
            .unwrap();
        let mut unknown = job(5, 10);
        unknown.model = "other".into();
        assert_eq!(
            b.submit(Instant::ZERO + Duration::from_secs(61), unknown),
            Err(BackendError::UnknownModel)
        );

        let mut heavy = backend(SimulatedParams {
            normal_tokens_per_day: 0,
            ban_hazard_per_mtok: 1e6,
            ..SimulatedParams::default()
        });
        heavy.submit(Instant::ZERO, job(1, 10)).unwrap();
        assert!(heavy.is_banned());
        assert_eq!(
            heavy.submit(Instant::ZERO, job(2, 10)),
            Err(BackendError::Banned)
        );
    }

    #[test]
    fn probes_are_echoed() {
        let mut b = backend(SimulatedParams::default());
        let mut j = job(1, 100);
        j.probe = Some([9; 16]);
        b.submit(Instant::ZERO, j).unwrap();
        let (text, _, _) = drain(&mut b, Instant::ZERO);
        assert!(crate::market::receipt::probe_passed(&[9; 16], &text));
    }
}
