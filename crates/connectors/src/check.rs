//! A dataset against the live database: `custodian dataset check` lists every mismatch, and
//! `custodian dataset generate` drafts a dataset from a live schema.
//!
//! The schema is read from the catalogue of each backend (information_schema on PostgreSQL
//! and MySQL/MariaDB, pragmas on SQLite), restricted to the connection's current schema.

use std::collections::{BTreeMap, BTreeSet};

use crate::dataset::{Dataset, Field, FieldType, RefSpec, Strategy, Table};
use crate::sql::{Db, Dialect, Sql};
use crate::ConnectorError;

#[derive(Debug, Default, Clone)]
pub struct ColumnInfo {
    pub data_type: String,
    pub nullable: bool,
    pub max_len: Option<i64>,
}

#[derive(Debug, Default, Clone)]
pub struct TableInfo {
    pub columns: BTreeMap<String, ColumnInfo>,
    /// Column order as in the database.
    pub order: Vec<String>,
    pub primary_key: Vec<String>,
    /// Columns that lead some index (so `col = ?` and `col IN (...)` can use it).
    pub indexed: BTreeSet<String>,
    /// `(column, parent table, parent column)`.
    pub foreign_keys: Vec<(String, String, String)>,
    /// Columns that are UNIQUE on their own (a unique constraint or index of one column).
    pub unique: BTreeSet<String>,
}

pub type Schema = BTreeMap<String, TableInfo>;

fn text_sql(db: &Db, text: &str) -> Sql {
    let mut s = db.sql();
    s.push(text);
    s
}

fn col(r: &[Option<String>], i: usize) -> String {
    r.get(i).cloned().flatten().unwrap_or_default()
}

/// Reads tables, columns, keys, indexes and foreign keys of the current schema.
pub async fn introspect(db: &Db) -> Result<Schema, ConnectorError> {
    let (columns, pks, indexes, fks) = match db.dialect() {
        Dialect::Postgres => (
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, character_maximum_length::text \
             FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            "SELECT cl.relname::text, a.attname::text FROM pg_index i JOIN pg_class cl ON cl.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = cl.relnamespace JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = ANY(i.indkey) \
             WHERE i.indisprimary AND n.nspname = current_schema()",
            "SELECT cl.relname::text, a.attname::text FROM pg_index i JOIN pg_class cl ON cl.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = cl.relnamespace JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = i.indkey[0] \
             WHERE n.nspname = current_schema()",
            "SELECT cl.relname::text, a.attname::text, fcl.relname::text, fa.attname::text FROM pg_constraint c \
             JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             JOIN pg_class fcl ON fcl.oid = c.confrelid JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] \
             WHERE c.contype = 'f' AND n.nspname = current_schema()",
        ),
        Dialect::MySql => (
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(is_nullable AS CHAR), CAST(character_maximum_length AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position",
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR) FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND constraint_name = 'PRIMARY'",
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND seq_in_index = 1",
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(referenced_table_name AS CHAR), CAST(referenced_column_name AS CHAR) \
             FROM information_schema.key_column_usage WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL",
        ),
        Dialect::Sqlite => (
            "SELECT m.name, p.name, p.type, CASE WHEN p.\"notnull\" = 1 THEN 'NO' ELSE 'YES' END, NULL \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.pk > 0",
            "SELECT m.name, ii.name FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
             WHERE m.type = 'table' AND ii.seqno = 0",
            "SELECT m.name, f.\"from\", f.\"table\", f.\"to\" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
        ),
    };
    let mut schema = Schema::new();
    for r in db.text_rows(&text_sql(db, columns)).await? {
        let t = schema.entry(col(&r, 0)).or_default();
        let name = col(&r, 1);
        t.order.push(name.clone());
        t.columns.insert(
            name,
            ColumnInfo {
                data_type: col(&r, 2).to_lowercase(),
                nullable: col(&r, 3) == "YES",
                max_len: col(&r, 4).parse().ok(),
            },
        );
    }
    for r in db.text_rows(&text_sql(db, pks)).await? {
        if let Some(t) = schema.get_mut(&col(&r, 0)) {
            t.primary_key.push(col(&r, 1));
        }
    }
    for r in db.text_rows(&text_sql(db, indexes)).await? {
        if let Some(t) = schema.get_mut(&col(&r, 0)) {
            t.indexed.insert(col(&r, 1));
        }
    }
    for r in db.text_rows(&text_sql(db, fks)).await? {
        if let Some(t) = schema.get_mut(&col(&r, 0)) {
            t.foreign_keys.push((col(&r, 1), col(&r, 2), col(&r, 3)));
        }
    }
    for r in db
        .text_rows(&text_sql(db, unique_sql(db.dialect())))
        .await?
    {
        if let Some(t) = schema.get_mut(&col(&r, 0)) {
            t.unique.insert(col(&r, 1));
        }
    }
    // A single-column primary key is indexed by definition (SQLite's rowid alias has no index).
    for t in schema.values_mut() {
        if t.primary_key.len() == 1 {
            let pk = t.primary_key[0].clone();
            t.indexed.insert(pk);
        }
    }
    Ok(schema)
}

