//! The notice for people, written from the policy file, in Markdown and in HTML.
//!
//! `notice` decides what the notice says, once, as a small tree of blocks (headings,
//! paragraphs, lists, tables); `markdown` and `html` only decide how it looks. That keeps the
//! two formats saying the same thing, and keeps escaping in one place per format.

pub(crate) mod html;
mod lang;
mod markdown;
mod notice;
mod people;
mod statements;
mod words;

pub use html::{html, html_in};
pub use markdown::{markdown, markdown_in};

/// A piece of running text.
#[derive(Debug, Clone, PartialEq)]
enum Inline {
    Text(String),
    /// A link; renderers drop the link (keep the text) unless the target is safe.
    Link {
        text: String,
        href: String,
    },
    /// A line break inside a table cell or list item.
    Break,
}

type Inlines = Vec<Inline>;

#[derive(Debug, Clone, PartialEq)]
enum Block {
    /// `level` 1 is the title; `anchor` is the fragment id of the heading.
    Heading {
        level: u8,
        text: String,
        anchor: String,
    },
    Para(Inlines),
    List(Vec<Inlines>),
    Table {
        caption: String,
        head: Vec<String>,
        /// The first cell of each row names the row.
        rows: Vec<Vec<Inlines>>,
    },
}

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

fn link(text: impl Into<String>, href: impl Into<String>) -> Inline {
    Inline::Link {
        text: text.into(),
        href: href.into(),
    }
}

/// Whether a link target from the file may become a link: web, mail and same-site links only,
/// so a policy file cannot smuggle a `javascript:` URL into the page.
fn safe_href(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    (lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (lower.starts_with('/') && !lower.starts_with("//")))
        && !href.chars().any(|c| c.is_whitespace() || c.is_control())
}
