//! The whole request lifecycle across real nodes (issue 5): DHT discovery,
//! a signed quote, a session through three relays to a Ghost or GPU node, the
//! provider, a streamed reply over reply blocks, payment in prepaid chunks and
//! settlement at the mint; multi-turn sessions; the data-visibility matrix;
//! and every failure the whitepaper names ending in a defined outcome with
//! value conserved. Misbehaving peers are in `adversaries.rs`.
#![allow(clippy::unwrap_used)]

mod node_common;
mod vnet;

use std::collections::{HashMap, HashSet};

use node_common::*;
use peer2prompt::dht::Role;
use peer2prompt::ecash::PayerId;
use peer2prompt::market::tokens;
use peer2prompt::node::TAG_ONION;
use peer2prompt::node::visibility::{IpView, PathRole, SessionTruth, VisibilityMatrix};
use peer2prompt::node::{ClientEvent, Observation, ServiceEvent, Settlement, TurnFailure};
use peer2prompt::onion::cell::CELL_LEN;
use peer2prompt::time::Duration;

const PROMPT: &[u8] = b"PROMPT-MARKER-7f3a: what is the airspeed velocity of an unladen swallow?";

#[test]
fn one_prompt_goes_the_whole_way_and_back() {
    let spec = Spec::default();
    let (mut w, c) = World::funded(&spec, 5_000);
    let r = w.ask(c, PROMPT).unwrap();

    // A session of three distinct relays ending at a service.
    let opened = w.sessions_opened(c);
    assert_eq!(opened.len(), 1);
    let (session, relays, exit) = &opened[0];
    assert_eq!(*session, r.session);
    assert_eq!(relays.len(), 3);
    assert_eq!(
        relays.iter().collect::<HashSet<_>>().len(),
        3,
        "distinct relays"
    );
    assert!(!relays.contains(exit));
    assert_eq!(*exit, r.exit);
    let s = w.index_of(exit);
    assert!(matches!(w.nodes[s].kind, Kind::Ghost | Kind::Gpu));

    // Fixed-size cells on every link: every onion datagram is one tag byte and one cell.
    let onion: Vec<usize> = w
        .sizes
        .iter()
        .filter(|s| s.2 == TAG_ONION)
        .map(|s| s.3)
        .collect();
    assert!(onion.len() > 50);
    assert!(onion.iter().all(|n| *n == 1 + CELL_LEN));

    // The streamed reply: every token the backend produced, first token before the last.
    assert_eq!(r.turn, 1);
    assert_eq!(r.output_tokens, 300);
    assert_eq!(tokens::count(&r.response), 300);
    assert_eq!(r.input_tokens, tokens::count(PROMPT));
    assert!(r.started < r.first_token && r.first_token < r.done);

    // Billing: the receipt charges exactly the quote ($5/$20 per Mtok = 5/20 msat per token).
    assert_eq!(r.charged_msat, r.input_tokens * 5 + r.output_tokens * 20);
    // Prepaid chunks: several payments, and the client never pays a whole chunk beyond use.
    let paid = w.paid_events(c, r.request);
    assert!(paid.len() >= 3, "paid in chunks: {}", paid.len());
    assert_eq!(paid.iter().map(|p| p.1).sum::<u64>() * 1000, r.paid_msat);
    assert!(r.paid_msat >= r.charged_msat);
    assert!(
        r.paid_msat - r.charged_msat < spec.chunk_msat,
        "{} vs {}",
        r.paid_msat,
        r.charged_msat
    );

    // The service's books agree with the client's.
    let served: Vec<_> = w
        .service_events(s)
        .into_iter()
        .filter_map(|e| match e {
            ServiceEvent::Served {
                input_tokens,
                output_tokens,
                charged_msat,
                paid_sat,
                cost_msat,
                ..
            } => Some((
                input_tokens,
                output_tokens,
                charged_msat,
                paid_sat,
                cost_msat,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(served.len(), 1);
    let (i, o, charged, paid_sat, cost) = served[0];
    assert_eq!(
        (i, o, charged, paid_sat * 1000),
        (r.input_tokens, r.output_tokens, r.charged_msat, r.paid_msat)
    );
    if w.nodes[s].kind == Kind::Ghost {
        // The Ghost pays its provider $2.50/$10 per Mtok.
        assert_eq!(cost, (i * 5).div_ceil(2) + o * 10);
    }
    assert!(
        cost > 0 && cost < charged,
        "a margin: cost {cost}, charged {charged}"
    );

    // Immediate settlement: everything received was redeemed at the mint.
    let settled: u64 = w
        .service_events(s)
        .iter()
        .filter_map(|e| match e {
            ServiceEvent::Settled { amount, .. } => Some(*amount),
            _ => None,
        })
        .sum();
    assert!(settled > 0);
    assert_eq!(
        w.balance(s),
        settled,
        "the service holds only redeemed ecash"
    );
    w.assert_conserved();
}

#[test]
fn a_gpu_node_serves_the_same_flow_with_its_own_costs() {
    let spec = Spec {
        services: vec![Role::Gpu],
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    let r = w.ask(c, PROMPT).unwrap();
    let gpu = w.index(Kind::Gpu, 0);
    assert_eq!(w.index_of(&r.exit), gpu);
    let cost = w
        .service_events(gpu)
        .iter()
        .find_map(|e| match e {
            ServiceEvent::Served { cost_msat, .. } => Some(*cost_msat),
            _ => None,
        })
        .unwrap();
    // Hardware at 500 msat/s: prefill at 2,000 tok/s and decode at 40 tok/s.
    let secs = r.input_tokens as f64 / 2000.0 + r.output_tokens as f64 / 40.0;
    assert_eq!(cost, (secs * 500.0).ceil() as u64);
    // Decoding at 40 tok/s takes 7.5 s for 300 tokens, twice the Ghost's pace.
    assert!(r.done.saturating_duration_since(r.first_token) >= Duration::from_secs(7));
    w.assert_conserved();
}

#[test]
fn multi_turn_context_accumulates_then_the_session_rotates() {
    let spec = Spec {
        turns_per_session: 3,
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 20_000);
    let questions: Vec<Vec<u8>> = (0..4)
        .map(|i| format!("question number {i}, please").into_bytes())
        .collect();
    let mut reports = Vec::new();
    let mut context: Vec<u8> = Vec::new();
    for q in &questions {
        let r = w.ask(c, q).unwrap();
        if r.turn == 1 {
            context.clear();
        }
        let mut expected = context.clone();
        expected.extend_from_slice(q);
        // The prompt carries the whole conversation so far ...
        assert_eq!(r.input_tokens, tokens::count(&expected), "turn {}", r.turn);
        // ... and that is exactly what the service saw.
        let s = w.index_of(&r.exit);
        let seen = w
            .observations(s)
            .into_iter()
            .rev()
            .find_map(|o| match o {
                Observation::ServiceRequest { prompt, .. } => Some(prompt),
                _ => None,
            })
            .unwrap();
        assert_eq!(seen, expected);
        context = expected;
        context.extend_from_slice(&r.response);
        assert_eq!(
            r.context_tokens,
            tokens::count(&context),
            "context is counted"
        );
        reports.push(r);
    }
    assert_eq!(
        reports.iter().map(|r| r.turn).collect::<Vec<_>>(),
        [1, 2, 3, 1]
    );
    assert!(
        reports[..3]
            .iter()
            .all(|r| r.session == reports[0].session && r.exit == reports[0].exit)
    );
    assert_ne!(
        reports[3].session, reports[0].session,
        "rotated after three turns"
    );
    assert!(reports[1].context_tokens > reports[0].context_tokens);
    assert!(w.client_events(c).iter().any(
        |e| matches!(e, ClientEvent::SessionClosed { session, reason } if *session == reports[0].session && reason == "turn limit")
    ));
    w.assert_conserved();
}

#[test]
fn a_full_context_window_rotates_and_bounds_what_one_service_sees() {
    // Room for one turn: prompt + 1,000 output tokens asked for must fit 1,300.
    let spec = Spec {
        context_window: 1_300,
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 20_000);
    let a = w.ask(c, PROMPT).unwrap();
    let b = w.ask(c, b"and a follow-up").unwrap();
    assert_eq!((a.turn, b.turn), (1, 1), "the second turn could not fit");
    assert_ne!(a.session, b.session);
    assert_eq!(b.input_tokens, tokens::count(b"and a follow-up"));
    assert!(w.client_events(c).iter().any(
        |e| matches!(e, ClientEvent::SessionClosed { reason, .. } if reason == "context window full")
    ));
    // Per-service exposure, measured from what services observed.
    for s in w.all(Kind::Ghost).into_iter().chain(w.all(Kind::Gpu)) {
        let most = w
            .observations(s)
            .iter()
            .filter_map(|o| match o {
                Observation::ServiceRequest { prompt, .. } => Some(tokens::count(prompt)),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        assert!(
            most + 1000 <= 1_300,
            "service {s} saw {most} tokens of context"
        );
    }
    w.assert_conserved();
}

#[test]
fn rotation_on_request_resamples_route_and_service() {
    let spec = Spec::default();
    let (mut w, c) = World::funded(&spec, 30_000);
    for i in 0..6 {
        w.ask(c, format!("prompt {i}").as_bytes()).unwrap();
        let now = w.now();
        w.nodes[c].node.rotate_session(now).unwrap();
        w.collect(c);
    }
    let opened = w.sessions_opened(c);
    assert_eq!(opened.len(), 6);
    let exits: HashSet<_> = opened.iter().map(|s| s.2).collect();
    let routes: HashSet<_> = opened.iter().map(|s| (s.1.clone(), s.2)).collect();
    assert!(exits.len() >= 2, "services re-sampled: {exits:?}");
    assert!(routes.len() >= 5, "routes re-sampled: {}", routes.len());
    w.assert_conserved();
}

#[test]
fn a_challenge_probe_passes_at_an_honest_service() {
    let (mut w, c) = World::funded(&Spec::default(), 5_000);
    let probe = w.ask_with(c, PROMPT, true).unwrap();
    assert_eq!(probe.probe_passed, Some(true));
    let plain = w.ask(c, PROMPT).unwrap();
    assert_eq!(plain.probe_passed, None);
}

#[test]
fn the_visibility_matrix_equals_the_whitepaper_table() {
    let (mut w, c) = World::funded(&Spec::default(), 5_000);
    let r = w.ask(c, PROMPT).unwrap();
    let (_, relays, exit) = w.sessions_opened(c).remove(0);
    let truth = SessionTruth {
        client: w.nodes[c].node.addr(),
        relays: relays.iter().map(|id| w.addr_of(id)).collect(),
        exit: w.addr_of(&exit),
        prompt: PROMPT.to_vec(),
        payment: w
            .paid_events(c, r.request)
            .into_iter()
            .flat_map(|p| p.2)
            .collect(),
        response: r.response,
        payer: None,
    };
    let observed: HashMap<_, Vec<Observation>> = (0..w.nodes.len())
        .map(|i| (w.nodes[i].node.addr(), w.observations(i)))
        .collect();
    let mint = w.nodes[w.index(Kind::Mint, 0)].node.addr();
    let audit = |truth: &SessionTruth| {
        VisibilityMatrix::audit(truth, mint, |a| observed.get(&a).map_or(&[], Vec::as_slice))
    };
    let matrix = audit(&truth);
    println!("{}", matrix.to_markdown());
    assert_eq!(matrix, VisibilityMatrix::whitepaper(3));
    // The harness's Lightning reveals the payer's node to the mint
    // (whitepaper "Mint-Exit Collusion": "the mint learns the client's
    // Lightning node identity or IP from the funding invoice"), unlike the
    // table's Mint row: the audit finds it in the funding record.
    let known = SessionTruth {
        payer: Some(PayerId(c as u64)),
        ..truth
    };
    let mint_row = audit(&known).rows.last().copied().unwrap();
    assert_eq!(mint_row.0, PathRole::Mint);
    assert_eq!(mint_row.1.ip, IpView::FundingNode);
    let other = SessionTruth {
        payer: Some(PayerId(c as u64 + 1000)),
        ..known
    };
    assert_eq!(audit(&other).rows.last().unwrap().1.ip, IpView::No);
}

#[test]
fn a_relay_going_offline_mid_session_ends_in_a_retry_on_a_new_route() {
    let (mut w, c) = World::funded(&Spec::default(), 10_000);
    let id = w.start_ask(c, PROMPT, false);
    w.run_until(Duration::from_secs(60), |w| {
        w.client_events(c)
            .iter()
            .any(|e| matches!(e, ClientEvent::FirstToken { request, .. } if *request == id))
    });
    let (first, relays, _) = w.sessions_opened(c).remove(0);
    let middle = w.index_of(&relays[1]);
    w.net.offline.insert(middle);
    let r = w.finish_ask(c, id).unwrap();
    assert_ne!(r.session, first, "answered in a new session");
    let (_, new_relays, _) = w
        .sessions_opened(c)
        .into_iter()
        .find(|s| s.0 == r.session)
        .unwrap();
    assert!(
        !new_relays.contains(&relays[1]),
        "the new route avoids the dead relay"
    );
    let failures: Vec<TurnFailure> = w
        .client_events(c)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::TurnFailed {
                request,
                reason,
                retrying,
            } if request == id => {
                assert!(retrying);
                Some(reason)
            }
            _ => None,
        })
        .collect();
    assert!(!failures.is_empty());
    assert!(
        failures
            .iter()
            .all(|f| matches!(f, TurnFailure::Timeout | TurnFailure::Circuit(_))),
        "{failures:?}"
    );
    w.assert_conserved();
}

#[test]
fn long_lived_mint_circuits_outlast_reply_block_expiry_and_relay_idle_timeouts() {
    // Reply blocks expire after 600 s and relays forget circuits idle for
    // 600 s; a client paying every 200 s for 25 minutes, then once more after
    // a 700 s pause, must never lose a mint answer to either.
    let (mut w, c) = World::funded(&Spec::default(), 20_000);
    for _ in 0..8 {
        w.ask(c, PROMPT).unwrap();
        w.run(Duration::from_secs(200));
    }
    w.run(Duration::from_secs(700));
    w.ask(c, PROMPT).unwrap();
    let failures: Vec<_> = w
        .client_events(c)
        .into_iter()
        .filter(|e| matches!(e, ClientEvent::TurnFailed { .. }))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    w.assert_conserved();
}

#[test]
fn a_batching_mint_runs_issuances_and_swaps_only_at_batch_boundaries() {
    use peer2prompt::ecash::MintObservation;
    let batch = Duration::from_secs(2);
    let spec = Spec {
        mint_batch: Some(batch),
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    w.ask(c, PROMPT).unwrap();
    w.run(Duration::from_secs(30));
    let m = w.index(Kind::Mint, 0);
    let times: Vec<u64> = w
        .observations(m)
        .iter()
        .filter_map(|o| match o {
            Observation::Mint(MintObservation::Issuance { at, .. })
            | Observation::Mint(MintObservation::Swap { at, .. }) => Some(at.as_nanos()),
            _ => None,
        })
        .collect();
    // The funding's issuance, the payment's swaps and the Ghost's settlement.
    assert!(times.len() >= 3, "{times:?}");
    assert!(times.iter().all(|t| t % batch.as_nanos() == 0), "{times:?}");
    w.assert_conserved();
}

#[test]
fn cover_traffic_reaches_the_last_relay_and_never_the_service() {
    let count_cover = |cover: Option<Duration>| {
        let spec = Spec {
            cover,
            ..Spec::default()
        };
        let (mut w, c) = World::funded(&spec, 5_000);
        let r = w.ask(c, PROMPT).unwrap();
        let (_, relays, exit) = w.sessions_opened(c)[0].clone();
        let last = w.index_of(relays.last().unwrap());
        let exit = w.index_of(&exit);
        let covers = |i: usize| {
            w.observations(i)
                .iter()
                .filter(|o| matches!(o, Observation::Hop(h) if h.cover))
                .count()
        };
        // Every cover cell is dropped at the last relay; the service never
        // sees one.
        let everywhere: usize = (0..w.nodes.len()).map(covers).sum();
        assert_eq!(covers(exit), 0);
        assert_eq!(everywhere, covers(last));
        (covers(last), r.done.saturating_duration_since(r.started))
    };
    let (none, _) = count_cover(None);
    assert_eq!(none, 0);
    let (some, took) = count_cover(Some(Duration::from_millis(50)));
    // A Poisson process of mean gap 50 ms over the session's open time.
    let expected = took.as_secs_f64() / 0.05;
    assert!(
        some as f64 > expected * 0.3,
        "{some} cover cells over {took:?}"
    );
}

#[test]
fn a_mint_outage_at_settlement_keeps_the_ecash_held_until_it_returns() {
    let spec = Spec {
        settlement: Settlement::Batch {
            every: Duration::from_secs(30),
        },
        ..Spec::default()
    };
    let (mut w, c) = World::funded(&spec, 5_000);
    let m = w.index(Kind::Mint, 0);
    let r = w.ask(c, PROMPT).unwrap();
    let s = w.index_of(&r.exit);
    // The turn is done; the batch has not run yet. The mint goes down.
    w.nodes[m].node.set_mint_available(false).unwrap();
    w.run(Duration::from_secs(45));
    let events = w.service_events(s);
    assert!(events.iter().any(|e| matches!(e, ServiceEvent::SettlementFailed { reason, .. } if reason == "mint did not answer")));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ServiceEvent::Settled { .. }))
    );
    // Every chunk is still the service's: in its wallet, or the input of a
    // settlement it is asking the mint about (NUT-09 restore, retried).
    let in_wallet = w.nodes[s]
        .node
        .service_wallet()
        .unwrap()
        .total_balance()
        .value();
    let in_flight: u64 = w.nodes[s]
        .node
        .in_flight_proofs()
        .iter()
        .map(|p| p.amount.value())
        .sum();
    let held = in_wallet + in_flight;
    assert!(
        in_flight > 0,
        "the unanswered settlement is in doubt, not given up"
    );
    assert_eq!(held * 1000, r.paid_msat, "every chunk is held, unredeemed");
    w.assert_conserved();
    // The mint returns; the next batch settles everything.
    w.nodes[m].node.set_mint_available(true).unwrap();
    w.run(Duration::from_secs(60));
    let settled: u64 = w
        .service_events(s)
        .iter()
        .filter_map(|e| match e {
            ServiceEvent::Settled { amount, .. } => Some(*amount),
            _ => None,
        })
        .sum();
    assert!(settled > 0 && settled <= held);
    w.assert_conserved();
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = || {
        let (mut w, c) = World::funded(&Spec::default(), 5_000);
        w.ask(c, PROMPT).unwrap();
        w.ask(c, b"again").unwrap();
        w.nodes
            .iter()
            .map(|e| format!("{:?}", e.events))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn streamed_pieces_add_up_to_the_reply_only_when_asked_for() {
    for stream_text in [false, true] {
        let spec = Spec {
            stream_text,
            ..Spec::default()
        };
        let (mut w, c) = World::funded(&spec, 5_000);
        let r = w.ask(c, PROMPT).unwrap();
        let pieces: Vec<Vec<u8>> = w
            .client_events(c)
            .into_iter()
            .filter_map(|e| match e {
                ClientEvent::Text { request, text } if request == r.request => Some(text),
                _ => None,
            })
            .collect();
        if stream_text {
            assert!(pieces.len() > 1, "streamed in pieces: {}", pieces.len());
            assert_eq!(pieces.concat(), r.response);
        } else {
            assert!(pieces.is_empty());
        }
    }
}

#[test]
fn with_too_few_relays_for_any_route_a_request_fails_instead_of_waiting() {
    // Two relays cannot make a three-relay route, to a service or to the
    // mint, so the wallet cannot even be funded: the request must fail.
    let spec = Spec {
        relays: 2,
        ..Spec::default()
    };
    let mut w = World::new(&spec);
    let c = w.index(Kind::Client, 0);
    let failures = w.ask(c, PROMPT).unwrap_err();
    assert!(
        matches!(failures.last(), Some(TurnFailure::NoRoute(_))),
        "{failures:?}"
    );
}

#[test]
fn a_bounded_directory_refresh_runs_one_lookup_at_a_time_and_reads_the_same_adverts() {
    // What the client's directory holds once the world has refreshed every
    // directory, and the most directory lookups it ran at once.
    let read = |directory_lookups| {
        let spec = Spec {
            directory_lookups,
            ..Spec::default()
        };
        let w = World::new(&spec);
        let d = w.nodes[w.index(Kind::Client, 0)].node.directory();
        assert!(!d.is_refreshing() && d.ready_at.is_some());
        let held = [Role::Relay, Role::Ghost, Role::Gpu, Role::Mint]
            .map(|r| d.adverts(r).map(|a| a.node()).collect::<Vec<_>>());
        (held, d.peak_lookups())
    };
    let (all, most_unbounded) = read(None);
    let (bounded, most_bounded) = read(Some(1));
    assert!(all.iter().all(|v| !v.is_empty()), "{all:?}");
    assert_eq!(bounded, all, "a bounded refresh read other adverts");
    assert_eq!(most_bounded, 1);
    assert!(most_unbounded > 1, "{most_unbounded}");
}
