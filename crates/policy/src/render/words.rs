//! Plain-English wording shared by the notice: dates, country names, lists.

/// `2018-05-25` → `25 May 2018`; anything else is returned as written.
pub(super) fn date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match iso.parse::<jiff::civil::Date>() {
        Ok(d) => format!(
            "{} {} {}",
            d.day(),
            MONTHS[usize::from(d.month().unsigned_abs()).saturating_sub(1) % 12],
            d.year()
        ),
        Err(_) => iso.to_string(),
    }
}

/// The English name of a country, for the codes a European notice usually names; others are
/// shown as their code.
pub(super) fn country(code: &str) -> String {
    let name = match code {
        "AT" => "Austria",
        "BE" => "Belgium",
        "BG" => "Bulgaria",
        "HR" => "Croatia",
        "CY" => "Cyprus",
        "CZ" => "Czechia",
        "DK" => "Denmark",
        "EE" => "Estonia",
        "FI" => "Finland",
        "FR" => "France",
        "DE" => "Germany",
        "GR" => "Greece",
        "HU" => "Hungary",
        "IE" => "Ireland",
        "IT" => "Italy",
        "LV" => "Latvia",
        "LT" => "Lithuania",
        "LU" => "Luxembourg",
        "MT" => "Malta",
        "NL" => "Netherlands",
        "PL" => "Poland",
        "PT" => "Portugal",
        "RO" => "Romania",
        "SK" => "Slovakia",
        "SI" => "Slovenia",
        "ES" => "Spain",
        "SE" => "Sweden",
        "IS" => "Iceland",
        "LI" => "Liechtenstein",
        "NO" => "Norway",
        "GB" => "United Kingdom",
        "CH" => "Switzerland",
        "US" => "United States",
        "CA" => "Canada",
        "AU" => "Australia",
        "NZ" => "New Zealand",
        "JP" => "Japan",
        "KR" => "South Korea",
        "IN" => "India",
        "CN" => "China",
        "SG" => "Singapore",
        "BR" => "Brazil",
        "IL" => "Israel",
        _ => return code.to_string(),
    };
    name.to_string()
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}

/// Lower-case weekday names → `Monday to Friday` when consecutive, else a list.
pub(super) fn weekdays(days: &[String]) -> String {
    const ORDER: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let cap = |d: &str| {
        let mut c = d.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    let mut idx: Vec<usize> = days
        .iter()
        .filter_map(|d| ORDER.iter().position(|o| o == d))
        .collect();
    idx.sort_unstable();
    idx.dedup();
    let consecutive = idx.windows(2).all(|w| w[1] == w[0] + 1);
    match (idx.first(), idx.last()) {
        (Some(&a), Some(&b)) if consecutive && b >= a + 2 => {
            format!("{} to {}", cap(ORDER[a]), cap(ORDER[b]))
        }
        _ => {
            let names: Vec<String> = idx.iter().map(|&i| cap(ORDER[i])).collect();
            and_list(&names)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(date("2018-05-25"), "25 May 2018");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
        let week: Vec<String> = ["monday", "tuesday", "wednesday", "thursday", "friday"]
            .map(String::from)
            .to_vec();
        assert_eq!(weekdays(&week), "Monday to Friday");
        assert_eq!(
            weekdays(&["monday".into(), "friday".into()]),
            "Monday and Friday"
        );
    }
}
