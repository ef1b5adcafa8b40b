//! The privacy team's console users: adding, listing, disabling, resetting, changing roles.
//!
//! A user's e-mail address is staff data and kept as subjects' addresses are: found by an HMAC
//! of the normalised address (a key derived from the server secret for this use alone) and
//! shown from a copy sealed under another derived key, bound to the user's row — never stored
//! or logged in the clear. Passwords are Argon2id hashes made off the async threads.

use custodian_core::seal::{derive_key, Sealer};
use custodian_core::staff::{self, StaffRole};
use custodian_core::subject::{IdKind, SubjectId};
use custodian_store::users::UserRow;
use custodian_store::Store;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::AppError;

/// The users' directory: the store with the keys that find and open their addresses. The CLI
/// builds one from the server secret without the rest of the context.
#[derive(Clone)]
pub struct Directory {
    pub(crate) store: Store,
    lookup_key: [u8; 32],
    sealer: Sealer,
}

/// A user as the console and the CLI show one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: String,
    /// `None` when the sealed address does not open (another server secret).
    pub email: Option<String>,
    pub role: StaffRole,
    pub totp: bool,
    pub disabled: bool,
    pub created_at: i64,
}

fn place(id: &str) -> String {
    format!("console_users/{id}/email")
}

/// Hashes or checks a password on the blocking pool: Argon2 takes tens of milliseconds of
/// CPU, which must not stall the async threads serving other requests.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(AppError::internal)
}

pub(crate) async fn hash_password(password: String) -> Result<String, AppError> {
    blocking(move || staff::hash(&password))
        .await?
        .map_err(|e| AppError::invalid("weak_password", e.to_string()))
}

impl Directory {
    pub fn new(store: Store, secret: &[u8]) -> Directory {
        Directory {
            store,
            lookup_key: derive_key(secret, "console user lookup"),
            sealer: Sealer::derived(secret, "console users"),
        }
    }

    /// The lookup key of an address: the HMAC of its normalised form, or of the trimmed,
    /// lower-cased text when it is not an address (sign-in counts failures for it all the same).
    pub fn email_key(&self, email: &str) -> String {
        let normal = SubjectId::parse(IdKind::Email, email)
            .map(|id| id.expose().to_owned())
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup_key).expect("any key length");
        mac.update(normal.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub(crate) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn view(&self, u: &UserRow) -> User {
        User {
            id: u.id.clone(),
            email: self.sealer.open(&u.email_sealed, &place(&u.id)).ok(),
            role: u.role,
            totp: u.totp_sealed.is_some(),
            disabled: u.disabled_at.is_some(),
            created_at: u.created_at,
        }
    }

    /// Adds a user; refuses an address that is not one, a short password, or an address a
    /// user already has.
    pub async fn add(
        &self,
        email: &str,
        role: StaffRole,
        password: &str,
    ) -> Result<User, AppError> {
        let id_of = SubjectId::parse(IdKind::Email, email)
            .map_err(|_| AppError::invalid("invalid_email", "this is not an e-mail address"))?;
        let hash = hash_password(password.to_owned()).await?;
        let id = self.store.ids().next("usr");
        let now = self.store.clock().now_micros();
        let row = UserRow {
            email_hash: self.email_key(id_of.expose()),
            email_sealed: self.sealer.seal(id_of.expose(), &place(&id)),
            id,
            role,
            password_hash: hash,
            totp_sealed: None,
            totp_pending_sealed: None,
            totp_last_step: None,
            created_at: now,
            password_changed_at: now,
            disabled_at: None,
        };
        if !self.store.insert_user(&row).await? {
            return Err(AppError::conflict(
                "user_exists",
                "a user with this address exists",
            ));
        }
        Ok(self.view(&row))
    }

    pub async fn list(&self) -> Result<Vec<User>, AppError> {
        Ok(self
            .store
            .users()
            .await?
            .iter()
            .map(|u| self.view(u))
            .collect())
    }

    /// A user by id (`usr_…`) or by address.
    pub async fn find(&self, who: &str) -> Result<UserRow, AppError> {
        let found = if who.starts_with("usr_") {
            self.store.user(who).await?
        } else {
            self.store.user_by_email_hash(&self.email_key(who)).await?
        };
        found.ok_or(AppError::NotFound)
    }

    /// Disables a user (every session ends) or enables them again.
    pub async fn set_disabled(&self, who: &str, disabled: bool) -> Result<User, AppError> {
        let u = self.find(who).await?;
        let at = disabled.then(|| self.store.clock().now_micros());
        self.store.set_user_disabled(&u.id, at).await?;
        Ok(self.view(&self.find(&u.id).await?))
    }

    /// A new password (every session ends, failed sign-ins are forgotten); `remove_totp` also
    /// removes the second factor, for someone who lost their authenticator.
    pub async fn reset(
        &self,
        who: &str,
        password: &str,
        remove_totp: bool,
    ) -> Result<User, AppError> {
        let u = self.find(who).await?;
        let hash = hash_password(password.to_owned()).await?;
        self.store.set_password(&u.id, &hash).await?;
        if remove_totp {
            self.store.set_totp(&u.id, None, None).await?;
        }
        self.store.clear_signin_failures(&u.email_hash).await?;
        Ok(self.view(&self.find(&u.id).await?))
    }

    pub async fn set_role(&self, who: &str, role: StaffRole) -> Result<User, AppError> {
        let u = self.find(who).await?;
        self.store.set_user_role(&u.id, role).await?;
        Ok(self.view(&self.find(&u.id).await?))
    }
}
