//! Datagram delivery (whitepaper "Adversary and Network Assumptions": an
//! asynchronous network with delay and loss): propagation between regions,
//! access-link latency at both ends, jitter, serialization on the sender's
//! access bandwidth (with queueing behind earlier datagrams), and loss.

use peer2prompt::time::{Duration, Instant};

use crate::rng;

/// Where a node sits and what its access link is like.
#[derive(Clone, Debug)]
pub struct Attachment {
    /// Region index.
    pub region: usize,
    /// One-way access latency.
    pub access_latency: Duration,
    /// Access bandwidth, bits per second.
    pub bandwidth_bps: f64,
    /// When the access link is free to send again.
    pub link_free_at: Instant,
}

/// The delay model.
#[derive(Clone, Debug)]
pub struct LinkModel {
    /// Inter-region RTT, ms.
    pub rtt_ms: Vec<Vec<f64>>,
    /// Jitter bound, ms (uniform).
    pub jitter_ms: f64,
    /// Loss probability per datagram.
    pub loss: f64,
}

impl LinkModel {
    /// When a datagram of `size` bytes sent at `now` arrives, or `None` if
    /// it is lost. Updates the sender's link queue.
    pub fn transmit(
        &self,
        now: Instant,
        from: &mut Attachment,
        to: &Attachment,
        size: usize,
        rng: &mut impl rand_core::Rng,
    ) -> Option<Instant> {
        let start = now.max(from.link_free_at);
        let serialize = Duration::from_secs_f64(size as f64 * 8.0 / from.bandwidth_bps);
        from.link_free_at = start + serialize;
        if self.loss > 0.0 && rng::unit(rng) < self.loss {
            return None;
        }
        let propagation = Duration::from_secs_f64(self.rtt_ms[from.region][to.region] / 2_000.0);
        let jitter = Duration::from_secs_f64(rng::unit(rng) * self.jitter_ms / 1_000.0);
        Some(from.link_free_at + propagation + from.access_latency + to.access_latency + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Streams};

    fn att(region: usize) -> Attachment {
        Attachment {
            region,
            access_latency: Duration::from_millis(5),
            bandwidth_bps: 8_000_000.0,
            link_free_at: Instant::ZERO,
        }
    }

    #[test]
    fn delay_adds_propagation_access_and_serialization_and_queues() {
        let m = LinkModel {
            rtt_ms: vec![vec![20.0, 100.0], vec![100.0, 20.0]],
            jitter_ms: 0.0,
            loss: 0.0,
        };
        let mut r = Streams::new(1).stream(0, Purpose::Network);
        let (mut a, b) = (att(0), att(1));
        // 1000 bytes at 8 Mbit/s = 1 ms; + 50 ms propagation + 2 × 5 ms access.
        let t1 = m.transmit(Instant::ZERO, &mut a, &b, 1000, &mut r).unwrap();
        assert_eq!(t1.as_nanos(), 61_000_000);
        // A second datagram queues behind the first.
        let t2 = m.transmit(Instant::ZERO, &mut a, &b, 1000, &mut r).unwrap();
        assert_eq!(t2.as_nanos(), 62_000_000);
    }

    #[test]
    fn loss_drops_about_its_share() {
        let m = LinkModel {
            rtt_ms: vec![vec![20.0]],
            jitter_ms: 1.0,
            loss: 0.25,
        };
        let mut r = Streams::new(1).stream(0, Purpose::Network);
        let (mut a, b) = (att(0), att(0));
        let lost = (0..10_000)
            .filter(|_| m.transmit(Instant::ZERO, &mut a, &b, 10, &mut r).is_none())
            .count();
        assert!((2_300..2_700).contains(&lost), "{lost}");
    }
}
