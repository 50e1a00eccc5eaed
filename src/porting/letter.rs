//! The Letter of Authorization Inward fills in from a port request, for the account holder to
//! sign and upload back: US Letter pages in Helvetica, with the account's details, the
//! numbers (up to an order's 100, in four columns) and the lines to sign. It fits one page
//! unless the details are long; then it goes on to a second.

use chrono::NaiveDate;
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

/// What the letter says.
pub struct Letter<'a> {
    pub port_id: uuid::Uuid,
    pub customer: &'a str,
    pub account_name: &'a str,
    pub service_address: &'a str,
    pub current_carrier: &'a str,
    pub account_number: &'a str,
    pub pin_on_file: bool,
    pub requested_foc: Option<NaiveDate>,
    /// In national format, in number order.
    pub numbers: &'a [String],
    pub today: NaiveDate,
}

const WIDTH: f32 = 612.0;
const HEIGHT: f32 = 792.0;
const MARGIN: f32 = 60.0;
const ROWS: usize = 25;
const COLUMNS: usize = 4;

/// Text as the standard fonts' WinAnsi encoding has it: Latin-1 letters kept (accents
/// included), anything else a question mark.
fn ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            0x20..=0x7E | 0xA0..=0xFF => c as u8,
            _ => b'?',
        })
        .collect()
}

/// `text` cut into lines of at most `width` characters, at spaces (a longer word is cut).
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let words = text.split_whitespace().flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        chars
            .chunks(width.max(1))
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in words {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(&word);
            }
            _ => lines.push(word),
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// Writes lines top-down from `y`, on a new page when the current one is full.
struct Writer {
    done: Vec<Content>,
    content: Content,
    y: f32,
}

impl Writer {
    /// Starts a new page unless `needed` points still fit above the bottom margin.
    fn room(&mut self, needed: f32) {
        if self.y - needed < MARGIN {
            let full = std::mem::replace(&mut self.content, Content::new());
            self.done.push(full);
            self.y = HEIGHT - MARGIN;
        }
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { Name(b"F2") } else { Name(b"F1") };
        let bytes = ansi(text);
        self.content
            .begin_text()
            .set_font(font, size)
            .next_line(x, self.y)
            .show(Str(&bytes))
            .end_text();
    }

    fn line(&mut self, size: f32, bold: bool, text: &str) {
        self.room(size * 1.45);
        self.text(MARGIN, size, bold, text);
        self.y -= size * 1.45;
    }

    fn field(&mut self, label: &str, value: &str) {
        let parts = wrapped(value, 70);
        self.room(15.0 + 13.0 * (parts.len() - 1) as f32);
        self.text(MARGIN, 10.0, true, label);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                self.y -= 13.0;
            }
            self.text(MARGIN + 150.0, 10.0, false, part);
        }
        self.y -= 15.0;
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn signature_line(&mut self, label: &str) {
        self.room(28.0);
        self.text(MARGIN, 10.0, false, label);
        self.content
            .set_line_width(0.6)
            .move_to(MARGIN + 130.0, self.y - 2.0)
            .line_to(WIDTH - MARGIN, self.y - 2.0)
            .stroke();
        self.y -= 28.0;
    }
}

