//! Turns a model path such as `purposes[3].categories[1]` into a line and column, and back.
//!
//! Validation works on the deserialized model, which has forgotten where things were written;
//! rather than thread spans through every type, each problem names its path and this module
//! finds that path in the `toml_edit` document, which keeps every span of the original text.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// Where a problem points: at a value, or at the key that names it (for map keys such as
/// `by_country.de`, where the key itself is wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Value,
    Key,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Step::Key(name));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            match stripped[..end].parse() {
                Ok(i) => out.push(Step::Index(i)),
                Err(_) => break,
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

/// The span of the deepest part of `path` that exists in the document. A path that names a
/// missing key resolves to the table that should hold it, which is where the fix goes.
pub(crate) fn span_of(doc: &ImDocument<String>, path: &str, target: Target) -> Range<usize> {
    let steps = steps(path);
    let mut item: &Item = doc.as_item();
    let mut best: Option<Range<usize>> = None;
    for (n, step) in steps.iter().enumerate() {
        let last = n + 1 == steps.len();
        let next = match *step {
            Step::Key(k) => {
                if last && target == Target::Key {
                    if let Some(span) = key_span(item, k) {
                        return span;
                    }
                }
                item.get(k)
            }
            Step::Index(i) => item.get(i),
        };
        let Some(next) = next else { break };
        item = next;
        if let Some(span) = item_span(item) {
            best = Some(span);
        }
    }
    best.unwrap_or(0..0)
}

fn key_span(item: &Item, key: &str) -> Option<Range<usize>> {
    match item {
        Item::Table(t) => t.key(key).and_then(|k| k.span()),
        Item::Value(Value::InlineTable(t)) => t.key(key).and_then(|k| k.span()),
        _ => None,
    }
}

/// The span of an item. Tables written as `[header]` have the span of their header; dotted or
/// implicit tables have none, so the caller keeps the span of their parent.
fn item_span(item: &Item) -> Option<Range<usize>> {
    match item {
        Item::Table(t) => t.span(),
        Item::ArrayOfTables(a) => a.span().or_else(|| a.iter().find_map(Table::span)),
        Item::Value(v) => v.span(),
        Item::None => None,
    }
}

/// The path of the deepest item whose text contains `offset`; used to name the place of a
/// type error that serde reported by span only.
pub(crate) fn path_at(root: &Item, prefix: &str, offset: usize) -> String {
    let mut best = (0usize, prefix.to_string());
    walk(root, prefix, 0, offset, &mut best);
    best.1
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && (offset < s.end || s.is_empty() && offset == s.start))
}

fn walk(item: &Item, path: &str, depth: usize, offset: usize, best: &mut (usize, String)) {
    if contains(item_span(item), offset) && depth >= best.0 {
        *best = (depth, path.to_string());
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match item {
        Item::Table(t) => {
            for (k, child) in t.iter() {
                let child_path = join(k);
                if contains(t.key(k).and_then(|k| k.span()), offset) && depth + 1 >= best.0 {
                    *best = (depth + 1, child_path.clone());
                }
                walk(child, &child_path, depth + 1, offset, best);
            }
        }
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                // Each element is a table; wrap it so the same walk applies.
                let child = Item::Table(t.clone());
                walk(&child, &format!("{path}[{i}]"), depth + 1, offset, best);
            }
        }
        Item::Value(Value::Array(a)) => {
            for (i, v) in a.iter().enumerate() {
                let child = Item::Value(v.clone());
                walk(&child, &format!("{path}[{i}]"), depth + 1, offset, best);
            }
        }
        Item::Value(Value::InlineTable(t)) => {
            for (k, v) in t.iter() {
                let child_path = join(k);
                if contains(t.key(k).and_then(|k| k.span()), offset) && depth + 1 >= best.0 {
                    *best = (depth + 1, child_path.clone());
                }
                walk(
                    &Item::Value(v.clone()),
                    &child_path,
                    depth + 1,
                    offset,
                    best,
                );
            }
        }
        _ => {}
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> ImDocument<String> {
        ImDocument::parse(text.to_string()).expect("test document parses")
    }

    fn at(text: &str, path: &str, target: Target) -> (usize, usize) {
        let d = doc(text);
        line_col(text, span_of(&d, path, target).start)
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            steps("purposes[3].categories[1]"),
            vec![
                Step::Key("purposes"),
                Step::Index(3),
                Step::Key("categories"),
                Step::Index(1)
            ]
        );
        assert_eq!(steps(""), vec![]);
    }

    #[test]
    fn finds_values_keys_and_missing_keys() {
        let text = "[a]\nx = 1\n\n[[p]]\nid = \"one\"\n\n[[p]]\nid = \"two\"\ncats = [\"a\", \"b\"]\nm = { de = 1 }\n";
        assert_eq!(at(text, "a.x", Target::Value), (2, 5));
        assert_eq!(at(text, "p[1].cats[1]", Target::Value), (9, 14));
        assert_eq!(at(text, "p[1].missing", Target::Value), (7, 1));
        assert_eq!(at(text, "p[1].m.de", Target::Key), (10, 7));
        assert_eq!(at(text, "nothing", Target::Value), (1, 1));
    }

    #[test]
    fn names_the_path_at_an_offset() {
        let text = "[[p]]\nid = \"one\"\ncats = [\"a\", 2]\n";
        let d = doc(text);
        let offset = text.find('2').expect("has a 2");
        assert_eq!(path_at(d.as_item(), "", offset), "p[0].cats[1]");
    }

    #[test]
    fn counts_columns_in_characters() {
        assert_eq!(line_col("ä = 1\nöö = x", 11), (2, 3));
    }
}
