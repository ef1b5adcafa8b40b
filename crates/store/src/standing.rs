//! What decisions need to know about a subject's standing, read once at start (the server
//! keeps it in memory afterwards): accounts whose latest event is a closure, subjects with a
//! restriction in force, and the objections in force — and the objections themselves, from
//! intake to approval.

use crate::{Result, Store};

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
        self.execute(
            "UPDATE objections SET since = $1 WHERE request_id = $2 AND since IS NULL",
            &[at.into(), request_id.into()],
        )
        .await?;
        let rows: Vec<(String,)> = self
            .fetch_all(
                "SELECT purpose FROM objections WHERE request_id = $1 ORDER BY purpose",
                &[request_id.into()],
            )
            .await?;
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
        self.execute(
            "DELETE FROM objections WHERE subject_ref = $1",
            &[subject_ref.into()],
        )
        .await?;
        Ok(())
    }
}
