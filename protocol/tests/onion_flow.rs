//! Whole onion flows in the in-process network: a telescoped build through
//! three relays and an exit, a request and a long streamed reply over reply
//! blocks, and every bad input the issue names.
#![allow(clippy::unwrap_used)]

mod onion_common;
mod vnet;

use peer2prompt::fidelity::CryptoFidelity::Full;
use std::collections::HashSet;
use std::net::SocketAddr;

use onion_common::{EPOCH, Net};
use peer2prompt::identity::{EpochClock, OnionKeyring};
use peer2prompt::onion::OnionError;
use peer2prompt::onion::cell::{CELL_LEN, Cell, Command};
use peer2prompt::onion::client::{ClientEvent, ReturnPath};
use peer2prompt::onion::fragment::ReassemblyLimits;
use peer2prompt::onion::layer::{Direction, HopKeys, KEY_MATERIAL_LEN, layer_ad, open_slot};
use peer2prompt::onion::ntor;
use peer2prompt::onion::observe::{ObservedCell, ObservedNext};
use peer2prompt::onion::relay::RelayConfig;
use peer2prompt::onion::shaping::{ConstantRate, DownstreamShaping};
use peer2prompt::time::{Duration, Instant};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const R1: usize = 0;
const R2: usize = 1;
const R3: usize = 2;
const EXIT: usize = 3;

fn net() -> Net {
    Net::new(4, 1, &RelayConfig::default())
}

/// A prompt, then a reply of `reply_len` bytes streamed back.
fn round_trip(n: &mut Net, circuit: u32, prompt: &[u8], reply_len: usize) -> Vec<u8> {
    n.client.send(n.now(), circuit, prompt).unwrap();
    n.run(Duration::from_secs(5));
    let (session, _, msg) = n.relays[EXIT].delivered.last().cloned().unwrap();
    assert_eq!(msg, prompt);
    let reply: Vec<u8> = (0..reply_len).map(|i| (i % 251) as u8).collect();
    let now = n.now();
    n.relays[EXIT].relay.reply(now, session, &reply).unwrap();
    n.run(Duration::from_secs(5));
    reply
}

#[test]
fn build_and_round_trip_through_three_relays_and_an_exit() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    // A 40 KB prompt (25 cells) and a 60 KB streamed reply (37 cells, more
    // than one batch of reply blocks: the exit asks for more on the way).
    let prompt: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let reply = round_trip(&mut n, c, &prompt, 60_000);
    n.assert_replies(&[&reply]);
    assert!(n.client_errors.is_empty(), "{:?}", n.client_errors);
    for r in &n.relays {
        assert!(r.errors.is_empty(), "{:?}", r.errors);
    }
    // Replenishment happened: more reply blocks were handed out than one batch.
    let batches = n.relays[EXIT]
        .observations
        .iter()
        .filter(|o| o.next == ObservedNext::Local)
        .count();
    assert!(
        batches > 25 + 1,
        "expected extra reply-block batches, got {batches} deliveries"
    );
}

#[test]
fn every_cell_on_every_link_has_the_same_size() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    round_trip(&mut n, c, b"short prompt", 5_000);
    n.client.send_cover(n.now(), c, 1).unwrap();
    n.run(Duration::from_secs(1));
    assert!(n.wire.len() > 30);
    for w in &n.wire {
        assert_eq!(w.bytes.len(), CELL_LEN, "cell from {} to {}", w.from, w.to);
    }
}

