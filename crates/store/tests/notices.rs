//! Notices' tables on both backends (migration 0017): scheduled versions in force and upcoming
//! by date, a version and its notice in one transaction (a second schedule of the version
//! changes nothing), recipients paged by reference with the opt-out and languages applied,
//! pages of mail queued with the notice's progress, and people's notice choices.

use custodian_store::notices::{NoticePreferences, NoticeRow, ScheduledVersion};
use custodian_store::outbox::NewMail;
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

fn version(v: &str, at: i64) -> ScheduledVersion {
    ScheduledVersion {
        version: v.into(),
        toml: format!("# {v}"),
        effective_at: at,
        material: true,
        changes: "[]".into(),
        notice_id: Some(format!("ntc_{v}")),
        published_at: 1,
    }
}

fn notice(id: &str, mandatory: bool) -> NoticeRow {
    NoticeRow {
        id: id.into(),
        kind: "policy_change".into(),
        mandatory,
        title: r#"{"en":"T"}"#.into(),
        body: r#"{"en":"B"}"#.into(),
        policy_version: None,
        effective_at: Some(100),
        shown_until: 100,
        email: true,
        site: true,
        created_at: 10,
        fanout_after: None,
        queued: 0,
        fanned_out_at: None,
    }
}

fn subject(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

on_both!(versions_by_date, |store: Store| async move {
    assert!(store.version_in_effect(50).await.unwrap().is_none());
    assert!(store
        .schedule_policy_version(&version("a", 10), Some(&notice("ntc_a", true)))
        .await
        .unwrap());
    assert!(store
        .schedule_policy_version(&version("b", 100), Some(&notice("ntc_b", false)))
        .await
        .unwrap());
    assert!(!store
        .schedule_policy_version(&version("b", 200), Some(&notice("ntc_b2", false)))
        .await
        .unwrap());
    assert!(
        store.notice("ntc_b2").await.unwrap().is_none(),
        "nothing of a refused schedule is kept"
    );
    assert_eq!(
        store.version_in_effect(50).await.unwrap().unwrap().version,
        "a"
    );
    assert_eq!(
        store.upcoming_version(50).await.unwrap().unwrap().version,
        "b"
    );
    assert_eq!(
        store.version_in_effect(100).await.unwrap().unwrap().version,
        "b"
    );
    assert!(store.upcoming_version(100).await.unwrap().is_none());
    let all: Vec<String> = store
        .scheduled_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(all, ["a", "b"]);
    let shown: Vec<String> = store
        .notices_shown(50)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(shown.len(), 2);
    assert!(store.notices_shown(100).await.unwrap().is_empty());
});

on_both!(recipients_pages_and_choices, |store: Store| async move {
    for n in 1..=5u8 {
        store
            .put_subject_identity(&subject(n), "email", &format!("sealed-{n}"), 1)
            .await
            .unwrap();
    }
    store
        .put_subject_identity(&subject(9), "user_id", "sealed-u", 1)
        .await
        .unwrap();
    store
        .put_notice_preferences(
            &subject(2),
            &NoticePreferences {
                optional_email: false,
                optional_site: true,
                lang: Some("de".into()),
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .notice_preferences(&subject(2))
            .await
            .unwrap()
            .unwrap()
            .lang
            .as_deref(),
        Some("de")
    );
    // Optional notices leave out who turned them off; mandatory ones do not.
    let optional = store.notice_recipients("", 10, false).await.unwrap();
    assert_eq!(optional.len(), 4);
    let mandatory = store.notice_recipients("", 10, true).await.unwrap();
    assert_eq!(mandatory.len(), 5);
    assert_eq!(mandatory[1].lang.as_deref(), Some("de"));
    assert_eq!(mandatory[0].lang, None);
    let page = store
        .notice_recipients(&subject(3), 10, true)
        .await
        .unwrap();
    assert_eq!(
        page.iter()
            .map(|r| r.subject_ref.clone())
            .collect::<Vec<_>>(),
        [subject(4), subject(5)]
    );

    store.insert_notice(&notice("ntc_x", true)).await.unwrap();
    let mail = |n: u8| NewMail {
        id: format!("mail_{n}"),
        idempotency_key: format!("notice/ntc_x/{}", subject(n)),
        template: "notice".into(),
        lang: "en".into(),
        to_sealed: "to".into(),
        params_sealed: "params".into(),
        request_id: None,
        created_at: 5,
        send_after: 5,
    };
    let queued = store
        .queue_notice_page("ntc_x", &[mail(1), mail(2)], Some(&subject(2)), false, 5)
        .await
        .unwrap();
    assert_eq!(queued, 2);
    // The same page again (a pass that died after its commit) queues nothing new.
    let mut again = mail(2);
    again.id = "mail_2b".into();
    let queued = store
        .queue_notice_page("ntc_x", &[again, mail(3)], Some(&subject(3)), true, 6)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let row = store.notice("ntc_x").await.unwrap().unwrap();
    assert_eq!(
        (row.queued, row.fanout_after.as_deref(), row.fanned_out_at),
        (3, Some(subject(3).as_str()), Some(6))
    );
    assert!(store.notices_to_fan_out().await.unwrap().is_empty());
    assert_eq!(
        store.forget_notice_preferences(&subject(2)).await.unwrap(),
        1
    );
});
