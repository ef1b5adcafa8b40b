//! One CSV field as every CSV Custodian writes it (the records of processing here, the access
//! archive in `core::archive`, aggregate reports in `app::reports`): RFC 4180 quoting, and
//! formula injection defused.
//!
//! A spreadsheet reads a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
//! return before one) as a formula, so a value someone else chose — a name in a company
//! datastore, a report key — could run when the DPO or the requester opens the file. Per the
//! OWASP guidance on CSV injection (<https://owasp.org/www-community/attacks/CSV_Injection>),
//! such a cell gets a leading apostrophe, which spreadsheets show as text and do not evaluate,
//! and is quoted. The cost: a negative number reads `'-5` in the CSV; the JSON beside it keeps
//! every value exact.

use std::borrow::Cow;

/// Characters that make a spreadsheet evaluate a cell when it starts with them.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `value` as one CSV field: quoted when it holds a comma, quote or line break, or starts like
/// a formula (then after an apostrophe); quotes doubled.
pub fn field(value: &str) -> Cow<'_, str> {
    let formula = value.starts_with(FORMULA_START);
    if !formula && !value.contains([',', '"', '\n', '\r']) {
        return Cow::Borrowed(value);
    }
    let apostrophe = if formula { "'" } else { "" };
    Cow::Owned(format!("\"{apostrophe}{}\"", value.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn plain_values_stay_as_they_are_and_separators_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("a\nb"), "\"a\nb\"");
        assert_eq!(field("x=1"), "x=1", "only a cell's start counts");
    }

    #[test]
    fn cells_that_start_like_formulas_are_defused() {
        assert_eq!(
            field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(field("+1"), "\"'+1\"");
        assert_eq!(field("-2+3"), "\"'-2+3\"");
        assert_eq!(field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(field("\t=1"), "\"'\t=1\"");
        assert_eq!(field("\r=1"), "\"'\r=1\"");
    }
}
