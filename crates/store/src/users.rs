//! The console's users, their sessions and the count of failed sign-ins per address
//! (migration 0020). Addresses arrive here already keyed-hashed and sealed by the caller;
//! sessions by the hash of their secret.

use custodian_core::staff::StaffRole;

use crate::{Result, Store, StoreError};

/// One console user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub email_hash: String,
    pub email_sealed: String,
    pub role: StaffRole,
    pub password_hash: String,
    pub totp_sealed: Option<String>,
    pub totp_pending_sealed: Option<String>,
    pub totp_last_step: Option<i64>,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub disabled_at: Option<i64>,
}

const USER_COLUMNS: &str =
    "u.id, u.email_hash, u.email_sealed, u.role, u.password_hash, u.totp_sealed, \
     u.totp_pending_sealed, u.totp_last_step, u.created_at, u.password_changed_at, u.disabled_at";

type RawUser = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
);

fn user(r: RawUser) -> Result<UserRow> {
    let role = StaffRole::parse(&r.3)
        .ok_or_else(|| StoreError::Corrupt(format!("console user {} has role `{}`", r.0, r.3)))?;
    Ok(UserRow {
        id: r.0,
        email_hash: r.1,
        email_sealed: r.2,
        role,
        password_hash: r.4,
        totp_sealed: r.5,
        totp_pending_sealed: r.6,
        totp_last_step: r.7,
        created_at: r.8,
        password_changed_at: r.9,
        disabled_at: r.10,
    })
}

/// A session with its user: `stage` is `totp` until the second factor was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub stage: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub user: UserRow,
}

/// Failed sign-ins for one address key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub failures: i64,
    pub last_failure_at: i64,
    pub locked_until: i64,
}

impl Store {
    /// Stores a new user; `false` when a user already has the address.
    pub async fn insert_user(&self, u: &UserRow) -> Result<bool> {
        let n = self
            .execute(
                "INSERT INTO console_users (id, email_hash, email_sealed, role, password_hash, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email_hash) DO NOTHING",
                &[
                    (&u.id).into(),
                    (&u.email_hash).into(),
                    (&u.email_sealed).into(),
                    u.role.as_str().into(),
                    (&u.password_hash).into(),
                    u.created_at.into(),
                    u.password_changed_at.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    pub async fn user_by_email_hash(&self, email_hash: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM console_users u WHERE u.email_hash = $1");
        self.fetch_optional::<RawUser>(&sql, &[email_hash.into()])
            .await?
            .map(user)
            .transpose()
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM console_users u WHERE u.id = $1");
        self.fetch_optional::<RawUser>(&sql, &[id.into()])
            .await?
            .map(user)
            .transpose()
    }

    /// Every user, oldest first.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM console_users u ORDER BY u.created_at, u.id");
        self.fetch_all::<RawUser>(&sql, &[])
            .await?
            .into_iter()
            .map(user)
            .collect()
    }

    /// Disables (`Some(at)`) or enables a user; a disabled user's sessions end at once.
    pub async fn set_user_disabled(&self, id: &str, at: Option<i64>) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE console_users SET disabled_at = $1 WHERE id = $2",
                &[at.into(), id.into()],
            )
            .await?;
        if at.is_some() {
            self.delete_sessions_of(id).await?;
        }
        Ok(n == 1)
    }

    pub async fn set_user_role(&self, id: &str, role: StaffRole) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE console_users SET role = $1 WHERE id = $2",
                &[role.as_str().into(), id.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// A new password; every session of the user ends.
    pub async fn set_password(&self, id: &str, password_hash: &str) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE console_users SET password_hash = $1, password_changed_at = $2 WHERE id = $3",
                &[password_hash.into(), self.now().into(), id.into()],
            )
            .await?;
        self.delete_sessions_of(id).await?;
        Ok(n == 1)
    }

    /// The secret being enrolled (not yet confirmed with a code); `None` forgets it.
    pub async fn set_totp_pending(&self, id: &str, sealed: Option<&str>) -> Result<()> {
        self.execute(
            "UPDATE console_users SET totp_pending_sealed = $1 WHERE id = $2",
            &[sealed.into(), id.into()],
        )
        .await?;
        Ok(())
    }

    /// Makes `sealed` the user's second factor (confirmed by the code of `step`), or removes
    /// it (`None`).
    pub async fn set_totp(&self, id: &str, sealed: Option<&str>, step: Option<i64>) -> Result<()> {
        self.execute(
            "UPDATE console_users SET totp_sealed = $1, totp_pending_sealed = NULL, totp_last_step = $2 WHERE id = $3",
            &[sealed.into(), step.into(), id.into()],
        )
        .await?;
        Ok(())
    }

    /// Records that the code of `step` was used; `false` when it (or a later one) already was,
    /// so a code is accepted once even by two nodes at the same moment.
    pub async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE console_users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                &[step.into(), id.into()],
            )
            .await?;
        Ok(n == 1)
    }

    pub async fn insert_session(&self, id_hash: &str, user_id: &str, stage: &str) -> Result<()> {
        let now = self.now();
        self.execute(
            "INSERT INTO console_sessions (id_hash, user_id, stage, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
            &[id_hash.into(), user_id.into(), stage.into(), now.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        type Raw = (
            String,
            String,
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            i64,
            i64,
            Option<i64>,
        );
        let sql = format!(
            "SELECT s.id_hash, s.stage, s.created_at, s.last_seen_at, {USER_COLUMNS} \
             FROM console_sessions s JOIN console_users u ON u.id = s.user_id WHERE s.id_hash = $1"
        );
        let Some(r) = self.fetch_optional::<Raw>(&sql, &[id_hash.into()]).await? else {
            return Ok(None);
        };
        Ok(Some(SessionRow {
            id_hash: r.0,
            stage: r.1,
            created_at: r.2,
            last_seen_at: r.3,
            user: user((r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14))?,
        }))
    }

    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<()> {
        self.execute(
            "UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2",
            &[now.into(), id_hash.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.execute(
            "DELETE FROM console_sessions WHERE id_hash = $1",
            &[id_hash.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn delete_sessions_of(&self, user_id: &str) -> Result<u64> {
        self.execute(
            "DELETE FROM console_sessions WHERE user_id = $1",
            &[user_id.into()],
        )
        .await
    }

    /// Sessions idle since before `cutoff` or older than `created_before` (housekeeping).
    pub async fn delete_stale_sessions(&self, cutoff: i64, created_before: i64) -> Result<u64> {
        self.execute(
            "DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2",
            &[cutoff.into(), created_before.into()],
        )
        .await
    }

    pub async fn signin_failures(&self, key_hash: &str) -> Result<Option<Failures>> {
        Ok(self
            .fetch_optional::<(i64, i64, i64)>(
                "SELECT failures, last_failure_at, locked_until FROM console_signin_failures WHERE key_hash = $1",
                &[key_hash.into()],
            )
            .await?
            .map(|(failures, last_failure_at, locked_until)| Failures {
                failures,
                last_failure_at,
                locked_until,
            }))
    }

    pub async fn put_signin_failures(&self, key_hash: &str, f: Failures) -> Result<()> {
        self.execute(
            "INSERT INTO console_signin_failures (key_hash, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_hash) DO UPDATE SET failures = $2, last_failure_at = $3, locked_until = $4",
            &[key_hash.into(), f.failures.into(), f.last_failure_at.into(), f.locked_until.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn clear_signin_failures(&self, key_hash: &str) -> Result<()> {
        self.execute(
            "DELETE FROM console_signin_failures WHERE key_hash = $1",
            &[key_hash.into()],
        )
        .await?;
        Ok(())
    }
}
