//! Notices before changes (migration 0017): the policy versions scheduled with `policy
//! publish`, the notices people are told (a policy change, a change of control, a general
//! notice), how far each notice's mail has been queued, and people's choices about optional
//! notices. Addresses never pass through here in clear: a page of recipients is their keyed
//! references and sealed identities, and a page of mail is queued with the notice's progress in
//! one transaction, so a pass that dies resumes where the last commit left it.

use crate::outbox::NewMail;
use crate::{Arg, Result, Store};

/// A scheduled policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledVersion {
    pub version: String,
    /// The policy file as published.
    pub toml: String,
    pub effective_at: i64,
    pub material: bool,
    /// The changes from the version before, as `policy diff --json` lists them.
    pub changes: String,
    pub notice_id: Option<String>,
    pub published_at: i64,
}

/// A notice to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub id: String,
    /// `policy_change`, `change_of_control` or `general`.
    pub kind: String,
    /// Mandatory notices ignore people's opt-out of optional ones.
    pub mandatory: bool,
    /// Per language, as a JSON object.
    pub title: String,
    pub body: String,
    pub policy_version: Option<String>,
    /// When what the notice announces happens (a policy version's date).
    pub effective_at: Option<i64>,
    /// The sites show it until then.
    pub shown_until: i64,
    pub email: bool,
    pub site: bool,
    pub created_at: i64,
    /// The last subject reference whose mail was queued.
    pub fanout_after: Option<String>,
    pub queued: i64,
    pub fanned_out_at: Option<i64>,
}

/// One person a notice's mail goes to: the keyed reference, the sealed address, and the
/// language to write in when known (their own choice, else their latest request's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub subject_ref: String,
    pub sealed_email: String,
    pub lang: Option<String>,
}

/// A person's choices about optional notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticePreferences {
    pub optional_email: bool,
    pub optional_site: bool,
    pub lang: Option<String>,
}

const NOTICE_COLUMNS: &str = "id, kind, mandatory, title, body, policy_version, effective_at, shown_until, email, site, created_at, fanout_after, queued, fanned_out_at";