#[test]
fn each_hop_learns_only_its_neighbours() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    let prompt = b"a question about a rash";
    round_trip(&mut n, c, prompt, 3_000);
    let client = n.client_addr;
    let a: Vec<SocketAddr> = n.relays.iter().map(|r| r.addr).collect();
    let expected: [HashSet<SocketAddr>; 4] = [
        [client, a[R2]].into(),
        [a[R1], a[R3]].into(),
        [a[R2], a[EXIT]].into(),
        [a[R3]].into(),
    ];
    for (i, r) in n.relays.iter().enumerate() {
        let mut seen = HashSet::new();
        for o in &r.observations {
            seen.insert(o.prev);
            if let ObservedNext::Node(x) = o.next {
                seen.insert(x);
            }
        }
        assert_eq!(seen, expected[i], "hop {i} saw {seen:?}");
    }
    // Only the entry sees the client's address; only the exit sees the prompt.
    for (i, r) in n.relays.iter().enumerate() {
        let sees_client = r.observations.iter().any(|o| o.prev == client);
        assert_eq!(sees_client, i == R1);
        assert_eq!(!r.delivered.is_empty(), i == EXIT);
    }
    // And the prompt never crosses any link in the clear.
    for w in &n.wire {
        assert!(!w.bytes.windows(prompt.len()).any(|x| x == prompt));
    }
}

#[test]
fn reply_blocks_work_once() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    round_trip(&mut n, c, b"q", 100);
    // Capture the reply cell the exit sent to R3 and send it again.
    let exit = n.relays[EXIT].addr;
    let r3 = n.relays[R3].addr;
    let replayed = n
        .wire
        .iter()
        .rev()
        .find(|w| w.from == exit && w.to == r3)
        .cloned()
        .unwrap();
    assert_eq!(Cell::decode(&replayed.bytes).unwrap().cmd, Command::Surb);
    let before = n.relays[R3].errors.len();
    n.inject(exit, r3, replayed.bytes);
    n.run(Duration::from_secs(1));
    assert_eq!(n.relays[R3].errors[before..], [OnionError::ReplayedSurb]);
    // A forward cell replayed into R1 hits the replay window.
    let fwd = n
        .wire
        .iter()
        .find(|w| w.from == n.client_addr && Cell::decode(&w.bytes).unwrap().cmd == Command::Relay)
        .cloned()
        .unwrap();
    n.inject(fwd.from, fwd.to, fwd.bytes);
    n.run(Duration::from_secs(1));
    assert!(matches!(
        n.relays[R1].errors.last(),
        Some(OnionError::ReplayedCell { .. })
    ));
    assert_eq!(n.replies().len(), 1, "no second reply");
}

#[test]
fn mailbox_holds_replies_until_the_client_polls() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    n.client
        .set_return(c, ReturnPath::Reverse, Some([42u8; 16]))
        .unwrap();
    n.client.send(n.now(), c, b"reply into my mailbox").unwrap();
    n.run(Duration::from_secs(5));
    let (session, _, _) = n.relays[EXIT].delivered[0].clone();
    let reply = vec![5u8; 4_000];
    let now = n.now();
    n.relays[EXIT].relay.reply(now, session, &reply).unwrap();
    n.run(Duration::from_secs(5));
    assert!(n.replies().is_empty(), "nothing arrives before polling");
    let stored = n.relays[R1]
        .observations
        .iter()
        .filter(|o| o.next == ObservedNext::Mailbox)
        .count();
    assert_eq!(stored, 3, "4000 bytes are three reply cells");
    n.client.poll_mailbox(c).unwrap();
    n.run(Duration::from_secs(5));
    n.assert_replies(&[&reply]);
    // The mailbox relay saw neither the prompt nor the exit.
    let r1 = &n.relays[R1];
    assert!(r1.delivered.is_empty());
    let exit = n.relays[EXIT].addr;
    assert!(
        r1.observations
            .iter()
            .all(|o| o.prev != exit && o.next != ObservedNext::Node(exit))
    );
}

#[test]
fn independent_return_relays_carry_the_reply() {
    let mut n = Net::new(7, 3, &RelayConfig::default());
    let c = n.build(&[0, 1, 2, 3]);
    let ret = n.build(&[4, 5, 6]);
    n.client.set_return(c, ReturnPath::Via(ret), None).unwrap();
    let reply = round_trip(&mut n, c, b"independent return", 2_000);
    n.assert_replies(&[&reply]);
    // The reply went exit -> 6 -> 5 -> 4 -> client, not back through 2, 1, 0.
    let exit = n.relays[3].addr;
    let first_reply_hop = n
        .wire
        .iter()
        .find(|w| w.from == exit && Cell::decode(&w.bytes).unwrap().cmd == Command::Surb)
        .unwrap();
    assert_eq!(first_reply_hop.to, n.relays[6].addr);
    assert!(
        n.relays[2]
            .observations
            .iter()
            .all(|o| o.cell != ObservedCell::Surb || o.prev != exit)
    );
}

