//! Data-subject requests as a state machine: which kinds exist, which states a request moves
//! through, and which actions are allowed in which state. Pure; the store records each step
//! and the server carries out the effects.
//!
//! ```text
//! awaiting_verification ─verify─► verified ─approve─► approved ─start─► in_progress ─complete─► completed
//!          │                         │  └─forward─► forwarded            │
//!          └─lock/expire─► abandoned └──deny──► denied ◄────────────────┘
//! ```

use serde::{Deserialize, Serialize};

/// The rights of GDPR Art. 15–21 that a request exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Access,
    Rectification,
    Erasure,
    Restriction,
    Objection,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Access,
        Kind::Rectification,
        Kind::Erasure,
        Kind::Restriction,
        Kind::Objection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Rectification => "rectification",
            Kind::Erasure => "erasure",
            Kind::Restriction => "restriction",
            Kind::Objection => "objection",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The article of the GDPR that grants the right.
    pub fn article(self) -> &'static str {
        match self {
            Kind::Access => "GDPR Art. 15 and 20",
            Kind::Rectification => "GDPR Art. 16",
            Kind::Erasure => "GDPR Art. 17",
            Kind::Restriction => "GDPR Art. 18",
            Kind::Objection => "GDPR Art. 21",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the requester to enter the e-mailed code; nothing is shown or changed.
    AwaitingVerification,
    Verified,
    Approved,
    InProgress,
    Completed,
    Denied,
    /// Sent to the customer that controls the data.
    Forwarded,
    /// Never verified: the code expired or too many wrong codes were entered.
    Abandoned,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::AwaitingVerification,
        Status::Verified,
        Status::Approved,
        Status::InProgress,
        Status::Completed,
        Status::Denied,
        Status::Forwarded,
        Status::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingVerification => "awaiting_verification",
            Status::Verified => "verified",
            Status::Approved => "approved",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Denied => "denied",
            Status::Forwarded => "forwarded",
            Status::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// No further action changes a final request (notes aside).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Denied | Status::Forwarded | Status::Abandoned
        )
    }

    /// Whether the answer clock runs: deadlines matter only for open, verified requests.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Verified | Status::Approved | Status::InProgress
        )
    }
}

/// What can happen to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Verify,
    Abandon,
    Approve,
    Deny,
    Forward,
    Start,
    Extend,
    Assign,
    Note,
    Complete,
    /// Stop the clock: the DPO waits for the requester (identity, clarification).
    Pause,
    /// Start the clock again.
    Resume,
    /// Announce that a restriction in force will be lifted (GDPR Art. 18(3)): the requester
    /// is told first; the status stays until it is lifted (completed).
    Lift,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Verify => "verify",
            Action::Abandon => "abandon",
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Forward => "forward",
            Action::Start => "start",
            Action::Extend => "extend",
            Action::Assign => "assign",
            Action::Note => "note",
            Action::Complete => "complete",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Lift => "lift",
        }
    }

    /// The actions a DPO takes through the admin API, by their path segment.
    pub fn parse_admin(s: &str) -> Option<Action> {
        [
            Action::Approve,
            Action::Deny,
            Action::Extend,
            Action::Assign,
            Action::Note,
            Action::Complete,
            Action::Pause,
            Action::Resume,
            Action::Lift,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {} cannot be {}", from.as_str(), past_tense(*action))]
pub struct TransitionError {
    pub from: Status,
    pub action: Action,
}

fn past_tense(a: Action) -> &'static str {
    match a {
        Action::Verify => "verified",
        Action::Abandon => "abandoned",
        Action::Approve => "approved",
        Action::Deny => "denied",
        Action::Forward => "forwarded",
        Action::Start => "started",
        Action::Extend => "extended",
        Action::Assign => "assigned",
        Action::Note => "noted",
        Action::Complete => "completed",
        Action::Pause => "paused",
        Action::Resume => "resumed",
        Action::Lift => "lifted",
    }
}

/// The state after `action`, or why it is not allowed.
pub fn next(from: Status, action: Action) -> Result<Status, TransitionError> {
    use Action as A;
    use Status as S;
    let to = match (from, action) {
        (_, A::Note) => from,
        (S::AwaitingVerification, A::Verify) => S::Verified,
        (S::AwaitingVerification, A::Abandon) => S::Abandoned,
        (S::Verified, A::Approve) => S::Approved,
        (S::Verified, A::Forward) => S::Forwarded,
        (S::Approved, A::Start) => S::InProgress,
        (S::Approved | S::InProgress, A::Complete) => S::Completed,
        (S::Verified | S::Approved | S::InProgress, A::Deny) => S::Denied,
        (S::Verified | S::Approved | S::InProgress, A::Extend | A::Assign) => from,
        // Stop-the-clock: only while the answer clock runs; the status stays.
        (S::Verified | S::Approved | S::InProgress, A::Pause | A::Resume) => from,
        // Announcing a lift leaves the restriction in force until it is completed.
        (S::Approved | S::InProgress, A::Lift) => from,
        (S::AwaitingVerification, A::Assign) => from,
        _ => return Err(TransitionError { from, action }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_ends_completed() {
        let mut s = Status::AwaitingVerification;
        for a in [
            Action::Verify,
            Action::Approve,
            Action::Start,
            Action::Complete,
        ] {
            s = next(s, a).unwrap();
        }
        assert_eq!(s, Status::Completed);
    }

    #[test]
    fn nothing_happens_before_verification() {
        for a in [
            Action::Approve,
            Action::Deny,
            Action::Forward,
            Action::Start,
            Action::Extend,
            Action::Complete,
        ] {
            let e = next(Status::AwaitingVerification, a).unwrap_err();
            assert!(e.to_string().contains("awaiting_verification"), "{e}");
        }
    }

    #[test]
    fn final_states_stay_final_but_take_notes() {
        for s in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for a in [
                Action::Verify,
                Action::Approve,
                Action::Deny,
                Action::Extend,
                Action::Complete,
                Action::Forward,
            ] {
                assert!(next(s, a).is_err(), "{s:?} {a:?}");
            }
            assert_eq!(next(s, Action::Note), Ok(s));
        }
    }

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Action::parse_admin("approve"), Some(Action::Approve));
        assert_eq!(Action::parse_admin("pause"), Some(Action::Pause));
        assert_eq!(Action::parse_admin("resume"), Some(Action::Resume));
        assert_eq!(Action::parse_admin("lift"), Some(Action::Lift));
        assert_eq!(
            next(Status::InProgress, Action::Lift),
            Ok(Status::InProgress)
        );
        assert!(next(Status::Verified, Action::Lift).is_err());
        assert!(next(Status::Completed, Action::Pause).is_err());
        assert_eq!(next(Status::Approved, Action::Pause), Ok(Status::Approved));
        assert_eq!(
            Action::parse_admin("verify"),
            None,
            "requesters verify, not DPOs"
        );
    }
}
