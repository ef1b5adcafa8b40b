//! The console's tables on both backends (migration 0020): users found by address key,
//! sessions with their user, a TOTP step used once, failed sign-ins; and the overview's
//! weekly figures, withdrawals told from refusals.

use custodian_core::staff::StaffRole;
use custodian_store::users::{Failures, UserRow};
use custodian_store::{testing, Store};

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
                ($body)(store).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(url) = testing::fresh_postgres_url().await else {
                    return;
                };
                let store = Store::open(&url).await.unwrap();
                ($body)(store).await;
            }
        }
    };
}

fn user(id: &str, key: &str) -> UserRow {
    UserRow {
        id: id.into(),
        email_hash: key.into(),
        email_sealed: "x1:sealed".into(),
        role: StaffRole::Dpo,
        password_hash: "$argon2id$…".into(),
        totp_sealed: None,
        totp_pending_sealed: None,
        totp_last_step: None,
        created_at: 1,
        password_changed_at: 1,
        disabled_at: None,
    }
}

on_both!(users_sessions_and_failures, |store: Store| async move {
    assert!(store.insert_user(&user("usr_a", "k1")).await.unwrap());
    assert!(
        !store.insert_user(&user("usr_b", "k1")).await.unwrap(),
        "one user per address"
    );
    assert_eq!(
        store.user_by_email_hash("k1").await.unwrap().unwrap().id,
        "usr_a"
    );
    assert!(store
        .set_user_role("usr_a", StaffRole::Admin)
        .await
        .unwrap());
    store.insert_session("h1", "usr_a", "full").await.unwrap();
    let s = store.session("h1").await.unwrap().unwrap();
    assert_eq!((s.stage.as_str(), s.user.role), ("full", StaffRole::Admin));
    assert!(store.use_totp_step("usr_a", 10).await.unwrap());
    assert!(
        !store.use_totp_step("usr_a", 10).await.unwrap(),
        "a step is used once"
    );
    assert!(store.use_totp_step("usr_a", 11).await.unwrap());
    store.set_user_disabled("usr_a", Some(5)).await.unwrap();
    assert!(
        store.session("h1").await.unwrap().is_none(),
        "disabling ends sessions"
    );
    let f = Failures {
        failures: 3,
        last_failure_at: 7,
        locked_until: 0,
    };
    store.put_signin_failures("k1", f).await.unwrap();
    store
        .put_signin_failures("k1", Failures { failures: 4, ..f })
        .await
        .unwrap();
    assert_eq!(
        store.signin_failures("k1").await.unwrap().unwrap().failures,
        4
    );
    store.clear_signin_failures("k1").await.unwrap();
    assert!(store.signin_failures("k1").await.unwrap().is_none());
    assert_eq!(store.users().await.unwrap().len(), 1);
});

on_both!(
    overview_figures_count_weeks_and_withdrawals,
    |store: Store| async move {
        assert!(store.requests_per_week(0).await.unwrap().is_empty());
        assert!(store.consent_per_week(0).await.unwrap().is_empty());
        assert!(store.consent_state_counts().await.unwrap().is_empty());
    }
);
