//! The privacy centre's sign-ins and sessions on both backends (migration 0018): tries are
//! counted per sign-in, a sign-in is used once (also when two finish at the same moment),
//! sessions end when signed out or expired.

use std::sync::Arc;

use custodian_core::clock::ManualClock;
use custodian_store::privacy_center::Tried;
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

const MINUTE: i64 = 60_000_000;

on_both!(
    a_signin_is_tried_counted_and_used_once,
    |store: Store| async move {
        let clock = ManualClock::at(1_000 * MINUTE);
        let store = store.with_clock(Arc::new(clock.clone()));
        store
            .insert_privacy_signin("n1", "ab", 1_010 * MINUTE)
            .await
            .unwrap();
        assert_eq!(
            store.try_privacy_signin("nx").await.unwrap(),
            None,
            "no such sign-in"
        );
        for tries in 1..=3 {
            assert_eq!(
                store.try_privacy_signin("n1").await.unwrap(),
                Some(Tried {
                    subject_ref: "ab".into(),
                    tries
                })
            );
        }
        assert!(store
            .finish_privacy_signin("n1", "h1", 1_030 * MINUTE)
            .await
            .unwrap());
        assert!(
            !store
                .finish_privacy_signin("n1", "h2", 1_030 * MINUTE)
                .await
                .unwrap(),
            "a sign-in is used once"
        );
        assert_eq!(store.try_privacy_signin("n1").await.unwrap(), None);
        assert_eq!(
            store.privacy_session("h1").await.unwrap().as_deref(),
            Some("ab")
        );
        assert_eq!(store.privacy_session("h2").await.unwrap(), None);

        store.end_privacy_session("h1").await.unwrap();
        assert_eq!(
            store.privacy_session("h1").await.unwrap(),
            None,
            "signed out"
        );

        store
            .insert_privacy_signin("n2", "cd", 1_010 * MINUTE)
            .await
            .unwrap();
        assert!(store
            .finish_privacy_signin("n2", "h3", 1_030 * MINUTE)
            .await
            .unwrap());
        store
            .insert_privacy_signin("n3", "cd", 1_010 * MINUTE)
            .await
            .unwrap();
        clock.set(1_010 * MINUTE);
        assert_eq!(
            store.try_privacy_signin("n3").await.unwrap(),
            None,
            "expired"
        );
        assert!(!store
            .finish_privacy_signin("n3", "h4", 1_040 * MINUTE)
            .await
            .unwrap());
        assert!(store.privacy_session("h3").await.unwrap().is_some());
        clock.set(1_030 * MINUTE);
        assert_eq!(store.privacy_session("h3").await.unwrap(), None, "expired");
        assert_eq!(store.purge_privacy_signins().await.unwrap(), 2);
    }
);

on_both!(
    two_finishing_at_once_open_one_session,
    |store: Store| async move {
        store
            .insert_privacy_signin("n1", "ab", i64::MAX)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.finish_privacy_signin("n1", "h1", i64::MAX),
            store.finish_privacy_signin("n1", "h2", i64::MAX)
        );
        assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(), 1);
    }
);
