//! The keyring: seals and opens a subject's personal fields under that subject's own key, and
//! destroys the key when the subject is erased.
//!
//! Keys live in `subject_keys`, wrapped by the master key (which the database never sees), so
//! a copy of the database — a backup, a stolen file — opens nothing without the master key,
//! and after an erasure opens nothing of that subject even *with* it. Keys are read from the
//! database on each use, not cached: on several nodes, a key destroyed by one node must stop
//! working on all of them at once.

use std::sync::Arc;

use custodian_core::keys::{self, DataKey, KeyError, MasterKey, SubjectSealer};
use custodian_core::seal::SealError;
use custodian_core::subject::SubjectRef;

use crate::keys::KeyRow;
use crate::{Store, StoreError};

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the subject's key was destroyed (the subject was erased)")]
    Erased,
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seals and opens per-subject fields. Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    store: Store,
    master: Arc<MasterKey>,
    writer: KeyWriter,
}

/// Group commit for new keys: request intake makes a key for nearly every new requester, and
/// one commit per key (one fsync) would halve intake. One write stores every key waiting;
/// several queues on PostgreSQL, whose commits overlap.
#[derive(Clone)]
struct KeyWriter(crate::batch::Batcher<KeyRow, KeyRow>);

impl KeyWriter {
    fn spawn(store: &Store) -> KeyWriter {
        let n = store.writer_tasks(crate::requests::POSTGRES_INTAKE_WRITERS);
        let store = store.for_one_writer();
        let write = move |batch: Vec<KeyRow>| {
            let store = store.clone();
            async move {
                match store.put_subject_keys(&batch).await {
                    Ok(standing) => standing.into_iter().map(Ok).collect(),
                    Err(e) => batch.iter().map(|_| Err(e.to_string())).collect(),
                }
            }
        };
        KeyWriter(crate::batch::Batcher::spawn(n, 512, "key writer", write))
    }

    /// Stores the key unless the subject has one; answers the standing key after the commit.
    async fn put(&self, key: KeyRow) -> Result<KeyRow, StoreError> {
        self.0.submit(key).await.map_err(StoreError::KeyWrite)
    }
}

impl Keyring {
    /// Must be called inside a Tokio runtime (the key writer is a task).
    pub fn new(store: Store, master: MasterKey) -> Keyring {
        Keyring {
            writer: KeyWriter::spawn(&store),
            store,
            master: Arc::new(master),
        }
    }

    /// The fingerprint of the master key in use.
    pub fn master_id(&self) -> String {
        self.master.id()
    }

    /// The subject's key; made and stored first when `create` and the subject has none.
    async fn key(
        &self,
        subject: &SubjectRef,
        create: bool,
    ) -> Result<Option<DataKey>, KeyringError> {
        if let Some(row) = self.store.subject_key(&subject.to_hex()).await? {
            return Ok(Some(self.master.unwrap(subject, &row.wrapped)?));
        }
        if !create {
            return Ok(None);
        }
        Ok(Some(self.make_key(subject).await?))
    }

    /// Makes a key for the subject and stores it through the key writer. Two callers (or
    /// nodes) may make one for the same subject at once: the first stored wins and both use it.
    async fn make_key(&self, subject: &SubjectRef) -> Result<DataKey, KeyringError> {
        let key = DataKey::generate();
        let ours = KeyRow {
            subject_ref: subject.to_hex(),
            wrapped: self.master.wrap(subject, &key),
            master_id: self.master.id(),
            created_at: self.store.now(),
        };
        let stood = self.writer.put(ours.clone()).await?;
        if stood.wrapped == ours.wrapped {
            Ok(key)
        } else {
            Ok(self.master.unwrap(subject, &stood.wrapped)?)
        }
    }

    /// A sealer for the subject's fields, making the subject's key on first use.
    pub async fn sealer(&self, subject: &SubjectRef) -> Result<SubjectSealer, KeyringError> {
        Ok(self
            .key(subject, true)
            .await?
            .expect("created when missing")
            .sealer())
    }

