//! The privacy policy as data.
//!
//! A tour: [`model`] holds the types that mirror `policy.toml`; [`load`] parses and validates a
//! file into a [`Policy`], reporting every problem with its line and column (`parse` reads the
//! shape, `validate` checks the rules, `locate` turns model paths into lines and columns);
//! [`render`] writes the notice for people; [`diff`] compares two versions and classes each
//! change as material or not; [`dpv`] names everything with W3C DPV identifiers and builds the
//! records of processing, which [`records`] writes as JSON, CSV or HTML ([`csv`] is the one CSV
//! field every CSV of Custodian's is written with). This crate does no I/O: callers hand it text and get values back.

pub mod csv;
pub mod diff;
pub mod dpv;
mod duration;
pub mod holidays;
mod lint;
mod locate;
pub mod model;
mod parse;
mod problem;
pub mod records;
pub mod render;
mod validate;

use sha2::{Digest, Sha256};

pub use duration::{approx_days, parse_duration};
pub use lint::warnings;
pub use model::*;
pub use parse::{example, load};
pub use problem::{Problem, Problems};

/// The bundled example policy (the Focusrite Group's notice), used when no file is given.
pub const EXAMPLE_POLICY: &str = include_str!("../../../examples/policy.toml");

/// The hash recorded with a consent event: `sha256:<hex>` of the exact text shown, so that
/// anyone holding the text can prove what the person agreed to.
pub fn notice_hash(text: &str) -> String {
    let mut out = *b"sha256:0000000000000000000000000000000000000000000000000000000000000000";
    hex::encode_to_slice(Sha256::digest(text.as_bytes()), &mut out[7..])
        .expect("64 digits for 32 bytes");
    String::from_utf8(out.to_vec()).expect("ASCII")
}

impl Purpose {
    /// What a person agrees to when they consent to this purpose, as one hash: the notice in
    /// every language, the legal basis, the categories, recipients and cookies (in any order),
    /// and whether a GPC signal opts out of it. Names, labels and descriptions are wording and
    /// may change freely. This is the one definition of "the purpose changed, ask again": the
    /// ledger's [`diff::consent_purposes_changed`] and the banner's consent hash both use it.
    pub fn consent_terms(&self) -> String {
        let sorted = |v: &[String]| {
            let mut v: Vec<&str> = v.iter().map(String::as_str).collect();
            v.sort_unstable();
            v.join(" ")
        };
        let basis = serde_json::to_value(self.legal_basis).unwrap_or_default();
        let mut canon = format!(
            "custodian-consent-terms-v1\npurpose {}\nbasis {}\ncategories {}\nrecipients {}\ngpc {}\n",
            self.id,
            basis.as_str().unwrap_or_default(),
            sorted(&self.categories),
            sorted(&self.recipients),
            self.gpc_opt_out,
        );
        if let Some(spec) = &self.consent {
            canon.push_str(&format!("cookies {}\n", sorted(&spec.cookies)));
            for (lang, text) in &spec.notice {
                canon.push_str(&format!("notice {lang} {}\n", notice_hash(text)));
            }
        }
        notice_hash(&canon)
    }
}

impl Policy {
    /// The consent notice of a purpose in `lang`, falling back to the policy's first language
    /// and then to any language it has; `None` for unknown or non-consent purposes.
    pub fn notice_text(&self, purpose_id: &str, lang: &str) -> Option<&str> {
        let notice = &self.purpose(purpose_id)?.consent.as_ref()?.notice;
        notice
            .get(lang)
            .or_else(|| self.policy.languages.first().and_then(|l| notice.get(l)))
            .or_else(|| notice.values().next())
            .map(String::as_str)
    }
}