/// Single-column unique indexes and constraints: `(table, column)`.
fn unique_sql(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "SELECT cl.relname::text, a.attname::text FROM pg_index i JOIN pg_class cl ON cl.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = cl.relnamespace JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = i.indkey[0] \
             WHERE i.indisunique AND i.indnkeyatts = 1 AND n.nspname = current_schema()",
        Dialect::MySql => "SELECT CAST(s.table_name AS CHAR), CAST(s.column_name AS CHAR) FROM information_schema.statistics s \
             WHERE s.table_schema = DATABASE() AND s.non_unique = 0 AND (SELECT COUNT(*) FROM information_schema.statistics s2 \
             WHERE s2.table_schema = s.table_schema AND s2.table_name = s.table_name AND s2.index_name = s.index_name) = 1",
        Dialect::Sqlite => "SELECT m.name, ii.name FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
             WHERE m.type = 'table' AND il.\"unique\" = 1 AND (SELECT COUNT(*) FROM pragma_index_info(il.name)) = 1",
    }
}

fn is_text(data_type: &str) -> bool {
    ["char", "text", "clob", "string"]
        .iter()
        .any(|k| data_type.contains(k))
}

fn is_integer(data_type: &str) -> bool {
    data_type.contains("int") || data_type == "serial"
}

/// Every mismatch between the dataset and the live schema, one sentence each.
pub fn compare(ds: &Dataset, schema: &Schema) -> Vec<String> {
    let (mut p, slow) = compare_split(ds, schema);
    p.extend(slow);
    p
}

/// The mismatches that make an access or erasure fail (or go wrong), and apart from them those
/// that only make it slow (a missing index).
pub fn compare_split(ds: &Dataset, schema: &Schema) -> (Vec<String>, Vec<String>) {
    let mut p = Vec::new();
    let mut slow = Vec::new();
    for t in &ds.tables {
        let Some(info) = schema.get(&t.name) else {
            p.push(format!("table {}: not in the database", t.name));
            continue;
        };
        if let Some(pk) = &t.primary_key {
            if !info.columns.contains_key(pk) {
                p.push(format!(
                    "table {}: primary key column {pk} does not exist",
                    t.name
                ));
            } else if info.primary_key != [pk.clone()] && !info.indexed.contains(pk) {
                slow.push(format!("table {}: {pk} is neither its primary key nor indexed, so erasure scans the table", t.name));
            }
        }
        if let Some(r) = &t.restriction_column {
            if !info.columns.contains_key(&r.name) {
                p.push(format!(
                    "table {}: restriction column {} does not exist",
                    t.name, r.name
                ));
            }
        }
        if let Some(c) = &t.collected_at {
            if !info.columns.contains_key(&c.name) {
                p.push(format!(
                    "table {}: collected_at column {} does not exist",
                    t.name, c.name
                ));
            } else if !info.indexed.contains(&c.name) {
                slow.push(format!(
                    "table {}: collected_at column {} is not indexed, so each retention run scans the table",
                    t.name, c.name
                ));
            }
        }
        for f in &t.fields {
            let at = format!("{}.{}", t.name, f.name);
            let Some(c) = info.columns.get(&f.name) else {
                p.push(format!("{at}: column does not exist"));
                continue;
            };
            p.extend(fits(&at, f, c, info));
            if f.identity.is_some() && !info.indexed.contains(&f.name) {
                slow.push(format!(
                    "{at}: identity column is not indexed, so every request scans the table"
                ));
            }
            if f.identity.is_some() && f.field_type == FieldType::Text && is_integer(&c.data_type) {
                p.push(format!("{at}: the column is {} but the dataset compares it as text; add type = \"integer\"", c.data_type));
            }
            if let Some(r) = f.reference() {
                if !info.indexed.contains(&f.name) {
                    slow.push(format!(
                        "{at}: references {}.{} but is not indexed, so the walk scans {}",
                        r.table, r.field, t.name
                    ));
                }
                match schema.get(&r.table) {
                    Some(pt) if !pt.columns.contains_key(&r.field) => p.push(format!(
                        "{at}: references {}.{}, which does not exist",
                        r.table, r.field
                    )),
                    Some(pt) if !pt.indexed.contains(&r.field) => slow.push(format!(
                        "{at}: references {}.{}, which is not indexed",
                        r.table, r.field
                    )),
                    _ => {}
                }
            }
        }
        // Foreign keys the dataset does not know would make erasure order wrong.
        for (c, pt, pc) in &info.foreign_keys {
            if ds.table(pt).is_none() {
                continue;
            }
            let known = t
                .field(c)
                .and_then(Field::reference)
                .is_some_and(|r| &r.table == pt && &r.field == pc);
            if !known {
                p.push(format!(
                    "{}.{c}: the database has a foreign key to {pt}.{pc} that the dataset does not list as a reference",
                    t.name
                ));
            }
        }
    }
    (p, slow)
}

