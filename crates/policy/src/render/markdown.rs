//! The notice as GitHub-flavoured Markdown, for a repository or a docs site.

use super::lang::L;
use super::notice::{blocks, contents};
use super::{safe_href, Block, Inline};
use crate::model::Policy;

/// The notice as Markdown, in the policy's first language. Text from the file is escaped, so
/// it cannot add markup.
pub fn markdown(p: &Policy) -> String {
    markdown_in(p, p.policy.languages.first().map_or("en", String::as_str))
}

/// The notice as Markdown in `lang` (German for `de`, English otherwise).
pub fn markdown_in(p: &Policy, lang: &str) -> String {
    let l = L::new(p, lang);
    let blocks = blocks(p, &l);
    let mut out = String::new();
    let mut toc_done = false;
    for block in &blocks {
        // The table of contents goes after the title and opening paragraphs, before the first
        // section.
        if !toc_done && matches!(block, Block::Heading { level: 2, .. }) {
            toc_done = true;
            toc(&blocks, l.t("Contents", "Inhalt"), &mut out);
        }
        match block {
            Block::Heading { level, text, .. } => {
                out.push_str(&"#".repeat(usize::from(*level)));
                out.push(' ');
                out.push_str(&escape(text));
                out.push_str("\n\n");
            }
            Block::Para(inlines) => {
                out.push_str(&inline(inlines));
                out.push_str("\n\n");
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    out.push_str(&inline(item));
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Table {
                caption,
                head,
                rows,
            } => {
                out.push_str(&format!("*{}*\n\n", escape(caption)));
                let cells: Vec<String> = head.iter().map(|h| escape(h)).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
                out.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|c| inline(c)).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                out.push('\n');
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn toc(blocks: &[Block], label: &str, out: &mut String) {
    let items: Vec<String> = contents(blocks)
        .into_iter()
        .enumerate()
        .map(|(i, (text, anchor))| format!("{}. [{}](#{anchor})", i + 1, escape(&text)))
        .collect();
    out.push_str(&format!("**{label}**\n\n"));
    out.push_str(&items.join("\n"));
    out.push_str("\n\n");
}

fn inline(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(t) => escape(t),
            Inline::Link { text, href } if safe_href(href) => {
                format!("[{}](<{}>)", escape(text), href.replace(['<', '>'], ""))
            }
            Inline::Link { text, .. } => escape(text),
            Inline::Break => "<br>".to_string(),
        })
        .collect()
}

/// Escapes the characters that Markdown (and the HTML it allows) would read as markup; newlines
/// become spaces so a value cannot break out of its table cell or list item.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '&' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("a*b*_c_ <x> | [l](u)"),
            "a\\*b\\*\\_c\\_ \\<x\\> \\| \\[l\\](u)"
        );
        assert_eq!(
            inline(&[Inline::Link {
                text: "x".into(),
                href: "javascript:alert(1)".into()
            }]),
            "x"
        );
    }
}
