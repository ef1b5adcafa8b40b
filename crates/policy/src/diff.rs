//! Compares two versions of a policy and classes each change as material or not.
//!
//! A material change is one a person must hear about before it takes effect (and, for consent
//! purposes, may have to agree to again): more processing, more recipients, a weaker legal
//! position. Wording, and anything that only reduces processing, is not material. The rules
//! are listed in docs/policy.md; they live in [`material`] so they can be read in one place.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::{approx_days, parse_duration};
use crate::model::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference between two policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Where, by id rather than position: `purposes.marketing.legal_basis`.
    pub path: String,
    pub kind: ChangeKind,
    /// Whether people must be told before it takes effect.
    pub material: bool,
    pub summary: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// Every change from `old` to `new`, section by section in file order.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let ctx = Ctx { old, new };
    let mut raw = Vec::new();
    single(&mut raw, "policy", &old.policy, &new.policy);
    listed(
        &mut raw,
        "controllers",
        &old.controllers,
        &new.controllers,
        |x| &x.id,
    );
    single(&mut raw, "contacts", &old.contacts, &new.contacts);
    listed(
        &mut raw,
        "categories",
        &old.categories,
        &new.categories,
        |x| &x.id,
    );
    listed(&mut raw, "subjects", &old.subjects, &new.subjects, |x| {
        &x.id
    });
    listed(&mut raw, "purposes", &old.purposes, &new.purposes, |x| {
        &x.id
    });
    listed(
        &mut raw,
        "prohibited",
        &old.prohibited,
        &new.prohibited,
        |x| &x.id,
    );
    listed(
        &mut raw,
        "recipients",
        &old.recipients,
        &new.recipients,
        |x| &x.id,
    );
    listed(&mut raw, "regions", &old.regions, &new.regions, |x| &x.id);
    listed(&mut raw, "retention", &old.retention, &new.retention, |x| {
        &x.id
    });
    let (mut od, mut nd) = (old.deadlines.clone(), new.deadlines.clone());
    let (oj, nj) = (
        std::mem::take(&mut od.jurisdictions),
        std::mem::take(&mut nd.jurisdictions),
    );
    single(&mut raw, "deadlines", &od, &nd);
    listed(&mut raw, "deadlines.jurisdictions", &oj, &nj, |x| &x.id);
    listed(&mut raw, "calendars", &old.calendars, &new.calendars, |x| {
        &x.id
    });
    single(&mut raw, "children", &old.children, &new.children);
    single(&mut raw, "requests", &old.requests, &new.requests);
    listed(&mut raw, "customers", &old.customers, &new.customers, |x| {
        &x.id
    });
    single(&mut raw, "texts", &old.texts, &new.texts);
    single(&mut raw, "rights", &old.rights, &new.rights);
    single(&mut raw, "notice", &old.notice, &new.notice);
    single(&mut raw, "notices", &old.notices, &new.notices);
    single(&mut raw, "aggregates", &old.aggregates, &new.aggregates);
    listed(&mut raw, "reports", &old.reports, &new.reports, |x| &x.id);
    listed(
        &mut raw,
        "security_measures",
        &old.security_measures,
        &new.security_measures,
        |x| &x.id,
    );
    raw.into_iter()
        .map(|r| {
            let material = material(&ctx, &r);
            Change {
                summary: summary(&r),
                path: r.path(),
                kind: r.kind,
                material,
                old: r.old,
                new: r.new,
            }
        })
        .collect()
}

/// Ids of consent purposes that must be asked again: new ones, and those whose terms changed
/// ([`Purpose::consent_terms`]: notice, legal basis, categories, recipients, cookies, GPC
/// opt-out), since a person agreed to the old terms only.
pub fn consent_purposes_changed(old: &Policy, new: &Policy) -> Vec<String> {
    new.consent_purposes()
        .filter(|p| {
            old.purpose(&p.id)
                .is_none_or(|o| o.consent_terms() != p.consent_terms())
        })
        .map(|p| p.id.clone())
        .collect()
}

struct Ctx<'a> {
    old: &'a Policy,
    new: &'a Policy,
}

/// A change before classification: the section, the item id (for lists), and the field path
/// inside the item.
struct Raw {
    section: &'static str,
    item: Option<String>,
    field: String,
    kind: ChangeKind,
    old: Option<Value>,
    new: Option<Value>,
}