#[test]
fn cover_cells_are_recognised_and_dropped() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    let r3_before = n.relays[R3].observations.len();
    n.client.send_cover(n.now(), c, R2).unwrap();
    n.run(Duration::from_secs(1));
    let last = n.relays[R2].observations.last().unwrap();
    assert!(last.cover);
    assert_eq!(last.next, ObservedNext::Dropped);
    assert_eq!(
        n.relays[R3].observations.len(),
        r3_before,
        "R3 never sees it"
    );
}

#[test]
fn tampered_truncated_expired_and_unknown_cells_are_typed_errors() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    n.client.send(n.now(), c, b"x").unwrap();
    let sent: Vec<_> = std::iter::from_fn(|| n.client.poll_transmit()).collect();
    let cell = sent.last().unwrap().bytes.clone();
    let r1 = n.relays[R1].addr;
    let me = n.client_addr;
    let now = n.now();
    let relay = &mut n.relays[R1].relay;
    // Tampered header.
    let mut t = cell.clone();
    t[30] ^= 1;
    assert_eq!(
        relay.handle(now, me, &t),
        Err(OnionError::BadMac { layer: "slot" })
    );
    // Truncated.
    assert_eq!(
        relay.handle(now, me, &cell[..CELL_LEN - 1]),
        Err(OnionError::CellLength {
            got: CELL_LEN - 1,
            expected: CELL_LEN
        })
    );
    // Unknown circuit, and a known circuit id from the wrong neighbour.
    let mut u = cell.clone();
    u[0] ^= 0xff;
    assert!(matches!(
        relay.handle(now, me, &u),
        Err(OnionError::UnknownSession { .. })
    ));
    let stranger = SocketAddr::from(([10, 200, 0, 1], 1));
    assert!(matches!(
        relay.handle(now, stranger, &cell),
        Err(OnionError::UnknownSession { .. })
    ));
    // Expired: the cell was sealed with a 60 s lifetime.
    let late = now + Duration::from_secs(61);
    assert!(matches!(
        relay.handle(late, me, &cell),
        Err(OnionError::Expired { .. })
    ));
    // The untouched cell still works once.
    relay.handle(now, me, &cell).unwrap();
    let _ = r1;
}

#[test]
fn a_wrong_key_cannot_open_a_layer() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    n.client.send(n.now(), c, b"x").unwrap();
    let cell = Cell::decode(&n.client.poll_transmit().unwrap().bytes).unwrap();
    let mut m = [0u8; KEY_MATERIAL_LEN];
    m[0] = 1;
    let wrong = HopKeys::from_material(&m).unwrap();
    assert_eq!(
        open_slot(
            &wrong.fwd,
            &layer_ad(wrong.handle, Direction::Forward),
            &cell.body
        )
        .unwrap_err(),
        OnionError::BadMac { layer: "slot" }
    );
}

#[test]
fn oversized_reassembly_is_refused() {
    let config = RelayConfig {
        reassembly: ReassemblyLimits {
            max_message: 10_000,
            max_partial: 4,
        },
        ..RelayConfig::default()
    };
    let mut n = Net::new(4, 2, &config);
    let c = n.build(&[R1, R2, R3, EXIT]);
    n.client.send(n.now(), c, &vec![1u8; 50_000]).unwrap();
    n.run(Duration::from_secs(5));
    assert!(n.relays[EXIT].delivered.is_empty());
    assert!(matches!(
        n.relays[EXIT].errors.first(),
        Some(OnionError::OversizedMessage { limit: 10_000, .. })
    ));
}

