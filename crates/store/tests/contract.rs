//! The store's contract, run on both backends: every test body runs once on a fresh SQLite
//! file and once on a fresh PostgreSQL database.

use custodian_core::token::{self, Role};
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

on_both!(
    tokens_are_found_by_hash_until_revoked,
    |store: Store| async move {
        let secret = token::generate();
        let rec = store
            .insert_token("ci", Role::Service, &token::hash(&secret))
            .await
            .unwrap();
        let found = store
            .find_token(&token::hash(&secret))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, rec);
        assert_eq!(
            store.find_token(&token::hash("cst_other")).await.unwrap(),
            None
        );
        assert!(store.revoke_token(&rec.id).await.unwrap());
        assert!(
            !store.revoke_token(&rec.id).await.unwrap(),
            "second revoke is a no-op"
        );
        assert_eq!(store.find_token(&token::hash(&secret)).await.unwrap(), None);
        let all = store.list_tokens().await.unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].revoked_at.is_some());
    }
);

on_both!(
    duplicate_token_hashes_are_refused,
    |store: Store| async move {
        store.insert_token("a", Role::Admin, "h").await.unwrap();
        assert!(store.insert_token("b", Role::Dpo, "h").await.is_err());
    }
);

on_both!(
    migrations_are_idempotent_and_ping_works,
    |store: Store| async move {
        store.ping().await.unwrap();
        // Migrating a current schema again applies nothing and fails nothing.
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
    }
);

#[tokio::test]
async fn unsupported_urls_are_named() {
    let err = Store::open("mysql://x").await.unwrap_err();
    assert!(
        err.to_string().contains("sqlite:// or postgres://"),
        "{err}"
    );
}