impl Store {
    /// Schedules a version (and its notice, when there is one) in one transaction. Answers
    /// `false` when the version was already scheduled.
    pub async fn schedule_policy_version(
        &self,
        v: &ScheduledVersion,
        notice: Option<&NoticeRow>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = tx
            .execute(
                "INSERT INTO policy_schedule (version, toml, effective_at, material, changes, notice_id, published_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (version) DO NOTHING",
                &[
                    (&v.version).into(),
                    (&v.toml).into(),
                    v.effective_at.into(),
                    v.material.into(),
                    (&v.changes).into(),
                    (&v.notice_id).into(),
                    v.published_at.into(),
                ],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        if let Some(notice) = notice {
            insert_notice(&mut tx, notice).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Every scheduled version, earliest date first.
    pub async fn scheduled_versions(&self) -> Result<Vec<ScheduledVersion>> {
        let rows: Vec<VersionTuple> = self
            .fetch_all(
                "SELECT version, toml, effective_at, material, changes, notice_id, published_at \
             FROM policy_schedule ORDER BY effective_at, published_at",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(version_of).collect())
    }

    /// The version that governs at `now`: the latest whose date has come.
    pub async fn version_in_effect(&self, now: i64) -> Result<Option<ScheduledVersion>> {
        let row: Option<VersionTuple> = self.fetch_optional(
            "SELECT version, toml, effective_at, material, changes, notice_id, published_at \
             FROM policy_schedule WHERE effective_at <= $1 ORDER BY effective_at DESC, published_at DESC LIMIT 1",
            &[now.into()],
        )
        .await?;
        Ok(row.map(version_of))
    }

    /// The next version to take effect after `now`, if any.
    pub async fn upcoming_version(&self, now: i64) -> Result<Option<ScheduledVersion>> {
        let row: Option<VersionTuple> = self.fetch_optional(
            "SELECT version, toml, effective_at, material, changes, notice_id, published_at \
             FROM policy_schedule WHERE effective_at > $1 ORDER BY effective_at, published_at LIMIT 1",
            &[now.into()],
        )
        .await?;
        Ok(row.map(version_of))
    }

    /// Records a notice that announces no policy version.
    pub async fn insert_notice(&self, n: &NoticeRow) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_notice(&mut tx, n).await?;
        tx.commit().await
    }

    pub async fn notice(&self, id: &str) -> Result<Option<NoticeRow>> {
        let row: Option<NoticeTuple> = self
            .fetch_optional(
                &format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE id = $1"),
                &[id.into()],
            )
            .await?;
        Ok(row.map(notice_of))
    }

    /// The notices the sites show at `now`, newest first.
    pub async fn notices_shown(&self, now: i64) -> Result<Vec<NoticeRow>> {
        let rows: Vec<NoticeTuple> = self.fetch_all(
            &format!(
                "SELECT {NOTICE_COLUMNS} FROM notices WHERE site = $1 AND created_at <= $2 AND shown_until > $2 ORDER BY created_at DESC"
            ),
            &[true.into(), now.into()],
        )
        .await?;
        Ok(rows.into_iter().map(notice_of).collect())
    }

    /// Notices whose mail is not all queued yet, oldest first.
    pub async fn notices_to_fan_out(&self) -> Result<Vec<NoticeRow>> {
        let rows: Vec<NoticeTuple> = self.fetch_all(
            &format!(
                "SELECT {NOTICE_COLUMNS} FROM notices WHERE email = $1 AND fanned_out_at IS NULL ORDER BY created_at"
            ),
            &[true.into()],
        )
        .await?;
        Ok(rows.into_iter().map(notice_of).collect())
    }

    /// The next `limit` people with an e-mail on record after `after` (by keyed reference),
    /// leaving out those who turned optional notices off unless `mandatory`.
    pub async fn notice_recipients(
        &self,
        after: &str,
        limit: i64,
        mandatory: bool,
    ) -> Result<Vec<Recipient>> {
        let rows: Vec<(String, String, Option<String>)> = self.fetch_all(
            "SELECT i.subject_ref, i.sealed AS sealed_email, \
                    COALESCE(p.lang, (SELECT r.language FROM requests r WHERE r.subject_ref = i.subject_ref ORDER BY r.received_at DESC LIMIT 1)) AS lang \
             FROM subject_identities i LEFT JOIN notice_preferences p ON p.subject_ref = i.subject_ref \
             WHERE i.kind = 'email' AND i.subject_ref > $1 AND ($2 OR p.optional_email IS NULL OR p.optional_email = $3) \
             ORDER BY i.subject_ref LIMIT $4",
            &[after.into(), mandatory.into(), true.into(), limit.into()],
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|(subject_ref, sealed_email, lang)| Recipient {
                subject_ref,
                sealed_email,
                lang,
            })
            .collect())
    }

    /// Queues a page of a notice's mail and moves its progress past `last`, in one
    /// transaction; `done` marks the notice's mail all queued. Answers how many were new.
    pub async fn queue_notice_page(
        &self,
        notice_id: &str,
        mails: &[NewMail],
        last: Option<&str>,
        done: bool,
        now: i64,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let refs: Vec<&NewMail> = mails.iter().collect();
        let queued = crate::outbox::enqueue(&mut tx, &refs).await?;
        tx.execute(
            "UPDATE notices SET fanout_after = COALESCE($1, fanout_after), queued = queued + $2, \
             fanned_out_at = CASE WHEN $3 THEN $4 ELSE fanned_out_at END WHERE id = $5",
            &[
                Arg::OptText(last),
                (queued as i64).into(),
                done.into(),
                now.into(),
                notice_id.into(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// A person's choices about optional notices, if they made any.
    pub async fn notice_preferences(&self, subject_ref: &str) -> Result<Option<NoticePreferences>> {
        let row: Option<(bool, bool, Option<String>)> = self
            .fetch_optional(
                "SELECT optional_email, optional_site, lang FROM notice_preferences WHERE subject_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        Ok(
            row.map(|(optional_email, optional_site, lang)| NoticePreferences {
                optional_email,
                optional_site,
                lang,
            }),
        )
    }

    pub async fn put_notice_preferences(
        &self,
        subject_ref: &str,
        p: &NoticePreferences,
        now: i64,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO notice_preferences (subject_ref, optional_email, optional_site, lang, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (subject_ref) DO UPDATE SET optional_email = excluded.optional_email, optional_site = excluded.optional_site, \
             lang = excluded.lang, updated_at = excluded.updated_at",
            &[
                subject_ref.into(),
                p.optional_email.into(),
                p.optional_site.into(),
                Arg::OptText(p.lang.as_deref()),
                now.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Forgets a person's notice choices (erasure).
    pub async fn forget_notice_preferences(&self, subject_ref: &str) -> Result<u64> {
        self.execute(
            "DELETE FROM notice_preferences WHERE subject_ref = $1",
            &[subject_ref.into()],
        )
        .await
    }
}

type VersionTuple = (String, String, i64, bool, String, Option<String>, i64);

fn version_of(t: VersionTuple) -> ScheduledVersion {
    let (version, toml, effective_at, material, changes, notice_id, published_at) = t;
    ScheduledVersion {
        version,
        toml,
        effective_at,
        material,
        changes,
        notice_id,
        published_at,
    }
}

type NoticeTuple = (
    String,
    String,
    bool,
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    bool,
    bool,
    i64,
    Option<String>,
    i64,
    Option<i64>,
);

fn notice_of(t: NoticeTuple) -> NoticeRow {
    let (
        id,
        kind,
        mandatory,
        title,
        body,
        policy_version,
        effective_at,
        shown_until,
        email,
        site,
        created_at,
        fanout_after,
        queued,
        fanned_out_at,
    ) = t;
    NoticeRow {
        id,
        kind,
        mandatory,
        title,
        body,
        policy_version,
        effective_at,
        shown_until,
        email,
        site,
        created_at,
        fanout_after,
        queued,
        fanned_out_at,
    }
}

async fn insert_notice(tx: &mut crate::Tx, n: &NoticeRow) -> Result<()> {
    tx.execute(
        &format!("INSERT INTO notices ({NOTICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
        &[
            (&n.id).into(),
            (&n.kind).into(),
            n.mandatory.into(),
            (&n.title).into(),
            (&n.body).into(),
            (&n.policy_version).into(),
            Arg::OptI64(n.effective_at),
            n.shown_until.into(),
            n.email.into(),
            n.site.into(),
            n.created_at.into(),
            (&n.fanout_after).into(),
            n.queued.into(),
            Arg::OptI64(n.fanned_out_at),
        ],
    )
    .await?;
    Ok(())
}
