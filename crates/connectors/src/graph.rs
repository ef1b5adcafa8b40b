//! The reference graph of a dataset: which rows belong to a subject, and in which order
//! tables must be changed so foreign keys hold.
//!
//! A reference says a child field holds a copy of a parent field (a foreign key, declared in
//! the database or not). From the subject's identities the walk goes *down* — from rows the
//! subject owns to the rows that reference them (a customer's orders, an order's items), which
//! the subject then owns too — and *up* — from any reached row to the row it names (an order's
//! shipping address, an item's product). Rows reached going up are included but not walked
//! down again: the product of an order does not lead to everyone else's orders. A reference's
//! `walk` can restrict it to one direction (Fides' `from`/`to`).
//!
//! Each table's rows are described by a SQL predicate built from nested `IN (SELECT ...)`
//! subqueries rooted at bound identity values, so the database does the walk and nothing is
//! buffered here. Self-references are not walked. [`cycles`] names reference cycles between
//! tables, which a dataset may not have (no order of erasure would keep every reference).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::dataset::{Dataset, FieldType, Walk};
use crate::sql::{Bind, Dialect, Sql};

/// The subject's identities: kind (`email`, `user_id`, ...) → values.
pub type Identities = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Mode {
    Owned,
    Reached,
}

type Node = (usize, Mode);

struct Edge {
    from: Node,
    to: Node,
    /// The field of `to` compared, and the field of `from` selected.
    to_field: String,
    from_field: String,
}

/// The walk of one dataset for one subject.
pub struct Graph<'d> {
    ds: &'d Dataset,
    dialect: Dialect,
    identities: Identities,
    edges: Vec<Edge>,
    reachable: BTreeSet<Node>,
}

