//! Whom a notice about people reaches: people named by e-mail address, by user id, or by a
//! DPO's query over one of the company's datastores (`custodian_connectors::audience`), each
//! with an address to write to (when one is known) and the language to write in — the
//! language of their latest request on record, else the one the DPO gave, else the policy's
//! first. Used by breach notices (`incidents`) and disclosures; nothing here is logged.

use std::collections::HashMap;

use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_mail::Lang;

use crate::context::Context;
use crate::error::AppError;

/// The people a DPO named.
#[derive(Debug, Clone, Default)]
pub struct Named {
    pub emails: Vec<String>,
    pub user_ids: Vec<String>,
    /// A registered datastore and a read-only query over it.
    pub query: Option<(String, String)>,
}

/// One person to write to.
#[derive(Debug, Clone)]
pub struct Person {
    /// Whose data the message is about: the address's subject when there is an address, the
    /// user id's otherwise. Outbox rows are sealed under this subject's key.
    pub subject: SubjectRef,
    /// The subjects this person is known as (their address's and their user id's), for
    /// records that must find them again by either.
    pub known_as: Vec<SubjectRef>,
    pub email: Option<String>,
    pub lang: Lang,
}

/// The most people one call may name.
pub const MAX_NAMED: usize = 1_000_000;

fn invalid(detail: String) -> AppError {
    AppError::invalid("invalid_people", detail)
}

/// Resolves `named` to people, each once (the same address given twice, or given and found by
/// a query, is one person). A malformed address is refused by its position, never echoed.
pub async fn resolve(
    ctx: &Context,
    named: Named,
    fallback: Option<&str>,
) -> Result<Vec<Person>, AppError> {
    let mut emails: Vec<(Option<String>, String)> =
        named.emails.into_iter().map(|e| (None, e)).collect();
    let mut user_ids = named.user_ids;
    if let Some((datastore, query)) = &named.query {
        let found = custodian_connectors::audience::query_people(
            &ctx.store,
            &ctx.datastores,
            datastore,
            query,
        )
        .await
        .map_err(|e| AppError::invalid("invalid_query", e.to_string()))?;
        for p in found {
            match (p.email, p.user_id) {
                (Some(e), u) => emails.push((u, e)),
                (None, Some(u)) => user_ids.push(u),
                (None, None) => {}
            }
        }
    }
    if emails.len() + user_ids.len() > MAX_NAMED {
        return Err(invalid(format!("at most {MAX_NAMED} people at once")));
    }
    user_ids.retain(|u| !u.trim().is_empty());
    user_ids.sort();
    user_ids.dedup();
    let found =
        custodian_connectors::audience::emails_of_user_ids(&ctx.store, &ctx.datastores, &user_ids)
            .await
            .map_err(|e| AppError::Internal(format!("looking up addresses: {e}")))?;
    for u in &user_ids {
        match found.get(u) {
            Some(e) => emails.push((Some(u.clone()), e.clone())),
            None => emails.push((Some(u.clone()), String::new())),
        }
    }

    let mut people: Vec<Person> = Vec::new();
    let mut by_subject: HashMap<SubjectRef, usize> = HashMap::new();
    for (i, (user_id, email)) in emails.into_iter().enumerate() {
        let uid = match &user_id {
            Some(u) => Some(
                ctx.hasher.reference(
                    &SubjectId::parse(IdKind::UserId, u)
                        .map_err(|_| invalid(format!("user id {} is not valid", i + 1)))?,
                ),
            ),
            None => None,
        };
        let address = if email.is_empty() {
            None
        } else {
            let id = SubjectId::parse(IdKind::Email, &email).map_err(|_| {
                invalid(format!(
                    "e-mail address {} is not valid (it is not repeated here)",
                    i + 1
                ))
            })?;
            Some((ctx.hasher.reference(&id), id.expose().to_owned()))
        };
        let Some(subject) = address.as_ref().map(|(r, _)| *r).or(uid) else {
            continue;
        };
        let known_as: Vec<SubjectRef> = [address.as_ref().map(|(r, _)| *r), uid]
            .into_iter()
            .flatten()
            .collect();
        match by_subject.get(&subject) {
            Some(&at) => {
                for k in known_as {
                    if !people[at].known_as.contains(&k) {
                        people[at].known_as.push(k);
                    }
                }
            }
            None => {
                by_subject.insert(subject, people.len());
                people.push(Person {
                    subject,
                    known_as,
                    email: address.map(|(_, e)| e),
                    lang: Lang::En,
                });
            }
        }
    }
    for p in &mut people {
        p.lang = language(ctx, &p.subject, fallback).await?;
    }
    Ok(people)
}

/// The language to write to a subject in: their latest request's, else `fallback`, else the
/// policy's first.
async fn language(
    ctx: &Context,
    subject: &SubjectRef,
    fallback: Option<&str>,
) -> Result<Lang, AppError> {
    let requests = ctx.store.requests_of_subject(&subject.to_hex()).await?;
    let latest = requests
        .iter()
        .max_by_key(|r| r.received_at)
        .map(|r| r.language.clone());
    let tag = latest.unwrap_or_else(|| ctx.language(fallback));
    Ok(Lang::parse_or_en(&tag))
}
