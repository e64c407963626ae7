//! The network's dispatcher: what the nodes report goes here. It runs the
//! Lightning stand-in (a client's invoice is paid at its mint at once; a
//! mint's payouts settle at once, as the simulator's do), keeps the
//! session book the records come from, counts bootstraps and fundings
//! for the start-up, and hands each client's events to its entrance slot.
//! Like the simulator's world, it decides nothing for the protocol.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use peer2prompt::dht::Role;
use peer2prompt::ecash::{Amount, LightningPayer, LightningPayment, PayerId, PayoutOutcome};
use peer2prompt::identity::NodeId;
use peer2prompt::node::{ClientEvent, MintEvent, NodeEvent};
use peer2prompt_sim::checks::Lightning;
use peer2prompt_sim::population::Kind;
use peer2prompt_sim::sessions::{Route, SessionBook};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::driver::{Command, Reported};

/// What start-up waits for, and what the run moved.
#[derive(Debug, Default)]
pub struct Progress {
    /// Nodes whose DHT finished bootstrapping.
    pub bootstrapped: HashSet<usize>,
    /// Sat each client was funded with.
    pub funded: HashMap<usize, u64>,
    /// Sat paid in and out over Lightning (the books check's inputs).
    pub lightning: Lightning,
    /// Peer input refused at the application layer, by kind.
    pub peer_errors: BTreeMap<&'static str, u64>,
}

/// Shared progress.
pub type SharedProgress = Arc<Mutex<Progress>>;

/// Locks `p` (a poisoned lock still holds consistent counts).
pub fn progress(p: &SharedProgress) -> std::sync::MutexGuard<'_, Progress> {
    p.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Who is who, for routing events and reading routes.
#[derive(Clone, Debug)]
pub struct Directory {
    /// Node index by id.
    pub by_id: HashMap<NodeId, usize>,
    /// Node index by address.
    pub by_addr: HashMap<SocketAddr, usize>,
}

/// The dispatcher.
pub struct Dispatcher {
    /// Events from every node.
    pub events: mpsc::UnboundedReceiver<Reported>,
    /// Every node's command queue.
    pub commands: Vec<mpsc::UnboundedSender<Command>>,
    /// Who is who.
    pub who: Directory,
    /// Each client's entrance slot.
    pub clients: HashMap<usize, mpsc::UnboundedSender<ClientEvent>>,
    /// Start-up and books counts.
    pub progress: SharedProgress,
    /// The clock.
    pub clock: Clock,
    /// The sessions so far.
    pub book: SessionBook,
}

impl Dispatcher {
    /// Runs until every node has stopped; returns the session book.
    pub async fn run(mut self) -> SessionBook {
        while let Some((i, e)) = self.events.recv().await {
            self.on_event(i, e);
        }
        self.book
    }

    fn on_event(&mut self, i: usize, e: NodeEvent) {
        match e {
            NodeEvent::Bootstrapped => {
                progress(&self.progress).bootstrapped.insert(i);
            }
            NodeEvent::Client(ce) => self.on_client(i, ce),
            NodeEvent::Mint(MintEvent::PayoutRequested { quote, invoice }) => {
                let p = self.progress.clone();
                self.command(i, move |n, now| {
                    progress(&p).lightning.paid_out += invoice.amount.value();
                    if let Err(e) = n.lightning_payout(now, quote, PayoutOutcome::Paid) {
                        tracing::warn!("payout not settled: {e}");
                    }
                });
            }
            NodeEvent::PeerError(why) => {
                *progress(&self.progress)
                    .peer_errors
                    .entry(why.kind())
                    .or_default() += 1;
            }
            _ => {}
        }
    }

    fn on_client(&mut self, c: usize, e: ClientEvent) {
        let now = self.clock.now();
        let cu = c as u32;
        match &e {
            ClientEvent::PayInvoice {
                mint,
                quote,
                amount,
            } => self.pay_invoice(c, mint, *quote, *amount),
            ClientEvent::Funded { amount } => {
                *progress(&self.progress).funded.entry(c).or_default() += amount;
            }
            ClientEvent::SessionOpened {
                session,
                relays,
                exit,
                exit_role,
                ..
            } => {
                let route = self.route(relays, exit, *exit_role);
                self.book.opened(cu, *session, route, now);
            }
            ClientEvent::SessionClosed { session, .. } => self.book.closed(cu, *session, now),
            ClientEvent::FirstToken { at, .. } => self.book.first_token(cu, *at),
            ClientEvent::TurnDone(rep) => self.book.turn_done(cu, rep),
            ClientEvent::TurnFailed { reason, .. } => {
                self.book.turn_failed(cu, reason.kind());
            }
            _ => {}
        }
        if let Some(slot) = self.clients.get(&c) {
            let _ = slot.send(e);
        }
    }

    /// The Lightning stand-in: the invoice is paid at the mint, then the
    /// client collects its ecash (both on their own nodes' tasks).
    fn pay_invoice(
        &mut self,
        c: usize,
        mint: &NodeId,
        quote: peer2prompt::ecash::QuoteId,
        sat: u64,
    ) {
        let Some(&m) = self.who.by_id.get(mint) else {
            tracing::warn!("invoice from an unknown mint");
            return;
        };
        let client = self.commands[c].clone();
        let p = self.progress.clone();
        self.command(m, move |n, now| {
            let payment = LightningPayment {
                quote,
                amount: Amount::new(sat),
                payer: LightningPayer::Node(PayerId(c as u64)),
            };
            if let Err(e) = n.lightning_payment(now, payment) {
                tracing::warn!("funding refused by the mint: {e}");
                return;
            }
            progress(&p).lightning.funded += sat;
            let collect: Command = Box::new(move |n, now| {
                if let Err(e) = n.invoice_paid(now, quote) {
                    tracing::warn!("ecash not collected: {e}");
                }
            });
            let _ = client.send(collect);
        });
    }

    fn command(
        &self,
        i: usize,
        f: impl FnOnce(&mut peer2prompt::node::Node, peer2prompt::time::Instant) + Send + 'static,
    ) {
        let _ = self.commands[i].send(Box::new(f));
    }

    /// The hosts of a session's route, from the driver's own knowledge.
    fn route(&self, relays: &[NodeId], exit: &NodeId, role: Role) -> Route {
        let host = |id: &NodeId| self.who.by_id.get(id).map_or(u32::MAX, |&i| i as u32);
        Route {
            entry: relays.first().map_or(u32::MAX, host),
            last: relays.last().map_or(u32::MAX, host),
            hops: relays.len() as u32,
            exit: host(exit),
            exit_kind: if role == Role::Gpu {
                Kind::Gpu
            } else {
                Kind::Ghost
            },
        }
    }
}
