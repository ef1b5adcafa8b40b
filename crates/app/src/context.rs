//! What every use case shares: the active policy and its compiled engine, the store and the
//! consent writer, the in-memory consent state, the keys, the clock and the id generator.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use custodian_core::clock::Clock;
use custodian_core::consent::ConsentMemory;
use custodian_core::deadline::BusinessCalendar;
use custodian_core::decide::Engine;
use custodian_core::decide::{ConsentLookup, ConsentStatus};
use custodian_core::ids::Ids;
use custodian_core::seal::Sealer;
use custodian_core::signed::LinkSigner;
use custodian_core::subject::{SubjectHasher, SubjectRef};
use custodian_core::unsubscribe::Signer;
use custodian_mail::Outbox;
use custodian_policy::Policy;
use custodian_store::writer::ConsentWriter;
use custodian_store::Store;

use crate::error::AppError;
use crate::limits::{IntakeLimits, Limiters};
use crate::live::Live;
use crate::tokens::TokenCache;

/// How the service is set up; built by the CLI from flags, environment and config file.
pub struct Settings {
    pub policy: Policy,
    pub store: Store,
    /// Keys subject references and unsubscribe links; created once by `serve` and kept.
    pub secret: Vec<u8>,
    /// The URL people reach this service at, for links in e-mails (no trailing slash).
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
    /// Where mail goes; `None` queues mail in the outbox until it is configured.
    pub smtp: Option<custodian_mail::MailConfig>,
    pub intake_limits: IntakeLimits,
    /// Datastores named in the config file, besides those registered in the store.
    pub datastores: Vec<custodian_store::runs::DatastoreRecord>,
    /// Wraps every subject's key (see `custodian_store::keyring`). Never stored by Custodian.
    pub master_key: custodian_core::keys::MasterKey,
    /// Where subject keys live: apart from `store`, so that a copy of the data holds no key
    /// (may be `store` itself, e.g. one PostgreSQL database).
    pub key_store: Store,
    /// Where this node keeps an image of its consent memory for fast restarts.
    pub consent_image: crate::consent_image::ImagePlace,
}

pub type Shared = Arc<Context>;