/// Whether a field's strategy can be written into its column: every reason it cannot.
fn fits(at: &str, f: &Field, c: &ColumnInfo, info: &TableInfo) -> Vec<String> {
    let mut p = Vec::new();
    let s = f.erase;
    let name = s.name();
    if s == Strategy::Null && !c.nullable {
        p.push(format!("{at}: erase = \"null\" but the column is NOT NULL"));
    }
    if s.rewrites() {
        let written = f.masking.clone().unwrap_or_default().written_len(s);
        if !is_text(&c.data_type) {
            p.push(format!(
                "{at}: erase = \"{name}\" writes text but the column is {}",
                c.data_type
            ));
        } else if let (Some(w), Some(max)) = (written, c.max_len) {
            if w as i64 > max {
                p.push(format!(
                    "{at}: erase = \"{name}\" writes {w} characters but the column holds {max}"
                ));
            }
        }
        if s.constant() && info.unique.contains(&f.name) {
            p.push(format!(
                "{at}: erase = \"{name}\" writes the same value into every erased row but the column is UNIQUE (the second subject's erasure would fail)"
            ));
        }
    }
    if (s == Strategy::Null || s.rewrites()) && info.primary_key.contains(&f.name) {
        p.push(format!(
            "{at}: erase = \"{name}\" would rewrite the table's PRIMARY KEY; keep the key, or delete the row"
        ));
    }
    p
}

/// The strategy Custodian chooses for an `auto` field, from its live column: `null` where
/// nullable; where NOT NULL, a keyed hash (`h1:` + 32 hex digits) in a text column that holds
/// it, else a random rewrite as long as the column holds (at most 30). A NOT NULL column of
/// another type, or a primary key, has no strategy that fits: that is a problem.
fn choose(
    at: &str,
    c: &ColumnInfo,
    info: &TableInfo,
    column: &str,
) -> Result<(Strategy, Option<usize>, String), String> {
    if info.primary_key.iter().any(|k| k == column) {
        return Err(format!("{at}: part of the table's PRIMARY KEY, which erasure cannot rewrite; delete the collection's rows (masking_strategy_override: delete) or give the field a category outside `user`"));
    }
    if c.nullable {
        return Ok((Strategy::Null, None, "null (the column is nullable)".into()));
    }
    let why = if info.unique.contains(column) {
        "NOT NULL and UNIQUE"
    } else {
        "NOT NULL"
    };
    if !is_text(&c.data_type) {
        return Err(format!("{at}: the column is {} and {why}, so no erasure Custodian can choose fits (null is refused, a hash or random text is not {}); give it a rule in a Fides policy, delete the collection's rows (masking_strategy_override: delete), or give it a category outside `user`", c.data_type, c.data_type));
    }
    let hash_len = (crate::erase::HASH_PREFIX.len() + 32) as i64;
    match c.max_len {
        Some(n) if n < hash_len => {
            let len = n.clamp(1, crate::dataset::RANDOM_LENGTH as i64) as usize;
            Ok((
                Strategy::Random,
                Some(len),
                format!("a random rewrite of {len} characters (the column is {why} and holds {n})"),
            ))
        }
        _ => Ok((
            Strategy::Hash,
            None,
            format!("a keyed hash (the column is {why})"),
        )),
    }
}

/// The dataset with every `auto` strategy chosen against the schema, what was chosen (one
/// line per field, for `dataset check`), and the fields no strategy fits.
pub fn resolve_auto(ds: &Dataset, schema: &Schema) -> (Dataset, Vec<String>, Vec<String>) {
    let mut out = ds.clone();
    let (mut choices, mut problems) = (Vec::new(), Vec::new());
    for t in &mut out.tables {
        let info = schema.get(&t.name);
        for f in &mut t.fields {
            if f.erase != Strategy::Auto {
                continue;
            }
            let at = format!("{}.{}", t.name, f.name);
            let Some((info, c)) = info.and_then(|i| i.columns.get(&f.name).map(|c| (i, c))) else {
                // `compare` reports the missing table or column; erasure would fail on it.
                f.erase = Strategy::Null;
                continue;
            };
            match choose(&at, c, info, &f.name) {
                Ok((s, length, why)) => {
                    f.erase = s;
                    f.masking = length.map(|l| crate::dataset::Masking {
                        length: Some(l),
                        ..Default::default()
                    });
                    choices.push(format!("{at}: Custodian erases it with {why}"));
                }
                Err(problem) => {
                    f.erase = Strategy::None;
                    problems.push(problem);
                }
            }
        }
    }
    (out, choices, problems)
}

