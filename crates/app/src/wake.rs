//! Waking a node's catch-ups the moment another node commits, instead of at its next poll.
//!
//! Several nodes on one PostgreSQL database each keep consent, standings, device links and
//! verified tokens in memory. A node that changes one of them announces it in the same
//! transaction (`custodian_store::changes`), so PostgreSQL delivers the notice after the commit;
//! every node listens on a connection of its own and, on a notice, runs the catch-up at once:
//! [`consent_sync`](crate::consent_sync) for consent, [`standing_sync`](crate::standing_sync)
//! for standings and device links, and forgets its verified tokens on a revocation.
//!
//! The notice only says *that* something changed; what changed is still read from the chain
//! sequences and the noted standing changes, so nothing depends on a notice arriving. Each
//! catch-up still runs once a second without one (on SQLite, where nobody else writes but a
//! CLI beside the server, that is the only way), and when the listener's connection was lost —
//! PostgreSQL restarted — everything is caught up and the tokens forgotten once it is back, as
//! notices sent meanwhile were never heard. Notices that arrive while a round runs (or within
//! [`MIN_GAP`] of its end) fold into one more round, so a burst of writes elsewhere costs a
//! node a few rounds, not one each.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use custodian_store::changes::{Heard, Topic};
use tokio::sync::Notify;

use crate::context::{Context, Shared};

/// How long a node waits before listening again after the connection failed.
pub const RELISTEN_AFTER: Duration = Duration::from_millis(500);
/// The least time between two woken rounds: under a steady stream of commits elsewhere a
/// node reads them in rounds of this much at most, not in one round per commit (each round
/// is a few queries), at the price of this much latency.
pub const MIN_GAP: Duration = Duration::from_millis(10);

/// The catch-ups a notice wakes.
#[derive(Debug, Default)]
struct Wakers {
    consent: Notify,
    standing: Notify,
}

impl Wakers {
    fn wake(&self, state: &Context, topic: Topic) {
        match topic {
            Topic::Consent => self.consent.notify_one(),
            Topic::Standing => self.standing.notify_one(),
            Topic::Tokens => state.tokens.forget_all(),
        }
    }
}

/// The listener and the two catch-up loops of one node; dropping it does not stop them,
/// [`Wake::stop`] does.
pub struct Wake {
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Wake {
    pub fn stop(&self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

/// Starts listening for other nodes' notices and the catch-ups they wake (each also once
/// every `consent_sync::EVERY` / `standing_sync::EVERY`).
pub fn spawn(state: Shared) -> Wake {
    let wakers = Arc::new(Wakers::default());
    let handles = vec![
        tokio::spawn(listen(state.clone(), wakers.clone())),
        tokio::spawn(woken_or_every(
            crate::consent_sync::EVERY,
            wakers.clone(),
            |w| &w.consent,
            state.clone(),
            |s| async move {
                if let Err(e) = crate::consent_sync::sync_once(&s).await {
                    tracing::warn!(error = %e, "reading other writers' consent failed");
                }
            },
        )),
        tokio::spawn(woken_or_every(
            crate::standing_sync::EVERY,
            wakers,
            |w| &w.standing,
            state,
            |s| async move { crate::standing_sync::scheduled(&s).await },
        )),
    ];
    Wake { handles }
}

/// Runs `round` whenever `which` of the wakers is notified, and at least every `period`.
async fn woken_or_every<F, Fut>(
    period: Duration,
    wakers: Arc<Wakers>,
    which: fn(&Wakers) -> &Notify,
    state: Shared,
    round: F,
) where
    F: Fn(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = which(&wakers).notified() => {}
        }
        round(state.clone()).await;
        tokio::time::sleep(MIN_GAP).await;
    }
}

/// Listens as long as the node runs, listening again after a lost connection; returns at once
/// on SQLite.
async fn listen(state: Shared, wakers: Arc<Wakers>) {
    let mut failing = false;
    loop {
        let mut ear = match state.store.listen().await {
            Ok(Some(ear)) => ear,
            Ok(None) => return,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot listen for other nodes' changes; polling until it can");
                    failing = true;
                }
                tokio::time::sleep(RELISTEN_AFTER).await;
                continue;
            }
        };
        if std::mem::take(&mut failing) {
            tracing::info!("listening for other nodes' changes again");
        }
        // Whatever was announced while nobody listened went unheard.
        wake_all(&state, &wakers);
        loop {
            match ear.next().await {
                Ok(Heard::Change(topic)) => wakers.wake(&state, topic),
                Ok(Heard::Reconnected) => wake_all(&state, &wakers),
                Err(e) => {
                    tracing::warn!(error = %e, "lost the connection that hears other nodes' changes");
                    failing = true;
                    break;
                }
            }
        }
        drop(ear);
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}

fn wake_all(state: &Context, wakers: &Wakers) {
    for topic in Topic::ALL {
        wakers.wake(state, topic);
    }
}