    /// The sealers of every subject of `subjects` that still has a key, looked up in one
    /// statement (a notice's page of recipients); erased subjects are left out.
    pub async fn existing_sealers(
        &self,
        subjects: &[SubjectRef],
    ) -> Result<std::collections::HashMap<SubjectRef, SubjectSealer>, KeyringError> {
        let hexes: Vec<String> = subjects.iter().map(SubjectRef::to_hex).collect();
        let refs: Vec<&str> = hexes.iter().map(String::as_str).collect();
        let mut out = std::collections::HashMap::with_capacity(subjects.len());
        for row in self.store.subject_keys_of(&refs).await? {
            if let Some(subject) = SubjectRef::from_hex(&row.subject_ref) {
                out.insert(
                    subject,
                    self.master.unwrap(&subject, &row.wrapped)?.sealer(),
                );
            }
        }
        Ok(out)
    }

    /// A sealer for a subject probably seen for the first time (request intake): the lookup is
    /// skipped and the key writer answers the standing key — its own new one, or the one the
    /// subject already had — in the same group commit that stores it.
    pub async fn fresh_sealer(&self, subject: &SubjectRef) -> Result<SubjectSealer, KeyringError> {
        Ok(self.make_key(subject).await?.sealer())
    }

    /// Seals one field of the subject's, bound to `place` (e.g. `requests/req_1/email`).
    pub async fn seal(
        &self,
        subject: &SubjectRef,
        place: &str,
        plain: &str,
    ) -> Result<String, KeyringError> {
        Ok(self.sealer(subject).await?.seal(subject, place, plain))
    }

    /// Opens a value sealed by [`Keyring::seal`]; the value names its subject.
    pub async fn open(&self, place: &str, sealed: &str) -> Result<String, KeyringError> {
        let subject = keys::subject_of(sealed).ok_or(SealError::Malformed)?;
        let key = self
            .key(&subject, false)
            .await?
            .ok_or(KeyringError::Erased)?;
        Ok(key.sealer().open(&subject, place, sealed)?)
    }

    /// A new key for the subject, *not* stored: the caller stores the returned row in its own
    /// transaction (request intake, when the keys live in the data's database — one commit
    /// instead of two). If the subject turns out to have a key already, that write fails
    /// with [`crate::requests::KEY_CONFLICT`] and the caller seals again with
    /// [`Keyring::sealer`].
    pub fn unstored_key(&self, subject: &SubjectRef) -> (SubjectSealer, KeyRow) {
        let key = DataKey::generate();
        let row = KeyRow {
            subject_ref: subject.to_hex(),
            wrapped: self.master.wrap(subject, &key),
            master_id: self.master.id(),
            created_at: self.store.now(),
        };
        (key.sealer(), row)
    }

    /// Whether subject keys are stored in `data`'s own database.
    pub fn stored_in(&self, data: &Store) -> bool {
        self.store.same_database(data)
    }

    /// Whether the subject still has a key (an erasure destroys it last).
    pub async fn has_key(&self, subject: &SubjectRef) -> Result<bool, StoreError> {
        Ok(self.store.subject_key(&subject.to_hex()).await?.is_some())
    }

    /// Destroys the subject's key: every value sealed under it, in this database and in every
    /// copy of it, is noise from now on. Answers whether there was a key.
    pub async fn destroy(&self, subject: &SubjectRef) -> Result<bool, StoreError> {
        self.store.delete_subject_key(&subject.to_hex()).await
    }

    /// Re-wraps every key under `to`, a page at a time; `progress` hears how many are done.
    /// Safe to interrupt and run again (keys already under `to` are skipped). The fields
    /// themselves never change.
    pub async fn rotate(
        &self,
        to: &MasterKey,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, KeyringError> {
        let new_id = to.id();
        let mut done = 0;
        loop {
            let page = self.store.keys_not_wrapped_by(&new_id, 500).await?;
            if page.is_empty() {
                return Ok(done);
            }
            for row in page {
                let subject = SubjectRef::from_hex(&row.subject_ref).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "subject_keys holds a malformed reference `{}`",
                        row.subject_ref
                    ))
                })?;
                let key = self.master.unwrap(&subject, &row.wrapped)?;
                self.store
                    .rewrap_subject_key(
                        &row.subject_ref,
                        &row.master_id,
                        &to.wrap(&subject, &key),
                        &new_id,
                    )
                    .await?;
                done += 1;
                progress(done);
            }
        }
    }

    /// Whether some key is wrapped by another master key than the one in use (a rotation
    /// not run to its end, or the wrong master key given).
    pub async fn rotation_unfinished(&self) -> Result<bool, StoreError> {
        Ok(!self
            .store
            .keys_not_wrapped_by(&self.master.id(), 1)
            .await?
            .is_empty())
    }
}