impl Raw {
    fn path(&self) -> String {
        [
            Some(self.section),
            self.item.as_deref(),
            Some(self.field.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".")
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn single<T: Serialize>(out: &mut Vec<Raw>, section: &'static str, old: &T, new: &T) {
    walk(out, section, None, "", &to_json(old), &to_json(new));
}

fn listed<T: Serialize>(
    out: &mut Vec<Raw>,
    section: &'static str,
    old: &[T],
    new: &[T],
    id: impl Fn(&T) -> &String,
) {
    for n in new {
        match old.iter().find(|o| id(o) == id(n)) {
            Some(o) => walk(out, section, Some(id(n)), "", &to_json(o), &to_json(n)),
            None => out.push(Raw {
                section,
                item: Some(id(n).clone()),
                field: String::new(),
                kind: ChangeKind::Added,
                old: None,
                new: Some(to_json(n)),
            }),
        }
    }
    for o in old.iter().filter(|o| !new.iter().any(|n| id(n) == id(o))) {
        out.push(Raw {
            section,
            item: Some(id(o).clone()),
            field: String::new(),
            kind: ChangeKind::Removed,
            old: Some(to_json(o)),
            new: None,
        });
    }
}

/// Emits the differences between two JSON values: objects key by key, anything else whole.
/// A `null` (an absent optional key) counts as absent.
fn walk(
    out: &mut Vec<Raw>,
    section: &'static str,
    item: Option<&String>,
    field: &str,
    old: &Value,
    new: &Value,
) {
    if old == new {
        return;
    }
    let emit = |out: &mut Vec<Raw>, kind, old: Option<&Value>, new: Option<&Value>| {
        out.push(Raw {
            section,
            item: item.cloned(),
            field: field.to_string(),
            kind,
            old: old.cloned(),
            new: new.cloned(),
        })
    };
    match (old, new) {
        (Value::Null, n) => emit(out, ChangeKind::Added, None, Some(n)),
        (o, Value::Null) => emit(out, ChangeKind::Removed, Some(o), None),
        (Value::Object(o), Value::Object(n)) => {
            let mut keys: Vec<&String> = n.keys().collect();
            keys.extend(o.keys().filter(|k| !n.contains_key(*k)));
            for key in keys {
                let path = if field.is_empty() {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                let null = Value::Null;
                let (ov, nv) = (o.get(key).unwrap_or(&null), n.get(key).unwrap_or(&null));
                walk(out, section, item, &path, ov, nv);
            }
        }
        (o, n) => emit(out, ChangeKind::Changed, Some(o), Some(n)),
    }
}

// ── Classification ────────────────────────────────────────────────────────────────────────

fn strings(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn gained(r: &Raw) -> Vec<String> {
    let old = strings(&r.old);
    strings(&r.new)
        .into_iter()
        .filter(|x| !old.contains(x))
        .collect()
}

fn lost(r: &Raw) -> Vec<String> {
    let new = strings(&r.new);
    strings(&r.old)
        .into_iter()
        .filter(|x| !new.contains(x))
        .collect()
}

fn days(v: &Option<Value>) -> Option<f64> {
    v.as_ref()
        .and_then(Value::as_str)
        .and_then(|s| parse_duration(s).ok())
        .map(|s| approx_days(&s))
}

fn longer(r: &Raw) -> bool {
    matches!((days(&r.old), days(&r.new)), (Some(o), Some(n)) if n > o)
}

fn number(v: &Option<Value>) -> Option<f64> {
    v.as_ref().and_then(Value::as_f64)
}

fn became(r: &Raw, from: bool, to: bool) -> bool {
    r.old.as_ref().and_then(Value::as_bool).unwrap_or(false) == from
        && r.new.as_ref().and_then(Value::as_bool).unwrap_or(false) == to
}

/// The longest period, in days, that any rule keeps `category` (anchors aside).
fn longest(p: &Policy, category: &str) -> Option<f64> {
    p.retention
        .iter()
        .filter(|r| r.categories.iter().any(|c| c == category))
        .filter_map(|r| parse_duration(&r.keep_for).ok())
        .map(|s| approx_days(&s))
        .reduce(f64::max)
}

fn kept_longer(ctx: &Ctx<'_>, categories: &[String]) -> bool {
    categories
        .iter()
        .any(|c| match (longest(ctx.old, c), longest(ctx.new, c)) {
            (Some(o), Some(n)) => n > o,
            (None, Some(_)) => true,
            _ => false,
        })
}

fn smaller(r: &Raw) -> bool {
    matches!((number(&r.old), number(&r.new)), (Some(o), Some(n)) if n < o)
}

/// A report's own `min_group` came or went or changed: compare what applies.
fn report_group_smaller(ctx: &Ctx<'_>, r: &Raw) -> bool {
    let id = r.item.as_deref().unwrap_or_default();
    match (ctx.old.report(id), ctx.new.report(id)) {
        (Some(o), Some(n)) => ctx.new.min_group_of(n) < ctx.old.min_group_of(o),
        _ => false,
    }
}

/// A purpose profiles people that did not, or its logic or consequences changed.
fn profiling_grew(ctx: &Ctx<'_>) -> bool {
    ctx.new.notice.profiling.iter().any(|n| {
        ctx.old
            .notice
            .profiling
            .iter()
            .find(|o| o.purpose == n.purpose)
            .is_none_or(|o| o.logic != n.logic || o.consequences != n.consequences)
    })
}

/// Data comes from a source it did not come from (Art. 14(2)(f)).
fn sources_grew(ctx: &Ctx<'_>) -> bool {
    ctx.new.notice.sources.iter().any(|n| {
        n.categories.iter().any(|c| {
            !ctx.old.notice.sources.iter().any(|o| {
                o.categories.contains(c)
                    && o.source == n.source
                    && o.publicly_accessible == n.publicly_accessible
            })
        })
    })
}

/// A purpose's data became required, or required on a stronger ground (Art. 13(2)(e)).
fn requirements_stricter(ctx: &Ctx<'_>) -> bool {
    let rank = |p: &Policy, purpose: &str| {
        p.notice
            .requirements
            .iter()
            .filter(|q| q.purposes.iter().any(|x| x == purpose))
            .map(|q| match q.kind {
                RequirementKind::Voluntary => 0,
                RequirementKind::Contractual | RequirementKind::ContractEntry => 1,
                RequirementKind::Statutory => 2,
            })
            .max()
            .unwrap_or(0)
    };
    ctx.new
        .notice
        .requirements
        .iter()
        .flat_map(|q| &q.purposes)
        .any(|p| rank(ctx.new, p) > rank(ctx.old, p))
}

/// The child age that applies in `country` under `p`.
fn age_in(p: &Policy, country: &str) -> u8 {
    p.children
        .by_country
        .get(country)
        .copied()
        .unwrap_or(p.children.minimum_age)
}

/// The rules of docs/policy.md "What counts as material".
fn material(ctx: &Ctx<'_>, r: &Raw) -> bool {
    use ChangeKind::*;
    let field = r.field.as_str();
    match (r.section, r.kind, field) {
        // New processing, new data, new hands, new controllers.
        ("purposes" | "categories" | "recipients" | "controllers", Added, "") => true,
        // A new rule matters when it keeps some data longer than before.
        ("retention", Added, "") => {
            let cats = r
                .new
                .as_ref()
                .map(|v| strings(&v.get("categories").cloned()));
            kept_longer(ctx, &cats.unwrap_or_default())
        }
        // Dropping a promise, a region's protections or a security measure loosens the policy.
        ("prohibited" | "regions" | "security_measures", Removed, "") => true,
        // A rule gone leaves its categories to the others, which may keep them longer.
        ("retention", Removed, "") => {
            let cats = r
                .old
                .as_ref()
                .map(|v| strings(&v.get("categories").cloned()));
            kept_longer(ctx, &cats.unwrap_or_default())
        }
        (_, Removed, "") | (_, Added, "") => false,

        ("purposes", _, "legal_basis") => true,
        ("purposes", _, "categories" | "subjects" | "recipients" | "consent.cookies") => {
            !gained(r).is_empty()
        }
        ("purposes", _, "gpc_opt_out") => became(r, true, false),
        // Another DPV purpose term is another kind of processing (Art. 13(1)(c)).
        ("purposes", Changed | Added, "dpv") => true,
        // No longer direct marketing: the absolute right to object (Art. 21(3)) is lost.
        ("purposes", _, "direct_marketing") => {
            r.old.as_ref().and_then(Value::as_bool) != Some(false)
                && r.new.as_ref().and_then(Value::as_bool) == Some(false)
        }
        ("purposes", _, "min_group") | ("aggregates", _, "min_group") => smaller(r),
        ("reports", _, "min_group") => report_group_smaller(ctx, r),
        ("notices", _, "material_change_days") => smaller(r),

        ("categories", _, "personal") => became(r, false, true),

        ("recipients", _, "countries") => !gained(r).is_empty(),
        ("recipients", _, "kind" | "transfer_mechanism") => true,
        ("recipients", _, "non_personal_only") => became(r, true, false),

        ("regions", _, "countries") => !lost(r).is_empty(),
        ("regions", _, "rules.truncate_ip_categories" | "rules.never_store_categories") => {
            !lost(r).is_empty()
        }
        ("regions", _, "rules.no_third_party_personal_data") => became(r, true, false),
        ("regions", Removed, "rules.residency") => true,
        ("regions", _, "rules.residency.countries") => !gained(r).is_empty(),

        ("retention", _, "keep_for") => longer(r),
        ("retention", _, "anchor") => true,
        ("retention", _, "categories") => kept_longer(ctx, &gained(r)),

        // Another country or another legal entity is another controller (Art. 13(1)(a)).
        ("controllers", _, "country" | "legal_entity") => true,
        ("retention", _, "legal_hold") => became(r, false, true),

        // GDPR Art. 18(2): more purposes continuing during a restriction; Art. 21(1): fewer
        // purposes an objection can stop. Both weaken a right.
        ("rights", _, "restriction.continues") => !gained(r).is_empty(),
        ("rights", _, "objection.reaches") => !lost(r).is_empty(),

        // The notice's statements of substance (Art. 13(2)(e)-(f), 14(2)(f)): they are the
        // only place the practice is described, so a changed text is a changed practice.
        ("notice", _, f) if f.starts_with("automated_decisions") => true,
        ("notice", _, "profiling") => profiling_grew(ctx),
        ("notice", _, "sources") => sources_grew(ctx),
        ("notice", _, "requirements") => requirements_stricter(ctx),
        ("notice", _, f) if f.starts_with("cookie_lifetimes.") => longer(r),

        ("security_measures", _, "purposes") => {
            // An empty list protects every purpose: narrowing it is a lost protection.
            let (old, new) = (strings(&r.old), strings(&r.new));
            !new.is_empty() && (old.is_empty() || !lost(r).is_empty())
        }

        ("children", _, "minimum_age") => number(&r.new) < number(&r.old),
        ("children", _, f) if f.starts_with("by_country.") => {
            let country = &f["by_country.".len()..];
            age_in(ctx.new, country) < age_in(ctx.old, country)
        }
        ("children", _, "erase_within") => longer(r),
        ("deadlines" | "deadlines.jurisdictions", _, "acknowledge_business_hours")
        | ("deadlines.jurisdictions", _, "acknowledge_business_days") => {
            matches!((number(&r.old), number(&r.new)), (Some(o), Some(n)) if n > o)
        }
        ("deadlines" | "deadlines.jurisdictions", _, "answer_within" | "extension_max") => {
            longer(r)
        }
        _ => false,
    }
}

fn section_noun(section: &str) -> &'static str {
    match section {
        "controllers" => "controller",
        "categories" => "category",
        "subjects" => "subject kind",
        "purposes" => "purpose",
        "prohibited" => "promise",
        "recipients" => "recipient",
        "regions" => "region",
        "retention" => "retention rule",
        "deadlines.jurisdictions" => "jurisdiction",
        "customers" => "customer",
        "reports" => "report",
        "security_measures" => "security measure",
        _ => "section",
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => format!("\"{s}\""),
        Some(v) => v.to_string(),
        None => "nothing".into(),
    }
}

fn summary(r: &Raw) -> String {
    let noun = section_noun(r.section);
    let subject = match &r.item {
        Some(id) => format!("{noun} `{id}`"),
        None => format!("[{}]", r.section),
    };
    if r.field.is_empty() {
        let name = r
            .new
            .as_ref()
            .or(r.old.as_ref())
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let verb = if r.kind == ChangeKind::Added {
            "new"
        } else {
            "removed"
        };
        return format!("{verb} {subject}{name}");
    }
    let field = &r.field;
    let both_lists = matches!(
        (&r.old, &r.new),
        (Some(Value::Array(_)), Some(Value::Array(_)))
    );
    if both_lists {
        let mut parts = Vec::new();
        let (g, l) = (gained(r), lost(r));
        if !g.is_empty() {
            parts.push(format!("adds {}", g.join(", ")));
        }
        if !l.is_empty() {
            parts.push(format!("removes {}", l.join(", ")));
        }
        if parts.is_empty() {
            parts.push("changes order".into());
        }
        return format!("{subject}: {field} {}", parts.join("; "));
    }
    match r.kind {
        ChangeKind::Added => format!("{subject}: {field} set to {}", show(&r.new)),
        ChangeKind::Removed => format!("{subject}: {field} removed (was {})", show(&r.old)),
        ChangeKind::Changed => format!(
            "{subject}: {field} changed from {} to {}",
            show(&r.old),
            show(&r.new)
        ),
    }
}
