//! Figures for the console's overview: requests received and completed per week, consent
//! choices per purpose per week (given, refused, withdrawn), and the current consent state per
//! purpose. Each is one grouped statement; weeks are counted from a caller's origin.

use crate::{Result, Store};

/// One purpose's choices recorded in one week.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentWeek {
    pub purpose: String,
    /// Weeks since the origin the caller gave (0 is the first).
    pub week: i64,
    pub given: i64,
    /// Refusals while no consent was in force for the subject and purpose.
    pub refused: i64,
    /// Refusals while consent was in force: withdrawals (GDPR Art. 7(3)).
    pub withdrawn: i64,
}

const WEEK_MICROS: i64 = 7 * 86_400 * 1_000_000;

impl Store {
    /// `(week, received, completed)` for every week since `since` with any request.
    pub async fn requests_per_week(&self, since: i64) -> Result<Vec<(i64, i64, i64)>> {
        let received: Vec<(i64, i64)> = self
            .fetch_all(
                "SELECT (received_at - $1) / $2 AS week, COUNT(*) FROM requests WHERE received_at >= $1 GROUP BY week ORDER BY week",
                &[since.into(), WEEK_MICROS.into()],
            )
            .await?;
        let completed: Vec<(i64, i64)> = self
            .fetch_all(
                "SELECT (completed_at - $1) / $2 AS week, COUNT(*) FROM requests WHERE completed_at >= $1 AND status = 'completed' GROUP BY week ORDER BY week",
                &[since.into(), WEEK_MICROS.into()],
            )
            .await?;
        let mut out: Vec<(i64, i64, i64)> = received.iter().map(|(w, n)| (*w, *n, 0)).collect();
        for (w, n) in completed {
            match out.iter_mut().find(|(x, _, _)| *x == w) {
                Some(row) => row.2 = n,
                None => out.push((w, 0, n)),
            }
        }
        out.sort();
        Ok(out)
    }

    /// Consent choices per purpose and week since `since`. A refusal counts as a withdrawal
    /// (GDPR Art. 7(3)) when consent was in force for the subject and purpose as it was
    /// recorded (`prior_given`, written with the event: migration 0022).
    pub async fn consent_per_week(&self, since: i64) -> Result<Vec<ConsentWeek>> {
        type Row = (String, i64, bool, bool, i64);
        let rows: Vec<Row> = self
            .fetch_all(
                "SELECT purpose, week, given, withdrawn, COUNT(*) FROM ( \
                   SELECT purpose, (created_at - $1) / $2 AS week, given, \
                     COALESCE(prior_given, given) <> given AND NOT given AS withdrawn \
                   FROM consent_events WHERE created_at >= $1) w \
                 GROUP BY purpose, week, given, withdrawn ORDER BY purpose, week",
                &[since.into(), WEEK_MICROS.into()],
            )
            .await?;
        let mut out: Vec<ConsentWeek> = Vec::new();
        for (purpose, week, given, withdrawn, n) in rows {
            let at = match out
                .iter()
                .position(|c| c.purpose == purpose && c.week == week)
            {
                Some(i) => i,
                None => {
                    out.push(ConsentWeek {
                        purpose,
                        week,
                        ..Default::default()
                    });
                    out.len() - 1
                }
            };
            let c = &mut out[at];
            match (given, withdrawn) {
                (true, _) => c.given += n,
                (false, true) => c.withdrawn += n,
                (false, false) => c.refused += n,
            }
        }
        Ok(out)
    }

    /// `(purpose, given, subjects)`: the current choices per purpose.
    pub async fn consent_state_counts(&self) -> Result<Vec<(String, bool, i64)>> {
        self.settle_consent_state().await?;
        self.fetch_all(
            "SELECT purpose, given, COUNT(*) FROM consent_state GROUP BY purpose, given ORDER BY purpose, given",
            &[],
        )
        .await
    }
}
