//! The calendars request deadlines are counted on (`[[calendars]]`): a time zone, the working
//! week, opening hours and public holidays — a built-in rule set (`crate::holidays`) plus
//! dates of the policy's own. Each `[[deadlines.jurisdictions]]` names the calendar its law is
//! counted on, and `[deadlines]` names the one for the default rules.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::{Jurisdiction, Policy};

/// One calendar of working days and hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Referenced by `deadlines.calendar` and `deadlines.jurisdictions[].calendar`.
    pub id: String,
    /// IANA time zone name: the day of receipt and every due day are local dates here.
    pub time_zone: String,
    /// Lower-case English weekday names: `monday`...
    pub working_days: Vec<String>,
    /// `HH:MM`.
    pub opens: String,
    /// `HH:MM`.
    pub closes: String,
    /// The built-in public-holiday rule set: one of `crate::holidays::SETS` (`gb-eng`, `ie`,
    /// `us-ca` …). Absent: no public holidays but `extra_holidays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<String>,
    /// More days off, `YYYY-MM-DD` (a regional holiday, the office's own closing days).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_holidays: Vec<String>,
}

impl Default for Calendar {
    /// Monday to Friday, 09:00–17:30 in London, with the bank holidays of England and Wales.
    fn default() -> Self {
        Calendar {
            id: "default".into(),
            time_zone: "Europe/London".into(),
            working_days: ["monday", "tuesday", "wednesday", "thursday", "friday"]
                .map(String::from)
                .to_vec(),
            opens: "09:00".into(),
            closes: "17:30".into(),
            holidays: Some("gb-eng".into()),
            extra_holidays: Vec::new(),
        }
    }
}

static DEFAULT: LazyLock<Calendar> = LazyLock::new(Calendar::default);

impl Policy {
    /// The calendar with this id.
    pub fn calendar(&self, id: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.id == id)
    }

    /// The calendar of the default rules (`deadlines.calendar`); for a policy that names none
    /// or an unknown one (validation refuses both), its first calendar, or [`Calendar::default`].
    pub fn default_calendar(&self) -> &Calendar {
        self.deadlines
            .calendar
            .as_deref()
            .and_then(|id| self.calendar(id))
            .or(self.calendars.first())
            .unwrap_or(&DEFAULT)
    }

    /// The jurisdiction with this id.
    pub fn jurisdiction(&self, id: &str) -> Option<&Jurisdiction> {
        self.deadlines.jurisdictions.iter().find(|j| j.id == id)
    }

    /// The calendar a jurisdiction counts on; the default rules' calendar when it names none.
    pub fn calendar_of(&self, j: &Jurisdiction) -> &Calendar {
        j.calendar
            .as_deref()
            .and_then(|id| self.calendar(id))
            .unwrap_or_else(|| self.default_calendar())
    }
}
