//! The notice as a standalone, accessible HTML5 page, served at `GET /privacy`.
//!
//! Everything from the file is escaped; links are kept only for web, mail and same-site
//! targets; there is no script, and the look comes from one stylesheet the server serves.

use super::lang::L;
use super::notice::{blocks, contents, title};
use super::{safe_href, Block, Inline};
use crate::model::Policy;

/// Where the page's stylesheet lives; `web/` provides it.
const STYLESHEET: &str = "/assets/notice.css";

/// The notice as a full HTML5 document, in the policy's first language.
pub fn html(p: &Policy) -> String {
    html_in(p, p.policy.languages.first().map_or("en", String::as_str))
}

/// The notice as a full HTML5 document in `lang` (German for `de`, English otherwise; the
/// file's per-language texts in that language).
pub fn html_in(p: &Policy, lang: &str) -> String {
    let l = L::new(p, lang);
    let blocks = blocks(p, &l);
    let mut body = String::new();
    let mut toc_done = false;
    for block in &blocks {
        // The table of contents goes after the title and opening paragraphs, before the first
        // section.
        if !toc_done && matches!(block, Block::Heading { level: 2, .. }) {
            toc_done = true;
            toc(&blocks, l.t("Contents", "Inhalt"), &mut body);
        }
        render(block, &mut body);
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"{STYLESHEET}\">\n</head>\n<body>\n\
         <main id=\"main\">\n{body}</main>\n</body>\n</html>\n",
        escape(l.t("en", "de")),
        escape(&title(p, &l))
    )
}

fn toc(blocks: &[Block], label: &str, out: &mut String) {
    out.push_str(&format!(
        "<nav aria-labelledby=\"contents\">\n<h2 id=\"contents\">{label}</h2>\n<ol>\n"
    ));
    for (text, anchor) in contents(blocks) {
        out.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            escape(&anchor),
            escape(&text)
        ));
    }
    out.push_str("</ol>\n</nav>\n");
}

fn render(block: &Block, out: &mut String) {
    match block {
        Block::Heading {
            level,
            text,
            anchor,
        } => out.push_str(&format!(
            "<h{level} id=\"{}\">{}</h{level}>\n",
            escape(anchor),
            escape(text)
        )),
        Block::Para(inlines) => out.push_str(&format!("<p>{}</p>\n", inline(inlines))),
        Block::List(items) => {
            out.push_str("<ul>\n");
            for item in items {
                out.push_str(&format!("<li>{}</li>\n", inline(item)));
            }
            out.push_str("</ul>\n");
        }
        Block::Table {
            caption,
            head,
            rows,
        } => {
            out.push_str(&format!(
                "<table>\n<caption>{}</caption>\n<thead>\n<tr>",
                escape(caption)
            ));
            for h in head {
                out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
            }
            out.push_str("</tr>\n</thead>\n<tbody>\n");
            for row in rows {
                out.push_str("<tr>");
                for (i, cell) in row.iter().enumerate() {
                    // The first cell names the row, so screen readers announce it with each cell.
                    if i == 0 {
                        out.push_str(&format!("<th scope=\"row\">{}</th>", inline(cell)));
                    } else {
                        out.push_str(&format!("<td>{}</td>", inline(cell)));
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
    }
}

fn inline(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(t) => escape(t),
            Inline::Link { text, href } if safe_href(href) => {
                format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
            }
            Inline::Link { text, .. } => escape(text),
            Inline::Break => "<br>".to_string(),
        })
        .collect()
}

/// Escapes text for element content and double- or single-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_refuses_unsafe_links() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        let l = |href: &str| {
            inline(&[Inline::Link {
                text: "t".into(),
                href: href.into(),
            }])
        };
        assert_eq!(l("javascript:alert(1)"), "t");
        assert_eq!(l("//evil.example"), "t");
        assert_eq!(
            l("https://a.example/?a=1&b=2"),
            "<a href=\"https://a.example/?a=1&amp;b=2\">t</a>"
        );
    }
}
