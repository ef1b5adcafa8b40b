//! Disclosures to public authorities "when required by law": the DPO records each one — to
//! whom, under which law, the authority's reference, which data, about whom, when — and
//! whether the people concerned may be told. If they may, each is told by mail and their
//! access export lists the disclosure (GDPR Art. 15(1)(c): the recipients to whom data "have
//! been … disclosed"); if not — a court's order of secrecy, an investigation the law protects
//! (Art. 23(1)(d), e.g. UK DPA 2018 Sch. 2 para. 2) — a reason must be on record, and both stay
//! silent. The public transparency report counts disclosures per year and kind of authority,
//! never a count below the policy's `aggregates.min_group` (`custodian_core::disclosure`).

use std::collections::{BTreeMap, BTreeSet};

use custodian_core::disclosure::{self, AuthorityKind, Counted, Published};
use custodian_mail::{MailContent, OutgoingMail};
use custodian_store::disclosures::DisclosureRow;

use crate::audit::{self, Action};
use crate::context::Context;
use crate::error::AppError;
use crate::people::{self, Named};

/// A disclosure as the DPO records it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct NewDisclosure {
    pub recipient: String,
    /// `court`, `law_enforcement`, `regulator`, `tax_authority` or `other` (the default).
    pub authority_kind: Option<String>,
    pub legal_basis: String,
    pub reference: String,
    pub categories: Vec<String>,
    pub subjects: Named,
    /// Microseconds since the Unix epoch.
    pub disclosed_at: i64,
    pub notify_subject: bool,
    /// Why the people are not told; required when `notify_subject` is false.
    pub reason: Option<String>,
    /// The language for people whose own is not on record.
    pub language: Option<String>,
}

/// What recording did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub row: DisclosureRow,
    /// People told by mail now.
    pub notified: u64,
    /// People to be told who have no address on record (their export still lists it).
    pub unreachable: u64,
}

fn invalid(detail: impl Into<String>) -> AppError {
    AppError::invalid("invalid_disclosure", detail)
}

fn required(v: &str, name: &str, max: usize) -> Result<String, AppError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(invalid(format!("`{name}` is required")));
    }
    if t.chars().count() > max {
        return Err(invalid(format!("`{name}` is longer than {max} characters")));
    }
    Ok(t.to_owned())
}

