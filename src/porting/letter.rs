//! The Letter of Authorization Inward fills in from a port request, for the account holder to
//! sign and upload back: one US Letter page in Helvetica, with the account's details, the
//! numbers (up to an order's 100, in four columns) and the lines to sign.

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

/// `text` cut into lines of at most `width` characters, at spaces.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// Writes lines top-down from `y`, returning where the next one goes.
struct Writer {
    content: Content,
    y: f32,
}

impl Writer {
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
        self.text(MARGIN, size, bold, text);
        self.y -= size * 1.45;
    }

    fn field(&mut self, label: &str, value: &str) {
        self.text(MARGIN, 10.0, true, label);
        for (i, part) in wrapped(value, 70).iter().enumerate() {
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
    w.line(
        11.0,
        true,
        &format!("Numbers to port ({})", letter.numbers.len()),
    );
    let top = w.y;
    let shown = letter.numbers.len().min(ROWS * COLUMNS);
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
    w.signature_line("Authorized signature");
    w.signature_line("Printed name");
    w.signature_line("Title");
    w.signature_line("Date");
    w.line(
        8.0,
        false,
        "Sign, then upload this letter on the port request's page in Inward (Upload LOA).",
    );

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
    p.parent(tree);
    p.contents(contents);
    p.resources()
        .fonts()
        .pair(Name(b"F1"), regular)
        .pair(Name(b"F2"), bold);
    drop(p);
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let body = w.content.finish();
    pdf.stream(contents, &body);
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
    fn text_outside_the_fonts_encoding_and_long_lines_are_handled() {
        assert_eq!(ansi("a€b—c"), b"a?b?c");
        assert_eq!(ansi("Zoë"), b"Zo\xeb");
        let lines = wrapped("one two three four five", 9);
        assert_eq!(lines, ["one two", "three", "four five"]);
        let numbers: Vec<String> = (0..101).map(|i| format!("(312) 620-{i:04}")).collect();
        assert!(contains(&letter(&numbers), b"and 1 more"));
    }
}
