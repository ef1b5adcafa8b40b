//! Telling the other nodes on the same PostgreSQL database, at once, that something they keep
//! in memory changed: a consent choice, a subject's standing or device links, an API token.
//! A notice names the store handle that sent it (random, per connection pool), and a
//! listener passes over its own handle's notices: a node applies its own writes to memory as
//! it makes them, so reading them back would only cost it a round per commit.
//!
//! The writer sends `NOTIFY` inside the transaction that makes the change ([`Tx::announce`]):
//! PostgreSQL delivers it only after the commit, and never for a transaction rolled back, so a
//! node that hears it finds the change when it reads. A notice says only *what kind* of thing
//! changed, never which subject: the ledger's chain sequences and
//! the noted standing changes still tell each node exactly what it missed, so a notice lost
//! while a listener reconnects costs nothing but the time to the next poll (every node still
//! polls once a second). On SQLite (one process) nothing is sent and nothing is heard.
//!
//! Each node listens on a connection of its own ([`Store::listen`]); see `app::wake`.

use sqlx::postgres::PgListener;

use crate::db::Pool;
use crate::{Result, Store, Tx};

/// The one channel every node listens on.
pub const CHANNEL: &str = "custodian_changes";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Consent events were appended to the ledger.
    Consent,
    /// A change was noted in `standing_changes` (restrictions, objections, closed accounts,
    /// minors, device links).
    Standing,
    /// An API token was revoked.
    Tokens,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Consent, Topic::Standing, Topic::Tokens];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Consent => "consent",
            Topic::Standing => "standing",
            Topic::Tokens => "tokens",
        }
    }

    fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Another node (another store handle) changed `Topic`.
    Change(Topic),
    /// The connection was lost and made again: notices may have gone unheard meanwhile.
    Reconnected,
}

impl Tx {
    /// Announces `topic` to the other nodes once this transaction commits (nothing if it
    /// rolls back; nothing on SQLite). PostgreSQL folds identical notices of one transaction
    /// into one.
    pub async fn announce(&mut self, topic: Topic) -> Result<()> {
        if self.dialect().name == "postgres" {
            self.execute(
                "SELECT pg_notify($1, $2)::TEXT",
                &[CHANNEL.into(), payload(topic, &self.sender).as_str().into()],
            )
            .await?;
        }
        Ok(())
    }
}

/// What a notice of `topic` from the handle named `sender` carries.
pub(crate) fn payload(topic: Topic, sender: &str) -> String {
    format!("{} {sender}", topic.as_str())
}

/// A random name for a store handle's notices.
pub(crate) fn new_sender() -> std::sync::Arc<str> {
    use rand::RngCore;
    let mut tag = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut tag);
    hex::encode(tag).into()
}

/// A node's ear on [`CHANNEL`], on a connection of its own.
pub struct Listener {
    ear: PgListener,
    /// The listening store's own name: its notices are passed over.
    me: std::sync::Arc<str>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Store {
    /// Starts listening; `None` on SQLite, where there is nobody else to hear.
    pub async fn listen(&self) -> Result<Option<Listener>> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let mut ear = PgListener::connect_with(pool).await?;
        ear.listen(CHANNEL).await?;
        Ok(Some(Listener {
            ear,
            me: self.sender.clone(),
        }))
    }
}

impl Listener {
    /// Waits for the next notice another store handle sent. An error means the connection is gone and could not be made again: drop this listener
    /// and start another once the database answers.
    pub async fn next(&mut self) -> Result<Heard> {
        loop {
            let Some(n) = self.ear.try_recv().await? else {
                return Ok(Heard::Reconnected);
            };
            let (topic, from) = n.payload().split_once(' ').unwrap_or((n.payload(), ""));
            if from == &*self.me {
                continue;
            }
            if let Some(topic) = Topic::parse(topic) {
                return Ok(Heard::Change(topic));
            }
        }
    }
}
