//! Aggregate reports (`[[reports]]` in the policy) and the records of processing, on the
//! application layer: a report is read from its datastore through the connectors, its small
//! groups suppressed by `custodian_core::aggregate`, and written as CSV or JSON with how many
//! groups were hidden. Only a purpose whose recipients all receive non-personal data may
//! receive one (the policy refuses others at load; checked again here).

use custodian_core::aggregate::{suppress, Suppressed};
use custodian_policy::Policy;
use custodian_store::runs::DatastoreRecord;
use custodian_store::Store;
use serde::Serialize;

use crate::acts::{self, Act, Actor};
use crate::context::Context;
use crate::error::AppError;

/// A report as it may leave the company.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub report: String,
    pub purpose: String,
    /// The recipients it may go to (all `non_personal_only`).
    pub recipients: Vec<String>,
    pub policy_version: String,
    /// The key columns' names.
    pub keys: Vec<String>,
    #[serde(flatten)]
    pub table: Suppressed,
    /// Groups hidden, both rules.
    pub suppressed: usize,
}

/// Runs report `id` of `policy` against its datastore.
pub async fn run(
    store: &Store,
    configured: &[DatastoreRecord],
    policy: &Policy,
    id: &str,
) -> Result<Published, AppError> {
    let report = policy.report(id).ok_or(AppError::NotFound)?;
    let purpose = policy.purpose(&report.purpose).ok_or_else(|| {
        AppError::invalid(
            "unknown_purpose",
            "the report's purpose is not in the policy",
        )
    })?;
    let personal = purpose
        .recipients
        .iter()
        .any(|r| policy.recipient(r).is_none_or(|r| !r.non_personal_only));
    if personal || purpose.recipients.is_empty() {
        return Err(AppError::invalid(
            "personal_recipient",
            format!(
                "purpose `{}` does not go to non-personal recipients only; reports go nowhere else",
                purpose.id
            ),
        ));
    }
    let rows = custodian_connectors::report::run(
        store,
        configured,
        &report.datastore,
        &report.query,
        &report.people,
    )
    .await
    .map_err(|e| AppError::invalid("report_failed", e.to_string()))?;
    let table = suppress(rows.groups, policy.min_group_of(report));
    Ok(Published {
        report: report.id.clone(),
        purpose: purpose.id.clone(),
        recipients: purpose.recipients.clone(),
        policy_version: policy.policy.version.clone(),
        keys: rows.keys,
        suppressed: table.suppressed(),
        table,
    })
}

/// Runs report `id` under the context's policy and records the act.
pub async fn run_in(ctx: &Context, actor: &Actor, id: &str) -> Result<Published, AppError> {
    let out = run(&ctx.store, &ctx.datastores, &ctx.policy, id).await?;
    acts::done(Some(&ctx.store), actor.clone(), act_of(&out)).await;
    Ok(out)
}

/// The act a run is recorded as.
pub fn act_of(p: &Published) -> Act {
    Act::ReportRun {
        report: p.report.clone(),
        groups: p.table.cells.len(),
        suppressed: p.suppressed,
    }
}

impl Published {
    /// RFC 4180 CSV (formula cells defused, `custodian_policy::csv`): the key columns and `people`, a hidden group's count left empty and its
    /// reason in `suppressed`; a last row `total`.
    pub fn csv(&self) -> String {
        // RFC 4180 with formulas defused: the keys are values from a company datastore.
        let field = |x: &str| custodian_policy::csv::field(x).into_owned();
        let mut head: Vec<String> = self.keys.iter().map(|k| field(k)).collect();
        head.extend(["people".into(), "suppressed".into()]);
        let mut out = head.join(",") + "\r\n";
        for c in &self.table.cells {
            let mut row: Vec<String> = c
                .keys
                .iter()
                .map(|k| field(k.as_deref().unwrap_or_default()))
                .collect();
            row.push(c.people.map(|n| n.to_string()).unwrap_or_default());
            row.push(match c.hidden {
                Some(custodian_core::aggregate::Hidden::Primary) => "primary".into(),
                Some(custodian_core::aggregate::Hidden::Secondary) => "secondary".into(),
                None => String::new(),
            });
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        let mut total = vec![String::new(); self.keys.len()];
        if let Some(first) = total.first_mut() {
            *first = "total".into();
        }
        total.push(self.table.total.map(|n| n.to_string()).unwrap_or_default());
        total.push(if self.table.total.is_some() {
            String::new()
        } else {
            "secondary".into()
        });
        out.push_str(&total.join(","));
        out.push_str("\r\n");
        out
    }
}
