//! The description of one datastore: its connection, tables, fields, identities, references
//! and erasure strategies — read from Custodian's TOML format or from Fides dataset YAML (see
//! `dataset_file`, which tells the two apart; this module knows neither file format).
//!
//! Both formats load into the same [`Dataset`]; [`Dataset::validate`] then checks it as a
//! whole (every reference names a field that exists, hold rules exist in the policy, names are
//! printable) and reports every problem at once. Table and column names from a dataset are
//! the only identifiers that ever reach SQL, and always quoted (see `sql.rs`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What erasure does to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Nothing: the field is not personal, or a key that other rows need.
    #[default]
    None,
    /// Delete the whole row.
    DeleteRow,
    /// Set the field to NULL.
    Null,
    /// Replace a non-null value with a fixed mask.
    Mask,
    /// Replace the value with a keyed hash (HMAC-SHA256 under the server secret): still
    /// joinable for statistics, no longer readable.
    Hash,
    /// Keep it under a legal hold: reported with the date it goes, handed to retention.
    Hold,
    /// Replace a non-null value with a constant (`masking.value`; Fides `string_rewrite`).
    Rewrite,
    /// Replace a non-null value with `masking.length` random lowercase letters and digits
    /// (Fides `random_string_rewrite`).
    Random,
    /// Replace a non-null value with the hex SHA-256 (or SHA-512) digest of the value salted
    /// with a key derived from the server secret (Fides `hash`).
    Digest,
    /// Replace a non-null value with the hex HMAC-SHA-256 (or -512) of the value under a key
    /// derived from the server secret (Fides `hmac`).
    Hmac,
    /// Custodian chooses against the live column when the erasure runs (a Fides dataset
    /// without a policy): `null` where nullable, else a keyed hash (or a random rewrite when
    /// the hash does not fit). `dataset check` shows the choice.
    Auto,
}

impl Strategy {
    /// Whether the strategy writes a new value into the column (rather than deleting the row,
    /// keeping it, or writing NULL).
    pub fn rewrites(self) -> bool {
        matches!(
            self,
            Strategy::Mask
                | Strategy::Hash
                | Strategy::Rewrite
                | Strategy::Random
                | Strategy::Digest
                | Strategy::Hmac
        )
    }

    /// Whether every rewritten row gets the same value (so a UNIQUE column cannot take it).
    pub fn constant(self) -> bool {
        matches!(self, Strategy::Mask | Strategy::Rewrite)
    }

    /// The name as written in a dataset.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::DeleteRow => "delete_row",
            Strategy::Null => "null",
            Strategy::Mask => "mask",
            Strategy::Hash => "hash",
            Strategy::Hold => "hold",
            Strategy::Rewrite => "rewrite",
            Strategy::Random => "random",
            Strategy::Digest => "digest",
            Strategy::Hmac => "hmac",
            Strategy::Auto => "auto",
        }
    }
}

/// The hash function of `digest` and `hmac` (Fides' `algorithm`: `SHA-256`, the default, or
/// `SHA-512`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Algorithm {
    #[default]
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-512")]
    Sha512,
}

impl Algorithm {
    /// Hex digits of a digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// The parameters of the strategies that take some (Fides' `configuration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Masking {
    /// `rewrite`: the value written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `random`: how many characters (30 when absent, as in Fides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    /// `digest` and `hmac`: SHA-256 (default) or SHA-512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// `random`, `digest`, `hmac`: appended to the written value (Fides'
    /// `format_preservation.suffix`, e.g. `@masked.example`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// The length of a `random` rewrite when none is given (Fides' default).
pub const RANDOM_LENGTH: usize = 30;

impl Masking {
    /// How many characters the strategy writes, when that is known without the value.
    pub fn written_len(&self, s: Strategy) -> Option<usize> {
        let suffix = self.suffix.as_deref().map_or(0, |x| x.chars().count());
        match s {
            Strategy::Mask => Some(crate::erase::MASK.len()),
            Strategy::Hash => Some(crate::erase::HASH_PREFIX.len() + 32),
            Strategy::Rewrite => Some(self.value.as_deref().map_or(0, |v| v.chars().count())),
            Strategy::Random => Some(self.length.unwrap_or(RANDOM_LENGTH) + suffix),
            Strategy::Digest | Strategy::Hmac => {
                Some(self.algorithm.unwrap_or_default().hex_len() + suffix)
            }
            _ => None,
        }
    }
}

/// Which ways a reference is walked from the subject's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Walk {
    /// From the parent's rows to the rows that reference them, and back up.
    #[default]
    Both,
    /// Only from the parent's rows to the rows that reference them (Fides `from`).
    Down,
    /// Only from the referencing rows up to the row they name (Fides `to`).
    Up,
}