/// Where use cases report numbers (gauges and counters) for the operator; the HTTP edge
/// implements it with its metrics registry, so this crate knows no exporter.
pub trait Telemetry: Send + Sync {
    fn set_gauge(&self, name: &'static str, labels: &[(&str, &str)], value: f64);
    fn add_counter(&self, name: &'static str, by: u64);
}

/// Telemetry that goes nowhere, for tools that run a use case once (the CLI).
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn set_gauge(&self, _: &'static str, _: &[(&str, &str)], _: f64) {}
    fn add_counter(&self, _: &'static str, _: u64) {}
}

pub struct Context {
    /// The policy in force; a scheduled version replaces it at its date (`announce::govern`),
    /// so read it afresh rather than keeping it across awaits.
    pub policy: Live<Arc<Policy>>,
    pub engine: Live<Engine>,
    pub store: Store,
    pub writer: ConsentWriter,
    pub consents: ConsentMemory,
    /// How far this node has read the ledger's chains into `consents` (`consent_sync`).
    pub consent_seen: crate::consent_sync::Watermarks,
    /// This node's image of `consents` (`consent_image`), if it keeps one.
    pub consent_image: Option<std::path::PathBuf>,
    /// When the image this node started from was made; `None`: it loaded from the store.
    pub started_from_image: Option<i64>,
    /// Names the secret in images, so one made under another secret is not read.
    pub image_fingerprint: [u8; 16],
    /// How far this node has read the standing changes other nodes noted (`standing_sync`).
    pub standing_seen: crate::standing_sync::StandingSeen,
    /// Devices linked to accounts, both ways: a choice made on one applies to the others.
    pub device_links: RwLock<HashMap<SubjectRef, Vec<SubjectRef>>>,
    /// Earlier policy versions that consent was recorded under.
    pub versions: Live<HashMap<String, Arc<Policy>>>,
    /// For each earlier version, the consent purposes that changed since: choices made under
    /// it for those purposes must be asked again.
    pub reask: Live<HashMap<String, HashSet<String>>>,
    pub hasher: SubjectHasher,
    pub signer: Signer,
    pub tokens: TokenCache,
    /// The console's users (addresses keyed-hashed and sealed under keys of their own).
    pub users: crate::users::Directory,
    pub telemetry: Arc<dyn Telemetry>,
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
    /// Every id Custodian makes (receipts, events, requests, holds …), from `clock`.
    pub ids: Ids,
    /// Opens requesters' addresses, details and history notes sealed before keys were per
    /// subject (new values are sealed by `keyring`).
    pub sealer: Sealer,
    /// Each subject's own key, for their personal fields; erasure destroys it.
    pub keyring: custodian_store::keyring::Keyring,
    /// Whether the keys live in the data's own database (PostgreSQL by default): request
    /// intake then stores a new requester's key in the request's own transaction.
    pub keys_beside_data: bool,
    /// Keys the hashes of verification codes.
    pub code_key: Vec<u8>,
    /// Signs status and download links.
    pub links: LinkSigner,
    /// The default rules' calendar: the DPO's office hours ("due soon", the digest's hour).
    pub calendar: Live<BusinessCalendar>,
    /// Every calendar of the policy: each request is counted on its jurisdiction's.
    pub calendars: Live<custodian_core::deadline::Calendars>,
    pub outbox: Outbox,
    /// Keys of connector runs (the same as the CLI's, so a run the server planned can be
    /// resumed or retried from the command line).
    pub run_keys: custodian_connectors::run::RunKeys,
    /// Datastores named in the config file, besides those registered in the store.
    pub datastores: Vec<custodian_store::runs::DatastoreRecord>,
    /// Group commit for request intake.
    pub intake: custodian_store::requests::IntakeWriter,
    pub smtp: Option<custodian_mail::MailConfig>,
    pub limiters: Limiters,
    pub limits: IntakeLimits,
    /// Retention rules, minimum ages and the subjects under them (`retention_job`).
    pub retention: crate::retention::RetentionState,
    /// Restrictions, objections and closed accounts in force, for `decide` (`standing.rs`).
    pub standings: Live<custodian_core::standing::Standings>,
    /// The notices the sites show now (`announce`), refreshed by the background pass.
    pub site_notices: RwLock<Arc<Vec<custodian_store::notices::NoticeRow>>>,
    /// Serialises replacing the policy (`announce::govern`): one swap at a time per node.
    pub governing: tokio::sync::Mutex<()>,
    /// The datastores a consent withdrawal goes on to, in memory (`notices`).
    pub withdrawal_takers: crate::notices::WithdrawalTakers,
    /// Notice texts' hashes, made once per version, purpose and language (`recording`).
    pub notice_hashes: crate::recording::NoticeHashes,
    /// Receipt terms per policy held (`receipts::TermsCache`).
    pub receipt_terms: crate::receipts::TermsCache,
}

impl Context {
    /// Forgets every link of a subject (erasure).
    pub fn forget_links(&self, subject: &SubjectRef) {
        let mut links = self.links_map();
        if let Some(others) = links.remove(subject) {
            for o in others {
                if let Some(list) = links.get_mut(&o) {
                    list.retain(|x| x != subject);
                }
            }
        }
    }

    fn links_map(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<SubjectRef, Vec<SubjectRef>>> {
        self.device_links.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The subject and everyone linked to it, directly or through others: two devices of
    /// one account share a choice made on either. Bounded, so a pathological web of links
    /// cannot turn one consent write into thousands of events.
    pub fn with_links(&self, subject: SubjectRef) -> Vec<SubjectRef> {
        const MOST: usize = 64;
        let links = self.device_links.read().unwrap_or_else(|e| e.into_inner());
        let mut all = vec![subject];
        let mut next = 0;
        while next < all.len() && all.len() < MOST {
            if let Some(others) = links.get(&all[next]) {
                for o in others {
                    if all.len() < MOST && !all.contains(o) {
                        all.push(*o);
                    }
                }
            }
            next += 1;
        }
        all
    }

    /// Makes `subject`'s links in memory what the store says they are (`others`): links
    /// another node made are added, links it erased are dropped, both ways.
    pub fn set_links(&self, subject: SubjectRef, others: &[SubjectRef]) {
        let mut links = self.links_map();
        let gone: Vec<SubjectRef> = links
            .get(&subject)
            .map(|l| l.iter().filter(|x| !others.contains(x)).copied().collect())
            .unwrap_or_default();
        for g in gone {
            for (x, y) in [(subject, g), (g, subject)] {
                if let Some(list) = links.get_mut(&x) {
                    list.retain(|z| *z != y);
                    if list.is_empty() {
                        links.remove(&x);
                    }
                }
            }
        }
        for &o in others {
            for (x, y) in [(subject, o), (o, subject)] {
                let list = links.entry(x).or_default();
                if !list.contains(&y) {
                    list.push(y);
                }
            }
        }
    }

    pub fn add_link(&self, a: SubjectRef, b: SubjectRef) {
        let mut links = self.links_map();
        for (x, y) in [(a, b), (b, a)] {
            let list = links.entry(x).or_default();
            if !list.contains(&y) {
                list.push(y);
            }
        }
    }

    /// Whether the store was found unreachable in the last few seconds: a failure that
    /// reached a use case only as text (the group-commit writers') was then most likely the
    /// outage, and the caller may try again shortly.
    pub fn store_down_lately(&self) -> bool {
        custodian_store::unavailable_lately(std::time::Duration::from_secs(5))
    }

    /// Whether the service can serve: the store answers. Answers the store's backend name.
    pub async fn ready(&self) -> Result<&'static str, AppError> {
        match self.store.ping().await {
            Ok(()) => Ok(self.store.backend()),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                Err(AppError::Unavailable)
            }
        }
    }

    /// The language of the policy's texts closest to `asked`: its primary subtag when the
    /// policy has it, otherwise the policy's first language.
    pub fn language(&self, asked: Option<&str>) -> String {
        let langs = &self.policy.policy.languages;
        asked
            .map(|a| a.split(['-', '_']).next().unwrap_or(a).to_ascii_lowercase())
            .filter(|a| langs.contains(a))
            .or_else(|| langs.first().cloned())
            .unwrap_or_else(|| "en".into())
    }

    /// The policy a version names: the active one or an earlier one on record.
    pub fn policy_of(&self, version: &str) -> Option<&Policy> {
        if version == self.policy.policy.version {
            Some(&self.policy)
        } else {
            self.versions.get(version).map(|p| p.as_ref())
        }
    }
}

/// What `decide` reads besides the policy: consent from memory and whether the subject is
/// known to be under the minimum age — no I/O.
impl ConsentLookup for Context {
    fn status(&self, subject: &SubjectRef, slot: usize) -> ConsentStatus {
        self.consents.status(subject, slot)
    }
    fn under_minimum_age(&self, subject: &SubjectRef) -> bool {
        self.retention.minors.contains(subject)
    }
    fn standing(&self, subject: &SubjectRef) -> custodian_core::standing::Standing {
        self.standings.get(subject)
    }
}
