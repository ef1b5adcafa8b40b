//! The records of processing activities (GDPR Art. 30(1)) in the three forms a DPO hands out:
//! JSON with W3C DPV identifiers (built in [`crate::dpv::records_of_processing`]), CSV for a
//! spreadsheet (one row per controller and activity), and an HTML page to print. CSV and HTML
//! are written from the JSON, so the three never disagree; all of it comes from the policy,
//! never from a hand-kept register.

use serde_json::Value;

use crate::dpv::records_of_processing;
use crate::model::Policy;
use crate::render::html::escape;

/// The forms the records come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Html,
}

impl Format {
    /// `json`, `csv` or `html`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    /// The media type of the form.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// The records of `p` in `format`.
pub fn records(p: &Policy, format: Format) -> String {
    let json = records_of_processing(p);
    match format {
        Format::Json => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Format::Csv => csv(&json),
        Format::Html => html(&json),
    }
}

/// The columns of the CSV form, one per item of Art. 30(1).
pub const CSV_COLUMNS: [&str; 15] = [
    "controller",
    "controller_country",
    "purpose_id",
    "purpose",
    "purpose_dpv",
    "legal_basis",
    "legal_basis_article",
    "legitimate_interest",
    "data_subjects",
    "personal_data",
    "special_categories",
    "recipients",
    "third_country_transfers",
    "retention",
    "security_measures",
];

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn list(v: &Value, f: impl Fn(&Value) -> String) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

/// One activity's cells, in [`CSV_COLUMNS`] order after the controller's two.
fn cells(a: &Value, measures: &Value) -> Vec<String> {
    let data = &a["personal_data"];
    let special = list(data, |c| {
        if c["sensitive"].as_bool() == Some(true) {
            s(&c["name"]).to_owned()
        } else {
            String::new()
        }
    })
    .into_iter()
    .filter(|x| !x.is_empty())
    .collect::<Vec<_>>();
    let transfers = list(&a["recipients"], |r| {
        let third = list(&r["third_countries"], |c| s(c).to_owned());
        if third.is_empty() {
            String::new()
        } else {
            let safeguard = r["safeguard"]["term"].as_str().unwrap_or("none");
            format!("{}: {} ({safeguard})", s(&r["name"]), third.join(", "))
        }
    })
    .into_iter()
    .filter(|x| !x.is_empty())
    .collect::<Vec<_>>();
    let retention = list(data, |c| {
        let rules = list(&c["retention"], |r| s(&r["in_words"]).to_owned());
        format!("{}: {}", s(&c["name"]), rules.join(" / "))
    });
    let protecting = list(&a["security_measures"], |id| {
        measures
            .as_array()
            .and_then(|all| all.iter().find(|m| m["id"] == *id))
            .map_or_else(|| s(id).to_owned(), |m| s(&m["description"]).to_owned())
    });
    vec![
        s(&a["id"]).to_owned(),
        s(&a["name"]).to_owned(),
        s(&a["purpose"]["iri"]).to_owned(),
        s(&a["legal_basis"]["id"]).to_owned(),
        s(&a["legal_basis"]["article"]).to_owned(),
        s(&a["legitimate_interest"]).to_owned(),
        list(&a["data_subjects"], |x| s(&x["name"]).to_owned()).join("; "),
        list(data, |x| s(&x["name"]).to_owned()).join("; "),
        special.join("; "),
        list(&a["recipients"], |x| s(&x["name"]).to_owned()).join("; "),
        transfers.join("; "),
        retention.join("; "),
        protecting.join(" | "),
    ]
}

/// RFC 4180, formulas defused (`crate::csv`).
fn field(x: &str) -> String {
    crate::csv::field(x).into_owned()
}

fn csv(json: &Value) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for c in json["controllers"].as_array().into_iter().flatten() {
        for a in c["activities"].as_array().into_iter().flatten() {
            let mut row = vec![s(&c["name"]).to_owned(), s(&c["country"]).to_owned()];
            row.extend(cells(a, &json["security_measures"]));
            let row: Vec<String> = row.iter().map(|x| field(x)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

fn html(json: &Value) -> String {
    let org = escape(s(&json["organisation"]));
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Records of processing — {org}</title>\
         <style>body{{font:14px/1.4 system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}\
         th,td{{border:1px solid #999;padding:.3em;vertical-align:top;text-align:left}}th{{background:#eee}}</style></head><body>\n\
         <h1>Records of processing activities — {org}</h1>\n<p>GDPR Art. 30(1). Policy version {}, effective {}. DPO: {}.</p>\n",
        escape(s(&json["policy_version"])),
        escape(s(&json["effective_date"])),
        escape(json["contacts"]["dpo_email"].as_str().unwrap_or("—")),
    );
    let heads = &CSV_COLUMNS[2..];
    for c in json["controllers"].as_array().into_iter().flatten() {
        let entity = c["legal_entity"]
            .as_str()
            .map(|e| format!(" ({})", escape(e)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<h2>{}{entity}</h2>\n<p>{}</p>\n<table><thead><tr>",
            escape(s(&c["name"])),
            escape(c["address"].as_str().unwrap_or(s(&c["country"]))),
        ));
        for h in heads {
            out.push_str(&format!("<th>{}</th>", h.replace('_', " ")));
        }
        out.push_str("</tr></thead><tbody>\n");
        for a in c["activities"].as_array().into_iter().flatten() {
            out.push_str("<tr>");
            for cell in cells(a, &json["security_measures"]) {
                out.push_str(&format!("<td>{}</td>", escape(&cell)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<h2>Security measures (Art. 32(1))</h2>\n<ul>\n");
    for m in json["security_measures"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "<li><strong>{}</strong> ({}): {}</li>\n",
            escape(s(&m["id"])),
            escape(s(&m["kind"])),
            escape(s(&m["description"]))
        ));
    }
    out.push_str("</ul>\n</body></html>\n");
    out
}
