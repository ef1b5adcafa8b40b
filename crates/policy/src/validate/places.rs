//! Countries, recipients and regions: valid ISO codes and a transfer mechanism for every
//! recipient outside them.

use super::*;

// ── Countries, recipients, regions ────────────────────────────────────────────────────────

pub(super) const TRANSFER_MECHANISMS: [&str; 6] =
    ["adequacy", "scc", "bcr", "dpf", "derogation", "none"];

pub(super) fn places(p: &Policy, r: &mut Report) {
    for (i, rec) in p.recipients.iter().enumerate() {
        countries(r, &format!("recipients[{i}].countries"), &rec.countries);
        if !TRANSFER_MECHANISMS.contains(&rec.transfer_mechanism.as_str()) {
            let m = &rec.transfer_mechanism;
            let help = match closest(m, TRANSFER_MECHANISMS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("use one of: {}", TRANSFER_MECHANISMS.join(", ")),
            };
            r.at(
                format!("recipients[{i}].transfer_mechanism"),
                format!("unknown transfer mechanism `{m}`"),
                help,
            );
        }
    }
    let mut region_of: HashMap<&str, &str> = HashMap::new();
    for (i, region) in p.regions.iter().enumerate() {
        let path = format!("regions[{i}].countries");
        countries(r, &path, &region.countries);
        for (j, c) in region.countries.iter().enumerate() {
            match region_of.get(c.as_str()) {
                Some(other) if *other != region.id => r.at(
                    format!("{path}[{j}]"),
                    format!("`{c}` is already in region `{other}`"),
                    "a country belongs to one region only; remove it from one of them",
                ),
                _ => {
                    region_of.insert(c, &region.id);
                }
            }
        }
        if let Some(residency) = &region.rules.residency {
            countries(
                r,
                &format!("regions[{i}].rules.residency.countries"),
                &residency.countries,
            );
            if residency.tag.trim().is_empty() {
                r.at(
                    format!("regions[{i}].rules.residency.tag"),
                    "the residency tag is empty",
                    "name the obligation, e.g. tag = \"EU\"",
                );
            }
        }
    }
}

/// Checks a list of country codes; an empty list is a problem too, since every list of
/// countries in the file says where something applies.
pub(super) fn countries(r: &mut Report, path: &str, list: &[String]) {
    if list.is_empty() {
        r.at(
            path,
            "no country is listed",
            "list ISO 3166-1 alpha-2 codes such as \"IE\"",
        );
    }
    let mut seen = BTreeSet::new();
    for (j, c) in list.iter().enumerate() {
        let at = format!("{path}[{j}]");
        if check_country(r, &at, c, Target::Value) && !seen.insert(c.as_str()) {
            r.at(&at, format!("`{c}` is listed twice"), "remove the repeat");
        }
    }
}

pub(super) fn check_country(r: &mut Report, path: &str, code: &str, target: Target) -> bool {
    if is_country_code(code) {
        return true;
    }
    let message = format!("`{code}` is not a country code");
    r.push(path.to_string(), message, country_help(code), target);
    false
}

/// Two upper-case letters, but not the codes ISO keeps reserved that people often write by
/// mistake (`UK`, `EL`, `EU`): a rule keyed on them would never match a real visitor.
pub(super) fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) && !matches!(s, "UK" | "EL" | "EU")
}

pub(super) fn country_help(code: &str) -> String {
    let upper = code.trim().to_ascii_uppercase();
    let base = "use the ISO 3166-1 alpha-2 code: two upper-case letters";
    match upper.as_str() {
        "UK" => format!("{base}; the United Kingdom is `GB`"),
        "EL" => format!("{base}; Greece is `GR`"),
        "EU" => format!("{base}; list the member states one by one"),
        _ if is_country_code(&upper) => format!("{base}; did you mean `{upper}`?"),
        _ => format!("{base}, such as `DE`"),
    }
}
