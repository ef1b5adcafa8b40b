//! Making a scheduled version govern at its date, on every node, without a restart.
//!
//! The background pass asks the store for the newest version whose date has come; when it is
//! not the one in force, everything compiled from the policy is built anew — the decision
//! engine, the calendars, the retention rules and ages — and replaces the old in the context's
//! [`crate::live::Live`] values. Consent in memory moves to the new version's slot layout
//! first, and the version is remembered with the others consent was recorded under, so the
//! choices whose terms changed are asked again exactly as after a restart (`Context::reask`,
//! `diff::consent_purposes_changed`). Restrictions and objections are reloaded when the new
//! version numbers the purposes an objection reaches differently.
//!
//! A node that starts after the date takes the same version at start (`at_start`), so every
//! node and every restart agree on what governs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use custodian_core::deadline::Calendars;
use custodian_core::decide::Engine;
use custodian_core::retention::{MinimumAge, Retention};
use custodian_policy::Policy;
use custodian_store::Store;

use crate::acts::{self, Act, Actor};
use crate::context::Context;
use crate::error::AppError;

/// The policy that governs when a node starts: the newest scheduled version whose date has
/// come, else the configured one.
pub async fn at_start(store: &Store, configured: Policy, now: i64) -> Result<Policy, AppError> {
    match store.version_in_effect(now).await? {
        Some(v) if v.version != configured.policy.version => {
            match custodian_policy::load("scheduled", &v.toml) {
                Ok(p) => {
                    tracing::info!(version = %v.version, configured = %configured.policy.version, "a published version is in force; it governs instead of the configured file");
                    Ok(p)
                }
                Err(e) => Err(AppError::internal(format!(
                    "the version in force ({}) no longer loads: {e}",
                    v.version
                ))),
            }
        }
        _ => Ok(configured),
    }
}

/// Takes the version whose date has come into effect on this node, if it is not already.
/// Answers the version taken, if any.
pub async fn govern_due(ctx: &Context) -> Result<Option<String>, AppError> {
    let now = ctx.clock.now_micros();
    let Some(v) = ctx.store.version_in_effect(now).await? else {
        return Ok(None);
    };
    if v.version == ctx.policy.policy.version {
        return Ok(None);
    }
    let _one = ctx.governing.lock().await;
    if v.version == ctx.policy.policy.version {
        return Ok(None);
    }
    let new = custodian_policy::load("scheduled", &v.toml).map_err(|e| {
        AppError::internal(format!(
            "scheduled version {} no longer loads: {e}",
            v.version
        ))
    })?;
    govern(ctx, new).await?;
    acts::done(
        Some(&ctx.store),
        Actor::System,
        Act::PolicyInEffect {
            version: v.version.clone(),
        },
    )
    .await;
    Ok(Some(v.version))
}

/// Replaces the policy in force with `new` and everything compiled from it.
pub async fn govern(ctx: &Context, new: Policy) -> Result<(), AppError> {
    let engine = Engine::compile(&new).map_err(AppError::internal)?;
    let calendars = Calendars::from_policy(&new).map_err(AppError::internal)?;
    let calendar = calendars.default_calendar().clone();
    let rules = Retention::compile(&new).map_err(AppError::internal)?;
    let now = ctx.clock.now_micros();
    let document = serde_json::to_string(&new).unwrap_or_default();
    ctx.store
        .remember_policy_version(&new.policy.version, &document, now)
        .await?;
    let (versions, reask) = earlier_versions(ctx, &new);
    let objections_moved =
        objection_layout(&ctx.engine, &ctx.policy) != objection_layout(&engine, &new);
    let standings = if objections_moved {
        Some(crate::standing::load(&ctx.store, &engine).await?)
    } else {
        None
    };
    let full = |e: crate::live::Full| AppError::internal(e);
    // Versions and what to ask again first: a reader that sees the new policy finds them.
    ctx.versions.replace(versions).map_err(full)?;
    ctx.reask.replace(reask).map_err(full)?;
    let slots: Vec<Option<usize>> = ctx
        .engine
        .consent_purposes()
        .iter()
        .map(|p| engine.consent_slot(p))
        .collect();
    if slots.iter().enumerate().any(|(i, s)| *s != Some(i)) {
        ctx.consents.remap(&slots);
    }
    ctx.engine.replace(engine).map_err(full)?;
    if let Some(s) = standings {
        ctx.standings.replace(s).map_err(full)?;
    }
    ctx.calendars.replace(calendars).map_err(full)?;
    ctx.calendar.replace(calendar).map_err(full)?;
    ctx.retention.rules.replace(rules).map_err(full)?;
    ctx.retention
        .ages
        .replace(MinimumAge::from_policy(&new))
        .map_err(full)?;
    tracing::info!(version = %new.policy.version, "policy version in force");
    ctx.policy.replace(Arc::new(new)).map_err(full)?;
    Ok(())
}

/// Every version consent was recorded under but `new`, with the consent purposes that changed
/// since each (the old one in force joins them).
#[allow(clippy::type_complexity)]
fn earlier_versions(
    ctx: &Context,
    new: &Policy,
) -> (
    HashMap<String, Arc<Policy>>,
    HashMap<String, HashSet<String>>,
) {
    let mut versions: HashMap<String, Arc<Policy>> = (*ctx.versions).clone();
    let old: Arc<Policy> = (*ctx.policy).clone();
    versions.insert(old.policy.version.clone(), old);
    versions.remove(&new.policy.version);
    let reask = versions
        .iter()
        .map(|(v, p)| {
            let changed = custodian_policy::diff::consent_purposes_changed(p, new);
            (v.clone(), changed.into_iter().collect())
        })
        .collect();
    (versions, reask)
}

/// The objection slot of each purpose an objection may reach, in order.
fn objection_layout(engine: &Engine, policy: &Policy) -> Vec<(String, Option<u32>)> {
    policy
        .rights
        .objection
        .reaches
        .iter()
        .map(|p| (p.clone(), engine.objection_slot(p)))
        .collect()
}
