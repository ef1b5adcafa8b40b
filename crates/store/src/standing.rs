//! What decisions need to know about a subject's standing, read once at start (the server
//! keeps it in memory afterwards): accounts whose latest event is a closure, subjects with a
//! restriction in force, and the objections in force — and the objections themselves, from
//! intake to approval. Every change to them is noted in `standing_changes` in the same
//! transaction, so that other nodes read it within a second ([`Store::standing_changes`]) and
//! recompute the subject's standing from the facts ([`Store::standing_facts`]).

use crate::{Result, Store, Tx};

/// Notes that the subject's standing (or its device links) may have changed, in the caller's
/// transaction, and wakes the other nodes once it commits.
pub(crate) async fn note_change(tx: &mut Tx, subject_ref: &str, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO standing_changes (subject_ref, at) VALUES ($1, $2)",
        &[subject_ref.into(), at.into()],
    )
    .await?;
    tx.announce(crate::changes::Topic::Standing).await
}

/// What a subject's standing is made of, from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandingFacts {
    /// The account's latest opening or closing is a closure.
    pub account_closed: bool,
    /// A restriction request is approved and not yet completed or denied.
    pub restricted: bool,
    /// The purposes of the objections in force.
    pub objections: Vec<String>,
    /// Declared under the minimum age.
    pub minor: bool,
}

impl Store {
    /// Subjects whose account's latest opening or closing is a closure (a closure and an
    /// opening at the same instant count as closed, as retention reads them).
    pub async fn closed_accounts(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .fetch_all(
                "SELECT DISTINCT c.subject_ref FROM lifecycle_events c WHERE c.kind = 'account_closed' \
                 AND NOT EXISTS (SELECT 1 FROM lifecycle_events o WHERE o.subject_ref = c.subject_ref \
                 AND o.kind = 'account_opened' AND o.at > c.at) \
                 AND NOT EXISTS (SELECT 1 FROM lifecycle_events l WHERE l.subject_ref = c.subject_ref \
                 AND l.kind = 'account_closed' AND l.at > c.at) ORDER BY c.subject_ref",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Subjects with a restriction request approved and not yet completed or denied: the
    /// restriction is in force (GDPR Art. 18).
    pub async fn restricted_subjects(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .fetch_all(
                "SELECT DISTINCT subject_ref FROM requests WHERE kind = 'restriction' \
                 AND status IN ('approved', 'in_progress') ORDER BY subject_ref",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Records the purposes an objection request names (not yet in force).
    pub async fn insert_objection(
        &self,
        request_id: &str,
        subject_ref: &str,
        purposes: &[String],
    ) -> Result<()> {
        for p in purposes {
            self.execute(
                "INSERT INTO objections (request_id, subject_ref, purpose, since) VALUES ($1, $2, $3, NULL) ON CONFLICT DO NOTHING",
                &[request_id.into(), subject_ref.into(), p.as_str().into()],
            )
            .await?;
        }
        Ok(())
    }

    /// Puts the objection of `request_id` in force; answers the purposes it names.
    pub async fn enforce_objection(&self, request_id: &str, at: i64) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE objections SET since = $1 WHERE request_id = $2 AND since IS NULL",
            &[at.into(), request_id.into()],
        )
        .await?;
        let rows: Vec<(String, String)> = tx
            .fetch_all(
                "SELECT purpose, subject_ref FROM objections WHERE request_id = $1 ORDER BY purpose",
                &[request_id.into()],
            )
            .await?;
        if let Some((_, subject)) = rows.first() {
            note_change(&mut tx, subject, self.now()).await?;
        }
        tx.commit().await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The purposes the objection of `request_id` names.
    pub async fn objection_purposes(&self, request_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .fetch_all(
                "SELECT purpose FROM objections WHERE request_id = $1 ORDER BY purpose",
                &[request_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every objection in force: `(subject reference, purpose)`.
    pub async fn objections_in_force(&self) -> Result<Vec<(String, String)>> {
        self.fetch_all(
            "SELECT subject_ref, purpose FROM objections WHERE since IS NOT NULL ORDER BY subject_ref, purpose",
            &[],
        )
        .await
    }

    /// Forgets the subject's objections (erasure).
    pub async fn delete_objections(&self, subject_ref: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.execute(
            "DELETE FROM objections WHERE subject_ref = $1",
            &[subject_ref.into()],
        )
        .await?;
        note_change(&mut tx, subject_ref, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The subject's standing, from the facts (what another node changed).
    pub async fn standing_facts(&self, subject_ref: &str) -> Result<StandingFacts> {
        let (closed,): (i64,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM lifecycle_events c WHERE c.subject_ref = $1 AND c.kind = 'account_closed' \
                 AND NOT EXISTS (SELECT 1 FROM lifecycle_events o WHERE o.subject_ref = c.subject_ref \
                 AND o.kind = 'account_opened' AND o.at > c.at)",
                &[subject_ref.into()],
            )
            .await?;
        let (restricted,): (i64,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM requests WHERE subject_ref = $1 AND kind = 'restriction' \
                 AND status IN ('approved', 'in_progress')",
                &[subject_ref.into()],
            )
            .await?;
        let objections: Vec<(String,)> = self
            .fetch_all(
                "SELECT DISTINCT purpose FROM objections WHERE subject_ref = $1 AND since IS NOT NULL ORDER BY purpose",
                &[subject_ref.into()],
            )
            .await?;
        let (minor,): (i64,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM minors WHERE subject_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        Ok(StandingFacts {
            account_closed: closed > 0,
            restricted: restricted > 0,
            objections: objections.into_iter().map(|r| r.0).collect(),
            minor: minor > 0,
        })
    }

    /// The noted changes after `seq`, in order: `(seq, subject reference)`.
    pub async fn standing_changes(&self, after: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        self.fetch_all(
            "SELECT seq, subject_ref FROM standing_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[after.into(), limit.into()],
        )
        .await
    }

    /// The newest noted change (0 when none): where a node starts reading.
    pub async fn standing_head(&self) -> Result<i64> {
        let (head,): (Option<i64>,) = self
            .fetch_one("SELECT MAX(seq) FROM standing_changes", &[])
            .await?;
        Ok(head.unwrap_or(0))
    }

    /// Drops the changes noted before `before` (every node has read them; a node that
    /// restarts loads the facts themselves). Answers how many went.
    pub async fn prune_standing_changes(&self, before: i64) -> Result<u64> {
        self.execute(
            "DELETE FROM standing_changes WHERE at < $1",
            &[before.into()],
        )
        .await
    }
}
