//! The baselines' roles across real nodes (seed `004`, LLM-Tor; the direct
//! API): credit purchase, blind issuance and redemption through three
//! relays to the proxy, replays refused, and what each operator sees,
//! checked against the seed's "Trust boundaries" diagram.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod node_common;
mod vnet;

use std::net::SocketAddr;

use node_common::*;
use peer2prompt::backend::ProviderSaw;
use peer2prompt::baselines::direct::ApiSaw;
use peer2prompt::baselines::llm_tor::wire::{LlmTorRequest, LlmTorResponse};
use peer2prompt::baselines::llm_tor::{IssuerPublicKey, OperatorSaw, TokenWallet};
use peer2prompt::node::{
    AppMessage, AppRefusal, BaselineEvent, BaselineTurn, NodeEvent, Observation, TAG_DHT,
    TAG_DIRECT, TAG_ONION,
};
use peer2prompt::time::Duration;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn world() -> World {
    World::new(&Spec {
        baselines: true,
        ..Spec::default()
    })
}

fn baseline_events(w: &World, i: usize) -> Vec<BaselineEvent> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Baseline(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

fn done(w: &World, i: usize) -> Vec<BaselineTurn> {
    baseline_events(w, i)
        .into_iter()
        .filter_map(|e| match e {
            BaselineEvent::TurnDone(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// Asks `text` at node `i` and runs until `n` turns are done there.
fn ask(w: &mut World, i: usize, text: &[u8], n: usize) -> BaselineTurn {
    let now = w.now();
    w.nodes[i].node.ask(now, text.to_vec(), false).unwrap();
    w.collect(i);
    w.run_until(Duration::from_secs(120), |w| done(w, i).len() >= n);
    let turns = done(w, i);
    assert_eq!(turns.len(), n, "events: {:?}", baseline_events(w, i));
    turns[n - 1].clone()
}

fn operator_log(w: &World, proxy: usize) -> Vec<OperatorSaw> {
    w.observations(proxy)
        .into_iter()
        .filter_map(|o| match o {
            Observation::LlmTorOperator(o) => Some(o.seen),
            _ => None,
        })
        .collect()
}

#[test]
fn llm_tor_purchase_issue_redeem_over_three_relays() {
    let mut w = world();
    let (proxy, user) = (w.index(Kind::LlmTorProxy, 0), w.index(Kind::LlmTorUser, 0));
    let user_addr = w.nodes[user].node.addr();
    let t1 = ask(&mut w, user, b"first prompt about tulips", 1);
    let t2 = ask(&mut w, user, b"second prompt about roses", 2);
    assert!(!t1.response.is_empty() && t1.output_tokens > 0);
    assert!(t1.first_token <= t1.done && t1.started < t1.first_token);
    assert_ne!(t1.token, t2.token, "one token per prompt");
    assert_eq!(t2.turn, 2);
    assert!(
        t2.input_tokens > t1.input_tokens,
        "the prompt carries the conversation"
    );
    let events = baseline_events(&w, user);
    let opened: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            BaselineEvent::CircuitOpened { relays, entry, .. } => Some((relays.clone(), *entry)),
            _ => None,
        })
        .collect();
    assert_eq!(
        opened.len(),
        1,
        "both prompts reuse one circuit within its lifetime"
    );
    let (relays, entry) = &opened[0];
    assert_eq!(relays.len(), 3);
    assert!(events.contains(&BaselineEvent::TokensIssued { ready: 4 }));
    assert_eq!(w.nodes[user].node.llm_tor_tokens(), Some(2));

    // The operator's view, phase by phase.
    let log = operator_log(&w, proxy);
    let last_relay = w.addr_of(&relays[2]);
    match &log[..] {
        [
            OperatorSaw::Purchase {
                from,
                account,
                payer,
                credits: 4,
            },
            OperatorSaw::Issuance {
                from: f2,
                account: a2,
                tokens: 4,
            },
            OperatorSaw::Redemption {
                serial: 1,
                prev_hop,
                prompt,
                ..
            },
            OperatorSaw::Response {
                serial: 1,
                response,
            },
            OperatorSaw::Redemption {
                serial: 2,
                prev_hop: p2,
                prompt: prompt2,
                ..
            },
            OperatorSaw::Response { serial: 2, .. },
        ] => {
            // Identity phase and issuance: account, payer and address.
            assert_eq!((from, f2), (&user_addr, &user_addr));
            assert_eq!(
                (account.as_str(), a2.as_str(), payer.as_str()),
                ("tor-user", "tor-user", "card-4242")
            );
            // Usage phase: every prompt and response, but only the last relay.
            assert_eq!((prev_hop, p2), (&last_relay, &last_relay));
            assert_ne!(*prev_hop, user_addr);
            assert!(prompt.ends_with(b"first prompt about tulips"));
            assert!(prompt2.ends_with(b"second prompt about roses"));
            assert_eq!(response, &t1.response);
        }
        other => panic!("unexpected operator log {other:?}"),
    }
    // The upstream provider sees the proxy's account, never the user.
    let proxy_addr = w.nodes[proxy].node.addr();
    let provider: Vec<_> = w
        .observations(proxy)
        .into_iter()
        .filter_map(|o| match o {
            Observation::Provider(p) => Some(p),
            _ => None,
        })
        .collect();
    assert!(provider.iter().all(|p| p.account == proxy_addr));
    assert!(
        provider
            .iter()
            .any(|p| matches!(&p.seen, ProviderSaw::Prompt(t) if t.ends_with(b"tulips")))
    );
    // On the wire: the user talks to the proxy directly only for the
    // identity-bound phases, and its cells go to its entry relay only.
    let entry_idx = w.index_of(&relays[0]);
    assert_eq!(w.nodes[entry_idx].node.addr(), *entry);
    for &(from, to, tag, _) in &w.sizes {
        if from == user && tag == TAG_ONION {
            assert_eq!(to, entry_idx, "onion cells leave through the entry");
        }
        if from == user && tag == TAG_DIRECT {
            assert_eq!(to, proxy, "direct messages go to the proxy only");
        }
    }
    let direct = w.sizes.iter().filter(|s| s.0 == user && s.2 == TAG_DIRECT);
    assert_eq!(direct.count(), 3, "descriptor, purchase and issuance");
    let op = w.nodes[proxy].node.llm_tor_operator().unwrap();
    assert_eq!((op.spent(), op.balance("tor-user")), (2, Some(0)));
}

/// Sends `msg` to the proxy on a direct link from `me`; returns its
/// answers to `me`.
fn direct(w: &mut World, proxy: usize, me: SocketAddr, msg: AppMessage) -> Vec<AppMessage> {
    let mut bytes = vec![TAG_DIRECT];
    bytes.extend(msg.encode());
    let now = w.now();
    w.nodes[proxy].node.handle(now, me, &bytes).unwrap();
    let mut out = Vec::new();
    let mut rest = Vec::new();
    while let Some(t) = w.nodes[proxy].node.poll_transmit() {
        if t.to == me {
            assert_eq!(t.bytes[0], TAG_DIRECT);
            out.push(AppMessage::decode(&t.bytes[1..]).unwrap());
        } else {
            rest.push(t);
        }
    }
    assert!(rest.is_empty());
    out
}

fn answer(msgs: Vec<AppMessage>) -> LlmTorResponse {
    match &msgs[..] {
        [AppMessage::LlmTorReply { response, .. }] => response.clone(),
        other => panic!("expected one answer, got {other:?}"),
    }
}

#[test]
fn replayed_forged_and_malformed_requests_are_refused() {
    let mut w = world();
    let proxy = w.index(Kind::LlmTorProxy, 0);
    let me = SocketAddr::from(([10, 250, 0, 1], 9000));
    let req = |request| AppMessage::LlmTor { seq: 7, request };
    let purchase = LlmTorRequest::Purchase {
        account: "mallory".into(),
        payer: "cash".into(),
        credits: 2,
    };
    assert_eq!(
        answer(direct(&mut w, proxy, me, req(purchase))),
        LlmTorResponse::Purchased { balance: 2 }
    );
    // The issuer key, as a client would know it (DER round trip).
    let op = w.nodes[proxy].node.llm_tor_operator().unwrap();
    let key = IssuerPublicKey::from_der(&op.public().to_der().unwrap()).unwrap();
    let mut wallet = TokenWallet::new(key);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let blinded = wallet.request(&mut rng, 2).unwrap();
    let issue = LlmTorRequest::Issue {
        account: "mallory".into(),
        blinded,
    };
    let LlmTorResponse::Issued { blind_signatures } = answer(direct(&mut w, proxy, me, req(issue)))
    else {
        panic!("issuance refused")
    };
    wallet.accept(&blind_signatures).unwrap();
    let token = wallet.take().unwrap();
    let redeem = |token| LlmTorRequest::Redeem {
        token,
        model: "gpt-4o".into(),
        prompt: b"hello".to_vec(),
        max_output_tokens: 10,
    };
    // The first redemption is taken (its answer streams later).
    assert!(direct(&mut w, proxy, me, req(redeem(token.clone()))).is_empty());
    // A replay is refused at once.
    let LlmTorResponse::Refused(e) = answer(direct(&mut w, proxy, me, req(redeem(token)))) else {
        panic!("replay accepted")
    };
    assert_eq!(e.kind(), "replayed");
    // A forged token (another message under the same signature).
    let mut forged = wallet.take().unwrap();
    forged.nonce[0] ^= 0xff;
    let LlmTorResponse::Refused(e) = answer(direct(&mut w, proxy, me, req(redeem(forged)))) else {
        panic!("forgery accepted")
    };
    assert_eq!(e.kind(), "bad_token");
    // A malformed blinded message, and an issuance beyond the credits.
    let bad = LlmTorRequest::Issue {
        account: "mallory".into(),
        blinded: vec![vec![0xff; 256]],
    };
    let LlmTorResponse::Refused(e) = answer(direct(&mut w, proxy, me, req(bad))) else {
        panic!("malformed blinded message signed")
    };
    assert_eq!(
        e.kind(),
        "insufficient_credits",
        "credits are checked first"
    );
    // Bytes that do not decode, and an API call at the proxy.
    let now = w.now();
    w.nodes[proxy]
        .node
        .handle(now, me, &[TAG_DIRECT, 0xff, 0xff, 0xff])
        .unwrap();
    w.collect(proxy);
    assert!(
        w.nodes[proxy]
            .events
            .iter()
            .any(|e| matches!(e, NodeEvent::PeerError(AppRefusal::UnexpectedDirectMessage)))
    );
    let spent = w.nodes[proxy].node.llm_tor_operator().unwrap().spent();
    assert_eq!(spent, 1);
}

#[test]
fn direct_api_provider_sees_account_address_prompt_and_response() {
    let mut w = world();
    let (provider, user) = (w.index(Kind::ApiProvider, 0), w.index(Kind::ApiUser, 0));
    let user_addr = w.nodes[user].node.addr();
    let t1 = ask(&mut w, user, b"direct question one", 1);
    let t2 = ask(&mut w, user, b"direct question two", 2);
    assert!(t2.input_tokens > t1.input_tokens);
    let log: Vec<_> = w
        .observations(provider)
        .into_iter()
        .filter_map(|o| match o {
            Observation::Api(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(log.len(), 4, "two prompts and two responses");
    assert!(
        log.iter()
            .all(|a| a.from == user_addr && a.account == "api-user")
    );
    assert!(
        matches!(&log[0].seen, ApiSaw::Prompt { serial: 1, prompt } if prompt.ends_with(b"one"))
    );
    assert!(
        matches!(&log[1].seen, ApiSaw::Response { serial: 1, response } if *response == t1.response)
    );
    // Every request went straight to the provider, none through a relay.
    let sent: Vec<_> = w
        .sizes
        .iter()
        .filter(|s| s.0 == user && s.2 != TAG_DHT)
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.1 == provider && s.2 == TAG_DIRECT));
}