/// `table.field` that the owning field holds a copy of (a foreign key, declared or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub table: String,
    pub field: String,
    #[serde(default)]
    pub walk: Walk,
}

/// The SQL type family a field is compared as when an identity is bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    #[default]
    Text,
    Integer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    /// The data category (a policy category id, or a Fides category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Whether the field holds personal data (exported on access). Defaults to "has a
    /// category" in Custodian's format and "a `user.` category" in Fides YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<bool>,
    /// The kind of identity this field holds (`email`, `user_id`, `phone`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<RefSpec>,
    #[serde(default, skip_serializing_if = "is_none_strategy")]
    pub erase: Strategy,
    /// For `erase = "hold"`: the id of the policy's retention rule that requires keeping it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// For `erase = "hold"`: how the field goes once its rule is due for the subject (the
    /// retention job): `null` (the default), `mask`, `hash` or `delete_row`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_hold: Option<Strategy>,
    #[serde(default, rename = "type", skip_serializing_if = "is_text")]
    pub field_type: FieldType,
    /// Parameters of `rewrite`, `random`, `digest` and `hmac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<Masking>,
}

fn is_none_strategy(s: &Strategy) -> bool {
    *s == Strategy::None
}
fn is_text(t: &FieldType) -> bool {
    *t == FieldType::Text
}

/// A reference as written: `"customers.id"`, or a table with `walk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RefSpec {
    Short(String),
    Long {
        to: String,
        #[serde(default)]
        walk: Walk,
    },
}

impl RefSpec {
    pub fn resolve(&self) -> Option<Reference> {
        let (to, walk) = match self {
            RefSpec::Short(s) => (s.as_str(), Walk::Both),
            RefSpec::Long { to, walk } => (to.as_str(), *walk),
        };
        let (table, field) = to.rsplit_once('.')?;
        Some(Reference {
            table: table.to_owned(),
            field: field.to_owned(),
            walk,
        })
    }
}

impl Field {
    pub fn is_personal(&self) -> bool {
        self.personal.unwrap_or(self.category.is_some())
    }
    pub fn reference(&self) -> Option<Reference> {
        self.references.as_ref().and_then(RefSpec::resolve)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// The single-column primary key; erasure needs it to address rows exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
    /// The column that marks the subject's rows while a restriction of processing is in force
    /// (see `crate::reach`).
    #[serde(
        default,
        deserialize_with = "crate::reach::restriction_column",
        skip_serializing_if = "Option::is_none"
    )]
    pub restriction_column: Option<crate::reach::RestrictionColumn>,
    /// The column holding when each row was collected, for retention rules anchored on
    /// `collected` (see `crate::collected`).
    #[serde(
        default,
        deserialize_with = "crate::collected::collected_at",
        skip_serializing_if = "Option::is_none"
    )]
    pub collected_at: Option<crate::collected::CollectedAt>,
}

impl Table {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Where the connection URL comes from. The URL itself is never stored in a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
}

/// An HTTP service instead of a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpService {
    /// Environment variable holding the HMAC-SHA256 signing secret.
    pub secret_env: String,
    /// The identity kinds sent to the service.
    #[serde(default)]
    pub identities: Vec<String>,
    /// The data categories the service holds (for the access export and the report).
    #[serde(default)]
    pub categories: Vec<String>,
    /// The policy's recipient this service is, for the record of who was told of an erasure
    /// (GDPR Art. 19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// The actions the service takes, each at its own path (see `crate::reach`); without it,
    /// access, erasure and rectification at the connection URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<crate::reach::Endpoints>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub connection: Connection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpService>,
    #[serde(default)]
    pub tables: Vec<Table>,
    /// Redis key patterns, for a Redis datastore instead of tables (see `crate::redis`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<crate::redis::KeySpace>,
}

