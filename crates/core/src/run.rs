//! Connector runs as a state machine's vocabulary: what a run does, where a run and each of
//! its steps stand. The store keeps them, the connectors execute them; both speak these.

use serde::{Deserialize, Serialize};

/// What a run does in the company's datastores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Access,
    Erasure,
    Rectification,
    /// A restriction of processing came into force (GDPR Art. 18): the subject's rows are
    /// marked where a dataset names a restriction column, or a service is told.
    Restriction,
    /// The restriction ended: the marks are cleared the same way.
    RestrictionLift,
    /// An objection came into force (Art. 21): services that declare it are told the purposes.
    Objection,
    /// Consent was withdrawn (Art. 7(3)): services that declare it are told the purposes.
    ConsentWithdrawal,
    /// An erasure is communicated to a recipient (Art. 19).
    ErasureNotice,
}

impl RunKind {
    pub const ALL: [RunKind; 8] = [
        RunKind::Access,
        RunKind::Erasure,
        RunKind::Rectification,
        RunKind::Restriction,
        RunKind::RestrictionLift,
        RunKind::Objection,
        RunKind::ConsentWithdrawal,
        RunKind::ErasureNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Access => "access",
            RunKind::Erasure => "erasure",
            RunKind::Rectification => "rectification",
            RunKind::Restriction => "restriction",
            RunKind::RestrictionLift => "restriction_lift",
            RunKind::Objection => "objection",
            RunKind::ConsentWithdrawal => "consent_withdrawal",
            RunKind::ErasureNotice => "erasure_notice",
        }
    }

    /// The kinds a SQL datastore carries out itself; the others only reach HTTP services
    /// that declare an endpoint for them (restriction also marks rows where a dataset names
    /// a restriction column).
    pub fn is_classic(self) -> bool {
        matches!(
            self,
            RunKind::Access | RunKind::Erasure | RunKind::Rectification
        )
    }

    pub fn parse(s: &str) -> Option<RunKind> {
        RunKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a run stands: `pending` until claimed, `running` while leased, then `done` (every
/// step done) or `failed` (a step gave up; retrying puts it back to `pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Running,
    Done,
    Failed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Done,
        RunStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where one step of a run (one datastore) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    /// Failed, to be tried again at its `next_attempt_at`.
    Retrying,
    Done,
    Failed,
}

impl StepStatus {
    pub const ALL: [StepStatus; 5] = [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::Retrying,
        StepStatus::Done,
        StepStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Retrying => "retrying",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<StepStatus> {
        StepStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_from_its_text() {
        for k in RunKind::ALL {
            assert_eq!(RunKind::parse(k.as_str()), Some(k));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for s in StepStatus::ALL {
            assert_eq!(StepStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunStatus::parse("retrying"), None);
    }
}
