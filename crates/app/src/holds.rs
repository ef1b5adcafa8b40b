//! Legal holds, for the DPO: place one on a subject, a data category or a whole matter (a
//! litigation, an incident, a regulator's order), list them, lift them. While a hold stands
//! the retention job purges nothing it covers; once lifted, what it kept is due again at the
//! next run.

use custodian_core::subject::SubjectRef;
use custodian_store::retention::HoldRow;

use crate::audit::Action;
use crate::context::Context;
use crate::error::AppError;
use crate::retention::{hold_of, REQUEST_CATEGORY};

/// Who or what a new hold is about, as the DPO gave it.
pub enum HoldSubject<'a> {
    None,
    /// Identified by e-mail or user id: its reference.
    Identified(SubjectRef),
    /// By the reference Custodian answered with (64 hex digits), not yet checked.
    Reference(&'a str),
    /// Both given, which is refused.
    Both,
}

/// A new hold, not yet checked.
pub struct NewHold<'a> {
    pub subject: HoldSubject<'a>,
    pub category: Option<&'a str>,
    pub matter: Option<&'a str>,
    pub reason: &'a str,
}

fn text(v: Option<&str>, max: usize) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(max).collect())
}

fn invalid(detail: &str) -> AppError {
    AppError::invalid("invalid_hold", detail)
}

/// Places a hold; `placed_by` is the DPO's token id.
pub async fn place(ctx: &Context, new: NewHold<'_>, placed_by: &str) -> Result<HoldRow, AppError> {
    let reason = text(Some(new.reason), 2000).ok_or_else(|| invalid("`reason` is required"))?;
    let subject_ref = match new.subject {
        HoldSubject::Both => return Err(invalid("give `subject` or `subject_ref`, not both")),
        HoldSubject::Identified(r) => Some(r.to_hex()),
        HoldSubject::Reference(r) => match text(Some(r), 64) {
            Some(r) => Some(
                SubjectRef::from_hex(&r)
                    .ok_or_else(|| {
                        invalid("`subject_ref` is 64 hex digits, as Custodian answers it")
                    })?
                    .to_hex(),
            ),
            None => None,
        },
        HoldSubject::None => None,
    };
    let category = text(new.category, 100);
    if let Some(c) = &category {
        let known = ctx.policy.categories.iter().any(|k| &k.id == c)
            || c == REQUEST_CATEGORY
            || c == "lifecycle";
        if !known {
            return Err(invalid(&format!(
                "unknown category `{c}`; give a category of the policy, `requests` or `lifecycle`"
            )));
        }
    }
    let matter = text(new.matter, 200);
    if subject_ref.is_none() && category.is_none() && matter.is_none() {
        return Err(invalid(
            "a hold needs a `subject`, a `category` or a `matter` (a matter alone holds everything)",
        ));
    }
    let row = HoldRow {
        id: ctx.ids.next("hold"),
        matter,
        subject_ref,
        category,
        reason,
        placed_by: placed_by.to_owned(),
        placed_at: ctx.clock.now_micros(),
        lifted_at: None,
        lifted_by: None,
        lift_reason: None,
    };
    ctx.store.insert_hold(&row).await?;
    tracing::info!(hold = %row.id, "legal hold placed");
    crate::audit::record_with(
        &ctx.store,
        placed_by,
        Action::HoldPlaced,
        &row.id,
        hold_of(&row).scope(),
    )
    .await?;
    Ok(row)
}

/// The standing holds (with `all`, the lifted ones too), oldest first.
pub async fn list(ctx: &Context, all: bool) -> Result<Vec<HoldRow>, AppError> {
    Ok(ctx.store.holds(all).await?)
}

/// Lifts a hold: what it kept is due again at the next retention run.
pub async fn lift(
    ctx: &Context,
    id: &str,
    lifted_by: &str,
    reason: Option<&str>,
) -> Result<(), AppError> {
    let reason = text(reason, 2000);
    if !ctx
        .store
        .lift_hold(id, lifted_by, reason.as_deref(), ctx.clock.now_micros())
        .await?
    {
        return Err(AppError::NotFound);
    }
    tracing::info!(hold = %id, "legal hold lifted");
    crate::audit::record(&ctx.store, lifted_by, Action::HoldLifted, id).await?;
    Ok(())
}
