//! Building the shared [`Context`] from [`Settings`]: compiling the policy, recording its
//! version, and loading every subject's current consent and device links into memory so
//! decisions never wait on the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use custodian_core::consent::ConsentMemory;
use custodian_core::deadline::Calendars;
use custodian_core::decide::Engine;
use custodian_core::seal::Sealer;
use custodian_core::signed::LinkSigner;
use custodian_core::subject::{SubjectHasher, SubjectRef};
use custodian_core::unsubscribe::Signer;
use custodian_policy::Policy;
use custodian_store::writer::ConsentWriter;
use custodian_store::Store;
use futures_util::TryStreamExt;

use crate::context::{Context, Settings, Shared, Telemetry};
use crate::live::Live;
use crate::{consent_sync, retention};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the policy cannot be compiled: {0}")]
    Compile(#[from] custodian_core::decide::CompileError),
    #[error("loading state from the store: {0}")]
    Store(#[from] custodian_store::StoreError),
    #[error("the policy's calendars: {0}")]
    Calendar(#[from] custodian_core::deadline::CalendarError),
    #[error("retention: {0}")]
    Retention(#[from] retention::JobError),
    #[error("the published policy version: {0}")]
    Published(String),
}

/// Prepares everything the use cases share. `telemetry` receives the gauges and counters
/// that background jobs report.
pub async fn build(
    settings: Settings,
    telemetry: Arc<dyn Telemetry>,
) -> Result<Shared, BuildError> {
    let now = settings.clock.now_micros();
    // A version published with `policy publish` whose date has come governs over the file.
    let policy = crate::announce::govern::at_start(&settings.store, settings.policy, now)
        .await
        .map_err(|e| BuildError::Published(e.to_string()))?;
    // One clock for everything: the store's own "now" (created_at, leases, ids) is the
    // context's, so a test that moves the clock moves the store's time too.
    let store = settings.store.with_clock(settings.clock.clone());
    let key_store = settings.key_store.with_clock(settings.clock.clone());
    let engine = Engine::compile(&policy)?;

    let (versions, reask) = load_versions(&store, &policy, now).await?;
    let image_fingerprint = crate::consent_image::fingerprint(&settings.secret);
    let consent_image = settings.consent_image.file(&store);
    let imaged = match &consent_image {
        Some(path) => {
            crate::consent_image::load(path, engine.consent_purposes(), image_fingerprint).await
        }
        None => None,
    };
    let imaged = match imaged {
        Some(l) => worth_catching_up(&store, l).await?,
        None => None,
    };
    let started_from_image = imaged.as_ref().map(|l| l.taken_at);
    let (consents, consent_seen) = match imaged {
        Some(loaded) => (loaded.memory, loaded.seen),
        None => {
            let seen = consent_sync::Watermarks::at_heads(&store).await?;
            (load_consents(&store, &engine).await?, seen)
        }
    };
    let calendars = Calendars::from_policy(&policy)?;
    let calendar = calendars.default_calendar().clone();
    // Read before the standings and minors are loaded: a change in between is read again.
    let standing_seen = crate::standing_sync::StandingSeen::at_head(&store).await?;
    let retention = retention::RetentionState::load(&policy, &store).await?;
    let standings = crate::standing::load(&store, &engine).await?;
    let keyring = custodian_store::keyring::Keyring::new(key_store, settings.master_key);
    if keyring.rotation_unfinished().await? {
        tracing::warn!(
            master_key = %keyring.master_id(),
            "some subject keys are wrapped by another master key: finish `custodian keys rotate`, or check that this is the right master key"
        );
    }
    let ctx = Context {
        policy: Live::new(Arc::new(policy)),
        engine: Live::new(engine),
        writer: ConsentWriter::spawn(store.clone()),
        consents,
        consent_seen,
        consent_image,
        started_from_image,
        image_fingerprint,
        standing_seen,
        device_links: Default::default(),
        versions: Live::new(versions),
        reask: Live::new(reask),
        hasher: SubjectHasher::new(&settings.secret),
        signer: Signer::new(&settings.secret),
        tokens: Default::default(),
        users: crate::users::Directory::new(store.clone(), &settings.secret),
        telemetry,
        public_url: settings.public_url.trim_end_matches('/').to_owned(),
        ids: store.ids().clone(),
        clock: settings.clock,
        sealer: Sealer::derived(&settings.secret, "requests"),
        code_key: custodian_core::seal::derive_key(&settings.secret, "verification codes").to_vec(),
        links: LinkSigner::new(&settings.secret),
        calendar: Live::new(calendar),
        calendars: Live::new(calendars),
        outbox: custodian_mail::Outbox::new(
            store.clone(),
            Sealer::derived(&settings.secret, "outbox"),
        )
        .with_keyring(keyring.clone()),
        keys_beside_data: keyring.stored_in(&store),
        keyring,
        intake: custodian_store::requests::IntakeWriter::spawn(store.clone()),
        run_keys: custodian_connectors::run::RunKeys::from_secret(&settings.secret),
        datastores: settings.datastores,
        smtp: settings.smtp,
        limiters: crate::limits::Limiters::new(&settings.intake_limits),
        limits: settings.intake_limits,
        retention,
        standings: Live::new(standings),
        site_notices: Default::default(),
        governing: Default::default(),
        withdrawal_takers: Default::default(),
        notice_hashes: Default::default(),
        receipt_terms: Default::default(),
        store,
    };
    for (device, account) in ctx.store.all_links().await? {
        if let (Some(d), Some(a)) = (
            SubjectRef::from_hex(&device),
            SubjectRef::from_hex(&account),
        ) {
            ctx.add_link(d, a);
        }
    }
    if started_from_image.is_some() {
        // What the image does not hold yet: the ledger's tail and the forgettings since.
        let applied = consent_sync::sync_once(&ctx).await?;
        tracing::info!(
            applied,
            "consent memory caught up with the ledger after its image"
        );
    }
    Ok(Arc::new(ctx))
}

/// Events behind an image beyond which reading every current choice is quicker than
/// catching up event by event (an import run while the service was stopped, say).
const MOST_BEHIND: i64 = 200_000;

/// The image, unless the ledger has moved so far past it that a full load is quicker.
async fn worth_catching_up(
    store: &Store,
    loaded: crate::consent_image::Loaded,
) -> Result<Option<crate::consent_image::Loaded>, BuildError> {
    let marks = loaded.seen.chains();
    let heads = store.ledger_head_seqs().await?;
    // An image reaching past the store's heads was made on a database that has since lost
    // events (restored from an older backup, or another database): it would bring back
    // choices the store no longer has.
    let ahead = heads
        .iter()
        .any(|&(chain, head)| marks.get(chain as usize).is_some_and(|&m| m > head))
        || loaded.seen.forgotten() > store.consent_forgotten_head().await?;
    if ahead {
        tracing::warn!("the consent image reaches past the store's ledger (a restored database?); loading consent from the store");
        return Ok(None);
    }
    let behind: i64 = heads
        .iter()
        .map(|&(chain, head)| (head - marks.get(chain as usize).copied().unwrap_or(0)).max(0))
        .sum();
    if behind > MOST_BEHIND {
        tracing::info!(
            behind,
            "the consent image is far behind the ledger; loading consent from the store"
        );
        return Ok(None);
    }
    Ok(Some(loaded))
}

/// Records the active policy's version and loads the earlier ones consent was recorded under,
/// each with the consent purposes that changed since (choices made under it for those must be
/// asked again).
async fn load_versions(
    store: &Store,
    policy: &Policy,
    now: i64,
) -> Result<
    (
        HashMap<String, Arc<Policy>>,
        HashMap<String, HashSet<String>>,
    ),
    BuildError,
> {
    let version = policy.policy.version.clone();
    let document = serde_json::to_string(&policy).unwrap_or_default();
    let mut versions = HashMap::new();
    let mut reask = HashMap::new();
    store
        .remember_policy_version(&version, &document, now)
        .await?;
    for (v, doc) in store.policy_versions().await? {
        if v == version {
            if doc != document {
                tracing::warn!(version = %v, "the policy file changed but its version did not; bump `policy.version` so consent records name the text people saw");
            }
            continue;
        }
        match serde_json::from_str::<custodian_policy::Policy>(&doc) {
            Ok(old) => {
                let changed = custodian_policy::diff::consent_purposes_changed(&old, policy);
                reask.insert(v.clone(), changed.into_iter().collect());
                versions.insert(v, Arc::new(old));
            }
            Err(e) => {
                tracing::warn!(version = %v, error = %e, "a stored policy version cannot be read; consent recorded under it is treated as current")
            }
        }
    }

    Ok((versions, reask))
}

/// Every subject's current consent, into memory.
async fn load_consents(store: &Store, engine: &Engine) -> Result<ConsentMemory, BuildError> {
    let consents = ConsentMemory::default();
    let mut rows = store.all_consent_choices();
    while let Some(c) = rows.try_next().await? {
        remember(&consents, engine, &c);
    }
    drop(rows);

    Ok(consents)
}

/// Puts a stored current choice into memory; false when its subject or purpose is not one
/// this policy knows (a purpose since removed).
pub(crate) fn remember(
    consents: &ConsentMemory,
    engine: &Engine,
    c: &custodian_store::consent::CurrentChoice,
) -> bool {
    let (Some(subject), Some(slot)) = (
        SubjectRef::from_hex(&c.subject_ref),
        engine.consent_slot(&c.purpose),
    ) else {
        return false;
    };
    consents.record(
        subject,
        slot,
        custodian_core::consent::NewChoice {
            given: c.given,
            at: c.updated_at,
            source: c.source,
            policy_version: &c.policy_version,
            notice_hash: c.notice_hash.as_deref(),
        },
    );
    true
}
