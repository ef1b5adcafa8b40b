//! The retention job's side of the connectors: the company's SQL datastores opened once per
//! retention run, each with the rules its fields are held under, and the expiry of fields —
//! by the subject's identifiers, or by the primary keys an erasure recorded for rows it kept
//! under a hold.

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
/// field-level schema and are left out, as are datastores that hold nothing under a rule.
pub struct Expirer {
    targets: Vec<Target>,
}

struct Target {
    /// The registration's name (what runs and held rows record).
    name: String,
    ds: Dataset,
    db: Db,
    rules: std::collections::BTreeSet<String>,
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
            if ds.http.is_some() || rules.is_empty() {
                continue;
            }
            let db = Db::connect(&connection_url(&reg, &ds)?).await?;
            targets.push(Target {
                name: reg.name,
                ds,
                db,
                rules,
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

    pub async fn close(self) {
        for t in self.targets {
            t.db.close().await;
        }
    }
}
