//! Personal-data breaches (GDPR Art. 33 and 34): the risk a breach poses, the states an
//! incident moves through, and its one clock — the supervisory authority is to be told
//! "without undue delay and, where feasible, not later than 72 hours after having become
//! aware of it" (Art. 33(1)). Pure rules; the store keeps incidents, the application layer
//! carries out the steps (`custodian_app::incidents`).
//!
//! The 72 hours are counted in hours, not working days: Regulation 1182/71 (the EU's rules
//! for periods) counts a period in hours from the start of the hour after the event, but the
//! EDPB's Guidelines 9/2022 on breach notification read Art. 33 from the moment of awareness
//! and ask for notification within 72 hours of it; Custodian takes the stricter reading —
//! `became_aware_at` plus exactly 72 hours — so a DPO who meets it meets either reading.

/// Art. 33(1): 72 hours, in microseconds.
pub const NOTIFY_WITHIN_MICROS: i64 = 72 * 3_600 * 1_000_000;

/// When the authority must have been told: `became_aware_at` + 72 hours exactly.
pub fn authority_due(became_aware_at: i64) -> i64 {
    became_aware_at.saturating_add(NOTIFY_WITHIN_MICROS)
}

/// The risk to people's rights and freedoms, as the controller assesses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    /// Art. 33(1): "unlikely to result in a risk" — documented (Art. 33(5)), not notified.
    Unlikely,
    /// The authority must be told (Art. 33(1)).
    Risk,
    /// The people must be told too (Art. 34(1)).
    HighRisk,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Unlikely => "unlikely",
            Risk::Risk => "risk",
            Risk::HighRisk => "high_risk",
        }
    }

    pub fn parse(s: &str) -> Option<Risk> {
        [Risk::Unlikely, Risk::Risk, Risk::HighRisk]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// Whether the authority must be notified (everything but `unlikely`).
    pub fn notifiable(self) -> bool {
        self != Risk::Unlikely
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Reported, not yet assessed.
    Open,
    /// Consequences and measures are on record.
    Assessed,
    /// The supervisory authority has been told (Art. 33(1)).
    AuthorityNotified,
    /// Over: nothing more is expected of the controller.
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Assessed => "assessed",
            Status::AuthorityNotified => "authority_notified",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Open,
            Status::Assessed,
            Status::AuthorityNotified,
            Status::Closed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What the DPO does to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Assess,
    AuthorityNotified,
    NotifySubjects,
    Close,
}

impl Step {
    /// The route segment (`assess`, `authority-notified`, `notify-subjects`, `close`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Assess => "assess",
            Step::AuthorityNotified => "authority-notified",
            Step::NotifySubjects => "notify-subjects",
            Step::Close => "close",
        }
    }
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("the incident is closed")]
    Closed,
    #[error("the authority was already notified")]
    AlreadyNotified,
    #[error("an incident assessed as `{0}` must be notified to the supervisory authority before it is closed (GDPR Art. 33(1)); assess it as `unlikely` if it is unlikely to result in a risk")]
    NotNotified(&'static str),
}

/// The state after `step`, or why it is not allowed. An assessment may be revised at any
/// time until the incident closes (Art. 33(4) lets information follow in phases); the
/// authority is told once; an incident that is notifiable closes only once it was notified.
pub fn next(from: Status, step: Step, risk: Risk) -> Result<Status, StepError> {
    use Status::*;
    match (from, step) {
        (Closed, _) => Err(StepError::Closed),
        (AuthorityNotified, Step::AuthorityNotified) => Err(StepError::AlreadyNotified),
        (Open, Step::Assess) | (Assessed, Step::Assess) => Ok(Assessed),
        (AuthorityNotified, Step::Assess) => Ok(AuthorityNotified),
        (_, Step::AuthorityNotified) => Ok(AuthorityNotified),
        (s, Step::NotifySubjects) => Ok(s),
        (AuthorityNotified, Step::Close) => Ok(Closed),
        (_, Step::Close) if risk.notifiable() => Err(StepError::NotNotified(risk.as_str())),
        (_, Step::Close) => Ok(Closed),
    }
}

/// Whether an incident is overdue at `now`: past its due time, not closed, and the authority
/// not notified.
pub fn overdue(status: Status, authority_due: i64, now: i64) -> bool {
    !matches!(status, Status::AuthorityNotified | Status::Closed) && now > authority_due
}

/// Whether a notification at `notified_at` is late: it then needs "the reasons for the
/// delay" (Art. 33(1)).
pub fn late(notified_at: i64, authority_due: i64) -> bool {
    notified_at > authority_due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_due_72_hours_after_awareness_to_the_microsecond() {
        let aware = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
        let due = authority_due(aware);
        assert_eq!(due - aware, 259_200_000_000);
        assert!(!overdue(Status::Open, due, due));
        assert!(overdue(Status::Open, due, due + 1));
        assert!(overdue(Status::Assessed, due, due + 1));
        assert!(!overdue(Status::AuthorityNotified, due, due + 1));
        assert!(!overdue(Status::Closed, due, due + 1));
        assert!(!late(due, due) && late(due + 1, due));
    }

    #[test]
    fn steps_follow_the_law() {
        use Status::*;
        assert_eq!(next(Open, Step::Assess, Risk::Risk), Ok(Assessed));
        assert_eq!(
            next(Open, Step::AuthorityNotified, Risk::Risk),
            Ok(AuthorityNotified)
        );
        assert_eq!(
            next(AuthorityNotified, Step::AuthorityNotified, Risk::Risk),
            Err(StepError::AlreadyNotified)
        );
        assert_eq!(next(Assessed, Step::Close, Risk::Unlikely), Ok(Closed));
        assert!(matches!(
            next(Assessed, Step::Close, Risk::HighRisk),
            Err(StepError::NotNotified("high_risk"))
        ));
        assert_eq!(
            next(AuthorityNotified, Step::Close, Risk::HighRisk),
            Ok(Closed)
        );
        assert_eq!(
            next(Closed, Step::Assess, Risk::Risk),
            Err(StepError::Closed)
        );
        assert_eq!(
            next(Closed, Step::NotifySubjects, Risk::Risk),
            Err(StepError::Closed)
        );
        for r in ["unlikely", "risk", "high_risk"] {
            assert_eq!(Risk::parse(r).unwrap().as_str(), r);
        }
        for s in ["open", "assessed", "authority_notified", "closed"] {
            assert_eq!(Status::parse(s).unwrap().as_str(), s);
        }
    }
}
