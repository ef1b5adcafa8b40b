//! Writing one field's erasure into the pinned rows of a table: constants (`null`, `mask`,
//! `rewrite`) in one statement per thousand rows, values computed per row (`hash`, `digest`,
//! `hmac`, `random`) read and written row by row. Every statement only touches values that
//! would change, so the count is what changed and a second erasure changes nothing.

use crate::dataset::{Field, Strategy, Table};
use crate::sql::{Bind, Dialect, Key, Sql, Tx};
use crate::ConnectorError;

use super::{values, CHUNK, MASK};

/// Applies `strategy` to field `f` of the rows `rows` (primary keys) of table `t`; returns
/// how many rows changed.
#[allow(clippy::too_many_arguments)]
pub(super) async fn field(
    tx: &mut Tx,
    d: Dialect,
    t: &Table,
    pk: &str,
    f: &Field,
    strategy: Strategy,
    rows: &[Key],
    hash_key: &[u8],
) -> Result<u64, ConnectorError> {
    let masking = f.masking.clone().unwrap_or_default();
    let constant = match strategy {
        Strategy::Null => Some(None),
        Strategy::Mask => Some(Some(MASK.to_owned())),
        Strategy::Rewrite => Some(Some(masking.value.clone().unwrap_or_default())),
        _ => None,
    };
    let mut n = 0;
    if let Some(value) = constant {
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
        return Ok(n);
    }
    let col = format!("{}.{}", d.quote(&t.name), d.quote(pk));
    for chunk in rows.chunks(CHUNK) {
        let mut q = Sql::new(d);
        q.push("SELECT ")
            .push(&col)
            .push(", ")
            .push(&d.as_text(&col))
            .push(", ");
        q.push(&d.as_text(&d.quote(&f.name)))
            .push(" FROM ")
            .ident(&t.name);
        q.push(" WHERE ")
            .in_keys(&col, chunk)
            .push(" AND ")
            .ident(&f.name)
            .push(" IS NOT NULL");
        for (key, value) in tx.key_values(&q).await? {
            let Some(value) = value else { continue };
            let place = format!("{}/{}/{}", t.name, f.name, key_text(&key));
            let Some(new) = values::rewrite(strategy, &masking, hash_key, &place, &value) else {
                continue;
            };
            let mut u = Sql::new(d);
            u.push("UPDATE ")
                .ident(&t.name)
                .push(" SET ")
                .ident(&f.name)
                .push(" = ");
            u.bind(Bind::Text(new));
            u.push(" WHERE ")
                .in_keys(&d.quote(pk), std::slice::from_ref(&key));
            n += tx.execute(&u).await?;
        }
    }
    Ok(n)
}

fn key_text(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Text(s) => s.clone(),
    }
}
