//! The privacy centre's sign-ins and sessions (migration 0018). A sign-in waiting for its code
//! is a row the code is tried against: its tries are counted here, where no cookie can reset
//! them, and the row goes when the code is right, so it is used once even by two nodes at the
//! same moment. A session is a row found by the hash of its cookie's secret, so signing out
//! ends it everywhere. Subjects arrive as keyed references (hex).

use crate::{Result, Store};

/// A pending sign-in after one more try was counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    pub subject_ref: String,
    /// Tries so far, this one included.
    pub tries: i64,
}

impl Store {
    /// A sign-in waiting for its code until `expires_at`.
    pub async fn insert_privacy_signin(
        &self,
        nonce: &str,
        subject_ref: &str,
        expires_at: i64,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO privacy_signins (nonce, subject_ref, tries, expires_at) VALUES ($1, $2, 0, $3)",
            &[nonce.into(), subject_ref.into(), expires_at.into()],
        )
        .await?;
        Ok(())
    }

    /// Counts one try of sign-in `nonce`; `None` when there is no such sign-in waiting (never
    /// made, already used, or expired).
    pub async fn try_privacy_signin(&self, nonce: &str) -> Result<Option<Tried>> {
        Ok(self
            .fetch_optional::<(String, i64)>(
                "UPDATE privacy_signins SET tries = tries + 1 WHERE nonce = $1 AND expires_at > $2 \
                 RETURNING subject_ref, tries",
                &[nonce.into(), self.now().into()],
            )
            .await?
            .map(|(subject_ref, tries)| Tried { subject_ref, tries }))
    }

    /// Uses sign-in `nonce` and opens the session `id_hash` for its subject until
    /// `expires_at`, in one transaction; `false` (and no session) when the sign-in was used
    /// meanwhile or has expired.
    pub async fn finish_privacy_signin(
        &self,
        nonce: &str,
        id_hash: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let now = self.now();
        let mut tx = self.begin_immediate().await?;
        let Some((subject_ref,)) = tx
            .fetch_optional::<(String,)>(
                "DELETE FROM privacy_signins WHERE nonce = $1 AND expires_at > $2 RETURNING subject_ref",
                &[nonce.into(), now.into()],
            )
            .await?
        else {
            return Ok(false);
        };
        tx.execute(
            "INSERT INTO privacy_sessions (id_hash, subject_ref, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[id_hash.into(), subject_ref.as_str().into(), now.into(), expires_at.into()],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The subject of session `id_hash` while it lasts.
    pub async fn privacy_session(&self, id_hash: &str) -> Result<Option<String>> {
        Ok(self
            .fetch_optional::<(String,)>(
                "SELECT subject_ref FROM privacy_sessions WHERE id_hash = $1 AND expires_at > $2",
                &[id_hash.into(), self.now().into()],
            )
            .await?
            .map(|(s,)| s))
    }

    /// Ends session `id_hash` (signing out).
    pub async fn end_privacy_session(&self, id_hash: &str) -> Result<()> {
        self.execute(
            "DELETE FROM privacy_sessions WHERE id_hash = $1",
            &[id_hash.into()],
        )
        .await?;
        Ok(())
    }

    /// Removes expired sign-ins and sessions (housekeeping); answers how many.
    pub async fn purge_privacy_signins(&self) -> Result<u64> {
        let now = self.now();
        let signins = self
            .execute(
                "DELETE FROM privacy_signins WHERE expires_at <= $1",
                &[now.into()],
            )
            .await?;
        let sessions = self
            .execute(
                "DELETE FROM privacy_sessions WHERE expires_at <= $1",
                &[now.into()],
            )
            .await?;
        Ok(signins + sessions)
    }
}
