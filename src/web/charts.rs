//! Small charts drawn on the server as SVG: no chart library, no script. Each bar is a link
//! to the list it counts, and carries its label and value as text for screen readers.

use std::fmt::Write;

/// One bar: what it counts, how many, where its list is, and its colour class (app.css).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub href: String,
    pub tone: &'static str,
    /// The value as written beside the bar, when not a count (a price, say).
    pub shown: Option<String>,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: i64, href: impl Into<String>) -> Bar {
        Bar {
            label: label.into(),
            value,
            href: href.into(),
            tone: "tone-neutral",
            shown: None,
        }
    }

    pub fn tone(mut self, tone: &'static str) -> Bar {
        self.tone = tone;
        self
    }

    pub fn shown(mut self, text: String) -> Bar {
        self.shown = Some(text);
        self
    }

    fn text(&self) -> String {
        self.shown
            .clone()
            .unwrap_or_else(|| super::pages::grouped(self.value))
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const ROW: u32 = 26;
const LABEL: u32 = 150;
const WIDTH: u32 = 460;

/// Labels longer than this are shortened on the bar (the full label is its tooltip).
const LABEL_CHARS: usize = 17;

fn shortened(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let mut short: String = label.chars().take(LABEL_CHARS - 1).collect();
    short.push('…');
    short
}

/// Horizontal bars, longest first as given, scaled to the largest value; the values' column is
/// as wide as the longest value needs.
pub fn bars(id: &str, title: &str, bars: &[Bar]) -> String {
    let height = ROW * bars.len().max(1) as u32 + 4;
    let most = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let widest = bars
        .iter()
        .map(|b| b.text().len() as u32)
        .max()
        .unwrap_or(1);
    let room = WIDTH - LABEL - (widest * 9 + 12).min(WIDTH - LABEL - 40);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {WIDTH} {height}" role="group" aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>"#,
        id = escape(id),
        title = escape(title),
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="0" y="18" class="chart-empty">Nothing to show yet</text>"#
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = ROW * i as u32 + 2;
        let length = ((bar.value.max(0) as f64 / most as f64) * f64::from(room)).round() as u32;
        let _ = write!(
            svg,
            r#"<a href="{href}"><title>{label}: {value}</title><text x="{tx}" y="{ty}" class="chart-label" text-anchor="end">{short}</text><rect x="{LABEL}" y="{y}" width="{w}" height="{h}" rx="3" class="{tone}"/><text x="{vx}" y="{ty}" class="chart-value">{value}</text></a>"#,
            href = escape(&bar.href),
            label = escape(&bar.label),
            short = escape(&shortened(&bar.label)),
            value = escape(&bar.text()),
            tx = LABEL - 8,
            ty = y + 16,
            w = length.max(2),
            h = ROW - 6,
            tone = bar.tone,
            vx = LABEL + length.max(2) + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar split into its parts (a coverage: registered, pending, not set, failed), each part
/// a link, with a legend under it.
pub fn parts(id: &str, title: &str, parts: &[Bar]) -> String {
    let total: i64 = parts.iter().map(|p| p.value.max(0)).sum();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {WIDTH} 64" role="group" aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>"#,
        id = escape(id),
        title = escape(title),
    );
    let mut x = 0.0;
    for part in parts.iter().filter(|p| p.value > 0) {
        let width = part.value as f64 / total.max(1) as f64 * f64::from(WIDTH);
        let _ = write!(
            svg,
            r#"<a href="{href}" aria-label="{label}: {value} of {total}"><rect x="{x:.1}" y="2" width="{width:.1}" height="24" class="{tone}"/></a>"#,
            href = escape(&part.href),
            label = escape(&part.label),
            value = super::pages::grouped(part.value),
            total = super::pages::grouped(total),
            tone = part.tone,
        );
        x += width;
    }
    if total == 0 {
        let _ = write!(
            svg,
            r#"<text x="0" y="18" class="chart-empty">Nothing to show yet</text>"#
        );
    }
    // The legend: a swatch, the label and the count of each part, in a row.
    let step = WIDTH / parts.len().max(1) as u32;
    for (i, part) in parts.iter().enumerate() {
        let lx = step * i as u32;
        let _ = write!(
            svg,
            r#"<a href="{href}" aria-hidden="true" tabindex="-1"><rect x="{lx}" y="40" width="12" height="12" class="{tone}"/><text x="{tx}" y="51" class="chart-legend">{label} {value}</text></a>"#,
            href = escape(&part.href),
            tone = part.tone,
            tx = lx + 16,
            label = escape(&part.label),
            value = super::pages::grouped(part.value),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_link_to_their_lists() {
        let svg = bars(
            "by-state",
            "Numbers by state",
            &[
                Bar::new("TX", 200, "/numbers?state=TX"),
                Bar::new("NY", 50, "/numbers?state=NY"),
            ],
        );
        assert!(svg.starts_with("<svg id=\"by-state\""));
        assert!(svg.contains(r#"<a href="/numbers?state=TX"><title>TX: 200</title><text"#));
        assert!(svg.contains(r#"class="chart-label" text-anchor="end">TX</text>"#));
        assert!(svg.contains(r#"class="chart-value">200</text>"#));
        assert!(
            svg.contains(r#"width="271""#),
            "the longest bar fills the room: {svg}"
        );
        assert!(svg.contains(r#"width="68""#), "a quarter of it: {svg}");
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn long_labels_are_shortened_and_named_in_full_in_the_tooltip() {
        let svg = bars(
            "t",
            "Numbers by tenant",
            &[Bar::new("Globex Support and Facilities", 10_000_000, "/x")],
        );
        assert!(svg.contains("<title>Globex Support and Facilities: 10,000,000</title>"));
        assert!(svg.contains(">Globex Support a…</text>"), "{svg}");
        // The value fits: its column is as wide as 10,000,000 needs.
        assert!(svg.contains(r#"width="208""#), "{svg}");
    }

    #[test]
    fn text_is_escaped_and_empty_charts_say_so() {
        let svg = bars("x", "A <b> & \"c\"", &[]);
        assert!(svg.contains("A &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains("Nothing to show yet"));
        let svg = bars("x", "t", &[Bar::new("<script>", 1, "/?a=1&b=2")]);
        assert!(!svg.contains("<script>") && svg.contains("/?a=1&amp;b=2"));
    }

    #[test]
    fn parts_share_the_width_by_their_values() {
        let svg = parts(
            "e911",
            "E911 coverage",
            &[
                Bar::new("Registered", 3, "/a").tone("tone-ok"),
                Bar::new("Not set", 1, "/b").tone("tone-bad"),
                Bar::new("Failed", 0, "/c").tone("tone-bad"),
            ],
        );
        assert!(svg.contains(r#"aria-label="Registered: 3 of 4""#));
        assert!(
            svg.contains(r#"width="345.0""#),
            "three quarters of 460: {svg}"
        );
        assert!(svg.contains(r#"x="345.0" y="2" width="115.0""#), "{svg}");
        assert!(!svg.contains("Failed: 0"), "an empty part draws nothing");
        assert!(svg.contains("Failed 0"), "but the legend names it");
    }
}