/// What checking a dataset against a live database found.
#[derive(Debug, Default, Clone)]
pub struct CheckReport {
    /// Every reason an access or erasure would fail or go wrong; empty when it matches.
    pub problems: Vec<String>,
    /// Every reason it would be slow (a column the walk needs is not indexed).
    pub slow: Vec<String>,
    /// The strategies Custodian chose for `auto` fields, one line each.
    pub choices: Vec<String>,
}

/// [`report`] for the database at `url`, whichever kind it is: Redis has its own check (key
/// types and fields sampled by pattern, no strategies to choose, nothing reported as slow).
/// The one entry point of `dataset check` and of registration.
pub async fn report_at(
    url: &str,
    ds: &Dataset,
    policy: Option<&custodian_policy::Policy>,
) -> Result<CheckReport, ConnectorError> {
    if crate::redis::is_redis_url(url) {
        return Ok(CheckReport {
            problems: crate::redis::check::check(url, ds, policy).await?,
            slow: Vec::new(),
            choices: Vec::new(),
        });
    }
    let db = Db::connect(url).await?;
    let report = report(&db, ds, policy).await;
    db.close().await;
    report
}

/// Checks a dataset against a live database: the dataset's own problems, then the schema's,
/// with Custodian's own choices of strategy made and shown.
pub async fn report(
    db: &Db,
    ds: &Dataset,
    policy: Option<&custodian_policy::Policy>,
) -> Result<CheckReport, ConnectorError> {
    let mut problems = ds.validate(policy);
    problems.extend(crate::graph::cycles(ds));
    let schema = introspect(db).await?;
    let (resolved, choices, unfit) = resolve_auto(ds, &schema);
    problems.extend(unfit);
    let (failing, slow) = compare_split(&resolved, &schema);
    problems.extend(failing);
    Ok(CheckReport {
        problems,
        slow,
        choices,
    })
}

/// Checks a dataset against a live database: every problem, failing and slow ([`report`]
/// without the choices).
pub async fn check(
    db: &Db,
    ds: &Dataset,
    policy: Option<&custodian_policy::Policy>,
) -> Result<Vec<String>, ConnectorError> {
    let r = report(db, ds, policy).await?;
    Ok(r.problems.into_iter().chain(r.slow).collect())
}

const EMAIL_NAMES: &[&str] = &["email", "e_mail", "email_address", "mail"];
const PHONE_NAMES: &[&str] = &["phone", "phone_number", "mobile", "telephone"];

/// Drafts a dataset from a live schema: every table with its single-column key, every
/// column, foreign keys as references, and columns named like an e-mail or phone number as
/// identities. Categories and strategies are left for a person to decide.
pub async fn generate(db: &Db, name: &str) -> Result<Dataset, ConnectorError> {
    let schema = introspect(db).await?;
    let mut tables = Vec::new();
    for (tname, info) in &schema {
        let mut fields = Vec::new();
        for c in &info.order {
            let lower = c.to_lowercase();
            let identity = if EMAIL_NAMES.contains(&lower.as_str()) {
                Some("email".to_owned())
            } else if PHONE_NAMES.contains(&lower.as_str()) {
                Some("phone".to_owned())
            } else {
                None
            };
            let references = info
                .foreign_keys
                .iter()
                .find(|(fc, ..)| fc == c)
                .map(|(_, pt, pc)| RefSpec::Short(format!("{pt}.{pc}")));
            let data_type = &info.columns[c].data_type;
            fields.push(Field {
                name: c.clone(),
                category: None,
                personal: None,
                identity,
                references,
                erase: Strategy::None,
                hold: None,
                after_hold: None,
                field_type: if is_integer(data_type) {
                    FieldType::Integer
                } else {
                    FieldType::Text
                },
                masking: None,
            });
        }
        tables.push(Table {
            name: tname.clone(),
            primary_key: (info.primary_key.len() == 1).then(|| info.primary_key[0].clone()),
            fields,
            restriction_column: None,
            collected_at: None,
        });
    }
    Ok(Dataset {
        name: name.to_owned(),
        description: Some("Drafted by `custodian dataset generate`: add a category and an erase strategy to every personal field.".into()),
        connection: Default::default(),
        http: None,
        tables,
        keys: Vec::new(),
    })
}