#[test]
fn per_hop_delays_stay_within_their_bounds() {
    let config = RelayConfig {
        delay: Some((Duration::from_millis(5), Duration::from_millis(50))),
        ..RelayConfig::default()
    };
    let mut n = Net::new(4, 4, &config);
    let c = n.build(&[R1, R2, R3, EXIT]);
    n.client.send(n.now(), c, &vec![3u8; 20_000]).unwrap();
    n.run(Duration::from_secs(5));
    // Latency 20 ms per link; each forwarding hop adds 5..=50 ms.
    let r1 = n.relays[R1].addr;
    let r2 = n.relays[R2].addr;
    let arrive: Vec<Instant> = n
        .wire
        .iter()
        .filter(|w| w.to == r1 && w.from == n.client_addr)
        .map(|w| w.at)
        .collect();
    let leave: Vec<Instant> = n
        .wire
        .iter()
        .filter(|w| w.from == r1 && w.to == r2)
        .map(|w| w.at)
        .collect();
    assert!(!leave.is_empty());
    let mut delays = Vec::new();
    for l in &leave {
        // The cell left R1 at (arrival at R2) - latency.
        let sent = Instant::from_nanos(l.as_nanos() - Duration::from_millis(20).as_nanos());
        let earliest = arrive.iter().filter(|a| **a <= sent).max().unwrap();
        delays.push(sent.saturating_duration_since(*earliest));
    }
    assert!(delays.iter().all(|d| *d <= Duration::from_millis(50)));
    assert!(delays.iter().any(|d| *d >= Duration::from_millis(5)));
    assert_eq!(n.relays[EXIT].delivered.len(), 1, "reordering is tolerated");
}

#[test]
fn an_onion_key_past_its_grace_period_is_refused() {
    let mut n = net();
    let stale = n.specs(&[R1]);
    // Rotate R1 into the next epoch, past the 10-minute grace period.
    let later = Instant::ZERO + EPOCH + Duration::from_secs(601);
    n.set_now(later);
    let r = &mut n.relays[R1];
    r.relay.maintain_keys(&r.identity, later);
    n.client.build(n.now(), stale).unwrap();
    n.run(Duration::from_secs(20));
    assert_eq!(n.relays[R1].errors, vec![OnionError::UnknownOnionKey]);
    assert!(
        n.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::CircuitFailed { .. }))
    );
}

#[test]
fn a_leaked_long_term_key_does_not_open_a_recorded_session() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    n.client
        .send(n.now(), c, b"recorded secret prompt")
        .unwrap();
    n.run(Duration::from_secs(5));
    // The adversary recorded the exit's CREATE and CREATED and the cell it
    // received. Afterwards it steals the exit's onion key (and identity).
    let exit = n.relays[EXIT].addr;
    let create = n
        .wire
        .iter()
        .find(|w| w.to == exit && Cell::decode(&w.bytes).unwrap().cmd == Command::Create)
        .unwrap();
    let created = n
        .wire
        .iter()
        .find(|w| w.from == exit && Cell::decode(&w.bytes).unwrap().cmd == Command::Created)
        .unwrap();
    let recorded = n
        .wire
        .iter()
        .rev()
        .find(|w| w.to == exit && Cell::decode(&w.bytes).unwrap().cmd == Command::Relay)
        .unwrap();
    let skin: [u8; 84] = Cell::decode(&create.bytes).unwrap().body[..84]
        .try_into()
        .unwrap();
    let recorded_body = Cell::decode(&recorded.bytes).unwrap().body;
    let original_y = &Cell::decode(&created.bytes).unwrap().body[..32];

    // With the stolen key the adversary can run the server side of ntor on the
    // recorded onionskin, but a fresh ephemeral y' gives different keys: the
    // session's y was erased, and nothing recorded lets it be recomputed.
    let exit_node = &n.relays[EXIT];
    let b = exit_node
        .relay
        .keyring()
        .secret_for(&skin[20..52].try_into().unwrap(), n.now())
        .unwrap();
    let id = exit_node.identity.node_id().ntor_id();
    let onion_key: [u8; 32] = skin[20..52].try_into().unwrap();
    for attempt in 0..16u64 {
        let pair = ntor::OnionKeyPair {
            secret: b,
            public: &onion_key,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(attempt);
        let (reply, material) =
            ntor::server_respond(&id, pair, &skin, KEY_MATERIAL_LEN, Full, &mut rng).unwrap();
        assert_ne!(&reply[..32], original_y);
        let keys = HopKeys::from_material(&material).unwrap();
        let ad = layer_ad(keys.handle, Direction::Forward);
        assert!(open_slot(&keys.fwd, &ad, &recorded_body).is_err());
    }
}