/// The letter as a PDF.
pub fn render(letter: &Letter) -> Vec<u8> {
    let mut w = Writer {
        done: Vec::new(),
        content: Content::new(),
        y: HEIGHT - MARGIN,
    };
    w.line(
        18.0,
        true,
        "Letter of Authorization to port telephone numbers",
    );
    w.line(
        9.0,
        false,
        &format!(
            "Date: {}    Port request {}",
            letter.today.format("%B %-d, %Y"),
            letter.port_id
        ),
    );
    w.gap(8.0);
    w.field("Name on the account", letter.account_name);
    w.field("Service address", letter.service_address);
    w.field("Current carrier", letter.current_carrier);
    w.field("Account number", letter.account_number);
    w.field(
        "Port-out PIN",
        if letter.pin_on_file {
            "given with the port request"
        } else {
            "none required"
        },
    );
    let foc = letter.requested_foc.map_or_else(
        || "the earliest date the carrier can meet".to_string(),
        |d| d.format("%B %-d, %Y").to_string(),
    );
    w.field("Requested port date", &foc);
    w.gap(6.0);
    let consent = format!(
        "I, the undersigned, authorize {customer}, through Inward acting as its agent, to port \
         the telephone numbers listed below from {carrier} and to act on my behalf in all \
         matters of this change. I am the holder of the account named above, or am authorized \
         by its holder to request this change. I understand that once the port completes, \
         {carrier} no longer serves these numbers, and that other services of the account \
         that depend on them may end.",
        customer = letter.customer,
        carrier = letter.current_carrier,
    );
    for part in wrapped(&consent, 98) {
        w.line(10.0, false, &part);
    }
    w.gap(8.0);
    let shown = letter.numbers.len().min(ROWS * COLUMNS);
    w.room(16.0 + shown.min(ROWS) as f32 * 12.0);
    w.line(
        11.0,
        true,
        &format!("Numbers to port ({})", letter.numbers.len()),
    );
    let top = w.y;
    let column_width = (WIDTH - 2.0 * MARGIN) / COLUMNS as f32;
    for (i, number) in letter.numbers[..shown].iter().enumerate() {
        w.y = top - (i % ROWS) as f32 * 12.0;
        w.text(
            MARGIN + (i / ROWS) as f32 * column_width,
            9.0,
            false,
            number,
        );
    }
    w.y = top - shown.min(ROWS) as f32 * 12.0 - 4.0;
    if letter.numbers.len() > shown {
        w.line(
            9.0,
            false,
            &format!(
                "and {} more, listed on the port request",
                letter.numbers.len() - shown
            ),
        );
    }
    w.gap(14.0);
    // The lines to sign stay together.
    w.room(4.0 * 28.0 + 12.0);
    w.signature_line("Authorized signature");
    w.signature_line("Printed name");
    w.signature_line("Title");
    w.signature_line("Date");
    w.line(
        8.0,
        false,
        "Sign, then upload this letter on the port request's page in Inward (Upload LOA).",
    );

    let mut pages = w.done;
    pages.push(w.content);
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    // Each page and its content stream after those.
    let page_ref = |i: usize| Ref::new(6 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(7 + 2 * i as i32);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_ref))
        .count(pages.len() as i32);
    for (i, content) in pages.into_iter().enumerate() {
        let mut p = pdf.page(page_ref(i));
        p.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        p.parent(tree);
        p.contents(content_ref(i));
        p.resources()
            .fonts()
            .pair(Name(b"F1"), regular)
            .pair(Name(b"F2"), bold);
        drop(p);
        let body = content.finish();
        pdf.stream(content_ref(i), &body);
    }
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr("Letter of Authorization"))
        .producer(TextStr("Inward"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(numbers: &[String]) -> Vec<u8> {
        render(&Letter {
            port_id: uuid::Uuid::nil(),
            customer: "Globex Support",
            account_name: "Société Globex (Austin)",
            service_address: "500 Congress Ave, Austin TX 78701, US",
            current_carrier: "Old Telco",
            account_number: "ACC-12345",
            pin_on_file: true,
            requested_foc: NaiveDate::from_ymd_opt(2026, 12, 15),
            numbers,
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        })
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn the_letter_is_a_pdf_with_the_requests_details_and_numbers() {
        let numbers: Vec<String> = (0..100).map(|i| format!("(312) 620-{i:04}")).collect();
        let pdf = letter(&numbers);
        assert!(crate::domain::port::check_loa(&pdf).is_ok());
        assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
        for text in [
            &b"Old Telco"[..],
            b"ACC-12345",
            b"500 Congress Ave, Austin TX 78701, US",
            b"(312) 620-0000",
            b"(312) 620-0099",
            b"December 15, 2026",
            b"Numbers to port (100)",
            b"Authorized signature",
        ] {
            assert!(contains(&pdf, text), "{}", String::from_utf8_lossy(text));
        }
        // Latin-1 letters are kept in the font's encoding (é is 0xE9), which the writer puts
        // in a hex string.
        let hex: String = b"Soci\xe9t\xe9 Globex"
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let lower = String::from_utf8_lossy(&pdf).to_ascii_lowercase();
        assert!(lower.contains(&hex), "{hex}");
        assert!(!contains(&pdf, b"and 0 more"));
    }

    #[test]
    fn long_details_go_on_to_a_second_page_and_nothing_runs_below_the_margin() {
        let long = "x".repeat(100);
        let address = format!(
            "{} Street, {} City, TX 78701",
            "9".repeat(90),
            "Y".repeat(60)
        );
        let numbers: Vec<String> = (0..100).map(|i| format!("(312) 620-{i:04}")).collect();
        let customer = "C".repeat(200);
        let pdf = render(&Letter {
            port_id: uuid::Uuid::nil(),
            customer: &customer,
            account_name: &long,
            service_address: &address,
            current_carrier: &long,
            account_number: "ACC-1",
            pin_on_file: false,
            requested_foc: None,
            numbers: &numbers,
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        });
        assert!(contains(&pdf, b"/Count 2"), "two pages");
        // Every text position stays within the page's margins.
        let text = String::from_utf8_lossy(&pdf);
        let placed: Vec<&str> = text.lines().filter(|l| l.ends_with(" Td")).collect();
        assert!(placed.len() > 100, "{} lines placed", placed.len());
        for line in placed {
            let parts: Vec<f32> = line
                .split_whitespace()
                .take(2)
                .map(|n| n.parse().unwrap())
                .collect();
            assert!(
                parts[1] >= MARGIN - 0.5 && parts[1] <= HEIGHT - MARGIN + 0.5,
                "{line}"
            );
        }
    }

    #[test]
    fn text_outside_the_fonts_encoding_and_long_lines_are_handled() {
        assert_eq!(ansi("a€b—c"), b"a?b?c");
        assert_eq!(ansi("Zoë"), b"Zo\xeb");
        let lines = wrapped("one two three four five", 9);
        assert_eq!(lines, ["one two", "three", "four five"]);
        assert_eq!(wrapped("abcdefghij k", 4), ["abcd", "efgh", "ij k"]);
        let numbers: Vec<String> = (0..101).map(|i| format!("(312) 620-{i:04}")).collect();
        assert!(contains(&letter(&numbers), b"and 1 more"));
    }
}
