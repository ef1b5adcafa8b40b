//! The company's datastores as the retention job reaches them: through the connectors, with
//! the subject's identifiers (kept sealed under its key by `POST /v1/subjects/events`), opened
//! once per run.

use custodian_store::keyring::{Keyring, KeyringError};
use custodian_store::runs::DatastoreRecord;
use custodian_store::Store;

/// The company's datastores as the retention job reaches them: through the connectors, with
/// the subject's identifiers (kept sealed under its key by `POST /v1/subjects/events`).
pub struct CompanyPurge {
    pub keyring: Keyring,
    /// The connectors' run keys: the keyed hashes `hash` erasure writes, and the seal of the
    /// held rows' keys.
    pub run_keys: custodian_connectors::run::RunKeys,
    /// Datastores from the config file, besides the registered ones.
    pub configured: Vec<DatastoreRecord>,
}

/// What purging one subject's data under one rule did in the company's datastores.
pub(super) enum CompanyOutcome {
    Changed(u64),
    /// No identifier is on record (events came before identifiers were kept, or the subject
    /// was erased): nothing can be matched.
    NoIdentifier,
}

/// [`CompanyPurge`] for one run: the datastores opened once.
pub(super) struct OpenCompany<'a> {
    pub(super) purge: &'a CompanyPurge,
    pub(super) expirer: custodian_connectors::run::Expirer,
}

impl CompanyPurge {
    pub(super) async fn open(&self, store: &Store) -> Result<OpenCompany<'_>, String> {
        Ok(OpenCompany {
            purge: self,
            expirer: custodian_connectors::run::Expirer::open(store, &self.configured)
                .await
                .map_err(|e| e.to_string())?,
        })
    }
}

impl OpenCompany<'_> {
    /// The identifiers the subject's lifecycle events came with (sealed under its key), or
    /// `None` when none is on record (or the subject was erased).
    pub(super) async fn identities(
        &self,
        store: &Store,
        subject_ref: &str,
    ) -> Result<Option<custodian_connectors::Identities>, String> {
        let mut pairs = Vec::new();
        for (kind, sealed) in store
            .subject_identities(subject_ref)
            .await
            .map_err(|e| e.to_string())?
        {
            match self
                .purge
                .keyring
                .open(&format!("identities/{kind}"), &sealed)
                .await
            {
                Ok(value) => pairs.push((kind, value)),
                Err(KeyringError::Erased) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok((!pairs.is_empty()).then(|| {
            custodian_connectors::run::identities(
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
        }))
    }

    pub(super) async fn expire(
        &self,
        store: &Store,
        subject_ref: &str,
        rule: &str,
    ) -> Result<CompanyOutcome, String> {
        let Some(identities) = self.identities(store, subject_ref).await? else {
            return Ok(CompanyOutcome::NoIdentifier);
        };
        let reports = self
            .expirer
            .expire(&identities, rule, self.purge.run_keys.hash_key())
            .await
            .map_err(|e| e.to_string())?;
        Ok(CompanyOutcome::Changed(
            reports.iter().map(|r| r.rows_changed()).sum(),
        ))
    }
}