impl<'d> Graph<'d> {
    pub fn new(ds: &'d Dataset, dialect: Dialect, identities: &Identities) -> Graph<'d> {
        let index: BTreeMap<&str, usize> = ds
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let mut edges = Vec::new();
        for (ci, child) in ds.tables.iter().enumerate() {
            for f in &child.fields {
                let Some(r) = f.reference() else { continue };
                let Some(&pi) = index.get(r.table.as_str()) else {
                    continue;
                };
                if pi == ci {
                    continue;
                }
                if matches!(r.walk, Walk::Both | Walk::Down) {
                    edges.push(Edge {
                        from: (pi, Mode::Owned),
                        to: (ci, Mode::Owned),
                        to_field: f.name.clone(),
                        from_field: r.field.clone(),
                    });
                }
                if matches!(r.walk, Walk::Both | Walk::Up) {
                    for mode in [Mode::Owned, Mode::Reached] {
                        edges.push(Edge {
                            from: (ci, mode),
                            to: (pi, Mode::Reached),
                            to_field: r.field.clone(),
                            from_field: f.name.clone(),
                        });
                    }
                }
            }
        }
        let identities: Identities = identities
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut reachable = BTreeSet::new();
        let mut queue = VecDeque::new();
        for (i, t) in ds.tables.iter().enumerate() {
            let seeded = t.fields.iter().any(|f| {
                f.identity
                    .as_ref()
                    .is_some_and(|k| identities.contains_key(k))
            });
            if seeded && reachable.insert((i, Mode::Owned)) {
                queue.push_back((i, Mode::Owned));
            }
        }
        while let Some(n) = queue.pop_front() {
            for e in edges.iter().filter(|e| e.from == n) {
                if reachable.insert(e.to) {
                    queue.push_back(e.to);
                }
            }
        }
        Graph {
            ds,
            dialect,
            identities,
            edges,
            reachable,
        }
    }

    /// Whether any row of the table can belong to the subject.
    pub fn reaches(&self, table: usize) -> bool {
        self.reachable.contains(&(table, Mode::Owned))
            || self.reachable.contains(&(table, Mode::Reached))
    }

    /// Tables the walk reaches, in dataset order.
    pub fn reached_tables(&self) -> Vec<usize> {
        (0..self.ds.tables.len())
            .filter(|&t| self.reaches(t))
            .collect()
    }

    /// The condition selecting the subject's rows of a table (without `WHERE`), or `None`
    /// when the walk never reaches it. Columns are qualified by the table name.
    ///
    /// A table the subject owns rows of is described by those rows alone (identities and
    /// references down from owned parents); only a table reached purely going up is
    /// described by the rows below it. This keeps predicates small, and keeps a parent that
    /// also has an identity column (an employee who handled a ticket) from being exported
    /// for someone who merely references it.
    pub fn predicate(&self, table: usize) -> Option<Sql> {
        if !self.reaches(table) {
            return None;
        }
        self.node_predicate(table, &mut Vec::new())
    }

    fn mode(&self, table: usize) -> Mode {
        if self.reachable.contains(&(table, Mode::Owned)) {
            Mode::Owned
        } else {
            Mode::Reached
        }
    }

    /// The alternatives whose OR is [`Graph::predicate`]. Erasure pins keys with one query
    /// per alternative: an `OR` across an identity column and an `IN (subquery)` makes
    /// PostgreSQL scan the table, while each alternative alone uses its index.
    pub fn predicate_parts(&self, table: usize) -> Vec<Sql> {
        if !self.reaches(table) {
            return Vec::new();
        }
        self.node_parts(table, &mut Vec::new())
    }

    fn node_predicate(&self, table: usize, path: &mut Vec<usize>) -> Option<Sql> {
        join_or(self.dialect, self.node_parts(table, path))
    }

    fn node_parts(&self, table: usize, path: &mut Vec<usize>) -> Vec<Sql> {
        if path.contains(&table) || path.len() > 12 {
            return Vec::new();
        }
        path.push(table);
        let mode = self.mode(table);
        let t = &self.ds.tables[table];
        let d = self.dialect;
        let mut parts = Vec::new();
        if mode == Mode::Owned {
            for f in &t.fields {
                let Some(values) = f.identity.as_ref().and_then(|k| self.identities.get(k)) else {
                    continue;
                };
                for v in values {
                    let mut s = Sql::new(d);
                    s.ident(&t.name).push(".").ident(&f.name).push(" = ");
                    match f.field_type {
                        FieldType::Integer => match v.trim().parse::<i64>() {
                            Ok(n) => s.bind(Bind::Int(n)),
                            // A value that is no integer names no row of an integer column.
                            Err(_) => s.push("NULL"),
                        },
                        FieldType::Text => s.bind(Bind::Text(v.clone())),
                    };
                    parts.push(s);
                }
            }
        }
        let sources = self.edges.iter().filter(|e| {
            e.to == (table, mode)
                && self.reachable.contains(&e.from)
                && self.mode(e.from.0) == e.from.1
        });
        for e in sources {
            let Some(inner) = self.node_predicate(e.from.0, path) else {
                continue;
            };
            let from = &self.ds.tables[e.from.0];
            let mut s = Sql::new(d);
            s.ident(&t.name)
                .push(".")
                .ident(&e.to_field)
                .push(" IN (SELECT ")
                .ident(&from.name)
                .push(".")
                .ident(&e.from_field)
                .push(" FROM ")
                .ident(&from.name)
                .push(" WHERE ")
                .append(&inner)
                .push(")");
            parts.push(s);
        }
        path.pop();
        parts
    }

    /// Tables in the order erasure changes them: every table before the tables it
    /// references (children before parents), derived from the references alone. Tables in a
    /// reference cycle come last, by name, and are reported.
    pub fn erase_order(ds: &Dataset) -> (Vec<usize>, Vec<String>) {
        let n = ds.tables.len();
        // parents[c] = tables that c references.
        let mut indegree = vec![0usize; n]; // number of children not yet placed
        let mut children: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for (ci, t) in ds.tables.iter().enumerate() {
            for f in &t.fields {
                if let Some(r) = f.reference() {
                    if let Some(pi) = ds.tables.iter().position(|p| p.name == r.table) {
                        if pi != ci && children[pi].insert(ci) {
                            indegree[pi] += 1;
                        }
                    }
                }
            }
        }
        let mut order = Vec::new();
        let mut placed = vec![false; n];
        loop {
            let next = (0..n).find(|&i| !placed[i] && indegree[i] == 0);
            let Some(i) = next else { break };
            placed[i] = true;
            order.push(i);
            for f in &ds.tables[i].fields {
                if let Some(r) = f.reference() {
                    if let Some(pi) = ds.tables.iter().position(|p| p.name == r.table) {
                        if pi != i && children[pi].remove(&i) {
                            indegree[pi] -= 1;
                        }
                    }
                }
            }
        }
        let mut cycle: Vec<usize> = (0..n).filter(|&i| !placed[i]).collect();
        cycle.sort_by(|a, b| ds.tables[*a].name.cmp(&ds.tables[*b].name));
        let notes = cycle
            .iter()
            .map(|&i| {
                format!(
                    "table {} is in a reference cycle; changed after the others",
                    ds.tables[i].name
                )
            })
            .collect();
        order.extend(cycle);
        (order, notes)
    }
}

/// Reference cycles between tables (a → b → a), each once, with the fields that form it:
/// erasure changes children before parents, which a cycle makes impossible to order.
/// A table referencing itself is no cycle (self-references are not walked).
pub fn cycles(ds: &Dataset) -> Vec<String> {
    // edges[child] = (parent, "child.field → parent.field")
    let index = |name: &str| ds.tables.iter().position(|t| t.name == name);
    let mut edges: Vec<Vec<(usize, String)>> = vec![Vec::new(); ds.tables.len()];
    for (ci, t) in ds.tables.iter().enumerate() {
        for f in &t.fields {
            if let Some(r) = f.reference() {
                if let Some(pi) = index(&r.table).filter(|&pi| pi != ci) {
                    let label = format!("{}.{} → {}.{}", t.name, f.name, r.table, r.field);
                    edges[ci].push((pi, label));
                }
            }
        }
    }
    let mut found: Vec<String> = Vec::new();
    let mut seen_sets: BTreeSet<Vec<usize>> = BTreeSet::new();
    // A depth-first walk from each table along references; a path back to its start is
    // a cycle (reported once per set of tables).
    fn walk(
        start: usize,
        at: usize,
        edges: &[Vec<(usize, String)>],
        path: &mut Vec<(usize, String)>,
        out: &mut Vec<Vec<(usize, String)>>,
    ) {
        for (next, label) in &edges[at] {
            if *next == start {
                let mut cycle = path.clone();
                cycle.push((*next, label.clone()));
                out.push(cycle);
            } else if *next > start && !path.iter().any(|(t, _)| t == next) {
                path.push((*next, label.clone()));
                walk(start, *next, edges, path, out);
                path.pop();
            }
        }
    }
    for start in 0..ds.tables.len() {
        let mut cycles = Vec::new();
        walk(start, start, &edges, &mut Vec::new(), &mut cycles);
        for c in cycles {
            let mut set: Vec<usize> = c.iter().map(|(t, _)| *t).collect();
            set.sort();
            if seen_sets.insert(set) && found.len() < 20 {
                let labels: Vec<&str> = c.iter().map(|(_, l)| l.as_str()).collect();
                found.push(format!(
                    "tables {}: their references form a cycle ({}), so no order of erasure keeps every reference valid; leave out the reference erasure does not need",
                    std::iter::once(start)
                        .chain(c.iter().map(|(t, _)| *t))
                        .map(|t| ds.tables[t].name.as_str())
                        .collect::<Vec<_>>()
                        .join(" → "),
                    labels.join(", ")
                ));
            }
        }
    }
    found
}

fn join_or(d: Dialect, parts: Vec<Sql>) -> Option<Sql> {
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => {
            let mut s = Sql::new(d);
            s.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    s.push(" OR ");
                }
                s.push("(").append(p).push(")");
            }
            s.push(")");
            Some(s)
        }
    }
}