/// Records a disclosure, tells the people concerned where the law allows, and audits it.
pub async fn record(ctx: &Context, new: NewDisclosure, actor: &str) -> Result<Recorded, AppError> {
    let now = ctx.clock.now_micros();
    if new.disclosed_at > now {
        return Err(invalid("`disclosed_at` is in the future"));
    }
    let kind = match new.authority_kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => AuthorityKind::Other,
        Some(k) => AuthorityKind::parse(k).ok_or_else(|| {
            invalid("`recipient.kind` is `court`, `law_enforcement`, `regulator`, `tax_authority` or `other`")
        })?,
    };
    let withheld_reason = new
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if !new.notify_subject && withheld_reason.is_none() {
        return Err(AppError::invalid(
            "reason_required",
            "`notify_subject` is false: give the `reason` the people concerned are not told (a court's order of secrecy, the law that forbids it)",
        ));
    }
    let known: Vec<&str> = ctx
        .policy
        .categories
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let mut categories = Vec::new();
    for c in new.categories.iter().map(|c| c.trim()) {
        if !known.contains(&c) {
            return Err(AppError::Invalid {
                code: "unknown_category",
                detail: format!(
                    "`{c}` is not among the policy's categories; known: {}",
                    known.join(", ")
                ),
                extra: Some(serde_json::json!({ "known": known })),
            });
        }
        if !categories.iter().any(|x: &String| x == c) {
            categories.push(c.to_owned());
        }
    }
    if categories.is_empty() {
        return Err(invalid(
            "`categories` names at least one of the policy's data categories",
        ));
    }
    let row = DisclosureRow {
        id: ctx.ids.next("dis"),
        recipient: required(&new.recipient, "recipient", 200)?,
        authority_kind: kind,
        legal_basis: required(&new.legal_basis, "legal_basis", 500)?,
        reference: required(&new.reference, "reference", 200)?,
        categories,
        disclosed_at: new.disclosed_at,
        notify_subject: new.notify_subject,
        withheld_reason: if new.notify_subject {
            None
        } else {
            withheld_reason.map(|r| r.chars().take(2000).collect())
        },
        subjects: 0,
        recorded_by: actor.to_owned(),
        created_at: now,
    };
    let people = people::resolve(ctx, new.subjects, new.language.as_deref()).await?;
    if people.is_empty() {
        return Err(invalid(
            "`subjects` names at least one person by `email` or `user_id`",
        ));
    }
    let row = DisclosureRow {
        subjects: people.len() as i64,
        ..row
    };
    let refs: Vec<(String, String)> = people
        .iter()
        .flat_map(|p| p.known_as.iter().map(|k| (k.to_hex(), p.subject.to_hex())))
        .collect();
    ctx.store.insert_disclosure(&row, &refs).await?;

    let (mut notified, mut unreachable) = (0u64, 0u64);
    if row.notify_subject {
        let contact = ctx
            .policy
            .contacts
            .dpo_email
            .clone()
            .unwrap_or_else(|| format!("{}/privacy-center", ctx.public_url));
        let names: Vec<String> = row
            .categories
            .iter()
            .map(|c| {
                ctx.policy
                    .categories
                    .iter()
                    .find(|k| &k.id == c)
                    .map_or(c.clone(), |k| k.name.clone())
            })
            .collect();
        let day = custodian_core::clock::timestamp(row.disclosed_at)
            .strftime("%Y-%m-%d")
            .to_string();
        for p in &people {
            let Some(email) = &p.email else {
                unreachable += 1;
                continue;
            };
            let mail = OutgoingMail {
                idempotency_key: format!("disclosure/{}/{}", row.id, p.subject.to_hex()),
                to: email.clone(),
                lang: p.lang,
                request_id: None,
                subject: Some(p.subject),
                content: MailContent::DisclosureNotice {
                    organisation: ctx.policy.policy.organisation.clone(),
                    recipient: row.recipient.clone(),
                    legal_basis: row.legal_basis.clone(),
                    reference: row.reference.clone(),
                    categories: names.clone(),
                    disclosed_on: day.clone(),
                    contact: contact.clone(),
                },
            };
            if ctx
                .outbox
                .enqueue(&mail, now)
                .await
                .map_err(AppError::internal)?
            {
                notified += 1;
            }
        }
    }
    let detail = format!(
        "kind={} subjects={} {}",
        kind.as_str(),
        row.subjects,
        if row.notify_subject {
            format!("notified={notified} unreachable={unreachable}")
        } else {
            "withheld".into()
        }
    );
    audit::record_with(
        &ctx.store,
        actor,
        Action::DisclosureRecorded,
        &row.id,
        &detail,
    )
    .await?;
    Ok(Recorded {
        row,
        notified,
        unreachable,
    })
}

/// The disclosures on record, the newest first.
pub async fn list(ctx: &Context, limit: i64) -> Result<Vec<DisclosureRow>, AppError> {
    Ok(ctx.store.disclosures(limit.clamp(1, 1000)).await?)
}

/// The disclosures a person's access export lists: those about them that are not withheld.
pub async fn about(ctx: &Context, subject_ref: &str) -> Result<Vec<DisclosureRow>, AppError> {
    let mut all = ctx.store.disclosures_about(subject_ref).await?;
    all.retain(|d| d.notify_subject);
    Ok(all)
}

/// The public transparency report.
#[derive(Debug, Clone)]
pub struct Transparency {
    pub organisation: String,
    pub min_group: u64,
    pub rows: Vec<Published>,
    pub generated_at: i64,
}

/// Counts per year (UTC) and kind of authority, each count below the policy's minimum group
/// size suppressed.
pub async fn transparency(ctx: &Context) -> Result<Transparency, AppError> {
    let mut cells: BTreeMap<(i32, AuthorityKind), (BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    for (id, kind, at, person) in ctx.store.disclosure_people().await? {
        let year = i32::from(
            custodian_core::clock::timestamp(at)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .year(),
        );
        let cell = cells.entry((year, kind)).or_default();
        cell.0.insert(id);
        cell.1.insert(person);
    }
    let counted: Vec<Counted> = cells
        .into_iter()
        .map(|((year, kind), (ids, people))| Counted {
            year,
            kind,
            disclosures: ids.len() as u64,
            people: people.len() as u64,
        })
        .collect();
    let min_group = u64::from(ctx.policy.aggregates.min_group.max(1));
    Ok(Transparency {
        organisation: ctx.policy.policy.organisation.clone(),
        min_group,
        rows: disclosure::publish(&counted, min_group),
        generated_at: ctx.clock.now_micros(),
    })
}
