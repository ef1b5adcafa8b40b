//! `[requests]`: how data-subject requests are handled — which kinds are approved once the
//! requester is verified, and the limits of the e-mailed verification code.

use serde::{Deserialize, Serialize};

/// The kinds of data-subject request (GDPR Art. 15–21).
pub const REQUEST_TYPES: [&str; 5] = [
    "access",
    "rectification",
    "erasure",
    "restriction",
    "objection",
];

/// How data-subject requests are handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSettings {
    /// Request types approved as soon as the requester's identity is verified.
    #[serde(default)]
    pub auto_approve: Vec<String>,
    /// How long an e-mailed verification code works, in minutes.
    #[serde(default = "default_code_minutes")]
    pub verification_code_minutes: u32,
    /// Wrong codes allowed before a request is locked.
    #[serde(default = "default_code_attempts")]
    pub verification_attempts: u32,
}

fn default_code_minutes() -> u32 {
    30
}

fn default_code_attempts() -> u32 {
    5
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            auto_approve: Vec::new(),
            verification_code_minutes: default_code_minutes(),
            verification_attempts: default_code_attempts(),
        }
    }
}
