//! Registration that checks: a datastore is only registered (`custodian datastore add`), and a
//! changed dataset only served (`custodian serve` at start-up), once its dataset has passed the
//! same checks as `custodian dataset check` against the live database — so an erasure that
//! would fail (null into NOT NULL, a rewrite into a too-short, non-text or UNIQUE column, a
//! primary key rewritten, a missing column) is refused before a request ever runs into it.
//! What would only be slow (a column the walk needs is not indexed) is a warning.
//!
//! The verdict is recorded by a fingerprint of the dataset and policy files
//! (`store::runs::put_dataset_check`); at start-up only datastores whose files changed since
//! are checked again. An unreachable database is never a silent pass: it is a warning, the
//! fingerprint is not recorded, and the next start checks again. `force` accepts the problems
//! found (recorded as forced).

use std::path::Path;

use custodian_store::runs::DatastoreRecord;
use custodian_store::Store;
use sha2::{Digest, Sha256};

use crate::check::{self, CheckReport};
use crate::dataset_file::{self, Format};
use crate::ConnectorError;

/// What a check against the live database came to.
#[derive(Debug, Clone)]
pub enum Live {
    /// The database answered: its problems (possibly none) and Custodian's choices.
    Checked(CheckReport),
    /// The database could not be reached (it may not be up yet): why.
    Unreachable(String),
    /// An HTTP service: there is no schema to check.
    Http,
}

/// A datastore's dataset, loaded and checked against its database.
#[derive(Debug, Clone)]
pub struct Checked {
    pub format: Format,
    pub dataset_name: String,
    pub tables: usize,
    pub digest: String,
    pub live: Live,
}

impl Checked {
    /// The problems found against the database (none when it was not reached).
    pub fn problems(&self) -> &[String] {
        match &self.live {
            Live::Checked(r) => &r.problems,
            _ => &[],
        }
    }

    /// What would only be slow (missing indexes): warnings.
    pub fn slow(&self) -> &[String] {
        match &self.live {
            Live::Checked(r) => &r.slow,
            _ => &[],
        }
    }
}

/// SHA-256 over the dataset file and the policy file (if any), in hex: what a check is
/// recorded against.
pub fn digest(reg: &DatastoreRecord) -> Result<String, ConnectorError> {
    let mut h = Sha256::new();
    let mut add = |label: &str, path: &str| -> Result<(), ConnectorError> {
        let bytes = std::fs::read(path).map_err(|e| ConnectorError::Dataset {
            problems: vec![format!("cannot read the {label} {path}: {e}")],
        })?;
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
        Ok(())
    };
    add("dataset", &reg.dataset_path)?;
    if let Some(p) = &reg.fides_policy {
        add("Fides policy", p)?;
    }
    Ok(hex::encode(h.finalize()))
}

/// Loads a datastore's dataset (every problem of the files, located, is an `Err`) and checks
/// it against the live database.
pub async fn check(
    reg: &DatastoreRecord,
    policy: Option<&custodian_policy::Policy>,
) -> Result<Checked, ConnectorError> {
    let (ds, format) = dataset_file::load_with(
        Path::new(&reg.dataset_path),
        reg.fides_policy.as_deref().map(Path::new),
    )?;
    let digest = digest(reg)?;
    let live = if ds.http.is_some() {
        Live::Http
    } else {
        match crate::run::connection_url(reg, &ds) {
            Err(e) => Live::Unreachable(e.to_string()),
            // Any error of the connection or the check is a warning: the database may not be
            // up yet, and it is checked again at the next start.
            Ok(url) => match check::report_at(&url, &ds, policy).await {
                Ok(r) => Live::Checked(r),
                Err(e) => Live::Unreachable(e.to_string()),
            },
        }
    };
    Ok(Checked {
        format,
        dataset_name: ds.name,
        tables: ds.tables.len(),
        digest,
        live,
    })
}

/// `custodian datastore add`: checks the datastore, then registers it — or refuses, listing
/// every problem, unless `force`. Registered without a database that answered, it is checked
/// again at the next start.
pub async fn register(
    store: &Store,
    reg: &DatastoreRecord,
    force: bool,
) -> Result<Checked, ConnectorError> {
    let checked = check(reg, None).await?;
    let problems = checked.problems();
    if !problems.is_empty() && !force {
        return Err(ConnectorError::Refused {
            datastore: reg.name.clone(),
            problems: problems.to_vec(),
            hint: "fix them, or register anyway with --force".into(),
        });
    }
    store
        .put_datastore_with(
            &reg.name,
            &reg.dataset_path,
            reg.url_env.as_deref(),
            reg.url_file.as_deref(),
            reg.fides_policy.as_deref(),
        )
        .await?;
    match &checked.live {
        Live::Unreachable(_) => store.forget_dataset_check(&reg.name).await?,
        _ => {
            store
                .put_dataset_check(&reg.name, &checked.digest, !problems.is_empty())
                .await?
        }
    }
    Ok(checked)
}

/// `custodian serve` at start-up: every datastore (with whether its problems are accepted)
/// whose dataset or policy changed since it was last checked is checked again. A load error,
/// or problems not accepted, refuse the start (`Err`, every datastore's problems listed);
/// an unreachable database is a warning (returned) and is checked again next time.
pub async fn check_changed(
    store: &Store,
    datastores: &[(DatastoreRecord, bool)],
) -> Result<Vec<String>, ConnectorError> {
    let mut warnings = Vec::new();
    let mut refused = Vec::new();
    for (reg, force) in datastores {
        let digest = match digest(reg) {
            Ok(d) => d,
            Err(e) => {
                refused.push(format!("datastore {}: {e}", reg.name));
                continue;
            }
        };
        if store
            .dataset_check(&reg.name)
            .await?
            .is_some_and(|(d, _)| d == digest)
        {
            continue;
        }
        let checked = match check(reg, None).await {
            Ok(c) => c,
            Err(e) => {
                refused.push(format!("datastore {}: {e}", reg.name));
                continue;
            }
        };
        match &checked.live {
            Live::Unreachable(why) => warnings.push(format!(
                "datastore {}: its dataset changed and could not be checked against its database ({why}); it is checked again at the next start",
                reg.name
            )),
            _ if checked.problems().is_empty() || *force => {
                for p in checked.problems() {
                    warnings.push(format!("datastore {} (forced): {p}", reg.name));
                }
                for p in checked.slow() {
                    warnings.push(format!("datastore {}: {p}", reg.name));
                }
                store
                    .put_dataset_check(&reg.name, &checked.digest, !checked.problems().is_empty())
                    .await?;
            }
            _ => {
                for p in checked.problems() {
                    refused.push(format!("datastore {}: {p}", reg.name));
                }
            }
        }
    }
    if refused.is_empty() {
        Ok(warnings)
    } else {
        Err(ConnectorError::Refused {
            datastore: "(changed datasets)".into(),
            problems: refused,
            hint: "fix them, or accept them with `custodian datastore add NAME --dataset FILE --force` (registered datastores) or `force = true` (config-file datastores)".into(),
        })
    }
}
