//! Writing a table's erasure into its pinned rows: each constant (`null`, `mask`, `rewrite`)
//! in one statement per thousand rows and field; the values computed per row (`hash`,
//! `digest`, `hmac`, `random`) of all fields together — one read per thousand rows, then one
//! statement per row that changes, setting every computed field at once. Every statement only
//! touches values that would change, so the counts are what changed and a second erasure
//! changes nothing.

use crate::dataset::{Masking, Strategy, Table};
use crate::sql::{Bind, Dialect, Key, Sql, Tx};
use crate::ConnectorError;

use super::{values, CHUNK, MASK};

/// Whether a strategy's value is computed per row (in Rust) rather than a constant.
pub(super) fn computed(s: Strategy) -> bool {
    matches!(
        s,
        Strategy::Hash | Strategy::Digest | Strategy::Hmac | Strategy::Random
    )
}

/// Applies a constant strategy (`null`, `mask`, `rewrite`) to field `fi` of the rows `rows`
/// (primary keys) of table `t`; returns how many rows changed.
pub(super) async fn constant(
    tx: &mut Tx,
    d: Dialect,
    t: &Table,
    pk: &str,
    fi: usize,
    strategy: Strategy,
    rows: &[Key],
) -> Result<u64, ConnectorError> {
    let f = &t.fields[fi];
    let value = match strategy {
        Strategy::Mask => Some(MASK.to_owned()),
        Strategy::Rewrite => Some(
            f.masking
                .as_ref()
                .and_then(|m| m.value.clone())
                .unwrap_or_default(),
        ),
        _ => None,
    };
    let mut n = 0;
    for chunk in rows.chunks(CHUNK) {
        let mut q = Sql::new(d);
        q.push("UPDATE ")
            .ident(&t.name)
            .push(" SET ")
            .ident(&f.name)
            .push(" = ");
        match &value {
            None => q.push("NULL"),
            Some(v) => q.bind(Bind::Text(v.clone())),
        };
        q.push(" WHERE ").in_keys(&d.quote(pk), chunk);
        q.push(" AND ").ident(&f.name).push(" IS NOT NULL");
        if let Some(v) = &value {
            q.push(" AND ")
                .ident(&f.name)
                .push(" <> ")
                .bind(Bind::Text(v.clone()));
        }
        n += tx.execute(&q).await?;
    }
    Ok(n)
}

/// Applies the per-row strategies `fields` (field index, strategy) of table `t` to the rows
/// `rows`; returns how many rows changed, per field in the same order.
#[allow(clippy::too_many_arguments)]
pub(super) async fn computed_fields(
    tx: &mut Tx,
    d: Dialect,
    t: &Table,
    pk: &str,
    fields: &[(usize, Strategy)],
    rows: &[Key],
    hash_key: &[u8],
) -> Result<Vec<u64>, ConnectorError> {
    let mut counts = vec![0u64; fields.len()];
    if fields.is_empty() {
        return Ok(counts);
    }
    let masking: Vec<Masking> = fields
        .iter()
        .map(|(fi, _)| t.fields[*fi].masking.clone().unwrap_or_default())
        .collect();
    let col = format!("{}.{}", d.quote(&t.name), d.quote(pk));
    for chunk in rows.chunks(CHUNK) {
        let mut q = Sql::new(d);
        q.push("SELECT ")
            .push(&col)
            .push(", ")
            .push(&d.as_text(&col));
        for (fi, _) in fields {
            q.push(", ").push(&d.as_text(&d.quote(&t.fields[*fi].name)));
        }
        q.push(" FROM ")
            .ident(&t.name)
            .push(" WHERE ")
            .in_keys(&col, chunk);
        for (key, current) in tx.key_rows(&q).await? {
            let mut set: Vec<(usize, String)> = Vec::new();
            for (i, ((fi, strategy), value)) in fields.iter().zip(&current).enumerate() {
                let Some(value) = value else { continue };
                let f = &t.fields[*fi];
                let place = format!("{}/{}/{}", t.name, f.name, key_text(&key));
                if let Some(new) = values::rewrite(*strategy, &masking[i], hash_key, &place, value)
                {
                    set.push((i, new));
                }
            }
            if set.is_empty() {
                continue;
            }
            let mut u = Sql::new(d);
            u.push("UPDATE ").ident(&t.name).push(" SET ");
            for (n, (i, new)) in set.iter().enumerate() {
                if n > 0 {
                    u.push(", ");
                }
                u.ident(&t.fields[fields[*i].0].name).push(" = ");
                u.bind(Bind::Text(new.clone()));
            }
            u.push(" WHERE ")
                .in_keys(&d.quote(pk), std::slice::from_ref(&key));
            if tx.execute(&u).await? > 0 {
                for (i, _) in &set {
                    counts[*i] += 1;
                }
            }
        }
    }
    Ok(counts)
}

fn key_text(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Text(s) => s.clone(),
    }
}