#[test]
fn a_relay_going_offline_fails_the_build() {
    let mut n = net();
    n.offline.push(n.relays[R2].addr);
    let path = n.specs(&[R1, R2, R3, EXIT]);
    let c = n.client.build(n.now(), path).unwrap();
    n.run(Duration::from_secs(30));
    assert!(n.client_events.contains(&ClientEvent::CircuitFailed {
        circuit: c,
        reason: peer2prompt::onion::client::CircuitFailure::Timeout,
        stalled_at: Some(n.relays[R2].spec().node),
    }));
}

#[test]
fn keyrings_for_the_harness_are_fresh() {
    // Guards the harness itself: distinct onion keys per relay.
    let n = net();
    let keys: HashSet<[u8; 32]> = n
        .relays
        .iter()
        .map(|r| r.relay.keyring().current_cert().onion_key)
        .collect();
    assert_eq!(keys.len(), 4);
    let _ = (
        EpochClock { length: EPOCH },
        std::marker::PhantomData::<OnionKeyring>,
    );
}

#[cfg(feature = "adversary")]
#[test]
fn a_relay_that_stops_forwarding_one_session_still_observes_it_and_serves_others() {
    let mut n = net();
    let stopped = n.build(&[R1, R2, R3, EXIT]);
    let handle = n.relays[R2].relay.sessions()[0];
    let other = n.build(&[R1, R2, R3, EXIT]);
    n.relays[R2].relay.dangerous_stop_forwarding(handle);
    let seen = |n: &Net| {
        n.relays[R2]
            .observations
            .iter()
            .filter(|o| o.session == handle)
            .count()
    };
    let before = seen(&n);
    let now = n.now();
    n.client.send(now, stopped, b"never arrives").unwrap();
    n.client.send(now, other, b"arrives").unwrap();
    n.run(Duration::from_secs(5));
    let delivered: Vec<&[u8]> = n.relays[EXIT]
        .delivered
        .iter()
        .map(|(_, _, m)| m.as_slice())
        .collect();
    assert_eq!(delivered, [b"arrives".as_slice()]);
    assert!(
        seen(&n) > before,
        "the hop still observes the stopped session"
    );
    assert!(n.relays[R2].errors.is_empty(), "{:?}", n.relays[R2].errors);
}

#[cfg(feature = "adversary")]
#[test]
fn an_exit_that_stops_forwarding_a_session_sends_no_reply_on_it() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    round_trip(&mut n, c, b"first turn", 100);
    let session = n.relays[EXIT].delivered.last().unwrap().0;
    n.relays[EXIT].relay.dangerous_stop_forwarding(session);
    let replies = n.replies().len();
    let now = n.now();
    n.relays[EXIT]
        .relay
        .reply(now, session, b"never sent")
        .unwrap();
    n.run(Duration::from_secs(5));
    assert_eq!(n.replies().len(), replies, "no reply after the stop");
    assert_eq!(n.relays[EXIT].relay.replies_pending(session), 0);
}

#[cfg(feature = "adversary")]
#[test]
fn an_entry_that_stops_after_delivery_passes_no_reply_back() {
    let mut n = net();
    let c = n.build(&[R1, R2, R3, EXIT]);
    round_trip(&mut n, c, b"first turn", 100);
    let replies = n.replies().len();
    let entry = n.relays[R1].relay.sessions()[0];
    // The prompt is through; the entry stops before the reply comes back.
    n.client.send(n.now(), c, b"second turn").unwrap();
    n.run(Duration::from_secs(5));
    let session = n.relays[EXIT].delivered.last().unwrap().0;
    n.relays[R1].relay.dangerous_stop_forwarding(entry);
    let now = n.now();
    n.relays[EXIT]
        .relay
        .reply(now, session, b"stopped at the entry")
        .unwrap();
    n.run(Duration::from_secs(5));
    assert_eq!(
        n.replies().len(),
        replies,
        "the reply-block cells stop at the entry"
    );
    assert!(n.relays[R1].errors.is_empty(), "{:?}", n.relays[R1].errors);
}

