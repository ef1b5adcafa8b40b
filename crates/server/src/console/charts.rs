//! Charts drawn by the server as inline SVG: grouped bars, with a `<title>` and `<desc>` the
//! `<svg role="img">` is labelled by, and the same figures as a table beside it, so a screen
//! reader (or a printout) gets every number (WCAG 2.2 SC 1.1.1, non-text content). Colours
//! come from classes in the stylesheet (no inline style, for the CSP); each series also has
//! its own pattern of label in the legend, so colour is not the only cue (SC 1.4.1).

use std::fmt::Write;

use crate::html::escape;

/// One series of a chart: its name and a value per category.
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// A chart: an id (unique on the page), a title, the categories along the bottom, and the
/// series drawn side by side within each category.
pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub category_header: &'a str,
    pub figures_label: &'a str,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

const W: i64 = 640;
const H: i64 = 220;
const LEFT: i64 = 36;
const BOTTOM: i64 = 40;
const TOP: i64 = 12;

/// A round number of at least `max` for the scale's top.
fn nice_top(max: i64) -> i64 {
    let mut step = 1;
    while step * 10 < max.max(1) {
        step *= 10;
    }
    let top = (max.max(1) + step - 1) / step * step;
    top.max(4)
}

impl Chart<'_> {
    /// The figure: the SVG, its legend and the table of figures.
    ///
    /// Kept whole: axes, bars, labels and the table are one drawing read top to bottom.
    pub fn render(&self) -> String {
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .max()
            .unwrap_or(0);
        let top = nice_top(max);
        let plot_h = H - TOP - BOTTOM;
        let plot_w = W - LEFT - 8;
        let n = self.categories.len().max(1) as i64;
        let band = plot_w / n;
        let k = self.series.len().max(1) as i64;
        let bar = ((band - 6) / k).max(2);
        let total: i64 = self.series.iter().flat_map(|s| s.values.iter()).sum();
        let mut svg = String::with_capacity(4096);
        let _ = write!(
            svg,
            r#"<svg role="img" aria-labelledby="{id}-t {id}-d" class="chart" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>"#,
            id = escape(self.id),
            title = escape(self.title),
            desc = escape(&format!(
                "{}: {} ({}); {} {}",
                self.title,
                self.series
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.categories.len(),
                total,
                self.figures_label
            )),
        );
        for i in 0..=4 {
            let v = top * i / 4;
            let y = TOP + plot_h - plot_h * i / 4;
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{LEFT}" x2="{W}" y1="{y}" y2="{y}"/><text class="axis" x="{}" y="{}" text-anchor="end">{v}</text>"#,
                LEFT - 4,
                y + 4
            );
        }
        for (c, label) in self.categories.iter().enumerate() {
            let x0 = LEFT + band * c as i64 + 3;
            for (si, s) in self.series.iter().enumerate() {
                let v = s.values.get(c).copied().unwrap_or(0);
                let h = plot_h * v / top;
                let _ = write!(
                    svg,
                    r#"<rect class="s{si}" x="{}" y="{}" width="{bar}" height="{h}"><title>{}: {} {}</title></rect>"#,
                    x0 + bar * si as i64,
                    TOP + plot_h - h,
                    escape(label),
                    escape(&s.name),
                    v
                );
            }
            // Every label when they fit, else every other one.
            if n <= 8 || c % 2 == 0 {
                let _ = write!(
                    svg,
                    r#"<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                    x0 + band / 2 - 3,
                    H - BOTTOM + 16,
                    escape(label)
                );
            }
        }
        svg.push_str("</svg>");
        let legend: String = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    r#"<li><span class="key s{i}" aria-hidden="true"></span>{}</li>"#,
                    escape(&s.name)
                )
            })
            .collect();
        let head: String = self
            .series
            .iter()
            .map(|s| format!(r#"<th scope="col">{}</th>"#, escape(&s.name)))
            .collect();
        let rows: String = self
            .categories
            .iter()
            .enumerate()
            .map(|(c, label)| {
                let cells: String = self
                    .series
                    .iter()
                    .map(|s| format!("<td>{}</td>", s.values.get(c).copied().unwrap_or(0)))
                    .collect();
                format!(r#"<tr><th scope="row">{}</th>{cells}</tr>"#, escape(label))
            })
            .collect();
        format!(
            r#"<figure class="chart-box" aria-labelledby="{id}-c"><figcaption id="{id}-c">{title}</figcaption>{svg}<ul class="legend">{legend}</ul><details><summary>{figures}</summary><table class="figures"><caption>{title}</caption><thead><tr><th scope="col">{cat}</th>{head}</tr></thead><tbody>{rows}</tbody></table></details></figure>"#,
            id = escape(self.id),
            title = escape(self.title),
            figures = escape(self.figures_label),
            cat = escape(self.category_header),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_title_and_its_figures_as_a_table() {
        let html = Chart {
            id: "c1",
            title: "Requests <per> week",
            category_header: "Week",
            figures_label: "Figures",
            categories: vec!["2026-01-05".into(), "2026-01-12".into()],
            series: vec![
                Series {
                    name: "Received".into(),
                    values: vec![3, 7],
                },
                Series {
                    name: "Completed".into(),
                    values: vec![1, 0],
                },
            ],
        }
        .render();
        assert!(html.contains(r#"<svg role="img" aria-labelledby="c1-t c1-d""#));
        assert!(html.contains(r#"<title id="c1-t">Requests &lt;per&gt; week</title>"#));
        assert!(html.contains(r#"<tr><th scope="row">2026-01-12</th><td>7</td><td>0</td></tr>"#));
        assert!(!html.contains("style="), "no inline style under the CSP");
        assert_eq!(nice_top(7), 7.max(4));
        assert_eq!(nice_top(0), 4);
        assert_eq!(nice_top(123), 200);
    }
}
