//! Disclosures to public authorities: one row per disclosure and one per person it concerned,
//! by keyed reference only. Written once, never changed.

use custodian_core::disclosure::AuthorityKind;

use crate::{Result, Store, StoreError};

/// One disclosure as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRow {
    pub id: String,
    /// The authority or court, by name.
    pub recipient: String,
    pub authority_kind: AuthorityKind,
    /// The law that required it (e.g. "Investigatory Powers Act 2016, s. 61").
    pub legal_basis: String,
    /// The authority's reference (an order's number).
    pub reference: String,
    pub categories: Vec<String>,
    pub disclosed_at: i64,
    /// Whether the people concerned may be told (their access export lists it).
    pub notify_subject: bool,
    /// Why not, when not (a court's order of secrecy …).
    pub withheld_reason: Option<String>,
    /// How many people it concerned.
    pub subjects: i64,
    pub recorded_by: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, recipient, authority_kind, legal_basis, reference, categories, disclosed_at, notify_subject, withheld_reason, subjects, recorded_by, created_at";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    bool,
    Option<String>,
    i64,
    String,
    i64,
);

fn checked(r: Row) -> Result<DisclosureRow> {
    let (
        id,
        recipient,
        kind,
        legal_basis,
        reference,
        categories,
        disclosed_at,
        notify_subject,
        withheld_reason,
        subjects,
        recorded_by,
        created_at,
    ) = r;
    let corrupt =
        |what: &str, v: &str| StoreError::Corrupt(format!("disclosure {id} has {what} `{v}`"));
    let authority_kind =
        AuthorityKind::parse(&kind).ok_or_else(|| corrupt("authority kind", &kind))?;
    let categories =
        serde_json::from_str(&categories).map_err(|_| corrupt("categories", &categories))?;
    Ok(DisclosureRow {
        id,
        recipient,
        authority_kind,
        legal_basis,
        reference,
        categories,
        disclosed_at,
        notify_subject,
        withheld_reason,
        subjects,
        recorded_by,
        created_at,
    })
}

impl Store {
    /// Stores a disclosure and the people it concerned — `(subject_ref, person)`: every
    /// reference a person is known by, with the one that counts them — in one transaction.
    pub async fn insert_disclosure(
        &self,
        row: &DisclosureRow,
        subject_refs: &[(String, String)],
    ) -> Result<()> {
        let categories = serde_json::to_string(&row.categories).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin().await?;
        tx.execute(
            &format!("INSERT INTO disclosures ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &[
                (&row.id).into(), (&row.recipient).into(), row.authority_kind.as_str().into(),
                (&row.legal_basis).into(), (&row.reference).into(), (&categories).into(),
                row.disclosed_at.into(), row.notify_subject.into(), (&row.withheld_reason).into(),
                row.subjects.into(), (&row.recorded_by).into(), row.created_at.into(),
            ],
        )
        .await?;
        for (s, person) in subject_refs {
            tx.execute(
                "INSERT INTO disclosure_subjects (disclosure_id, subject_ref, person) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[(&row.id).into(), s.into(), person.into()],
            )
            .await?;
        }
        tx.commit().await
    }

    /// Every disclosure, the newest first (at most `limit`).
    pub async fn disclosures(&self, limit: i64) -> Result<Vec<DisclosureRow>> {
        self.fetch_all::<Row>(
            &format!("SELECT {COLUMNS} FROM disclosures ORDER BY disclosed_at DESC, id LIMIT $1"),
            &[limit.into()],
        )
        .await?
        .into_iter()
        .map(checked)
        .collect()
    }

    /// The disclosures that concerned one person, oldest first (withheld ones included: the
    /// caller decides what the person sees).
    pub async fn disclosures_about(&self, subject_ref: &str) -> Result<Vec<DisclosureRow>> {
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.fetch_all::<Row>(
            &format!("SELECT {cols} FROM disclosures d JOIN disclosure_subjects s ON s.disclosure_id = d.id WHERE s.subject_ref = $1 ORDER BY d.disclosed_at, d.id"),
            &[subject_ref.into()],
        )
        .await?
        .into_iter()
        .map(checked)
        .collect()
    }

    /// For the transparency report: each disclosure's kind and time with each person it
    /// concerned (`(id, kind, disclosed_at, person)`), to be counted by the caller.
    pub async fn disclosure_people(&self) -> Result<Vec<(String, AuthorityKind, i64, String)>> {
        self.fetch_all::<(String, String, i64, String)>(
            "SELECT DISTINCT d.id, d.authority_kind, d.disclosed_at, s.person FROM disclosures d JOIN disclosure_subjects s ON s.disclosure_id = d.id ORDER BY d.disclosed_at",
            &[],
        )
        .await?
        .into_iter()
        .map(|(id, kind, at, s)| {
            let k = AuthorityKind::parse(&kind).ok_or_else(|| {
                StoreError::Corrupt(format!("disclosure {id} has authority kind `{kind}`"))
            })?;
            Ok((id, k, at, s))
        })
        .collect()
    }
}