/// A name may be any printable text up to 64 characters; it is always quoted in SQL, so
/// this only refuses what no real schema has and what would garble a report.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 64 && !name.chars().any(char::is_control)
}

impl Dataset {
    /// Whether some field's strategy is left to Custodian (chosen against the live column).
    pub fn has_auto(&self) -> bool {
        self.tables
            .iter()
            .flat_map(|t| &t.fields)
            .any(|f| f.erase == Strategy::Auto)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every problem of the dataset on its own (no database involved). With a policy, data
    /// categories and hold rules are checked against it too.
    pub fn validate(&self, policy: Option<&custodian_policy::Policy>) -> Vec<String> {
        let mut p = Vec::new();
        if !valid_name(&self.name) {
            p.push("the dataset name must be 1 to 64 printable characters".to_owned());
        }
        if self.http.is_some() && !self.tables.is_empty() {
            p.push(format!("{}: an HTTP datastore has no tables", self.name));
        }
        let mut seen = BTreeSet::new();
        for t in &self.tables {
            if !valid_name(&t.name) {
                p.push(format!(
                    "table {:?}: names must be 1 to 64 printable characters",
                    t.name
                ));
            }
            if !seen.insert(&t.name) {
                p.push(format!("table {}: listed twice", t.name));
            }
            let mut fields = BTreeSet::new();
            for f in &t.fields {
                let at = format!("{}.{}", t.name, f.name);
                if !valid_name(&f.name) {
                    p.push(format!(
                        "field {at:?}: names must be 1 to 64 printable characters"
                    ));
                }
                if !fields.insert(&f.name) {
                    p.push(format!("field {at}: listed twice"));
                }
                if let Some(spec) = &f.references {
                    match spec.resolve() {
                        None => p.push(format!("{at}: `references` must be `table.field`")),
                        Some(r) => match self.table(&r.table) {
                            None => p.push(format!(
                                "{at}: references table `{}`, which the dataset does not list",
                                r.table
                            )),
                            Some(rt)
                                if rt.field(&r.field).is_none()
                                    && rt.primary_key.as_deref() != Some(r.field.as_str()) =>
                            {
                                p.push(format!(
                                    "{at}: references `{}.{}`, which the dataset does not list",
                                    r.table, r.field
                                ))
                            }
                            _ => {}
                        },
                    }
                }
                match (&f.erase, &f.hold) {
                    (Strategy::Hold, None) => p.push(format!(
                        "{at}: `erase = \"hold\"` needs `hold = \"<retention rule id>\"`"
                    )),
                    (Strategy::Hold, Some(rule)) => {
                        if let Some(policy) = policy {
                            if !policy.retention.iter().any(|r| &r.id == rule) {
                                p.push(format!("{at}: hold names retention rule `{rule}`, which the policy does not have"));
                            }
                        }
                    }
                    (_, Some(_)) => {
                        p.push(format!("{at}: `hold` only goes with `erase = \"hold\"`"))
                    }
                    _ => {}
                }
                p.extend(masking_problems(&at, f));
                match (&f.erase, &f.after_hold) {
                    (
                        Strategy::Hold,
                        Some(
                            Strategy::None
                            | Strategy::Hold
                            | Strategy::Auto
                            | Strategy::Rewrite
                            | Strategy::Random
                            | Strategy::Digest
                            | Strategy::Hmac,
                        ),
                    ) => p.push(format!(
                        "{at}: `after_hold` is one of null, mask, hash or delete_row"
                    )),
                    (Strategy::Hold, _) | (_, None) => {}
                    (_, Some(_)) => p.push(format!(
                        "{at}: `after_hold` only goes with `erase = \"hold\"`"
                    )),
                }
                if let (Some(policy), Some(cat), None) = (policy, &f.category, f.personal) {
                    if !policy.categories.iter().any(|c| &c.id == cat) {
                        p.push(format!(
                            "{at}: category `{cat}` is not one of the policy's categories"
                        ));
                    }
                }
                let is_key = t.primary_key.as_deref() == Some(f.name.as_str());
                if is_key
                    && !matches!(
                        f.erase,
                        Strategy::None | Strategy::DeleteRow | Strategy::Hold
                    )
                {
                    p.push(format!(
                        "{at}: the primary key can only be kept, held or deleted with its row"
                    ));
                }
            }
            let deletes = t.fields.iter().any(|f| f.erase == Strategy::DeleteRow);
            let holds = t.fields.iter().any(|f| f.erase == Strategy::Hold);
            if deletes && holds {
                p.push(format!("table {}: a row cannot be both deleted and held; hold it and erase the other fields one by one", t.name));
            }
            let erases = t
                .fields
                .iter()
                .any(|f| !matches!(f.erase, Strategy::None | Strategy::Hold));
            if erases && t.primary_key.is_none() {
                p.push(format!(
                    "table {}: erasure needs `primary_key` to address rows exactly",
                    t.name
                ));
            }
            if let Some(pk) = &t.primary_key {
                if !valid_name(pk) {
                    p.push(format!(
                        "table {}: the primary key name must be printable",
                        t.name
                    ));
                }
            }
        }
        // A held row keeps every row it references alive, so those cannot be deleted.
        for t in &self.tables {
            if !t.fields.iter().any(|f| f.erase == Strategy::Hold) {
                continue;
            }
            for f in &t.fields {
                if let Some(r) = f.reference() {
                    if let Some(parent) = self.table(&r.table) {
                        if parent
                            .fields
                            .iter()
                            .any(|pf| pf.erase == Strategy::DeleteRow)
                        {
                            p.push(format!(
                                "table {}: its rows are deleted, but held rows of {} reference them ({}.{}); erase its fields instead",
                                parent.name, t.name, t.name, f.name
                            ));
                        }
                    }
                }
            }
        }
        p.extend(crate::reach::validate(self, policy));
        p.extend(crate::collected::validate(self, policy));
        p.extend(crate::redis::validate(self, policy));
        if self.http.is_none()
            && self.keys.is_empty()
            && !self
                .tables
                .iter()
                .flat_map(|t| &t.fields)
                .any(|f| f.identity.is_some())
        {
            p.push(format!(
                "{}: no field is marked as an identity, so no subject can be found",
                self.name
            ));
        }
        p
    }
}

/// The problems of a field's `masking` parameters: present only with a strategy that takes
/// them, and complete for it.
fn masking_problems(at: &str, f: &Field) -> Vec<String> {
    let mut p = Vec::new();
    let m = f.masking.clone().unwrap_or_default();
    let takes = matches!(
        f.erase,
        Strategy::Rewrite | Strategy::Random | Strategy::Digest | Strategy::Hmac
    );
    if f.masking.is_some() && !takes {
        p.push(format!(
            "{at}: `masking` only goes with erase = \"rewrite\", \"random\", \"digest\" or \"hmac\""
        ));
    }
    match f.erase {
        Strategy::Rewrite if m.value.is_none() => p.push(format!(
            "{at}: erase = \"rewrite\" needs `masking = {{ value = \"...\" }}` (Fides `rewrite_value`)"
        )),
        Strategy::Random if m.length == Some(0) => {
            p.push(format!("{at}: a random rewrite needs a length of at least 1"))
        }
        _ => {}
    }
    if m.value.is_some() && f.erase != Strategy::Rewrite && takes {
        p.push(format!(
            "{at}: `masking.value` only goes with erase = \"rewrite\""
        ));
    }
    if m.length.is_some() && f.erase != Strategy::Random && takes {
        p.push(format!(
            "{at}: `masking.length` only goes with erase = \"random\""
        ));
    }
    if m.algorithm.is_some() && !matches!(f.erase, Strategy::Digest | Strategy::Hmac) && takes {
        p.push(format!(
            "{at}: `masking.algorithm` only goes with erase = \"digest\" or \"hmac\""
        ));
    }
    p
}

/// The dataset in Custodian's TOML format.
pub fn to_toml(ds: &Dataset) -> String {
    toml::to_string(ds).expect("a dataset serialises")
}