/// The exit's downstream shaping, and the Surb cells its first return hop
/// (R3, the reverse path) received from it after `since`, with their times.
fn shaped(downstream: DownstreamShaping) -> Net {
    let config = RelayConfig {
        downstream,
        ..RelayConfig::default()
    };
    Net::new(4, 5, &config)
}

fn surbs_from_exit(n: &Net, since: usize) -> Vec<Instant> {
    let exit = n.relays[EXIT].addr;
    n.relays[R3].observations[since..]
        .iter()
        .filter(|o| o.cell == ObservedCell::Surb && o.prev == exit)
        .map(|o| o.at)
        .collect()
}

#[test]
fn downstream_padding_replies_travel_as_replies_and_the_client_drops_them() {
    let mut n = shaped(DownstreamShaping {
        cover_mean_gap: Some(Duration::from_millis(50)),
        constant_rate: None,
    });
    let c = n.build(&[R1, R2, R3, EXIT]);
    assert_eq!(n.relays[EXIT].relay.padding_sent(), 0, "no request yet");
    let since = n.relays[R3].observations.len();
    let reply = round_trip(&mut n, c, b"a prompt", 5_000);
    let sent = n.relays[EXIT].relay.padding_sent();
    // About 10 s at one per 50 ms, less the gaps with no reply block left.
    assert!(sent > 40, "padding replies sent: {sent}");
    // The clock keeps running them: the last few are still on the wire.
    let got = n.client.stats().padding_received;
    assert!(
        got <= sent && sent - got <= 3,
        "{got} of {sent} padding replies arrived"
    );
    n.assert_replies(&[&reply]);
    assert!(n.client_errors.is_empty(), "{:?}", n.client_errors);
    for r in &n.relays {
        assert!(r.errors.is_empty(), "{:?}", r.errors);
    }
    // The return hop forwards them as it forwards the reply: same cell kind,
    // never marked as cover (it cannot tell).
    let seen = surbs_from_exit(&n, since).len() as u64;
    assert!(seen > sent, "R3 saw {seen} reply cells for {sent} padding");
    assert!(n.relays[R3].observations[since..].iter().all(|o| !o.cover));
}

#[test]
fn constant_rate_streaming_sends_evenly_and_pads_bursts_to_a_whole_quantum() {
    let gap = Duration::from_millis(20);
    let mut n = shaped(DownstreamShaping {
        cover_mean_gap: None,
        constant_rate: Some(ConstantRate {
            gap,
            tail: Duration::from_millis(200),
            quantum: 16,
        }),
    });
    let c = n.build(&[R1, R2, R3, EXIT]);
    for (k, len) in [(0, 3_000), (1, 40_000)] {
        let since = n.relays[R3].observations.len();
        let padding_before = n.relays[EXIT].relay.padding_sent();
        let reply = round_trip(&mut n, c, b"a prompt", len);
        let times = surbs_from_exit(&n, since);
        let padding = n.relays[EXIT].relay.padding_sent() - padding_before;
        let burst = times.len() as u64;
        assert_eq!(burst % 16, 0, "turn {k}: a burst of {burst} cells");
        assert!(
            padding > 0 && padding < burst,
            "turn {k}: {padding} of {burst}"
        );
        // Slots are `gap` apart; a slot with no reply block left is skipped.
        for w in times.windows(2) {
            let d = w[1].as_nanos() - w[0].as_nanos();
            assert!(
                d > 0 && d % gap.as_nanos() == 0,
                "turn {k}: a gap of {d} ns"
            );
        }
        assert_eq!(n.replies().last(), Some(&reply), "turn {k}: reply intact");
    }
    assert!(n.client_errors.is_empty(), "{:?}", n.client_errors);
}
