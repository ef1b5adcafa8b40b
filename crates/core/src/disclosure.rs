//! Disclosures to public authorities "when required by law": the kinds of authority, and the
//! public transparency report's rule — counts per year and kind of authority, never a count
//! below the policy's minimum group size (`aggregates.min_group`), so that no published figure
//! describes fewer people than the notice promises. Pure rules; the store keeps disclosures,
//! the application layer records them (`custodian_app::disclosures`).
//!
//! A report shows no totals: a total beside a suppressed cell would give the suppressed count
//! back by subtraction. Each count is suppressed on its own, so a year with 14 disclosures
//! about 3 people shows the 14 and hides the 3.

/// Who data was disclosed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthorityKind {
    Court,
    LawEnforcement,
    /// A supervisory or regulatory authority (data protection, financial, telecoms …).
    Regulator,
    TaxAuthority,
    /// Any other public authority, and disclosures recorded without a kind.
    Other,
}

impl AuthorityKind {
    pub const ALL: [AuthorityKind; 5] = [
        AuthorityKind::Court,
        AuthorityKind::LawEnforcement,
        AuthorityKind::Regulator,
        AuthorityKind::TaxAuthority,
        AuthorityKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityKind::Court => "court",
            AuthorityKind::LawEnforcement => "law_enforcement",
            AuthorityKind::Regulator => "regulator",
            AuthorityKind::TaxAuthority => "tax_authority",
            AuthorityKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<AuthorityKind> {
        AuthorityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind as people read it, in English.
    pub fn label(self) -> &'static str {
        match self {
            AuthorityKind::Court => "Courts",
            AuthorityKind::LawEnforcement => "Law enforcement",
            AuthorityKind::Regulator => "Regulators",
            AuthorityKind::TaxAuthority => "Tax authorities",
            AuthorityKind::Other => "Other public authorities",
        }
    }
}

/// One year and kind of authority, as counted from the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub year: i32,
    pub kind: AuthorityKind,
    pub disclosures: u64,
    /// Distinct people the year's disclosures to this kind concerned.
    pub people: u64,
}

/// One row of the public report: a count, or `None` where it is below the minimum group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub year: i32,
    pub kind: AuthorityKind,
    pub disclosures: Option<u64>,
    pub people: Option<u64>,
}

/// The public rows of `counted`: every count below `min_group` suppressed, newest year first,
/// kinds in their fixed order. No row carries a total.
pub fn publish(counted: &[Counted], min_group: u64) -> Vec<Published> {
    let shown = |n: u64| (n >= min_group).then_some(n);
    let mut out: Vec<Published> = counted
        .iter()
        .filter(|c| c.disclosures > 0)
        .map(|c| Published {
            year: c.year,
            kind: c.kind,
            disclosures: shown(c.disclosures),
            people: shown(c.people),
        })
        .collect();
    out.sort_by(|a, b| b.year.cmp(&a.year).then(a.kind.cmp(&b.kind)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_published_count_is_below_the_minimum_group() {
        let counted = [
            Counted {
                year: 2025,
                kind: AuthorityKind::Court,
                disclosures: 14,
                people: 3,
            },
            Counted {
                year: 2025,
                kind: AuthorityKind::LawEnforcement,
                disclosures: 2,
                people: 40,
            },
            Counted {
                year: 2026,
                kind: AuthorityKind::Regulator,
                disclosures: 10,
                people: 10,
            },
            Counted {
                year: 2026,
                kind: AuthorityKind::Other,
                disclosures: 0,
                people: 0,
            },
        ];
        let rows = publish(&counted, 10);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].year, 2026);
        assert_eq!((rows[0].disclosures, rows[0].people), (Some(10), Some(10)));
        assert_eq!((rows[1].disclosures, rows[1].people), (Some(14), None));
        assert_eq!((rows[2].disclosures, rows[2].people), (None, Some(40)));
        for r in &rows {
            for n in [r.disclosures, r.people].into_iter().flatten() {
                assert!(n >= 10);
            }
        }
        for k in AuthorityKind::ALL {
            assert_eq!(AuthorityKind::parse(k.as_str()), Some(k));
        }
    }
}
