//! The language a notice is written in: English or German wording for everything Custodian
//! writes itself, and the file's own texts in that language where the file gives them
//! (`{ en = "…", de = "…" }` tables), else in its first language. Dates, countries, lists,
//! weekdays and durations follow the language too.

use super::words;
use crate::duration::parse_duration;
use crate::model::{text_in, Policy, Texts, Translation};

/// The notice's language.
#[derive(Debug, Clone, Copy)]
pub(crate) struct L<'a> {
    pub de: bool,
    pub tag: &'a str,
    langs: &'a [String],
    /// The policy's own texts in this language (`[translations.<tag>]`), unless it is the
    /// policy's first language.
    tr: Option<&'a Translation>,
}

impl<'a> L<'a> {
    /// `lang`'s primary subtag decides: `de…` is German, anything else English.
    pub fn new(p: &'a Policy, lang: &'a str) -> L<'a> {
        let primary = lang.split(['-', '_']).next().unwrap_or(lang);
        let tr = p
            .translations
            .get(lang)
            .or_else(|| p.translations.get(primary))
            .filter(|_| {
                p.policy
                    .languages
                    .first()
                    .is_none_or(|f| f != lang && f != primary)
            });
        L {
            de: primary == "de",
            tag: lang,
            langs: &p.policy.languages,
            tr,
        }
    }

    /// The policy's own text `key` of item `id` of `section`, in this language where a
    /// translation gives it, else `original` (the policy's first language).
    pub fn own(&self, section: &str, id: &str, key: &str, original: &'a str) -> &'a str {
        self.tr
            .and_then(|t| t.section(section))
            .and_then(|items| items.get(id))
            .and_then(|item| item.get(key))
            .unwrap_or(original)
    }

    /// The policy's summary in this language.
    pub fn summary(&self, original: &'a str) -> &'a str {
        self.tr
            .and_then(|t| t.summary.as_deref())
            .unwrap_or(original)
    }

    pub fn purpose_name(&self, p: &'a crate::model::Purpose) -> &'a str {
        self.own("purposes", &p.id, "name", &p.name)
    }

    pub fn category_name(&self, c: &'a crate::model::Category) -> &'a str {
        self.own("categories", &c.id, "name", &c.name)
    }

    /// Custodian's own wording.
    pub fn t(&self, en: &'static str, de: &'static str) -> &'static str {
        if self.de {
            de
        } else {
            en
        }
    }

    /// A per-language text of the file.
    pub fn of(&self, texts: &'a Texts) -> &'a str {
        text_in(texts, self.tag, self.langs)
    }

    pub fn date(&self, iso: &str) -> String {
        if !self.de {
            return words::date(iso);
        }
        const MONTHS: [&str; 12] = [
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ];
        match iso.parse::<jiff::civil::Date>() {
            Ok(d) => format!(
                "{}. {} {}",
                d.day(),
                MONTHS[usize::from(d.month().unsigned_abs()).saturating_sub(1) % 12],
                d.year()
            ),
            Err(_) => iso.to_string(),
        }
    }

    pub fn country(&self, code: &str) -> String {
        if !self.de {
            return words::country(code);
        }
        let name = match code {
            "AT" => "Österreich",
            "BE" => "Belgien",
            "BG" => "Bulgarien",
            "HR" => "Kroatien",
            "CY" => "Zypern",
            "CZ" => "Tschechien",
            "DK" => "Dänemark",
            "EE" => "Estland",
            "FI" => "Finnland",
            "FR" => "Frankreich",
            "DE" => "Deutschland",
            "GR" => "Griechenland",
            "HU" => "Ungarn",
            "IE" => "Irland",
            "IT" => "Italien",
            "LV" => "Lettland",
            "LT" => "Litauen",
            "LU" => "Luxemburg",
            "MT" => "Malta",
            "NL" => "Niederlande",
            "PL" => "Polen",
            "PT" => "Portugal",
            "RO" => "Rumänien",
            "SK" => "Slowakei",
            "SI" => "Slowenien",
            "ES" => "Spanien",
            "SE" => "Schweden",
            "IS" => "Island",
            "LI" => "Liechtenstein",
            "NO" => "Norwegen",
            "GB" => "Vereinigtes Königreich",
            "CH" => "Schweiz",
            "US" => "Vereinigte Staaten",
            "CA" => "Kanada",
            "AU" => "Australien",
            "JP" => "Japan",
            _ => return words::country(code),
        };
        name.to_string()
    }

    pub fn and_list<S: AsRef<str>>(&self, items: &[S]) -> String {
        let joined = words::and_list(items);
        if !self.de || items.len() < 2 {
            return joined;
        }
        let init: Vec<&str> = items[..items.len() - 1].iter().map(AsRef::as_ref).collect();
        format!(
            "{} und {}",
            init.join(", "),
            items[items.len() - 1].as_ref()
        )
    }

    pub fn countries(&self, codes: &[String]) -> String {
        let names: Vec<String> = codes.iter().map(|c| self.country(c)).collect();
        self.and_list(&names)
    }

    pub fn weekdays(&self, days: &[String]) -> String {
        let en = words::weekdays(days);
        if !self.de {
            return en;
        }
        [
            ("Monday", "Montag"),
            ("Tuesday", "Dienstag"),
            ("Wednesday", "Mittwoch"),
            ("Thursday", "Donnerstag"),
            ("Friday", "Freitag"),
            ("Saturday", "Samstag"),
            ("Sunday", "Sonntag"),
            (" to ", " bis "),
            (" and ", " und "),
        ]
        .iter()
        .fold(en, |s, (a, b)| s.replace(a, b))
    }

    /// An ISO 8601 duration in words (`7 years`, `7 Jahre`).
    pub fn duration(&self, iso: &str) -> String {
        if !self.de {
            return crate::duration::words(iso);
        }
        let Ok(span) = parse_duration(iso) else {
            return iso.to_string();
        };
        let parts: Vec<String> = [
            (i64::from(span.get_years()), "Jahr", "Jahre"),
            (i64::from(span.get_months()), "Monat", "Monate"),
            (i64::from(span.get_weeks()), "Woche", "Wochen"),
            (i64::from(span.get_days()), "Tag", "Tage"),
            (i64::from(span.get_hours()), "Stunde", "Stunden"),
            (span.get_minutes(), "Minute", "Minuten"),
            (span.get_seconds(), "Sekunde", "Sekunden"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n != 0)
        .map(|(n, one, many)| match n {
            1 => format!("1 {one}"),
            _ => format!("{n} {many}"),
        })
        .collect();
        if parts.is_empty() {
            "0 Tage".into()
        } else {
            self.and_list(&parts)
        }
    }
}
