//! What a use case can fail with: [`AppError`], each failure with a stable `code` (the same
//! codes docs/api.md lists) and a [`Kind`] saying what sort of failure it is.
//!
//! The HTTP edge maps a kind to a status once (`server::error`); nothing here knows HTTP.
//! Internal failures carry their detail for the log, never for the caller.

/// What sort of failure, for whoever answers the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input cannot be read at all (a link that is not ours, a body that is not the
    /// protocol's).
    Malformed,
    /// The input breaks a rule (unknown purpose, bad e-mail, …).
    Invalid,
    /// No credentials, or credentials that name nobody.
    Unauthenticated,
    /// Credentials whose role may not do this.
    Forbidden,
    NotFound,
    /// The thing is in a state that does not allow this (or changed meanwhile).
    Conflict,
    /// The thing existed but is over for good (an abandoned request, an expired code).
    Gone,
    RateLimited,
    /// A dependency is not available right now.
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{detail}")]
    Malformed { code: &'static str, detail: String },
    #[error("{detail}")]
    Invalid {
        code: &'static str,
        detail: String,
        /// Extra members for the caller, such as the ids the policy knows.
        extra: Option<serde_json::Value>,
    },
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("this token's role may not call this route")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    #[error("{detail}")]
    RateLimited {
        code: &'static str,
        detail: String,
        /// When the caller may try again (HTTP `Retry-After`).
        retry_after_seconds: u64,
    },
    #[error("the store is not available")]
    Unavailable,
    /// Any internal failure; its text is for the log only.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn malformed(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Malformed {
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Invalid {
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn gone(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Gone {
            code,
            detail: detail.into(),
        }
    }

    /// A refusal to come back in a minute, for limits that do not say when they end.
    pub fn rate_limited(code: &'static str, detail: impl Into<String>) -> Self {
        Self::rate_limited_for(code, detail, 60)
    }

    /// A refusal to come back after `retry_after_seconds`.
    pub fn rate_limited_for(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_seconds: u64,
    ) -> Self {
        AppError::RateLimited {
            code,
            detail: detail.into(),
            retry_after_seconds,
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    /// The stable machine-readable code (docs/api.md).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Malformed { code, .. }
            | AppError::Invalid { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Gone { code, .. }
            | AppError::RateLimited { code, .. } => code,
            AppError::Unauthenticated => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            AppError::Malformed { .. } => Kind::Malformed,
            AppError::Invalid { .. } => Kind::Invalid,
            AppError::Unauthenticated => Kind::Unauthenticated,
            AppError::Forbidden => Kind::Forbidden,
            AppError::NotFound => Kind::NotFound,
            AppError::Conflict { .. } => Kind::Conflict,
            AppError::Gone { .. } => Kind::Gone,
            AppError::RateLimited { .. } => Kind::RateLimited,
            AppError::Unavailable => Kind::Unavailable,
            AppError::Internal(_) => Kind::Internal,
        }
    }
}

impl From<custodian_store::StoreError> for AppError {
    fn from(e: custodian_store::StoreError) -> Self {
        if e.is_unavailable() {
            // Logged here: the caller only learns to come back later.
            tracing::warn!(error = %e, "the store is not available");
            AppError::Unavailable
        } else {
            AppError::Internal(e.to_string())
        }
    }
}

impl From<custodian_store::keyring::KeyringError> for AppError {
    fn from(e: custodian_store::keyring::KeyringError) -> Self {
        AppError::Internal(e.to_string())
    }
}
