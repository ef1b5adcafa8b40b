//! The retention job's side of the connectors: the company's SQL datastores opened once per
//! retention run, each with the rules its fields are held under, and the expiry of fields —
//! by the subject's identifiers, by the primary keys an erasure recorded for rows it kept
//! under a hold, or by each row's own collection time (rules anchored on `collected`).

use std::collections::BTreeMap;

use custodian_store::runs::{DatastoreRecord, HeldRowsRecord};
use custodian_store::Store;

use super::{connection_url, datastores, held_place, load_dataset, RunKeys};
use crate::dataset::Dataset;
use crate::erase::{self, ChangeReport, Operation};
use crate::graph::Identities;
use crate::sql::{Db, Key};
use crate::ConnectorError;

/// The company's SQL datastores as the retention job uses them: opened once per run, each
/// with the retention rules its fields are held under. Datastores reached over HTTP have no
/// field-level schema and are left out, as are datastores that hold nothing under a rule and
/// record no collection time.
pub struct Expirer {
    targets: Vec<Target>,
}

struct Target {
    /// The registration's name (what runs and held rows record).
    name: String,
    ds: Dataset,
    db: Db,
    rules: std::collections::BTreeSet<String>,
    /// Whether some table records when its rows were collected (`collected_at`).
    collected: bool,
}

impl Expirer {
    /// Loads every registered and configured datastore's dataset and connects to those that
    /// hold fields under some rule.
    pub async fn open(
        store: &Store,
        configured: &[DatastoreRecord],
    ) -> Result<Expirer, ConnectorError> {
        let mut targets = Vec::new();
        for reg in datastores(store, configured).await? {
            let ds = load_dataset(&reg)?;
            let rules: std::collections::BTreeSet<String> = ds
                .tables
                .iter()
                .flat_map(|t| &t.fields)
                .filter_map(|f| f.hold.clone())
                .collect();
            let collected = ds.tables.iter().any(|t| t.collected_at.is_some());
            if ds.http.is_some() || (rules.is_empty() && !collected) {
                continue;
            }
            let db = Db::connect(&connection_url(&reg, &ds)?).await?;
            targets.push(Target {
                name: reg.name,
                ds,
                db,
                rules,
                collected,
            });
        }
        Ok(Expirer { targets })
    }

    /// Whether some datastore holds fields under `rule`.
    pub fn holds(&self, rule: &str) -> bool {
        self.targets.iter().any(|t| t.rules.contains(rule))
    }

    /// The rule is due for the subject with these identities: in every datastore holding
    /// fields under it, those fields go by their `after_hold` strategy, one transaction per
    /// datastore. Idempotent (a second call changes nothing).
    pub async fn expire(
        &self,
        identities: &Identities,
        rule: &str,
        hash_key: &[u8],
    ) -> Result<Vec<ChangeReport>, ConnectorError> {
        let mut reports = Vec::new();
        for Target { ds, db, rules, .. } in &self.targets {
            if !rules.contains(rule) {
                continue;
            }
            reports.push(
                erase::apply(
                    db,
                    ds,
                    identities,
                    Operation::Expire { hash_key, rule },
                    false,
                )
                .await?,
            );
        }
        Ok(reports)
    }

    /// Rows an erasure kept under a hold that has now ended: the fields their rule held go by
    /// their `after_hold` strategy, found by the recorded primary keys (the subject's
    /// identifiers are long gone). One transaction; idempotent.
    pub async fn expire_held(
        &self,
        keys: &RunKeys,
        held: &HeldRowsRecord,
    ) -> Result<ChangeReport, ConnectorError> {
        let target = self
            .targets
            .iter()
            .find(|t| t.name == held.datastore)
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "the datastore {} of rows held under {} is no longer registered with held fields",
                    held.datastore, held.rule
                ))
            })?;
        let Some(sealed) = &held.sealed_keys else {
            return Ok(ChangeReport {
                datastore: target.ds.name.clone(),
                ..Default::default()
            });
        };
        let plain = keys
            .sealer
            .open(sealed, &held_place(&held.id))
            .map_err(|e| ConnectorError::Run(format!("held rows {}: {e}", held.id)))?;
        let tables: BTreeMap<String, Vec<Key>> = serde_json::from_str(&plain)
            .map_err(|e| ConnectorError::Run(format!("held rows {}: {e}", held.id)))?;
        erase::expire_keys(&target.db, &target.ds, &tables, &held.rule, &keys.hash_key).await
    }

    /// The names of the datastores with a table the `collected` rule reaches.
    pub fn collected_by(&self, rule: &str, categories: &[String]) -> Vec<String> {
        self.targets
            .iter()
            .filter(|t| {
                t.collected
                    && t.ds
                        .tables
                        .iter()
                        .any(|tb| crate::collected::applies(tb, rule, categories))
            })
            .map(|t| t.name.clone())
            .collect()
    }

    /// A `collected` rule is due: in every datastore it reaches, the records collected by its
    /// cutoff go (`crate::collected`), the rows of the subjects in `exclude` (a legal hold)
    /// left out. One answer per datastore reached, by name: a failing datastore does not stop
    /// the others, and its records stay due for the next run.
    pub async fn expire_collected(
        &self,
        due: crate::collected::DueRule<'_>,
        exclude: &[Identities],
        hash_key: &[u8],
        dry_run: bool,
    ) -> Vec<(String, Result<ChangeReport, ConnectorError>)> {
        let mut out = Vec::new();
        for t in &self.targets {
            let reached = t.collected
                && t.ds
                    .tables
                    .iter()
                    .any(|tb| crate::collected::applies(tb, due.rule, due.categories));
            if !reached {
                continue;
            }
            let r =
                crate::collected::expire_collected(&t.db, &t.ds, due, exclude, hash_key, dry_run)
                    .await;
            out.push((t.name.clone(), r));
        }
        out
    }

    pub async fn close(self) {
        for t in self.targets {
            t.db.close().await;
        }
    }
}
